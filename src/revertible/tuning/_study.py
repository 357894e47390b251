r"""Tuning: an Optuna study over the model's settings, resumable, shareable, tracked in MLflow.

``revertible tune CONFIG --trials N`` runs trials until the study holds ``N`` *finished* trials
(COMPLETE or PRUNED). ``N`` is the study's **total** target, not a number of additional trials:
re-running the same command after an interruption continues until ``N`` are finished, and on a
study that already has ``N`` it runs none (with ``--retrain-best`` it then only retrains).

What a trial is
---------------
The config with the ``model.*`` fields named in ``tuning.space`` replaced by sampled values,
evaluated by the purged walk-forward CV of :mod:`revertible.model` (same folds, same
``_fit_predict``, same walk-forward calibration, same metric code; ``tests/test_tune.py`` checks
that a trial's ``cv.*`` metrics equal ``train.cross_validate``'s bit for bit). The objective is
``tuning.objective`` (``logloss`` -> ``cv.log_loss``, ``brier`` -> ``cv.brier``, minimised;
``auc`` -> ``cv.roc_auc``, maximised) over the pooled, walk-forward calibrated folds 2..K.

Timing and the holdout
----------------------
Features are computed once per invocation; the final holdout is split off with
:func:`revertible.model.holdout_split` before anything else and its rows never reach the study: the
objective sees only development episodes, whose labels are known before ``holdout_start``.
The holdout is evaluated once, by ``--retrain-best``, through :func:`revertible.model.train`.

Pruning (``tuning.pruner``: ``median``, ``successive_halving`` or ``none``)
--------------------------------------------------------------------------
Fold 1 only seeds the walk-forward calibrator, so its calibrated score does not exist. After fold
``k >= 2`` the trial reports, at step ``k``, the objective on the pooled calibrated predictions
of folds ``2..k``: the same quantity as the final value (which is step ``K``), on fewer folds.
Pruning can therefore happen from fold 2 on; later folds train on more data and cost more, so
this still saves most of a bad trial. The median pruner waits for
:data:`MEDIAN_STARTUP_TRIALS` finished trials; successive halving starts at step 2 with
reduction factor :data:`SH_REDUCTION_FACTOR`.

Sampling and reproducibility
----------------------------
TPE (multivariate, constant liar) whose random state is derived from ``(tuning.seed, trial
number)``: one worker with the same settings and data proposes the same sequence of parameters
(LightGBM runs deterministically, so the values repeat too), and concurrent workers never draw
the same startup points.

Storage, resuming and several workers
-------------------------------------
The study lives in ``tuning.storage`` (default ``sqlite:///experiments/optuna.db``; ``--storage``
overrides it; any Optuna RDB URL, e.g. ``postgresql+psycopg2://user:pass@host/db``) under
``tuning.study`` (``--study``). Every trial records a heartbeat every
:data:`HEARTBEAT_INTERVAL_S` s; a RUNNING trial without a heartbeat for :data:`GRACE_PERIOD_S` s
(its process was killed, even with ``kill -9``, or its machine died) is marked FAIL by the next
worker and re-queued once with the same parameters, so finished trials are never lost and the
study still reaches ``N``. Each worker asks the storage how many trials are finished or running
before it starts one, and stands back (polling, and failing stale trials) once the running ones
are enough to reach ``N``; a trial created in a race beyond ``N`` is failed before sampling (a
FAIL with user attribute ``surplus``), so the study ends with exactly ``N`` finished trials.
The study stores the settings that define its objective (data fingerprint, universe, spread,
label, features, CV, fixed model settings, objective, search space, seeds); resuming with
different ones is refused rather than mixing incomparable trials.

Run the same study on several machines (README)::

    # one shared PostgreSQL for the study, one shared MLflow server for the runs
    export MLFLOW_TRACKING_URI=http://mlflow.internal:5000
    STORAGE=postgresql+psycopg2://tuner:secret@db.internal/optuna   # pip install psycopg2-binary
    # on every machine (same code, same data: the study checks the data fingerprint),
    # one process per two cores (each LightGBM fit uses two threads):
    revertible tune configs/binance-spot-1h.yaml --trials 200 --study spot-v1 --storage $STORAGE
    # stop any of them at any time (Ctrl-C, kill -9, a lost machine: its running trial is
    # failed and re-queued after the grace period); start one again to continue.
    # fit, evaluate on the holdout and register the best (first helps finish any trials left):
    revertible tune configs/binance-spot-1h.yaml --trials 200 --study spot-v1 \
        --storage $STORAGE --retrain-best

SQLite serves several processes on one machine (the default file); across machines use
PostgreSQL or MySQL, never SQLite on a network file system. A fresh SQLite MLflow store should be
created by one process first (e.g. run ``revertible train`` or one ``tune`` once) before several
workers start writing to it at the same time.

MLflow
------
Each invocation opens one parent run (``tune.role=study``) in ``tracking.experiment``; each trial
it runs is a child run (``mlflow.parentRunId``) with the trial's ``model.*`` params, its fold
metrics (``fold<k>.*``, and ``cv.*`` when complete, named as in ``revertible train``) and the
running objective per fold (``objective``, step = fold). At the end the parent logs the study's
best value and parameters (``best.*``), trial counts (``tune.*``), parameter importances
(``importance.<param>``, fANOVA, from two completed trials on) and the optimisation history,
intermediate values and importance plots. ``--retrain-best`` then runs
:func:`revertible.model.train` with the best parameters as another child of the parent: the same
metrics (``cv.*``, ``holdout.*``, ``baseline.*``), plots and registered model as ``revertible
train``. A parent run whose process was killed stays RUNNING in MLflow; its killed trial's child
run is set to KILLED when the trial is found stale.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# LightGBM and scikit-learn run OpenMP threads that spin while they wait by default: with several
# tuning workers (or any other load) on few cores a 0.1 s fit then takes tens of seconds. libgomp
# reads this once, when the first OpenMP library loads, so it is set before those imports (an
# explicit setting in the environment wins).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import optuna  # noqa: E402
import pandas as pd  # noqa: E402
from optuna.trial import TrialState  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from ..config import Config, ModelConfig, ParamRange, flatten  # noqa: E402
from ..data import Panel  # noqa: E402
from ..errors import ConfigError, RevertibleError, TrackingError  # noqa: E402
from ..model import (
    Calibrator,  # noqa: E402
    Fold,  # noqa: E402
    classification_metrics,  # noqa: E402
)
from ..model._train import (  # noqa: E402
    _fit_predict,
    development_split,
    make_folds,
    prepare_dataset,
    select_features,
)

__all__ = [
    "OBJECTIVES",
    "TrialSeededTPESampler",
    "TuningData",
    "prepare_tuning_data",
    "evaluate_cv",
    "check_space",
    "suggest_params",
    "model_with",
    "open_study",
    "study_settings",
    "run_trials",
    "tune",
    "tune_command",
]

#: Seconds between heartbeats of a running trial (candidate for ``tuning.heartbeat_interval``).
HEARTBEAT_INTERVAL_S = 30
#: A RUNNING trial without a heartbeat for this long is stale: failed and retried.
GRACE_PERIOD_S = 120
#: A stale trial is re-queued with the same parameters at most this many times.
MAX_RETRY = 1
#: Random (seeded) trials before TPE models the history (Optuna's default).
TPE_STARTUP_TRIALS = 10
#: Finished trials before the median pruner prunes anything.
MEDIAN_STARTUP_TRIALS = 5
#: Successive halving: keep the best 1/reduction_factor at each rung (first rung: fold 2).
SH_REDUCTION_FACTOR = 3
#: ``tuning.objective`` -> (metric name in :func:`classification_metrics`, direction).
OBJECTIVES: dict[str, tuple[str, str]] = {
    "logloss": ("log_loss", "minimize"),
    "brier": ("brier", "minimize"),
    "auc": ("roc_auc", "maximize"),
}
_SETTINGS_ATTR = "revertible.settings"


# ---- data: development rows only ----------------------------------------------------------------
@dataclass(frozen=True)
class TuningData:
    """The development set the study may see, with its walk-forward folds.

    ``X`` keeps the episode table's positional index so tests can trace every row a trial
    touches back to its ``entry_time``. Nothing at or after ``holdout_start`` is in here.
    """

    X: pd.DataFrame
    y: np.ndarray
    entry: pd.Series
    end: pd.Series
    features: list[str]
    folds: list[Fold]
    holdout_start: pd.Timestamp
    n_holdout: int
    fingerprint: str


def prepare_tuning_data(
    cfg: Config, panel: Panel, episodes: pd.DataFrame | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[TuningData, pd.DataFrame]:
    """Features once, holdout split off, folds fixed: ``(development data, all episodes)``.

    The folds depend on the episodes and ``cv.*`` only (not on model settings), so every trial
    uses the same ones.
    """
    from ..features import feature_groups, feature_names

    eps, feats = prepare_dataset(cfg, panel, episodes, progress=progress)
    features = select_features(cfg, feature_names(cfg), feature_groups(cfg))
    bar = panel.freq
    split = development_split(cfg, eps, feats, bar)
    hold, hstart = split["hold"], split["holdout_start"]
    X, y, entry, end_d = split["X"], split["y"], split["entry"], split["end"]
    folds = make_folds(cfg, entry, end_d, bar)
    data = TuningData(X=X, y=y, entry=entry, end=end_d, features=features, folds=folds,
                      holdout_start=hstart, n_holdout=len(hold), fingerprint=panel.fingerprint())
    return data, eps


def evaluate_cv(
    data: TuningData, cfg: Config,
    report: Callable[[int, float, dict[str, float]], None] | None = None,
    on_fold: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Purged walk-forward CV of the LightGBM model: ``fold<k>.*`` and pooled metrics.

    Exactly :func:`revertible.model.cross_validate`'s scheme for the model, fold by fold: fold
    k's raw scores are calibrated by a calibrator fitted on folds ``< k``; fold 1 is scored raw
    (it only seeds the calibrator); the pooled metrics cover folds 2..K. After each fold ``k >=
    2`` ``report(k, value, fold_metrics_so_far)`` receives the objective on folds 2..k (it may
    raise :class:`optuna.TrialPruned`). Returns ``fold<k>.<metric>`` for the folds run and, when all
    ran, the pooled ``<metric>`` keys (unprefixed).
    """
    metric = OBJECTIVES[cfg.tuning.objective][0]
    y, folds = data.y, data.folds
    n = len(y)
    fold_id = np.full(n, -1)
    raw = np.full(n, np.nan)
    cal = np.full(n, np.nan)
    base_scored = float(y[folds[1].train].mean())
    out: dict[str, float] = {}
    for i, f in enumerate(folds):
        fold_id[f.test] = i
        raw[f.test] = _fit_predict("lgbm", data.X.iloc[f.train], y[f.train],
                                   data.X.iloc[f.test], cfg, data.features)
        if i == 0:
            p = raw[f.test]
        else:
            seen = (fold_id >= 0) & (fold_id < i)
            c = Calibrator(cfg.model.calibration).fit(raw[seen], y[seen])
            cal[f.test] = p = c.transform(raw[f.test])
        fm = classification_metrics(y[f.test], p, float(y[f.train].mean()))
        out.update({f"fold{i + 1}.{k}": v for k, v in fm.items()})
        if on_fold is not None:
            on_fold(i + 1, len(folds))
        if i >= 1 and report is not None:
            sel = fold_id >= 1
            value = classification_metrics(y[sel], cal[sel], base_scored)[metric]
            if math.isfinite(value):
                report(i + 1, value, dict(out))
    sel = fold_id >= 1
    out.update(classification_metrics(y[sel], cal[sel], base_scored))
    return out


# ---- search space -------------------------------------------------------------------------------
def _field_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{err['msg']} (got {err.get('input')!r})"


def check_space(cfg: Config) -> None:
    """Raise :class:`ConfigError` unless every ``tuning.space`` entry is a valid model range."""
    space = cfg.tuning.space
    if not space:
        raise ConfigError("tuning.space is empty; give at least one model setting to tune")
    names = [n for n in ModelConfig.model_fields if n != "exclude_features"]
    for name, r in space.items():
        key = f"tuning.space.{name}"
        if name not in names:
            raise ConfigError(f"{key}: not a tunable model setting; use one of {', '.join(names)}")
        if r.type == "categorical":
            values = list(r.choices or ())
        else:
            values = [r.low, r.high]
            if r.type == "int" and any(float(v) != int(v) for v in values):
                raise ConfigError(f"{key}: an int range needs whole numbers, but got "
                                  f"(low={r.low}, high={r.high})")
            if r.log and r.low <= 0:
                raise ConfigError(f"{key}: a log range needs `low > 0`, but got low={r.low}")
        for v in values:
            try:
                model_with(cfg.model, {name: _cast(r, v)})
            except ValidationError as exc:
                raise ConfigError(f"{key}: value {v!r} is not a valid model.{name}: "
                                  f"{_field_error(exc)}; fix the range") from None


def _cast(r: ParamRange, v: Any) -> Any:
    return int(v) if r.type == "int" else float(v) if r.type == "float" else v


def suggest_params(trial: Any, space: dict[str, ParamRange]) -> dict[str, Any]:
    """Sample one value per dimension, in the config's order."""
    out: dict[str, Any] = {}
    for name, r in space.items():
        if r.type == "categorical":
            out[name] = trial.suggest_categorical(name, list(r.choices or ()))
        elif r.type == "int":
            out[name] = trial.suggest_int(name, int(r.low), int(r.high), log=r.log)
        else:
            out[name] = trial.suggest_float(name, float(r.low), float(r.high), log=r.log)
    return out


def model_with(model: ModelConfig, params: dict[str, Any]) -> ModelConfig:
    """``model.model_copy(update=params)``, validated (``model_copy`` alone checks nothing)."""
    return ModelConfig.model_validate({**model.model_dump(), **params})


def _with_model(cfg: Config, params: dict[str, Any]) -> Config:
    return cfg.model_copy(update={"model": model_with(cfg.model, params)})


# ---- study --------------------------------------------------------------------------------------
def _redact(url: str) -> str:
    """Storage URL without its password (safe to print and log)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not an RDB URL: print it as given
        return url


def study_settings(cfg: Config, fingerprint: str) -> dict[str, str]:
    """Everything that defines a trial's value: resuming with other settings is refused.

    Data paths, tracking, storage, study name, pruner and scheduling are excluded (they do not
    change a trial's value); the data itself enters through its fingerprint.
    """
    keep = ("seed", "data.", "universe.", "spread.", "label.", "features.", "model.", "cv.",
            "tuning.objective", "tuning.seed", "tuning.space.")
    drop = ("data.path", "data.funding_path")
    flat = flatten(cfg)
    out = {k: v for k, v in flat.items() if k.startswith(keep) and not k.startswith(drop)}
    out["data.fingerprint"] = fingerprint
    return out


class TrialSeededTPESampler(optuna.samplers.BaseSampler):
    """TPE whose random state is a function of ``(seed, trial number)``.

    A plain ``TPESampler(seed=...)`` restarts its random stream in every process, so a resumed
    study or a second worker would re-propose the first worker's startup points. Here each trial
    gets a fresh multivariate, constant-liar TPE seeded from ``SeedSequence([seed, number])``;
    TPE keeps no other state (it reads the history from the storage), so one worker with the
    same settings proposes the same sequence, and workers never share random draws.
    """

    def __init__(self, seed: int, n_startup_trials: int = 10):
        self.seed = seed
        self.n_startup_trials = n_startup_trials
        self._cache: tuple[int, optuna.samplers.TPESampler] | None = None

    def _tpe(self, trial: Any) -> optuna.samplers.TPESampler:
        if self._cache is None or self._cache[0] != trial.number:
            s = int(np.random.SeedSequence([self.seed, trial.number]).generate_state(1)[0])
            self._cache = (trial.number, optuna.samplers.TPESampler(
                seed=s, n_startup_trials=self.n_startup_trials, multivariate=True,
                constant_liar=True))
        return self._cache[1]

    def infer_relative_search_space(self, study, trial):  # noqa: D102 - BaseSampler API
        return self._tpe(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):  # noqa: D102
        return self._tpe(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):  # noqa: D102
        return self._tpe(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study, trial):  # noqa: D102
        self._tpe(trial).before_trial(study, trial)

    def after_trial(self, study, trial, state, values):  # noqa: D102
        self._tpe(trial).after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        """Nothing to reseed: the random state is a function of the trial number."""


def _pruner(kind: str) -> optuna.pruners.BasePruner:
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS,
                                           n_warmup_steps=0)
    if kind == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=2,
                                                      reduction_factor=SH_REDUCTION_FACTOR)
    return optuna.pruners.NopPruner()


def _stale_callback(tracking_uri: str | None):
    """Retry a stale trial once with its parameters and mark its MLflow child run KILLED."""
    retry_cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or \
        optuna.storages.RetryFailedTrialCallback  # Optuna < 4.9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = retry_cls(max_retry=MAX_RETRY)

    def callback(study: Any, trial: Any) -> None:
        run_id = trial.user_attrs.get("mlflow_run_id")
        if run_id and tracking_uri:
            with contextlib.suppress(Exception):
                from mlflow import MlflowClient

                MlflowClient(tracking_uri).set_terminated(run_id, "KILLED")
        retry(study, trial)

    return callback


def _rdb_storage(url: str, heartbeat_interval: int, grace_period: int,
                 callback: Any) -> optuna.storages.RDBStorage:
    kwargs: dict[str, Any] = {"heartbeat_interval": heartbeat_interval,
                              "grace_period": grace_period}
    engine: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        db = url[len("sqlite:///"):]
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = {"connect_args": {"timeout": 60}}  # wait for another worker's write lock
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine,
                                          heartbeat_stale_trial_callback=callback, **kwargs)
    except TypeError:  # Optuna < 4.9
        return optuna.storages.RDBStorage(url, engine_kwargs=engine,
                                          failed_trial_callback=callback, **kwargs)


def open_study(
    cfg: Config, name: str, storage: str, settings: dict[str, str], *,
    tracking_uri: str | None = None, heartbeat_interval: int = HEARTBEAT_INTERVAL_S,
    grace_period: int = GRACE_PERIOD_S,
) -> optuna.Study:
    """Create or load study ``name`` in ``storage``; refuse a study made with other settings."""
    from sqlalchemy.exc import DBAPIError

    callback = _stale_callback(tracking_uri)
    direction = OBJECTIVES[cfg.tuning.objective][1]
    where = f"optuna storage {_redact(storage)}"
    for attempt in range(5):  # workers starting together may race on a fresh SQLite file
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                rdb = _rdb_storage(storage, heartbeat_interval, grace_period, callback)
            study = optuna.create_study(
                study_name=name, storage=rdb, load_if_exists=True, direction=direction,
                sampler=TrialSeededTPESampler(cfg.tuning.seed, TPE_STARTUP_TRIALS),
                pruner=_pruner(cfg.tuning.pruner))
            break
        except ImportError as exc:
            raise TrackingError(
                f"{where}: database driver missing ({exc}); install it (PostgreSQL: pip install "
                "psycopg2-binary) or use sqlite:///experiments/optuna.db") from None
        except DBAPIError as exc:  # locked, unreachable, ...: retry, then give up
            if attempt == 4:
                first = str(exc.orig or exc).splitlines()[0][:200]
                raise TrackingError(f"{where} cannot be used ({first}); start the database or "
                                    "pass another --storage URL") from None
            time.sleep(0.5 * (attempt + 1))
        except Exception as exc:  # noqa: BLE001 - a malformed URL and the like
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise TrackingError(f"{where}: {first}; pass an Optuna RDB URL such as "
                                "sqlite:///experiments/optuna.db or postgresql://...") from None
    if study.direction.name.lower() != direction:
        raise ConfigError(
            f"study {name!r} in {_redact(storage)} is {study.direction.name.lower()}d but "
            f"tuning.objective={cfg.tuning.objective!r} is {direction}d; pick a new --study name")
    stored = study.user_attrs.get(_SETTINGS_ATTR)
    if stored is None:
        study.set_user_attr(_SETTINGS_ATTR, settings)
    elif stored != settings:
        keys = sorted(set(stored) | set(settings))
        diff = [f"{k}: {stored.get(k)} -> {settings.get(k)}" for k in keys
                if stored.get(k) != settings.get(k)]
        raise ConfigError(
            f"study {name!r} in {_redact(storage)} was created with other settings "
            f"({'; '.join(diff[:5])}{'; ...' if len(diff) > 5 else ''}); resume it with the same "
            "config and data, or pick a new --study name"
        )
    return study


@dataclass(frozen=True)
class _Counts:
    complete: int
    pruned: int
    running: int
    failed: int
    waiting: int

    @property
    def done(self) -> int:
        return self.complete + self.pruned


def _counts(study: optuna.Study) -> _Counts:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return _Counts(*(states.count(st) for st in (TrialState.COMPLETE, TrialState.PRUNED,
                                                 TrialState.RUNNING, TrialState.FAIL,
                                                 TrialState.WAITING)))


class _Surplus(Exception):
    """A trial created in a race after the target was already taken (never evaluated)."""


def _best(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no completed trial yet
        return None


# ---- the loop -----------------------------------------------------------------------------------
def run_trials(
    study: optuna.Study, objective: Callable[[optuna.Trial], float], target: int, *,
    poll_s: float = 5.0, on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
) -> int:
    """Run trials until the study holds ``target`` finished (COMPLETE + PRUNED) trials.

    Other workers on the same storage share the work: a trial starts only while finished +
    running trials are below ``target``; otherwise this worker polls, failing stale trials (which
    re-queues them), until the running ones finish or go stale. ``optuna.study.MaxTrialsCallback``
    is not used: it checks only after a trial, so concurrent workers would overshoot ``target``.
    Returns the number of trials finished by this worker.
    """
    ran = 0

    def count(study: optuna.Study, t: optuna.trial.FrozenTrial) -> None:
        nonlocal ran
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            ran += 1
            if on_trial is not None:
                on_trial(t)

    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)
        c = _counts(study)
        if c.done >= target:
            return ran
        if c.done + c.running >= target:
            time.sleep(poll_s)
            continue
        study.optimize(objective, n_trials=1, catch=(_Surplus,), callbacks=[count],
                       gc_after_trial=False)


class _Objective:
    """One trial: sample, replace ``model.*``, walk-forward CV with pruning, log a child run."""

    def __init__(self, data: TuningData, cfg: Config, target: int, tracker: Any,
                 parent_run_id: str, study_name: str, progress: Callable[..., Any]):
        self.data, self.cfg, self.target = data, cfg, target
        self.tracker, self.parent_run_id, self.study_name = tracker, parent_run_id, study_name
        self.progress = progress

    def __call__(self, trial: optuna.Trial) -> float:
        import mlflow

        alive = trial.study.get_trials(deepcopy=False, states=(
            TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
        if sum(t.number < trial.number for t in alive) >= self.target:
            trial.set_user_attr("surplus", True)
            raise _Surplus(f"trial {trial.number} is beyond the target of {self.target}")
        params = suggest_params(trial, self.cfg.tuning.space)
        cfg = _with_model(self.cfg, params)
        metric = OBJECTIVES[cfg.tuning.objective][0]
        t0 = time.perf_counter()
        pruned: dict[str, Any] = {}
        tags = {"optuna.study": self.study_name, "optuna.trial_number": str(trial.number),
                "tune.role": "trial"}
        with self.tracker.run(run_name=f"{self.study_name}-trial-{trial.number}", tags=tags,
                              nested=True, parent_run_id=self.parent_run_id) as run:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            self.tracker.log_params({**{f"model.{k}": v for k, v in
                                        cfg.model.model_dump(mode="json").items()},
                                     "optuna.trial_number": trial.number})

            def report(step: int, value: float, so_far: dict[str, float]) -> None:
                trial.report(value, step)
                self.tracker.log_metrics({"objective": value}, step=step)
                if trial.should_prune():
                    pruned.update(step=step, value=value, folds=so_far)
                    raise optuna.TrialPruned(f"pruned at fold {step}: {metric} {value:.5f}")

            try:
                with self.progress(f"trial {trial.number}: folds") as update:
                    res: dict[str, float] | None = evaluate_cv(self.data, cfg, report=report,
                                                               on_fold=update)
            except optuna.TrialPruned:
                res = None
            duration = time.perf_counter() - t0
            if res is None:
                self.tracker.log_metrics({**pruned["folds"], "trial.duration_s": duration,
                                          "trial.pruned_at_fold": float(pruned["step"])})
            else:
                self.tracker.log_metrics({**{k: v for k, v in res.items() if k.startswith("fold")},
                                          **{f"cv.{k}": v for k, v in res.items()
                                             if not k.startswith("fold")},
                                          "trial.duration_s": duration})
            mlflow.set_tag("optuna.trial_state", "PRUNED" if res is None else "COMPLETE")
        trial.set_user_attr("duration_s", round(duration, 3))
        if res is None:
            trial.set_user_attr("pruned_at_fold", pruned["step"])
            raise optuna.TrialPruned(f"pruned at fold {pruned['step']}")
        trial.set_user_attr("cv", {k: (v if math.isfinite(v) else None) for k, v in res.items()
                                   if not k.startswith("fold")})
        value = res[metric]
        if not math.isfinite(value):
            raise RevertibleError(
                f"cv.{metric} is undefined ({value}) for trial {trial.number}: a scored fold has "
                "one class only; use more data or fewer cv.n_folds, or tuning.objective=logloss"
            )
        return float(value)


# ---- reporting ----------------------------------------------------------------------------------
def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _importances(study: Any, seed: int) -> dict[str, float]:
    """Parameter importances (fANOVA) of the completed trials; {} with fewer than two."""
    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < 2:
        return {}
    try:
        imp = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed))
    except (ValueError, RuntimeError):  # e.g. no parameter varied among completed trials
        return {}
    return {k: float(v) for k, v in imp.items()}


def _importance_figure(imp: dict[str, float], objective: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(names) + 1.2))
    ax.barh(names, [imp[n] for n in names], color="#4c72b0")
    ax.set_xlabel(f"fANOVA importance for {objective}")
    ax.set_title("hyperparameter importance")
    fig.tight_layout()
    return fig


def _log_study(study: Any, tracker: Any, cfg: Config, target: int, ran: int,
               t_start: float) -> dict[str, Any]:
    """Best value and parameters, counts, importances and plots on the parent run."""
    c = _counts(study)
    best = _best(study)
    metrics: dict[str, float] = {
        "tune.trials_target": float(target), "tune.n_complete": float(c.complete),
        "tune.n_pruned": float(c.pruned), "tune.n_fail": float(c.failed),
        "tune.n_running": float(c.running), "tune.trials_run": float(ran),
        "tune.elapsed_s": time.perf_counter() - t_start,
    }
    imp = _importances(study, cfg.tuning.seed)
    metrics.update({f"importance.{k}": float(v) for k, v in imp.items()})
    if best is not None:
        metrics["best.value"] = float(best.value)
        metrics["best.trial_number"] = float(best.number)
        metrics.update({f"best.cv.{k}": v for k, v in (best.user_attrs.get("cv") or {}).items()
                        if v is not None})
        tracker.log_params({f"best.model.{k}": v for k, v in best.params.items()})
        tracker.log_text(json.dumps({"value": best.value, "trial": best.number,
                                     "params": best.params}, indent=2), "best_params.json")
    tracker.log_metrics(metrics)
    import matplotlib

    # optuna's plots switch the global style to ggplot: keep that out of later figures
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore")
        trials = study.trials_dataframe()
        if len(trials):
            tracker.log_table(trials, "trials.csv")
        if best is not None:
            from optuna.visualization import matplotlib as ovm

            for name, fn in (("optimization_history", ovm.plot_optimization_history),
                             ("intermediate_values", ovm.plot_intermediate_values)):
                with contextlib.suppress(Exception):
                    ax = fn(study)
                    tracker.log_figure(ax.figure, f"plots/{name}.png")
        if imp:
            tracker.log_figure(_importance_figure(imp, f"cv.{OBJECTIVES[cfg.tuning.objective][0]}"),
                               "plots/param_importances.png")
    return {"metrics": metrics, "best": best, "importances": imp, "counts": c}


# ---- entry points -------------------------------------------------------------------------------
@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Our own progress lines replace Optuna's per-trial log; its experimental notes are muted."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


def tune(
    cfg: Config,
    *,
    trials: int,
    study: str | None = None,
    storage: str | None = None,
    retrain_best: bool = False,
    panel: Panel | None = None,
    episodes: pd.DataFrame | None = None,
    tracker: Any = None,
    config_path: str | Path | None = None,
    console: Any = None,
    progress: Callable[..., Any] | None = None,
    heartbeat_interval: int = HEARTBEAT_INTERVAL_S,
    grace_period: int = GRACE_PERIOD_S,
    poll_s: float | None = None,
) -> dict[str, Any]:
    """Run (or resume, or join) the study until it holds ``trials`` finished trials.

    Parameters
    ----------
    cfg : Config
        The run's config; ``tuning.*`` defines the study, ``model.*`` the fixed settings.
    trials : int
        Total number of finished (COMPLETE + PRUNED) trials the study should hold.
    study, storage : str, optional
        Study name and Optuna storage URL (default ``tuning.study`` and ``tuning.storage``).
    retrain_best : bool
        Afterwards fit the best parameters through :func:`revertible.model.train` (CV,
        holdout, registered model) as a child run of this invocation's parent run.
    panel, episodes, tracker
        Preloaded data / a :class:`revertible.tracking.Tracker` (tests, the demo).
    heartbeat_interval, grace_period : int
        Seconds between trial heartbeats, and without one before a RUNNING trial is stale.

    Returns
    -------
    dict
        ``run_id`` (the parent run), ``study``, ``storage`` (password hidden), ``best_value``,
        ``best_params``, ``best_trial``, ``n_trials_done`` (finished trials in the study),
        ``n_trials_run`` (by this invocation), ``metrics`` (the parent's flat metrics, plus the
        retrained run's ``cv.*``/``holdout.*``/... with ``retrain_best``) and, with
        ``retrain_best``, ``model_uri``, ``retrain_run_id`` and ``registered_version``.
    """
    from ..data import load_panel
    from ..tracking import Tracker

    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, but got {trials}")
    check_space(cfg)

    def say(msg: str) -> None:
        if console is not None:
            console.print(msg, markup=False, highlight=False)

    bar_ctx = progress or (lambda *_a, **_k: contextlib.nullcontext(lambda *_: None))
    t_start = time.perf_counter()
    name = study or cfg.tuning.study or cfg.name
    url = storage or cfg.tuning.storage
    tracker = tracker or Tracker(cfg.tracking)
    tracker.connect()
    panel = load_panel(cfg.data) if panel is None else panel
    with bar_ctx("features (pairs)") as update:
        data, eps = prepare_tuning_data(cfg, panel, episodes, progress=update)
    metric, direction = OBJECTIVES[cfg.tuning.objective]
    with _quiet_optuna():
        st = open_study(cfg, name, url, study_settings(cfg, data.fingerprint),
                        tracking_uri=tracker.uri, heartbeat_interval=heartbeat_interval,
                        grace_period=grace_period)
        c0 = _counts(st)
        say(f"study {name!r} at {_redact(url)}: {c0.done}/{trials} finished ({c0.complete} "
            f"complete, {c0.pruned} pruned), {c0.failed} failed, {c0.running} running; "
            f"objective cv.{metric} ({direction}) on {len(data.y)} development episodes, "
            f"{len(data.folds)} folds; holdout from {data.holdout_start:%Y-%m-%d %H:%M} "
            f"({data.n_holdout} episodes) not used")
        tags = {"tune.role": "study", "optuna.study": name, "optuna.storage": _redact(url),
                "tune.objective": f"cv.{metric}", "tune.direction": direction,
                "data_fingerprint": data.fingerprint, "data_source": str(panel.source),
                "config_name": cfg.name, "holdout_start": str(data.holdout_start)}
        with tracker.run(run_name=f"{name}-tune", tags=tags) as parent:
            parent_id = parent.info.run_id
            tracker.log_params(flatten(cfg))
            raw_yaml = Path(config_path).read_text() if config_path else ""
            if raw_yaml:
                tracker.log_text(raw_yaml, "config.yaml")
            objective = _Objective(data, cfg, trials, tracker, parent_id, name, bar_ctx)

            def on_trial(t: Any) -> None:
                c = _counts(st)
                best = _best(st)
                val = "-" if t.value is None else f"{t.value:.5f}"
                if t.state.name == "PRUNED":
                    at = t.user_attrs.get("pruned_at_fold")
                    last = t.intermediate_values.get(at) if at else None
                    val = f"pruned at fold {at}" + ("" if last is None else f" ({last:.5f})")
                bst = "-" if best is None else f"{best.value:.5f} (#{best.number})"
                dur = t.user_attrs.get("duration_s")
                say(f"trial {t.number:>4d}  {t.state.name.lower():8s} {metric} {val:28s} best "
                    f"{bst:18s} {'' if dur is None else f'{dur:6.1f}s'}  finished "
                    f"{c.done}/{trials}  elapsed {_hms(time.perf_counter() - t_start)}")

            ran = run_trials(st, objective, trials, on_trial=on_trial,
                             poll_s=poll_s if poll_s is not None else
                             float(min(5, heartbeat_interval)))
            summary = _log_study(st, tracker, cfg, trials, ran, t_start)
    best = summary["best"]
    out: dict[str, Any] = {
        "run_id": parent_id, "study": name, "storage": _redact(url),
        "best_value": None if best is None else float(best.value),
        "best_params": {} if best is None else dict(best.params),
        "best_trial": None if best is None else best.number,
        "n_trials_done": summary["counts"].done, "n_trials_run": ran,
        "metrics": dict(summary["metrics"]), "importances": summary["importances"],
    }
    if best is None:
        say(f"study {name!r}: no completed trial yet")
    else:
        say(f"study {name!r}: best cv.{metric} {best.value:.5f} (trial {best.number}) "
            f"{json.dumps(best.params)}; parent run {parent_id}")
    if retrain_best:
        if best is None:
            raise RevertibleError(f"study {name!r} has no completed trial to retrain; run "
                                  "more trials first")
        from mlflow import MlflowClient

        from ..model import train

        best_cfg = _with_model(cfg, best.params)
        if best_cfg.tracking.run_name is None:
            best_cfg = best_cfg.model_copy(update={"tracking": best_cfg.tracking.model_copy(
                update={"run_name": f"{name}-best"})})
        say(f"retraining trial {best.number}'s parameters on the development period; holdout "
            "evaluated once")
        res = train(best_cfg, config_path=config_path, panel=panel, episodes=eps,
                    tracker=tracker, console=console, progress=progress,
                    extra_tags={"optuna.study": name, "optuna.best_trial": str(best.number),
                                "tune.role": "retrain"},
                    parent_run_id=parent_id)
        client = MlflowClient(tracker.uri)
        client.set_tag(parent_id, "retrain.run_id", res["run_id"])
        client.set_tag(parent_id, "retrain.model_uri", res["model_uri"])
        out.update(model_uri=res["model_uri"], retrain_run_id=res["run_id"],
                   registered_version=res["registered_version"])
        out["metrics"].update(res["metrics"])
    return out


def tune_command(
    cfg: Config,
    *,
    trials: int,
    study: str | None = None,
    storage: str | None = None,
    retrain_best: bool = False,
    config_path: str | Path | None = None,
    console: Any = None,
    progress: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """``revertible tune``: load the data (with a progress bar) and run :func:`tune`."""
    from ..data import load_panel

    bar_ctx = progress or (lambda *_a, **_k: contextlib.nullcontext(lambda *_: None))
    with bar_ctx("loading data") as update:
        panel = load_panel(cfg.data, progress=update)
    return tune(cfg, trials=trials, study=study, storage=storage, retrain_best=retrain_best,
                panel=panel, config_path=config_path, console=console, progress=progress)
