"""Pair history: only labels settled before the entry count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.features import (
    build_features,
)

from .support import make_episodes, make_panel


def test_pair_history_counts_only_settled_labels(rng, cfg):
    panel = make_panel(np.exp(np.cumsum(rng.normal(0, 0.01, (400, 4)), axis=0)))
    rows = [
        (0, 1, 100, 1.0, 120),  # 0: settled before every later entry
        (0, 1, 130, 0.0, 200),  # 1: still running at the entry of row 3
        (0, 1, 140, np.nan, None),  # 2: open, never contributes a label
        (0, 1, 150, 1.0, 160),  # 3
        (0, 1, 210, np.nan, None),  # 4
        (2, 3, 50, 0.0, 90),  # 5: another pair, only in the global prior
        (2, 3, 300, 1.0, 301),  # 6
    ]
    eps = make_episodes(panel, rows)
    f = build_features(panel, eps, cfg)
    m = 20.0  # PRIOR_STRENGTH
    np.testing.assert_array_equal(f["pair_n_prev"], [0, 1, 2, 3, 4, 0, 1])
    np.testing.assert_array_equal(f["pair_n_resolved"], [0, 1, 1, 1, 3, 0, 1])
    np.testing.assert_array_equal(
        f["pair_revert_rate"], [np.nan, 1.0, 1.0, 1.0, 2 / 3, np.nan, 0.0]
    )
    np.testing.assert_array_equal(
        f["bars_since_prev_episode"], [np.nan, 30, 10, 10, 60, np.nan, 250]
    )
    # prior at 150: rows 0 (1) and 5 (0) settled -> 0.5; at 100: row 5 only -> 0.0
    assert f["pair_revert_rate_shrunk"].iloc[3] == pytest.approx((1 + m * 0.5) / (1 + m))
    assert f["pair_revert_rate_shrunk"].iloc[0] == pytest.approx(0.0)
    assert np.isnan(f["pair_revert_rate_shrunk"].iloc[5])  # nothing settled anywhere yet
    # scoring a subset with the full history gives the same row
    open_rows = eps[eps["label"].isna()]
    g = build_features(panel, open_rows, cfg, history=eps)
    pd.testing.assert_frame_equal(g, f.loc[open_rows.index])
    # a label settling later than the entry does not change the entry's features
    later = eps.copy()
    later.loc[2, "label"] = 0.0
    later.loc[2, "exit_time"] = panel.times[399]
    pd.testing.assert_frame_equal(build_features(panel, later, cfg), f)
