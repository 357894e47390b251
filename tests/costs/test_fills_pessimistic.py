"""Pessimistic maker fills, hand-built: fills, misses, legs and crosses exactly as specified."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.backtest._ledger import reprice_maker_pessimistic
from revertible.config import CostConfig
from revertible.costs import fill_summary, pair_fill, pessimistic_fills

# perp: taker 5 bp, maker 2 bp; 2 bp taker slippage; an order must be traded through by 1 bp
COSTS = CostConfig(venue="perp", fill="maker_pessimistic", slippage_bps=2.0, maker_margin_bps=1.0,
                   maker_wait_bars=1)
NAN = np.nan


def _bars(low_a, high_b, open_a=100.5, open_b=49.9, bars=4):
    """Bar 0: the signal (closes A 100, B 50); bar 1: the resting bar; bar 2: the next open."""
    close = np.array([[100.0, 50.0]] * bars)
    opn = np.array([[100.0, 50.0]] * bars)
    opn[2] = [open_a, open_b]
    high = np.array([[100.2, 50.001]] * bars)
    low = np.array([[99.999, 49.8]] * bars)
    low[1, 0] = low_a
    high[1, 1] = high_b
    return opn, high, low, close


def _fill(costs=COSTS, **kw):
    opn, high, low, close = _bars(**kw)
    # buy 1 A at its close 100, sell 2 B at its close 50
    return pair_fill(0, 1.0, -1.0, 1.0, 2.0, opn, high, low, close, costs)


def test_both_legs_traded_through_fill_at_the_limit_as_maker():
    f = _fill(low_a=99.98, high_b=50.01)  # 2 bp below A's limit, 2 bp above B's
    assert f.status == "maker" and (f.bar_a, f.bar_b) == (1, 1)
    assert (f.price_a, f.price_b) == (100.0, 50.0)
    assert f.maker_a and f.maker_b and f.fee_a == f.fee_b == 0.0002 and f.legging_cost == 0.0


def test_a_touch_is_not_a_fill_and_the_order_is_cancelled():
    f = _fill(low_a=99.995, high_b=50.004)  # beyond the limit, but by less than 1 bp
    assert f.status == "cancelled" and (f.bar_a, f.bar_b) == (-1, -1)
    assert np.isnan(f.price_a) and np.isnan(f.price_b) and not (f.maker_a or f.maker_b)


def test_unfilled_order_crosses_at_the_next_open_as_taker():
    f = _fill(COSTS.model_copy(update={"maker_unfilled": "cross"}), low_a=99.995, high_b=50.004)
    assert f.status == "crossed" and (f.bar_a, f.bar_b) == (2, 2)
    assert f.price_a == pytest.approx(100.5 * 1.0002) and f.price_b == pytest.approx(49.9 * 0.9998)
    assert f.fee_a == f.fee_b == 0.0005 and f.legging_cost == 0.0


def test_one_leg_filled_the_other_completed_at_taker_cost_legging():
    f = _fill(low_a=99.98, high_b=50.004)
    assert f.status == "legged" and (f.bar_a, f.bar_b) == (1, 2)
    assert f.price_a == 100.0 and f.maker_a and f.fee_a == 0.0002
    pb = 49.9 * 0.9998  # sell B at the next open, slipped
    assert f.price_b == pytest.approx(pb) and not f.maker_b and f.fee_b == 0.0005
    # 2 B sold at pb instead of 50, taker fee on pb instead of the maker fee on 50
    assert f.legging_cost == pytest.approx(2.0 * (-(pb - 50.0) + 0.0005 * pb - 0.0002 * 50.0))
    # legging happens whatever maker_unfilled says
    g = _fill(COSTS.model_copy(update={"maker_unfilled": "cross"}), low_a=99.98, high_b=50.004)
    assert g == f


def test_wait_bars_and_missing_prices():
    opn, high, low, close = _bars(low_a=99.98, high_b=50.004)
    high[2, 1] = 50.02  # B trades through one bar later
    two = COSTS.model_copy(update={"maker_wait_bars": 2})
    f = pair_fill(0, 1.0, -1.0, 1.0, 2.0, opn, high, low, close, two)
    assert f.status == "maker" and (f.bar_a, f.bar_b) == (1, 2)
    # nothing past t + wait + 1 is read: the same order with the data cut there
    assert pair_fill(0, 1.0, -1.0, 1.0, 2.0, opn[:4], high[:4], low[:4], close[:4], two) == f
    opn2 = opn.copy()
    opn2[2, 1] = NAN  # B stops trading: A is legged in, B cannot be completed
    g = pair_fill(0, 1.0, -1.0, 1.0, 2.0, opn2, high, low, close, COSTS)
    assert g.status == "missing" and g.maker_a and g.bar_b == -1


def test_many_orders_and_summary():
    opn, high, low, close = _bars(low_a=99.98, high_b=50.004, bars=6)
    f = pessimistic_fills(np.array([0, 0, 3]), np.array([0, 0, 0]), np.array([1, 1, 1]),
                          np.array([1.0, -1.0, 1.0]), np.array([-1.0, 1.0, -1.0]),
                          np.ones(3), np.full(3, 2.0), opn, high, low, close, COSTS)
    # order 0: legged as above; order 1 (sell A, buy B): A's high 100.2 >= 100.01 fills, B's
    # low 49.8 <= 49.995 fills; order 2 at bar 3: bar 4 trades neither side beyond -> cancelled
    assert f["status"].tolist() == ["legged", "maker", "cancelled"]
    s = fill_summary(f)
    assert s["fill_rate"] == pytest.approx(3 / 6) and s["legged_share"] == pytest.approx(1 / 3)
    assert s["legging_cost"] == pytest.approx(f["legging_cost"][0])


def test_ledger_repriced_as_pessimistic_maker():
    opn, high, low, close = _bars(low_a=99.98, high_b=50.004, bars=6)
    high[4] = [100.2, 50.2]  # the exit order (sell A, buy B at bar 3's close) fills at bar 4
    low[4] = [99.0, 49.0]
    times = pd.date_range("2024-01-01", periods=6, freq="1h", tz="UTC")
    taker = CostConfig(venue="perp", slippage_bps=2.0)
    ea, eb = 100.0 * 1.0002, 50.0 * 0.9998  # the taker ledger's fills (next open + slippage)
    xa, xb = 100.0 * 0.9998, 50.0 * 1.0002
    fees = 0.0005 * (ea + 2 * eb + xa + 2 * xb)
    pnl_a = (xa - ea) - 0.0005 * (ea + xa)
    pnl_b = 2 * (eb - xb) - 0.0005 * 2 * (eb + xb)
    trades = pd.DataFrame({
        "strategy": ["naive"], "asset_a": ["A/USDT"], "asset_b": ["B/USDT"],
        "signal_time": [times[0]], "exit_signal_time": [times[3]], "side_a": ["long"],
        "side_b": ["short"], "qty_a": [1.0], "qty_b": [2.0], "entry_price_a": [ea],
        "entry_price_b": [eb], "exit_price_a": [xa], "exit_price_b": [xb], "fees": [fees],
        "pnl_a": [pnl_a], "pnl_b": [pnl_b], "pnl": [pnl_a + pnl_b], "notional_a": [100.0],
        "notional_b": [100.0]})
    out, m = reprice_maker_pessimistic(trades, opn, high, low, close, times,
                                       ("A/USDT", "B/USDT"), taker, COSTS)
    pb = 49.9 * 0.9998
    # entry: A maker at 100, B legged at the taker; exit: both maker at bar 3's closes
    assert out["entry_price_a"][0] == 100.0 and out["entry_price_b"][0] == pytest.approx(pb)
    assert out["exit_price_a"][0] == 100.0 and out["exit_price_b"][0] == 50.0
    want_a = (100.0 - 100.0) - 0.0002 * (100.0 + 100.0)
    want_b = 2 * (pb - 50.0) - 2 * (0.0005 * pb + 0.0002 * 50.0)
    assert out["pnl_a"][0] == pytest.approx(want_a) and out["pnl_b"][0] == pytest.approx(want_b)
    assert out["legging_cost"][0] == pytest.approx(2.0 * (-(pb - 50.0) + 0.0005 * pb - 0.01))
    assert m["naive.fill_rate"] == pytest.approx(3 / 4) and m["naive.cancelled"] == 0.0
    assert m["naive.legging_cost"] == pytest.approx(out["legging_cost"][0])
