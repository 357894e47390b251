"""Walk-forward calibration record on CV of the development period: block folds vs earlier blocks.

Reads the spot data up to ``--until`` (default 2024-04-27, the first walk-forward block of the
backtest; nothing later is read), lays walk-forward blocks over it (``--blocks
MIN_TRAIN_DAYS:RETRAIN_DAYS``, several allowed) and runs
:func:`revertible.backtest.walk_forward_predictions` under both calibration records
(``backtest.calibration_record``):

* ``folds`` (the earlier scheme): every block refits ``backtest.calibration_folds`` purged CV
  folds and calibrates on their out-of-fold scores;
* ``earlier_blocks``: the first block does that, every later block calibrates on the scores the
  earlier blocks' models gave episodes they never trained on, whose labels ended before it.

Both schemes fit the same final classifier per block, so they differ only in the calibrators.
Evaluated on each block's next-period episodes with a label (blocks 2.. only, where the schemes
differ, and all blocks): ROC AUC of the calibrated probability, its Brier score and ECE
(10 equal-count bins), and the return calibrator's reliability on the realised revert
return (gross, the legs ``sizing.split`` trades): OLS slope of realised on expected (1 is
ideal), mean squared error around the expected mean, and the coverage of the one-sided
``decision.confidence`` lower bound (share of (block, calibrator-bin) cells whose realised mean is
at or above it; should be >= the confidence). Also the CPU seconds of the model stage (all
threads of this process), and the differences (earlier_blocks - folds) of AUC, Brier, ECE and
the return MSE on blocks 2.. with 90% intervals of a paired day-block bootstrap. ``--warm N``
adds ``earlier_blocks`` with warm starts (``backtest.warm_start_trees=N``), compared with the
cold ``earlier_blocks``.

Usage::

    python research/block_calibration.py [--config configs/binance-spot-1h.yaml]
        [--until 2024-04-27] [--blocks 60:30 --blocks 30:15 ...] [--workers 2] [--warm 50 ...]

Data: ``$REVERTIBLE_DATA`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from revertible.backtest import walk_forward_predictions
from revertible.config import load_config
from revertible.data import load_panel
from revertible.episodes import outcome_targets
from revertible.model import expected_calibration_error, label_end, prepare_dataset

RECORDS = ("folds", "earlier_blocks")


def _with(cfg, section: str, **kw):
    return cfg.model_copy(update={section: getattr(cfg, section).model_copy(update=kw)})


def evaluate(cfg, wfp, eps: pd.DataFrame, targets: pd.DataFrame, ends: pd.Series,
             last: pd.Timestamp, first_block: int) -> dict[str, float]:  # fmt: skip
    """Metrics of the scored, labelled episodes of blocks ``first_block``.. (0-based)."""
    entry = eps["entry_time"]
    starts = pd.DatetimeIndex(wfp.blocks["start"]).as_unit("ns").asi8
    block = np.searchsorted(starts, pd.DatetimeIndex(entry).as_unit("ns").asi8, "right") - 1
    y = eps["label"].to_numpy(dtype=float, na_value=np.nan)
    ok = (np.isfinite(wfp.probability) & np.isfinite(y) & (block >= first_block)
          & (ends < last).to_numpy() & np.isfinite(targets.to_numpy(float)).all(axis=1))
    if not ok.any():
        return {"n": 0}
    p, yy = wfp.probability[ok], y[ok].astype(int)
    heads = pd.DataFrame(wfp.heads[ok], columns=["score_quantile", *_outcome_columns()])
    m, se = heads["revert_mean"].to_numpy(), heads["revert_se"].to_numpy()
    r = targets["revert"].to_numpy(float)[ok]
    z = norm.ppf(cfg.decision.confidence)
    cells = pd.DataFrame({"b": block[ok], "m": m, "lower": m - z * se, "r": r})
    g = cells.groupby(["b", "m"])
    cover = float((g["r"].mean() >= g["lower"].first()).mean())
    slope = float(np.polyfit(m, r, 1)[0]) if np.ptp(m) > 0 else float("nan")
    return {"n": int(ok.sum()), "auc": float(roc_auc_score(yy, p)),
            "brier": float(np.mean((p - yy) ** 2)), "ece": expected_calibration_error(yy, p),
            "slope": slope, "mse_1e4": float(np.mean((r - m) ** 2)) * 1e4, "coverage": cover,
            "cells": int(g.ngroups)}  # fmt: skip


def paired_bootstrap(a, b, eps: pd.DataFrame, targets: pd.DataFrame, ends: pd.Series,
                     last: pd.Timestamp, n_boot: int = 200,
                     seed: int = 0) -> dict[str, tuple[float, float, float]]:  # fmt: skip
    """Differences ``b - a`` on blocks 2.. with 90% day-block bootstrap intervals.

    Both score the same rows; entry days are resampled with replacement (rows of one day
    together: their labels overlap).
    """
    entry = eps["entry_time"]
    starts = pd.DatetimeIndex(a.blocks["start"]).as_unit("ns").asi8
    ns = pd.DatetimeIndex(entry).as_unit("ns").asi8
    block = np.searchsorted(starts, ns, "right") - 1
    y = eps["label"].to_numpy(dtype=float, na_value=np.nan)
    ok = (np.isfinite(a.probability) & np.isfinite(b.probability) & np.isfinite(y)
          & (block >= 1) & (ends < last).to_numpy())
    rows = np.flatnonzero(ok)
    if not len(rows):
        return {}
    r = targets["revert"].to_numpy(float)
    col = 1 + list(_outcome_columns()).index("revert_mean")

    def stats(idx: np.ndarray) -> np.ndarray:
        yy = y[idx].astype(int)
        out = []
        for w in (a, b):
            p = w.probability[idx]
            out.append([roc_auc_score(yy, p), np.mean((p - yy) ** 2),
                        expected_calibration_error(yy, p),
                        np.mean((r[idx] - w.heads[idx, col]) ** 2) * 1e4])
        return np.array(out[1]) - np.array(out[0])

    day = ns[rows] // 86_400_000_000_000
    days, inv = np.unique(day, return_inverse=True)
    by_day = np.split(rows[np.argsort(inv, kind="stable")], np.cumsum(np.bincount(inv))[:-1])
    rng = np.random.default_rng(seed)
    boot = np.array([stats(np.concatenate([by_day[i] for i in
                                           rng.integers(0, len(days), len(days))]))
                     for _ in range(n_boot)])  # fmt: skip
    point = stats(rows)
    lo, hi = np.quantile(boot, [0.05, 0.95], axis=0)
    return {k: (point[i], lo[i], hi[i])
            for i, k in enumerate(("auc", "brier", "ece", "mse_1e4"))}


def _outcome_columns() -> tuple[str, ...]:
    from revertible.model import OUTCOME_COLUMNS

    return OUTCOME_COLUMNS


def main() -> None:
    """Run the comparison and print one table row per setting, record and evaluation set."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/binance-spot-1h.yaml")
    ap.add_argument("--until", default="2024-04-27")
    ap.add_argument("--blocks", action="append", default=None,
                    help="MIN_TRAIN_DAYS:RETRAIN_DAYS (repeatable; default 60:30, 30:15, 40:10)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--warm", type=int, action="append", default=None,
                    help="also earlier_blocks with backtest.warm_start_trees=N (repeatable)")
    a = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    cfg = load_config(a.config)
    panel = load_panel(cfg.data).cut(pd.Timestamp(a.until, tz="UTC"))
    eps, feats = prepare_dataset(cfg, panel)
    ends = label_end(eps, cfg.label.horizon, panel.freq)
    targets = outcome_targets(eps, cfg.sizing.split)
    last = panel.times[-1]
    print(f"development period {panel.times[0]:%Y-%m-%d}..{last:%Y-%m-%d %H:%M}: "
          f"{len(eps)} episodes, {int(eps['label'].notna().sum())} labelled; data "
          f"{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    print("blocks  record          eval        n      AUC     Brier   ECE     slope  "
          "MSEx1e4  cover  cells  CPU-s  wall-s  load")
    for spec in a.blocks or ["60:30", "30:15", "40:10"]:
        train_days, every = (int(v) for v in spec.split(":"))
        wfps = {}
        variants = [(r, None) for r in RECORDS] + [("earlier_blocks", w) for w in a.warm or []]
        for record, warm in variants:
            c = _with(cfg, "backtest", min_train_days=train_days, retrain_every_days=every,
                      calibration_record=record, warm_start_trees=warm)
            label = record if warm is None else f"warm {warm} trees"
            t1, c1 = time.perf_counter(), time.process_time()
            wfp = walk_forward_predictions(c, eps, feats, panel.times[0], last, panel.freq,
                                           workers=a.workers)
            cpu, wall = time.process_time() - c1, time.perf_counter() - t1
            wfps[label] = wfp
            for name, first in (("blocks 2..", 1), ("all blocks", 0)):
                e = evaluate(c, wfp, eps, targets, ends, last, first)
                if not e["n"]:
                    print(f"{spec:7s} {label:15s} {name:10s}       0 (no labelled episode)")
                    continue
                print(f"{spec:7s} {label:15s} {name:10s} {e['n']:7d}  {e['auc']:.4f}  "
                      f"{e['brier']:.4f}  {e['ece']:.4f}  {e['slope']:6.3f}  "
                      f"{e['mse_1e4']:7.3f}  {e['coverage']:.3f}  {e['cells']:5d}  "
                      f"{cpu:5.1f}  {wall:6.1f}  {os.getloadavg()[0]:.2f}  "
                      f"({len(wfp.blocks)} blocks)", flush=True)
        base = "folds"
        for label in list(wfps)[1:]:
            if label != "earlier_blocks" and "earlier_blocks" in wfps:
                base = "earlier_blocks"  # a warm start against the cold earlier_blocks
            diff = paired_bootstrap(wfps[base], wfps[label], eps, targets, ends, last)
            if diff:
                print(f"{spec:7s} {label} - {base}, blocks 2.. [90% day-block bootstrap]: "
                      + ", ".join(f"{k} {v[0]:+.4f} [{v[1]:+.4f}, {v[2]:+.4f}]"
                                  for k, v in diff.items()), flush=True)

if __name__ == "__main__":
    main()
