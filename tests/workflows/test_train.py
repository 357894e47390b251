"""Training end to end on a generated market, with a real MLflow on a temporary SQLite store."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from revertible.config import load_config
from revertible.errors import TrackingError
from revertible.model import prepare_dataset
from revertible.synthetic import generate_market
from revertible.tracking import Tracker, load_model
from revertible.workflows import train


@pytest.fixture(scope="module")
def market():
    panel, _ = generate_market(n_assets=10, n_bars=24 * 160, seed=11)
    return panel


def _cfg(tmp_path, *sets):
    base = [
        f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
        f"tracking.artifact_location={(tmp_path / 'artifacts').as_uri()}",
        "tracking.registered_model=test-model",
        "model.n_estimators=40",
        "cv.n_folds=3",
    ]
    return load_config("configs/demo.yaml", [*base, *sets], data="unused")


@pytest.fixture(scope="module")
def two_runs(market, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow")
    a1 = train(_cfg(tmp), panel=market, register=True)
    a2 = train(_cfg(tmp), panel=market, register=True)
    b = train(_cfg(tmp, "model.num_leaves=7", "model.calibration=sigmoid"), panel=market,
              promote=True)
    return tmp, a1, a2, b


def test_same_config_same_metrics(two_runs):
    _, a1, a2, _ = two_runs
    assert a1["metrics"].keys() == a2["metrics"].keys()
    for k, v in a1["metrics"].items():
        if k.startswith("time."):
            continue
        assert v == a2["metrics"][k] or (np.isnan(v) and np.isnan(a2["metrics"][k])), k


def test_runs_line_up_in_mlflow(two_runs):
    tmp, a1, _, b = two_runs
    client = MlflowClient(f"sqlite:///{tmp}/mlflow.db")
    r1, rb = client.get_run(a1["run_id"]), client.get_run(b["run_id"])
    assert set(r1.data.metrics) == set(rb.data.metrics), "same metric columns in compare view"
    for key in ("cv.roc_auc", "holdout.roc_auc", "holdout.ece", "cv.brier_skill",
                "baseline.logreg_abs_z.holdout.roc_auc", "baseline.base_rate.cv.log_loss",
                "holdout.top_decile_precision"):
        assert key in r1.data.metrics
    assert r1.data.params["label.horizon"] == "48"
    assert rb.data.params["model.num_leaves"] == "7"
    for tag in ("data_fingerprint", "git_commit", "revertible.version"):
        assert r1.data.tags[tag]
    arts = {a.path for a in client.list_artifacts(a1["run_id"], "plots")}
    assert {"plots/roc.png", "plots/reliability.png", "plots/feature_importance.png",
            "plots/probability_by_label.png"} <= arts
    assert {a.path for a in client.list_artifacts(a1["run_id"])} >= {"config.yaml"}
    versions = client.search_model_versions("name='test-model'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3]
    assert str(client.get_model_version_by_alias("test-model", "champion").version) == "3"


def test_champion_alias_scores_like_the_run(two_runs, market):
    tmp, _, _, b = two_runs
    cfg = _cfg(tmp)
    eps, feats = prepare_dataset(cfg, market)
    by_alias = load_model("models:/test-model@champion", f"sqlite:///{tmp}/mlflow.db")
    by_run = load_model(b["model_uri"], f"sqlite:///{tmp}/mlflow.db")
    p1 = by_alias.predict_proba(feats.head(200))
    p2 = by_run.predict_proba(feats.head(200))
    np.testing.assert_array_equal(p1, p2)
    assert ((p1 > 0) & (p1 < 1)).all()


def test_a_model_just_trained_is_not_stale(two_runs, market):
    # the README's set-up trains, then paper runs within the hour: every run warned (and
    # notified) "the model's training data ends 40 days before the last bar ... retrain", as
    # trained_until is the development rows' end, before the holdout; retraining changed nothing
    from revertible.config import ScoringConfig
    from revertible.live import freshness_check

    tmp, _, _, b = two_runs
    meta = load_model(b["model_uri"], f"sqlite:///{tmp}/mlflow.db").meta
    last = market.times[-1]
    assert pd.Timestamp(meta["data_until"]) == last
    gap = (last - pd.Timestamp(meta["trained_until"])) / pd.Timedelta(days=1)
    assert gap > 10  # the holdout and the label horizon after the fitted rows
    scoring = ScoringConfig(max_model_age_days=gap / 2)
    assert freshness_check(scoring, last_bar=last, model_meta=meta) == []
    later = last + pd.Timedelta(days=gap)  # the data goes on, the model does not: stale
    assert "(its holdout included)" in freshness_check(scoring, last_bar=later,
                                                       model_meta=meta)[0]
    old = {k: v for k, v in meta.items() if k != "data_until"}  # trained before it was stored
    assert "training data ends" in freshness_check(scoring, last_bar=last, model_meta=old)[0]


def test_metrics_are_sane(two_runs):
    _, a1, _, _ = two_runs
    m = a1["metrics"]
    assert 0.0 <= m["holdout.ece"] <= 0.2
    assert 0.4 <= m["cv.roc_auc"] <= 1.0
    assert m["data.dev_episodes"] > 500 and m["data.holdout_episodes"] > 100


def test_unreachable_tracking_server_fails_fast(tmp_path):
    cfg = _cfg(tmp_path, "tracking.uri=http://127.0.0.1:9")
    t0 = time.perf_counter()
    with pytest.raises(TrackingError, match="unreachable"):
        Tracker(cfg.tracking).connect()
    assert time.perf_counter() - t0 < 15


def test_summary_says_when_the_expected_returns_do_not_vary():
    from revertible.workflows._train import _summary_table

    base = {"decision.cv.n": 1000.0, "decision.cv.n_taken": 0.0,
            "decision.cv.decile_rank_corr": float("nan")}
    flat = _summary_table({**base, "decision.cv.decile_slope": float("nan")})
    assert "decision [cv]: 0 of 1000 divergences clear costs (0.00%); the expected returns do " \
        "not vary (no decile slope)" in flat and "nan" not in flat.split("decision [cv]")[1]
    ranked = _summary_table({**base, "decision.cv.decile_slope": 0.74,
                             "decision.cv.decile_rank_corr": 0.03})
    assert "decile slope 0.74, rank corr 0.03" in ranked
    few = _summary_table({**base, "decision.cv.n": 6.0, "decision.cv.decile_slope": np.nan})
    assert "0 of 6 divergences clear costs (0.00%); fewer than 10 divergences (no decile " \
        "slope)" in few


def test_summary_gives_the_decile_slope_its_range():
    from revertible.workflows._train import _summary_table

    # the shared perpetuals' holdout: slope 41.96 over expected deciles 0.52 bp apart
    m = {"decision.holdout.n": 533.0, "decision.holdout.n_taken": 0.0,
         "decision.holdout.decile_slope": 41.96, "decision.holdout.decile_rank_corr": 0.20,
         **{f"decision.holdout.decile{k:02d}_expected_bp": -13.093 + 0.0523 * (k - 1)
            for k in range(1, 11)}}
    line = _summary_table(m).splitlines()[-1]
    assert line == ("decision [holdout]: 0 of 533 divergences clear costs (0.00%); decile slope "
                    "41.96, rank corr 0.20 (1 and 1: calibrated) over expected returns of "
                    "-13.09 to -12.62 bp by decile")
