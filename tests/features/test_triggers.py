"""Regime-trigger features: point in time and by hand."""

from __future__ import annotations

import numpy as np
import pytest

from revertible.config import config_from_mapping


def test_trigger_features_point_in_time_and_by_hand(clusters):
    from revertible.features import feature_names
    from revertible.features._triggers import TRIGGER_FEATURES, regime_trigger_features

    panel, _ = clusters
    c = config_from_mapping({"data": {"path": "."}, "features": {"use_regime": True}})
    assert feature_names(c)[-len(TRIGGER_FEATURES):] == list(TRIGGER_FEATURES)
    assert not set(TRIGGER_FEATURES) & set(feature_names(config_from_mapping(
        {"data": {"path": "."}})))
    t = np.array([800, 1500, panel.n_bars - 1, 100])
    ia, ib = np.array([0, 1, 2, 0]), np.array([3, 4, 5, 1])
    full = regime_trigger_features(panel, t, ia, ib, c)
    for k in range(3):
        cut = regime_trigger_features(panel.slice_bars(0, t[k] + 1), t[k:k + 1], ia[k:k + 1],
                                      ib[k:k + 1], c)
        for name in TRIGGER_FEATURES:
            np.testing.assert_allclose(cut[name], full[name][k:k + 1], rtol=1e-9, atol=1e-12)
    r = np.diff(np.log(panel.close), axis=0)  # r[j - 1] is the return of bar j
    k = 1
    x = r[t[k] - 72:t[k], [ia[k], ib[k]]]
    y = r[t[k] - 720:t[k], [ia[k], ib[k]]]
    want = np.corrcoef(x.T)[0, 1] - np.corrcoef(y.T)[0, 1]
    assert full["trig_corr_shift"][k] == pytest.approx(want, rel=1e-9)
    assert np.isnan(full["trig_corr_shift"][3])  # bar 100: no 30-day baseline yet
    assert set(np.unique(full["trig_vol_on"][:3])) <= {0.0, 1.0}
