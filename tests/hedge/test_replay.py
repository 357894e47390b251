"""The hedge replay: known answers (volatility, funding, basis, fees, liquidation, unwind, beta)."""

from __future__ import annotations

import numpy as np
import pytest

from revertible.config import HedgeConfig
from revertible.hedge import (
    replay_hedge,
    settlement_bars,
    trailing_beta,
    unwind_rule,
)

from .support import N, _times, _walk

HOURLY = 24 * 365


def _replay(spot, perp, *, funding=None, ratio=1.0, q=2.0, high=None, cfg=None, unwind=False):
    n = spot.size
    p_open = np.r_[perp[0], perp[:-1]]
    s_open = np.r_[spot[0], spot[:-1]]
    fund = np.full(n, np.nan) if funding is None else funding
    cfg = cfg or HedgeConfig()
    return replay_hedge(_times(n), spot, p_open, perp,
                        np.maximum(p_open, perp) if high is None else high,
                        p_open - s_open, perp - spot, fund, np.full(n, ratio * q), q, cfg,
                        unwind=unwind, periods_per_year=HOURLY)


def test_full_hedge_removes_volatility_half_hedge_halves_it(rng):
    spot = _walk(rng, N)
    full = _replay(spot, spot.copy(), ratio=1.0).metrics
    half = _replay(spot, spot.copy(), ratio=0.5).metrics
    # the one entry fee is all that is left
    assert full["hedged.volatility"] < 5e-3 * full["unhedged.volatility"]
    assert full["hedge_effectiveness"] > 0.999
    assert 0.4 < half["hedged.volatility"] / half["unhedged.volatility"] < 0.6
    assert half["hedged.max_drawdown"] < half["unhedged.max_drawdown"]
    assert full["liquidations"] == 0 and full["hedged_bars"] == 1.0


def test_funding_basis_and_fees_match_a_hand_calculation(rng):
    n, q, ratio, rate = 24 * 10, 3.0, 1.0, 0.0002
    spot = _walk(rng, n)
    basis = np.linspace(0.0, 0.5, n)  # perp drifts above spot by 0.5 over the range
    perp = spot + basis
    fund = np.full(n, np.nan)
    fund[::8] = rate
    cfg = HedgeConfig(taker_fee=0.0005, slippage_bps=2.0)
    res = _replay(spot, perp, funding=fund, ratio=ratio, q=q, cfg=cfg)
    m, h = res.metrics, ratio * q
    p_open = np.r_[perp[0], perp[:-1]]
    s_open = np.r_[spot[0], spot[:-1]]
    # filled at the open of bar 1; funding settling at bars >= 2 is on the contracts carried in
    events = np.flatnonzero(np.isfinite(fund))
    events = events[events >= 2]
    received = rate * h * p_open[events].sum()
    assert m["funding_paid"] == pytest.approx(-received, rel=1e-12)
    basis_open1 = p_open[1] - s_open[1]
    assert m["basis_pnl"] == pytest.approx(-h * (basis[-1] - basis_open1), rel=1e-9)
    assert m["perp_pnl"] == pytest.approx(-h * (perp[-1] - p_open[1]), rel=1e-9)
    assert m["spot_pnl"] == pytest.approx(q * (spot[-1] - spot[0]), rel=1e-9)
    assert m["fees"] == pytest.approx(h * p_open[1] * (0.0005 + 2e-4), rel=1e-12)
    end = res.bars["hedged_equity"].iloc[-1] - res.bars["unhedged_equity"].iloc[-1]
    assert end == pytest.approx(m["perp_pnl"] + received - m["fees"], rel=1e-9)


def test_short_liquidation_is_detected_from_the_bar_high(rng):
    n = 200
    spot = np.full(n, 100.0) + rng.normal(0, 0.01, n)
    perp = spot.copy()
    p_open = np.r_[perp[0], perp[:-1]]
    high = np.maximum(p_open, perp)
    high[120] = p_open[120] * 1.05  # a wick: +5% intrabar, the close does not move
    thin = HedgeConfig(leverage=25.0, maintenance_margin_rate=0.005, on_margin_call="stop")
    res = _replay(spot, perp, high=high, cfg=thin, q=1.0)
    m = res.metrics
    assert m["liquidations"] == 1 and m["liquidated_at_bar"] == 120
    assert (res.bars["contracts"].iloc[120:] == 0).all()
    assert (res.bars["contracts"].iloc[1:120] == 1.0).all()
    # margin = notional / leverage - fee, marked to market up to the open of bar 120
    fee = p_open[1] * (thin.taker_fee + thin.slippage_bps * 1e-4)
    margin = p_open[1] / 25.0 - fee - (p_open[120] - p_open[1])
    liq = (margin + p_open[120]) / (1.0 + 0.005)
    assert m["liquidation_loss"] == pytest.approx(0.005 * liq, rel=1e-9)
    assert res.bars["perp_pnl"].iloc[120] == pytest.approx(-(liq - p_open[120]), rel=1e-9)
    # the same wick with ample margin: no liquidation
    assert _replay(spot, perp, high=high, q=1.0).metrics["liquidations"] == 0
    # nor without the wick, on closes alone
    assert _replay(spot, perp, cfg=thin, q=1.0).metrics["liquidations"] == 0


def test_funding_unwind_rule_unwinds_and_rehedges_with_persistence(rng):
    n = 24 * 12
    spot = _walk(rng, n, vol=0.002)
    fund = np.full(n, np.nan)
    fund[::8] = 0.0001  # shorts receive
    fund[8 * 10:8 * 14:8] = -0.0003  # 4 settlements where the short pays 0.03%
    cfg = HedgeConfig(unwind_persistence=3)
    on = _replay(spot, spot.copy(), funding=fund, cfg=cfg, unwind=True)
    assert on.metrics["unwinds"] == 1 and on.metrics["rehedges"] == 1
    held = on.bars["contracts"].to_numpy()
    # decided at the close of the 3rd paying settlement (bar 96), filled at the next open
    assert held[96] > 0 and held[97] == 0
    # back on after 3 settlements at or below the threshold (bars 112, 120, 128)
    assert held[128] == 0 and held[129] > 0
    off = _replay(spot, spot.copy(), funding=fund, cfg=cfg, unwind=False)
    assert off.metrics["unwinds"] == 0 and off.metrics["hedged_bars"] == 1.0
    state = unwind_rule(fund[: 8 * 12 + 1], cfg)
    assert state["action"] == "unwind" and state["paid_streak"] == 3
    # 4-hourly funding: the 0.01% per 8 h threshold is 0.005% per settlement
    four = np.full(40, np.nan)
    four[::4] = -0.00007
    assert settlement_bars(four, 8.0) == 4.0
    assert unwind_rule(four, cfg, per_8h=2.0)["action"] == "unwind"
    assert unwind_rule(four, cfg)["action"] == "keep"


def test_trailing_beta_is_point_in_time_and_recovers_a_known_beta(rng):
    n = 2000
    hedge = _walk(rng, n)
    held = hedge[0] * np.exp(2.0 * np.log(hedge / hedge[0]) + np.cumsum(rng.normal(0, 0.002, n)))
    full = trailing_beta(held, hedge, 500)
    cut = trailing_beta(held[:1200], hedge[:1200], 500)
    np.testing.assert_allclose(cut, full[:1200], equal_nan=True)
    assert np.isnan(full[:449]).all() and np.isfinite(full[450:]).all()
    assert full[-1] == pytest.approx(2.0, abs=0.1)


def test_real_btc_full_hedge_removes_most_volatility(spot_dir, futures_dir, tmp_path):
    from revertible.config import config_from_mapping
    from revertible.hedge import hedge_command

    cfg = config_from_mapping({"data": {"path": str(spot_dir), "funding_path": str(futures_dir)}})
    res = hedge_command(cfg, asset="BTC", quantity=1.0, since="2024-06-01", until="2024-07-01",
                        track=False)
    m = res["metrics"]
    assert m["hedged.volatility"] < 0.1 * m["unhedged.volatility"]
    assert m["funding_events"] == 91  # 30 days x 3 settlements + the one at --until (inclusive)
    assert res["plan"]["liquidation_sigmas"] > 2
