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


class _HeadsModel:
    """A block model with return heads and no classifier (:func:`fit_block_heads`)."""

    def __init__(self, features: list[str], returns: Any, meta: dict):
        self.features, self.returns, self.meta = list(features), returns, meta

    def predict_outcomes(self, X: pd.DataFrame) -> pd.DataFrame:
        """NaN probability and the heads' moments (columns of ``predict_outcomes``)."""
        from ..model import risk_scale

        out = self.returns.predict(X[self.features], risk_scale(X["spread_std"], X["beta"]))
        out.insert(0, "probability", np.nan)
        return out


def fit_block_heads(
    cfg: Config, episodes: pd.DataFrame, features: pd.DataFrame, cutoff: pd.Timestamp,
    bar: pd.Timedelta,
) -> _HeadsModel:
    """The return heads of :func:`._walkforward.fit_block_model` alone (no classifier, no CV).

    Same training rows (labelled episodes with ``label_end < cutoff``), features, LightGBM
    settings and seed as the full block model, so the same heads and predictions.
    """
    from ..features import FEATURE_GROUPS, feature_names
    from ..model import label_end, return_model, risk_scale, select_features

    end = label_end(episodes, cfg.label.horizon, bar)
    sel = (episodes["label"].notna() & (end < cutoff)).to_numpy()
    idx = np.flatnonzero(sel)
    if len(idx) < 100:
        raise RevertibleError(
            f"walk-forward model at {cutoff}: only {len(idx)} labelled episodes ended before it; "
            "need at least 100: raise backtest.min_train_days or use more data"
        )
    feats = select_features(cfg, feature_names(cfg), FEATURE_GROUPS)
    X = features.iloc[idx].reset_index(drop=True)
    tr = episodes.iloc[idx].reset_index(drop=True)
    heads = return_model(cfg).fit(X[feats], tr[["revert_return", "continue_return"]],
                                  risk_scale(tr["spread_std"], tr["beta"]))  # fmt: skip
    ends = end.iloc[idx]
    return _HeadsModel(feats, heads, {
        "label_cutoff": ends.max(), "trained_until": tr["entry_time"].max(), "n_train": len(idx),
        "cv_roc_auc": float("nan"), "n_train_returns": heads.n_train_,
        "returns_mirror": heads.mirror_})


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
