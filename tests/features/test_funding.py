"""The funding differential: carried forward only, missing where the data is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.config import config_from_mapping
from revertible.features import (
    FEATURE_GROUPS,
    build_features,
)

from .support import make_episodes, make_panel


def test_funding_differential_carries_forward_only_and_stays_missing(rng, cfg):
    n = 600
    panel_prices = np.exp(np.cumsum(rng.normal(0, 0.01, (n, 3)), axis=0))
    funding = np.full((n, 3), np.nan)
    ev_a = np.arange(96, 401, 8)  # leg A: events at 96, 104, ..., 400
    ev_b = np.arange(50, n, 8)  # leg B: events to the end; asset 2 has no funding at all
    funding[ev_a, 0] = rng.normal(1e-4, 5e-5, len(ev_a))
    funding[ev_b, 1] = rng.normal(-1e-4, 5e-5, len(ev_b))
    panel = make_panel(panel_prices, funding=funding)
    rows = [(0, 1, 90, np.nan, None), (0, 1, 205, np.nan, None), (0, 1, 424, np.nan, None),
            (0, 1, 425, np.nan, None), (0, 2, 205, np.nan, None), (0, 1, 96, np.nan, None)]
    eps = make_episodes(panel, rows)
    f = build_features(panel, eps, cfg)
    fa, fb = funding[:, 0], funding[:, 1]
    assert np.isnan(f["funding_diff"].iloc[0])  # A has no funding history yet at bar 90
    assert f["funding_diff"].iloc[1] == fa[200] - fb[202]
    assert f["funding_diff_mean3"].iloc[1] == pytest.approx(
        fa[[184, 192, 200]].mean() - fb[[186, 194, 202]].mean(), rel=1e-12
    )
    sgn, beta = np.sign(eps["z_entry"].iloc[1]), eps["beta"].iloc[1]
    assert f["funding_carry"].iloc[1] == pytest.approx(sgn * (fa[200] - beta * fb[202]))
    assert f["funding_diff"].iloc[2] == fa[400] - fb[418]  # 24 h old: still known
    assert np.isnan(f["funding_diff"].iloc[3])  # 25 h old: stale, unknown
    assert f[["funding_diff", "funding_diff_mean3", "funding_carry"]].iloc[4].isna().all()
    assert f["funding_diff"].iloc[5] == fa[96] - fb[90]  # an event at the entry bar counts
    assert np.isnan(f["funding_diff_mean3"].iloc[5])  # one event of A: no 3-event mean

    no_folder = make_panel(panel_prices)  # funding=None: the group exists, all unknown
    g = build_features(no_folder, eps, cfg)
    assert g[FEATURE_GROUPS["funding"]].isna().all().all()
    off = config_from_mapping({"data": {"path": "."}, "features": {"use_funding": False}})
    h = build_features(panel, eps, off)
    assert not set(FEATURE_GROUPS["funding"]) & set(h.columns)
    pd.testing.assert_frame_equal(h, f[h.columns])
