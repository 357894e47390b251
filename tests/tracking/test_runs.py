"""``revertible runs``: the runs table best first, sorting, comparing two runs."""

from __future__ import annotations

from conftest import cli_output

from revertible.cli import app
from revertible.tracking import Tracker, list_runs

from .support import runner


def test_list_runs_best_first_with_versions(store):
    df = list_runs(Tracker(store["cfg"].tracking))
    by_auc = sorted([store["a"], store["b"]], key=lambda r: -r["metrics"]["holdout.roc_auc"])
    assert list(df["run_id"]) == [r["run_id"] for r in by_auc]
    assert set(df["version"]) == {"1", "2"}
    assert df.loc[df["version"] == "2", "alias"].item() == "champion"
    ece = list_runs(Tracker(store["cfg"].tracking), sort="holdout_ece")["holdout_ece"]
    assert ece.is_monotonic_increasing, "lower ECE is better"
    assert "range" not in df.columns  # a training run has no replay range


def test_a_backtest_run_shows_its_replay_range_not_only_the_data_range(store):
    df = list_runs(Tracker(store["cfg"].tracking), kind="backtest")
    start, end = store["bt"]["range"]
    assert df["range"].tolist() == [f"{start[:16]}..{end[:16]}"]
    assert "data_range" not in df.columns or df["data_range"].tolist() != df["range"].tolist()


def test_runs_command_table_and_compare(store):
    r = runner.invoke(app, ["runs", str(store["yaml"])])
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert "2 train runs" in flat and "holdout_auc" in flat and "champion" in flat
    r = runner.invoke(app, ["runs", str(store["yaml"]), "--kind", "backtest"])
    assert r.exit_code == 0 and "1 backtest runs" in " ".join(r.output.split()), r.output
    a, b = store["a"]["run_id"], store["b"]["run_id"]
    r = runner.invoke(app, ["runs", str(store["yaml"]), "--compare", a[:10], b])
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert "model.num_leaves" in flat and "31" in flat and "7" in flat
    assert "label.horizon" not in flat, "only differing keys by default"
    assert "0_holdout_auc" in flat


def test_compare_unknown_run_is_one_line(store):
    r = runner.invoke(app, ["runs", str(store["yaml"]), "--compare", "nope", "nope2"])
    assert r.exit_code == 2 and cli_output(r).startswith("error:") and "nope" in r.output


def test_runs_reads_a_read_only_store_and_creates_no_missing_one(store, tmp_path):
    import os
    import shutil

    ro = tmp_path / "ro"
    ro.mkdir()
    shutil.copy(store["tmp"] / "mlflow.db", ro / "mlflow.db")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{path: unused}}\ntracking: {{uri: 'sqlite:///{ro}/mlflow.db', "
                   "experiment: track, registered_model: track-model}\n")
    os.chmod(ro / "mlflow.db", 0o444)
    os.chmod(ro, 0o555)
    before = (ro / "mlflow.db").read_bytes()
    try:
        for kind in ("train", "backtest", "all"):
            r = runner.invoke(app, ["runs", str(cfg), "--kind", kind],
                              env={"MLFLOW_TRACKING_URI": ""})
            assert r.exit_code == 0 and f" {kind} runs of 'track'" in r.output, r.output
    finally:
        os.chmod(ro, 0o755)
    assert (ro / "mlflow.db").read_bytes() == before  # read, never written (root ignores 0o444)
    # a store holding only backtests: listing them creates no training experiment
    only = tmp_path / "only.db"
    shutil.copy(store["tmp"] / "mlflow.db", only)
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{only}")
    client.delete_experiment(client.get_experiment_by_name("track").experiment_id)
    names = {e.name for e in client.search_experiments(view_type=3)}
    cfg.write_text(f"data: {{path: unused}}\ntracking: {{uri: 'sqlite:///{only}', "
                   "experiment: track, registered_model: track-model}\n")
    r = runner.invoke(app, ["runs", str(cfg), "--kind", "backtest"],
                      env={"MLFLOW_TRACKING_URI": ""})
    assert r.exit_code == 0 and "1 backtest runs" in " ".join(r.output.split()), r.output
    bt_id = client.get_experiment_by_name("track-backtest").experiment_id
    assert f"/#/experiments/{bt_id}?" in "".join(r.output.split())  # the link opens them
    assert {e.name for e in client.search_experiments(view_type=3)} == names
    missing = tmp_path / "none" / "mlflow.db"
    cfg.write_text(f"data: {{path: unused}}\ntracking: {{uri: 'sqlite:///{missing}'}}\n")
    r = runner.invoke(app, ["runs", str(cfg)], env={"MLFLOW_TRACKING_URI": ""})
    assert r.exit_code == 0 and "no train runs in experiment" in " ".join(r.output.split())
    r = runner.invoke(app, ["runs", str(cfg), "--compare", "a", "b"],
                      env={"MLFLOW_TRACKING_URI": ""})
    assert r.exit_code == 2 and "has no database yet" in cli_output(r)
    assert not missing.parent.exists()  # nothing created to answer "no runs"


def test_runs_on_a_file_that_is_no_store_is_one_line(tmp_path):
    db = tmp_path / "mlflow.db"
    db.write_text("not a database\n" * 100)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{path: unused}}\ntracking: {{uri: 'sqlite:///{db}'}}\n")
    r = runner.invoke(app, ["runs", str(cfg)], env={"MLFLOW_TRACKING_URI": ""})
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert cli_output(r).startswith(f"error: tracking store sqlite:///{db} cannot be read (")
