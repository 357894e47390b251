"""Benchmark the hot paths on the shared Binance data (not a test: prints numbers).

Usage::

    python benchmarks/bench.py [--data DIR] [--config configs/binance-spot-1h.yaml] [--repeat 3]

Prints, for all unordered pairs of the spot set: load time, eligibility time, the
hedge-ratio/spread/z/detect/label kernel throughput in pair-bars per second (best of
``--repeat``), files-to-episode-table time, the sizing throughput and peak RSS of the process.
Every stage is printed as wall and CPU seconds (user + system of the process, all threads: the
compiled kernels run on every core, so CPU can exceed wall), with the load average at the start
and the end and the CPU seconds of the whole process: the machine is shared, so compare CPU
seconds across runs and wall seconds only at a known load.

Historical scoring (data-free, ``make bench-scoring``)::

    python benchmarks/bench.py --scoring-panel [--panel-dir DIR] [--set model.n_estimators=150]

generates 40 assets x 912 days of hourly bars (260,519 divergences), trains a model with the
config's model settings (not timed; reused from ``--panel-dir`` on later runs), then times
``revertible score CONFIG --model runs:/<id>/model --since <first bar> --out signals.parquet`` in
a fresh process: rows, wall and CPU seconds, rows/s, the command's stage times, load average.
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
from _clock import Laps, cpu_s, load_text, peak_rss_mb, wall_cpu

from revertible.config import load_config
from revertible.data import load_panel
from revertible.episodes import iter_episode_blocks
from revertible.episodes._outcomes import trade_outcomes
from revertible.io import atomic_path
from revertible.universe import asset_eligibility, universe_pairs


def bench_episodes(cfg, repeat: int, laps: Laps) -> dict[str, float]:
    """Time data loading, eligibility, the kernel, and files -> parquet episode table.

    Stage clocks go into ``laps`` (``load``, ``eligibility``, ``episodes+outcomes`` and
    ``outcomes`` at their fastest of ``repeat``, ``files -> episodes``); the returned dict
    holds the counts and the wall seconds the throughputs are computed from.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    out: dict[str, float] = {}
    with laps("load"):
        panel = load_panel(cfg.data)
    out["load_s"] = laps["load"][0]
    # warm-up: compile the kernels on a small slice (numba caches to disk afterwards)
    with laps("warm-up"):
        small = panel.select(list(panel.assets[:4]))
        list(iter_episode_blocks(small, cfg, asset_eligibility(small, cfg.universe)))

    with laps("eligibility"):
        elig = asset_eligibility(panel, cfg.universe)
    out["eligibility_s"] = laps["eligibility"][0]

    n_pairs = len(universe_pairs(panel.assets)[0])
    pair_bars = n_pairs * panel.n_bars
    n_eps = 0
    for _ in range(repeat):
        with laps("episodes+outcomes"):
            n_eps = sum(len(b) for b in iter_episode_blocks(panel, cfg, elig))
    best = laps["episodes+outcomes"][0]
    out["pairs"] = n_pairs
    out["pair_bars"] = pair_bars
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
    for _ in range(repeat):
        with laps("outcomes"):
            trade_outcomes(*args, revert_exit=exit_idx)  # as the table builder calls it
    ob = laps["outcomes"][0]
    out["outcomes_s"] = ob
    out["spread_kernel_pair_bars_per_s"] = pair_bars / max(best - ob, 1e-9)

    # end to end: files -> parquet, streamed block by block
    with tempfile.TemporaryDirectory() as tmp, laps("files -> episodes"):
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
    out["files_to_table_s"] = laps["files -> episodes"][0]
    return out


def bench_scoring(config: str, data: str | None, model: str, tracking: str | None) -> dict:
    """Wall and CPU time of `revertible score` in fresh processes: live and all history."""
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
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            out[f"score_{name}_s"] = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            out[f"score_{name}_cpu_s"] = (after.ru_utime - before.ru_utime
                                          + after.ru_stime - before.ru_stime)
            import pandas as pd

            out[f"score_{name}_rows"] = len(pd.read_parquet(Path(tmp) / f"{name}.parquet"))
    return out


#: The scoring-panel benchmark's market and universe (issue 10 item 5): 40 generated assets x
#: 912 days of hourly bars; ``universe.min_abs_corr = 0.17`` makes it about 260k divergences
#: (260,519 with seed 0). Everything else is the demo config's; the model section is left at
#: the library defaults (``load_config``).
SCORING_PANEL = {"n_assets": 40, "days": 912, "seed": 0}
SCORING_CONFIG = """\
name: bench-scoring
seed: 7
data:
  path: {data}
  timeframe: 1h
universe:
  min_abs_corr: 0.17
  min_quote_volume: 1000000
  min_history_days: 30
sizing:
  min_abs_corr_exit: 0.15
label:
  horizon: 48
tracking:
  uri: sqlite:///{root}/mlflow.db
  artifact_location: {artifacts}
  experiment: bench-scoring
  registered_model: bench-scoring
"""

#: Stages of the score command's ``time:`` line, in the order the benchmark prints them.
SCORE_STAGES = ("data", "episodes", "waiting for the model", "features", "predict",
                "decide/size", "writing")


def bench_scoring_panel(n_assets: int = 40, days: int = 912, seed: int = 0,
                        root: str | None = None, console: bool = True,
                        sets: list[str] | None = None) -> dict:
    """Historical scoring of every divergence of a generated panel, timed as a user runs it.

    Generates the market into a temporary folder (or ``root``), trains a model on it in this
    process (default model settings; not timed), then runs ``revertible score CONFIG --model
    runs:/<id>/model --since <first bar> --out signals.parquet`` in a fresh process and returns
    its wall seconds, its CPU seconds (user + system of the child), the rows written and the
    stage seconds of the command's ``time:`` line (:data:`SCORE_STAGES`). ``sets`` are
    ``--set`` overrides for training and scoring (e.g. another model size).
    """
    import re
    import subprocess

    from revertible.episodes import build_episodes
    from revertible.synthetic import generate_market, write_market
    from revertible.workflows import train

    def say(msg: str) -> None:
        if console:
            print(msg, flush=True)

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="revertible-bench-") as tmp:
        base = Path(root or tmp)
        base.mkdir(parents=True, exist_ok=True)
        data = base / "data"
        t0 = time.perf_counter()
        panel, truth = generate_market(n_assets=n_assets, n_bars=24 * days, seed=seed)
        write_market(data, panel, truth)
        cfg_path = base / "bench-scoring.yaml"
        cfg_path.write_text(SCORING_CONFIG.format(
            data=data, root=base, artifacts=(base / "artifacts").as_uri()))
        sets = list(sets or [])
        cfg = load_config(cfg_path, sets)
        panel = load_panel(cfg.data)
        eps = build_episodes(panel, cfg)
        out["generate_s"] = time.perf_counter() - t0
        say(f"  scoring panel        {panel.n_assets} assets x {panel.n_bars} bars (seed {seed}), "
            f"{len(eps)} episodes, {out['generate_s']:.1f} s")
        # --panel-dir: a model trained by an earlier run on this same panel and config is reused
        saved = base / "model_uri.txt"
        settings = f"{SCORING_CONFIG}|{n_assets}|{days}|{seed}|{cfg.model_dump_json()}"
        if saved.exists() and saved.read_text().split("\n", 1)[1:] == [settings]:
            model_uri = saved.read_text().split("\n", 1)[0]
            out["train_s"] = float("nan")
            say(f"  model                reusing {model_uri} from {saved}")
        else:
            say("  model                training (default model settings; not timed)...")
            t0 = time.perf_counter()
            res = train(cfg, panel=panel, episodes=eps, config_path=cfg_path, register=False)
            out["train_s"] = time.perf_counter() - t0
            model_uri = res["model_uri"]
            saved.write_text(f"{model_uri}\n{settings}")
        out["model_uri"] = model_uri
        since = f"{panel.times[0]:%Y-%m-%dT%H:%M}"
        dest = base / "signals.parquet"
        cmd = [sys.executable, "-m", "revertible", "score", str(cfg_path), "--model",
               model_uri, "--since", since, "--out", str(dest),
               *(a for kv in sets for a in ("--set", kv))]
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        env["COLUMNS"] = "200"  # one ``time:`` line
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        run = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env)
        out["score_wall_s"] = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out["load_avg"] = (load0, os.getloadavg())
        if run.returncode != 0:
            raise RuntimeError(f"revertible score failed ({run.returncode}):\n{run.stderr}")
        out["score_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        out["score_child_maxrss_mb"] = after.ru_maxrss / 1024.0
        out["rows"] = len(pd.read_parquet(dest, columns=["entry_time"]))
        out["episodes"] = len(eps)
        line = next((ln for ln in run.stdout.splitlines() if ln.startswith("time:")), "")
        out["stages"] = {m.group(1).strip(): float(m.group(2))
                         for m in re.finditer(r"([^,]+?) (\d+\.\d+)s", line[len("time:"):])}
        out["command"] = " ".join(cmd)
    return out


def _print_scoring_panel(r: dict) -> None:
    (l1, l5, l15), (e1, _, _) = r["load_avg"]
    print(f"  score historical     {r['rows']:,} divergences in {r['score_wall_s']:.1f} s wall "
          f"({r['rows'] / r['score_wall_s']:,.0f} rows/s), {r['score_cpu_s']:.1f} s CPU "
          f"(fresh process; training not timed: {r['train_s']:.0f} s)")
    stages = r["stages"]
    parts = [f"{k} {stages[k]:.1f}s" for k in SCORE_STAGES if k in stages]
    parts += [f"{k} {v:.1f}s" for k, v in stages.items() if k not in SCORE_STAGES]
    print(f"    stages             {', '.join(parts)}")
    print(f"    load average       {l1:.2f} {l5:.2f} {l15:.2f} at start, {e1:.2f} at end; "
          f"child peak RSS {r['score_child_maxrss_mb']:.0f} MiB")


def bench_sizing(n: int = 300_000, repeat: int = 3, seed: int = 0) -> dict[str, float]:
    """Decide and size ``n`` generated signals: one book, and one book per "bar" of 50 rows.

    Signals over 136 assets with decided outcome moments (perp taker costs); best of ``repeat``
    after a compile call. Data-free, so it also runs without the shared data (``--only-sizing``).
    """
    import pandas as pd

    from revertible.config import CostConfig, LabelConfig, SizingConfig
    from revertible.decision import decide, size_signals

    rng = np.random.default_rng(seed)
    assets = np.array([f"A{i:03d}/USDT" for i in range(136)])
    a, b = rng.integers(0, 136, n), rng.integers(0, 136, n)
    b = np.where(a == b, (b + 1) % 136, b)
    t0 = np.datetime64("2024-03-01T00:00")
    frame = pd.DataFrame({
        "asset_a": assets[a], "asset_b": assets[b],
        "entry_time": pd.DatetimeIndex(t0 + (np.arange(n) // 50).astype("timedelta64[h]"),
                                       tz="UTC"),
        "z_entry": rng.choice([-1, 1], n) * rng.uniform(2.0, 3.5, n),
        "beta": rng.choice([-1, 1], n) * rng.uniform(0.05, 2.0, n),
        "spread_std": rng.uniform(0.005, 0.05, n), "price_a": rng.uniform(0.1, 1e4, n),
        "price_b": rng.uniform(0.1, 1e4, n), "vol_a": rng.uniform(0.002, 0.02, n),
        "vol_b": rng.uniform(0.002, 0.02, n),
    })  # fmt: skip
    costs = CostConfig(taker_fee=0.0005, slippage_bps=2.0)
    heads = pd.DataFrame({
        "revert_mean": rng.normal(0.001, 0.004, n), "revert_se": rng.uniform(1e-4, 1e-3, n),
        "revert_m2": rng.uniform(1e-4, 1e-3, n), "continue_mean": rng.normal(0.0, 0.004, n),
        "continue_se": rng.uniform(1e-4, 1e-3, n), "continue_m2": rng.uniform(1e-4, 1e-3, n),
    })  # fmt: skip
    sizing, label = SizingConfig(), LabelConfig()
    laps = Laps()
    with laps("decide"):
        frame = pd.concat([frame, decide(heads, costs, min_edge=sizing.min_edge)], axis=1)
    size_signals(frame.iloc[:200], sizing, costs, label)  # compile / load the numba cache
    books = frame["entry_time"].to_numpy()
    for name, kw in (("one_book", {}), ("books_of_50", {"books": books})):
        for _ in range(repeat):
            with laps(name):
                size_signals(frame, sizing, costs, label, **kw)
    out: dict[str, float] = {"rows": float(n)}
    for name, (wall, cpu) in laps.times.items():
        out[f"{name}_s"], out[f"{name}_cpu_s"] = wall, cpu
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
    ap.add_argument("--only-sizing", action="store_true",
                    help="only the data-free sizing benchmark (300k generated signals)")
    ap.add_argument("--scoring-panel", action="store_true",
                    help="only the data-free historical-scoring benchmark: generate 40 assets x "
                         "912 days (~260k divergences), train, time `revertible score --since`")
    ap.add_argument("--panel-dir", default=None,
                    help="keep the scoring panel's data, config, store and signals here (a "
                         "model trained there by an earlier run is reused)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for the scoring panel's training and scoring")
    args = ap.parse_args(argv)
    if args.only_sizing:
        print(f"revertible bench (sizing): {load_text()} at the start")
        _print_sizing(bench_sizing(repeat=args.repeat))
        print(f"  {load_text()} at the end")
        return 0
    if args.scoring_panel:
        print(f"revertible bench: {os.cpu_count()} cores, numba threads {numba.get_num_threads()}")
        _print_scoring_panel(bench_scoring_panel(**SCORING_PANEL, root=args.panel_dir,
                                                 sets=args.sets))
        return 0
    cfg = load_config(args.config, data=args.data)
    if not Path(cfg.data.path).is_dir():
        print(f"bench: data folder {cfg.data.path} not found (set REVERTIBLE_DATA)",
              file=sys.stderr)
        return 2
    print(f"revertible bench: {os.cpu_count()} cores, numba threads {numba.get_num_threads()}; "
          f"{load_text()} at the start", flush=True)
    c0 = cpu_s()
    laps = Laps()
    r = bench_episodes(cfg, args.repeat, laps)
    print(f"  data                 {cfg.data.path}")
    print(f"  assets x bars        {r['bars']:.0f} bars, {r['pairs']:.0f} pairs")
    print(f"  load                 {laps.text('load')}")
    print(f"  warm-up (4 assets)   {laps.text('warm-up')}  (compiles or loads the kernels)")
    print(f"  eligibility          {laps.text('eligibility')}")
    print(f"  episodes+outcomes    {laps.text('episodes+outcomes')}  "
          f"-> {r['pair_bars_per_s'] / 1e6:.1f} M pair-bars/s "
          f"({r['pair_bars'] / laps['episodes+outcomes'][1] / 1e6:.1f} M per CPU-s), "
          f"{r['episodes']:.0f} episodes (best of {args.repeat})")
    print(f"  outcomes alone       {laps.text('outcomes')}  (both trades of every episode); "
          f"spread kernel without them {r['spread_kernel_pair_bars_per_s'] / 1e6:.1f} M "
          f"pair-bars/s")
    print(f"  files -> episodes    {laps.text('files -> episodes')}", flush=True)
    _print_sizing(bench_sizing(repeat=args.repeat))
    if args.model:
        sc = bench_scoring(args.config, args.data, args.model, args.tracking)
        print(f"  score live           {wall_cpu(sc['score_live_s'], sc['score_live_cpu_s'])}, "
              f"fresh process ({sc['score_live_rows']} open divergences)")
        print(f"  score historical     "
              f"{wall_cpu(sc['score_historical_s'], sc['score_historical_cpu_s'])}, fresh process "
              f"({sc['score_historical_rows']} divergences)")
    print(f"  peak RSS             {peak_rss_mb():.0f} MiB")
    print(f"  process CPU          {cpu_s() - c0:.1f} s (user + system, all threads; "
          f"{numba.get_num_threads()} numba threads); {load_text()} at the end")
    return 0


def _print_sizing(sz: dict[str, float]) -> None:
    n = sz["rows"]
    print(f"  decide               {wall_cpu(sz['decide_s'], sz['decide_cpu_s'])}  -> "
          f"{n / sz['decide_s'] / 1e6:.2f} M rows/s ({n:.0f} signals)")
    print(f"  sizing, one book     {wall_cpu(sz['one_book_s'], sz['one_book_cpu_s'])}  -> "
          f"{n / sz['one_book_s']:,.0f} rows/s")
    print(f"  sizing, books of 50  {wall_cpu(sz['books_of_50_s'], sz['books_of_50_cpu_s'])}  -> "
          f"{n / sz['books_of_50_s']:,.0f} rows/s", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
