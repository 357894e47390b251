"""The Optuna study: storage with heartbeats, seeded sampler, pruner, settings check."""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from ..config import Config, TuningConfig, flatten
from ..errors import ConfigError, TrackingError
from ._data import OBJECTIVES

__all__ = ["TrialSeededTPESampler", "open_study", "study_settings"]

_SETTINGS_ATTR = "revertible.settings"



#: The one PostgreSQL URL form that works with what revertible installs (psycopg2-binary, in the
#: ``test`` extra); a plain ``postgresql://`` lets the database library pick another driver.
POSTGRES_FORM = "postgresql+psycopg2://user:pass@host/db"


def postgres_hint() -> str:
    """The fix for a missing database driver, saying whether psycopg2 is installed."""
    import importlib.util

    if importlib.util.find_spec("psycopg2") is not None:
        return (f"psycopg2 is installed: write the URL as {POSTGRES_FORM} (naming the driver), "
                "or use sqlite:///experiments/optuna.db")
    return (f"pip install psycopg2-binary and write the URL as {POSTGRES_FORM}, or use "
            "sqlite:///experiments/optuna.db")

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


def _pruner(tc: TuningConfig) -> optuna.pruners.BasePruner:
    if tc.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=tc.median_startup_trials,
                                           n_warmup_steps=0)
    if tc.pruner == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=2,
                                                      reduction_factor=tc.sh_reduction_factor)
    return optuna.pruners.NopPruner()


def _stale_callback(tracking_uri: str | None, max_retry: int):
    """Retry a stale trial (``max_retry`` times) and mark its MLflow child run KILLED."""
    retry_cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or \
        optuna.storages.RetryFailedTrialCallback  # Optuna < 4.9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = retry_cls(max_retry=max_retry)

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
    tracking_uri: str | None = None, heartbeat_interval: int | None = None,
    grace_period: int | None = None, direction: str | None = None,
) -> optuna.Study:
    """Create or load study ``name`` in ``storage``; refuse a study made with other settings.

    ``heartbeat_interval`` / ``grace_period`` (seconds) default to ``tuning.heartbeat_interval_s``
    / ``tuning.grace_period_s``; ``direction`` (``minimize``/``maximize``) that of
    ``tuning.objective``.
    """
    tc = cfg.tuning
    heartbeat_interval = tc.heartbeat_interval_s if heartbeat_interval is None \
        else heartbeat_interval
    grace_period = tc.grace_period_s if grace_period is None else grace_period
    from sqlalchemy.exc import DBAPIError

    callback = _stale_callback(tracking_uri, tc.max_retry)
    direction = direction or OBJECTIVES[cfg.tuning.objective][1]
    where = f"optuna storage {_redact(storage)}"
    for attempt in range(5):  # workers starting together may race on a fresh SQLite file
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                rdb = _rdb_storage(storage, heartbeat_interval, grace_period, callback)
            study = optuna.create_study(
                study_name=name, storage=rdb, load_if_exists=True, direction=direction,
                sampler=TrialSeededTPESampler(tc.seed, tc.tpe_startup_trials),
                pruner=_pruner(tc))
            break
        except ImportError as exc:
            raise TrackingError(f"{where}: database driver missing ({exc}); "
                                f"{postgres_hint()}") from None
        except DBAPIError as exc:  # locked, unreachable, ...: retry, then give up
            if attempt == 4:
                first = str(exc.orig or exc).splitlines()[0][:200]
                raise TrackingError(f"{where} cannot be used ({first}); start the database or "
                                    "pass another --storage URL") from None
            time.sleep(0.5 * (attempt + 1))
        except Exception as exc:  # noqa: BLE001 - a malformed URL and the like
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise TrackingError(f"{where}: {first}; pass an Optuna RDB URL such as "
                                "sqlite:///experiments/optuna.db or "
                                "postgresql+psycopg2://user:pass@host/db") from None
    if study.direction.name.lower() != direction:
        raise ConfigError(
            f"study {name!r} in {_redact(storage)} is {study.direction.name.lower()}d but "
            f"this objective is {direction}d; pick a new --study name")
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


def _best(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    try:
        return study.best_trial
    except ValueError:  # no completed trial yet
        return None
