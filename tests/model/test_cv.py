"""Time splits: holdout boundary, purging and embargo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.model import holdout_split, label_end, walk_forward_folds

H = pd.Timedelta(hours=1)


def _episodes(rng, n=3000, horizon=48):
    entry = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.integers(0, 24 * 200, n)), unit="h")
    held = rng.integers(1, horizon + 1, n)
    label = rng.integers(0, 2, n).astype(float)
    exit_time = pd.Series(entry + pd.to_timedelta(held, unit="h"))
    open_ = np.zeros(n, bool)
    open_[-5:] = True  # the last few are still open
    label[open_] = np.nan
    exit_time[open_] = pd.NaT
    return pd.DataFrame({"entry_time": entry, "exit_time": exit_time, "label": label})


@pytest.mark.parametrize("walk_forward", [True, False])
@pytest.mark.parametrize("embargo_bars", [48, 96])
def test_no_training_label_window_overlaps_test_block_plus_embargo(rng, walk_forward, embargo_bars):
    eps = _episodes(rng)
    end = label_end(eps, 48, H)
    dev, _, _ = holdout_split(eps, 0.2, 48, H)
    e, d = eps["entry_time"].iloc[dev].reset_index(drop=True), end.iloc[dev].reset_index(drop=True)
    folds = walk_forward_folds(e, d, 5, embargo_bars * H, 0.2, walk_forward=walk_forward)
    assert len(folds) == 5
    for f in folds:
        tr_entry, tr_end = e.iloc[f.train], d.iloc[f.train]
        overlaps = (tr_end >= f.start) & (tr_entry < f.end + embargo_bars * H)
        assert not overlaps.any(), f"fold {f.k}: a training label window overlaps the test block"
        assert ((e.iloc[f.test] >= f.start) & (e.iloc[f.test] < f.end)).all()
        assert set(f.train).isdisjoint(f.test)
        if walk_forward:
            assert (tr_end < f.start).all(), "walk-forward trains on the past only"
        else:
            later = tr_entry >= f.end
            assert (tr_entry[later] >= f.end + embargo_bars * H).all(), "embargo after the block"


def test_holdout_is_last_share_of_time_and_purged(rng):
    eps = _episodes(rng)
    dev, hold, start = holdout_split(eps, 0.2, 48, H)
    end = label_end(eps, 48, H)
    assert (eps["entry_time"].iloc[hold] >= start).all()
    assert (end.iloc[dev] < start).all(), "no development label may be known only after the start"
    span = eps["entry_time"].max() - eps["entry_time"].min()
    assert abs((eps["entry_time"].max() - start) / span - 0.2) < 0.01
    assert eps["label"].iloc[dev].notna().all() and eps["label"].iloc[hold].notna().all()
    # episodes straddling the boundary are in neither set
    straddle = (eps["entry_time"] < start) & (end >= start)
    assert straddle.any()
    assert not set(np.flatnonzero(straddle)) & (set(dev) | set(hold))


def test_walk_forward_blocks_cover_development_period_in_order(rng):
    eps = _episodes(rng)
    end = label_end(eps, 48, H)
    folds = walk_forward_folds(eps["entry_time"], end, 4, 48 * H, 0.25)
    starts = [f.start for f in folds]
    assert starts == sorted(starts)
    tested = np.concatenate([f.test for f in folds])
    assert len(tested) == len(set(tested))
    first = eps["entry_time"].min() + (eps["entry_time"].max() - eps["entry_time"].min()) * 0.25
    assert (eps["entry_time"].iloc[tested] >= first).all()
