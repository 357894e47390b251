"""Tuning on a generated market: resumable, shared, seeded, blind to the holdout, tracked.

Real Optuna storages and a real MLflow on temporary SQLite files; the kill and worker tests run
``revertible.tuning.tune`` in separate processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import optuna
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from tune_support import DONE, REPO, parent_runs, spawn
from tune_support import finish as _finish
from tune_support import load_study as _load
from tune_support import poll as _poll
from tune_support import storage_url as _storage

from revertible.config import load_config
from revertible.errors import ConfigError
from revertible.model import cross_validate, holdout_split, label_end
from revertible.synthetic import generate_market
from revertible.tuning import _data as tune_data
from revertible.tuning import _trials as tune_mod
from revertible.tuning import (
    check_space,
    evaluate_cv,
    fail_orphaned_parents,
    open_study,
    prepare_tuning_data,
    study_settings,
    tune,
)
from revertible.workflows import train

CONFIG = str(REPO / "configs" / "demo.yaml")
SEED = 3
# small models so a trial takes about a second; min_child_samples low enough for ~300 episodes
SPACE = ("tuning.space={learning_rate: {low: 0.02, high: 0.3, log: true}, "
         "num_leaves: {type: int, low: 4, high: 31}, "
         "n_estimators: {type: int, low: 10, high: 40}, "
         "min_child_samples: {type: int, low: 5, high: 40, log: true}, "
         "calibration: {type: categorical, choices: [isotonic, sigmoid]}}")


def _sets(ml: Path, *extra: str) -> list[str]:
    """Overrides for a small study logging to the MLflow store in folder ``ml``."""
    return [f"tracking.uri=sqlite:///{ml}/mlflow.db",
            f"tracking.artifact_location={(ml / 'artifacts').as_uri()}",
            "tracking.registered_model=tune-test", "model.n_estimators=20",
            "model.min_child_samples=20", "cv.n_folds=3", SPACE, *extra]


def _cfg(ml: Path, *extra: str):
    return load_config(CONFIG, _sets(ml, *extra), data="unused")


@pytest.fixture(scope="module")
def mlflow_dir(mlflow_store):
    """The session's MLflow store (it exists before worker processes write to it together)."""
    return mlflow_store


@pytest.fixture(scope="module")
def market():
    panel, _ = generate_market(n_assets=8, n_bars=24 * 120, seed=SEED)
    return panel


@pytest.fixture(scope="module")
def studied(market, mlflow_dir, tmp_path_factory):
    """One study with --retrain-best, a rerun with the same seed, and a plain `train` run."""
    tmp = tmp_path_factory.mktemp("tune")
    cfg = _cfg(mlflow_dir)
    a = tune(cfg, panel=market, trials=6, study="a", storage=_storage(tmp), retrain_best=True)
    b = tune(cfg, panel=market, trials=6, study="b", storage=_storage(tmp))
    plain = train(cfg, panel=market, register=False)
    return tmp, cfg, a, b, plain


# ---- the objective is training's CV, on development rows only -----------------------------------
def test_trial_value_is_trains_cv_metric(market, mlflow_dir):
    cfg = _cfg(mlflow_dir, "model.num_leaves=7", "model.calibration=sigmoid")
    data, eps = prepare_tuning_data(cfg, market)
    mine = evaluate_cv(data, cfg)
    dev, _, _ = holdout_split(eps, cfg.cv.holdout_frac, cfg.label.horizon, market.freq)
    end = label_end(eps, cfg.label.horizon, market.freq)
    theirs = cross_validate(
        data.X.reset_index(drop=True), data.y, eps["entry_time"].iloc[dev].reset_index(drop=True),
        end.iloc[dev].reset_index(drop=True), cfg, data.features, ["lgbm"], market.freq,
    )["metrics"]["lgbm"]
    assert mine.keys() == theirs.keys() and "fold3.log_loss" in mine
    for k, v in theirs.items():
        assert mine[k] == v or (np.isnan(v) and np.isnan(mine[k])), k


def test_holdout_never_reaches_the_study(market, mlflow_dir, tmp_path, monkeypatch):
    cfg = _cfg(mlflow_dir)
    data, eps = prepare_tuning_data(cfg, market)
    hstart = data.holdout_start
    assert len(eps) > len(data.y) and data.n_holdout > 50
    assert (data.entry < hstart).all() and (data.end < hstart).all()
    seen: list[np.ndarray] = []
    real = tune_data.fit_predict

    def spy(kind, X, y, Xt, cfg_, features, *rest):
        seen.extend([X.index.to_numpy(), Xt.index.to_numpy()])
        return real(kind, X, y, Xt, cfg_, features, *rest)

    monkeypatch.setattr(tune_data, "fit_predict", spy)
    tune(cfg, panel=market, episodes=eps, trials=2, study="spy", storage=_storage(tmp_path))
    rows = np.unique(np.concatenate(seen))
    assert len(seen) >= 2 * 2 * len(data.folds)  # every fold of both trials went through the spy
    assert set(rows) <= set(data.X.index)
    assert (eps["entry_time"].iloc[rows] < hstart).all()
    assert (label_end(eps, cfg.label.horizon, market.freq).iloc[rows] < hstart).all()
    # and flipping every holdout label changes nothing the study sees
    flipped = eps.copy()
    hold = flipped["entry_time"] >= hstart
    flipped.loc[hold, "label"] = 1 - flipped.loc[hold, "label"]
    data2, _ = prepare_tuning_data(cfg, market, episodes=flipped)
    assert data2.X.equals(data.X) and np.array_equal(data2.y, data.y)
    assert evaluate_cv(data2, cfg) == evaluate_cv(data, cfg)


# ---- seeded sampling ----------------------------------------------------------------------------
@pytest.mark.slow
def test_same_seed_same_trials(studied, market):
    tmp, cfg, a, b, _ = studied
    ta = _load(_storage(tmp), "a").get_trials()
    tb = _load(_storage(tmp), "b").get_trials()
    assert len(ta) == len(tb) == 6
    assert [t.params for t in ta] == [t.params for t in tb]
    assert [t.state for t in ta] == [t.state for t in tb]
    assert [t.value for t in ta] == [t.value for t in tb]
    assert len({json.dumps(t.params, sort_keys=True) for t in ta}) == 6  # no repeated point
    assert a["best_params"] == b["best_params"] and a["best_value"] == b["best_value"]
    # another seed proposes other points
    c = tune(cfg.model_copy(update={"tuning": cfg.tuning.model_copy(update={"seed": 43})}),
             panel=market, trials=1, study="c",
             storage=_storage(tmp))
    assert _load(_storage(tmp), "c").trials[0].params != ta[0].params
    assert c["n_trials_done"] == 1


@pytest.mark.slow
def test_resume_refuses_other_settings(studied):
    tmp, cfg, _, _, _ = studied
    settings = study_settings(cfg, "fingerprint-of-other-data")
    with pytest.raises(ConfigError, match="data.fingerprint"):
        open_study(cfg, "a", _storage(tmp), settings)
    ml = Path(cfg.tracking.uri.removeprefix("sqlite:///")).parent
    with pytest.raises(ConfigError, match="tuning.space.bogus: not a tunable"):
        tune(_cfg(ml, "tuning.space.bogus={low: 1, high: 2}"), trials=1)
    with pytest.raises(ConfigError, match="num_leaves"):
        tune(_cfg(ml, "tuning.space={num_leaves: {type: int, low: 1, high: 8}}"), trials=1)


def test_trial_created_beyond_the_target_is_failed_before_sampling(tmp_path, mlflow_dir):
    """Two workers asking at once for the last slot: the later trial number stands back."""
    cfg = _cfg(mlflow_dir)
    study = open_study(cfg, "race", _storage(tmp_path), {"k": "v"})
    dist = optuna.distributions.FloatDistribution(0.01, 0.3, log=True)
    for v in (0.5, 0.6):
        study.add_trial(optuna.create_trial(value=v, params={"learning_rate": 0.1},
                                            distributions={"learning_rate": dist}))
    objective = tune_mod._Objective(None, cfg, 2, None, "parent", "race", None)
    study.optimize(objective, n_trials=1, catch=(tune_mod._Surplus,))
    last = study.trials[-1]
    assert last.state == TrialState.FAIL and last.user_attrs["surplus"] and not last.params
    assert tune_mod.run_trials(study, objective, 2) == 0  # target already met: nothing runs


# ---- MLflow -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_parent_and_child_runs(studied):
    tmp, cfg, a, _, plain = studied
    client = MlflowClient(cfg.tracking.uri)
    exp = client.get_experiment_by_name(cfg.tracking.experiment).experiment_id
    parent = client.get_run(a["run_id"])
    assert parent.data.tags["tune.role"] == "study" and "mlflow.parentRunId" not in parent.data.tags
    children = client.search_runs([exp], f"tags.mlflow.parentRunId = '{a['run_id']}'")
    trials = {int(r.data.tags["optuna.trial_number"]): r for r in children
              if r.data.tags["tune.role"] == "trial"}
    study = _load(_storage(tmp), "a")
    assert sorted(trials) == [t.number for t in study.trials] == list(range(6))
    for t in study.trials:
        run = trials[t.number]
        assert run.info.status == "FINISHED"
        assert run.data.tags["optuna.trial_state"] == t.state.name
        for k, v in t.params.items():
            assert run.data.params[f"model.{k}"] == str(v)
        assert "fold1.log_loss" in run.data.metrics and "fold2.log_loss" in run.data.metrics
        if t.state == TrialState.COMPLETE:
            assert run.data.metrics["cv.log_loss"] == pytest.approx(t.value, rel=1e-12)
    # the parent: best value and params, counts, plots
    m = parent.data.metrics
    assert m["best.value"] == pytest.approx(a["best_value"]) == pytest.approx(study.best_value)
    assert m["tune.n_complete"] + m["tune.n_pruned"] == 6 == a["n_trials_done"]
    assert {f"best.model.{k}" for k in study.best_params} <= set(parent.data.params)
    plots = {x.path for x in client.list_artifacts(a["run_id"], "plots")}
    assert "plots/optimization_history.png" in plots
    assert ("plots/param_importances.png" in plots) == (m["tune.n_complete"] >= 2)
    # --retrain-best: a child run of the parent with the same columns as a plain `train` run
    retrain = [r for r in children if r.data.tags["tune.role"] == "retrain"]
    assert len(retrain) == 1 and retrain[0].info.run_id == a["retrain_run_id"]
    assert a["model_uri"] == f"runs:/{a['retrain_run_id']}/model"
    assert parent.data.tags["retrain.run_id"] == a["retrain_run_id"]
    # the same columns, but for the figures that are undefined (not logged) where the decision
    # took no held-out trade in one of the two runs
    undefined_without_trades = {f"decision.{s}.taken_net_bp{x}" for s in ("cv", "holdout")
                                for x in ("", "_expected")}
    differ = set(retrain[0].data.metrics) ^ set(client.get_run(plain["run_id"]).data.metrics)
    assert differ <= undefined_without_trades, differ
    assert {"holdout.log_loss", "holdout.roc_auc", "cv.log_loss"} <= set(retrain[0].data.metrics)
    for k, v in study.best_params.items():
        assert retrain[0].data.params[f"model.{k}"] == str(v)
    # the retrained model's CV is the best trial's value: one code path
    assert retrain[0].data.metrics["cv.log_loss"] == pytest.approx(a["best_value"], rel=1e-12)
    assert a["metrics"]["holdout.log_loss"] == retrain[0].data.metrics["holdout.log_loss"]


# ---- processes: kill -9 and resume, two workers -------------------------------------------------
WORKER = textwrap.dedent("""
    import json, sys, time
    import revertible.tuning._data as T
    from revertible.config import load_config
    from revertible.synthetic import generate_market
    from revertible.tuning import tune

    # every trial lasts at least a second, so a poller reliably sees one RUNNING (the kill test
    # must catch the study mid-way; tiny synthetic trials could otherwise all finish unseen)
    _evaluate = T.evaluate_cv
    def _slow(*args, **kwargs):
        time.sleep(1.0)
        return _evaluate(*args, **kwargs)
    T.evaluate_cv = _slow

    a = json.loads(sys.argv[1])
    panel, _ = generate_market(n_assets=8, n_bars=24 * 120, seed=a["seed"])
    cfg = load_config(a["config"], a["sets"], data="unused")
    res = tune(cfg, panel=panel, trials=a["trials"], study=a["study"], storage=a["storage"],
               heartbeat_interval=1, grace_period=2, poll_s=0.2)
    print(json.dumps({k: res[k] for k in ("run_id", "n_trials_run", "n_trials_done")}))
""")


def _worker(tmp: Path, ml: Path, study: str, trials: int,
            storage: str | None = None) -> subprocess.Popen:
    args = {"seed": SEED, "config": CONFIG, "sets": _sets(ml), "trials": trials,
            "study": study, "storage": storage or _storage(tmp)}
    return spawn(tmp, WORKER, args)


@pytest.mark.slow
def test_kill_and_resume(tmp_path, mlflow_dir):
    n = 5
    proc = _worker(tmp_path, mlflow_dir, "resume", n)
    try:
        _poll(_storage(tmp_path), "resume",
              lambda ts: sum(t.state in DONE for t in ts) >= 2
              and any(t.state == TrialState.RUNNING for t in ts))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = _load(_storage(tmp_path), "resume").get_trials()
    finished = {t.number: (t.state, t.params, t.value) for t in before if t.state in DONE}
    killed = [t for t in before if t.state == TrialState.RUNNING]
    assert len(finished) >= 2 and len(finished) < n
    res = _finish(_worker(tmp_path, mlflow_dir, "resume", n))
    after = _load(_storage(tmp_path), "resume").get_trials()
    by_number = {t.number: t for t in after}
    for num, (state, params, value) in finished.items():  # nothing finished was lost or redone
        assert (by_number[num].state, by_number[num].params, by_number[num].value) == \
            (state, params, value)
    assert sum(t.state in DONE for t in after) == n == res["n_trials_done"]
    assert res["n_trials_run"] == n - len(finished)
    assert not any(t.state == TrialState.RUNNING for t in after)
    client = MlflowClient(f"sqlite:///{mlflow_dir}/mlflow.db")
    for k in killed:  # the killed trial failed, and was retried once with the same parameters
        assert by_number[k.number].state == TrialState.FAIL
        retries = [t for t in after if t.system_attrs.get("failed_trial") == k.number]
        assert len(retries) == 1 and retries[0].state in DONE
        if k.params:  # a kill during sampling leaves some parameters; the retry keeps those
            n_dims = len(_cfg(mlflow_dir).tuning.space)
            if len(k.params) == n_dims:
                assert retries[0].params == k.params
            else:
                assert k.params.items() <= retries[0].params.items()
                assert len(retries[0].params) == n_dims
        run_id = k.user_attrs.get("mlflow_run_id")
        if run_id:
            assert client.get_run(run_id).info.status == "KILLED"
    # the killed tune's parent run was marked FAILED when the study was started again
    parents = _parents(client, mlflow_dir, "resume")
    assert {r.info.run_id: r.info.status for r in parents if r.info.run_id != res["run_id"]}
    assert all(r.info.status == "FAILED" for r in parents if r.info.run_id != res["run_id"])
    assert [r.info.status for r in parents if r.info.run_id == res["run_id"]] == ["FINISHED"]


def _parents(client: MlflowClient, ml: Path, study: str) -> list:
    return parent_runs(client, _cfg(ml).tracking.experiment, study)


@pytest.mark.slow
def test_sigterm_ends_the_parent_run_failed(tmp_path, mlflow_dir):
    proc = _worker(tmp_path, mlflow_dir, "term", 6)
    try:
        # a trial inside its objective (each lasts >= 1 s): Optuna fails it on the interrupt
        _poll(_storage(tmp_path), "term",
              lambda ts: any(t.state == TrialState.RUNNING and t.datetime_start is not None
                             and (datetime.now() - t.datetime_start).total_seconds() > 0.3
                             for t in ts))
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    client = MlflowClient(f"sqlite:///{mlflow_dir}/mlflow.db")
    parents = _parents(client, mlflow_dir, "term")
    assert [r.info.status for r in parents] == ["FAILED"]
    # its running trial did not stay RUNNING either
    assert not any(t.state == TrialState.RUNNING for t in _load(_storage(tmp_path), "term").trials)


def test_orphaned_parent_is_failed_only_when_its_process_is_gone(mlflow_dir):
    import socket

    from revertible.tracking import Tracker

    Tracker(_cfg(mlflow_dir).tracking).connect()  # its experiment, whatever ran on this worker
    client = MlflowClient(f"sqlite:///{mlflow_dir}/mlflow.db")
    exp = client.get_experiment_by_name(_cfg(mlflow_dir).tracking.experiment).experiment_id
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    cases = {"dead": (host, gone.pid), "alive": (host, os.getppid()),
             "elsewhere": ("another-host.invalid", gone.pid)}
    ids = {}
    for case, (h, pid) in cases.items():
        run = client.create_run(exp, tags={"optuna.study": "orphans", "tune.role": "study",
                                           "tune.host": h, "tune.pid": str(pid)})
        ids[case] = run.info.run_id
    assert fail_orphaned_parents(client.tracking_uri, exp, "orphans") == [ids["dead"]]
    status = {case: client.get_run(i).info.status for case, i in ids.items()}
    assert status == {"dead": "FAILED", "alive": "RUNNING", "elsewhere": "RUNNING"}
    assert "marked FAILED" in client.get_run(ids["dead"]).data.tags["tune.end"]
    assert fail_orphaned_parents(client.tracking_uri, exp, "other-study") == []


def test_resource_settings_are_not_tunable(mlflow_dir):
    with pytest.raises(ConfigError, match="tuning.space.n_jobs: not a tunable"):
        check_space(_cfg(mlflow_dir, "tuning.space.n_jobs={type: int, low: 1, high: 4}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_storage(request, tmp_path) -> tuple[str, str]:
    """(storage URL, study name): SQLite in a temporary folder, and a real PostgreSQL.

    ``.ci/run`` starts PostgreSQL and exports ``REVERTIBLE_PG_URL``; without it the PostgreSQL
    case is skipped locally and fails in CI (the team path must be tested there).
    """
    if request.param == "sqlite":
        return _storage(tmp_path), "shared"
    url = os.environ.get("REVERTIBLE_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("REVERTIBLE_PG_URL is not set: .ci/run starts PostgreSQL and sets it")
        pytest.skip("REVERTIBLE_PG_URL not set (bash .ci/run starts a PostgreSQL)")
    return url, f"shared-{os.getpid()}-{time.time_ns()}"  # fresh study in a shared database


@pytest.mark.slow
def test_two_workers_share_one_study(tmp_path, mlflow_dir, shared_storage):
    n = 8
    storage, name = shared_storage
    procs = [_worker(tmp_path, mlflow_dir, name, n, storage) for _ in range(2)]
    results = [_finish(p) for p in procs]
    trials = _load(storage, name).get_trials()
    done = [t for t in trials if t.state in DONE]
    assert len(done) == n
    assert sum(r["n_trials_run"] for r in results) == n  # every trial ran in exactly one worker
    assert all(r["n_trials_run"] >= 1 for r in results)  # both took part
    assert not any(t.state == TrialState.RUNNING for t in trials)
    # anything else is a surplus trial created in a race and failed before sampling
    assert all(t.user_attrs.get("surplus") and not t.params
               for t in trials if t.state not in DONE)
    assert len({t._trial_id for t in trials}) == len(trials)
    assert len({json.dumps(t.params, sort_keys=True) for t in done}) == n  # distinct points
    client = MlflowClient(f"sqlite:///{mlflow_dir}/mlflow.db")
    exp = client.get_experiment_by_name(_cfg(mlflow_dir).tracking.experiment)
    runs = [r for r in client.search_runs([exp.experiment_id], "tags.`tune.role` = 'trial'")
            if r.data.tags["mlflow.parentRunId"] in {x["run_id"] for x in results}]
    numbers = [int(r.data.tags["optuna.trial_number"]) for r in runs]
    assert sorted(numbers) == sorted(t.number for t in done)  # one child run per trial, no repeat
    parents = {r.data.tags["mlflow.parentRunId"] for r in runs}
    assert parents == {r["run_id"] for r in results}
