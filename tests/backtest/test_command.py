"""The backtest summary a person reads: columns, formats, missing values."""

from __future__ import annotations


def test_backtest_summary_is_for_people():
    from revertible.backtest import backtest_summary

    m = {"model.trades": 1234.0, "model.net_bp_per_trade": 12.345,
         "model.net_bp_per_trade_ci_low": -1.04, "model.net_bp_per_trade_ci_high": 25.0,
         "model.sharpe": 1.234, "model.max_drawdown": -0.0456, "model.total_return": 0.1234,
         "model.deflated_sharpe": 0.912, "naive_beta.trades": 0.0,
         "naive_beta.sharpe": float("nan")}
    lines = backtest_summary(m, ["model", "naive_beta"]).splitlines()
    assert lines[0].split()[:3] == ["strategy", "trades", "net"]
    for header in ("net bp/trade [90% CI]", "Sharpe", "max DD", "total return",
                   "deflated Sharpe"):
        assert header in lines[0]
    row = lines[1]
    for cell in ("1,234", "+12.3 [-1.0, +25.0]", "1.23", "-4.6%", "+12.3%", "0.91"):
        assert cell in row, (cell, row)
    assert lines[2].split()[:3] == ["naive_beta", "0", "-"], "missing values print as -"
    assert "nan" not in "\n".join(lines)


def test_backtest_summary_of_one_days_trades_says_there_is_no_interval():
    from revertible.backtest import backtest_summary

    # every trade exited on one day: the day-block bootstrap has one block, no interval;
    # the cell printed "+7.5 [-, -]"
    m = {"model.trades": 3.0, "model.net_bp_per_trade": 7.5,
         "model.net_bp_per_trade_ci_low": float("nan"),
         "model.net_bp_per_trade_ci_high": float("nan")}
    assert "+7.5 [no CI: one day]" in backtest_summary(m, ["model"]).splitlines()[1]
