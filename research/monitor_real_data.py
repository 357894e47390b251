"""The monitor on the shared data: how often a calibrated model's live record raises an alarm.

Trains the config's model (``revertible train``, in a throw-away MLflow store), then checks its
live record (entries from where the labels it saw stop, its holdout start, to the last bar)
every ``--every`` as a cron job would (:func:`revertible.monitor.scan`), twice: with the
labels' design effect stored with the model, and taking the labels as independent (design
effect 1, the monitor before it).
Prints the design effect, how many checks raised an alarm and by which check, and the first
alerts (README "Monitor details", "Dependent labels"). ``--break-at T`` then plants a break in
the real record: from T on, each reversion is kept with probability ``--keep`` (else it becomes
a miss; seed 0), which keeps the labels' dependence, and prints when each way first alarms.

Usage::

    PYTHONPATH=src python research/monitor_real_data.py configs/binance-spot-1h.yaml [--every 1D]
    PYTHONPATH=src python research/monitor_real_data.py configs/binance-perp-1h.yaml \
        --break-at 2024-08-10 --keep 0.6
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import tempfile
import time

import numpy as np
import pandas as pd

from revertible.config import load_config
from revertible.data import load_panel
from revertible.episodes import build_episodes
from revertible.model import forward_start
from revertible.monitor import cusum_limit, live_record, reference_of, scan
from revertible.workflows import train


def _kind(alert: str) -> str:
    return "CUSUM" if "sequential test" in alert else alert.split(":")[0]


def _first(res: pd.DataFrame, alerts: pd.Series, brk: pd.Timestamp, after: bool = False) -> str:
    fired = res[(alerts.map(len) > 0) & ((res["at"] >= brk) if after else True)]
    if not len(fired):
        return "never"
    return (f"{(fired['at'].iloc[0] - brk) / pd.Timedelta(days=1):+.1f} days after the break "
            f"({', '.join(map(_kind, alerts[fired.index[0]]))})")


def main() -> None:
    """Train, scan the live record both ways, print the counts."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--every", default="1D", help="time between checks (pandas offset)")
    ap.add_argument("--set", action="append", default=[], help="config key=value")
    ap.add_argument("--break-at", default=None, help="plant a break from this time (UTC)")
    ap.add_argument("--keep", type=float, default=0.6,
                    help="after the break, each reversion stays one with this probability")
    args = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(args.config, [f"tracking.uri=sqlite:///{tmp}/mlflow.db",
                                         f"tracking.artifact_location=file://{tmp}/artifacts",
                                         *args.set])
        panel = load_panel(cfg.data)
        history = build_episodes(panel, cfg)  # once: training uses the same episodes
        model = train(cfg, panel=panel, episodes=history, register=False)["model"]
    ref = reference_of(model, panel, history, cfg)
    start, end = forward_start(model.meta), pd.Timestamp(panel.times[-1])
    record = live_record(panel, history, model, cfg, start)
    n_res = int(record["label"].notna().sum())
    days = (end - start) / pd.Timedelta(days=1)
    print(f"{args.config}: live record {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} "
          f"({days:.0f} days), {len(record)} divergences, {n_res} labels "
          f"({7 * n_res / days:.0f} a week); design effect {ref.design}")
    level, how = cusum_limit(ref, cfg.monitor)
    print(f"sequential test's level {level:.2f} ({how})")
    ways = (("with the design effect", ref),
            ("labels as independent", dataclasses.replace(ref, design_effect=1.0, rho=0.0)))
    for name, r in ways:
        res = scan(record, r, cfg.monitor, start, end, every=args.every)
        fired = res[res["alerts"].map(len) > 0]
        kinds = collections.Counter(_kind(a) for al in fired["alerts"] for a in al)
        print(f"{name}: {len(fired)}/{len(res)} checks (every {args.every}) raise an alarm; "
              f"alerts by check {dict(kinds)}")
        for al in fired["alerts"].head(2):
            print("   ", " | ".join(al))
    if args.break_at is not None:
        brk = pd.Timestamp(args.break_at)  # naive means UTC
        brk = brk.tz_localize("UTC") if brk.tzinfo is None else brk.tz_convert("UTC")
        broken = record.copy()
        after = (broken["entry_time"] >= brk) & (broken["label"] == 1)
        drop = np.random.default_rng(0).random(len(broken)) >= args.keep
        broken.loc[after & drop, "label"] = 0.0
        was = record.loc[record["entry_time"] >= brk, "label"].mean()
        print(f"break from {brk:%Y-%m-%d %H:%M}: the reversion rate of later entries "
              f"{was:.1%} -> {broken.loc[broken['entry_time'] >= brk, 'label'].mean():.1%}")
        for name, r in ways:
            res = scan(broken, r, cfg.monitor, start, end, every="3h")
            calib = res["alerts"].map(lambda al: [a for a in al if a.startswith("calibration")])
            print(f"{name}: first alarm {_first(res, res['alerts'], brk)}; first calibration "
                  f"alarm after the break {_first(res, calib, brk, after=True)}")
    print(f"{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s")


if __name__ == "__main__":
    main()
