"""Training: features -> purged walk-forward CV -> calibration -> final fit -> holdout -> MLflow.

Honest numbers by construction:

* the final holdout (last ``cv.holdout_frac`` of time) is evaluated once, by the final model, and
  nothing is chosen by looking at it;
* cross-validated probabilities are calibrated walk-forward: fold k's raw scores go through a
  calibrator fitted on the out-of-fold raw scores of folds ``< k`` only, so the pooled CV metrics
  (folds 2..K) never calibrate on their own labels; the first fold only seeds the calibrator;
* the final calibrator is fitted on all out-of-fold raw scores (never on in-sample scores), and
  maps the final model's raw scores on the holdout;
* the Brier skill reference is the training prevalence.

Every run logs the flattened config, the YAML, the data fingerprint, git commit and package version,
the same metric names (``cv.*``, ``holdout.*``, ``baseline.<name>.{cv,holdout}.*``, ``fold<k>.*``),
the plots, and the model with its signature, registered under ``tracking.registered_model``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..config import Config, flatten
from ..costs import effective_costs
from ..data import Panel
from ..errors import RevertibleError
from ._cv import holdout_split, label_end, walk_forward_folds
from ._estimator import (
    BinnedFeatures,
    BinnedRows,
    CalibratedReversionModel,
    Calibrator,
    ReversionClassifier,
    lgbm_params,
)
from ._metrics import classification_metrics
from ._returns import RISK_COLUMNS
from ._returns_eval import train_returns

__all__ = [
    "train", "select_features", "prepare_dataset", "development_split", "make_folds",
    "cross_validate",
    "BASELINES",
]

#: Baselines logged in every run: name -> feature list (None: constant training base rate).
BASELINES: dict[str, list[str] | None] = {
    "base_rate": None,
    "logreg_abs_z": ["abs_z_entry"],
    "logreg_z_halflife_corr": ["abs_z_entry", "spread_half_life_long", "corr_30d"],
}


def select_features(cfg: Config, names: list[str], groups: dict[str, list[str]]) -> list[str]:
    """Feature names minus ``model.exclude_features`` (names or ``group:<name>``)."""
    drop: set[str] = set()
    for item in cfg.model.exclude_features:
        if item.startswith("group:"):
            g = item[len("group:"):]
            if g not in groups:
                raise RevertibleError(
                    f"model.exclude_features: unknown group {g!r}; groups: {', '.join(groups)}"
                )
            drop.update(groups[g])
        elif item not in names:
            raise RevertibleError(f"model.exclude_features: unknown feature {item!r}")
        else:
            drop.add(item)
    return [n for n in names if n not in drop]


def prepare_dataset(
    cfg: Config, panel: Panel, episodes: pd.DataFrame | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Episodes (sorted by entry time) and their point-in-time features, same row order."""
    from ..episodes import build_episodes
    from ..features import build_features

    eps = build_episodes(panel, cfg) if episodes is None else episodes
    eps = eps.sort_values(["entry_time", "asset_a", "asset_b"], kind="stable")
    eps = eps.reset_index(drop=True)
    feats = build_features(panel, eps, cfg, progress=progress)
    return eps, feats.reset_index(drop=True)


def development_split(
    cfg: Config, eps: pd.DataFrame, feats: pd.DataFrame, bar: pd.Timedelta
) -> dict[str, Any]:
    """Development set and holdout, shared by training and tuning.

    Returns ``dev``/``hold`` positions, ``holdout_start``, the raw label array ``y_all``, and the
    development ``X``, ``y``, ``entry`` and label ``end`` times (index reset).
    """
    dev, hold, hstart = holdout_split(eps, cfg.cv.holdout_frac, cfg.label.horizon, bar)
    if len(dev) < 100:
        raise RevertibleError(
            f"only {len(dev)} labelled development episodes; need at least 100 (more data, a "
            "lower label.entry or looser universe filters)"
        )
    end = label_end(eps, cfg.label.horizon, bar)
    y_all = eps["label"].to_numpy(dtype=float, na_value=np.nan)
    return {
        "dev": dev, "hold": hold, "holdout_start": hstart, "y_all": y_all,
        "X": feats.iloc[dev].reset_index(drop=True), "y": y_all[dev].astype(int),
        "entry": eps["entry_time"].iloc[dev].reset_index(drop=True),
        "end": end.iloc[dev].reset_index(drop=True),
    }


def make_folds(cfg: Config, entry: pd.Series, end: pd.Series, bar: pd.Timedelta) -> list:
    """Purged walk-forward folds from ``cfg.cv`` (training and tuning use the same ones)."""
    folds = walk_forward_folds(entry, end, cfg.cv.n_folds, cfg.embargo_bars * bar,
                               cfg.cv.min_train_frac)
    if len(folds) < 2:
        raise RevertibleError(
            f"only {len(folds)} walk-forward fold(s) have data; need at least 2: use more data, "
            "fewer cv.n_folds or a smaller cv.min_train_frac"
        )
    return folds


def _baseline_model(cols: list[str] | None, seed: int):
    if cols is None:
        return None
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         LogisticRegression(max_iter=1000, random_state=seed))


def _fit_predict(kind: str, X: pd.DataFrame, y: np.ndarray, Xt: pd.DataFrame, cfg: Config,
                 features: list[str], binned: BinnedRows | None = None) -> np.ndarray:
    """Fit model ``kind`` on (X, y) and return raw probabilities on ``Xt``.

    ``binned``: the rows of ``X`` already binned (LightGBM only; same features).
    """
    if kind == "lgbm":
        clf = ReversionClassifier(lgbm_params(cfg.model, cfg.seed),
                                  cfg.model.early_stopping_rounds)
        clf.fit(X[features] if binned is None else binned, y)
        return clf.predict_proba(Xt[features])[:, 1]
    cols = BASELINES[kind]
    if cols is None:
        return np.full(len(Xt), float(np.mean(y)))
    m = _baseline_model(cols, cfg.seed)
    m.fit(X[cols].to_numpy(), y)
    return m.predict_proba(Xt[cols].to_numpy())[:, 1]


def cross_validate(
    X: pd.DataFrame, y: np.ndarray, entry: pd.Series, end: pd.Series, cfg: Config,
    features: list[str], kinds: list[str], bar: pd.Timedelta,
    on_fold: Callable[[int, int], None] | None = None,
    binned: BinnedFeatures | None = None,
) -> dict[str, Any]:
    """Purged walk-forward CV for the model and the baselines on the same folds.

    Returns per kind: raw out-of-fold scores (NaN outside test blocks), walk-forward calibrated
    probabilities (LightGBM only; baselines are probabilities already), fold ids, metrics.
    The LightGBM fold fits share one binning of ``X[features]`` (``binned``, a
    :class:`revertible.model.BinnedFeatures`; made here when not given).
    """
    folds = make_folds(cfg, entry, end, bar)
    if binned is None and "lgbm" in kinds:  # the study's trials bin the same rows the same way
        binned = BinnedFeatures(X[features], lgbm_params(cfg.model, cfg.seed))
    n = len(y)
    fold_id = np.full(n, -1)
    raw = {k: np.full(n, np.nan) for k in kinds}
    for i, f in enumerate(folds):
        fold_id[f.test] = i
        for kind in kinds:
            rows = None if binned is None or kind != "lgbm" else binned.take(f.train)
            raw[kind][f.test] = _fit_predict(kind, X.iloc[f.train], y[f.train], X.iloc[f.test],
                                             cfg, features, rows)
        if on_fold is not None:
            on_fold(i + 1, len(folds))
    # walk-forward calibration of the LightGBM scores
    cal = np.full(n, np.nan)
    if "lgbm" in kinds:
        for i in range(1, len(folds)):
            seen = fold_id < i
            seen &= fold_id >= 0
            c = Calibrator(cfg.model.calibration).fit(raw["lgbm"][seen], y[seen])
            cal[fold_id == i] = c.transform(raw["lgbm"][fold_id == i])
    scored = fold_id >= 1  # folds 2..K: every kind evaluated on the same episodes
    out: dict[str, Any] = {"folds": folds, "fold_id": fold_id, "raw": raw, "cal": cal,
                           "metrics": {}}
    for kind in kinds:
        p = cal if kind == "lgbm" else raw[kind]
        m: dict[str, float] = {}
        for i, f in enumerate(folds):
            sel = fold_id == i
            base = float(y[f.train].mean())
            pk = p[sel] if i >= 1 or kind != "lgbm" else raw[kind][sel]
            fm = classification_metrics(y[sel], pk, base)
            m.update({f"fold{i + 1}.{k}": v for k, v in fm.items()})
        # naive reference: the prevalence known when the first scored fold starts
        base_all = float(y[folds[1].train].mean())
        m.update(classification_metrics(y[scored], p[scored], base_all))
        out["metrics"][kind] = m
    return out


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
    from ..tracking import Tracker
    from ._plots import (
        importance_figure,
        probability_hist_figure,
        reliability_figure,
        return_decile_figure,
        roc_figure,
    )

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
    kinds = ["lgbm", *BASELINES]
    say(f"training on {len(dev)} development episodes ({len(features)} features), holdout from "
        f"{hstart:%Y-%m-%d %H:%M} ({len(hold)} episodes)")
    params = lgbm_params(cfg.model, cfg.seed)
    binned = BinnedFeatures(Xd[features], params)  # every LightGBM fit below reuses the bins
    with bar_ctx("walk-forward folds") as update:
        cv = cross_validate(Xd, yd, ed, nd, cfg, features, kinds, bar, on_fold=update,
                            binned=binned)  # fmt: skip
    # final calibrator on all out-of-fold raw scores; final classifier on all development data
    oof = cv["fold_id"] >= 0
    calibrator = Calibrator(cfg.model.calibration).fit(cv["raw"]["lgbm"][oof], yd[oof])
    clf = ReversionClassifier(params, cfg.model.early_stopping_rounds)
    clf.fit(binned.take(), yd)
    nonnull = [f for f in features if Xd[f].notna().any()]
    with bar_ctx("return model (folds)") as _:
        ret = train_returns(cfg, eps, feats, split, cv["folds"], features, binned=binned)
    model = CalibratedReversionModel(
        clf, calibrator, features,
        meta={"nonnull_features": nonnull,
              "requires_funding": bool(panel.funding is not None and cfg.features.use_funding
                                       and any(f in nonnull
                                               for f in feature_groups(cfg)["funding"])),
              "label": cfg.label.model_dump(),
              "spread": cfg.spread.model_dump(), "features": cfg.features.model_dump(),
              "universe": cfg.universe.model_dump(mode="json"), "holdout_start": str(hstart),
              "trained_until": str(ed.max()), "data_fingerprint": panel.fingerprint(),
              # the return heads are gross; the costs they were evaluated net of
              "costs": {**cfg.costs.model_dump(mode="json"), **effective_costs(cfg.costs)},
              "venue": str(getattr(cfg.costs, "venue", "custom")),
              "continue": cfg.continue_.model_dump(mode="json")},
        returns=ret["model"],
    )
    metrics: dict[str, float] = {}
    base_dev = float(yd.mean())
    for k, v in cv["metrics"]["lgbm"].items():
        metrics[f"cv.{k}"] = v
    hold_sets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if len(hold):
        Xh, yh = feats.iloc[hold].reset_index(drop=True), y_all[hold].astype(int)
        ph = model.predict_proba(Xh)
        metrics.update({f"holdout.{k}": v for k, v in
                        classification_metrics(yh, ph, base_dev).items()})
        hold_sets["model"] = (yh, ph)
    for kind in BASELINES:
        for k, v in cv["metrics"][kind].items():
            if not k.startswith("fold"):
                metrics[f"baseline.{kind}.cv.{k}"] = v
        if len(hold):
            pb = _fit_predict(kind, Xd, yd, Xh, cfg, features)
            metrics.update({f"baseline.{kind}.holdout.{k}": v for k, v in
                            classification_metrics(yh, pb, base_dev).items()})
            hold_sets[kind] = (yh, pb)
    metrics.update(ret["metrics"])
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
        imp = clf.feature_importance("gain")
        tracker.log_figure(importance_figure(imp), "plots/feature_importance.png")
        tracker.log_table(imp.rename("gain").reset_index().rename(columns={"index": "feature"}),
                          "feature_importance.csv")
        if "model" in hold_sets:
            tracker.log_figure(probability_hist_figure(*hold_sets["model"]),
                               "plots/probability_by_label.png")
        tracker.log_figure(return_decile_figure(ret["sets"]), "plots/return_deciles.png")
        tracker.log_table(ret["deciles"], "return_deciles.csv")
        example = Xd.assign(**{c: eps[c].iloc[dev].to_numpy() for c in RISK_COLUMNS})
        info = tracker.log_model(model, example, register=register)
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
    return "\n".join(lines)
