"""MLflow a person can read: run names, headline metrics, experiments, datasets, the registry,
``--promote`` against the champion, and ``revertible runs`` (table, sort, compare)."""

from __future__ import annotations

import pytest
from conftest import TRAINED_SETS, cli_output, store_sets
from mlflow import MlflowClient
from typer.testing import CliRunner

from revertible.backtest import backtest_command
from revertible.cli import app
from revertible.config import load_config
from revertible.model import train
from revertible.tracking import HEADLINE, Tracker, list_runs

runner = CliRunner()


def _sets(tmp):
    return [*store_sets(tmp), *TRAINED_SETS]


@pytest.fixture(scope="module")
def store(generated_market, mlflow_store, trained_model):
    tmp = mlflow_store
    panel, _ = generated_market
    cfg, a = trained_model
    cfg_b = load_config("configs/demo.yaml", [*_sets(tmp), "model.num_leaves=7",
                                                  "model.calibration=sigmoid"], data="unused")
    lines: list[str] = []

    class Say:
        def print(self, msg, **_):
            lines.append(str(msg))

    b = train(cfg_b, panel=panel, promote=True, console=Say())
    bt = backtest_command(cfg, model_uri=a["model_uri"], panel=panel, tracker=Tracker(cfg.tracking))
    yaml_path = tmp / "c.yaml"
    yaml_path.write_text(
        "data: {path: unused}\n"
        f"tracking: {{uri: 'sqlite:///{tmp}/mlflow.db', experiment: track, "
        "registered_model: track-model}\n"
    )
    return {"tmp": tmp, "a": a, "b": b, "bt": bt, "lines": lines, "yaml": yaml_path,
            "client": MlflowClient(f"sqlite:///{tmp}/mlflow.db"), "cfg": cfg}


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


def test_run_names_are_informative_and_distinct(store):
    c = store["client"]
    na = c.get_run(store["a"]["run_id"]).info.run_name
    nb = c.get_run(store["b"]["run_id"]).info.run_name
    nbt = c.get_run(store["bt"]["run_id"]).info.run_name
    assert na != nb
    assert na.startswith("demo train h48 z2 l31 ") and nb.startswith("demo train h48 z2 l7 ")
    assert nbt.startswith("demo backtest h48 z2 ")


def test_headline_metrics_sort_first_and_copy_their_source(store):
    c = store["client"]
    m = c.get_run(store["a"]["run_id"]).data.metrics
    names = sorted(m)
    heads = [k for k in names if k.startswith("0_")]
    assert names[: len(heads)] == heads, "headline names sort before every other metric"
    for h in ("0_holdout_auc", "0_holdout_ece", "0_holdout_brier_skill", "0_cv_auc"):
        assert m[h] == pytest.approx(m[HEADLINE[h]])
    bt = c.get_run(store["bt"]["run_id"]).data.metrics
    assert bt["0_sharpe"] == pytest.approx(bt["model.sharpe"])


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


def test_registered_versions_carry_description_and_headline_tags(store):
    c = store["client"]
    v = c.get_model_version("track-model", store["b"]["registered_version"])
    assert "holdout_auc" in v.description and "fingerprint" in v.description
    assert v.tags["holdout_auc"] == f"{store['b']['metrics']['holdout.roc_auc']:.4f}"
    assert v.tags["data_range"] and v.tags["holdout_start"]


def test_promote_compares_with_the_previous_champion(store):
    line = next(x for x in store["lines"] if x.startswith("champion -> v2"))
    a, b = store["a"]["metrics"]["holdout.roc_auc"], store["b"]["metrics"]["holdout.roc_auc"]
    word = "better than" if b > a else "worse than" if b < a else "as good as"
    assert f"new model is {word} the previous champion v1" in line
    assert f"{b:.4f} vs {a:.4f}" in line
    champ = store["client"].get_model_version_by_alias("track-model", "champion")
    assert str(champ.version) == "2"


def test_list_runs_best_first_with_versions(store):
    df = list_runs(Tracker(store["cfg"].tracking))
    by_auc = sorted([store["a"], store["b"]], key=lambda r: -r["metrics"]["holdout.roc_auc"])
    assert list(df["run_id"]) == [r["run_id"] for r in by_auc]
    assert set(df["version"]) == {"1", "2"}
    assert df.loc[df["version"] == "2", "alias"].item() == "champion"
    ece = list_runs(Tracker(store["cfg"].tracking), sort="holdout_ece")["holdout_ece"]
    assert ece.is_monotonic_increasing, "lower ECE is better"


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


def test_headline_names_skip_missing_sources():
    from revertible.tracking import headline_metrics

    assert headline_metrics({"holdout.roc_auc": 0.6, "cv.n": 3.0}) == {"0_holdout_auc": 0.6}


def test_rank_ic_and_net_bp_headlines_are_logged_and_listed(store):
    c = store["client"]
    m = c.get_run(store["a"]["run_id"]).data.metrics
    assert m["0_holdout_rank_ic"] == pytest.approx(m["returns.holdout.revert.rank_ic"])
    bt = c.get_run(store["bt"]["run_id"]).data.metrics
    assert bt["0_net_bp_per_trade"] == pytest.approx(bt["model.net_bp_per_trade"])
    r = runner.invoke(app, ["runs", str(store["yaml"])])
    assert r.exit_code == 0 and "holdout_rank_ic" in " ".join(r.output.split()), r.output
    r = runner.invoke(app, ["runs", str(store["yaml"]), "--kind", "backtest"])
    assert r.exit_code == 0 and "net_bp_per_trade" in " ".join(r.output.split()), r.output
