"""Every feature equals, bit for bit, the table of the pinned reference commit.

The fixture (tests/fixtures/pinned_features.npz, written by ``python -m tests.features.pinned``)
was computed at commit 58a7403, before the relationship features moved from four record-mode
passes of the spread kernel (one per correlation window) to one pass that emits values at the
entry bars only (:func:`revertible.spread.entry_values`). Inputs: a generated market (12 assets,
1,600 bars, synthetic funding), its episode tables (stored with the fixture), small windows so
every correlation window is recomputed several times (its running sums replaced by their
shadow at ``t = k * window``), and two hedge models (rolling OLS: every family; Kalman: the
families that read the hedge model).
"""

from __future__ import annotations

import numpy as np

from revertible.features import build_features

from .pinned import (
    FIXTURE,
    PINNED_COMMIT,
    arrays_to_episodes,
    kalman_columns,
    panel_digest,
    pinned_inputs,
)


def test_features_equal_the_pinned_commit():
    z = np.load(FIXTURE)
    panel, cfgs = pinned_inputs()
    assert panel_digest(panel) == str(z["digest"]), (
        f"the generated market changed since {PINNED_COMMIT}; the fixture no longer applies"
    )
    for key, cfg in cfgs.items():
        eps = arrays_to_episodes(z, key)
        assert len(eps) > 500
        f = build_features(panel, eps, cfg)
        cols = list(f.columns) if key == "ols" else kalman_columns(list(f.columns))
        assert cols == list(z[f"{key}_columns"])
        got = f[cols].to_numpy()
        want = z[f"{key}_features"]
        for k, name in enumerate(cols):  # NaN where NaN, every other value bit for bit
            np.testing.assert_array_equal(got[:, k], want[:, k], err_msg=f"{key}: {name}")
            num = ~np.isnan(want[:, k])  # and zeros of the same sign
            assert np.array_equal(np.signbit(got[num, k]), np.signbit(want[num, k])), name
        assert np.isfinite(want[:, cols.index("corr_20d")]).sum() > 500
