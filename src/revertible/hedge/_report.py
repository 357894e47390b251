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
    ax.set_ylabel("value (quote)")
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


def _table(rows: dict[str, Any]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return "nan" if not np.isfinite(v) else f"{v:,.6g}"
        return html.escape(str(v))

    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{fmt(v)}</td></tr>" for k, v in rows.items())
    return f"<table>{body}</table>"


def render_hedge_html(title: str, bars: pd.DataFrame, plan: dict[str, Any],
                      metrics: dict[str, float]) -> str:
    """The page as a string."""
    figs = hedge_figures(bars, title)
    imgs = "".join(
        f'<figure id="plot-{name}"><img alt="{name}" src="data:image/png;base64,{_png(fig)}">'
        "</figure>" for name, fig in figs.items()
    )
    style = ("body{font-family:sans-serif;max-width:960px;margin:2em auto}"
             "table{border-collapse:collapse;margin:1em 0}th,td{padding:2px 10px;"
             "border-bottom:1px solid #ddd;text-align:left}td{font-family:monospace}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
            f"<h2>Plan at the last bar</h2>{_table(plan)}<h2>Replay</h2>{_table(metrics)}"
            f"{imgs}</body></html>")


def write_hedge_html(path: str | Path, title: str, bars: pd.DataFrame, plan: dict[str, Any],
                     metrics: dict[str, float]) -> Path:
    """Write the page atomically; returns the path."""
    path = Path(path)
    text = render_hedge_html(title, bars, plan, metrics)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path
