"""Benchmark the walk-forward backtest of a config on the shared data (not a test: prints numbers).

Usage::

    python benchmarks/bench_walkforward.py [--config configs/binance-spot-1h.yaml] [--data DIR]
        [--set KEY=VALUE ...] [--verbose]

Runs ``revertible backtest CONFIG --walk-forward`` in this process, through the command's own
function (:func:`revertible.backtest.backtest_command`, the code the command line runs), with
the MLflow store and the report in a temporary folder. It prints each stage the command times
(:data:`revertible.backtest.TIMED_STAGES`: panel load, episodes, features, walk-forward models,
exit paths, strategies' replay, metrics, report + MLflow) in wall and CPU seconds, the rest of
the call, the CPU seconds of the whole process (user + system, all threads, from
``resource.getrusage``: imports and interpreter start included), its peak RSS (and the peak so
far at the end of each of the command's progress stages) and the load average before and
after. The machine is shared: compare CPU seconds across runs, wall seconds
only at a known load. The compiled kernels load from numba's disk cache; a first run after a
change to them also compiles (a few seconds more of ``episodes`` and ``features``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from _clock import cpu_s, load_text, peak_rss_mb, wall_cpu

from revertible.backtest import TIMED_STAGES, backtest_command
from revertible.config import load_config
from revertible.errors import RevertibleError

#: Printed name of each timed stage of ``backtest_command``.
STAGE_NAMES = {"data": "panel load", "episodes": "episodes", "features": "features",
               "models": "walk-forward models", "paths": "exit paths",
               "simulation": "strategies (replay)", "metrics": "metrics",
               "report": "report + MLflow"}  # fmt: skip


class _PeakRss:
    """A ``progress`` for ``backtest_command``: the peak RSS when each progress stage ends."""

    def __init__(self) -> None:
        self.after: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str, **_kw: object) -> Iterator[Callable[..., None]]:
        yield lambda *_a, **_k: None
        self.after[name] = peak_rss_mb()


class _Lines:
    """A console for ``backtest_command``: keeps its lines, prints them with ``--verbose``."""

    def __init__(self, echo: bool) -> None:
        self.echo = echo
        self.lines: list[str] = []

    def print(self, msg: object, **_kw: object) -> None:
        self.lines.append(str(msg))
        if self.echo:
            print(msg, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run one walk-forward backtest and print its stage times (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/binance-spot-1h.yaml")
    ap.add_argument("--data", default=None, help="data folder (default: the config's)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--verbose", action="store_true", help="print the command's own lines")
    args = ap.parse_args(argv)

    imports_cpu = cpu_s()
    load_before = load_text()
    with tempfile.TemporaryDirectory(prefix="revertible-bench-wf-") as tmp:
        sets = [f"tracking.uri=sqlite:///{tmp}/mlflow.db",
                f"tracking.artifact_location={(Path(tmp) / 'artifacts').as_uri()}", *args.sets]
        try:
            cfg = load_config(args.config, sets, data=args.data)
        except RevertibleError as exc:
            print(f"bench_walkforward: {exc}", file=sys.stderr)
            return 2
        if not Path(cfg.data.path).is_dir():
            print(f"bench_walkforward: data folder {cfg.data.path} not found (set "
                  "REVERTIBLE_DATA)", file=sys.stderr)
            return 2
        print(f"walk-forward backtest of {args.config} ({cfg.data.path}); {load_before} at the "
              "start", flush=True)
        console, rss = _Lines(args.verbose), _PeakRss()
        t0, c0 = time.perf_counter(), cpu_s()
        res = backtest_command(cfg, walk_forward=True, out_dir=Path(tmp) / "out",
                               config_path=args.config, console=console, progress=rss)
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    tm = res["timings"]
    for stage in TIMED_STAGES:
        if f"{stage}_s" in tm:
            print(f"  {STAGE_NAMES.get(stage, stage):<22}"
                  f"{wall_cpu(tm[f'{stage}_s'], tm.get(f'{stage}_cpu_s', float('nan')))}")
    staged = [sum(tm.get(f"{s}{k}", 0.0) for s in TIMED_STAGES) for k in ("_s", "_cpu_s")]
    print(f"  {'other':<22}{wall_cpu(wall - staged[0], cpu - staged[1])}  (the rest of the "
          "call: the signal table between the stages, the summary)")
    print(f"  {'backtest in all':<22}{wall_cpu(wall, cpu)}")
    m = res["metrics"]
    trades = m.get("model.trades", 0.0)
    bp = f", {m['model.net_bp_per_trade']:+.1f} bp/trade" if trades > 0 else ""
    print(f"  {m.get('signals.count', float('nan')):,.0f} divergences in the range "
          f"{res['range'][0][:10]}..{res['range'][1][:10]}, model {trades:,.0f} trades{bp}")
    print(f"  whole process        {cpu_s():.1f} s CPU (user + system, all threads; "
          f"{imports_cpu:.1f} s of it before the backtest: interpreter, imports), peak RSS "
          f"{peak_rss_mb():.0f} MiB; peak RSS so far at the end of "
          + ", ".join(f"{k} {v:.0f}" for k, v in rss.after.items()) + " MiB")
    print(f"  {load_text()} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
