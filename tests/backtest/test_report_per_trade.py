"""The backtest report reads right: best/worst pair by P&L, per trade two ways, no short annual."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from revertible.backtest import (
    best_worst_pairs,
    per_trade_note,
    performance_metrics,
    stake_metrics,
    strategy_metrics,
)


def _trades(rows: list[tuple[str, str, float, float]], strategy: str = "model") -> pd.DataFrame:
    """Ledger rows ``(asset_a, asset_b, stake, pnl)``; the stake split evenly over the legs."""
    df = pd.DataFrame(rows, columns=["asset_a", "asset_b", "stake", "pnl"])
    df["strategy"] = strategy
    df["notional_a"] = df["notional_b"] = df["stake"] / 2
    df["net_bp"] = 1e4 * df["pnl"] / df["stake"]
    return df


def test_no_annual_return_over_less_than_a_year():
    hourly = 24 * 365
    six_weeks = 100 * np.exp(np.linspace(0, np.log(0.733), 24 * 42))  # -26.7% in six weeks
    m = performance_metrics(six_weeks, hourly, min_years=1.0)
    assert m["total_return"] == pytest.approx(-0.267, abs=1e-3)
    assert math.isnan(m["annual_return"]) and math.isnan(m["calmar"])
    assert m["max_drawdown"] < 0
    # the default keeps the old extrapolation for callers that ask for it
    assert performance_metrics(six_weeks, hourly)["annual_return"] < -0.9
    two_years = 100 * np.exp(np.linspace(0, np.log(1.21), 2 * hourly + 1))
    m2 = performance_metrics(two_years, hourly, min_years=1.0)
    assert m2["annual_return"] == pytest.approx(0.10, rel=1e-6)


def test_stake_weighted_per_trade_and_largest_trades():
    small = [("A/USDT", "B/USDT", 1_000.0, 5.0)] * 30  # +50 bp each
    big = [("C/USDT", "D/USDT", 100_000.0, -1_000.0)] * 2  # -100 bp each, most of the capital
    tr = _trades(small + big)
    m = stake_metrics(tr, largest=2)
    stake = 30 * 1_000.0 + 2 * 100_000.0
    assert m["net_bp_per_trade_stake_weighted"] == pytest.approx(1e4 * (150 - 2_000) / stake)
    assert m["largest_trades_pnl"] == pytest.approx(-2_000.0)
    assert m["largest_trades_pnl_share"] == pytest.approx(-2_000.0 / (150 - 2_000))
    assert math.isnan(stake_metrics(tr.iloc[:0])["net_bp_per_trade_stake_weighted"])


def test_a_sentence_only_when_the_two_per_trade_figures_disagree():
    metrics = {"model.net_bp_per_trade": 1.0, "model.net_bp_per_trade_stake_weighted": -35.0,
               "model.trades": 400.0, "model.largest_trades_pnl": -17_000.0,
               "model.largest_trades_pnl_share": 0.64}
    text = per_trade_note(metrics, "model")
    assert "+1.0 bp per trade" in text and "-35.0 bp weighted by stake" in text
    assert "larger trades did worse" in text and "20 largest trades lost 17,000 (64%" in text
    close = dict(metrics, **{"model.net_bp_per_trade_stake_weighted": 1.5})
    assert per_trade_note(close, "model") == ""
    assert per_trade_note({}, "model") == ""


def test_best_and_worst_pair_are_by_pnl_not_by_how_often_traded():
    rows = ([("FIDA/USDT", "STRK/USDT", 1_000.0, -486.3)] * 6          # often, losing
            + [("BOME/USDT", "LDO/USDT", 10_000.0, 2_302.5)] * 2       # twice, the best
            + [("X/USDT", "Y/USDT", 1_000.0, 10.0)] * 7)
    result = SimpleNamespace(trades=_trades(rows))
    bw = best_worst_pairs(result, "model")
    assert bw == {"best": "BOME~LDO", "worst": "FIDA~STRK"}
    one = SimpleNamespace(trades=_trades(rows[:6]))
    assert best_worst_pairs(one, "model") == {"best": "FIDA~STRK", "worst": "FIDA~STRK"}


def test_report_section_shows_both_figures_the_sentence_and_the_pairs():
    from revertible.backtest._report import _per_trade_section

    rows = ([("A/USDT", "B/USDT", 1_000.0, 5.0)] * 30
            + [("C/USDT", "D/USDT", 100_000.0, -1_000.0)] * 25)
    tr = _trades(rows)
    metrics = {f"model.{k}": v for k, v in stake_metrics(tr).items()}
    metrics.update({"model.net_bp_per_trade": float(tr["net_bp"].mean()),
                    "model.trades": float(len(tr)), "model.pnl": float(tr["pnl"].sum())})
    result = SimpleNamespace(trades=tr, metrics=metrics, strategies=["model"])
    html = "\n".join(_per_trade_section(result))
    assert "weighted by stake" in html and "each trade once" in html
    assert "larger trades did worse" in html
    assert "best pair by net P&amp;L A~B" in html and "worst C~D" in html


def test_strategy_metrics_carry_the_stake_weighted_figure():
    from revertible.config import config_from_mapping

    cfg = config_from_mapping({"data": {"path": "/tmp"}})
    times = pd.date_range("2024-01-01", periods=24 * 10, freq="1h", tz="UTC")
    eq = pd.Series(np.linspace(10_000, 10_100, times.size), index=times)
    tr = _trades([("A/USDT", "B/USDT", 1_000.0, 5.0), ("C/USDT", "D/USDT", 9_000.0, -9.0)])
    tr["fees"] = tr["slippage"] = tr["funding"] = tr["borrow"] = 0.0
    tr["rebalances"] = tr["rebalance_cost"] = 0.0
    tr["qty_a"] = tr["qty_b"] = 1.0
    for c in ("entry_price_a", "entry_price_b", "exit_price_a", "exit_price_b"):
        tr[c] = 1.0
    tr["exit_reason"] = "time"
    tr["entry_time"] = times[[1, 5]]
    tr["exit_time"] = times[[3, 9]]
    m = strategy_metrics(eq, pd.Series(0.0, index=times), np.zeros(times.size), tr,
                         np.zeros(5), 24 * 365, 1, cfg)
    assert m["net_bp_per_trade_stake_weighted"] == pytest.approx(1e4 * (5 - 9) / 10_000)
    assert math.isnan(m["annual_return"])  # ten days
