"""Choose the return calibrator's bins and shrinkage on purged CV of the development period only.

Trains the reversion model's purged walk-forward CV on the spot episodes whose labels ended
before the first walk-forward block (``--until``, default 2024-04-27: nothing later is read),
then, for each setting (``decision.common_level`` estimate / adverse x drift term off / on x
bins x shrinkage), checks the calibrator walk-forward on that held-out record
(:func:`revertible.model.calibration_cv`: fold k predicted by a calibrator of the earlier folds)
and prints, per setting: the mean squared error of the realised revert return around the
calibrated mean (lower is better), the coverage of the one-sided 95% lower bound (share of
fold-k bins whose realised mean is above the bound; should be >= 0.95), the same for the bin's
mean edge over its fold-week's average divergence (what ``common_level: adverse`` bounds; its
bound also holds the level counted, if any) and the share of held-out divergences whose
lower bound clears the round trip.

Usage::

    python research/calibrator_cv.py [--config configs/binance-spot-1h.yaml] [--until 2024-04-27]

Data: ``$REVERTIBLE_DATA`` (default ``../shared/data``).
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import pandas as pd
from scipy.stats import norm

from revertible.config import load_config
from revertible.costs import round_trip_cost
from revertible.data import load_panel
from revertible.episodes import entry_targets
from revertible.features import feature_groups, feature_names
from revertible.model import (
    calibration_cv,
    fit_reversion_model,
    label_end,
    outcome_end,
    prepare_dataset,
    select_features,
    week_clusters,
)

BINS = (5, 10, 20)
SHRINKAGE = (0.0, 200.0, 1000.0)
CLUSTER_DAYS = (7,)
DRIFT_DAYS = (None, 30)
COMMON_LEVEL = ("estimate", "adverse")


def main() -> None:
    """Run the study and print its table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/binance-spot-1h.yaml")
    ap.add_argument("--until", default="2024-04-27")
    a = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    cfg = load_config(a.config)
    panel = load_panel(cfg.data).cut(pd.Timestamp(a.until, tz="UTC"))
    eps, feats = prepare_dataset(cfg, panel)
    end = label_end(eps, cfg.label.horizon, panel.freq)
    lab = (eps["label"].notna() & (end < panel.times[-1])).to_numpy()
    e, X = eps[lab].reset_index(drop=True), feats[lab].reset_index(drop=True)
    ends = end[lab].reset_index(drop=True)
    tg = entry_targets(panel, e, cfg.sizing.split)
    known = outcome_end(e, cfg.label, cfg.continue_, panel.freq)  # both trades' outcomes
    fn = select_features(cfg, feature_names(cfg), feature_groups(cfg))
    _, cv = fit_reversion_model(cfg, X, e["label"].to_numpy(int), e["entry_time"], ends, tg, fn,
                                panel.freq)
    print(f"{len(e)} labelled development episodes to {panel.times[-1]:%Y-%m-%d}, "
          f"{int((cv['fold_id'] >= 0).sum())} held out; "
          f"{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s")
    cost = round_trip_cost(cfg.costs)
    z = norm.ppf(cfg.decision.confidence)
    for level, drift, days, bins, k in itertools.product(COMMON_LEVEL, DRIFT_DAYS, CLUSTER_DAYS,
                                                         BINS, SHRINKAGE):
        c = cfg.model_copy(update={"decision": cfg.decision.model_copy(
            update={"calibration_bins": bins, "shrinkage": k, "cluster_days": days,
                    "drift_days": drift, "common_level": level})})
        pred = calibration_cv(c, cv["score"], cv["fold_id"], cv["folds"], tg, e["entry_time"],
                              known)
        r, m, se = pred["revert"], pred["revert_mean"], pred["revert_se"]
        mse = float(np.mean((r - m) ** 2))
        lower = m - z * se
        week = week_clusters(pred["entry_time"], c.decision.cluster_days)
        # the edge over the fold-week's average divergence: what 'adverse' bounds
        rel = r - r.groupby([pred["fold"], week]).transform("mean")
        cover = {name: _coverage(x, m, se, pred["fold"], week, z) for name, x in
                 (("mean", r), ("edge", rel))}
        clears = float(np.mean(lower - cost > 0))
        print(f"level {level}, drift {drift} d, clusters {days:2d} d, bins {bins:2d}, "
              f"shrinkage {k:6.0f}: mse x1e4 {mse * 1e4:.5f}, coverage of the bin "
              + ", ".join(f"{n} {a:.3f} (with the fold's noise {b:.3f}, {g} bins)"
                          for n, (a, b, g) in cover.items())
              + f", clears {clears:.4f}, n {len(pred)}")


def _coverage(x: pd.Series, m: pd.Series, se: pd.Series, fold: pd.Series, week: np.ndarray,
              z: float) -> tuple[float, float, int]:
    """Share of (fold, bin) whose realised mean of ``x`` is above the bound ``m - z se``.

    Only bins with a finite bound count (an infinite standard error never trades). Second:
    the same against ``m - z sqrt(se^2 + se_f^2)`` with ``se_f`` the fold bin mean's own
    week-clustered standard error: the realised fold mean is itself noisy, so a correct bound
    on the *expected* value covers it ~95% of the time only once that noise is added.
    """
    rows = []
    for (_, _mb), idx in x.groupby([fold, m]).groups.items():
        xs, s_b = x.loc[idx].to_numpy(float), float(se.loc[idx].iloc[0])
        if not np.isfinite(s_b):
            continue
        mu = xs.mean()
        sums = pd.Series(xs - mu).groupby(week[fold.index.get_indexer(idx)]).sum().to_numpy()
        g = len(sums)
        se_f = np.sqrt(g / max(g - 1, 1) * np.sum(sums * sums)) / len(xs)
        rows.append((mu >= _mb - z * s_b, mu >= _mb - z * np.hypot(s_b, se_f)))
    a = np.array(rows, dtype=float).reshape(-1, 2)
    return float(a[:, 0].mean()), float(a[:, 1].mean()), len(a)

if __name__ == "__main__":
    main()
