"""Helpers shared by the study tests (tests/tuning/test_study.py and test_strategy_study.py).

Real Optuna storages on temporary SQLite files, worker processes started with a script and
JSON arguments, polling a study until it reaches a state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
from mlflow import MlflowClient
from optuna.trial import TrialState

REPO = Path(__file__).resolve().parents[1]
DONE = (TrialState.COMPLETE, TrialState.PRUNED)


def storage_url(tmp: Path, name: str = "optuna") -> str:
    return f"sqlite:///{tmp}/{name}.db"


def load_study(storage: str, study: str) -> optuna.Study:
    return optuna.load_study(study_name=study, storage=storage)


def spawn(tmp: Path, script: str, args: dict, name: str = "worker.py") -> subprocess.Popen:
    """Run ``script`` (Python source) in a new process with ``json.dumps(args)`` as argv[1]."""
    path = tmp / name
    path.write_text(script)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.Popen([sys.executable, str(path), json.dumps(args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# Patience limits, not performance assertions: a worker in a fresh clone compiles the numba
# kernels (cold cache, ~20 s) while other test workers compete for the two cores.
def finish(proc: subprocess.Popen, timeout: float = 600) -> dict:
    """Wait for a worker; assert it succeeded; its last stdout line parsed as JSON.

    A worker still running at the timeout is killed (it would otherwise outlive the test and
    take a core from everything after it).
    """
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def poll(storage: str, study: str, until, timeout: float = 300) -> list:
    """The study's trials once ``until(trials)`` holds (fails if it finished unseen)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            trials = load_study(storage, study).get_trials()
            if until(trials):
                return trials
            if len(trials) >= 5 and all(t.state in DONE for t in trials):
                raise AssertionError(f"study {study} finished before the state was seen")
        except KeyError:  # study not created yet
            pass
        time.sleep(0.05)
    raise AssertionError(f"study {study} did not reach the state in {timeout}s")


def parent_runs(client: MlflowClient, experiment: str, study: str) -> list:
    """The parent (``tune.role=study``) runs of ``study`` in ``experiment``."""
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], f"tags.`optuna.study` = '{study}' and "
                              "tags.`tune.role` = 'study'")
