"""The walk-forward stage of a backtest: one point-in-time model per block, its predictions.

:func:`walk_forward_predictions` fits the block models (:func:`._walkforward.fit_block_model`)
and predicts each block's episodes; the result (:class:`WalkForwardPredictions`) is what the
rest of :func:`revertible.backtest.run_backtest` needs from the models, so a caller that replays
the same episodes under other sizing, costs or replay settings can pass it back
(``run_backtest(..., predictions=...)``) instead of refitting (the strategy search's prediction
cache, :class:`revertible.tuning.PredictionCache`).

``heads_only=True`` fits only the return heads of each block model (the same rows, features,
parameters and seed as :func:`._walkforward.fit_block_model`, so the same heads) and leaves the
probability NaN: the decided strategies (``model``, ``model_revert``, ``model_fixed_size``)
use only the heads' moments, so their trades are unchanged; what is lost is report-only (the
probability deciles, ``signals.scored``, the blocks' ``cv_roc_auc``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..errors import RevertibleError
from ._plans import OUTCOME_MOMENTS, predict_block
from ._walkforward import fit_block_model, walk_forward_blocks

__all__ = ["WalkForwardPredictions", "fit_block_heads", "walk_forward_predictions"]


@dataclass(frozen=True)
class WalkForwardPredictions:
    """Per-episode walk-forward predictions (rows aligned with the time-sorted episodes).

    ``probability`` (NaN when unscored or ``heads_only``), ``heads`` (``n x 4``,
    :data:`OUTCOME_MOMENTS`), ``cutoff`` (each row's model label cutoff), ``blocks`` (one row per
    block model), ``start`` (the first block's start: trading starts there), ``heads_only``.
    """

    probability: np.ndarray
    heads: np.ndarray
    cutoff: pd.Series
    blocks: pd.DataFrame
    start: pd.Timestamp
    heads_only: bool = False


def fit_block_heads(
    cfg: Config, episodes: pd.DataFrame, features: pd.DataFrame, cutoff: pd.Timestamp,
    bar: pd.Timedelta,
) -> Any:
    """The return heads of :func:`._walkforward.fit_block_model` alone (no classifier, no CV).

    ``fit_block_model(..., heads_only=True)``: the same training rows, bins, LightGBM settings
    and seed as the full block model, so the same heads and predictions.
    """
    return fit_block_model(cfg, episodes, features, cutoff, bar, heads_only=True)


def walk_forward_predictions(
    cfg: Config, episodes: pd.DataFrame, features: pd.DataFrame, start: pd.Timestamp,
    end: pd.Timestamp, bar: pd.Timedelta, *, heads_only: bool = False,
    say: Callable[[str], None] | None = None, update: Callable[..., Any] | None = None,
    fit: Callable[..., Any] | None = None,
) -> WalkForwardPredictions:
    """Fit the walk-forward block models of ``[start, end]`` and predict their episodes.

    ``episodes`` are time-sorted and entered no later than ``end``; ``features`` has their
    rows. ``fit(cfg, episodes, features, cutoff, bar)`` fits one block model (default
    :func:`fit_block_heads` with ``heads_only``, else :func:`._walkforward.fit_block_model`).
    Raises :class:`RevertibleError` when the first model would start after ``end``.
    """
    say = say or (lambda _m: None)
    update = update or (lambda *_a: None)
    entry = episodes["entry_time"]
    wf = walk_forward_blocks(entry.min(), start, end, cfg, bar)
    if not wf:
        first = entry.min() + pd.Timedelta(days=cfg.backtest.min_train_days)
        raise RevertibleError(
            f"walk-forward: the first model needs backtest.min_train_days="
            f"{cfg.backtest.min_train_days} days of episodes, so trading starts {first}, "
            f"after the range end {end}; lower backtest.min_train_days or widen the range"
        )
    prob = np.full(len(episodes), np.nan)
    heads = np.full((len(episodes), len(OUTCOME_MOMENTS)), np.nan)
    cutoff = pd.Series(pd.NaT, index=episodes.index, dtype="datetime64[ns, UTC]")
    fit = fit or (fit_block_heads if heads_only else fit_block_model)
    rows_blocks = []
    for k, (bs, be) in enumerate(wf):
        m = fit(cfg, episodes, features, bs, bar)
        rows = np.flatnonzero(((entry >= bs) & (entry < be) & (entry <= end)).to_numpy())
        if len(rows):
            prob[rows], heads[rows] = predict_block(m, features, episodes, rows)
            cutoff.iloc[rows] = m.meta["label_cutoff"]
        rows_blocks.append({"start": bs, "end": be, "label_cutoff": m.meta["label_cutoff"],
                            "n_train": m.meta["n_train"], "n_scored": len(rows),
                            "cv_roc_auc": m.meta["cv_roc_auc"]})  # fmt: skip
        lc = m.meta["label_cutoff"]
        say(f"block {k + 1}/{len(wf)} {bs:%Y-%m-%d}..{be:%Y-%m-%d}: trained on "
            f"{m.meta['n_train']} episodes (labels to {lc:%Y-%m-%d %H:%M}), "
            f"scored {len(rows)}")  # fmt: skip
        update(k + 1, len(wf))
    return WalkForwardPredictions(prob, heads, cutoff, pd.DataFrame(rows_blocks), wf[0][0],
                                  heads_only)
