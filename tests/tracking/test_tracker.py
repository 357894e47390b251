"""MLflow a person can read: experiments, training and backtest runs apart, datasets logged."""

from __future__ import annotations

import pytest


def test_experiments_open_on_the_runs_view(store):
    c = store["client"]
    for name in ("track", "track-backtest"):
        exp = c.get_experiment_by_name(name)
        assert exp is not None, name
        assert exp.tags["mlflow.experimentKind"] == "custom_model_development"


def test_training_and_backtest_runs_are_apart(store):
    c = store["client"]
    ra, rbt = c.get_run(store["a"]["run_id"]), c.get_run(store["bt"]["run_id"])
    assert ra.info.experiment_id == c.get_experiment_by_name("track").experiment_id
    assert rbt.info.experiment_id == c.get_experiment_by_name("track-backtest").experiment_id
    assert ra.data.tags["kind"] == "train" and rbt.data.tags["kind"] == "backtest"


def test_dataset_is_logged_with_fingerprint_range_and_assets(store):
    c = store["client"]
    run = c.get_run(store["a"]["run_id"])
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1
    ds = inputs[0]
    tags = {t.key: t.value for t in ds.tags}
    assert tags["mlflow.data.context"] == "training"
    assert tags["assets"] == "8" and " .. " in tags["range"]
    assert ds.dataset.digest == tags["fingerprint"][:36] == run.data.tags["data_fingerprint"]
    assert run.data.tags["data_range"] == tags["range"]


def test_a_model_saved_by_an_earlier_version_is_refused_with_the_fix(tmp_path, monkeypatch):
    """A pickle that names a module this version no longer has (the retired return heads)."""
    import mlflow.pyfunc

    from revertible.errors import ModelError
    from revertible.tracking import load_model

    def old(*_a, **_k):
        raise ModuleNotFoundError("No module named 'revertible.model._returns'")

    monkeypatch.setattr(mlflow.pyfunc, "load_model", old)
    (tmp_path / "m").mkdir()
    with pytest.raises(ModelError, match=r"earlier revertible version .* retrain it with "
                                         r"`revertible train CONFIG`"):
        load_model(str(tmp_path / "m"))


@pytest.mark.parametrize("uri", ["models:/track-model", "models:/track-model/", "models:/"])
def test_a_registered_model_uri_without_version_or_alias_says_how_to_name_one(uri):
    from revertible.errors import ModelError
    from revertible.tracking import load_model

    name = uri[len("models:/"):].strip("/") or "<name>"
    with pytest.raises(ModelError, match=rf"name a version or an alias .*\(models:/{name}/"
                                         rf"<version> or models:/{name}@champion\)$"):
        load_model(uri)



@pytest.mark.parametrize("case", ["under_a_file", "read_only_folder", "folder_as_db"])
def test_an_unwritable_sqlite_store_is_refused_on_connect(tmp_path, monkeypatch, case):
    # `train` trained for its whole length, then MLflow retried for about 35 s, then it failed
    import os
    from pathlib import Path

    from revertible.config import TrackingConfig
    from revertible.errors import TrackingError
    from revertible.tracking import Tracker

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir.db").mkdir()
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access  # the tests may run as root, who may write anywhere: ro is read-only here
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == ro
                        and mode & os.W_OK else real(p, mode, **kw))
    db, where = {"under_a_file": (tmp_path / "file" / "sub" / "mlflow.db", tmp_path / "file"),
                 "read_only_folder": (ro / "new" / "mlflow.db", ro),
                 "folder_as_db": (tmp_path / "dir.db", tmp_path / "dir.db")}[case]
    with pytest.raises(TrackingError, match=f"{where} is not a writable .*point tracking.uri"):
        Tracker(TrackingConfig(uri=f"sqlite:///{db}", experiment="x")).connect()
    assert not (ro / "new").exists()


def test_an_experiment_created_by_another_worker_meanwhile_is_used(tmp_path, monkeypatch):
    # two tune workers on a new store: both looked the experiment up, found none, and the
    # second create failed ("Experiment(name=...) already exists": a traceback in CI)
    import mlflow

    from revertible.config import config_from_mapping
    from revertible.tracking import Tracker

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = config_from_mapping({"data": {"path": "unused"}, "tracking": {
        "uri": uri, "experiment": "race",
        "artifact_location": (tmp_path / "artifacts").as_uri()}})
    first = Tracker(cfg.tracking).connect().experiment_id  # the other worker's
    look_up = mlflow.get_experiment_by_name
    calls = []

    def missed_once(name):  # this worker's look-up ran before the other one's create
        calls.append(name)
        return None if len(calls) == 1 else look_up(name)

    monkeypatch.setattr(mlflow, "get_experiment_by_name", missed_once)
    assert Tracker(cfg.tracking).connect().experiment_id == first
    assert len(calls) == 2
