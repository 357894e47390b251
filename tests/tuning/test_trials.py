"""A trial killed before its first heartbeat is failed and retried, not waited for forever."""

from __future__ import annotations

import sys
import time
import warnings

import optuna
import pytest
from optuna.trial import TrialState

from revertible.tuning._trials import fail_trials_without_heartbeat


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning",
                            "ignore:Heartbeat of storage:UserWarning")
def test_running_trial_without_a_heartbeat_is_failed_and_retried(tmp_path):
    retry_cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or \
        optuna.storages.RetryFailedTrialCallback  # Optuna < 4.9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = retry_cls(max_retry=1)
    kw = {"heartbeat_interval": 1, "grace_period": 2}
    url = f"sqlite:///{tmp_path}/o.db"
    try:
        storage = optuna.storages.RDBStorage(url, heartbeat_stale_trial_callback=retry, **kw)
    except TypeError:  # Optuna < 4.9
        storage = optuna.storages.RDBStorage(url, failed_trial_callback=retry, **kw)
    study = optuna.create_study(storage=storage, study_name="s")
    orphan = study.ask()  # RUNNING, and no heartbeat ever recorded: the worker died at once
    beating = study.ask()
    storage.record_heartbeat(beating._trial_id)
    assert fail_trials_without_heartbeat(study) == []  # too young: it may still start beating
    time.sleep(2.2)
    storage.record_heartbeat(beating._trial_id)  # alive
    assert fail_trials_without_heartbeat(study) == [orphan._trial_id]
    states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    assert states[orphan.number] == TrialState.FAIL and states[beating.number] == TrialState.RUNNING
    retried = [t for t in study.get_trials(deepcopy=False)
               if t.system_attrs.get("failed_trial") == orphan.number]
    assert len(retried) == 1 and retried[0].state == TrialState.WAITING
    assert fail_trials_without_heartbeat(study) == []  # once


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning",
                            "ignore:Heartbeat of storage:UserWarning")
def test_an_optuna_without_the_private_models_skips_the_repair(tmp_path, monkeypatch):
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path}/o.db", heartbeat_interval=1,
                                         grace_period=1)
    study = optuna.create_study(storage=storage, study_name="s")
    study.ask()
    import optuna.storages._rdb as rdb  # as if a later Optuna had moved its ORM models

    monkeypatch.delattr(rdb, "models")
    monkeypatch.setitem(sys.modules, "optuna.storages._rdb.models", None)
    time.sleep(1.2)  # past the grace period: with the models it would be failed
    assert fail_trials_without_heartbeat(study) == []  # the import fails: no repair, no crash
    monkeypatch.undo()
    assert [t.state for t in study.get_trials(deepcopy=False)] == [TrialState.RUNNING]
