"""One pass, several correlation windows, values at chosen bars: bit for bit the record mode."""

from __future__ import annotations

import numpy as np
import pytest

from revertible.spread import entry_values, pair_series
from revertible.synthetic import generate_market


def _record(logp, ia, ib, windows, bw, zw, frac=0.9, cfrac=0.9):
    """Record-mode series per correlation window: (corr per window, beta, z)."""
    per = [pair_series(logp, ia, ib, bw, zw, frac, w, cfrac) for w in windows]
    return np.stack([s[:, 5] for s in per], axis=-1), per[0][:, 0], per[0][:, 4]


def _check(logp, ia, ib, pair, bar, windows, bw, zw, frac=0.9, cfrac=0.9):
    corr, beta, z = _record(logp, ia, ib, windows, bw, zw, frac, cfrac)
    got, series = entry_values(logp, ia, ib, pair, bar, windows, cfrac, bw, zw, frac)
    want = corr[pair, bar]
    np.testing.assert_array_equal(got, want)
    num = ~np.isnan(want)
    assert np.array_equal(np.signbit(got[num]), np.signbit(want[num]))
    np.testing.assert_array_equal(series[:, 0], beta)
    np.testing.assert_array_equal(series[:, 1], z)
    only, none = entry_values(logp, ia, ib, pair, bar, windows, cfrac, spread=False)
    assert none is None
    np.testing.assert_array_equal(only, want)
    return want


def test_every_bar_of_every_pair_on_a_generated_market():
    """Every bar (the recompute bars of every window among them), pairs in several lane groups."""
    panel, _ = generate_market(n_assets=9, n_bars=1500, seed=11, missing_frac=0.01, gap_bars=30)
    logp = panel.log_close()
    ia, ib = np.triu_indices(logp.shape[1], 1)
    pair = np.repeat(np.arange(len(ia)), logp.shape[0])
    bar = np.tile(np.arange(logp.shape[0]), len(ia))
    want = _check(logp, ia, ib, pair, bar, (48, 120, 7, 333), 240, 48, cfrac=0.8)
    assert np.isfinite(want).mean() > 0.7 and np.isnan(want).any()  # late listings, gaps


def test_rows_in_any_order_with_repeats(rng):
    panel, _ = generate_market(n_assets=6, n_bars=900, seed=5)
    logp = panel.log_close()
    ia = np.array([0, 2, 5, 1, 3])  # not the universe order: lanes read separate columns
    ib = np.array([1, 3, 0, 4, 4])
    pair = rng.integers(0, len(ia), 400)
    bar = rng.integers(0, logp.shape[0], 400)
    pair[-1], bar[-1] = pair[0], bar[0]
    _check(logp, ia, ib, pair, bar, (200, 24), 100, 30, frac=0.7)  # first window > beta window
    corr, _ = entry_values(logp, ia, ib, pair[:0], bar[:0], (24, 200))
    assert corr.shape == (0, 2)
    with pytest.raises(IndexError, match="out of range"):
        entry_values(logp, ia, ib, np.array([5]), np.array([0]), (24,))
    with pytest.raises(ValueError, match="corr_windows"):
        entry_values(logp, ia, ib, pair, bar, ())


@pytest.mark.realdata
def test_record_mode_values_at_entries_on_real_data(spot_dir):
    """Shared spot data, a few hundred pairs, the default windows, rows at scattered bars."""
    from revertible.config import config_from_mapping
    from revertible.data import load_panel

    cfg = config_from_mapping({"data": {"path": str(spot_dir)}})
    panel = load_panel(cfg.data)
    logp = panel.log_close()
    rng = np.random.default_rng(0)
    ia, ib = np.triu_indices(logp.shape[1], 1)
    keep = np.sort(rng.choice(len(ia), 320, replace=False))
    ia, ib = ia[keep], ib[keep]
    pair = np.repeat(np.arange(len(ia)), 60)
    bar = rng.integers(0, logp.shape[0], len(pair))
    days = [7, 30, 60, 90]
    want = _check(logp, ia, ib, pair, bar, [panel.days_to_bars(d) for d in days], 720, 72)
    assert np.isfinite(want).mean() > 0.5
