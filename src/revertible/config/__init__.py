"""One typed config, parsed once: YAML and ``--set`` overrides into frozen pydantic models."""

from __future__ import annotations

from ._baskets import BasketsConfig
from ._hedge import HedgeConfig
from ._live import MonitorConfig, ScoringConfig
from ._load import apply_overrides, config_from_mapping, flatten, load_config, override_text
from ._schema import (
    BARS_PER_DAY,
    BacktestConfig,
    ComputeConfig,
    Config,
    ContinueConfig,
    CostConfig,
    CVConfig,
    DataConfig,
    DecisionConfig,
    FeatureConfig,
    LabelConfig,
    ModelConfig,
    ParamRange,
    SizingConfig,
    SpreadConfig,
    TrackingConfig,
    TuningConfig,
    UniverseConfig,
)
from ._strategy_search import StrategySearchConfig, default_strategy_space
from ._timeframe import WINDOW_KEYS, bar_text, bars_per_day, duration

__all__ = [
    "override_text",
    "StrategySearchConfig",
    "default_strategy_space",
    "BasketsConfig",
    "config_from_mapping",
    "BARS_PER_DAY",
    "WINDOW_KEYS",
    "bars_per_day",
    "duration",
    "bar_text",
    "Config",
    "DataConfig",
    "UniverseConfig",
    "SpreadConfig",
    "LabelConfig",
    "ComputeConfig",
    "FeatureConfig",
    "ModelConfig",
    "CVConfig",
    "TrackingConfig",
    "TuningConfig",
    "ParamRange",
    "CostConfig",
    "ContinueConfig",
    "SizingConfig",
    "BacktestConfig",
    "DecisionConfig",
    "HedgeConfig",
    "ScoringConfig",
    "MonitorConfig",
    "load_config",
    "apply_overrides",
    "flatten",
]
