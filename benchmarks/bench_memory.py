"""Peak memory of ``revertible episodes`` and of the walk-forward backtest against the pair count.

Usage::

    python benchmarks/bench_memory.py [--config configs/binance-spot-1h.yaml] [--data DIR]
        [--assets 34 68 136] [--only episodes|walk-forward] [--set KEY=VALUE ...]

Each command runs in a fresh process (``python -m revertible ...``, as a user runs it) on the
first N assets of the data (``--set data.assets=[...]``, in the panel's order) for each N of
``--assets``: ``episodes CONFIG --out episodes.parquet`` and ``backtest CONFIG --walk-forward
--out DIR`` (MLflow store in a temporary folder; the episodes command runs at every size even
with ``--only walk-forward``: its summary gives the counts). For each run it prints the
assets, the pairs (all unordered pairs the kernel scans, and those with an episode), the
episodes, the child's peak RSS (``ru_maxrss`` of that child alone, from ``os.wait4``), the
RSS above the baseline (the peak RSS of a bare ``python -c 'import ...'`` of the modules the
command loads), its CPU seconds (user + system, all threads), wall seconds and the 1-minute
load before and after.
Then, from each size to the next, the growth of the RSS above the baseline over the growth of
the pair count (<= 1: memory grows no faster than the pairs) and the added MiB per thousand
added pairs. The machine is shared: the CPU and RSS figures hold at any load, wall does not.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _clock import load1

from revertible.config import load_config
from revertible.data import load_panel

#: Modules each command loads before it reads the data (the baseline's ``import``).
BASELINE_IMPORTS = {
    "episodes": "import revertible.cli, revertible.episodes, revertible.data, pyarrow.parquet",
    "walk-forward": "import revertible.cli, revertible.backtest, revertible.features, "
                    "revertible.model, revertible.tracking, mlflow, lightgbm, sklearn, "
                    "matplotlib.figure",
}  # fmt: skip


def run_child(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> dict[str, float]:
    """Run ``cmd``, output to ``log``; its exit code, wall, CPU seconds and peak RSS (MiB).

    The child's own resource usage (``os.wait4``): ``RUSAGE_CHILDREN`` would give the largest
    peak of all children so far, not this one's.
    """
    load0 = load1()
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": float(proc.returncode), "wall_s": time.perf_counter() - t0,
            "cpu_s": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024.0,
            "load0": load0, "load1": load1()}  # fmt: skip


def _episode_counts(text: str) -> tuple[int, int, int]:
    """(episodes, pairs with episodes, pairs in the universe) from the episodes command."""
    m = re.search(r"(\d+) episodes over (\d+) pairs \((\d+) in the universe\)", text)
    if m is None:
        raise RuntimeError(f"no episode summary in the output:\n{text[-2000:]}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def main(argv: list[str] | None = None) -> int:
    """Run the commands at each size and print the table (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/binance-spot-1h.yaml")
    ap.add_argument("--data", default=None, help="data folder (default: the config's)")
    ap.add_argument("--assets", type=int, nargs="+", default=[34, 68, 136])
    ap.add_argument("--only", choices=("episodes", "walk-forward"), default=None)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)

    cfg = load_config(args.config, args.sets, data=args.data)
    names = list(load_panel(cfg.data).assets)
    sizes = [min(n, len(names)) for n in args.assets]
    base_args = [*(a for kv in args.sets for a in ("--set", kv)),
                 *(["--data", args.data] if args.data else [])]
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["COLUMNS"] = "200"
    commands = [c for c in ("episodes", "walk-forward") if args.only in (None, c)]
    print(f"peak memory against pairs: {args.config}, {len(names)} assets in the data, "
          f"{os.cpu_count()} cores; load {load1():.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="revertible-bench-mem-") as tmp:
        root = Path(tmp)
        baseline = {c: run_child([sys.executable, "-c", BASELINE_IMPORTS[c]],
                                 root / f"baseline-{c}.log", env) for c in commands}
        counts: dict[int, tuple[int, int, int]] = {}
        rows: dict[str, list[dict]] = {c: [] for c in commands}
        for n in sizes:
            pick = f"data.assets=[{', '.join(names[:n])}]"
            eps_cmd = [sys.executable, "-m", "revertible", "episodes", args.config, *base_args,
                       "--set", pick, "--out", str(root / f"episodes-{n}.parquet")]
            wf_cmd = [sys.executable, "-m", "revertible", "backtest", args.config, *base_args,
                      "--walk-forward", "--set", pick,
                      "--set", f"tracking.uri=sqlite:///{root}/mlflow.db",
                      "--set", f"tracking.artifact_location={(root / 'artifacts').as_uri()}",
                      "--out", str(root / f"backtest-{n}")]
            log = root / f"episodes-{n}.log"
            r = run_child(eps_cmd, log, env)
            if r["rc"] != 0:
                print(f"episodes failed ({r['rc']:.0f}):\n{log.read_text()[-3000:]}")
                return 1
            counts[n] = _episode_counts(log.read_text())
            if "episodes" in rows:
                rows["episodes"].append({"n": n, **r})
            if "walk-forward" in rows:
                log = root / f"walk-forward-{n}.log"
                r = run_child(wf_cmd, log, env)
                if r["rc"] != 0:
                    print(f"walk-forward failed ({r['rc']:.0f}):\n{log.read_text()[-3000:]}")
                    return 1
                rows["walk-forward"].append({"n": n, **r})
            print(f"  {n} assets done", flush=True)
    for c in commands:
        b = baseline[c]
        print(f"\n{c}: baseline (bare import) peak RSS {b['rss_mb']:.0f} MiB, "
              f"{b['cpu_s']:.1f} s CPU")
        print("  assets  pairs  with eps.  episodes  peak RSS  above base  growth/pairs growth"
              "  MiB per 1k added pairs   CPU s  wall s  load before/after")
        prev = None
        for r in rows[c]:
            eps, with_eps, pairs = counts[r["n"]]
            extra = r["rss_mb"] - b["rss_mb"]
            ratio = per_k = ""
            if prev is not None:
                pg = pairs / prev[0]
                ratio = f"{(extra / prev[1]) / pg:.2f} ({extra / prev[1]:.2f}x / {pg:.2f}x)"
                per_k = f"{1000 * (extra - prev[1]) / (pairs - prev[0]):.1f}"
            print(f"  {r['n']:>6}  {pairs:>5}  {with_eps:>9}  {eps:>8}  {r['rss_mb']:>6.0f} MiB"
                  f"  {extra:>6.0f} MiB  {ratio:>19}  {per_k:>22}  {r['cpu_s']:>6.1f}  "
                  f"{r['wall_s']:>6.1f}  {r['load0']:.2f}/{r['load1']:.2f}")
            prev = (pairs, extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
