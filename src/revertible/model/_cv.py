"""Time is the only split: final holdout, and purged walk-forward folds with an embargo.

Timing assumptions (all times are bar open times, UTC):

* an episode is *known* at its ``entry_time`` (features) and its label is *known* at its
  ``label_end`` (the exit bar, or ``entry + horizon`` for a timeout);
* the **holdout** is every episode with ``entry_time >= holdout_start``, where ``holdout_start``
  cuts the span of entry times at ``1 - holdout_frac``. The development set is every labelled
  episode whose label is known before ``holdout_start`` (episodes straddling the boundary are
  purged, so nothing learned depends on holdout-period prices);
* the development period after the first ``min_train_frac`` of its time is cut into ``n_folds``
  contiguous **test blocks** ``[start_k, end_k)``. Fold k trains on development episodes whose
  label window ``[entry_time, label_end]`` does not overlap ``[start_k, end_k + embargo)``; with
  ``walk_forward=True`` (the default) only episodes before the block are used at all, so every
  test prediction is out of sample in time. The embargo (at least the label horizon) matters for
  ``walk_forward=False`` (purged k-fold), where episodes after the block may train.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Fold", "label_end", "outcome_end", "known_targets", "holdout_split",
           "walk_forward_folds"]


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: positional indices into the development set and its test block."""

    k: int
    train: np.ndarray
    test: np.ndarray
    start: pd.Timestamp
    end: pd.Timestamp
    embargo_end: pd.Timestamp


def _ns(times: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) of a tz-aware datetime Series."""
    return pd.DatetimeIndex(times).as_unit("ns").asi8


def label_end(episodes: pd.DataFrame, horizon_bars: int, bar: pd.Timedelta) -> pd.Series:
    """When each episode's label becomes known: exit time, or entry + horizon if open."""
    fallback = episodes["entry_time"] + horizon_bars * bar
    return episodes["exit_time"].fillna(fallback)


def outcome_end(episodes: pd.DataFrame, label: Any, continuation: Any,
                bar: pd.Timedelta) -> pd.Series:
    """When *both* trades' outcomes are known (what a return calibrator may be fitted on).

    The reversion trade ends with the label (:func:`label_end`). The continuation trade ends
    there too when its barriers mirror the label's (take profit at ``label.stop``, stop at
    ``label.exit``, the same horizon: the defaults); otherwise its exit time is not stored, so
    it counts as known only from its time stop on (``entry + horizon``), or the label's end if
    later. ``label`` is a :class:`revertible.config.LabelConfig`, ``continuation`` the config's
    ``continue`` section.

    Examples
    --------
    >>> from revertible.config import ContinueConfig, LabelConfig
    >>> e = pd.DataFrame({"entry_time": pd.to_datetime(["2024-01-01"], utc=True),
    ...                   "exit_time": pd.to_datetime(["2024-01-01 05:00"], utc=True)})
    >>> h = pd.Timedelta(hours=1)
    >>> str(outcome_end(e, LabelConfig(), ContinueConfig(), h).iloc[0])
    '2024-01-01 05:00:00+00:00'
    >>> str(outcome_end(e, LabelConfig(), ContinueConfig(take_profit=3.0), h).iloc[0])
    '2024-01-03 00:00:00+00:00'
    """
    end = label_end(episodes, label.horizon, bar)
    horizon = continuation.horizon_or(label.horizon)
    if (continuation.take_profit, continuation.stop, horizon) == (label.stop, label.exit,
                                                                  label.horizon):
        return end
    stop = episodes["entry_time"] + horizon * bar
    return end.where(end >= stop, stop)


def known_targets(targets: pd.DataFrame, ends: pd.Series, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Targets as known at ``cutoff``: the continuation return NaN where it was not yet.

    ``targets`` are rows whose label is known before ``cutoff``; ``ends`` (the same rows, in
    order) their :func:`outcome_end`. A return calibrator leaves the masked rows out (it needs
    both directions).
    """
    late = pd.DatetimeIndex(ends) >= cutoff
    if not late.any():
        return targets
    out = targets.copy()
    out.loc[late, "continue"] = np.nan
    return out


def holdout_split(
    episodes: pd.DataFrame, holdout_frac: float, horizon_bars: int, bar: pd.Timedelta
) -> tuple[np.ndarray, np.ndarray, pd.Timestamp]:
    """Split labelled episodes into development and holdout (positional indices).

    Returns ``(dev_idx, holdout_idx, holdout_start)``. Unlabelled (open) episodes are in neither.
    """
    t = episodes["entry_time"]
    labelled = episodes["label"].notna().to_numpy()
    if len(t) == 0:
        raise ValueError("no episodes to split")
    t0, t1 = t.min(), t.max()
    if holdout_frac <= 0:
        start = t1 + bar
    else:
        start = (t0 + (t1 - t0) * (1.0 - holdout_frac)).ceil(bar)
    end = label_end(episodes, horizon_bars, bar)
    dev = np.flatnonzero(labelled & (end < start).to_numpy())
    hold = np.flatnonzero(labelled & (t >= start).to_numpy())
    return dev, hold, start


def walk_forward_folds(
    entry: pd.Series,
    end: pd.Series,
    n_folds: int,
    embargo: pd.Timedelta,
    min_train_frac: float = 0.2,
    walk_forward: bool = True,
) -> list[Fold]:
    """Purged walk-forward folds over the development episodes.

    Parameters
    ----------
    entry, end : pandas.Series
        Entry time and label end time of each development episode (same length).
    n_folds : int
        Number of contiguous test blocks after the initial training period.
    embargo : pandas.Timedelta
        Gap after each test block in which no episode may train (at least the label horizon).
    min_train_frac : float
        Share of the development period used only for training before the first test block.
    walk_forward : bool
        Train only on episodes entirely before the block (default); else purged k-fold.

    Returns
    -------
    list of Fold
        Folds with a non-empty train and test set, in time order.
    """
    entry = pd.Series(entry).reset_index(drop=True)
    end = pd.Series(end).reset_index(drop=True)
    t0, t1 = entry.min(), entry.max()
    first = t0 + (t1 - t0) * min_train_frac
    edges = [first + (t1 - first) * k / n_folds for k in range(n_folds + 1)]
    edges[-1] = t1 + pd.Timedelta(microseconds=1)
    e_entry = _ns(entry)
    e_end = _ns(end)
    folds = []
    for k in range(n_folds):
        start, stop = edges[k], edges[k + 1]
        emb_end = stop + embargo
        s_ns, t_ns, e_ns = start.value, stop.value, emb_end.value
        test = np.flatnonzero((e_entry >= s_ns) & (e_entry < t_ns))
        # purge: the label window [entry, end] must not overlap [start, stop + embargo)
        overlaps = (e_end >= s_ns) & (e_entry < e_ns)
        if walk_forward:
            train = np.flatnonzero((e_end < s_ns) & ~overlaps)
        else:
            train = np.flatnonzero(~overlaps & ((e_end < s_ns) | (e_entry >= e_ns)))
        if len(train) and len(test):
            folds.append(Fold(k, train, test, start, stop, emb_end))
    return folds
