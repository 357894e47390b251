"""The reversion model's fit: side-by-side fits give the same model as one worker."""

from __future__ import annotations

import numpy as np
import pytest

from revertible.config import load_config
from revertible.episodes import outcome_targets
from revertible.model import fit_reversion_model, label_end, prepare_dataset
from revertible.synthetic import generate_market


@pytest.fixture(scope="module")
def dataset():
    panel, _ = generate_market(n_assets=8, n_bars=24 * 120, seed=11)
    cfg = load_config("configs/demo.yaml", ["model.n_estimators=25", "cv.n_folds=3"],
                      data="unused")
    eps, feats = prepare_dataset(cfg, panel)
    ends = label_end(eps, cfg.label.horizon, panel.freq)
    ok = (eps["label"].notna()).to_numpy()
    e = eps[ok].reset_index(drop=True)
    return (cfg, feats[ok].reset_index(drop=True), e["label"].to_numpy(int),
            e["entry_time"], ends[ok].reset_index(drop=True), outcome_targets(e, "beta"),
            panel.freq)


def test_two_workers_fit_the_same_model_as_one(dataset):
    cfg, X, y, entry, ends, targets, bar = dataset
    from revertible.features import FEATURE_GROUPS, feature_names
    from revertible.model import select_features

    feats = select_features(cfg, feature_names(cfg), FEATURE_GROUPS)
    fits = [fit_reversion_model(cfg, X, y, entry, ends, targets, feats, bar, workers=w,
                                kinds=("lgbm", "logreg_abs_z")) for w in (1, 2)]
    (m1, cv1), (m2, cv2) = fits
    np.testing.assert_array_equal(cv1["score"], cv2["score"])  # out-of-fold raw scores
    assert np.isfinite(cv1["score"]).sum() > 100
    np.testing.assert_array_equal(m1.predict_proba(X), m2.predict_proba(X))
    assert cv1["metrics"] == cv2["metrics"]
    assert m1.meta["ic_in_sample"] == m2.meta["ic_in_sample"]
    o1, o2 = m1.predict_outcomes(X), m2.predict_outcomes(X)
    np.testing.assert_array_equal(o1.to_numpy(float), o2.to_numpy(float))


def _lightgbm_max_threads() -> int:
    import ctypes

    import lightgbm as lgb

    out = ctypes.c_int(0)
    lgb.basic._LIB.LGBM_GetMaxThreads(ctypes.byref(out))
    return out.value


def test_fits_side_by_side_cap_lightgbm_at_one_thread_process_wide():
    # LightGBM's default thread count is process-wide and every call (a dataset subset, a
    # prediction) resets it from its own parameters: a fit in another thread then ran with
    # more threads than its buffers were sized for and the process died (SIGSEGV; 5 of 7
    # one-minute stress runs of 6 threads, 1 of 3 spot walk-forward backtests). The cap holds
    # every call to the pool's one thread and is lifted after the pool's fits are done.
    from revertible.model import fit_pool

    cfg = load_config("configs/demo.yaml", [])
    assert _lightgbm_max_threads() == -1
    with fit_pool(cfg, workers=2) as (fit_cfg, submit):
        assert fit_cfg.model.n_jobs == 1
        assert submit(_lightgbm_max_threads)() == 1  # in a pool thread too
    assert _lightgbm_max_threads() == -1
    with fit_pool(cfg, workers=1):  # one fit at a time: its threads as configured
        assert _lightgbm_max_threads() == -1
    with pytest.raises(RuntimeError), fit_pool(cfg, workers=2):
        raise RuntimeError("a failed fit")
    assert _lightgbm_max_threads() == -1
