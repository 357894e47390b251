"""Benchmark the hot paths on the shared Binance data (not a test: prints numbers).

Usage::

    python scripts/bench.py [--data DIR] [--config configs/binance-spot-1h.yaml] [--repeat 3]

Prints, for all unordered pairs of the spot set: load time, eligibility time, the
hedge-ratio/spread/z/detect/label kernel throughput in pair-bars per second (best of
``--repeat``), files-to-episode-table wall time, and peak RSS of the process.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from revertible.config import load_config
from revertible.data import load_panel
from revertible.episodes import iter_episode_blocks
from revertible.episodes._outcomes import trade_outcomes
from revertible.io import atomic_path
from revertible.universe import asset_eligibility, universe_pairs


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_episodes(cfg, repeat: int) -> dict[str, float]:
    """Time data loading, eligibility, the kernel, and files -> parquet episode table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out: dict[str, float] = {}
    # warm-up: compile the kernels on a small slice (numba caches to disk afterwards)
    t0 = time.perf_counter()
    panel = load_panel(cfg.data)
    out["load_s"] = time.perf_counter() - t0
    small = panel.select(list(panel.assets[:4]))
    list(iter_episode_blocks(small, cfg, asset_eligibility(small, cfg.universe)))

    t0 = time.perf_counter()
    elig = asset_eligibility(panel, cfg.universe)
    out["eligibility_s"] = time.perf_counter() - t0

    n_pairs = len(universe_pairs(panel.assets)[0])
    pair_bars = n_pairs * panel.n_bars
    best = np.inf
    n_eps = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n_eps = sum(len(b) for b in iter_episode_blocks(panel, cfg, elig))
        best = min(best, time.perf_counter() - t0)
    out["pairs"] = n_pairs
    out["bars"] = panel.n_bars
    out["episodes"] = n_eps
    out["kernel_s"] = best
    out["pair_bars_per_s"] = pair_bars / best

    # the trade outcomes alone (part of the time above): both trades of every episode
    eps = pd.concat(list(iter_episode_blocks(panel, cfg, elig)), ignore_index=True)
    idx = {a: i for i, a in enumerate(panel.assets)}
    t = panel.times.get_indexer(eps["entry_time"])
    ia = eps["asset_a"].map(idx).to_numpy(np.int64)
    ib = eps["asset_b"].map(idx).to_numpy(np.int64)
    lc, cc = cfg.label, cfg.continue_
    args = (panel.log_close(), panel.open, panel.close, t, ia, ib, eps["z_entry"], eps["beta"],
            eps["spread_mean"], eps["spread_std"], lc.exit, lc.stop, lc.horizon,
            cc.take_profit, cc.stop, cc.horizon_or(lc.horizon))
    xt = eps["exit_time"]
    exit_idx = np.where(xt.notna(), panel.times.get_indexer(xt.fillna(eps["entry_time"])), -1)
    trade_outcomes(*args)  # compiled, and the arrays in the layout the kernel uses
    args = (np.ascontiguousarray(args[0]), np.ascontiguousarray(args[1]),
            np.ascontiguousarray(args[2]), *args[3:])
    ob = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        trade_outcomes(*args, revert_exit=exit_idx)  # as the table builder calls it
        ob = min(ob, time.perf_counter() - t0)
    out["outcomes_s"] = ob
    out["spread_kernel_pair_bars_per_s"] = pair_bars / max(best - ob, 1e-9)

    # end to end: files -> parquet, streamed block by block
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        panel = load_panel(cfg.data)
        elig = asset_eligibility(panel, cfg.universe)
        dest = Path(tmp) / "episodes.parquet"
        with atomic_path(dest) as part:
            writer = None
            for block in iter_episode_blocks(panel, cfg, elig):
                table = pa.Table.from_pandas(block, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(part, table.schema)
                writer.write_table(table)
            if writer is not None:
                writer.close()
        out["files_to_table_s"] = time.perf_counter() - t0
    return out


def bench_scoring(config: str, data: str | None, model: str, tracking: str | None) -> dict:
    """Wall time of `revertible score` in fresh processes: live (open now) and all history."""
    import subprocess

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (("live", []), ("historical", ["--since", "2000-01-01"])):
            cmd = [sys.executable, "-m", "revertible", "score", config, "--model", model,
                   "--out", str(Path(tmp) / f"{name}.parquet"), *extra]
            if data:
                cmd += ["--data", data]
            if tracking:
                cmd += ["--set", f"tracking.uri={tracking}"]
            env = dict(os.environ)
            if tracking:
                env["MLFLOW_TRACKING_URI"] = tracking
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            out[f"score_{name}_s"] = time.perf_counter() - t0
            import pandas as pd

            out[f"score_{name}_rows"] = len(pd.read_parquet(Path(tmp) / f"{name}.parquet"))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a small table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", default="configs/binance-spot-1h.yaml")
    ap.add_argument("--data", default=None, help="data folder (overrides the config)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--model", default=None,
                    help="also time `revertible score` with this model URI (live and historical)")
    ap.add_argument("--tracking", default=None, help="tracking URI the model lives in")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, data=args.data)
    if not Path(cfg.data.path).is_dir():
        print(f"bench: data folder {cfg.data.path} not found (set REVERTIBLE_DATA)", file=sys.stderr)
        return 2
    print(f"revertible bench: {os.cpu_count()} cores, numba threads {numba.get_num_threads()}")
    r = bench_episodes(cfg, args.repeat)
    print(f"  data                 {cfg.data.path}")
    print(f"  assets x bars        {r['bars']:.0f} bars, {r['pairs']:.0f} pairs")
    print(f"  load                 {r['load_s']:.2f} s")
    print(f"  eligibility          {r['eligibility_s']:.2f} s")
    print(f"  episodes+outcomes    {r['kernel_s']:.2f} s  "
          f"-> {r['pair_bars_per_s'] / 1e6:.1f} M pair-bars/s, {r['episodes']:.0f} episodes "
          f"(best of {args.repeat})")
    print(f"  outcomes alone       {r['outcomes_s']:.3f} s  (both trades of every episode); "
          f"spread kernel without them {r['spread_kernel_pair_bars_per_s'] / 1e6:.1f} M "
          f"pair-bars/s")
    print(f"  files -> episodes    {r['files_to_table_s']:.2f} s wall")
    print(f"  peak RSS             {peak_rss_mb():.0f} MiB")
    if args.model:
        sc = bench_scoring(args.config, args.data, args.model, args.tracking)
        print(f"  score live           {sc['score_live_s']:.1f} s wall, fresh process "
              f"({sc['score_live_rows']} open divergences)")
        print(f"  score historical     {sc['score_historical_s']:.1f} s wall "
              f"({sc['score_historical_rows']} divergences)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
