"""Windows and horizons in time units or bars; windows too short for their statistic refused."""

from __future__ import annotations

import pytest

from revertible.config import Config, config_from_mapping
from revertible.errors import ConfigError


def _cfg(data: dict | None = None, **sections) -> Config:
    return config_from_mapping({"data": {"path": "/tmp", **(data or {})}, **sections})


def test_defaults_unchanged_at_1h():
    c = _cfg()
    assert (c.spread.beta_window, c.spread.z_window, c.label.horizon) == (720, 72, 48)
    assert c.features.z_lags == (1, 6, 24)


def test_bare_numbers_stay_bars_at_any_bar_size():
    c = _cfg({"timeframe": "1h", "resample": "4h"}, spread={"beta_window": 720, "z_window": 72})
    assert (c.spread.beta_window, c.spread.z_window) == (720, 72)


@pytest.mark.parametrize(
    ("data", "bars"),
    [({"timeframe": "1h"}, (720, 72, 48)), ({"timeframe": "15m"}, (2880, 288, 192)),
     ({"timeframe": "1h", "resample": "4h"}, (180, 18, 12)),
     ({"timeframe": "1h", "resample": "1d"}, (30, 3, 2))],
)
def test_durations_become_bars_of_the_run(data, bars):
    sections = {"spread": {"beta_window": "30d", "z_window": "72h"}, "label": {"horizon": "2d"}}
    if data.get("resample") == "1d":
        sections["spread"]["z_window"] = "5d"
        bars = (30, 5, 2)
    c = _cfg(data, **sections)
    assert (c.spread.beta_window, c.spread.z_window, c.label.horizon) == bars
    lags = _cfg(data, features={"z_lags": ["1h", "6h", "1d"]}).features.z_lags if (
        data.get("resample") is None) else None
    if lags is not None:
        step = 4 if data["timeframe"] == "15m" else 1
        assert lags == (step, 6 * step, 24 * step)


@pytest.mark.parametrize(
    ("data", "sections", "needles"),
    [
        ({"resample": "4h"}, {"spread": {"z_window": "8h"}},
         ("spread.z_window='8h' is 2 bar(s) of 4h", "standard deviation", "at least 5")),
        ({}, {"spread": {"z_window": 2}}, ("spread.z_window=2 bars is too short", "at least 5")),
        ({"resample": "4h"}, {"label": {"horizon": "90m"}},
         ("label.horizon='90m' is 0.375 bars of 4h", "not a whole number")),
        ({}, {"features": {"z_lags": ["1h", "soon"]}}, ("features.z_lags.1", "'soon'")),
        # durations are accepted, so "should be a valid integer" misled (found walking the README)
        ({}, {"label": {"horizon": "abc"}},
         ("label.horizon='abc' is not a number of bars or a positive duration", "48h or 2d")),
        ({}, {"spread": {"z_window": "0h"}}, ("spread.z_window='0h'", "positive duration")),
        ({"resample": "30m"}, {}, ("data.resample='30m' must be a multiple",)),
        ({"resample": "90m"}, {}, ("must be a multiple of data.timeframe='1h'",)),
    ],
)
def test_bad_windows_refused_with_reason(data, sections, needles):
    with pytest.raises(ConfigError) as err:
        _cfg(data, **sections)
    text = str(err.value)
    assert "\n" not in text
    for needle in needles:
        assert needle in text, (needle, text)


@pytest.mark.parametrize(
    ("data", "sections", "needle"),
    [({"resample": "1w"}, {}, "universe.corr_windows_days=30 days is 4.28571 bars of 1w"),
     ({"resample": "1d"}, {"features": {"corr_short_days": 3}},
      "features.corr_short_days=3 days is 3 bars of 1d, too short: a return correlation")],
)
def test_day_windows_too_short_at_the_bar_size(data, sections, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        _cfg(data, **sections)
    assert _cfg({"resample": "1d"}).universe.corr_windows_days == (30, 60, 90)  # 1d: fine
