"""The monitor's outputs: a reliability figure, a self-contained HTML page, an MLflow run.

With ``--ledger`` the state carries the paper ledger's P&L (``state["ledger"]``, from
:func:`revertible.workflows.ledger_pnl`): its numbers join the metrics (``ledger.*``), the page
gets a section with the cumulative realised P&L, and the run a ``monitor/ledger.json``.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np
import pandas as pd

from ..io import strict_json
from ._core import MIN_BLOCKS, weekly_calibration

__all__ = ["reliability_figure", "html_page", "flat_metrics", "log_run", "ledger_metrics",
           "ledger_json", "ledger_figure", "calibration_history_figure", "power_note"]


def reliability_figure(y: np.ndarray, p: np.ndarray, n_bins: int = 10):
    """Reliability diagram of the resolved live labels (equal-frequency bins) and a histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, axh) = plt.subplots(2, 1, figsize=(5.5, 6.5), height_ratios=[3, 1], sharex=True)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="perfect")
    if len(p):
        order = np.argsort(p, kind="stable")
        bins = [b for b in np.array_split(order, min(n_bins, len(p))) if len(b)]
        ax.plot([p[b].mean() for b in bins], [y[b].mean() for b in bins], marker="o",
                label=f"live ({len(p)} labels)")
        axh.hist(p, bins=20, range=(0, 1), alpha=0.6)
    ax.set_ylabel("observed reversion rate")
    ax.set_title("Live reliability")
    ax.legend(fontsize=8)
    axh.set_xlabel("predicted probability")
    axh.set_ylabel("labels")
    fig.tight_layout()
    return fig


def calibration_history_figure(weeks: pd.DataFrame, cusum: pd.Series,
                               threshold: float | None):
    """Calibration over time: each week's realised vs predicted rate, and the CUSUM's path.

    ``weeks`` is :func:`weekly_calibration`; its band is two standard deviations of a week's
    rate where the model holds. ``cusum`` is the sequential test's path by resolution time
    (empty when the test is off), with its alert level ``threshold``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, axc) = plt.subplots(2, 1, figsize=(6.5, 5.2), height_ratios=[3, 2], sharex=True)
    if len(weeks):
        w = weeks["week"] + pd.Timedelta(days=3.5)  # mid-week
        ax.fill_between(w, (weeks["predicted"] - weeks["band"]).clip(0, 1),
                        (weeks["predicted"] + weeks["band"]).clip(0, 1), color="grey", alpha=0.25,
                        step="mid", label="predicted +/- 2 sd")
        ax.step(w, weeks["predicted"], where="mid", color="grey", lw=1)
        ax.plot(w, weeks["realised"], marker="o", ls="", label="realised")
        ax.legend(fontsize=8)
    ax.set_ylabel("reversion rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Calibration by week of resolution", fontsize=10)
    if len(cusum):
        axc.step(cusum.index, cusum.to_numpy(), where="post", lw=1, label="CUSUM")
        if threshold is not None:
            axc.axhline(threshold, color="#b00", lw=0.8, ls="--",
                        label=f"alert at {threshold:.2f}")
        axc.legend(fontsize=8)
    else:
        axc.text(0.5, 0.5, "sequential test off or no label yet", ha="center",
                 va="center", transform=axc.transAxes)
    axc.set_ylabel("sequential test")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def flat_metrics(state: dict[str, Any]) -> dict[str, float]:
    """The numbers of a monitor state, flat (``live.roc_auc``, ``window.all.z``, ``psi.x``...)."""
    out: dict[str, float] = {"n_scored": state["n_scored"], "n_resolved": state["n_resolved"],
                             "base_rate_live": state["base_rate_live"],
                             "base_rate_reference": state["base_rate_reference"],
                             "design_effect": state.get("design_effect", 1.0),
                             "detectable_drop": state.get("detectable_drop", float("nan")),
                             "alerts": float(len(state["alerts"]))}
    out.update({f"live.{k}": float(v) for k, v in state["metrics"].items()})
    for name, h in state["window"].items():
        out.update({f"window.{name}.{k}": float(v) for k, v in h.items()})
    if "cusum" in state:
        c = state["cusum"]
        out.update({"cusum.value": float(c["value"]), "cusum.n": float(c["n"]),
                    # the level it alerts at (NaN: off) and, drawn, what it was drawn for
                    "cusum.limit": float("nan") if c.get("limit") is None else float(c["limit"]),
                    "cusum.labels_per_period": float(c.get("limit_labels_per_period",
                                                           float("nan"))),
                    "cusum.calibration_error": float(c.get("limit_calibration_error",
                                                           float("nan")))})
    out.update({f"psi.{k}": float(v) for k, v in state["psi"].items()})
    if state.get("ledger") is not None:
        out.update(ledger_metrics(state["ledger"]))
    return out


def ledger_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The summary's numbers, flat (``ledger.trades_closed``, ``ledger.realised_net_bp``...)."""
    keys = ("trades_closed", "open_positions", "realised_net_bp", "realised_net_bp_ci_low",
            "realised_net_bp_ci_high", "realised_pnl", "open_pnl", "equity")
    return {f"ledger.{k}": float(summary[k]) for k in keys}


def ledger_json(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary for ``monitor.json`` and ``--json``: open positions as records, no curve."""
    out = {k: v for k, v in summary.items() if k not in ("open", "curve")}
    out["open"] = [{k: (str(v) if isinstance(v, pd.Timestamp) else v) for k, v in r.items()}
                   for r in summary["open"].to_dict("records")]
    return strict_json(out)  # NaN as null wherever it is written


def ledger_figure(summary: dict[str, Any]):
    """Cumulative realised P&L of the ledger's closed trades by exit time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    curve = summary["curve"]
    if len(curve):
        ax.step(curve.index, curve.to_numpy(), where="post",
                label=f"{len(curve)} closed trades")
        ax.legend(fontsize=8)
    if np.isfinite(summary["open_pnl"]) and summary["open_positions"]:
        ax.set_title(f"Paper ledger: realised P&L (open positions marked "
                     f"{summary['open_pnl']:+,.2f})", fontsize=10)
    else:
        ax.set_title("Paper ledger: realised P&L", fontsize=10)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("cumulative P&L")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _ledger_html(summary: dict[str, Any] | None) -> str:
    """The paper ledger's section of the page ('' without ``--ledger``)."""
    if summary is None:
        return ""
    from ..backtest import ci_text

    esc = html.escape
    m, lo, hi = (summary[k] for k in ("realised_net_bp", "realised_net_bp_ci_low",
                                      "realised_net_bp_ci_high"))
    opened = summary["open"]
    band = ci_text(lo, hi, "every closed trade exited on one day")
    table = (opened.to_html(index=False, float_format=lambda v: f"{v:,.2f}") if len(opened)
             else "<p>No open position.</p>")
    return (f"<h2>Paper ledger</h2><p>{esc(summary['path'])}: from {esc(str(summary['start']))}"
            f" to the last processed bar {esc(str(summary['last_bar']))} ({summary['runs']} "
            f"run{'s' if summary['runs'] != 1 else ''}). {summary['trades_closed']} trades "
            "closed"
            + (f": realised net {m:+.1f} bp per trade {band}, P&L "
               f"{summary['realised_pnl']:+,.2f}; " if summary["trades_closed"] else "; ")
            + f"{summary['open_positions']} open, marked {summary['open_pnl']:+,.2f} (net of exit "
            f"costs); equity {summary['equity']:,.2f}.</p>"
            f"<img alt='ledger P&amp;L' src='data:image/png;base64,"
            f"{_png(ledger_figure(summary))}'><h3>Open positions</h3>{table}")


def html_page(state: dict[str, Any], record: pd.DataFrame, *, title: str) -> str:
    """One self-contained HTML page (the figure inlined) of a monitor state."""
    done = record[(record["resolved_at"] <= state["at"]) & record["label"].notna()]
    fig = reliability_figure(done["label"].to_numpy(dtype=float),
                             done["probability"].to_numpy(dtype=float))
    hist = state.get("history") or {}
    rho = (state.get("design") or {}).get("rho", 0.0)
    over_time = _png(calibration_history_figure(
        weekly_calibration(done, rho, state.get("calibration_error", 0.0)),
        hist.get("cusum", pd.Series(dtype=float)),
        hist.get("cusum_threshold")))
    esc = html.escape
    note = _design_note(state.get("design_effect", 1.0), state.get("design"))
    alerts = "".join(f"<li>{esc(a)}</li>" for a in state["alerts"]) or "<li>none</li>"
    metrics = pd.DataFrame({"value": pd.Series(flat_metrics(state))})
    psi = state["psi"].rename("psi").to_frame().head(30)
    returns = state.get("returns")
    ret_html = ("<p>No return calibrator in this model, or fewer than 10 resolved trades.</p>"
                if returns is None or not len(returns) else
                (f"<p>Rank correlation {returns.attrs['rank_ic']:.3f}"
                 if np.isfinite(returns.attrs["rank_ic"]) else
                 "<p>No rank correlation: the expected returns do not vary")
                + "; net of the venue's fees "
                "and slippage (borrow and funding not included).</p>"
                + returns.to_html(index=False, float_format=lambda v: f"{v:.5f}"))
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
        ".alert{color:#b00}</style></head><body>"
        f"<h1>{esc(title)}</h1><p>As of {state['at']:%Y-%m-%d %H:%M} UTC; reference: "
        f"{esc(state['reference'])}. {note}</p>"
        f"<h2 class='{'alert' if state['alerts'] else ''}'>Alerts</h2><ul>{alerts}</ul>"
        f"<p>{esc(power_note(state))}</p>"
        f"<h2>Reliability</h2><img alt='reliability' src='data:image/png;base64,{_png(fig)}'>"
        "<h2>Calibration over time</h2><p>Each week's labels (by the day they resolved) "
        "against what the model predicted for them, with the band a calibrated model stays in "
        "about 95% of weeks; below it, the sequential test's evidence of fewer reversions than "
        f"predicted, which alerts at its level ({esc(state.get('levels', {}).get('cusum', ''))})."
        "</p>"
        f"<img alt='calibration over time' src='data:image/png;base64,{over_time}'>"
        "<h2>Numbers</h2><p>n/a: not defined on this record (no label, or labels of one "
        f"class for an AUC).</p>{metrics.to_html(float_format=lambda v: f'{v:.4g}', na_rep='n/a')}"
        "<h2>Expected vs realised net return of the reversion trade, by decile</h2>"
        f"{ret_html}{_ledger_html(state.get('ledger'))}"
        f"<h2>Drift (PSI against the reference; noise level {state['psi_noise']:.3f})</h2>"
        f"{psi.to_html(float_format=lambda v: f'{v:.3f}')}</body></html>")


def power_note(state: dict[str, Any]) -> str:
    """What the window check can see at this record's size ('' where it is off or empty).

    From :func:`detectable_drop`: a user whose record is small learns that a quiet monitor
    is not proof that the model holds.
    """
    drop, h = state.get("detectable_drop", float("nan")), state["window"]["all"]
    least = state.get("min_labels", 0)
    if state.get("calibration_z") is None:  # the window check is off
        return ""
    head = f"The last {state['window_days']:g} days resolved {h['n']} labels"
    if h["n"] < least:
        return (f"{head}, fewer than the {least} the window check needs (monitor.min_labels): "
                "it cannot alert yet; only the sequential test adds labels up.")
    if not np.isfinite(drop):
        return ""
    dep = f", design effect {h['design_effect']:.1f}" if h["design_effect"] > 1 else ""
    if drop >= h["predicted"]:
        return (f"{head}{dep}: too few for the window check to catch even a fall of the "
                f"reversion rate from {h['predicted']:.0%} to 0 4 times in 5; only the "
                "sequential test, over more labels, can show a drop.")
    return (f"{head}{dep}: the window check catches a drop of the reversion rate from "
            f"{h['predicted']:.0%} to {h['predicted'] - drop:.0%} ({100 * drop:.0f} points) 4 "
            "times in 5; a smaller drop shows only in the sequential test, over more labels.")


def _design_note(deff: float, design: dict[str, Any] | None) -> str:
    """What the page says of the labels' dependence (:func:`design_effect`)."""
    if design and design.get("rho", 0) > 0:
        return (f"The labels' design effect is {deff:.1f} over the live record: divergences of "
                f"one market move revert or fail together (within-day correlation "
                f"{design['rho']:.4f} in training, design effect {design['design_effect']:.1f} "
                f"at its {design.get('labels_per_day', float('nan')):.0f} labels a day), so a "
                f"day of m labels counts each 1/(1 + {design['rho']:.4f} (m - 1)) in the "
                "calibration checks; the PSI's noise level is multiplied by the same for the "
                "divergences entered each day.")
    if not design:
        return "The labels are taken as independent (their dependence was not measured)."
    if design.get("blocks", 0) < MIN_BLOCKS:
        return (f"The labels are taken as independent: the training labels resolved on "
                f"{design.get('blocks', 0)} days, too few to measure their dependence.")
    return (f"The training labels show no dependence beyond chance (design effect estimate "
            f"{design.get('estimate', float('nan')):.2f} over {design['blocks']} days).")


def log_run(store: str, experiment_id: str, state: dict[str, Any], page: str,
            tags: dict[str, str]) -> str:
    """Log the state as an MLflow run (metrics, the page, the alerts) in ``experiment_id``."""
    import mlflow

    mlflow.set_tracking_uri(store)
    clean = {k.replace("@", "_"): v for k, v in flat_metrics(state).items()
             if v is not None and np.isfinite(v)}
    with mlflow.start_run(experiment_id=experiment_id, run_name=tags.get("run_name"),
                          tags={k: v for k, v in tags.items() if k != "run_name"}) as run:
        mlflow.log_metrics(clean)
        mlflow.log_text(page, "monitor/monitor.html")
        mlflow.log_text("\n".join(state["alerts"]) or "no alert", "monitor/alerts.txt")
        if state.get("ledger") is not None:
            mlflow.log_dict(ledger_json(state["ledger"]), "monitor/ledger.json")
    return run.info.run_id
