"""What a person sees in the MLflow UI: true durations, training-view links, comparable models."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from revertible.cli import app
from revertible.config import config_from_mapping
from revertible.tracking import (
    Tracker,
    comparability_warning,
    model_differences,
    ui_link,
)

runner = CliRunner()


def test_model_differences_name_assets_timeframe_and_labels():
    a = {"data.assets": "null", "data.timeframe": "1h", "label.horizon": "48",
         "label.entry": "2.0", "model.num_leaves": "31"}
    b = {**a, "label.horizon": "24", "model.num_leaves": "7"}
    assert model_differences(a, {"data_assets": "136"}, b, {"data_assets": "136"}) == [
        "label.horizon 48 vs 24"]  # model settings are what a comparison is for
    c = {**a, "data.timeframe": "4h", "data.assets": "['BTC/USDT', 'ETH/USDT']"}
    diffs = model_differences(a, {"data_assets": "136"}, c, {"data_assets": "2"})
    assert "data.timeframe 1h vs 4h" in diffs and "assets 136 vs 2" in diffs
    assert any(d.startswith("data.assets null vs") for d in diffs)
    text = comparability_warning(diffs)
    assert text.startswith("warning: the two models differ in ") and "not comparable" in text
    assert comparability_warning([]) == ""
    # a key only one run logged (an older run) is not a difference
    assert model_differences({"label.horizon": "48"}, {}, {}, {}) == []


def test_the_same_files_under_another_path_are_the_same_data_but_another_universe_is_not():
    # the demo logs its data folder absolute, a config names it relative: --promote said the
    # two models "answer different questions" for the path, and nothing about the real
    # difference, the universe (0.5 vs 0.3 minimum correlation: 4,536 vs 7,244 episodes)
    a = {"data.path": "demo-out/data", "label.horizon": "48", "universe.min_abs_corr": "0.5",
         "spread.z_window": "72", "model.num_leaves": "31"}
    b = {**a, "data.path": "/tmp/walk/demo-out/data", "universe.min_abs_corr": "0.3"}
    same = {"data_fingerprint": "bd0302b0b8128b4e"}
    assert model_differences(a, same, b, same) == ["universe.min_abs_corr 0.5 vs 0.3"]
    other = {"data_fingerprint": "0123456789abcdef"}
    assert model_differences(a, same, b, other) == [
        "data.path demo-out/data vs /tmp/walk/demo-out/data", "universe.min_abs_corr 0.5 vs 0.3"]
    c = {**a, "spread.z_window": "168"}
    assert model_differences(a, same, c, same) == ["spread.z_window 72 vs 168"]


def test_ui_links_open_the_model_training_view():
    assert ui_link("http://mlflow.internal:5000/", experiment_id="3", run_id="abc") == (
        "http://mlflow.internal:5000/#/experiments/3/runs/abc?workflowType=machine_learning")
    assert ui_link("sqlite:///experiments/mlflow.db", model="m", version=2) == (
        "http://127.0.0.1:5000/#/models/m/versions/2?workflowType=machine_learning")
    assert ui_link("sqlite:///x.db").endswith("/#/experiments?workflowType=machine_learning")


@pytest.fixture
def tracking(tmp_path):
    cfg = config_from_mapping({"data": {"path": "/tmp"},
                               "tracking": {"uri": f"sqlite:///{tmp_path}/mlflow.db",
                                            "experiment": "ui",
                                            "artifact_location": (tmp_path / "a").as_uri()}})
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(f"data: {{path: /tmp}}\ntracking: {{uri: 'sqlite:///{tmp_path}/mlflow.db',"
                        " experiment: ui}\n")
    return cfg, cfg_file


def test_a_run_logged_at_the_end_lasts_as_long_as_the_work(tracking):
    cfg, _ = tracking
    tracker = Tracker(cfg.tracking).connect()  # the command starts its work here
    t0 = time.time()
    time.sleep(1.2)  # ... the work
    with tracker.run(run_name="late", tags={"kind": "train"}) as run:
        tracker.log_metrics({"x": 1.0})
    import mlflow

    info = mlflow.MlflowClient(tracker.uri).get_run(run.info.run_id).info
    assert info.start_time <= int(t0 * 1000) + 50
    assert (info.end_time - info.start_time) >= 1100
    assert info.run_name == "late" and info.status == "FINISHED"
    # a second run of the same tracker starts when it is opened
    with tracker.run(run_name="second") as run2:
        pass
    info2 = mlflow.MlflowClient(tracker.uri).get_run(run2.info.run_id).info
    assert info2.start_time >= info.end_time - 5


def test_runs_compare_warns_when_two_models_answer_different_questions(tracking):
    cfg, cfg_file = tracking
    tracker = Tracker(cfg.tracking).connect()
    ids = []
    for horizon, n in ((48, "136"), (24, "20")):
        with tracker.run(run_name=f"h{horizon}", tags={"kind": "train", "data_assets": n}) as r:
            tracker.log_params({"label.horizon": horizon, "data.timeframe": "1h"})
            tracker.log_metrics({"holdout.roc_auc": 0.6})
            ids.append(r.info.run_id)
    res = runner.invoke(app, ["runs", str(cfg_file), "--compare", ids[0], ids[1]])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "warning: the two models differ in label.horizon 48 vs 24; assets 136 vs 20" in flat
    listing = runner.invoke(app, ["runs", str(cfg_file)])
    assert "workflowType=machine_learning" in " ".join(listing.output.split())


def test_demo_epilogue_says_where_the_report_is_and_how_to_open_the_ui(tmp_path):
    import shutil
    import sys
    from pathlib import Path

    from revertible.cli._demo import demo_epilogue
    from revertible.tracking import ui_command

    report = tmp_path / "backtest" / "report.html"
    result = {"backtest": {"report": str(report)},
              "train": {"run_id": None, "registered_version": "1"}}
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    lines = demo_epilogue(result, uri, "revertible-demo")
    assert lines[0] == f"report: {report.resolve()} (open it in a browser)"
    assert lines[1] == f"MLflow UI: run `{ui_command(uri)}`, then open:"
    # the command works from any shell: mlflow on the PATH is this environment's, else its path
    exe, rest = ui_command(uri).split(" ", 1)
    assert rest == f"ui --backend-store-uri {uri}"
    assert exe == str(Path(sys.executable).parent / "mlflow") and Path(exe).is_file() or (
        exe == "mlflow" and shutil.which("mlflow") == str(Path(sys.executable).parent / "mlflow"))
    assert lines[-1].endswith("/#/models/revertible-demo/versions/1"
                              "?workflowType=machine_learning")


def _champion(version, metrics, params, tags):
    """An MLflow client stand-in whose @champion is ``version``, a run of these fields."""
    from types import SimpleNamespace

    run = SimpleNamespace(data=SimpleNamespace(metrics=metrics, params=params, tags=tags))
    return SimpleNamespace(
        get_model_version_by_alias=lambda name, alias: SimpleNamespace(version=version,
                                                                        run_id="r"),
        get_run=lambda run_id: run)


def test_promote_line_warns_when_the_champion_answers_another_question():

    from revertible.tracking import compare_to_champion

    client = _champion(
        version="3", metrics={"holdout.roc_auc": 0.60, "holdout.brier_skill": 0.01},
        params={"label.horizon": "24", "data.timeframe": "1h", "data.assets": "null"},
        tags={"data_fingerprint": "f1", "holdout_start": "2024-08-01"})

    line = compare_to_champion(client, "m", {"holdout.roc_auc": 0.70,
                                             "holdout.brier_skill": 0.02},
                               "f1", "2024-08-01", labels={"label.horizon": "48",
                                                           "data.timeframe": "1h",
                                                           "data.assets": "null"})
    assert line.startswith("new model is better than the previous champion v3")
    assert "warning: this model and the champion differ in label.horizon 48 vs 24" in line
    same = compare_to_champion(client, "m", {"holdout.roc_auc": 0.70}, "f1", "2024-08-01",
                               labels={"label.horizon": "24"})
    assert "warning" not in same


def test_promote_line_has_no_caveat_for_the_same_files_under_another_path():

    from revertible.tracking import compare_to_champion

    params = {"label.horizon": "48", "data.path": "/tmp/walk/demo-out/data",
              "universe.min_abs_corr": "0.3"}
    client = _champion(
        version="1", metrics={"holdout.roc_auc": 0.60, "holdout.brier_skill": 0.01}, params=params,
        tags={"data_fingerprint": "f1", "holdout_start": "2024-08-01"})

    line = compare_to_champion(client, "m", {"holdout.roc_auc": 0.58}, "f1", "2024-08-01",
                               labels={**params, "data.path": "demo-out/data"})
    assert line.startswith("new model is worse than the previous champion v1"), line
    assert "not directly comparable" not in line and "warning" not in line, line
    other = compare_to_champion(client, "m", {"holdout.roc_auc": 0.58}, "f1", "2024-08-01",
                                labels={**params, "universe.min_abs_corr": "0.5"})
    assert "differ in universe.min_abs_corr 0.5 vs 0.3" in other, other


def test_promote_line_gives_the_holdout_auc_its_standard_error():
    # two seeds of one config on the shared perpetuals (533 holdout episodes, 42.4% reverted):
    # "new model is worse than the previous champion v5 ... 0.5259 vs 0.5505", with nothing
    # saying that one AUC on that holdout moves by about 0.025 from sample to sample

    import numpy as np
    from sklearn.metrics import roc_auc_score

    from revertible.tracking import compare_to_champion

    client = _champion(
        version="5", metrics={"holdout.roc_auc": 0.5505, "holdout.brier_skill": 0.0136}, params={},
        tags={"data_fingerprint": "f1", "holdout_start": "2024-07-24"})

    new = {"holdout.roc_auc": 0.5259, "holdout.brier_skill": -0.0132, "holdout.n": 533.0,
           "holdout.positive_rate": 0.424}
    line = compare_to_champion(client, "m", new, "f1", "2024-07-24", labels={})
    assert line.startswith("new model is worse than the previous champion v5"), line
    se = float(line.split("standard error is about ")[1].split()[0])
    # the AUC's spread over samples of that size and base rate, independent episodes
    rng = np.random.default_rng(0)
    n1, n2 = 226, 307
    draws = [roc_auc_score(np.r_[np.ones(n1), np.zeros(n2)],
                           np.r_[rng.normal(0.09, 1, n1), rng.normal(0, 1, n2)])
             for _ in range(2000)]
    assert 0.02 < se < 0.03 and se == pytest.approx(np.std(draws), rel=0.1)
    assert "(533 episodes taken as independent; more, as they are not)" in line
    # without the holdout's size (an older run), no figure
    assert "standard error" not in compare_to_champion(
        client, "m", {"holdout.roc_auc": 0.5259}, "f1", "2024-07-24", labels={})
