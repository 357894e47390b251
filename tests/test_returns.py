"""Return heads: known answers, the outcome API, and training/logging end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.config import CostConfig, load_config
from revertible.errors import ModelError
from revertible.model import (
    OUTCOME_COLUMNS,
    CalibratedReversionModel,
    ReturnModel,
    risk_scale,
    train,
)
from revertible.model._returns_eval import net_cost, return_metrics
from revertible.synthetic import generate_market

PARAMS = {"n_estimators": 60, "learning_rate": 0.1, "num_leaves": 7, "min_child_samples": 20,
          "random_state": 0, "deterministic": True, "force_row_wise": True, "n_jobs": 1,
          "verbose": -1}  # fmt: skip


def _toy(rng, n=4000, mirror=True):
    """Returns whose mean (in risk units) is 0.5 * x1 and whose spread grows with |x2|."""
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n),
                      "noise": rng.normal(size=n)})  # fmt: skip
    scale = rng.uniform(0.002, 0.02, n)
    y = 0.5 * X["x1"].to_numpy() + (0.5 + np.abs(X["x2"].to_numpy())) * rng.normal(size=n)
    rev = y * scale
    con = -rev if mirror else -rev + 0.01 * scale * rng.normal(size=n)
    return X, pd.DataFrame({"revert_return": rev, "continue_return": con}), scale, y


def test_return_model_learns_mean_and_second_moment(rng):
    X, R, scale, _ = _toy(rng)
    n = len(X) // 2
    m = ReturnModel(PARAMS).fit(X.iloc[:n], R.iloc[:n], scale[:n])
    assert m.mirror_ and set(m.heads_) == {"revert"}
    out = m.predict(X.iloc[n:], scale[n:])
    assert list(out.columns) == list(OUTCOME_COLUMNS[1:])
    mu = out["revert_mean"].to_numpy() / scale[n:]
    assert np.corrcoef(mu, X["x1"].iloc[n:])[0, 1] > 0.8  # the mean follows x1
    np.testing.assert_array_equal(out["continue_mean"], -out["revert_mean"])
    np.testing.assert_array_equal(out["continue_m2"], out["revert_m2"])
    var = out["revert_m2"] - out["revert_mean"] ** 2
    assert (var >= 0).all()
    sd = np.sqrt(var.to_numpy()) / scale[n:]
    assert np.corrcoef(sd, np.abs(X["x2"].iloc[n:]))[0, 1] > 0.5  # the spread follows |x2|
    # realised rank IC on unseen rows
    mt, table = return_metrics(out["revert_mean"], R["revert_return"].iloc[n:], np.zeros(n))
    assert mt["rank_ic"] > 0.15 and len(table) == 10
    assert table["realised_net"].iloc[-1] > table["realised_net"].iloc[0]


def test_return_model_fits_continue_separately_when_not_a_mirror(rng):
    X, R, scale, _ = _toy(rng, n=1500, mirror=False)
    m = ReturnModel(PARAMS).fit(X, R, scale)
    assert not m.mirror_ and set(m.heads_) == {"revert", "continue"}
    out = m.predict(X, scale)
    assert np.corrcoef(out["continue_mean"], -out["revert_mean"])[0, 1] > 0.9
    assert not np.array_equal(out["continue_mean"], -out["revert_mean"])


def test_rows_without_a_return_are_left_out(rng):
    X, R, scale, _ = _toy(rng, n=600)
    R.loc[:49, "revert_return"] = np.nan  # no entry fill
    scale[50:60] = np.nan
    m = ReturnModel(PARAMS).fit(X, R, scale)
    assert m.n_train_ == 540
    assert m.predict(X.iloc[50:60], scale[50:60]).isna().all().all()


def test_risk_scale_and_net_cost():
    np.testing.assert_allclose(risk_scale([0.03, 0.01], [2.0, -1.0]), [0.01, 0.005])
    assert np.isnan(risk_scale([np.nan], [1.0])[0])
    perp = CostConfig(taker_fee=0.0005, slippage_bps=2.0)
    np.testing.assert_allclose(net_cost(perp, [0.3, -2.0, 1.0]), 2 * (0.0005 + 0.0002))


def test_model_without_return_heads_is_refused(rng):
    X, _, _, _ = _toy(rng, n=50)
    old = CalibratedReversionModel(None, None, ["x1"], meta={})
    del old.returns  # an older pickle has no such attribute
    with pytest.raises(ModelError, match="retrain"):
        old.predict_outcomes(X)
    with pytest.raises(ModelError, match="retrain"):
        CalibratedReversionModel(None, None, ["x1"]).predict_outcomes(X)


# ---------------------------------------------------------------------------------------------
# training end to end (generated market, real MLflow on a temporary SQLite file)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ret")
    panel, _ = generate_market(n_assets=10, n_bars=24 * 160, seed=11)
    cfg = load_config("configs/demo.yaml", [
        f"tracking.uri=sqlite:///{tmp}/mlflow.db",
        f"tracking.artifact_location={(tmp / 'artifacts').as_uri()}",
        "tracking.registered_model=test-returns", "model.n_estimators=40", "cv.n_folds=3",
    ], data="unused")  # fmt: skip
    res = train(cfg, panel=panel, register=True)
    return cfg, panel, res


def test_training_logs_return_metrics_plot_and_table(trained):
    from mlflow import MlflowClient

    cfg, _, res = trained
    m = res["metrics"]
    for split in ("cv", "holdout"):
        for d in ("revert", "continue"):
            assert np.isfinite(m[f"returns.{split}.{d}.rank_ic"])
            assert f"returns.{split}.{d}.decile10_realised_bp" in m
    assert m["returns.mirror"] == 1.0
    assert m["returns.cv.continue.rank_ic"] == pytest.approx(m["returns.cv.revert.rank_ic"],
                                                             abs=0.05)
    client = MlflowClient(cfg.tracking.uri)
    names = {a.path for a in client.list_artifacts(res["run_id"])}
    plots = {a.path for a in client.list_artifacts(res["run_id"], "plots")}
    assert "return_deciles.csv" in names and "plots/return_deciles.png" in plots
    logged = client.get_run(res["run_id"]).data.metrics
    assert "returns.cv.revert.rank_ic" in logged


def test_registered_model_predicts_outcomes(trained):
    import mlflow

    from revertible.episodes import build_episodes
    from revertible.features import build_features
    from revertible.tracking import load_model

    cfg, panel, res = trained
    model = load_model(res["model_uri"], cfg.tracking.uri)
    assert model.returns is not None
    assert model.meta["costs"]["taker_fee"] == cfg.costs.taker_fee and "venue" in model.meta
    eps = build_episodes(panel, cfg).tail(200).reset_index(drop=True)
    X = build_features(panel, eps, cfg)
    with pytest.raises(ModelError, match="spread_std"):
        model.predict_outcomes(X)
    Xr = X.assign(spread_std=eps["spread_std"], beta=eps["beta"])
    out = model.predict_outcomes(Xr)
    assert list(out.columns) == list(OUTCOME_COLUMNS) and len(out) == len(eps)
    np.testing.assert_allclose(out["probability"], model.predict_proba(X))
    assert (out["revert_m2"] >= out["revert_mean"] ** 2).all()
    # the MLflow pyfunc returns the same frame
    pyf = mlflow.pyfunc.load_model(res["model_uri"])
    got = pd.DataFrame(pyf.predict(Xr[[*model.features, "spread_std", "beta"]]))
    np.testing.assert_allclose(got[list(OUTCOME_COLUMNS)].to_numpy(), out.to_numpy())
