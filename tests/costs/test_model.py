"""Cost model: presets, overrides, the round trip, and a full hand calculation of one trade."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.backtest import run_backtest
from revertible.config import CostConfig, config_from_mapping
from revertible.costs import (
    borrow_per_bar,
    fill_price,
    funding_schedule,
    round_trip_cost,
    round_trip_cost_per_leg_a,
)
from revertible.data import Panel
from revertible.errors import ConfigError


def test_venue_presets_and_round_trips():
    spot, perp = CostConfig(), CostConfig(venue="perp")
    assert (spot.taker_fee, spot.maker_fee) == (0.001, 0.001)
    assert (perp.taker_fee, perp.maker_fee) == (0.0005, 0.0002)
    # per unit of gross notional: both legs entered and exited (issue 10's figures)
    assert round_trip_cost(spot) == pytest.approx(24e-4, abs=1e-15)
    assert round_trip_cost(perp) == pytest.approx(14e-4, abs=1e-15)
    assert round_trip_cost(CostConfig(venue="perp", fill="maker")) == pytest.approx(4e-4)
    assert round_trip_cost(CostConfig(fill="maker")) == pytest.approx(20e-4)  # no slippage
    assert round_trip_cost_per_leg_a(spot, 0.5) == pytest.approx(1.5 * 24e-4)
    with pytest.raises(ValueError, match="leg_ratio >= 0"):
        round_trip_cost_per_leg_a(spot, -1.0)
    assert fill_price(100.0, 1, spot) == pytest.approx(100.02)
    assert fill_price(100.0, -1, spot) == pytest.approx(99.98)
    assert fill_price(100.0, 1, CostConfig(fill="maker")) == 100.0
    assert borrow_per_bar(spot, pd.Timedelta(hours=1)) == pytest.approx(0.0002 / 24)
    assert borrow_per_bar(perp, pd.Timedelta(hours=1)) == 0.0


def test_overrides_old_keys_and_scaling():
    c = CostConfig(taker_fee=0.0004)  # the old key keeps its meaning: the taker fee charged
    assert c.taker_fee == 0.0004 and c.taker_fee_override == 0.0004 and c.maker_fee == 0.001
    assert CostConfig(venue="perp", maker_fee_override=-0.0001, fill="maker").fee == -0.0001
    s = CostConfig(venue="perp").scaled(2.0)
    assert (s.taker_fee, s.maker_fee, s.slippage_bps) == (0.001, 0.0004, 4.0)
    assert s.borrow_rate_daily == CostConfig().borrow_rate_daily  # a market rate: not scaled
    with pytest.raises(ConfigError, match="costs.venue"):
        config_from_mapping({"data": {"path": "."}, "costs": {"perpetual": True}})
    with pytest.raises(ConfigError, match="funding_hours"):
        config_from_mapping({"data": {"path": "."}, "costs": {"funding_hours": [24]}})
    with pytest.raises(ConfigError, match="venue"):
        config_from_mapping({"data": {"path": "."}, "costs": {"venue": "futures"}})


def _panel(n=60, funding=None):
    rng = np.random.default_rng(11)
    lb = np.log(50.0) + np.cumsum(rng.normal(0, 0.001, n))
    spread = np.full(n, 0.0)
    la = np.log(100.0) + lb - np.log(50.0) + spread
    close = np.exp(np.column_stack([la, lb]))
    opens = close * (1 + rng.normal(0, 0.002, (n, 2)))
    f = np.asfortranarray
    vol = np.full((n, 2), 1e6)
    return Panel(
        times=pd.date_range("2024-01-01 20:00", periods=n, freq="h", tz="UTC"),
        assets=("AAA/USDT", "BBB/USDT"), open=f(opens), high=f(np.fmax(opens, close) * 1.01),
        low=f(np.fmin(opens, close) * 0.99), close=f(close), volume=f(vol),
        quote_volume=f(vol * close), funding=None if funding is None else f(funding),
        source="test",
    )


def _episode(panel, t0, z=2.5, std=1.0):
    la, lb = np.log(panel.close[t0, 0]), np.log(panel.close[t0, 1])
    return pd.DataFrame({
        "asset_a": ["AAA/USDT"], "asset_b": ["BBB/USDT"], "entry_time": [panel.times[t0]],
        "z_entry": [z], "beta": [1.0], "spread_mean": [la - lb - z * std], "spread_std": [std],
        "label": pd.array([1.0], dtype="Float64"), "exit_time": [pd.NaT],
        "exit_reason": ["revert"], "bars_held": [0],
    })  # fmt: skip


@pytest.mark.parametrize("venue", ["spot", "perp"])
def test_one_trade_matches_a_hand_calculation(venue):
    """Fees, slippage, borrow and funding to 1e-9, funding times at entry, inside and exit."""
    n, t0, horizon = 60, 3, 8  # 20:00 + 3 = 23:00 signal; entry 00:00 (a funding time)
    funding = np.full((n, 2), np.nan)
    e, x = t0 + 1, t0 + 1 + horizon  # time stop at the close of t0+8: exit at the open of t0+9
    funding[e, :] = [0.01, 0.02]  # at the entry open: not held before it, not paid
    funding[e + 4, :] = [0.0003, -0.0002]  # inside: paid
    funding[x, :] = [0.0005, 0.0004]  # at the exit open: held across it, paid
    funding[x + 1, :] = [0.03, 0.03]  # after the exit: not paid
    panel = _panel(n, funding)
    raw = {"data": {"path": "."}, "label": {"horizon": horizon},
           "costs": {"venue": venue, "funding_rate_default": 0.0},
           "backtest": {"cost_multipliers": [1.0]},
           "universe": {"min_history_days": 0, "min_quote_volume": 0}}  # fmt: skip
    cfg = config_from_mapping(raw)
    res = run_backtest(cfg, panel, episodes=_episode(panel, t0))
    row = res.trades[res.trades["strategy"] == "naive_beta"].iloc[0]
    assert row["exit_reason"] == "time" and row["entry_time"] == panel.times[e]
    assert row["exit_time"] == panel.times[x]
    # by hand: z > 0, so short A, long B; leg A = 5% of capital at the signal close
    c = cfg.costs
    fee, slip = c.taker_fee, c.slippage_bps / 1e4
    qa = 0.05 * 100_000 / panel.close[t0, 0]
    qb = 0.05 * 100_000 / panel.close[t0, 1]
    oa, ob, xa, xb = panel.open[e, 0], panel.open[e, 1], panel.open[x, 0], panel.open[x, 1]
    fees = fee * (qa * oa * (1 - slip) + qb * ob * (1 + slip)
                  + qa * xa * (1 + slip) + qb * xb * (1 - slip))  # fmt: skip
    slippage = slip * (qa * (oa + xa) + qb * (ob + xb))
    gross = -qa * (xa - oa) + qb * (xb - ob)
    if venue == "perp":
        fund = sum(-qa * funding[k, 0] * panel.open[k, 0] + qb * funding[k, 1] * panel.open[k, 1]
                   for k in (e + 4, x))  # fmt: skip
        borrow = 0.0
    else:
        fund = 0.0
        borrow = sum(qa * 0.0002 / 24 * panel.open[k, 0] for k in range(e, x))  # short A only
    for key, want in (("qty_a", qa), ("qty_b", qb), ("fees", fees), ("slippage", slippage),
                      ("gross_pnl", gross), ("funding", fund), ("borrow", borrow),
                      ("pnl", gross - fees - slippage - fund - borrow)):  # fmt: skip
        assert row[key] == pytest.approx(want, abs=1e-9, rel=0), key
    assert (fund != 0.0) == (venue == "perp") and (borrow > 0.0) == (venue == "spot")
    eq = res.equity["naive_beta"]
    assert eq.iloc[-1] - 100_000 == pytest.approx(row["pnl"], abs=1e-9)
    # maker fills: the maker fee, no slippage, same funding and borrow
    mk = run_backtest(config_from_mapping({**raw, "costs": {**raw["costs"], "fill": "maker"}}),
                      panel, episodes=_episode(panel, t0))  # fmt: skip
    m = mk.trades[mk.trades["strategy"] == "naive_beta"].iloc[0]
    maker = cfg.costs.maker_fee
    assert m["slippage"] == 0.0
    assert m["fees"] == pytest.approx(maker * (qa * (oa + xa) + qb * (ob + xb)), abs=1e-9)
    assert m["funding"] == pytest.approx(fund, abs=1e-12)
    assert m["borrow"] == pytest.approx(borrow, abs=1e-12)


def test_funding_schedule_uses_data_then_the_default_hours():
    n = 30
    funding = np.full((n, 2), np.nan)
    funding[5, 0] = 0.001
    panel = _panel(n, funding)  # starts 20:00: bar 4 is 00:00, bar 12 is 08:00
    sched = funding_schedule(panel, CostConfig(venue="perp", funding_rate_default=0.0001))
    assert sched[5, 0] == 0.001 and sched[4, 0] == 0.0001 and sched[12, 1] == 0.0001
    assert sched[5, 1] == 0.0 and sched[6, 0] == 0.0
    assert not funding_schedule(panel, CostConfig()).any()  # spot legs pay no funding


def test_perp_config_reads_the_shared_perpetuals_with_funding(futures_dir):
    from revertible.config import load_config
    from revertible.data import load_panel

    cfg = load_config("configs/binance-perp-1h.yaml", data=str(futures_dir))
    cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"funding_path": futures_dir})})
    assert cfg.costs.venue == "perp" and cfg.costs.taker_fee == 0.0005
    panel = load_panel(cfg.data)
    assert len(panel.assets) == 9 and all(a.endswith("/USDT:USDT") for a in panel.assets)
    sched = funding_schedule(panel, cfg.costs)
    have = np.isfinite(panel.funding)
    assert have.sum() > 9 * 200  # 8-hourly funding for months
    np.testing.assert_array_equal(sched[have], panel.funding[have])
    hours = panel.times.hour[np.flatnonzero(have.any(axis=1))]
    assert set(hours) <= {0, 4, 8, 12, 16, 20}  # 8-hourly, 4-hourly for some contracts
    spot = load_config("configs/binance-spot-1h.yaml", data="unused")
    assert spot.costs.venue == "spot" and spot.costs.taker_fee == 0.001
