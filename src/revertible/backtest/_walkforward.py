"""Walk-forward models: scoring blocks and the point-in-time model of each block.

Each block's classifier is fitted on the episodes whose labels ended before the block starts
(:func:`block_training_set`). Its two calibrators (the probability calibrator and the return
calibrator) need a *held-out* record of raw scores, which ``backtest.calibration_record``
chooses:

* ``folds``: every block refits ``backtest.calibration_folds`` purged CV folds on its training
  rows and calibrates on their out-of-fold scores (:func:`revertible.model.fit_reversion_model`).
* ``earlier_blocks`` (default): the first block does that; block ``k >= 2`` fits only its final
  classifier, and its calibrators are fitted on the :class:`HeldOutRecord` so far: the first
  block's out-of-fold scores plus the raw scores each earlier block model gave its own scored
  episodes, restricted to the rows whose labels ended before block ``k`` starts and that have
  finite targets. Every such score is out of sample for the model that produced it (a block
  model trained on labels that ended before its block; its scored episodes entered in it).

The LightGBM fits of the blocks depend only on their own training rows, so
:func:`start_block_fit` can hand them to a thread pool (the caller predicts and calibrates in
block order). Each block bins its features from its own rows only. With
``backtest.warm_start_trees`` (earlier_blocks only) block ``k >= 2`` instead continues block
``k - 1``'s classifier with that many trees fitted on its own rows (a chain: each waits for
the previous block's classifier, not for its calibration).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..config import Config
from ..errors import RevertibleError

if TYPE_CHECKING:
    from ..model import HeldOut, Submit

__all__ = ["walk_forward_blocks", "fit_block_model", "start_block_fit", "block_training_set",
           "BlockRows", "BlockFit", "PendingBlock", "HeldOutRecord"]


def walk_forward_blocks(
    first_entry: pd.Timestamp, start: pd.Timestamp, end: pd.Timestamp, cfg: Config,
    bar: pd.Timedelta,
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Return the scoring blocks ``[start_k, end_k)`` of a walk-forward backtest.

    The first ``backtest.min_train_days`` after the first episode only train; then one model per
    ``backtest.retrain_every_days``, from ``max(that, start)`` up to ``end``.
    """
    bt = cfg.backtest
    s = max(first_entry + pd.Timedelta(days=bt.min_train_days), start).ceil(bar)
    step = pd.Timedelta(days=bt.retrain_every_days)
    blocks = []
    while s <= end:
        blocks.append((s, min(s + step, end + bar)))
        s = s + step
    return blocks


@dataclass(frozen=True)
class BlockRows:
    """The training rows of one block model (``idx``: positions in the episodes)."""

    cutoff: pd.Timestamp
    idx: np.ndarray
    features: pd.DataFrame  # every episode's features (``X`` takes the training rows)
    y: np.ndarray
    entry: pd.Series
    ends: pd.Series
    targets: pd.DataFrame
    feats: list[str]

    @property
    def X(self) -> pd.DataFrame:
        """The training rows' features (index reset)."""
        return self.features.iloc[self.idx].reset_index(drop=True)

    @property
    def meta(self) -> dict:
        """``label_cutoff`` (the latest label end used) and ``trained_until`` (latest entry)."""
        return {"label_cutoff": self.ends.max(), "trained_until": self.entry.max()}


def block_training_set(cfg: Config, episodes: pd.DataFrame, features: pd.DataFrame,
                       cutoff: pd.Timestamp, bar: pd.Timedelta) -> BlockRows:  # fmt: skip
    """The labelled episodes whose label ended before ``cutoff`` (at least 100, else an error)."""
    from ..episodes import outcome_targets
    from ..features import FEATURE_GROUPS, feature_names
    from ..model import known_targets, label_end, outcome_end, select_features

    end = label_end(episodes, cfg.label.horizon, bar)
    idx = np.flatnonzero((episodes["label"].notna() & (end < cutoff)).to_numpy())
    if len(idx) < 100:
        raise RevertibleError(
            f"walk-forward model at {cutoff}: only {len(idx)} labelled episodes ended before it; "
            "need at least 100: raise backtest.min_train_days or use more data"
        )
    return BlockRows(
        cutoff, idx, features,
        episodes["label"].to_numpy(dtype=float, na_value=np.nan)[idx].astype(int),
        episodes["entry_time"].iloc[idx].reset_index(drop=True),
        end.iloc[idx].reset_index(drop=True),
        known_targets(outcome_targets(episodes.iloc[idx].reset_index(drop=True),
                                      cfg.sizing.split),
                      outcome_end(episodes.iloc[idx], cfg.label, cfg.continue_, bar), cutoff),
        select_features(cfg, feature_names(cfg), FEATURE_GROUPS))


@dataclass(frozen=True)
class BlockFit:
    """The LightGBM part of one block model: its final classifier and, if fitted, its CV."""

    rows: BlockRows
    classifier: Any
    cv: dict | None


@dataclass(frozen=True)
class PendingBlock:
    """A block's LightGBM fits under way: call it for the :class:`BlockFit`.

    ``classifier()`` gives the final classifier alone (what the next block's warm start needs),
    without waiting for the block's CV folds.
    """

    fit: Callable[[], BlockFit]
    classifier: Callable[[], Any]

    def __call__(self) -> BlockFit:
        return self.fit()


def start_block_fit(
    cfg: Config, episodes: pd.DataFrame, features: pd.DataFrame, cutoff: pd.Timestamp,
    bar: pd.Timedelta, *, folds: bool = True, submit: Submit | None = None,
    warm: Callable[[], Any] | None = None,
) -> PendingBlock:
    """Start the LightGBM fits of the block at ``cutoff``.

    ``folds``: also the ``backtest.calibration_folds`` purged CV folds (binned here, then each
    fold and the final classifier is one ``submit``); otherwise the binning and the final
    classifier are one ``submit``. ``warm`` (no folds; a function giving the previous block's
    classifier): continue it with ``backtest.warm_start_trees`` trees fitted on this block's
    rows. ``submit`` defaults to running at once (:func:`revertible.model.run_now`).
    """
    from ..model import run_now, start_reversion_fit

    submit = submit or run_now
    if not folds:
        fut = submit(_final_only, cfg, episodes, features, cutoff, bar, warm)
        return PendingBlock(fut, lambda: fut().classifier)
    d = block_training_set(cfg, episodes, features, cutoff, bar)
    pending = start_reversion_fit(cfg, d.X, d.y, d.entry, d.ends, d.feats, bar,
                                  n_folds=cfg.backtest.calibration_folds, submit=submit)
    return PendingBlock(lambda: BlockFit(d, *pending()), pending.classifier)


def _final_only(cfg: Config, episodes: pd.DataFrame, features: pd.DataFrame,
                cutoff: pd.Timestamp, bar: pd.Timedelta,
                warm: Callable[[], Any] | None) -> BlockFit:  # fmt: skip
    from ..model import ReversionClassifier, lgbm_params, start_reversion_fit

    d = block_training_set(cfg, episodes, features, cutoff, bar)
    if warm is None:
        clf, _ = start_reversion_fit(cfg, d.X, d.y, d.entry, d.ends, d.feats, bar, n_folds=0)()
        return BlockFit(d, clf, None)
    init = warm().booster_
    params = {**lgbm_params(cfg.model, cfg.seed), "n_estimators": cfg.backtest.warm_start_trees}
    clf = ReversionClassifier(params).fit(d.X[d.feats], d.y, keep_train_score=True,
                                          init_model=init)  # fmt: skip
    return BlockFit(d, clf, None)


class HeldOutRecord:
    """Out-of-sample raw scores gathered block by block, row-aligned with the episodes.

    :meth:`add` records scores of a model that never trained on those rows (a first block's
    out-of-fold scores, a block model's scores of its own scored episodes); :meth:`before`
    is the record a block at ``cutoff`` may calibrate on.
    """

    def __init__(self, cfg: Config, episodes: pd.DataFrame, bar: pd.Timedelta):
        from ..episodes import outcome_targets
        from ..model import outcome_end

        self.score = np.full(len(episodes), np.nan)
        # both trades' outcomes known (the continuation may end after the label)
        self.ends = outcome_end(episodes, cfg.label, cfg.continue_, bar).reset_index(drop=True)
        self.targets = outcome_targets(episodes.reset_index(drop=True), cfg.sizing.split)
        self.y = episodes["label"].to_numpy(dtype=float, na_value=np.nan)
        self.entry = episodes["entry_time"].reset_index(drop=True)
        self.usable = np.isfinite(self.y) & np.isfinite(self.targets.to_numpy(float)).all(axis=1)

    def add(self, rows: np.ndarray, score: np.ndarray) -> None:
        """Record ``score`` for the episodes at positions ``rows`` (out of sample for its model)."""
        self.score[rows] = score

    def rows_before(self, cutoff: pd.Timestamp) -> np.ndarray:
        """Positions of the recorded, usable rows whose labels ended before ``cutoff``."""
        return np.flatnonzero(np.isfinite(self.score) & self.usable
                              & (self.ends < cutoff).to_numpy())  # fmt: skip

    def before(self, cutoff: pd.Timestamp) -> HeldOut:
        """The held-out record a model at ``cutoff`` calibrates on (targets on positions)."""
        from ..model import HeldOut

        rows = self.rows_before(cutoff)
        return HeldOut(self.score[rows], self.y[rows].astype(int), self.targets.iloc[rows],
                       self.entry.iloc[rows])


def fit_block_model(
    cfg: Config, episodes: pd.DataFrame, features: pd.DataFrame, cutoff: pd.Timestamp,
    bar: pd.Timedelta, *, record: HeldOutRecord | None = None, prefit: BlockFit | None = None,
) -> Any:
    """Train a calibrated model on the episodes whose label was known before ``cutoff``.

    The training rows are the labelled episodes with ``label_end < cutoff`` (exit time, or entry
    + horizon; see :func:`revertible.model.label_end`), so nothing after ``cutoff`` is used.
    Without ``record`` it is :func:`revertible.workflows.train`'s fit
    (:func:`revertible.model.fit_reversion_model`) without the holdout, baselines and logging:
    purged walk-forward CV with ``backtest.calibration_folds`` folds (null: ``cv.n_folds``), the
    probability calibrator on the out-of-fold scores, the final classifier on every training
    row, and the return calibrator on the out-of-fold record. With ``record`` (a
    :class:`HeldOutRecord` of earlier blocks) only the final classifier is fitted and both
    calibrators are fitted on ``record.before(cutoff)``. ``prefit``: the block's LightGBM fits
    already made (:func:`start_block_fit`, same ``cutoff``). The model has ``predict_outcomes``;
    ``model.meta["label_cutoff"]`` is the latest label end used.
    """
    from ..model import calibrated_reversion_model, oof_reversion_model

    if prefit is None:
        prefit = start_block_fit(cfg, episodes, features, cutoff, bar, folds=record is None)()
    d = prefit.rows
    if record is None:
        if prefit.cv is None:
            raise ValueError("a block model without a record needs its CV folds fitted")
        return oof_reversion_model(cfg, prefit.classifier, prefit.cv, lambda: d.X, d.y, d.entry,
                                   d.targets, d.feats, meta=d.meta)  # fmt: skip
    held = record.before(cutoff)
    if len(held.score) < 2 * cfg.decision.min_bin_trades:
        raise RevertibleError(
            f"walk-forward model at {cutoff}: only {len(held.score)} held-out scores of earlier "
            f"blocks ended before it (need {2 * cfg.decision.min_bin_trades}); set "
            "backtest.calibration_record=folds or raise backtest.min_train_days"
        )
    return calibrated_reversion_model(cfg, prefit.classifier, d.feats, lambda: d.X, d.targets,
                                      held, meta=d.meta)  # fmt: skip
