"""The return calibrator: known answers, held-out inputs only, point in time, end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.config import load_config
from revertible.errors import ModelError
from revertible.model import (
    OUTCOME_COLUMNS,
    CalibratedReversionModel,
    ReturnCalibrator,
    cluster_se,
    fit_reversion_model,
    overfit_warning,
    week_clusters,
)
from revertible.synthetic import generate_market
from revertible.workflows import train

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def _record(rng, n=6000, ic_strength=0.003, noise=0.01, weekly=0.0):
    """Held-out scores and returns whose mean rises linearly with the score."""
    s = rng.uniform(size=n)
    times = T0 + pd.to_timedelta(np.sort(rng.integers(0, 24 * 365, n)), unit="h")
    week = week_clusters(times)
    shock = rng.normal(0, 1, week.max() + 1)[week] * weekly  # one common move per week
    r = ic_strength * (s - 0.5) + shock + rng.normal(0, noise, n)
    return s, pd.DataFrame({"revert": r, "continue": -r}), times


def test_cluster_se_is_public_with_known_answers(rng):
    """The calibrator's clustered standard error, public for research/gate_bias.py."""
    from scipy.stats import norm, t

    # two clusters with residual sums +2 and -2 over 4 rows: sqrt(2 / 1 * 8) / 4 = 1, then the
    # t(1) / z small-sample factor at 0.95
    se = cluster_se(np.array([1.0, 1.0, -1.0, -1.0]), np.array([0, 0, 1, 1]), 0.95)
    assert se == pytest.approx(t.ppf(0.95, 1) / norm.ppf(0.95))
    # one row a cluster, many clusters: the plain standard error of a mean
    e = rng.normal(0.0, 2.0, 40_000)
    assert cluster_se(e - e.mean(), np.arange(len(e))) == pytest.approx(2.0 / 200.0, rel=0.02)
    # rows that move together in a cluster count once: 100 equal rows per cluster
    big = np.repeat(e[:400] - e[:400].mean(), 100)
    assert cluster_se(big, np.repeat(np.arange(400), 100)) == pytest.approx(2.0 / 20.0, rel=0.1)
    assert cluster_se(np.array([1.0, -1.0]), np.array([3, 3])) == np.inf


def test_bins_shrink_and_stay_monotone(rng):
    s, R, t = _record(rng)
    # the bin's own mean, level included (decision.common_level: estimate)
    est = {"common_level": "estimate"}
    raw = ReturnCalibrator(n_bins=5, shrinkage=0.0, **est).fit(s, R, t).reliability_table()
    assert len(raw) == 5 and raw["n"].sum() == len(s)
    # no shrinkage: the bin means are the raw bin means made monotone
    assert (np.diff(raw["revert_mean"]) >= -1e-15).all()
    assert (np.diff(raw["continue_mean"]) <= 1e-15).all()
    np.testing.assert_allclose(raw["continue_mean"], -raw["revert_mean"], atol=1e-15)
    # shrinkage pulls every bin toward the unconditional mean by n / (n + k)
    k = 1000.0
    sh = ReturnCalibrator(n_bins=5, shrinkage=k, **est).fit(s, R, t).reliability_table()
    mu = R["revert"].mean()
    w = sh["n"] / (sh["n"] + k)
    want = w * sh["revert_raw_mean"] + (1 - w) * mu  # already monotone here
    if (np.diff(want) >= 0).all():
        np.testing.assert_allclose(sh["revert_mean"], want, rtol=1e-10)
    assert (np.abs(sh["revert_mean"] - mu) <= np.abs(raw["revert_mean"] - mu) + 1e-15).all()
    # the second moment is the bin's realised one
    b = ReturnCalibrator(n_bins=5, shrinkage=0.0, **est).fit(s, R, t)
    first = b.bin_of(s) == 0
    assert b.params_["revert"]["m2"][0] == pytest.approx(np.mean(R["revert"][first] ** 2))


def test_known_answer_recovers_the_planted_slope(rng):
    s, R, t = _record(rng, n=40_000, ic_strength=0.004, noise=0.004)
    cal = ReturnCalibrator(n_bins=10, shrinkage=0.0).fit(s, R, t)
    tab = cal.reliability_table()
    slope = np.polyfit(tab["score_mean"], tab["revert_mean"], 1)[0]
    assert slope == pytest.approx(0.004, rel=0.15)
    # the standard error covers the truth at the bin means (coverage, roughly)
    truth = 0.004 * (tab["score_mean"] - 0.5)
    z = np.abs(tab["revert_raw_mean"] - truth) / tab["revert_se"]
    assert (z < 3.5).all()


def test_standard_errors_cluster_by_week_and_small_bins_never_clear(rng):
    s, R, t = _record(rng, n=8000, ic_strength=0.0, noise=0.002, weekly=0.003)
    cal = ReturnCalibrator(n_bins=4, shrinkage=0.0, common_level="estimate").fit(s, R, t)
    tab = cal.reliability_table()
    iid = np.array([np.std(R["revert"][cal.bin_of(s) == b], ddof=1) / np.sqrt(n)
                    for b, n in enumerate(tab["n"])])
    # one common weekly move: the clustered s.e. is several times the i.i.d. one
    assert (tab["revert_se"] > 3 * iid).all()
    # a bin needs min_bin_trades: fewer bins when the record is short
    few = ReturnCalibrator(n_bins=4, shrinkage=0.0, min_bin_trades=3_000).fit(s, R, t)
    assert len(few.reliability_table()) == 2
    # trades from a single cluster (one week) never clear: infinite s.e.
    one_week = t[0] + pd.to_timedelta(np.arange(len(s)) % 100, unit="min")
    single = ReturnCalibrator(n_bins=4, shrinkage=0.0).fit(s, R, one_week)
    assert np.isinf(single.reliability_table()["revert_se"]).all()
    # the drift term needs three periods of the record; with fewer it never clears either
    short = ReturnCalibrator(n_bins=4, shrinkage=0.0, drift_days=400).fit(s, R, t)
    assert np.isinf(short.reliability_table()["revert_se"]).all()
    drift = ReturnCalibrator(n_bins=4, shrinkage=0.0, drift_days=30,
                             common_level="estimate").fit(s, R, t)
    assert (drift.reliability_table()["revert_se"] >= tab["revert_se"]).all()
    with pytest.raises(ModelError, match="held-out divergences"):
        ReturnCalibrator(min_bin_trades=30).fit(s[:40], R.iloc[:40], t[:40])


def test_adverse_level_bounds_the_edge_over_the_week_and_counts_only_a_sure_level(rng):
    # a planted slope under a common weekly move 4x the slope's range: within-week
    # comparisons cancel the move, so the edge is estimated far more precisely than the bins'
    # own means, and a level the record cannot tell from 0 is not counted either way
    s, R, t = _record(rng, n=20_000, ic_strength=0.004, noise=0.004, weekly=0.008)
    est = ReturnCalibrator(n_bins=5, shrinkage=0.0, common_level="estimate").fit(s, R, t)
    rel = ReturnCalibrator(n_bins=5, shrinkage=0.0).fit(s, R, t)  # the default: adverse
    te, tr = est.reliability_table(), rel.reliability_table()
    assert (tr["revert_se"] < te["revert_se"] / 3).all()
    slope = np.polyfit(tr["score_mean"], tr["revert_mean"], 1)[0]
    assert slope == pytest.approx(0.004, rel=0.2)
    lv = rel.level_["revert"]
    assert lv["mean"] == pytest.approx(R["revert"].mean()) and lv["se"] > 0
    assert abs(lv["mean"]) < 1.645 * lv["se"] and lv["counted"] == 0.0
    u = R["revert"] - R["revert"].groupby(week_clusters(t)).transform("mean")
    edge = u.groupby(rel.bin_of(s)).mean().to_numpy()
    assert (np.diff(edge) >= 0).all()  # already monotone: the isotonic fit keeps it
    np.testing.assert_allclose(tr["revert_mean"], edge, atol=1e-15)
    # a sure level (the reversion trade loses 20 bp on every divergence, the continuation
    # trade gains it) counts at the end of its interval nearest zero: against the reversion
    # trade at its upper bound, for the continuation trade at its lower bound
    shifted = pd.DataFrame({"revert": R["revert"] - 0.002, "continue": R["continue"] + 0.002})
    sh = ReturnCalibrator(n_bins=5, shrinkage=0.0).fit(s, shifted, t)
    for d, sign in (("revert", -1.0), ("continue", 1.0)):
        lv = sh.level_[d]
        assert np.sign(lv["counted"]) == sign
        assert lv["counted"] == pytest.approx(lv["mean"] - sign * 1.645 * lv["se"], rel=0.01)
        np.testing.assert_allclose(sh.params_[d]["mean"], rel.params_[d]["mean"] + lv["counted"],
                                   atol=1e-12)
    with pytest.raises(ModelError, match="common_level"):
        ReturnCalibrator(common_level="mean").fit(s, R, t)


def test_predict_nan_scores_and_quantiles(rng):
    s, R, t = _record(rng, n=3000)
    cal = ReturnCalibrator(n_bins=10).fit(s, R, t)
    out = cal.predict(np.array([np.nan, 0.0, 1.0]))
    assert list(out.columns) == list(OUTCOME_COLUMNS)
    assert out.iloc[0].isna().all() and out.iloc[1:].notna().all().all()
    q = cal.score_quantile(np.array([np.nan, -1.0, np.median(s), 2.0]))
    assert np.isnan(q[0]) and q[1] == 0.0 and q[3] == 1.0 and q[2] == pytest.approx(0.5, abs=0.01)


def test_overfit_warning_rule():
    assert overfit_warning({"ic_in_sample": 0.30, "ic_held_out": 0.05}) is not None
    assert overfit_warning({"ic_in_sample": 0.30, "ic_held_out": 0.11}) is None
    assert overfit_warning({"ic_in_sample": 0.04, "ic_held_out": 0.0}) is not None  # held out <= 0
    assert overfit_warning({"ic_in_sample": 0.04, "ic_held_out": 0.02}) is None
    assert overfit_warning({}) is None


def test_model_without_calibrator_is_refused():
    X = pd.DataFrame({"x1": [0.1, 0.2]})
    old = CalibratedReversionModel(None, None, ["x1"], meta={})
    del old.outcomes  # an older pickle has no such attribute
    for m in (old, CalibratedReversionModel(None, None, ["x1"])):
        with pytest.raises(ModelError, match="retrain"):
            m.predict_outcomes(X)


# ---------------------------------------------------------------------------------------------
# the fit: held-out scores only, and the same model on data cut at the block start


@pytest.fixture(scope="module")
def market():
    from revertible.episodes import build_episodes
    from revertible.features import build_features

    panel, _ = generate_market(n_assets=10, n_bars=24 * 200, seed=5)
    cfg = load_config("configs/demo.yaml", ["model.n_estimators=30", "cv.n_folds=3",
                                            "backtest.calibration_folds=2",
                                            "decision.min_bin_trades=20"], data="unused")
    eps = build_episodes(panel, cfg).sort_values("entry_time", kind="stable")
    eps = eps.reset_index(drop=True)
    return cfg, panel, eps, build_features(panel, eps, cfg)


def test_calibrator_sees_only_held_out_scores(market, monkeypatch):
    from revertible.episodes import outcome_targets
    from revertible.features import FEATURE_GROUPS, feature_names
    from revertible.model import label_end, select_features

    cfg, panel, eps, feats = market
    seen = {}
    real_fit = ReturnCalibrator.fit

    def spy(self, score, returns, times):
        seen["score"] = np.asarray(score, float).copy()
        seen["index"] = returns.index.to_numpy().copy()
        return real_fit(self, score, returns, times)

    monkeypatch.setattr(ReturnCalibrator, "fit", spy)
    lab = eps["label"].notna().to_numpy()
    e, X = eps[lab].reset_index(drop=True), feats[lab].reset_index(drop=True)
    fnames = select_features(cfg, feature_names(cfg), FEATURE_GROUPS)
    ends = label_end(e, cfg.label.horizon, panel.freq)
    model, cv = fit_reversion_model(cfg, X, e["label"].to_numpy(int), e["entry_time"], ends,
                                    outcome_targets(e, "beta"), fnames, panel.freq)
    oof = np.flatnonzero(cv["fold_id"] >= 0)
    # exactly the out-of-fold rows, with their out-of-fold scores
    np.testing.assert_array_equal(np.sort(seen["index"]), oof)
    np.testing.assert_array_equal(seen["score"], cv["score"][oof])
    np.testing.assert_array_equal(seen["score"], cv["raw"]["lgbm"][oof])
    # ... and not the final model's in-sample scores of the same rows
    in_sample = model.predict_raw(X.iloc[oof])
    assert not np.allclose(seen["score"], in_sample)
    assert len(oof) < len(X)


def test_block_model_is_identical_on_data_cut_at_the_block_start(market):
    from revertible.backtest import fit_block_model
    from revertible.episodes import build_episodes
    from revertible.features import build_features

    cfg, panel, eps, feats = market
    cutoff = panel.times[int(panel.n_bars * 0.7)]
    full = fit_block_model(cfg, eps, feats, cutoff, panel.freq)
    past = panel.cut(cutoff)
    e2 = build_episodes(past, cfg).sort_values("entry_time", kind="stable").reset_index(drop=True)
    f2 = build_features(past, e2, cfg)
    cut = fit_block_model(cfg, e2, f2, cutoff, past.freq)
    pd.testing.assert_frame_equal(full.outcomes.reliability_table(),
                                  cut.outcomes.reliability_table())
    X = feats.tail(50)
    pd.testing.assert_frame_equal(full.predict_outcomes(X), cut.predict_outcomes(X))


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
        "decision.min_bin_trades=20",
    ], data="unused")  # fmt: skip
    res = train(cfg, panel=panel, register=True)
    return cfg, panel, res


def test_training_logs_the_decision_record(trained):
    from mlflow import MlflowClient

    cfg, _, res = trained
    m = res["metrics"]
    for split in ("cv", "holdout"):
        assert m[f"decision.{split}.n"] > 0
        assert 0.0 <= m[f"decision.{split}.taken_rate"] <= 1.0
        assert f"decision.{split}.decile10_realised_bp" in m
    assert np.isfinite(m["scorer.ic_in_sample"]) and np.isfinite(m["scorer.ic_held_out"])
    client = MlflowClient(cfg.tracking.uri)
    names = {a.path for a in client.list_artifacts(res["run_id"])}
    plots = {a.path for a in client.list_artifacts(res["run_id"], "plots")}
    assert "return_calibrator.csv" in names and "plots/return_deciles.png" in plots
    logged = client.get_run(res["run_id"]).data.metrics
    assert "decision.cv.taken_rate" in logged


def test_registered_model_predicts_calibrated_outcomes(trained):
    import mlflow

    from revertible.episodes import build_episodes
    from revertible.features import build_features
    from revertible.tracking import load_model

    cfg, panel, res = trained
    model = load_model(res["model_uri"], cfg.tracking.uri)
    assert model.outcomes is not None
    assert model.meta["costs"]["taker_fee"] == cfg.costs.taker_fee and "venue" in model.meta
    eps = build_episodes(panel, cfg).tail(200).reset_index(drop=True)
    X = build_features(panel, eps, cfg)
    out = model.predict_outcomes(X)
    assert list(out.columns) == ["probability", "score_quantile", *OUTCOME_COLUMNS]
    assert len(out) == len(eps)
    np.testing.assert_allclose(out["probability"], model.predict_proba(X))
    assert (out["revert_m2"] >= 0).all() and (out["revert_se"] > 0).all()
    # the MLflow pyfunc returns the same frame
    pyf = mlflow.pyfunc.load_model(res["model_uri"])
    got = pd.DataFrame(pyf.predict(X[list(model.features)]))
    np.testing.assert_allclose(got[list(OUTCOME_COLUMNS)].to_numpy(),
                               out[list(OUTCOME_COLUMNS)].to_numpy())


def test_utc_datetime64_times_fit_the_same_calibrator(rng):
    """Tz-aware entry times and their UTC datetime64 values fit the same calibrator (clusters)."""
    s, R, t = _record(rng, n=3000, weekly=0.002)
    times = pd.Series(t)
    naive = pd.DatetimeIndex(t).as_unit("ns").asi8.view("M8[ns]")
    for drift in (None, 30):
        a = ReturnCalibrator(n_bins=5, drift_days=drift).fit(s, R, times)
        b = ReturnCalibrator(n_bins=5, drift_days=drift).fit(s, R, naive)
        pd.testing.assert_frame_equal(a.reliability_table(), b.reliability_table())
        assert np.isfinite(a.reliability_table()["revert_se"]).all()
