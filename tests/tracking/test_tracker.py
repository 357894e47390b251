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
