"""Walk-forward block models: the earlier blocks' held-out record, point in time, side-by-side fits.

Block 1 calibrates on its purged CV folds; block k >= 2 on the scores the earlier models gave
episodes they never trained on, whose labels ended before block k (``calibration_record``
``earlier_blocks``). The fits run in a thread pool; the result must not depend on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.backtest import fit_block_model, walk_forward_blocks, walk_forward_predictions
from revertible.config import load_config
from revertible.model import Calibrator, ReturnCalibrator, label_end, prepare_dataset
from revertible.synthetic import generate_market

OVERRIDES = ["model.n_estimators=20", "backtest.min_train_days=50",
             "backtest.retrain_every_days=25", "backtest.calibration_folds=2",
             "decision.min_bin_trades=20"]  # fmt: skip


@pytest.fixture(scope="module")
def market():
    panel, _ = generate_market(n_assets=8, n_bars=24 * 140, seed=5)
    cfg = load_config("configs/demo.yaml", OVERRIDES, data="unused")
    eps, feats = prepare_dataset(cfg, panel)
    return cfg, panel, eps, feats


def _run(cfg, panel, eps, feats, end=None, models=None, **kw):
    """Walk-forward predictions over the whole panel; every block model kept."""
    models = [] if models is None else models

    def keep(*args, **kwargs):
        m = fit_block_model(*args, **kwargs)
        models.append((args[3], m, kwargs["prefit"], kwargs["record"]))
        return m

    end = panel.times[-1] if end is None else end
    wfp = walk_forward_predictions(cfg, eps, feats, panel.times[0], end, panel.freq, fit=keep,
                                   **kw)
    return wfp, models


def test_block_calibrators_see_only_earlier_out_of_sample_scores(market, monkeypatch):
    cfg, panel, eps, feats = market
    models: list = []
    seen: dict = {}  # block number -> calibrator fits made while fitting that block
    real_ret, real_cal = ReturnCalibrator.fit, Calibrator.fit

    def spy_ret(self, score, returns, times):
        seen.setdefault(len(models), []).append(
            ("ret", np.asarray(score, float).copy(), returns.index.to_numpy().copy()))
        return real_ret(self, score, returns, times)

    def spy_cal(self, raw, y):
        seen.setdefault(len(models), []).append(("cal", np.asarray(raw, float).copy(), None))
        return real_cal(self, raw, y)

    monkeypatch.setattr(ReturnCalibrator, "fit", spy_ret)
    monkeypatch.setattr(Calibrator, "fit", spy_cal)
    wfp, _ = _run(cfg, panel, eps, feats, models=models)
    assert len(models) >= 3 and sorted(seen) == list(range(len(models)))
    ends = label_end(eps, cfg.label.horizon, panel.freq).to_numpy()
    entry = eps["entry_time"].to_numpy()
    first = models[0][2]  # block 1's fits: its purged CV folds
    oof = np.flatnonzero(np.isfinite(first.cv["score"]))
    oof_score = dict(zip(first.rows.idx[oof], first.cv["raw"]["lgbm"][oof], strict=True))
    for k in range(1, len(models)):
        cutoff, model, prefit, record = models[k]
        assert record is not None and prefit.cv is None  # no folds refitted
        # one probability calibrator and one return calibrator, on the same record
        assert [f[0] for f in seen[k]] == ["cal", "ret"]
        (_, raw, _), (_, score, rows) = seen[k]
        np.testing.assert_array_equal(raw, score)
        assert len(rows) > 0 and (ends[rows] < cutoff).all()  # labels known before the block
        assert (entry[rows] < cutoff).all()
        from_folds = np.isin(rows, first.rows.idx[oof])
        # block 1's out-of-fold rows carry their out-of-fold score
        np.testing.assert_array_equal(score[from_folds],
                                      [oof_score[r] for r in rows[from_folds]])
        # every other row was scored by the earlier block model it entered under, which never
        # trained on it (its labels ended before that block started)
        rest = rows[~from_folds]
        assert len(rest) > 0
        for j in range(k):
            cj, mj, pj, _ = models[j]
            end_j = models[j + 1][0]
            mine = (entry[rest] >= cj) & (entry[rest] < end_j)
            if not mine.any():
                continue
            r = rest[mine]
            assert not np.isin(r, pj.rows.idx).any()
            np.testing.assert_array_equal(score[~from_folds][mine],
                                          mj.classifier.booster_.predict(
                                              feats.iloc[r][mj.features]))
        covered = np.zeros(len(rest), bool)
        for j in range(k):
            covered |= (entry[rest] >= models[j][0]) & (entry[rest] < models[j + 1][0])
        assert covered.all()
        # ... and never the block's own in-sample scores
        in_sample = model.predict_raw(feats.iloc[rows])
        assert not np.allclose(score, in_sample)
    # the meta the overfitting warning reads describes the record
    meta = wfp.meta
    assert meta["n_held_out"] == len(seen[len(models) - 1][-1][2])
    assert meta["n_train"] > meta["n_held_out"]
    assert np.isfinite([meta["ic_in_sample"], meta["ic_held_out"], meta["cv_roc_auc"]]).all()


def test_block_calibrators_are_identical_on_data_cut_at_the_block_start(market):
    cfg, panel, eps, feats = market
    _, models = _run(cfg, panel, eps, feats)
    k = len(models) - 1
    cutoff = models[k][0]
    past = panel.cut(cutoff)
    e2, f2 = prepare_dataset(cfg, past)
    _, cut = _run(cfg, past, e2, f2, end=cutoff)
    assert len(cut) == k + 1 and cut[k][0] == cutoff
    full_m, cut_m = models[k][1], cut[k][1]
    pd.testing.assert_frame_equal(full_m.outcomes.reliability_table(),
                                  cut_m.outcomes.reliability_table())
    grid = np.linspace(0.0, 1.0, 201)
    np.testing.assert_array_equal(full_m.calibrator.transform(grid),
                                  cut_m.calibrator.transform(grid))
    X = feats.tail(50)
    pd.testing.assert_frame_equal(full_m.predict_outcomes(X), cut_m.predict_outcomes(X))
    for key in ("n_train", "n_held_out", "label_cutoff", "ic_held_out", "cv_roc_auc"):
        assert full_m.meta[key] == cut_m.meta[key], key


@pytest.mark.parametrize("record", ["earlier_blocks", "folds"])
def test_predictions_do_not_depend_on_the_workers(market, record):
    cfg, panel, eps, feats = market
    c = load_config("configs/demo.yaml", [*OVERRIDES, f"backtest.calibration_record={record}"],
                    data="unused")
    one, _ = _run(c, panel, eps, feats, workers=1)
    two, _ = _run(c, panel, eps, feats, workers=2)
    assert np.isfinite(one.probability).sum() > 100
    np.testing.assert_array_equal(one.probability, two.probability)
    np.testing.assert_array_equal(one.heads, two.heads)
    pd.testing.assert_frame_equal(one.blocks, two.blocks)


def test_folds_record_is_the_sequential_block_model(market):
    """``folds``: each block as fit_block_model alone (LightGBM's own predict, no pool)."""
    cfg, panel, eps, feats = market
    c = load_config("configs/demo.yaml", [*OVERRIDES, "backtest.calibration_record=folds"],
                    data="unused")
    wfp, _ = _run(c, panel, eps, feats, workers=2)
    entry = eps["entry_time"]
    blocks = walk_forward_blocks(entry.min(), panel.times[0], panel.times[-1], c, panel.freq)
    for bs, be in blocks:
        rows = np.flatnonzero(((entry >= bs) & (entry < be)).to_numpy())
        out = fit_block_model(c, eps, feats, bs, panel.freq).predict_outcomes(feats.iloc[rows])
        np.testing.assert_array_equal(wfp.probability[rows], out["probability"].to_numpy())


def test_warm_starts_continue_the_previous_block(market):
    """``warm_start_trees``: block k = block k-1's trees + that many new ones; same for any pool."""
    cfg, panel, eps, feats = market
    c = load_config("configs/demo.yaml", [*OVERRIDES, "backtest.warm_start_trees=5"],
                    data="unused")
    one, m1 = _run(c, panel, eps, feats, workers=1)
    two, m2 = _run(c, panel, eps, feats, workers=2)
    np.testing.assert_array_equal(one.probability, two.probability)
    np.testing.assert_array_equal(one.heads, two.heads)
    n_first = c.model.n_estimators
    for k, (_, model, _, _) in enumerate(m1):
        booster = model.classifier.booster_
        assert booster.num_trees() == n_first + 5 * k
        if k:  # the previous block's trees come first, unchanged
            prev = m1[k - 1][1].classifier.booster_
            assert (booster.model_to_string(num_iteration=prev.num_trees()).split("Tree=0")[1]
                    .split("end of trees")[0]
                    == prev.model_to_string().split("Tree=0")[1].split("end of trees")[0])
    # the in-sample IC of a warm block read the score kept by its fit: predict's, exactly
    _, model, prefit, _ = m1[-1]
    X = feats.iloc[prefit.rows.idx][model.features]
    from revertible.model import rank_ic

    ic = rank_ic(model.classifier.booster_.predict(X), prefit.rows.targets["revert"].to_numpy())
    assert model.meta["ic_in_sample"] == ic


def test_continuation_outcomes_unknown_at_the_block_start_stay_out(market, monkeypatch):
    # the continuation trade closes on its own barriers: with a longer time stop than the
    # label's it may end after the block starts although the label ended before; its return is
    # then not known yet and no block calibrator may see it (block 1's folds and the record)
    cfg, panel, eps, feats = market
    cfg = load_config("configs/demo.yaml", [*OVERRIDES, "continue.horizon=96"], data="unused")
    late = 96 * panel.freq
    models: list = []
    fits: dict = {}
    real_ret = ReturnCalibrator.fit

    def spy_ret(self, score, returns, times):
        fits.setdefault(len(models), []).append((returns.copy(), pd.DatetimeIndex(times)))
        return real_ret(self, score, returns, times)

    monkeypatch.setattr(ReturnCalibrator, "fit", spy_ret)
    _run(cfg, panel, eps, feats, models=models)
    masked = 0
    for k, calls in fits.items():
        cutoff = models[k][0]
        for returns, times in calls:
            both = np.isfinite(returns[["revert", "continue"]].to_numpy(float)).all(axis=1)
            assert len(times) and (times[both] + late < cutoff).all()
            masked += int((np.isfinite(returns["revert"].to_numpy(float)) & ~both).sum())
    assert masked > 0  # the case arose: some labels were known, their continuation not yet
