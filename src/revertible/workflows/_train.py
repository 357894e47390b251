"""Training: features -> purged walk-forward CV -> calibration -> final fit -> holdout -> MLflow.

Honest numbers by construction:

* the final holdout (last ``cv.holdout_frac`` of time) is evaluated once, by the final model, and
  nothing is chosen by looking at it;
* cross-validated probabilities are calibrated walk-forward: fold k's raw scores go through a
  calibrator fitted on the out-of-fold raw scores of folds ``< k`` only, so the pooled CV metrics
  (folds 2..K) never calibrate on their own labels; the first fold only seeds the calibrator;
* the final calibrator is fitted on all out-of-fold raw scores (never on in-sample scores), and
  maps the final model's raw scores on the holdout;
* the Brier skill reference is the training prevalence;
* the return calibrator (the expected return the decision rests on) is fitted on the held-out
  record only (out-of-fold probabilities and realised returns), checked walk-forward on that
  record (``decision.cv.*``: each fold by a calibrator of the earlier folds) and once on the
  holdout (``decision.holdout.*``); the scorer's in-sample and held-out rank IC are logged
  (``scorer.*``) with a warning when they disagree.

Every run logs the flattened config, the YAML, the data fingerprint, git commit and package version,
the same metric names (``cv.*``, ``holdout.*``, ``baseline.<name>.{cv,holdout}.*``, ``fold<k>.*``,
``decision.{cv,holdout}.*``, ``scorer.*``), the plots, the return calibrator's reliability table
(``return_calibrator.csv``) and the model with its signature, registered under
``tracking.registered_model``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from ..config import Config, flatten
from ..costs import effective_costs, round_trip_cost
from ..decision import QUALITY_DECILES, decide, decision_quality, realised_net
from ..episodes import entry_targets
from ..model import (
    BASELINES,
    OUTCOME_COLUMNS,
    BinnedFeatures,
    calibration_cv,
    classification_metrics,
    development_split,
    fit_predict,
    fit_reversion_model,
    known_targets,
    lgbm_params,
    outcome_end,
    overfit_warning,
    prepare_dataset,
    select_features,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from ..data import Panel

__all__ = ["train"]


def train(
    cfg: Config,
    *,
    config_path: str | Path | None = None,
    panel: Panel | None = None,
    episodes: pd.DataFrame | None = None,
    tracker: Any = None,
    promote: bool = False,
    register: bool = True,
    console: Any = None,
    progress: Callable[..., Any] | None = None,
    extra_tags: dict[str, str] | None = None,
    parent_run_id: str | None = None,
    dataset: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """Train, evaluate and log one model; return ``run_id``, ``model_uri`` and flat ``metrics``.

    ``dataset`` (episodes sorted by entry time, features in the same order, as returned by
    :func:`prepare_dataset`) skips recomputing features, e.g. for ablations over one panel.
    """
    import contextlib

    from ..data import load_panel
    from ..features import feature_groups, feature_names
    from ..model import (
        importance_figure,
        probability_hist_figure,
        reliability_figure,
        return_decile_figure,
        roc_figure,
    )
    from ..tracking import Tracker

    def say(msg: str) -> None:
        if console is not None:
            console.print(msg, markup=False, highlight=False)

    bar_ctx = progress or (lambda *_a, **_k: contextlib.nullcontext(lambda *_: None))
    t_start = time.perf_counter()
    tracker = tracker or Tracker(cfg.tracking)
    tracker.connect()
    panel = load_panel(cfg.data) if panel is None else panel
    if dataset is None:
        with bar_ctx("features (pairs)") as update:
            eps, feats = prepare_dataset(cfg, panel, episodes, progress=update)
    else:
        eps, feats = dataset
    t_feat = time.perf_counter() - t_start
    features = select_features(cfg, feature_names(cfg), feature_groups(cfg))
    bar = panel.freq
    split = development_split(cfg, eps, feats, bar)
    dev, hold, hstart = split["dev"], split["hold"], split["holdout_start"]
    y_all = split["y_all"]
    Xd, yd, ed, nd = split["X"], split["y"], split["entry"], split["end"]
    say(f"training on {len(dev)} development episodes ({len(features)} features), holdout from "
        f"{hstart:%Y-%m-%d %H:%M} ({len(hold)} episodes)")
    params = lgbm_params(cfg.model, cfg.seed)
    binned = BinnedFeatures(Xd[features], params)  # every LightGBM fit below reuses the bins
    targets = entry_targets(panel, eps, cfg.sizing.split, cfg.universe.min_obs_frac)
    # both trades' outcomes known: the calibrator's record ends before the holdout too
    od = outcome_end(eps, cfg.label, cfg.continue_, bar).iloc[dev].reset_index(drop=True)
    td = known_targets(targets.iloc[dev].reset_index(drop=True), od, hstart)
    nonnull = [f for f in features if Xd[f].notna().any()]
    meta = {"nonnull_features": nonnull,
            "requires_funding": bool(panel.funding is not None and cfg.features.use_funding
                                     and any(f in nonnull for f in feature_groups(cfg)["funding"])),
            "label": cfg.label.model_dump(),
            "spread": cfg.spread.model_dump(), "features": cfg.features.model_dump(),
            "universe": cfg.universe.model_dump(mode="json"), "holdout_start": str(hstart),
            "trained_until": str(ed.max()), "data_fingerprint": panel.fingerprint(),
            # the last bar of the data it was trained on, holdout included: its age is counted
            # from here (a model trained today is fresh though its holdout ends weeks ago)
            "data_until": str(panel.times[-1]),
            # the return calibrator is gross; the costs the decision was evaluated net of
            "costs": {**cfg.costs.model_dump(mode="json"), **effective_costs(cfg.costs)},
            "venue": str(getattr(cfg.costs, "venue", "custom")),
            "split": cfg.sizing.split, "decision": cfg.decision.model_dump(mode="json"),
            "assets": list(panel.assets), "timeframe": cfg.data.timeframe,
            "bar": cfg.data.resample or cfg.data.timeframe,
            "continue": cfg.continue_.model_dump(mode="json")}
    say(f"walk-forward CV: {cfg.cv.n_folds} purged folds of LightGBM and "
        f"{len(BASELINES)} baselines, then the final fit")
    with bar_ctx("walk-forward folds") as update:
        model, cv = fit_reversion_model(cfg, Xd, yd, ed, nd, td, features, bar, binned=binned,
                                        kinds=("lgbm", *BASELINES), on_fold=update, meta=meta,
                                        workers=None)  # side by side (model.fit_pool)
    from ..monitor import design_effect, quantile_sketch  # the live monitor's reference

    oof = np.isfinite(cv["score"])
    p_dev = model.calibrator.transform(cv["score"][oof])
    model.meta.update(
        quantile_sketch=quantile_sketch(Xd.loc[oof, features].assign(probability=p_dev),
                                        cfg.monitor.sketch_bins),
        base_rate=float(yd.mean()), median_probability=float(np.median(p_dev)),
        design_effect=design_effect(yd[oof], p_dev, nd[oof]))
    warn = overfit_warning(model.meta, cfg.decision.overfit_ic)
    if warn:
        say(warn)
    metrics: dict[str, float] = {}
    base_dev = float(yd.mean())
    for k, v in cv["metrics"]["lgbm"].items():
        metrics[f"cv.{k}"] = v
    metrics["scorer.ic_in_sample"] = float(model.meta["ic_in_sample"])
    metrics["scorer.ic_held_out"] = float(model.meta["ic_held_out"])
    # the decision on the held-out record (each fold by a calibrator of the earlier folds)
    say("checking the return calibrator walk-forward on the held-out record")
    cal = calibration_cv(cfg, cv["score"], cv["fold_id"], cv["folds"], td, ed, od)
    dec_sets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    cost = round_trip_cost(cfg.costs)
    if len(cal):
        dec_sets["CV (walk-forward)"] = _decision_check(
            cfg, cal[list(OUTCOME_COLUMNS)], cal["revert"], cal["continue"], cost, "cv", metrics)
    hold_sets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if len(hold):
        Xh, yh = feats.iloc[hold].reset_index(drop=True), y_all[hold].astype(int)
        ph = model.predict_proba(Xh)
        metrics.update({f"holdout.{k}": v for k, v in
                        classification_metrics(yh, ph, base_dev).items()})
        hold_sets["model"] = (yh, ph)
        th = targets.iloc[hold].reset_index(drop=True)
        dec_sets["holdout"] = _decision_check(cfg, model.predict_outcomes(Xh), th["revert"],
                                              th["continue"], cost, "holdout", metrics)
    for kind in BASELINES:
        for k, v in cv["metrics"][kind].items():
            if not k.startswith("fold"):
                metrics[f"baseline.{kind}.cv.{k}"] = v
        if len(hold):
            pb = fit_predict(kind, Xd, yd, Xh, cfg, features)
            metrics.update({f"baseline.{kind}.holdout.{k}": v for k, v in
                            classification_metrics(yh, pb, base_dev).items()})
            hold_sets[kind] = (yh, pb)
    metrics["data.episodes"] = float(len(eps))
    metrics["data.dev_episodes"] = float(len(dev))
    metrics["data.holdout_episodes"] = float(len(hold))
    metrics["data.base_rate_dev"] = base_dev
    metrics["data.n_features"] = float(len(features))
    metrics["time.features_s"] = t_feat
    metrics["time.total_s"] = time.perf_counter() - t_start

    from ..tracking import run_label

    tags = {"kind": "train", "data_fingerprint": panel.fingerprint(),
            "data_source": str(panel.source), "config_name": cfg.name,
            "holdout_start": str(hstart)}
    tags.update(extra_tags or {})
    with tracker.run(run_name=run_label(cfg, tags["kind"]), tags=tags,
                     parent_run_id=parent_run_id) as run:
        tracker.log_dataset(panel, "training")
        tracker.log_params(flatten(cfg))
        raw_yaml = Path(config_path).read_text() if config_path else ""
        tracker.log_text(raw_yaml or yaml.safe_dump(cfg.model_dump(mode="json")), "config.yaml")
        tracker.log_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False),
                         "config.resolved.yaml")
        tracker.log_metrics(metrics)
        sel = cv["fold_id"] >= 1
        cv_sets = {"model (CV)": (yd[sel], cv["cal"][sel])}
        tracker.log_figure(roc_figure({**cv_sets, **{f"{k} (holdout)": v
                                                     for k, v in hold_sets.items()}}),
                           "plots/roc.png")
        rel = dict(cv_sets)
        if "model" in hold_sets:
            rel["model (holdout)"] = hold_sets["model"]
        tracker.log_figure(reliability_figure(rel), "plots/reliability.png")
        imp = model.classifier.feature_importance("gain")
        tracker.log_figure(importance_figure(imp), "plots/feature_importance.png")
        tracker.log_table(imp.rename("gain").reset_index().rename(columns={"index": "feature"}),
                          "feature_importance.csv")
        if "model" in hold_sets:
            tracker.log_figure(probability_hist_figure(*hold_sets["model"]),
                               "plots/probability_by_label.png")
        tracker.log_figure(return_decile_figure(dec_sets), "plots/return_deciles.png")
        tracker.log_table(model.outcomes.reliability_table(), "return_calibrator.csv")
        if len(cal):
            tracker.log_table(cal, "return_calibrator_cv.csv")
        info = tracker.log_model(model, Xd, register=register)
        version = getattr(info, "registered_model_version", None)
        promoted = tracker.promote(version) if promote and version is not None else ""
        run_id = run.info.run_id
    model_uri = f"runs:/{run_id}/model"
    say(_summary_table(metrics))
    reg = f" registered {cfg.tracking.registered_model} v{version}" if version else ""
    say(f"run {run_id}{reg}{' (champion)' if promote and version else ''}; model {model_uri}")
    if promoted:
        say(promoted)
    return {"run_id": run_id, "model_uri": model_uri, "registered_version": version,
            "metrics": metrics, "model": model}


def _summary_table(metrics: dict[str, float]) -> str:
    rows = [("model", "cv"), ("model", "holdout")] + [
        (f"baseline.{k}", s) for k in BASELINES for s in ("cv", "holdout")]
    keys = ["roc_auc", "pr_auc", "log_loss", "brier", "brier_skill", "ece", "top_decile_precision"]
    heads = ["roc_auc", "pr_auc", "log_loss", "brier", "brier_skill", "ece", "top10%_prec"]
    lines = [f"{'':42s}" + "".join(f" {k:>11s}" for k in heads)]
    for who, split in rows:
        prefix = f"{split}." if who == "model" else f"{who}.{split}."
        name = f"{who} [{split}]"
        lines.append(f"{name:42s}" + "".join(
            f"{metrics.get(prefix + k, float('nan')):12.4f}" for k in keys))
    for split in ("cv", "holdout"):
        p = f"decision.{split}."
        if p + "n" not in metrics:
            continue
        n, k = int(metrics[p + "n"]), int(metrics[p + "n_taken"])
        lines.append(
            f"decision [{split}]: {k} of {n} divergences clear costs ({100 * k / max(n, 1):.2f}%)"
            + (f", realised {metrics[p + 'taken_net_bp']:+.1f} bp/trade vs expected "
               f"{metrics[p + 'taken_net_bp_expected']:+.1f}" if k else "")
            + (f"; decile slope {metrics[p + 'decile_slope']:.2f}, rank corr "
               f"{metrics[p + 'decile_rank_corr']:.2f}{_decile_range(metrics, p)}"
               if np.isfinite(metrics[p + "decile_slope"]) else
               f"; fewer than {QUALITY_DECILES} divergences (no decile slope)"
               if n < QUALITY_DECILES else
               "; the expected returns do not vary (no decile slope)"))
    return "\n".join(lines)


def _decile_range(metrics: dict[str, float], p: str) -> str:
    """`` (1 and 1: calibrated) over expected returns of a to b bp by decile``, or ''.

    The slope next to the range it is fitted over: 42 on the perpetuals' holdout is a 0.5 bp
    range of expected returns against realised deciles 50 bp apart, not a strong relation.
    """
    lo, hi = (metrics.get(f"{p}decile{k:02d}_expected_bp") for k in (1, QUALITY_DECILES))
    if lo is None or hi is None:
        return ""
    return f" (1 and 1: calibrated) over expected returns of {lo:+.2f} to {hi:+.2f} bp by decile"


def _decision_check(cfg: Config, outcomes: pd.DataFrame, revert: pd.Series, cont: pd.Series,
                    cost: float, where: str, metrics: dict[str, float],
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Decide on ``outcomes``, add ``decision.<where>.*`` quality metrics; (expected, realised)."""
    dec = decide(outcomes, cfg.costs, cfg.decision.confidence, cfg.sizing.min_edge)
    real = realised_net(dec, revert, cont, cost)
    expected = dec["expected_return"].to_numpy(float)
    q = decision_quality(expected, real, dec["direction"].to_numpy() != "none")
    metrics.update({f"decision.{where}.{k}": v for k, v in q.items()})
    return expected, real
