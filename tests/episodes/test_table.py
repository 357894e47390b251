"""Episodes: the compiled kernel against a plain reference, and point in time on real data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from contract_support import EPISODE_FILE_COLUMNS, assert_documented_in_order

from revertible.config import load_config
from revertible.data import load_panel
from revertible.episodes import (
    EPISODE_COLUMNS,
    LEG_COLUMNS,
    build_episodes,
    iter_episode_blocks,
    pair_episodes,
    write_episodes,
)
from revertible.spread import SpreadSeries, pair_series
from revertible.synthetic import generate_market
from revertible.universe import asset_eligibility, pair_correlations_at, universe_pairs

CUTS = ["2024-04-20 07:00", "2024-06-30 23:00", "2024-08-25 12:00"]


@pytest.fixture(scope="module")
def real(spot_dir, futures_dir):
    cfg = load_config("configs/binance-spot-1h.yaml", data=str(spot_dir))
    panel = load_panel(cfg.data)
    return cfg, panel, build_episodes(panel, cfg)


@pytest.fixture(scope="module")
def real_eligibility(real):
    """Asset eligibility on the full real panel, computed once for every cut."""
    cfg, panel, _ = real
    return asset_eligibility(panel, cfg.universe)


@pytest.fixture(scope="module")
def synth():
    panel, truth = generate_market(n_assets=10, n_bars=24 * 150, seed=3)
    cfg = load_config("configs/demo.yaml", data="unused")
    return cfg, panel


def test_columns_and_orientation(real):
    _, _, eps = real
    assert list(eps.columns[: len(EPISODE_COLUMNS)]) == EPISODE_COLUMNS
    assert (eps["asset_a"] < eps["asset_b"]).all(), "asset_a sorts before asset_b"
    assert str(eps["entry_time"].dt.tz) == "UTC"
    assert eps["exit_reason"].isin(["revert", "stop", "timeout", "open"]).all()
    lab = eps["label"]
    assert set(lab.dropna().unique()) <= {0.0, 1.0}
    assert (lab.isna() == (eps["exit_reason"] == "open")).all()
    assert ((eps["label"] == 1) == (eps["exit_reason"] == "revert")).all()
    assert (eps["z_entry"].abs() >= 2.0).all()
    closed = eps[eps["exit_reason"] != "open"]
    held = (closed["exit_time"] - closed["entry_time"]) / pd.Timedelta(hours=1)
    assert (held == closed["bars_held"]).all()
    assert (closed["bars_held"].between(1, 48)).all()
    # 9,180 unordered pairs, base rate in a plausible band
    assert 100_000 < len(eps) < 600_000
    assert 0.2 < lab.mean() < 0.7


@pytest.mark.slow
def test_episodes_do_not_overlap_within_a_pair(real):
    _, _, eps = real
    e = eps.sort_values(["asset_a", "asset_b", "entry_time"])
    same = (e["asset_a"].to_numpy()[1:] == e["asset_a"].to_numpy()[:-1]) & (
        e["asset_b"].to_numpy()[1:] == e["asset_b"].to_numpy()[:-1]
    )
    prev_exit = e["exit_time"].to_numpy()[:-1][same]
    next_entry = e["entry_time"].to_numpy()[1:][same]
    assert (next_entry > prev_exit).all()


def _gappy_market():
    """Heavy gaps (3% of bars, a 60-bar hole), four late listings and one delisting."""
    panel, _ = generate_market(
        n_assets=10, n_bars=24 * 150, seed=5, n_late=4, missing_frac=0.03, gap_bars=60
    )
    gone = {f: getattr(panel, f).copy(order="F") for f in
            ("open", "high", "low", "close", "volume", "quote_volume")}
    for arr in gone.values():
        arr[-400:, 0] = np.nan  # asset 0 delisted 400 bars before the end
    return replace(panel, **gone)


@pytest.fixture(scope="module")
def gappy():
    cfg = load_config("configs/demo.yaml", data="unused")
    return cfg, _gappy_market()


def _kernel_vs_reference(cfg, panel):
    """Compare the block kernel with series -> reference detector pair by pair.

    Returns (episodes checked, episodes of pairs with a leg listed late or delisted, episodes
    with a missing bar inside their horizon).
    """
    elig = asset_eligibility(panel, cfg.universe)
    eps = pd.concat(list(iter_episode_blocks(panel, cfg, elig)), ignore_index=True)
    ia, ib = universe_pairs(panel.assets)
    cw = cfg.universe.eligibility_window_days * 24
    logp = panel.log_close()
    sr = pair_series(logp, ia, ib, corr_window=cw)
    late = ~np.isfinite(logp[0]) | ~np.isfinite(logp[-1])
    checked = with_late = with_gap = 0
    for p, (i, j) in enumerate(zip(ia, ib, strict=True)):
        beta, spread, mean, std, z, corr = sr[p]
        mask = elig[:, i] & elig[:, j] & (np.abs(np.nan_to_num(corr)) >= cfg.universe.min_abs_corr)
        a, b = logp[:, i], logp[:, j]
        ref = pair_episodes(a, b, SpreadSeries(beta, spread, mean, std, z), mask)
        got = eps[(eps["asset_a"] == panel.assets[i]) & (eps["asset_b"] == panel.assets[j])]
        assert len(ref) == len(got)
        np.testing.assert_array_equal(panel.times[ref["entry_idx"]], got["entry_time"].to_numpy())
        np.testing.assert_array_equal(ref["z_entry"].to_numpy(), got["z_entry"].to_numpy())
        np.testing.assert_array_equal(ref["beta"].to_numpy(), got["beta"].to_numpy())
        np.testing.assert_array_equal(ref["spread_std"].to_numpy(), got["spread_std"].to_numpy())
        np.testing.assert_array_equal(
            ref["label"].to_numpy(), got["label"].to_numpy(float, na_value=np.nan)
        )
        np.testing.assert_array_equal(ref["exit_reason"].to_numpy(), got["exit_reason"].to_numpy())
        np.testing.assert_array_equal(ref["bars_held"].to_numpy(), got["bars_held"].to_numpy())
        checked += len(got)
        with_late += len(got) if late[i] or late[j] else 0
        both = np.isfinite(a) & np.isfinite(b)
        for t0, held in zip(ref["entry_idx"], ref["bars_held"], strict=True):
            with_gap += int(not both[t0 + 1 : t0 + 1 + held].all())
    return checked, with_late, with_gap


def test_kernel_matches_reference_detector(synth):
    """The fused block kernel equals series -> plain reference detector, pair by pair."""
    cfg, panel = synth
    checked, _, _ = _kernel_vs_reference(cfg, panel)
    assert checked > 500


def test_kernel_matches_reference_detector_with_gaps_and_late_listings(gappy):
    """The same on data with many missing bars, late listings and a delisting."""
    cfg, panel = gappy
    logp = panel.log_close()
    assert np.isnan(logp).mean() > 0.05  # the data really are gappy
    checked, with_late, with_gap = _kernel_vs_reference(cfg, panel)
    assert checked > 150
    assert with_late > 50, "episodes of pairs with a late-listed or delisted leg"
    assert with_gap > 50, "episodes with a missing bar inside their horizon"


def test_series_truncation_is_exact(synth):
    """Every per-bar value at t <= T is bit-identical when the data stop at T."""
    _, panel = synth
    ia, ib = universe_pairs(panel.assets)
    full = pair_series(panel.log_close(), ia[:20], ib[:20])
    for cut in (1000, 2345, 3000):
        part = pair_series(panel.log_close()[:cut], ia[:20], ib[:20])
        np.testing.assert_array_equal(part, full[:, :, :cut])


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("cut", CUTS)
def test_point_in_time_on_real_data(real, real_eligibility, cut):
    """Cut the real data at T: episodes, eligibility and correlations up to T are unchanged."""
    cfg, panel, full = real
    part_panel = panel.cut(cut)
    T = part_panel.times[-1]
    part = build_episodes(part_panel, cfg)
    f = full[full["entry_time"] <= T].reset_index(drop=True)
    assert len(part) == len(f) > 1000
    for col in ["asset_a", "asset_b", "entry_time", "z_entry", "beta", "spread_mean", "spread_std"]:
        np.testing.assert_array_equal(part[col].to_numpy(), f[col].to_numpy(), err_msg=col)
    horizon = pd.Timedelta(hours=cfg.label.horizon)
    done = (f["entry_time"] + horizon <= T).to_numpy()
    for col in ["label", "exit_time", "exit_reason", "bars_held"]:
        np.testing.assert_array_equal(part.loc[done, col].to_numpy(), f.loc[done, col].to_numpy(),
                                      err_msg=col)
    # trade outcomes: settled once the exit has filled at an open <= T (the next bar with both
    # opens; a day of margin for a missing open)
    filled = (f["exit_time"] + pd.Timedelta(hours=24) <= T).to_numpy() & done
    for col in ["revert_return", "continue_return"]:
        np.testing.assert_array_equal(part.loc[filled, col].to_numpy(),
                                      f.loc[filled, col].to_numpy(), err_msg=col)
    # an episode whose window is cut short and has touched no barrier by T is open, label null
    pending = part[~done]
    assert pending.loc[pending["exit_reason"] == "open", "label"].isna().all()
    # eligibility and correlations as of T
    el_full = real_eligibility[: part_panel.n_bars]
    np.testing.assert_array_equal(asset_eligibility(part_panel, cfg.universe), el_full)
    pd.testing.assert_frame_equal(
        pair_correlations_at(part_panel, cfg.universe), pair_correlations_at(panel, cfg.universe, T)
    )


def test_episode_file_columns_are_the_contract_s():
    """The episode file's columns, in order, are docs/design.md's (pinned in contract_support)."""
    assert [*EPISODE_COLUMNS, "corr_entry", *LEG_COLUMNS] == EPISODE_FILE_COLUMNS
    assert_documented_in_order(EPISODE_FILE_COLUMNS, "Episodes")


def test_write_episodes_parquet_and_csv(synth, tmp_path):
    cfg, panel = synth
    s1 = write_episodes(panel, cfg, tmp_path / "e.parquet")
    s2 = write_episodes(panel, cfg, tmp_path / "e.csv")
    a = pd.read_parquet(tmp_path / "e.parquet")
    b = pd.read_csv(tmp_path / "e.csv")
    assert s1["episodes"] == s2["episodes"] == len(a) == len(b) > 0
    assert list(a.columns[: len(EPISODE_COLUMNS)]) == EPISODE_COLUMNS
    assert list(a.columns) == list(b.columns) == EPISODE_FILE_COLUMNS
    assert a["label"].isna().sum() == s1["open"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.csv", "e.parquet"]


def test_inverse_relationships_are_found(synth):
    """A planted inverse pair (negative beta) yields episodes with beta < 0."""
    cfg, panel = synth
    eps = build_episodes(panel, cfg)
    assert (eps["beta"] < 0).any()
    assert (eps["corr_entry"] < 0).any()
