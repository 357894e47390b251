"""``revertible backtest``: load, replay, log one MLflow run, write the HTML report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Config
from ..data import Panel
from ..errors import RevertibleError
from ._engine import BacktestResult, run_backtest
from ._report import log_backtest

__all__ = ["backtest_command", "SUMMARY_METRICS"]


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
) -> dict[str, Any]:
    """``revertible backtest``: load, replay, log one MLflow run, write the HTML report.

    Returns ``run_id``, ``model_uri``, ``metrics`` (flat, ``<strategy>.<metric>``), ``report``,
    ``trades`` and ``equity`` (paths in ``out_dir``, or None), ``artifact_uri`` and ``range``.
    ``panel`` and ``tracker`` may be passed in (tests); otherwise they come from ``cfg``.
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
    tracker = tracker or Tracker(cfg.tracking)
    tracker.connect()
    model = load_model(model_uri, tracker.uri) if model_uri is not None else None
    panel = load_panel(cfg.data) if panel is None else panel
    result = run_backtest(cfg, panel, model=model, model_uri=model_uri, walk_forward=walk_forward,
                          since=since, until=until, say=say, progress=progress)  # fmt: skip
    run_id, artifact_uri, paths = log_backtest(tracker, result, cfg, panel,
                                               config_path=config_path, out_dir=out_dir)
    say(_summary(result))
    say(f"run {run_id}" + (f"; report {paths['report']}" if paths else ""))
    return {
        "run_id": run_id,
        "model_uri": model_uri,
        "metrics": result.metrics,
        "report": str(paths["report"]) if paths else None,
        "trades": str(paths["trades"]) if paths else None,
        "equity": str(paths["equity"]) if paths else None,
        "artifact_uri": artifact_uri,
        "range": [str(result.start), str(result.end)],
    }


SUMMARY_METRICS = ("total_return", "sharpe", "max_drawdown", "trades", "win_rate",
                   "net_bp_per_trade", "net_bp_per_trade_ci_low", "net_bp_per_trade_ci_high",
                   "deflated_sharpe", "fees", "borrow", "turnover", "exposure")  # fmt: skip


def _summary(result: BacktestResult) -> str:
    lines = [f"{'':26s}" + "".join(f"{k[:12]:>13s}" for k in SUMMARY_METRICS)]
    for n in result.strategies:
        lines.append(f"{n:26s}" + "".join(
            f"{result.metrics.get(f'{n}.{k}', float('nan')):13.4g}" for k in SUMMARY_METRICS))
    return "\n".join(lines)
