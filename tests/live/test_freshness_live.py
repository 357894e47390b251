"""Model age and data freshness: warn or refuse, one line each."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from revertible.config import ScoringConfig
from revertible.live import StaleError, freshness_check, panel_last_bars
from revertible.synthetic import generate_market

LAST = pd.Timestamp("2024-06-30 23:00", tz="UTC")


def test_fresh_inputs_say_nothing():
    meta = {"trained_until": "2024-06-20 00:00:00+00:00"}
    assert freshness_check(ScoringConfig(), last_bar=LAST, model_meta=meta,
                           asset_last_bars={"A": LAST, "B": LAST - pd.Timedelta("2h")},
                           now=LAST + pd.Timedelta("1h30min")) == []


def test_old_model_and_stale_data_and_legs_warn(caplog):
    meta = {"trained_until": "2024-05-01 00:00:00+00:00"}
    with caplog.at_level(logging.WARNING, logger="revertible.freshness"):
        found = freshness_check(ScoringConfig(max_model_age_days=30), last_bar=LAST,
                                model_meta=meta, asset_last_bars={"A": LAST,
                                                                  "B": LAST - pd.Timedelta("5h"),
                                                                  "C": pd.NaT},
                                now=LAST + pd.Timedelta("6h"))
    assert len(found) == 3 and len(caplog.records) == 3
    assert "61.0 days before the last bar 2024-06-30 23:00" in found[0]
    assert "5 h before the last closed bar 2024-07-01 04:00" in found[1]
    assert "2 asset(s)" in found[2] and "C (no price)" in found[2] and "B (2024-06-30 18:00)"\
        in found[2]


def test_refuse_is_one_line_naming_the_key():
    cfg = ScoringConfig(max_model_age_days=10, on_stale="refuse")
    with pytest.raises(StaleError) as exc:
        freshness_check(cfg, last_bar=LAST, model_meta={"trained_until": "2024-06-01"})
    msg = str(exc.value)
    assert "\n" not in msg and "scoring.max_model_age_days=10" in msg and "on_stale=refuse" in msg
    assert StaleError.exit_code == 2
    assert freshness_check(ScoringConfig(max_model_age_days=None), last_bar=LAST,
                           model_meta={"trained_until": "2020-01-01"}) == []


def test_panel_last_bars_finds_each_assets_last_price():
    panel, _ = generate_market(n_assets=4, n_bars=200, seed=3, n_late=0, n_illiquid=0,
                               missing_frac=0.0, gap_bars=0)
    panel.close[-5:, 1] = np.nan
    bars = panel_last_bars(panel)
    assert bars.iloc[0] == panel.times[-1] and bars.iloc[1] == panel.times[-6]
