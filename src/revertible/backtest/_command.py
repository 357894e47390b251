"""``revertible backtest``: load, replay, log one MLflow run, write the HTML report."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..config import Config
from ..data import Panel
from ..errors import RevertibleError
from ._engine import run_backtest
from ._metrics import per_trade_note
from ._report import log_backtest

__all__ = ["backtest_command", "backtest_summary", "SUMMARY_METRICS", "TIMED_STAGES", "stage_times"]


def backtest_command(
    cfg: Config,
    *,
    model_uri: str | None = None,
    walk_forward: bool = False,
    since: str | None = None,
    until: str | None = None,
    out_dir: str | Path | None = None,
    config_path: str | Path | None = None,
    console: Any = None,
    progress: Callable[..., Any] | None = None,
    panel: Panel | None = None,
    tracker: Any = None,
    summary_to: Any = None,
) -> dict[str, Any]:
    """``revertible backtest``: load, replay, log one MLflow run, write the HTML report.

    Returns ``run_id``, ``model_uri``, ``metrics`` (flat, ``<strategy>.<metric>``), ``report``,
    ``trades`` and ``equity`` (paths in ``out_dir``, or None), ``artifact_uri``, ``range`` and
    ``timings`` (wall and CPU seconds of each of :data:`TIMED_STAGES`: ``<stage>_s``,
    ``<stage>_cpu_s``; CPU of the whole process, all threads), also printed as a ``time`` line.
    ``panel`` and ``tracker`` may be passed in (tests); otherwise they come from ``cfg``.
    The summary table (:func:`backtest_summary`, also returned as ``summary``) is printed on
    ``summary_to`` (a rich console; default ``console``): the command line sends it to standard
    output, or to standard error with ``--json``.
    """
    from ..data import load_panel
    from ..tracking import Tracker, load_model

    def say(msg: str) -> None:
        if console is not None:
            console.print(msg, markup=False, highlight=False, soft_wrap=True)

    if model_uri is not None and walk_forward:
        raise RevertibleError("pass either --model URI or --walk-forward, not both")
    if model_uri is None and not walk_forward:
        raise RevertibleError("backtest needs --model URI or --walk-forward")
    t0, c0 = time.perf_counter(), time.process_time()
    tracker = tracker or Tracker(cfg.tracking)
    tracker.connect()
    model = load_model(model_uri, tracker.uri) if model_uri is not None else None
    panel = load_panel(cfg.data) if panel is None else panel
    if model is not None and hasattr(model, "check_sources"):  # a registered model, as score
        from ..model import check_model

        check_model(model, cfg, panel.funding is not None)
    loaded = {"data_s": time.perf_counter() - t0, "data_cpu_s": time.process_time() - c0}
    result = run_backtest(cfg, panel, model=model, model_uri=model_uri, walk_forward=walk_forward,
                          since=since, until=until, say=say, progress=progress)  # fmt: skip
    result.timings = {**loaded, **result.timings}
    run_id, artifact_uri, paths = log_backtest(tracker, result, cfg, panel,
                                               config_path=config_path, out_dir=out_dir)
    summary = backtest_summary(result.metrics, result.strategies)
    target = summary_to if summary_to is not None else console
    if target is not None:
        # what the figures are: period, costs, capital and units (the table alone said none)
        target.print(f"equity {result.start:%Y-%m-%d %H:%M} .. {result.end:%Y-%m-%d %H:%M} UTC at "
                     f"{cfg.costs.venue} {cfg.costs.fill} costs (1x; _2x_costs rows: doubled), "
                     f"capital {cfg.sizing.capital:,.0f}: net bp/trade = P&L after costs per "
                     "unit of gross notional, Sharpe annualised, drawdown and return of the "
                     "capital", markup=False, highlight=False, soft_wrap=True)
        target.print(summary, markup=False, highlight=False, soft_wrap=True)
    for s in result.strategies:
        note = per_trade_note(result.metrics, s)
        if note:
            say(note)
    taken = result.metrics.get("model.signals_taken", float("nan"))
    if taken == taken and taken < 300:  # too few to check the decision's calibration
        say(f"the decision took {int(taken)} signals (fewer than 300): too few to check how its "
            "expected returns compare with the realised ones out of sample")
    say(f"run {run_id}" + (f"; report {paths['report']}" if paths else
                           f"; report.html is among its artifacts ({artifact_uri}); --out DIR "
                           "also writes it to a folder"))
    say(f"time (wall/CPU s): {stage_times(result.timings)}")
    return {
        "run_id": run_id,
        "model_uri": model_uri,
        "metrics": result.metrics,
        "report": str(paths["report"]) if paths else None,
        "trades": str(paths["trades"]) if paths else None,
        "equity": str(paths["equity"]) if paths else None,
        "artifact_uri": artifact_uri,
        "range": [str(result.start), str(result.end)],
        "summary": summary,
        "timings": dict(result.timings),
    }


TIMED_STAGES = ("data", "episodes", "features", "models", "paths", "simulation", "metrics",
                "report")
"""The timed stages of a backtest, in order (keys ``<stage>_s``/``<stage>_cpu_s`` of
:attr:`BacktestResult.timings`; ``simulation`` is the strategies' replay, ``report`` the
images, HTML, outputs and MLflow artifacts, rendered after the others)."""


def stage_times(timings: dict[str, float]) -> str:
    """The stages in ``timings`` as ``name wall/CPU`` seconds, in :data:`TIMED_STAGES` order.

    Examples
    --------
    >>> stage_times({"data_s": 1.34, "data_cpu_s": 1.0, "report_s": 3.0, "report_cpu_s": 2.5})
    'data 1.3/1.0, report 3.0/2.5'
    """
    return ", ".join(f"{k} {timings[f'{k}_s']:.1f}/{timings.get(f'{k}_cpu_s', float('nan')):.1f}"
                     for k in TIMED_STAGES if f"{k}_s" in timings)


SUMMARY_METRICS = ("trades", "net_bp_per_trade", "net_bp_per_trade_ci_low",
                   "net_bp_per_trade_ci_high", "sharpe", "max_drawdown", "total_return",
                   "deflated_sharpe")  # fmt: skip
"""The ``<strategy>.<metric>`` values :func:`backtest_summary` shows."""

_HEADERS = ("trades", "net bp/trade [90% CI]", "Sharpe", "max DD", "total return",
            "deflated Sharpe")  # fmt: skip


def _num(value: Any, fmt: str) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "-"
    return format(v, fmt) if math.isfinite(v) else "-"


def backtest_summary(metrics: dict[str, float], strategies: Sequence[str]) -> str:
    """A table for people: one row per strategy, the headline backtest numbers.

    Columns: trades; net basis points per trade with its day-block bootstrap 90% interval;
    annualised Sharpe; maximum drawdown and total return in percent; deflated Sharpe (the
    probability that the true Sharpe exceeds 0 given the configurations tried). Missing or
    non-finite values print as ``-``.

    Parameters
    ----------
    metrics : dict
        Flat ``<strategy>.<metric>`` values (:attr:`BacktestResult.metrics`).
    strategies : sequence of str
        Row order.

    Returns
    -------
    str
        The table, one line per strategy under a header line.

    Examples
    --------
    >>> m = {"model.trades": 292, "model.net_bp_per_trade": 12.34,
    ...      "model.net_bp_per_trade_ci_low": 8.1, "model.net_bp_per_trade_ci_high": 16.4,
    ...      "model.sharpe": 2.5, "model.max_drawdown": -0.0312,
    ...      "model.total_return": 0.1523, "model.deflated_sharpe": 0.97}
    >>> print(backtest_summary(m, ["model"]))  # doctest: +NORMALIZE_WHITESPACE
    strategy  trades  net bp/trade [90% CI]  Sharpe  max DD  total return  deflated Sharpe
    model        292  +12.3 [+8.1, +16.4]      2.50   -3.1%        +15.2%             0.97
    """
    rows = []
    for n in strategies:
        def get(key: str, name: str = n) -> Any:
            return metrics.get(f"{name}.{key}", float("nan"))

        trades = _num(get("trades"), ",.0f")
        bp, lo, hi = (_num(get(k), "+.1f") for k in SUMMARY_METRICS[1:4])
        band = "[no CI: one day]" if lo == "-" else f"[{lo}, {hi}]"  # one day's exits
        rows.append((n, trades, f"{bp} {band}" if bp != "-" else "-",
                     _num(get("sharpe"), ".2f"), _num(get("max_drawdown"), ".1%"),
                     _num(get("total_return"), "+.1%"), _num(get("deflated_sharpe"), ".2f")))
    head = ("strategy", *_HEADERS)
    width = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    left = {0, 2}  # names and intervals read best left-aligned

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, width, strict=True))).rstrip()

    return "\n".join(line(r) for r in [head, *rows])
