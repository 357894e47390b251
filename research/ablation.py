"""Feature-group ablation: train once per left-out group on one feature table (not a test).

Usage::

    python research/ablation.py [--config configs/binance-spot-1h.yaml] [--set key=value ...]

Every variant is a normal, tracked training run (tag ``ablation=<group>``, not registered), so the
table can also be compared in the MLflow UI. Prints a Markdown table of CV and holdout metrics.
"""

from __future__ import annotations

import argparse
import time

from revertible.config import load_config
from revertible.data import load_panel
from revertible.features import FEATURE_GROUPS
from revertible.model import prepare_dataset
from revertible.tracking import Tracker
from revertible.workflows import train

KEYS = ("roc_auc", "pr_auc", "log_loss", "brier_skill", "ece", "top_decile_precision")


def main(argv: list[str] | None = None) -> int:
    """Run the ablation and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", default="configs/binance-spot-1h.yaml")
    ap.add_argument("--set", action="append", default=[], dest="sets")
    ap.add_argument("--groups", nargs="*", default=None, help="groups to leave out (default all)")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, args.sets)
    t0 = time.perf_counter()
    panel = load_panel(cfg.data)
    dataset = prepare_dataset(cfg, panel)
    print(f"features for {len(dataset[0])} episodes in {time.perf_counter() - t0:.0f} s")
    tracker = Tracker(cfg.tracking).connect()
    rows = []
    for group in [None, *(args.groups or FEATURE_GROUPS)]:
        if group == "funding" and not cfg.features.use_funding:
            continue
        c = cfg if group is None else cfg.model_copy(update={"model": cfg.model.model_copy(
            update={"exclude_features": (*cfg.model.exclude_features, f"group:{group}")})})
        t1 = time.perf_counter()
        res = train(c, panel=panel, dataset=dataset, tracker=tracker, register=False,
                    extra_tags={"ablation": group or "none"})
        m = res["metrics"]
        rows.append((group or "(all features)", m, time.perf_counter() - t1))
        print(f"  without {group or 'nothing'}: cv auc {m['cv.roc_auc']:.4f}, "
              f"holdout auc {m['holdout.roc_auc']:.4f} ({time.perf_counter() - t1:.0f} s)",
              flush=True)
    head = "| left out | " + " | ".join(f"cv {k}" for k in KEYS[:2]) + " | " + " | ".join(
        f"holdout {k}" for k in KEYS) + " |"
    print()
    print(head)
    print("|" + "---|" * (2 + len(KEYS) + 1))
    for name, m, _ in rows:
        cells = [f"{m[f'cv.{k}']:.4f}" for k in KEYS[:2]] + [
            f"{m.get(f'holdout.{k}', float('nan')):.4f}" for k in KEYS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    base = rows[0][1]
    for k in ("baseline.logreg_abs_z", "baseline.logreg_z_halflife_corr"):
        cells = [f"{base[f'{k}.cv.{x}']:.4f}" for x in KEYS[:2]] + [
            f"{base.get(f'{k}.holdout.{x}', float('nan')):.4f}" for x in KEYS]
        print(f"| {k} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
