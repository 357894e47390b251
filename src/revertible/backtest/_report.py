"""Backtest report: figures, one self-contained HTML file, and one MLflow run.

The HTML has no external assets: every plot is a base64 PNG inside an ``<img>`` tag, the style
sheet is inline, so the file can be mailed or opened offline. Each plot sits in a
``<figure id="plot-<name>">`` (names in :data:`PLOTS`). Files are written atomically
(:func:`revertible.io.atomic_path`): a failure leaves any previous report untouched.
"""

from __future__ import annotations

import base64
import html
import io
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from ..config import Config, flatten
from ..io import atomic_path, subplots, write_table
from ._engine import STRATEGIES, BacktestResult
from ._metrics import LARGEST_TRADES, MIN_YEARS, per_trade_note
from ._plans import return_decile_table
from ._tables import extra_sections, fmt_cell, grid

if TYPE_CHECKING:
    from ..data import Panel

__all__ = [
    "PLOTS",
    "TABLE_METRICS",
    "Report",
    "best_worst_pairs",
    "build_report",
    "render_images",
    "render_html",
    "metrics_table",
    "write_outputs",
    "log_backtest",
]

PLOTS = {
    "equity": "Equity curves (marked to market at every bar close; dashed: multiplied costs)",
    "drawdown": "Drawdown from the running peak (dashed: multiplied costs)",
    "deciles": "Realised reversion rate against predicted probability, by probability decile",
    "pnl_by_pair": "Net P&L by pair: the best and worst pairs",
    "spread_best": "z-score of the best pair by net P&L with its episodes and trades (markers "
    "at the signal bar's z for entries and the exit-signal bar's z for exits; exits use the "
    "entry's frozen z', the line is the rolling z)",
    "spread_worst": "z-score of the worst pair by net P&L with its episodes and trades (same "
    "rules)",
    "corr_heatmap": "Return correlation at the end of the range (clustered)",
    "book_risk": "Book risk over time: the k-sigma daily loss of the net open book as a share "
    "of equity (k = baskets.shock_sigma), under the trailing covariance (solid) and the worse of "
    "all correlations at baskets.stress_corr or at 0 (dotted: the stress loss); unscaled costs",
}
"""Plot name -> caption, in report order."""

TABLE_METRICS = (
    ("total_return", "total return", "pct"), ("annual_return", "annual return", "pct"),
    ("sharpe", "Sharpe", "f2"), ("sortino", "Sortino", "f2"),
    ("max_drawdown", "max drawdown", "pct"), ("calmar", "Calmar", "f2"),
    ("trades", "trades", "int"), ("win_rate", "win rate", "pct"),
    ("avg_win", "avg win", "f0"), ("avg_loss", "avg loss", "f0"),
    ("fees", "fees", "f0"), ("slippage", "slippage", "f0"), ("funding", "funding", "f0"),
    ("turnover", "turnover", "f1"), ("exposure", "exposure", "pct"),
    ("avg_gross_leverage", "avg gross lev.", "f2"),
    ("hedge_effectiveness", "hedge eff.", "f2"),
    ("book_risk_mean", "book risk (mean)", "pct"), ("stress_loss_max", "stress loss (max)", "pct"),
)  # fmt: skip
"""Metrics table columns: (metric, header, format)."""

_COLORS = {"model": "#1f77b4", "model_revert": "#17becf", "model_fixed_size": "#2ca02c",
           "naive_beta": "#ff7f0e", "naive_continue": "#d62728",
           "naive_1to1": "#7f7f7f"}  # fmt: skip


@dataclass
class Report:
    """Rendered plots (PNG bytes by name) and the HTML document."""

    images: dict[str, bytes]
    html: str


def _base(name: str) -> tuple[str, bool]:
    for base in sorted(STRATEGIES, key=len, reverse=True):
        if name == base:
            return base, False
        if name.startswith(base + "_") and name.endswith("x_costs"):
            return base, True
    return name, False


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _curves(result: BacktestResult, drawdown: bool) -> Any:
    fig, ax = subplots(figsize=(10, 4.2))
    for name in result.strategies:
        base, scaled = _base(name)
        y = result.equity[name]
        if drawdown:
            y = y / y.cummax() - 1.0
        ax.plot(y.index, y.to_numpy(), color=_COLORS.get(base), lw=1.0 if scaled else 1.6,
                ls="--" if scaled else "-", label=name)  # fmt: skip
    ax.set_ylabel("drawdown (fraction of peak)" if drawdown else "equity (quote)")
    ax.set_title("Drawdown" if drawdown else "Equity: model and baselines")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _book_risk(result: BacktestResult) -> Any:
    fig, ax = subplots(figsize=(10, 4.2))
    for name in result.strategies:
        base, scaled = _base(name)
        if scaled or result.book_risk is None or result.stress_loss is None:
            continue
        for frame, ls, lbl in ((result.book_risk, "-", name),
                               (result.stress_loss, ":", f"{name} stress")):  # fmt: skip
            ax.plot(frame.index, 100.0 * frame[name].to_numpy(), color=_COLORS.get(base),
                    lw=1.0, ls=ls, label=lbl)  # fmt: skip
    ax.set_ylabel("k-sigma daily loss (% of equity)")
    ax.set_title("Book risk and stress loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _deciles(result: BacktestResult) -> Any:
    fig, ax = subplots(figsize=(6, 4.5))
    d = result.deciles
    if len(d):
        ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=0.8, label="perfect calibration")
        ax.plot(d["predicted"], d["realised"], marker="o", color=_COLORS["model"],
                label="episodes by probability decile")  # fmt: skip
        for r in d.itertuples(index=False):
            ax.annotate(str(r.decile), (r.predicted, r.realised), fontsize=7,
                        textcoords="offset points", xytext=(4, -8))  # fmt: skip
        lo = float(min(d["predicted"].min(), d["realised"].min(), 0.2))
        hi = float(max(d["predicted"].max(), d["realised"].max(), 0.8))
        ax.set_xlim(lo - 0.05, hi + 0.05)
        ax.set_ylim(lo - 0.05, hi + 0.05)
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no model probabilities in this run", ha="center", va="center")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("realised reversion rate (label)")
    ax.set_title("Realised vs predicted reversion")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _headline(result: BacktestResult) -> str:
    """Return the strategy whose pairs the pair plots show: model if it traded, else naive_beta."""
    counts = result.trades["strategy"].value_counts()
    return "model" if counts.get("model", 0) > 0 else "naive_beta"


def _pair_pnl(result: BacktestResult, strategy: str) -> pd.Series:
    tr = result.trades[result.trades["strategy"] == strategy]
    key = tr["asset_a"].str.split("/").str[0] + "~" + tr["asset_b"].str.split("/").str[0]
    return tr.groupby(key)["pnl"].sum().sort_values()


def best_worst_pairs(result: BacktestResult, strategy: str) -> dict[str, str]:
    """``{"best": key, "worst": key}``: the pairs (``A~B``) with the highest and lowest net P&L.

    Every traded pair counts; the two are the same pair only when one pair was traded.
    """
    pnl = _pair_pnl(result, strategy)
    return {"best": pnl.index[-1], "worst": pnl.index[0]} if len(pnl) else {}


def _pnl_by_pair(result: BacktestResult, top: int = 12) -> Any:
    shown = list(dict.fromkeys([_headline(result), "naive_beta"]))
    fig, axes = subplots(1, len(shown), figsize=(5.5 * len(shown), 6), squeeze=False)
    for ax, strategy in zip(axes[0], shown, strict=True):
        pnl = _pair_pnl(result, strategy)
        sel = pnl if len(pnl) <= 2 * top else pd.concat([pnl.head(top), pnl.tail(top)])
        ax.barh(sel.index, sel.to_numpy(),
                color=np.where(sel.to_numpy() >= 0, "#2a9d8f", "#e76f51"))  # fmt: skip
        ax.set_title(f"{strategy}: {len(pnl)} pairs traded")
        ax.set_xlabel("net P&L (quote)")
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(alpha=0.3, axis="x")
        if not len(pnl):
            ax.text(0.5, 0.5, "no trades", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def _spread(result: BacktestResult, panel: Panel, cfg: Config, which: str) -> Any:
    from ..spread import pair_series

    strategy = _headline(result)
    pnl = _pair_pnl(result, strategy)
    fig, ax = subplots(figsize=(10, 4))
    if not len(pnl):
        ax.text(0.5, 0.5, "no trades", ha="center", va="center", transform=ax.transAxes)
        return fig
    tr = result.trades[result.trades["strategy"] == strategy]
    keys = tr["asset_a"].str.split("/").str[0] + "~" + tr["asset_b"].str.split("/").str[0]
    key = best_worst_pairs(result, strategy)[which]  # by net P&L (ascending: worst first)
    tr = tr[keys == key]
    a, b = tr["asset_a"].iloc[0], tr["asset_b"].iloc[0]
    ia, ib = panel.asset_index(a), panel.asset_index(b)
    sc = cfg.spread
    sr = pair_series(panel.log_close(), np.array([ia]), np.array([ib]), sc.beta_window,
                     sc.z_window, sc.min_obs_frac)  # fmt: skip
    lo, hi = panel.times.searchsorted(result.start), panel.times.searchsorted(result.end, "right")
    times = panel.times[lo:hi]
    z = sr[0, 4, lo:hi]
    ax.plot(times, z, color="#264653", lw=0.7, label="z (rolling hedge ratio, mean, std)")
    lab = cfg.label
    for level, style in ((lab.entry, ":"), (lab.exit, "--"), (lab.stop, "-.")):
        for sgn in (1, -1):
            ax.axhline(sgn * level, color="grey", lw=0.6, ls=style)
    sig = result.signals
    eps = sig[(sig["asset_a"] == a) & (sig["asset_b"] == b)]
    horizon = lab.horizon * panel.freq
    for e in eps.itertuples(index=False):
        end = e.exit_time if pd.notna(e.exit_time) else e.entry_time + horizon
        ax.axvspan(e.entry_time, end, color="#e9c46a", alpha=0.25, lw=0)
    zt = pd.Series(z, index=times)
    ent = zt.reindex(tr["signal_time"]).to_numpy()
    ext = zt.reindex(tr["exit_signal_time"]).to_numpy()
    win = tr["pnl"].to_numpy() > 0
    ax.scatter(tr["entry_time"], ent, marker="^", color="#1d3557", s=30, zorder=3, label="entry")
    ax.scatter(tr["exit_time"][win], ext[win], marker="v", color="#2a9d8f", s=30, zorder=3,
               label="exit (win)")  # fmt: skip
    ax.scatter(tr["exit_time"][~win], ext[~win], marker="v", color="#e63946", s=30, zorder=3,
               label="exit (loss)")  # fmt: skip
    only = " (the only pair traded)" if len(pnl) == 1 else ""
    ax.set_title(f"{which} pair by net P&L for {strategy}{only}: {a} ~ {b}, net P&L "
                 f"{pnl[key]:,.0f} over {len(tr)} trades; shaded: episodes")  # fmt: skip
    ax.set_ylabel("z")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _heatmap(result: BacktestResult, panel: Panel, cfg: Config) -> bytes:
    from ..universe import plot_corr_heatmap

    # only the trailing window matters: correlate the last window (+2 days) of bars, not all
    stop = int(panel.times.searchsorted(result.end, "right"))
    days = cfg.universe.eligibility_window_days + 2
    start = max(0, stop - int(round(pd.Timedelta(days=days) / panel.freq)))
    with tempfile.TemporaryDirectory() as tmp:
        path = plot_corr_heatmap(panel.slice_bars(start, stop), cfg.universe,
                                 Path(tmp) / "corr.png", at=result.end)  # fmt: skip
        return path.read_bytes()


def render_images(result: BacktestResult, panel: Panel, cfg: Config) -> dict[str, bytes]:
    """Every plot of :data:`PLOTS` as PNG bytes."""
    return {
        "equity": _png(_curves(result, drawdown=False)),
        "drawdown": _png(_curves(result, drawdown=True)),
        "deciles": _png(_deciles(result)),
        "pnl_by_pair": _png(_pnl_by_pair(result)),
        "spread_best": _png(_spread(result, panel, cfg, "best")),
        "spread_worst": _png(_spread(result, panel, cfg, "worst")),
        "corr_heatmap": _heatmap(result, panel, cfg),
        "book_risk": _png(_book_risk(result)),
    }


# ----------------------------------------------------------------------------------------------
# HTML


def _table(df: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, row, strict=True):
            if isinstance(v, float | np.floating) and c in formats:
                cells.append(f"<td>{fmt_cell(float(v), formats[c])}</td>")
            elif isinstance(v, float | np.floating):
                cells.append(f"<td>{fmt_cell(float(v), 'f4')}</td>")
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def metrics_table(result: BacktestResult) -> str:
    """Render the strategies x :data:`TABLE_METRICS` table as HTML."""
    return grid(result, list(TABLE_METRICS))


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;
max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}
thead th{background:#f3f3f3}tbody th{text-align:left;background:#fafafa}
figure{margin:12px 0}img{max-width:100%;border:1px solid #eee}
figcaption{font-size:12px;color:#555}.meta{font-size:13px;color:#444}
ul{font-size:13px}code{background:#f5f5f5;padding:0 3px}
"""


def _per_trade_section(result: BacktestResult) -> list[str]:
    """Equal- and stake-weighted per-trade figures side by side, a sentence where they disagree."""
    cols = [("net_bp_per_trade", "bp per trade (each trade once)", "f1"),
            ("net_bp_per_trade_stake_weighted", "bp per trade (weighted by stake)", "f1"),
            ("largest_trades_pnl", f"P&L of the {LARGEST_TRADES} largest trades", "f0"),
            ("largest_trades_pnl_share", "their share of the total P&L", "pct"),
            ("pnl", "total P&L", "f0")]
    notes = [n for n in (per_trade_note(result.metrics, s) for s in result.strategies) if n]
    pairs = []
    for strategy in dict.fromkeys([_headline(result), "naive_beta"]):
        bw = best_worst_pairs(result, strategy)
        if bw:
            pnl = _pair_pnl(result, strategy)
            pairs.append(f"{strategy}: best pair by net P&L {bw['best']} "
                         f"({pnl[bw['best']]:+,.0f}), worst {bw['worst']} "
                         f"({pnl[bw['worst']]:+,.0f})")
    return ["<h2>Per trade: equal- and stake-weighted</h2>",
            "<p class='meta'>The equal-weighted figure averages the trades' net bp, each "
            "counted once; the stake-weighted one is the total P&L over the total entry "
            "notional, what the capital earned per trade. They differ when large and small "
            "trades fare differently.</p>",
            grid(result, cols),
            *(f"<p><b>{html.escape(n)}</b></p>" for n in notes),
            *(f"<p class='meta'>{html.escape(p)}</p>" for p in pairs)]


def render_html(
    result: BacktestResult, images: dict[str, bytes], cfg: Config, panel: Panel,
    run_id: str | None = None,
) -> str:
    """Render the self-contained HTML report (plots embedded as base64 PNG)."""
    e = html.escape
    c, s, bt = cfg.costs, cfg.sizing, cfg.backtest
    meta = [
        f"config <code>{e(cfg.name)}</code>, mode <b>{e(result.mode)}</b>"
        + (f", model <code>{e(result.model_uri)}</code>" if result.model_uri else ""),
        f"range {result.start:%Y-%m-%d %H:%M} to {result.end:%Y-%m-%d %H:%M} UTC; "
        f"{int(result.metrics.get('signals.count', 0)):,} divergences "
        f"({int(result.metrics.get('signals.scored', 0)):,} scored)",
        f"data {e(str(panel.source))} ({panel.n_assets} assets, {panel.n_bars} bars, "
        f"fingerprint {panel.fingerprint()})" + (f"; MLflow run <code>{e(run_id)}</code>"
                                                  if run_id else ""),
    ]  # fmt: skip
    assumptions = [
        "Signal at the close of the entry bar, sized against equity marked at that close; both "
        "legs fill at the next bar's open.",
        f"Exits on bar closes with the entry's frozen beta/mean/std: take-profit z' &le; "
        f"{cfg.label.exit}, stop z' &ge; {cfg.label.stop}, |{bt.corr_exit_days}-day corr| &lt; "
        f"{s.min_abs_corr_exit}, time stop at entry + {cfg.label.horizon} bars; the exit fills "
        "at the next bar's open.",
        f"Costs: venue <b>{c.venue}</b>, <b>{c.fill}</b> fills: fee {100 * c.fee:.3f}% per "
        f"leg per side, slippage {1e4 * c.slippage:g} bp per fill"
        + (" (maker: an optimistic assumption, filled at the next open with no slippage and "
           "no adverse selection)" if c.fill == "maker" else "")
        + (f" (pessimistic maker: resting at the signal close, filled only when a later bar "
           f"trades {c.maker_margin_bps:g} bp beyond it within {c.maker_wait_bars} bar(s), else "
           f"{c.maker_unfilled}; a legged-in order completes at the taker)"
           if c.fill == "maker_pessimistic" else "")
        + "; funding "
        + ("on perpetual legs at every funding time held (opened before, closed after)"
           if c.perpetual else
           f"none (spot legs); spot shorts pay {100 * c.borrow_rate_daily:.3f}% a day borrow, "
           "pro rata per bar")
        + ". <code>_2x_costs</code> and other multipliers scale fees and slippage."
        + (f" Drift rebalancing of leg B at {100 * bt.rebalance_drift:.2f}% drift."
           if bt.rebalance_drift else ""),
        f"Book: capital {s.capital:,.0f}, buffer {100 * s.buffer:.0f}%, gross leverage &le; "
        f"{s.max_gross_leverage:g}x of the unbuffered equity, per-asset net &le; "
        f"{s.max_asset_net_exposure:g}x equity, at most {bt.max_concurrent} positions; fixed "
        f"size and per-trade cap {100 * s.trade_cap_frac:g}% of equity per leg A.",
        "Decision: a direction only where the lower "
        f"{100 * cfg.decision.confidence:g}% bound of its calibrated net return (held-out "
        "record, after the round trip and expected carry) is above 0; stake fractional Kelly "
        f"({s.kelly_fraction:g}) on that bound. Within a bar the model strategies take signals "
        "by descending lower bound, the naive ones in a seeded random order "
        f"(backtest.seed={bt.seed}), never name order.",
        "max drawdown &le; 0 (fraction of the running peak); Sharpe and Sortino from bar returns "
        "annualised by &radic;(bars per year); turnover is traded notional / mean equity.",
    ]  # fmt: skip
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>revertible backtest: {e(cfg.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Backtest: {e(cfg.name)}</h1>",
        "".join(f"<p class='meta'>{m}</p>" for m in meta),
        "<h2>Metrics</h2>",
        metrics_table(result),
    ]
    years = (result.end - result.start) / pd.Timedelta(days=365)
    if years < MIN_YEARS:
        parts.append(f"<p class='meta'>No annual return or Calmar: the range is {years:.2f} "
                     "years, and compounding less than a year of returns to a year invents a "
                     "number nobody earned.</p>")
    parts += _per_trade_section(result)
    if result.notes:
        parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in result.notes) + "</ul>")
    for name, caption in PLOTS.items():
        if name not in images:
            continue
        data = base64.b64encode(images[name]).decode("ascii")
        parts.append(
            f"<h2>{e(caption.split(':')[0].split(' (')[0])}</h2>"
            f"<figure id='plot-{name}'><img alt='{e(name)}' "
            f"src='data:image/png;base64,{data}'><figcaption>{e(caption)}</figcaption></figure>"
        )
    parts += extra_sections(result, _table)
    if len(result.deciles):
        parts += ["<h2>Reversion by probability decile</h2>",
                  _table(result.deciles, {"predicted": "f3", "realised": "f3"})]  # fmt: skip
    ret = return_decile_table(result.metrics)
    if len(ret):
        parts += ["<h2>Expected vs realised net return by decile (bp per trade)</h2>",
                  _table(ret, {c: "f1" for c in ret.columns if c != "decile"})]  # fmt: skip
    if len(result.blocks):
        parts += ["<h2>Walk-forward models</h2>", _table(result.blocks, {"cv_roc_auc": "f3"})]
    parts += ["<h2>Assumptions</h2><ul>",
              "".join(f"<li>{a}</li>" for a in assumptions), "</ul></body></html>"]  # fmt: skip
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------
# outputs and tracking


def build_report(
    result: BacktestResult, panel: Panel, cfg: Config, run_id: str | None = None
) -> Report:
    """Render the plots and the HTML."""
    images = render_images(result, panel, cfg)
    return Report(images, render_html(result, images, cfg, panel, run_id))


def write_outputs(report: Report, result: BacktestResult, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.html``, ``trades.parquet`` and ``equity.parquet`` into ``out_dir``.

    The folder is created if missing; each file is written atomically.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / "report.html", "trades": out / "trades.parquet",
             "equity": out / "equity.parquet"}  # fmt: skip
    write_table(result.trades, paths["trades"])
    write_table(result.equity.rename_axis("time").reset_index(), paths["equity"])
    with atomic_path(paths["report"]) as tmp:
        tmp.write_text(report.html, encoding="utf-8")
    return paths


def log_backtest(
    tracker: Any,
    result: BacktestResult,
    cfg: Config,
    panel: Panel,
    *,
    config_path: str | Path | None = None,
    out_dir: str | Path | None = None,
) -> tuple[str, str, dict[str, Path]]:
    """Log the backtest as one MLflow run and write the outputs.

    Returns the run id, the run's artifact URI and the written paths (empty without
    ``out_dir``). The HTML names the run; the outputs are written inside the run, so a failure
    marks the run failed. The metrics and the stage times (``time.<stage>_s``, ``_cpu_s``) are
    logged first; the images, HTML, output files and artifacts after them. All of it is timed
    as the ``report`` stage (added to ``result.timings``, logged last as ``time.report_s`` and
    ``time.report_cpu_s``).
    """
    import mlflow

    t0, c0 = time.perf_counter(), time.process_time()  # the "report" stage: all of this
    tags = {"kind": "backtest", "backtest.mode": result.mode,
            "data_fingerprint": panel.fingerprint(), "data_source": str(panel.source),
            "config_name": cfg.name, "range_start": str(result.start),
            "range_end": str(result.end)}  # fmt: skip
    if result.model_uri:
        tags["model_uri"] = result.model_uri
    from ..tracking import run_label

    name = run_label(cfg, "backtest", extra=result.mode.replace("_", "-"))
    with tracker.run(run_name=name, tags=tags) as run:
        tracker.log_dataset(panel, "backtest")
        run_id = run.info.run_id
        tracker.log_params(flatten(cfg))
        raw = Path(config_path).read_text() if config_path else ""
        tracker.log_text(raw or yaml.safe_dump(cfg.model_dump(mode="json")), "config.yaml")
        tracker.log_metrics(result.metrics)
        tracker.log_metrics({f"time.{k}": v for k, v in result.timings.items()})
        report = build_report(result, panel, cfg, run_id)
        paths = write_outputs(report, result, out_dir) if out_dir is not None else {}
        with tempfile.TemporaryDirectory() as tmp:
            plots = Path(tmp) / "plots"
            plots.mkdir()
            for key, png in report.images.items():
                (plots / f"{key}.png").write_bytes(png)
            mlflow.log_artifacts(str(plots), "plots")
            data = Path(tmp) / "data"
            data.mkdir()
            result.trades.to_parquet(data / "trades.parquet", index=False)
            result.equity.rename_axis("time").reset_index().to_parquet(data / "equity.parquet",
                                                                        index=False)
            if len(result.blocks):
                result.blocks.to_csv(data / "walk_forward_blocks.csv", index=False)
            mlflow.log_artifacts(str(data))
        tracker.log_text(report.html, "report.html")
        result.timings["report_s"] = time.perf_counter() - t0
        result.timings["report_cpu_s"] = time.process_time() - c0
        tracker.log_metrics({f"time.{k}": result.timings[k] for k in ("report_s", "report_cpu_s")})
        artifact_uri = run.info.artifact_uri
    return run_id, artifact_uri, paths
