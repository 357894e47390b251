"""The hedge page: one self-contained HTML file (base64 PNGs, inline style), written atomically.

Each plot sits in a ``<figure id="plot-<name>">`` with names in :data:`PLOTS`.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..io import atomic_path, subplots

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PLOTS", "hedge_figures", "render_hedge_html", "write_hedge_html"]

PLOTS = ("equity", "funding", "basis")


def _equity(bars: pd.DataFrame, title: str) -> Any:
    fig, ax = subplots(figsize=(9, 3.6))
    ax.plot(bars.index, bars["unhedged_equity"], label="holding alone", lw=1)
    ax.plot(bars.index, bars["hedged_equity"], label="hedged book", lw=1)
    liq = bars.index[bars["liquidation_loss"] > 0]
    for t in liq:
        ax.axvline(t, color="red", lw=0.8, ls="--")
    ax.set_title(title)
    ax.set_ylabel("value (quote currency)")
    ax.legend(loc="best")
    fig.tight_layout()
    return fig


def _funding(bars: pd.DataFrame) -> Any:
    fig, ax = subplots(figsize=(9, 3.0))
    ev = bars["funding_rate"].dropna()
    ax.bar(ev.index, 1e4 * ev.to_numpy(), width=0.3, color="tab:green")
    ax.set_ylabel("funding rate (bp / settlement)")
    ax2 = ax.twinx()
    ax2.plot(bars.index, bars["funding"].cumsum(), color="black", lw=1)
    ax2.set_ylabel("cumulative funding received")
    ax.set_title("funding (positive: the short receives)")
    fig.tight_layout()
    return fig


def _basis(bars: pd.DataFrame) -> Any:
    fig, ax = subplots(figsize=(9, 3.0))
    spot = bars["perp_close"] - bars["basis"]
    ax.plot(bars.index, 1e4 * bars["basis"] / spot, lw=0.7)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_ylabel("basis (bp of spot)")
    ax.set_title("basis: perpetual close - spot close")
    fig.tight_layout()
    return fig


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def hedge_figures(bars: pd.DataFrame, title: str) -> dict[str, Any]:
    """The matplotlib figures, by :data:`PLOTS` name (the caller logs or saves them)."""
    return {"equity": _equity(bars, title), "funding": _funding(bars), "basis": _basis(bars)}


def _fmt(v: Any, unit: str) -> str:
    if isinstance(v, str):
        return html.escape(v)
    if v is None or not np.isfinite(v):
        return "n/a"
    if unit == "%":
        return f"{100 * v:,.2f}%"
    if unit == "bp":
        return f"{v:,.2f} bp"
    if unit == "x":
        return f"{v:,.2f}x"
    if unit == "f3":
        return f"{v:.3f}"
    if unit == "qty":
        return f"{v:,.6g}"
    if unit == "log%":
        return f"{100 * v:+,.1f}% (log)"
    if unit == "int":
        return f"{int(v):,d}"
    if unit == "price":
        return f"{v:,.2f}"
    return f"{v:,.2f} {html.escape(unit)}".rstrip()


def _rows(rows: list[tuple[str, Any, str, str]]) -> str:
    """``(label, value, unit, explanation)`` rows as a three-column table."""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v, u)}</td>"
                   f"<td class='why'>{html.escape(why)}</td></tr>" for k, v, u, why in rows)
    return f"<table>{body}</table>"


def _side_by_side(m: dict[str, float], quote: str) -> str:
    rows = [("annualised volatility", "volatility", "%",
             "std of the hourly returns of the value, times sqrt(bars per year)"),
            ("max drawdown", "max_drawdown", "%", "largest fall from a running high"),
            ("return over the range", "return", "%", "on the holding's starting value")]
    body = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{_fmt(m[f'unhedged.{k}'], u)}</td>"
        f"<td>{_fmt(m[f'hedged.{k}'], u)}</td><td class='why'>{html.escape(why)}</td></tr>"
        for label, k, u, why in rows)
    return ("<table><tr><th></th><th>holding alone</th><th>hedged</th><th></th></tr>"
            f"{body}</table>")


def _sweep_table(sweep: pd.DataFrame, quote: str) -> str:
    head = ("<tr><th>leverage</th><th>liquidations</th><th>first liquidation (UTC)</th>"
            "<th>hedged share of bars</th><th>hedged volatility</th>"
            f"<th>funding paid ({quote})</th><th>top-up collateral ({quote})</th>"
            "<th>margin calls</th></tr>")
    body = "".join(
        f"<tr><td>{r.leverage:g}x</td><td>{int(r.liquidations)}</td>"
        f"<td>{html.escape(r.first_liquidation) or '-'}</td><td>{_fmt(r.hedged_share, '%')}</td>"
        f"<td>{_fmt(r.hedged_volatility, '%')}</td><td>{_fmt(r.funding_paid, '')}</td>"
        f"<td>{_fmt(r.top_up_collateral, '')}</td><td>{int(r.margin_calls)}</td></tr>"
        for r in sweep.itertuples())
    return f"<table>{head}{body}</table>"


def render_hedge_html(title: str, bars: pd.DataFrame, plan: dict[str, Any],
                      metrics: dict[str, float], sweep: pd.DataFrame | None = None,
                      verdict: str = "") -> str:
    """The page as a string: headline verdict, result, costs, leverage sweep, plan, plots."""
    figs = hedge_figures(bars, title)
    captions = {
        "equity": "Value of the holding alone and of the hedged book (holding + short + margin "
                  "P&L), in the quote currency; red dashes mark liquidations.",
        "funding": "Funding rate per settlement (bars, bp) and the funding the short received in "
                   "total (line; it falls when the short pays).",
        "basis": "Perpetual minus spot, in bp of spot: the part of the price move the hedge "
                 "does not cancel.",
    }
    imgs = "".join(
        f'<figure id="plot-{name}"><img alt="{name}" src="data:image/png;base64,{_png(fig)}">'
        f"<figcaption>{html.escape(captions[name])}</figcaption></figure>"
        for name, fig in figs.items()
    )
    quote = str(plan.get("asset", "/USDT")).split("/")[-1] or "USDT"
    m, p = metrics, plan
    costs = _rows([
        ("funding paid", m["funding_paid"], quote, "net funding paid by the short; negative: "
                                                    "received (a short is paid when funding is "
                                                    "positive)"),
        ("basis P&L", m["basis_pnl"], quote, "the short's P&L from the perp-minus-spot change"),
        ("fees", m["fees"], quote, "taker fee + slippage on every perp fill"),
        ("liquidation loss", m["liquidation_loss"], quote,
         "maintenance margin lost in liquidations (the price move itself is in the perp P&L)"),
        ("perp P&L", m["perp_pnl"], quote, "the short's price P&L; it offsets the spot P&L"),
        ("spot P&L", m["spot_pnl"], quote, "the holding's price P&L"),
        ("liquidations", m["liquidations"], "int", "times the bar's high reached the "
                                                   "liquidation price"),
        ("re-opened", m.get("reopens", 0.0), "int", "re-opens after a liquidation"),
        ("margin calls", m.get("margin_calls", 0.0), "int",
         "closes at which the liquidation price was within the margin-call distance"),
        ("collateral posted", m.get("collateral_posted", float("nan")), quote,
         "peak capital in the margin account: deposits (opening, re-opening, resizing up, "
         "topping up) less withdrawals (resizing down)"),
        ("collateral added", m.get("collateral_added", float("nan")), quote,
         "that peak less the opening margin: what the policy cost in extra capital"),
        ("hedged share of bars", m["hedged_bars"], "%", "bars with the short on"),
        ("hedge effectiveness", m["hedge_effectiveness"], "f3",
         "1 - variance of the hedged hourly P&L / variance of the holding's (1: all removed)"),
        ("bars", m["bars"], "int", "hourly bars in the range"),
    ])
    plan_rows = _rows([
        ("time", p["at"], "", "the plan uses bars up to this one"),
        ("short", p["contracts"], "qty", f"contracts of {p['perp']} (beta {p['beta']:.3f})"),
        ("notional", p["notional"], quote, "contracts x perpetual price"),
        ("leverage", p["leverage"], "x", "set by the leverage rule (hedge.leverage unset)"
         if p.get("leverage_rule") == "rule" else "hedge.leverage, as configured"),
        ("initial margin", p["initial_margin"], quote, "notional / leverage"),
        ("maintenance margin", p["maintenance_margin"], quote, "liquidation when equity falls "
                                                               "to it"),
        ("liquidation price", p["liquidation_price"], "price", "perpetual price at which the "
                                                               "short is liquidated"),
        ("liquidation distance", p["liquidation_distance"], "log%", "how far the price must "
                                                                     "rise to reach it"),
        ("in holding-period sigmas", p["liquidation_sigmas"], "",
         f"that distance over sigma x sqrt({int(p['holding_bars'])} bars)"),
        ("worst rally", p.get("worst_rally", float("nan")), "log%",
         f"largest log rise over {int(p['holding_bars'])} bars in the history so far"),
        ("required distance", p["required_distance"], "log%",
         "the rule: the larger of the worst rally and hedge.liquidation_sigmas holding sigmas"),
        ("collateral to keep", p["collateral"], quote, "margin that puts liquidation the "
                                                        "required distance away"),
        ("basis", p["basis_bp"], "bp", "perpetual minus spot"),
        ("funding rate", 1e4 * p["funding_rate"], "bp", f"per settlement (every "
                                                        f"{p.get('settlement_hours', 8):g} h)"),
        ("funding paid per day", p["funding_paid_per_day"], quote,
         "at the current rate; negative: received"),
        ("unwind rule", p.get("rule", ""), "", f"on a margin call: {p.get('on_margin_call', '')}"),
    ])
    sweep_html = ""
    if sweep is not None:
        sweep_html = (
            "<h2>Leverage sweep</h2><p>The same hedge at fixed leverages. Liquidations, hedged "
            "share, volatility and funding are without any top-up (on_margin_call: stop); the "
            "top-up column is the collateral on_margin_call: top_up adds at its margin calls "
            "(the liquidation price within hedge.margin_call_sigmas sigmas), whether or not a "
            f"liquidation would have followed.</p>{_sweep_table(sweep, quote)}")
    raw = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v, '')}</td></tr>"
                  for k, v in metrics.items())
    style = ("body{font-family:sans-serif;max-width:980px;margin:2em auto;line-height:1.4}"
             "table{border-collapse:collapse;margin:1em 0}th,td{padding:3px 10px;"
             "border-bottom:1px solid #ddd;text-align:left}td{font-family:monospace}"
             "td.why{font-family:sans-serif;color:#555;font-size:90%}"
             ".verdict{font-size:115%;padding:.6em;border-left:5px solid #888;background:#f6f6f6}"
             "figcaption{color:#555;font-size:90%}")
    intro = (
        f"<p>You hold {p['quantity']:g} {html.escape(p['asset'])} (worth "
        f"{p['holding_value']:,.2f} {quote} at the last bar). A short perpetual of the same "
        "notional makes money when the price falls and loses when it rises, so the two together "
        "move little. The short needs margin: a rally eats it, and at the liquidation price the "
        "exchange closes the short. The replay below fills each decision at the next bar's "
        "open, charges funding, fees and slippage, and liquidates from the bar's high. All "
        f"amounts are in {quote}; rates per year unless said.</p>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<p class='verdict'><b>{html.escape(verdict)}</b></p>{intro}"
            f"<h2>Result</h2>{_side_by_side(m, quote)}<h2>Costs, carry and margin</h2>{costs}"
            f"{sweep_html}<h2>The hedge to put on now (plan at the last bar)</h2>{plan_rows}"
            f"<h2>Charts</h2>{imgs}<details><summary>All metrics (as logged to MLflow)"
            f"</summary><table>{raw}</table></details></body></html>")


def write_hedge_html(path: str | Path, title: str, bars: pd.DataFrame, plan: dict[str, Any],
                     metrics: dict[str, float], sweep: pd.DataFrame | None = None,
                     verdict: str = "") -> Path:
    """Write the page atomically; returns the path."""
    path = Path(path)
    text = render_hedge_html(title, bars, plan, metrics, sweep, verdict)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path
