"""Any bar size: coarser bars built point in time, the same OU half-life in hours and the same
eligibility dates whatever the bar size (issue 22)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from revertible.config import UniverseConfig, duration
from revertible.data import Panel, resample_panel
from revertible.errors import DataError
from revertible.synthetic import simulate_ou_pair
from revertible.universe import asset_eligibility

HALF_LIFE_H = 12.0


def _panel(times: pd.DatetimeIndex, logp: np.ndarray, qv: float = 1e6) -> Panel:
    close = np.exp(logp)
    qvol = np.where(np.isfinite(close), qv, np.nan)
    return Panel(times, tuple(f"A{i}/USDT" for i in range(close.shape[1])), close, close * 1.001,
                 close * 0.999, close, qvol / np.where(np.isfinite(close), close, 1.0), qvol)


@pytest.fixture(scope="module")
def fine() -> Panel:
    """An OU pair of half-life 12 h at 15-minute bars (48 bars), the second asset listing late."""
    n = 96 * 400  # 400 days
    a, b = simulate_ou_pair(n, half_life=HALF_LIFE_H * 4, beta=1.0, sigma_spread=0.002,
                            sigma_b=0.002, seed=7)
    c = a.copy()
    c[: 96 * 150 + 37] = np.nan  # lists at 09:15 on day 150, mid 1h and 4h bar
    times = pd.date_range("2024-01-01", periods=n, freq="15min", tz="UTC")
    return _panel(times, np.column_stack([a, b, c]))


def _half_life_hours(panel: Panel) -> float:
    s = np.log(panel.close[:, 0]) - np.log(panel.close[:, 1])
    x, y = s[:-1] - s[:-1].mean(), s[1:] - s[1:].mean()
    phi = float(x @ y / (x @ x))
    return -math.log(2.0) / math.log(phi) * panel.freq / pd.Timedelta(hours=1)


def test_resample_rules_point_in_time(fine):
    p4 = resample_panel(fine, "4h")
    assert p4.freq == pd.Timedelta(hours=4) and p4.bars_per_day == 6.0
    assert p4.meta["timeframe"] == "4h" and p4.meta["resampled_from"] == "15m"
    # bar k of the coarse panel is exactly the 16 fine bars opening in [T, T + 4h)
    k = 100
    rows = slice(16 * k, 16 * k + 16)
    assert p4.times[k] == fine.times[16 * k]
    assert p4.close[k, 0] == fine.close[16 * k + 15, 0]
    assert p4.open[k, 0] == fine.open[16 * k, 0]
    assert p4.high[k, 1] == fine.high[rows, 1].max()
    assert p4.low[k, 1] == fine.low[rows, 1].min()
    assert p4.quote_volume[k, 1] == pytest.approx(fine.quote_volume[rows, 1].sum())
    # cut at T: the coarse panel of the data known at T is a prefix of the full one, and a
    # trailing partial bar is dropped (never emitted before it is complete)
    cut = fine.slice_bars(0, 16 * 50 + 5)
    pc = resample_panel(cut, "4h")
    assert pc.n_bars == 50
    np.testing.assert_array_equal(pc.close, p4.close[:50])
    # the late asset's first coarse bar is the one its first fine bar lies in
    first = int(np.argmax(np.isfinite(p4.close[:, 2])))
    assert p4.times[first] <= fine.times[96 * 150 + 37] < p4.times[first] + p4.freq
    assert p4.open[first, 2] == fine.open[96 * 150 + 37, 2]


def test_resample_refuses_finer_or_uneven(fine):
    for rule in ("5m", "15m", "50m"):
        with pytest.raises(DataError, match="not a multiple"):
            resample_panel(fine, rule)


@pytest.mark.parametrize("rule", ["1h", "4h"])
def test_ou_half_life_in_hours_same_at_any_bar_size(fine, rule):
    hl_fine = _half_life_hours(fine)
    hl = _half_life_hours(resample_panel(fine, rule))
    assert hl_fine == pytest.approx(HALF_LIFE_H, rel=0.1)
    # sampling error of phi at 4h (2400 bars, phi = 0.79): about 2.5% of the half-life
    assert hl == pytest.approx(HALF_LIFE_H, rel=0.12)
    assert hl == pytest.approx(hl_fine, rel=0.12)


def test_eligibility_dates_within_one_coarse_bar(fine):
    cfg = UniverseConfig(min_history_days=30, min_quote_volume=1.0)
    firsts = {}
    for rule in (None, "1h", "4h", "1d"):
        p = fine if rule is None else resample_panel(fine, rule)
        elig = asset_eligibility(p, cfg)
        t = int(np.argmax(elig[:, 2]))
        assert elig[t, 2] and not elig[:t, 2].any()
        firsts[rule] = p.times[t]
    listed = fine.times[96 * 150 + 37]
    for rule, when in firsts.items():
        bar = fine.freq if rule is None else duration(rule)
        # 30 days of history counted in days, not in bars of an assumed hour
        assert abs(when - (listed + pd.Timedelta(days=30))) <= bar, rule
        assert abs(when - firsts[None]) <= bar, rule
