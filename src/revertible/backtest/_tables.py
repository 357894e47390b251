"""Report tables beyond the headline metrics: statistics, exits, holding, monthly P&L, trades."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from ._engine import BacktestResult

__all__ = ["STATS_METRICS", "stats_table", "exit_table", "monthly_pnl", "trade_list",
           "extra_sections"]  # fmt: skip

STATS_METRICS = (
    ("net_bp_per_trade", "net bp/trade", "f2"),
    ("net_bp_per_trade_ci_low", "90% CI low", "f2"),
    ("net_bp_per_trade_ci_high", "90% CI high", "f2"),
    ("deflated_sharpe", "deflated Sharpe", "f3"),
    ("borrow", "borrow", "f0"), ("rebalances", "rebalances", "int"),
    ("rebalance_cost", "rebal. cost", "f0"),
    ("return_on_margin", "return on margin", "pct"),
    ("leverage_adjusted_sharpe", "Sharpe / leverage", "f2"),
    ("avg_hold_hours", "avg hold (h)", "f1"),
)  # fmt: skip
"""Statistics table columns: (metric, header, format)."""

TRADE_LIST_ROWS = 500
"""The report lists at most this many trades of the first strategy (all are in the ledger)."""


def fmt_cell(value: float, kind: str) -> str:
    """One HTML cell value: ``pct``, ``int`` or ``f<digits>``; a dash when not finite."""
    if value is None or not np.isfinite(value):
        return "&ndash;"
    if kind == "pct":
        return f"{100 * value:.2f}%"
    if kind == "int":
        return f"{int(round(value)):,}"
    return f"{value:,.{int(kind[1:])}f}"


def grid(result: BacktestResult, cols: list[tuple[str, str, str]]) -> str:
    """Strategies x ``cols`` (metric key, header, format) as an HTML table."""
    head = "<th>strategy</th>" + "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in cols)
    rows = []
    for name in result.strategies:
        cells = "".join(
            f"<td>{fmt_cell(result.metrics.get(f'{name}.{k}', float('nan')), f)}</td>"
            for k, _, f in cols
        )
        rows.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    return (f"<table class='metrics'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}"
            "</tbody></table>")  # fmt: skip


def stats_table(result: BacktestResult) -> str:
    """Net bp per trade with its interval, deflated Sharpe, costs, margin, Sharpe by quarter."""
    quarters = sorted({k.split(".", 1)[1] for k in result.metrics
                       if ".sharpe_" in k and k.split(".", 1)[1][7:11].isdigit()})  # fmt: skip
    cols = list(STATS_METRICS) + [(q, q.replace("sharpe_", "Sharpe "), "f2") for q in quarters]
    return grid(result, cols)


def exit_table(result: BacktestResult) -> str:
    """Share of trades by exit reason, per strategy."""
    cols = [(f"exit_{r}", r.replace("_", " "), "pct")
            for r in ("take_profit", "stop", "time", "correlation", "end_of_data")]
    return grid(result, cols)


def monthly_pnl(result: BacktestResult) -> pd.DataFrame:
    """Net P&L by exit month (rows) and strategy (columns)."""
    tr = result.trades
    if len(tr) == 0:
        return pd.DataFrame()
    month = tr["exit_time"].dt.tz_convert(None).dt.to_period("M").astype(str)
    out = tr.assign(month=month).pivot_table(index="month", columns="strategy", values="pnl",
                                             aggfunc="sum", fill_value=0.0)  # fmt: skip
    return out[[s for s in result.strategies if s in out.columns]].reset_index()


def trade_list(result: BacktestResult, strategy: str, rows: int = TRADE_LIST_ROWS) -> pd.DataFrame:
    """The first ``rows`` trades of ``strategy`` with the columns a reader checks first."""
    cols = ["asset_a", "asset_b", "direction", "entry_time", "exit_time", "exit_reason",
            "side_a", "notional_a", "notional_b", "gross_pnl", "fees", "slippage", "funding",
            "borrow", "pnl_a", "pnl_b", "pnl", "net_bp", "rebalances"]  # fmt: skip
    tr = result.trades[result.trades["strategy"] == strategy]
    out = tr[cols].head(rows).copy()
    for c in ("entry_time", "exit_time"):
        out[c] = out[c].dt.strftime("%Y-%m-%d %H:%M")
    return out


def extra_sections(result: BacktestResult, table) -> list[str]:
    """HTML sections of the statistics, exits, holding times, monthly P&L and the trade list.

    ``table`` renders a frame (the report's ``_table``).
    """
    parts = [
        "<h2>Statistics</h2>",
        f"<p class='meta'>Net bp per trade: P&amp;L over gross entry notional, with a day-block "
        f"bootstrap 90% interval (trades grouped by exit day). Deflated Sharpe (Bailey &amp; "
        f"Lopez de Prado 2014, daily returns): probability that the true Sharpe exceeds 0 "
        f"given {result.n_trials} configuration(s) tried. Sharpe / leverage: Sharpe over the "
        f"mean gross leverage; return on margin: P&amp;L over the mean posted margin while "
        f"exposed.</p>",
        stats_table(result),
        "<h2>Exit reasons</h2>", exit_table(result),
    ]
    m = monthly_pnl(result)
    if len(m):
        parts += ["<h2>Monthly P&amp;L (by exit month)</h2>",
                  table(m, dict.fromkeys(m.columns[1:], "f0"))]  # fmt: skip
    if result.strategies:
        first = next((s for s in result.strategies
                      if (result.trades["strategy"] == s).any()), result.strategies[0])
        tl = trade_list(result, first)
        n = int((result.trades["strategy"] == first).sum())
        if len(tl):
            parts += [f"<h2>Trades: {html.escape(first)} ({min(n, len(tl))} of {n}; all in "
                      "trades.parquet)</h2>",
                      table(tl, {"notional_a": "f0", "notional_b": "f0", "gross_pnl": "f2",
                                 "fees": "f2", "slippage": "f2", "funding": "f2",
                                 "borrow": "f2", "pnl_a": "f2", "pnl_b": "f2", "pnl": "f2",
                                 "net_bp": "f1", "rebalances": "int"})]  # fmt: skip
    return parts
