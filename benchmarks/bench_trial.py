"""Benchmark strategy-search trials on the shared spot data (not a test: prints numbers).

Usage::

    python benchmarks/bench_trial.py [--config configs/binance-spot-1h.yaml]
        [--trials 3] [--seed 0] [--vary all|replay] [--full] [--set KEY=VALUE ...]
        [--profile FILE] [--fidelity full|low]

Runs ``--trials`` trials of ``tuning.strategy.space`` (default: the default strategy space)
the way ``revertible tune CONFIG --objective strategy`` does, without Optuna storage or MLflow:
the panel is loaded once and cut at the validation start
(:func:`revertible.tuning.prepare_strategy_data`), points are sampled by a seeded TPE sampler
(``--seed``; the first trials of a study are its random start-up trials), and each trial is
:func:`revertible.tuning.evaluate_strategy` in this one process, so the per-process caches work
as in a tune worker. ``--vary replay`` keeps the first trial's episode settings for every later
trial and samples only the other dimensions (``sizing``, ``costs``, ``backtest``): the
cache-hit case. ``--full`` evaluates with ``light=False`` (the full walk-forward backtest of
every strategy, no prediction cache: a trial as before the light evaluator), for an A/B on the
same machine; the values must be the same.

Per trial it prints the sampled config, the objective value and trade count, wall and CPU
seconds (process user + system, all threads), whether the episode/feature tables and the
walk-forward predictions came from the caches, the stage breakdown (episodes+features,
models, exit paths, replay, metrics, each as wall/CPU seconds; ``other`` is the rest of the
trial: signals, the decision) and the 1-minute load average before and after. The machine
is shared: compare CPU seconds across runs, wall only at a known load. ``--profile FILE``
writes a cProfile of the trials (``python -m pstats FILE``). A warm-up trial on a small slice
first compiles the numba kernels (cached on disk afterwards), so the timed trials do not
include compilation.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import sys
import time

import optuna
from _clock import cpu_s, load1, peak_rss_mb

from revertible.config import load_config
from revertible.data import load_panel
from revertible.tuning import evaluate_strategy, prepare_strategy_data, suggest_params
from revertible.tuning._strategy import _EPISODE_KEYS, config_with

STAGES = (("episodes+features", "episodes_features"), ("models", "models"), ("paths", "paths"),
          ("replay", "simulation"), ("metrics", "metrics"))
"""(printed name, key of ``timings``: ``<key>_s`` wall, ``<key>_cpu_s`` CPU)."""


def sample(study: optuna.Study, cfg, first: dict | None, vary: str) -> dict:
    """One point of the space; with ``vary=replay`` the first point's episode settings."""
    space = cfg.tuning.strategy.space
    if vary == "replay" and first is not None:
        space = {k: r for k, r in space.items() if not k.startswith(_EPISODE_KEYS)}
    trial = study.ask()
    params = suggest_params(trial, space)
    if vary == "replay" and first is not None:
        params = {**{k: v for k, v in first.items() if k.startswith(_EPISODE_KEYS)}, **params}
    study.tell(trial, 0.0)
    return params


def main(argv: list[str] | None = None) -> int:
    """Run the trials and print their numbers (module docstring); returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="configs/binance-spot-1h.yaml")
    ap.add_argument("--data", default=None, help="data folder (default: the config's)")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0, help="sampler seed")
    ap.add_argument("--vary", choices=("all", "replay"), default="all")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--full", action="store_true", help="light=False: the full backtest")
    ap.add_argument("--profile", default=None, metavar="FILE")
    ap.add_argument("--fidelity", choices=("full", "low"), default="full",
                    help="low: the low-fidelity evaluator of tuning.strategy.fidelity=low")
    args = ap.parse_args(argv)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cfg = load_config(args.config, args.sets, data=args.data)
    t0, c0 = time.perf_counter(), cpu_s()
    panel = load_panel(cfg.data)
    data = prepare_strategy_data(panel, cfg)
    print(f"load + split: {time.perf_counter() - t0:.1f}s wall, {cpu_s() - c0:.1f}s CPU; search "
          f"panel {data.panel.n_assets} assets x {data.panel.n_bars} bars "
          f"({data.panel.times[0]:%Y-%m-%d}..{data.panel.times[-1]:%Y-%m-%d}); "
          f"{os.cpu_count()} CPUs, load {load1():.2f}", flush=True)

    # warm-up: compile numba kernels (disk-cached afterwards) on a few assets, untimed
    t0 = time.perf_counter()
    small = prepare_strategy_data(panel.select(list(panel.assets[:12])), cfg)
    try:
        evaluate_strategy(small, cfg)
    except Exception as exc:  # noqa: BLE001  (a warm-up may find too few episodes)
        print(f"warm-up: {type(exc).__name__}: {exc}")
    print(f"warm-up (12 assets): {time.perf_counter() - t0:.1f}s", flush=True)

    print(f"evaluator: {'full (light=False)' if args.full else 'light'}, fidelity {args.fidelity}")
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=args.seed))
    prof = cProfile.Profile() if args.profile else None
    first: dict | None = None
    rows = []
    for i in range(args.trials):
        params = sample(study, cfg, first, args.vary)
        first = first or params
        tcfg = config_with(cfg, params)
        la0 = load1()
        t0, c0 = time.perf_counter(), cpu_s()
        if prof is not None:
            prof.enable()
        fig = evaluate_strategy(data, tcfg, light=not args.full, fidelity=args.fidelity)
        if prof is not None:
            prof.disable()
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
        tm = fig["timings"]
        stages = {name: (tm.get(f"{k}_s", 0.0), tm.get(f"{k}_cpu_s", 0.0)) for name, k in STAGES}
        stages["other"] = (wall - sum(v[0] for v in stages.values()),
                           cpu - sum(v[1] for v in stages.values()))
        cache = "hit" if fig["cached"] else "miss"
        pcache = "hit" if fig.get("predictions_cached") else "miss"
        print(f"\ntrial {i}: {params}")
        print(f"  value {fig['value']:.4f} ({fig['trades']:.0f} trades, net {fig['net_bp']:.2f} "
              f"bp/trade)  wall {wall:.1f}s  CPU {cpu:.1f}s  episodes cache {cache}, "
              f"predictions cache {pcache}  load {la0:.2f} -> {load1():.2f}")
        print(f"  {fig['n_blocks']:.0f} walk-forward blocks, {fig['train_rows']:.0f} training rows "
              "in all")
        print("  wall/CPU s: " + "  ".join(f"{k} {w:.1f}/{c:.1f}" for k, (w, c) in stages.items()),
              flush=True)
        rows.append((wall, cpu))
    if prof is not None:
        prof.dump_stats(args.profile)
        print(f"\nprofile: {args.profile}")
    n = len(rows)
    print(f"\nmean of {n} trials: wall {sum(r[0] for r in rows) / n:.1f}s, CPU "
          f"{sum(r[1] for r in rows) / n:.1f}s, max wall {max(r[0] for r in rows):.1f}s; "
          f"load {load1():.2f}; the whole process {cpu_s():.1f}s CPU, peak RSS "
          f"{peak_rss_mb():.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
