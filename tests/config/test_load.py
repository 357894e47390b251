"""Config: `--set tuning.space.X` merges into the search space; new tunables have one default."""

from __future__ import annotations

import pytest

from revertible.config import (
    FeatureConfig,
    ModelConfig,
    TuningConfig,
    apply_overrides,
    config_from_mapping,
)
from revertible.errors import ConfigError

RAW = {"data": {"path": "."}}


def _cfg(*sets, raw=RAW):
    return config_from_mapping(apply_overrides(raw, sets))


def test_space_override_merges_into_the_default_space():
    default = TuningConfig().space
    cfg = _cfg("tuning.space.num_leaves={type: int, low: 7, high: 63}")
    assert set(cfg.tuning.space) == set(default)
    assert (cfg.tuning.space["num_leaves"].low, cfg.tuning.space["num_leaves"].high) == (7, 63)
    for name in set(default) - {"num_leaves"}:
        assert cfg.tuning.space[name] == default[name], name


def test_space_override_adds_changes_one_bound_and_drops():
    default = TuningConfig().space
    cfg = _cfg("tuning.space.bagging_freq={type: int, low: 0, high: 5}",
               "tuning.space.learning_rate.high=0.3", "tuning.space.max_depth=null")
    space = cfg.tuning.space
    assert "bagging_freq" in space and "max_depth" not in space
    lr = space["learning_rate"]
    assert (lr.low, lr.high, lr.log) == (default["learning_rate"].low, 0.3, True)
    assert set(space) == set(default) - {"max_depth"} | {"bagging_freq"}


def test_space_override_merges_into_the_files_space():
    raw = {**RAW, "tuning": {"space": {"learning_rate": {"low": 0.02, "high": 0.1}}}}
    cfg = _cfg("tuning.space.num_leaves={type: int, low: 4, high: 8}", raw=raw)
    assert set(cfg.tuning.space) == {"learning_rate", "num_leaves"}
    assert raw["tuning"]["space"] == {"learning_rate": {"low": 0.02, "high": 0.1}}  # not mutated


def test_whole_space_override_replaces():
    cfg = _cfg("tuning.space={num_leaves: {type: int, low: 4, high: 8}}")
    assert set(cfg.tuning.space) == {"num_leaves"}


def test_new_tunables_have_their_defaults_and_ranges():
    cfg = _cfg()
    assert cfg.tuning.heartbeat_interval_s == 30 and cfg.tuning.grace_period_s == 120
    assert cfg.tuning.max_retry == 1 and cfg.tuning.tpe_startup_trials == 10
    assert cfg.tuning.median_startup_trials == 5 and cfg.model.n_jobs == 2
    assert cfg.features == FeatureConfig() and cfg.model == ModelConfig()
    with pytest.raises(ConfigError, match="grace_period_s > heartbeat_interval_s"):
        _cfg("tuning.heartbeat_interval_s=60", "tuning.grace_period_s=30")
    with pytest.raises(ConfigError, match="model.n_jobs"):
        _cfg("model.n_jobs=0")


@pytest.mark.parametrize("value", [None, ("BTC/USDT", "ETH/USDT"), ["a", "b"], True, 0.3, 72,
                                   "1h", {"a": 1}, "2024-06-01", "on", "1e3", "null", ""])
def test_override_text_is_read_back_as_the_value(value):
    from revertible.config import apply_overrides, override_text

    text = override_text("data.assets", value)
    assert text.startswith("--set data.assets=")
    got = apply_overrides({}, [text[len("--set "):]])["data"]["assets"]
    assert got == (list(value) if isinstance(value, tuple) else value)
    assert "None" not in text and "(" not in text  # not Python's repr, which --set refuses
