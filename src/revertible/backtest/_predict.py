"""The walk-forward stage of a backtest: one point-in-time model per block, its predictions.

:func:`walk_forward_predictions` fits the block models (:func:`._walkforward.fit_block_model`)
and predicts each block's episodes; the result (:class:`WalkForwardPredictions`) is what the
rest of :func:`revertible.backtest.run_backtest` needs from the models, so a caller that replays
the same episodes under other sizing, costs or replay settings can pass it back
(``run_backtest(..., predictions=...)``) instead of refitting (the strategy search's prediction
cache, :class:`revertible.tuning.PredictionCache`).

Given scores (an external scorer, a planted or a pure-noise score: ``run_backtest(...,
probabilities=...)``) go through the same gate: :func:`given_score_predictions` fits, per
walk-forward block, a return calibrator on the given scores of the episodes whose labels ended
before the block (held out by construction: the scores were not fitted on them here) and
calibrates the block's episodes with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..errors import RevertibleError
from ..model import fit_pool
from ._plans import OUTCOMES
from ._walkforward import HeldOutRecord, fit_block_model, start_block_fit, walk_forward_blocks

__all__ = ["WalkForwardPredictions", "walk_forward_predictions", "given_score_predictions"]


@dataclass(frozen=True)
class WalkForwardPredictions:
    """Per-episode walk-forward predictions (rows aligned with the time-sorted episodes).

    ``probability`` (NaN when unscored), ``heads`` (``n x 7``, :data:`._plans.OUTCOMES`:
    the score's quantile in the held-out record and the calibrated outcomes), ``cutoff`` (each
    row's model label cutoff), ``blocks`` (one row per block model), ``start`` (the first
    block's start: trading starts there), ``meta`` (the last block model's meta: the
    overfitting warning reads it).
    """

    probability: np.ndarray
    heads: np.ndarray
    cutoff: pd.Series
    blocks: pd.DataFrame
    start: pd.Timestamp
    meta: dict | None = None


def walk_forward_predictions(
    cfg: Config, episodes: pd.DataFrame, features: pd.DataFrame, start: pd.Timestamp,
    end: pd.Timestamp, bar: pd.Timedelta, *,
    say: Callable[[str], None] | None = None, update: Callable[..., Any] | None = None,
    fit: Callable[..., Any] | None = None, workers: int | None = None,
) -> WalkForwardPredictions:
    """Fit the walk-forward block models of ``[start, end]`` and predict their episodes.

    ``episodes`` are time-sorted and entered no later than ``end``; ``features`` has their
    rows. ``fit(cfg, episodes, features, cutoff, bar, record=, prefit=)`` makes one block
    model from its LightGBM fits (default :func:`._walkforward.fit_block_model`). The fits
    (the first block's calibration folds and every block's final classifier, or every block's
    folds with ``backtest.calibration_record=folds``) run side by side in ``workers`` threads
    (default ``min(2, cpu count)``; one LightGBM thread each when more than one), then the
    blocks are calibrated and predicted in order. The result does not depend on ``workers``.
    Raises :class:`RevertibleError` when the first model would start after ``end``.
    """
    say = say or (lambda _m: None)
    update = update or (lambda *_a: None)
    entry = episodes["entry_time"]
    wf = _blocks(entry, start, end, cfg, bar)
    prob = np.full(len(episodes), np.nan)
    heads = np.full((len(episodes), len(OUTCOMES)), np.nan)
    cutoff = pd.Series(pd.NaT, index=episodes.index, dtype="datetime64[ns, UTC]")
    fit = fit or fit_block_model
    earlier = cfg.backtest.calibration_record == "earlier_blocks"
    record = HeldOutRecord(cfg, episodes, bar) if earlier else None
    rows_blocks = []
    meta = None
    with fit_pool(cfg, workers) as (fit_cfg, submit):
        warm = earlier and cfg.backtest.warm_start_trees is not None
        pending: list[Any] = []
        for k, (bs, _) in enumerate(wf):
            prev = pending[k - 1].classifier if warm and k else None
            pending.append(start_block_fit(fit_cfg, episodes, features, bs, bar,
                                           folds=not earlier or k == 0, submit=submit,
                                           warm=prev))  # fmt: skip
        for k, (bs, be) in enumerate(wf):
            pre = pending[k]()
            pending[k] = None  # the block's fit is not kept past its block
            m = fit(cfg, episodes, features, bs, bar,
                    record=record if earlier and k else None, prefit=pre)
            meta = m.meta
            rows = np.flatnonzero(((entry >= bs) & (entry < be) & (entry <= end)).to_numpy())
            if record is not None and k == 0:  # the first block's out-of-fold scores
                oof = np.flatnonzero(pre.cv["fold_id"] >= 0)
                record.add(pre.rows.idx[oof], pre.cv["raw"]["lgbm"][oof])
            if len(rows):
                raw = m.predict_raw(features.iloc[rows])
                out = m.outcomes_of_raw(raw)
                prob[rows] = out["probability"].to_numpy(float)
                heads[rows] = out[list(OUTCOMES)].to_numpy(float)
                cutoff.iloc[rows] = m.meta["label_cutoff"]
                if record is not None:  # out of sample: entered after its labels ended
                    record.add(rows, raw)
            rows_blocks.append({"start": bs, "end": be, "label_cutoff": m.meta["label_cutoff"],
                                "n_train": m.meta["n_train"], "n_scored": len(rows),
                                "cv_roc_auc": m.meta["cv_roc_auc"]})  # fmt: skip
            lc = m.meta["label_cutoff"]
            say(f"block {k + 1}/{len(wf)} {bs:%Y-%m-%d}..{be:%Y-%m-%d}: trained on "
                f"{m.meta['n_train']} episodes (labels to {lc:%Y-%m-%d %H:%M}), "
                f"scored {len(rows)}")  # fmt: skip
            update(k + 1, len(wf))
    return WalkForwardPredictions(prob, heads, cutoff, pd.DataFrame(rows_blocks), wf[0][0], meta)


def _blocks(entry: pd.Series, start: pd.Timestamp, end: pd.Timestamp, cfg: Config,
            bar: pd.Timedelta) -> list[tuple[pd.Timestamp, pd.Timestamp]]:  # fmt: skip
    wf = walk_forward_blocks(entry.min(), start, end, cfg, bar)
    if not wf:
        first = entry.min() + pd.Timedelta(days=cfg.backtest.min_train_days)
        raise RevertibleError(
            f"walk-forward: the first model needs backtest.min_train_days="
            f"{cfg.backtest.min_train_days} days of episodes, so trading starts {first}, "
            f"after the range end {end}; lower backtest.min_train_days or widen the range"
        )
    return wf


def given_score_predictions(
    cfg: Config, episodes: pd.DataFrame, scores: np.ndarray, start: pd.Timestamp,
    end: pd.Timestamp, bar: pd.Timedelta, *, say: Callable[[str], None] | None = None,
) -> WalkForwardPredictions:
    """Calibrate given scores block by block on their own earlier record (module docstring).

    Blocks of ``backtest.retrain_every_days`` from the first entry (given scores need no
    training period of their own); each block's return calibrator
    (:func:`revertible.model.return_calibrator`) is fitted on the episodes with a finite score
    whose labels ended before the block starts (their realised returns for the legs
    ``sizing.split`` trades), and the block's episodes get its outcomes. A block with too few
    such episodes (``decision.min_bin_trades``) leaves its rows uncalibrated: no trade. The
    returned ``start`` is the range start (the naive strategies trade all of it).
    """
    from ..episodes import outcome_targets
    from ..model import outcome_end, return_calibrator

    say = say or (lambda _m: None)
    entry = episodes["entry_time"]
    step = pd.Timedelta(days=cfg.backtest.retrain_every_days)
    first = max(entry.min() + step, start).ceil(bar)
    wf = [(s, min(s + step, end + bar)) for s in pd.date_range(first, end, freq=step)]
    if first > start:
        wf.insert(0, (start, first))  # nothing labelled before it: uncalibrated
    score = np.asarray(scores, dtype=float)
    times = pd.DatetimeIndex(entry).as_unit("ns").asi8.view("M8[ns]")  # np.asarray: no objects
    ends = outcome_end(episodes, cfg.label, cfg.continue_, bar)  # both trades known
    targets = outcome_targets(episodes, cfg.sizing.split)
    heads = np.full((len(episodes), len(OUTCOMES)), np.nan)
    cutoff = pd.Series(pd.NaT, index=episodes.index, dtype="datetime64[ns, UTC]")
    have = (np.isfinite(score) & episodes["label"].notna().to_numpy()
            & np.isfinite(targets.to_numpy(float)).all(axis=1))
    rows_blocks = []
    for bs, be in wf:
        seen = np.flatnonzero(have & (ends < bs).to_numpy())
        rows = np.flatnonzero(((entry >= bs) & (entry < be) & (entry <= end)).to_numpy())
        cal = None
        if len(seen) >= 2 * cfg.decision.min_bin_trades:
            cal = return_calibrator(cfg).fit(score[seen], targets.iloc[seen], times[seen])
        if cal is not None and len(rows):
            out = cal.predict(score[rows])
            heads[rows] = np.column_stack([cal.score_quantile(score[rows]),
                                           out.to_numpy(float)])
            cutoff.iloc[rows] = ends.iloc[seen].max()
        rows_blocks.append({"start": bs, "end": be,
                            "label_cutoff": ends.iloc[seen].max() if len(seen) else pd.NaT,
                            "n_train": len(seen), "n_scored": len(rows),
                            "cv_roc_auc": float("nan")})  # fmt: skip
    return WalkForwardPredictions(score.copy(), heads, cutoff, pd.DataFrame(rows_blocks),
                                  start, None)
