"""Fitting the reversion model: purged walk-forward CV, calibration, held-out return record.

One fit serves ``revertible train`` and every walk-forward block (:func:`fit_reversion_model`):

1. purged walk-forward CV of the classifier (:func:`cross_validate`; the baselines beside it in
   ``train``), every LightGBM fit on one binning of the training rows;
2. the probability calibrator on the out-of-fold raw scores (never in-sample scores);
3. the final classifier on every training row;
4. the return calibrator (:class:`revertible.model.ReturnCalibrator`) on the *held-out* record:
   the out-of-fold scores of the classifier (raw: the calibrated probability is a monotone map
   of it, whose isotonic steps would merge bins) and the realised gross returns of both trades
   for the legs that will be traded. Nothing it learns has seen its own scores in training.

The model's meta records the scorer's rank IC against the realised reversion return in sample
(the final classifier on its own training rows) and held out (out of fold), for the overfitting
warning (:func:`revertible.model.overfit_warning`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..config import Config
from ..errors import RevertibleError
from ._cv import walk_forward_folds
from ._estimator import (
    BinnedFeatures,
    BinnedRows,
    CalibratedReversionModel,
    Calibrator,
    ReversionClassifier,
    lgbm_params,
)
from ._metrics import classification_metrics
from ._outcomes import ReturnCalibrator, rank_ic

__all__ = ["BASELINES", "make_folds", "fit_predict", "cross_validate", "return_calibrator",
           "fit_reversion_model", "start_reversion_fit", "oof_reversion_model",
           "calibrated_reversion_model", "HeldOut", "PendingFit", "Submit", "run_now", "fit_pool",
           "calibration_cv"]

#: Baselines logged in every run: name -> feature list (None: constant training base rate).
BASELINES: dict[str, list[str] | None] = {
    "base_rate": None,
    "logreg_abs_z": ["abs_z_entry"],
    "logreg_z_halflife_corr": ["abs_z_entry", "spread_half_life_long", "corr_30d"],
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


def fit_predict(kind: str, X: pd.DataFrame, y: np.ndarray, Xt: pd.DataFrame, cfg: Config,
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


#: ``submit(fn, *args)`` runs ``fn(*args)`` (now or in a worker) and returns a thunk that
#: gives its result; :func:`run_now` runs it at once.
Submit = Callable[..., Callable[[], Any]]


def run_now(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """Run ``fn(*args)`` now; return a thunk giving its result (the sequential :data:`Submit`)."""
    out = fn(*args)
    return lambda: out


@contextmanager
def lightgbm_max_threads(n: int) -> Iterator[None]:
    """Cap LightGBM's thread count at ``n`` process-wide for the block (then lift the cap).

    LightGBM keeps one process-wide default thread count, and every call sets it from its
    own parameters: a dataset subset or a prediction without ``num_threads`` resets it to all
    cores while a fit in another thread runs with buffers for one thread. Fits side by side in
    threads then crashed the process (SIGSEGV; 5 of 7 one-minute runs of 6 threads of subset
    and fit, 1 of 3 spot walk-forward backtests). ``LGBM_SetMaxThreads`` (LightGBM >= 4.2)
    bounds every call's count, so all of them agree; without it nothing is capped.
    """
    import ctypes

    import lightgbm as lgb

    lib = getattr(lgb.basic, "_LIB", None)
    cap = getattr(lib, "LGBM_SetMaxThreads", None)
    if cap is None:
        yield
        return
    cap(ctypes.c_int(n))
    try:
        yield
    finally:
        cap(ctypes.c_int(-1))


@contextmanager
def fit_pool(cfg: Config, workers: int | None = None) -> Iterator[tuple[Config, Submit]]:
    """``(fit config, submit)`` for LightGBM fits side by side in ``workers`` threads.

    ``workers`` defaults to ``min(2, cpu count)``. With more than one, each fit gets one
    LightGBM thread (``model.n_jobs=1``: two 2-thread fits on 2 cores spin; deterministic fits
    give the same trees at any thread count); with one, ``cfg`` and :func:`run_now`.
    """
    workers = max(1, workers or min(2, os.cpu_count() or 1))
    if workers == 1:
        yield cfg, run_now
        return
    one = cfg.model_copy(update={"model": cfg.model.model_copy(update={"n_jobs": 1})})
    # the cap is left only after the pool's threads are done (contexts exit in reverse order)
    with lightgbm_max_threads(1), ThreadPoolExecutor(workers) as pool:
        def submit(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
            return pool.submit(fn, *args).result

        try:
            yield one, submit
        except BaseException:  # an error (or Ctrl-C) does not wait for the queued fits
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def cross_validate(
    X: pd.DataFrame, y: np.ndarray, entry: pd.Series, end: pd.Series, cfg: Config,
    features: list[str], kinds: list[str], bar: pd.Timedelta,
    on_fold: Callable[[int, int], None] | None = None,
    binned: BinnedFeatures | None = None, submit: Submit | None = None,
) -> dict[str, Any]:
    """Purged walk-forward CV for the model and the baselines on the same folds.

    Returns per kind: raw out-of-fold scores (NaN outside test blocks), walk-forward calibrated
    probabilities (LightGBM only; baselines are probabilities already), fold ids, metrics.
    The LightGBM fold fits share one binning of ``X[features]`` (``binned``, a
    :class:`revertible.model.BinnedFeatures`; made here when not given). ``submit`` runs the
    fold fits (default :func:`run_now`; a thread pool's fits run side by side, same result).
    """
    return _cv_finish(*_cv_start(X, y, entry, end, cfg, features, kinds, bar, binned, submit),
                      y, cfg, kinds, on_fold)


def _cv_start(X: pd.DataFrame, y: np.ndarray, entry: pd.Series, end: pd.Series, cfg: Config,
              features: list[str], kinds: list[str], bar: pd.Timedelta,
              binned: BinnedFeatures | None,
              submit: Submit | None) -> tuple[list, dict]:  # fmt: skip
    """Submit every fold fit of :func:`cross_validate`; return the folds and the result thunks."""
    submit = submit or run_now
    folds = make_folds(cfg, entry, end, bar)
    if binned is None and "lgbm" in kinds:  # the study's trials bin the same rows the same way
        binned = BinnedFeatures(X[features], lgbm_params(cfg.model, cfg.seed))
    jobs = {}
    for i, f in enumerate(folds):
        for kind in kinds:
            rows = None if binned is None or kind != "lgbm" else binned.take(f.train)
            jobs[i, kind] = submit(_fit_fold, kind, X, y, f, cfg, features, rows)
    return folds, jobs


def _fit_fold(kind: str, X: pd.DataFrame, y: np.ndarray, f: Any, cfg: Config,
              features: list[str], rows: BinnedRows | None) -> np.ndarray:  # fmt: skip
    """One fold's :func:`fit_predict` on the columns it uses, sliced when it runs.

    A queued fit holds no copy of its rows; a LightGBM fit on binned rows needs no training frame.
    """
    cols = features if kind == "lgbm" else (BASELINES[kind] or [])
    Xc = X[cols]
    train = Xc.iloc[:0] if rows is not None else Xc.iloc[f.train]
    return fit_predict(kind, train, y[f.train], Xc.iloc[f.test], cfg, features, rows)


def _cv_finish(folds: list, jobs: dict, y: np.ndarray, cfg: Config, kinds: list[str],
               on_fold: Callable[[int, int], None] | None) -> dict[str, Any]:  # fmt: skip
    """Gather the fold fits of :func:`_cv_start` into :func:`cross_validate`'s result."""
    n = len(y)
    fold_id = np.full(n, -1)
    raw = {k: np.full(n, np.nan) for k in kinds}
    for i, f in enumerate(folds):
        fold_id[f.test] = i
        for kind in kinds:
            raw[kind][f.test] = jobs[i, kind]()
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


def return_calibrator(cfg: Config) -> ReturnCalibrator:
    """An unfitted :class:`ReturnCalibrator` with the ``decision`` section's settings."""
    d = cfg.decision
    return ReturnCalibrator(d.calibration_bins, d.shrinkage, d.min_bin_trades, d.cluster_days,
                            d.confidence, d.drift_days, d.common_level)


def fit_reversion_model(
    cfg: Config, X: pd.DataFrame, y: np.ndarray, entry: pd.Series, ends: pd.Series,
    targets: pd.DataFrame, features: list[str], bar: pd.Timedelta, *,
    binned: BinnedFeatures | None = None, n_folds: int | None = None,
    kinds: tuple[str, ...] = ("lgbm",), on_fold: Callable[[int, int], None] | None = None,
    meta: dict | None = None, workers: int | None = 1,
) -> tuple[CalibratedReversionModel, dict[str, Any]]:
    """Fit the classifier, both calibrators and the final model on time-sorted rows.

    Parameters
    ----------
    cfg : Config
        ``model``, ``cv`` and ``decision`` settings.
    X, y, entry, ends : frame and arrays
        Training features, labels, entry times and label end times (index reset, time order).
    targets : pandas.DataFrame
        ``revert``/``continue`` realised gross returns of each row for the traded legs
        (:func:`revertible.episodes.outcome_targets`).
    features : list of str
        Feature columns the model uses.
    bar : pandas.Timedelta
        Bar length (embargo in time).
    binned : BinnedFeatures, optional
        ``X[features]`` binned once; made here when not given.
    n_folds : int, optional
        CV folds (``cv.n_folds`` if None); walk-forward blocks pass ``backtest.calibration_folds``.
    kinds : tuple of str
        Scorers cross-validated on the same folds (``train`` adds the baselines).
    on_fold : callable, optional
        Progress callback ``(done, total)`` per fold.
    meta : dict, optional
        Extra model meta.
    workers : int or None
        Fits run side by side in this many threads (:func:`fit_pool`; None: its default,
        ``min(2, cpu count)``). The CV folds and the final classifier depend only on these rows;
        the model does not depend on the worker count (tests/model/test_fit.py).

    Returns
    -------
    (CalibratedReversionModel, dict)
        The model and the CV result (:func:`cross_validate`) with ``score`` (held-out raw
        score, NaN outside the folds' test blocks).
    """
    with fit_pool(cfg, workers) as (fit_cfg, submit):
        clf, cv = start_reversion_fit(fit_cfg, X, y, entry, ends, features, bar, binned=binned,
                                      n_folds=n_folds, kinds=kinds, on_fold=on_fold,
                                      submit=submit)()
    return oof_reversion_model(cfg, clf, cv, X, y, entry, targets, features, meta=meta), cv


def start_reversion_fit(
    cfg: Config, X: pd.DataFrame, y: np.ndarray, entry: pd.Series, ends: pd.Series,
    features: list[str], bar: pd.Timedelta, *, binned: BinnedFeatures | None = None,
    n_folds: int | None = None, kinds: tuple[str, ...] = ("lgbm",),
    on_fold: Callable[[int, int], None] | None = None, submit: Submit | None = None,
) -> PendingFit:
    """Start the LightGBM fits of :func:`fit_reversion_model`: CV folds and final classifier.

    Every fit depends only on these rows, so ``submit`` (default :func:`run_now`) may run them
    side by side. ``n_folds=0``: the final classifier only (no CV; its calibrators come from
    another held-out record). Returns a :class:`PendingFit`: calling it gives
    ``(classifier, cv result or None)``.
    """
    submit = submit or run_now
    params = lgbm_params(cfg.model, cfg.seed)
    if binned is None:
        binned = BinnedFeatures(X[features], params)
    started = None
    if n_folds != 0:
        cv_cfg = cfg if n_folds is None else cfg.model_copy(
            update={"cv": cfg.cv.model_copy(update={"n_folds": n_folds})})
        started = _cv_start(X, y, entry, ends, cv_cfg, features, list(kinds), bar, binned,
                            submit)
    final = submit(_fit_classifier, params, cfg.model.early_stopping_rounds, binned.take(), y)
    finish = None if started is None else (
        lambda: _cv_finish(*started, y, cfg, list(kinds), on_fold))
    return PendingFit(final, finish)


class PendingFit:
    """The fits of :func:`start_reversion_fit` under way.

    Calling it gives ``(classifier, cv result or None)`` (gathered once, thread-safe);
    :meth:`classifier` gives the final classifier alone, without waiting for the CV.
    """

    def __init__(self, final: Callable[[], ReversionClassifier],
                 finish: Callable[[], dict[str, Any]] | None) -> None:  # fmt: skip
        self._final = final
        self._finish = finish
        self._lock = threading.Lock()
        self._done: tuple[ReversionClassifier, dict[str, Any] | None] | None = None

    def classifier(self) -> ReversionClassifier:
        """The final classifier (waits for its fit only)."""
        return self._final()

    def __call__(self) -> tuple[ReversionClassifier, dict[str, Any] | None]:
        with self._lock:
            if self._done is None:
                self._done = (self._final(), None if self._finish is None else self._finish())
            return self._done


def _fit_classifier(params: dict, early_stopping_rounds: int, rows: BinnedRows,
                    y: np.ndarray) -> ReversionClassifier:  # fmt: skip
    return ReversionClassifier(params, early_stopping_rounds).fit(rows, y, keep_train_score=True)


def oof_reversion_model(
    cfg: Config, clf: ReversionClassifier, cv: dict[str, Any],
    X: pd.DataFrame | Callable[[], pd.DataFrame], y: np.ndarray, entry: pd.Series,
    targets: pd.DataFrame, features: list[str], *, meta: dict | None = None,
) -> CalibratedReversionModel:
    """The model of :func:`fit_reversion_model`: calibrators on the CV's out-of-fold record.

    ``X``: the training rows, or a function giving them (needed only when the classifier kept
    no in-sample score, see :func:`calibrated_reversion_model`).

    Sets ``cv["score"]`` (held-out raw score per row, NaN outside the folds' test blocks).
    """
    oof = cv["fold_id"] >= 0
    score = np.full(len(y), np.nan)  # the held-out raw score (the calibrator's bins are on it)
    score[oof] = cv["raw"]["lgbm"][oof]
    cv["score"] = score
    rows = np.flatnonzero(oof)
    held = HeldOut(score[rows], y[rows], targets.iloc[rows], entry.iloc[rows])
    return calibrated_reversion_model(
        cfg, clf, features, X, targets, held,
        cv_roc_auc=cv["metrics"]["lgbm"].get("roc_auc", float("nan")), meta=meta)


class HeldOut(NamedTuple):
    """A held-out record: raw scores of a model that never trained on these rows.

    ``score`` (the classifier's raw probability), ``y`` (labels), ``targets`` (realised
    ``revert``/``continue`` returns, a frame) and ``entry`` (entry times), row-aligned.
    """

    score: np.ndarray
    y: np.ndarray
    targets: pd.DataFrame
    entry: pd.Series


def calibrated_reversion_model(
    cfg: Config, clf: ReversionClassifier, features: list[str],
    X: pd.DataFrame | Callable[[], pd.DataFrame], targets: pd.DataFrame, held: HeldOut, *,
    cv_roc_auc: float | None = None,
    meta: dict | None = None,
) -> CalibratedReversionModel:
    """The fitted classifier ``clf`` with both calibrators fitted on the held-out record.

    ``X``/``targets`` are the classifier's training rows (for the in-sample rank IC of the
    overfitting warning: the score the fit kept, ``clf.train_score_``, bit-identical to
    LightGBM's predict of those rows; else ``X`` (or ``X()``) predicted);
    ``held`` the record: the probability calibrator (``model.calibration``) and the return
    calibrator (:func:`return_calibrator`) are fitted on it. ``cv_roc_auc``: the held-out AUC
    to record (None: the record's raw-score ROC AUC).
    """
    calibrator = Calibrator(cfg.model.calibration).fit(held.score, held.y)
    outcomes = return_calibrator(cfg).fit(held.score, held.targets, held.entry)
    in_sample = clf.__dict__.pop("train_score_", None)  # kept by the fit: no predict
    if in_sample is None or len(in_sample) != len(targets):
        rows = X() if callable(X) else X
        in_sample = clf.predict_proba(rows[features])[:, 1]
    if cv_roc_auc is None:
        both = len(np.unique(held.y)) == 2
        cv_roc_auc = float(roc_auc_score(held.y, held.score)) if both else float("nan")
    info = {"ic_in_sample": rank_ic(in_sample, targets["revert"].to_numpy(float)),
            "ic_held_out": rank_ic(held.score, held.targets["revert"].to_numpy(float)),
            "cv_roc_auc": cv_roc_auc, "n_train": len(targets), "n_held_out": len(held.score)}
    return CalibratedReversionModel(clf, calibrator, features, meta={**(meta or {}), **info},
                                    outcomes=outcomes)


def calibration_cv(
    cfg: Config, score: np.ndarray, fold_id: np.ndarray, folds: list, targets: pd.DataFrame,
    entry: pd.Series, ends: pd.Series,
) -> pd.DataFrame:
    """Walk-forward check of the return calibrator on the held-out record itself.

    For each fold ``k >= 1``, a calibrator fitted on the held-out scores of the earlier folds
    whose outcomes were known before fold ``k``'s test block starts (``ends``: both trades',
    :func:`outcome_end`) predicts fold ``k``. Returns one
    row per predicted divergence: ``fold``, ``score``, the predicted ``<direction>_mean``/``_se``/
    ``_m2`` and the realised ``revert``/``continue`` (gross), for reliability tables and the
    expected-vs-realised slope.
    """
    frames = []
    e_ns = pd.DatetimeIndex(ends).as_unit("ns").asi8
    t_ns = pd.DatetimeIndex(entry).as_unit("ns").asi8
    for k in range(1, len(folds)):
        test = np.flatnonzero(fold_id == k)
        if not len(test):
            continue
        start = t_ns[test].min()
        seen = np.flatnonzero((fold_id >= 0) & (fold_id < k) & (e_ns < start)
                              & np.isfinite(score))
        try:
            cal = return_calibrator(cfg).fit(score[seen], targets.iloc[seen],
                                             entry.iloc[seen])
        except Exception:  # noqa: BLE001 - too few held-out rows before this fold
            continue
        pred = cal.predict(score[test])
        pred.insert(0, "score", score[test])
        pred.insert(0, "fold", k)
        pred["revert"] = targets["revert"].to_numpy(float)[test]
        pred["continue"] = targets["continue"].to_numpy(float)[test]
        pred["entry_time"] = entry.iloc[test].to_numpy()
        frames.append(pred)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
