"""Which store a command uses: the environment over the config (with a warning), nothing leaked
into the environment, and the team path: a real MLflow tracking server (``mlflow server`` on a
loopback port, started and killed here) for one train -> promote -> score round trip."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from revertible.cli import app
from revertible.config import TrackingConfig
from revertible.synthetic import write_market

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    cmd = [str(mlflow_bin) if mlflow_bin.exists() else "mlflow", "server",
           "--host", "127.0.0.1", "--port", str(port),
           "--backend-store-uri", f"sqlite:///{tmp}/server.db",
           "--artifacts-destination", str(tmp / "artifacts"), "--workers", "1"]
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while True:  # patience for a cold start on a busy machine, not a performance limit
            if proc.poll() is not None:
                raise AssertionError(f"mlflow server exited: {(tmp / 'server.log').read_text()}")
            try:
                urllib.request.urlopen(url + "/health", timeout=2)
                break
            except OSError:
                if time.monotonic() - t0 > 120:
                    raise AssertionError("mlflow server did not answer /health in 120 s") from None
                time.sleep(0.5)
        yield url, tmp
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.mark.slow
def test_train_promote_score_through_a_tracking_server(server, tmp_path, monkeypatch,
                                                      generated_market):
    url, _ = server
    monkeypatch.chdir(tmp_path)
    panel, truth = generated_market
    write_market(tmp_path / "data", panel, truth)
    cfg = tmp_path / "team.yaml"
    cfg.write_text(
        (REPO / "configs" / "demo.yaml").read_text()
        .replace("uri: sqlite:///experiments/mlflow.db", f"uri: {url}")
        .replace("n_estimators: 200", "n_estimators: 30")
    )
    runner = CliRunner()
    env = {"MLFLOW_TRACKING_URI": ""}
    r = runner.invoke(app, ["train", str(cfg), "--data", str(tmp_path / "data"), "--promote",
                            "--json"], env=env)
    assert r.exit_code == 0, r.output
    client = MlflowClient(url)
    champ = client.get_model_version_by_alias("revertible-demo", "champion")
    assert champ.description and champ.tags["holdout_auc"]
    assert client.get_run(champ.run_id).data.tags["kind"] == "train"
    out = tmp_path / "signals.csv"
    r = runner.invoke(app, ["score", str(cfg), "--data", str(tmp_path / "data"),
                            "--model", "models:/revertible-demo@champion", "--out", str(out)],
                      env=env)
    assert r.exit_code == 0, r.output
    signals = pd.read_csv(out)
    assert len(signals) > 0
    assert set(signals["model"]) == {f"models:/revertible-demo/{champ.version}"}
    assert signals["probability"].between(0, 1).all()
    assert not (tmp_path / "experiments").exists(), "nothing went to a local store"


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_store_rule_env_over_config_with_a_warning():
    from revertible.scoring import tracking_uri
    from revertible.tracking import Tracker, _store, store_uri

    _store._warned.clear()
    said = _Lines()
    logging.getLogger("revertible.tracking").addHandler(said)

    default = TrackingConfig()
    mine = TrackingConfig(uri="sqlite:////tmp/w2d-mine.db")
    assert store_uri(default, env_uri="") == default.uri
    assert store_uri(mine, env_uri="") == mine.uri
    assert store_uri(default, env_uri="http://team:5000") == "http://team:5000"
    assert not said.lines, "no warning when the config keeps the default"
    try:
        assert store_uri(mine, env_uri="http://team:5000") == "http://team:5000"
    finally:
        logging.getLogger("revertible.tracking").removeHandler(said)
    assert said.lines == ["tracking store: MLFLOW_TRACKING_URI=http://team:5000 overrides "
                          "tracking.uri=sqlite:////tmp/w2d-mine.db; unset MLFLOW_TRACKING_URI "
                          "to use the config's store"]
    # one function behind the Tracker, scoring and the CLI pre-check
    from revertible.config import load_config

    cfg = load_config("configs/demo.yaml", ["tracking.uri=sqlite:////tmp/w2d-x.db"], data="u")
    assert Tracker(cfg.tracking).uri == tracking_uri(cfg) == store_uri(cfg.tracking)


def test_mlflow_does_not_leak_the_store_into_the_environment(tmp_path, monkeypatch):
    import os

    from revertible.tracking import Tracker, store_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    a = TrackingConfig(uri=f"sqlite:///{tmp_path}/a.db")
    Tracker(a).connect()
    assert "MLFLOW_TRACKING_URI" not in os.environ
    b = TrackingConfig(uri=f"sqlite:///{tmp_path}/b.db")
    assert store_uri(b) == b.uri, "a later command keeps its own store"
