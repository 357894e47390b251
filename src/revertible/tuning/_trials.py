"""The trial loop shared by concurrent workers, and one trial (a child MLflow run)."""

from __future__ import annotations

import math
import time
import warnings
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from ..errors import RevertibleError
from . import _data
from ._data import OBJECTIVES, TuningData
from ._space import _with_model, suggest_params
from ._storage import _counts

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..config import Config

__all__ = ["run_trials", "fail_trials_without_heartbeat"]


class _Surplus(Exception):
    """A trial created in a race after the target was already taken (never evaluated)."""


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
        fail_trials_without_heartbeat(study)
        c = _counts(study)
        if c.done >= target:
            return ran
        if c.done + c.running >= target:
            time.sleep(poll_s)
            continue
        study.optimize(objective, n_trials=1, catch=(_Surplus,), callbacks=[count],
                       gc_after_trial=False)


def fail_trials_without_heartbeat(study: optuna.Study) -> list[int]:
    """Fail RUNNING trials that never recorded a heartbeat and started a grace period ago.

    Optuna's ``fail_stale_trials`` only looks at trials with a heartbeat; a worker killed between
    creating a trial and its heartbeat thread's first record leaves a RUNNING trial no worker
    ever fails, and a study at its target waits for it forever. Such a trial is failed here and
    handed to the storage's stale-trial callback (the retry), like a stale one. Returns the
    failed trial ids (RDB storages with heartbeats only; otherwise nothing to do). It reads
    Optuna's private ORM models (no public call says whether a trial ever beat); where a future
    Optuna moves them, it does nothing rather than break the study.
    """
    import copy
    from datetime import datetime, timedelta

    storage = getattr(study, "_storage", None)
    rdb = getattr(storage, "_backend", storage)
    interval = getattr(rdb, "heartbeat_interval", None)
    if not isinstance(rdb, optuna.storages.RDBStorage) or interval is None:
        return []
    try:  # Optuna's private ORM: a version that moves it loses this repair, not the study
        from optuna.storages._rdb import models
    except ImportError:
        return []

    grace = timedelta(seconds=rdb.grace_period or 2 * interval)
    session = rdb.scoped_session()
    try:
        now = datetime.now()  # Optuna's own clock for datetime_start
        rows = (session.query(models.TrialModel)
                .filter(models.TrialModel.study_id == study._study_id)
                .filter(models.TrialModel.state == TrialState.RUNNING).all())
        ids = [r.trial_id for r in rows if not r.heartbeats and r.datetime_start is not None
               and now - r.datetime_start > grace]
    finally:
        session.close()
    failed = []
    for tid in ids:
        try:
            if storage.set_trial_state_values(tid, state=TrialState.FAIL):
                failed.append(tid)
        except optuna.exceptions.UpdateFinishedTrialError:  # another worker failed it first
            continue
    callback = rdb.get_heartbeat_stale_trial_callback()
    for tid in failed if callback is not None else []:
        callback(study, copy.deepcopy(storage.get_trial(tid)))
    return failed


def check_surplus(trial: optuna.Trial, target: int) -> None:
    """Fail a trial created in a race beyond ``target`` before it samples anything."""
    alive = trial.study.get_trials(deepcopy=False, states=(
        TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
    if sum(t.number < trial.number for t in alive) >= target:
        trial.set_user_attr("surplus", True)
        raise _Surplus(f"trial {trial.number} is beyond the target of {target}")


class _Objective:
    """One trial: sample, replace ``model.*``, walk-forward CV with pruning, log a child run."""

    def __init__(self, data: TuningData, cfg: Config, target: int, tracker: Any,
                 parent_run_id: str, study_name: str, progress: Callable[..., Any]):
        self.data, self.cfg, self.target = data, cfg, target
        self.tracker, self.parent_run_id, self.study_name = tracker, parent_run_id, study_name
        self.progress = progress

    def __call__(self, trial: optuna.Trial) -> float:
        import mlflow

        check_surplus(trial, self.target)
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
                    res: dict[str, float] | None = _data.evaluate_cv(
                        self.data, cfg, report=report, on_fold=update)
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
