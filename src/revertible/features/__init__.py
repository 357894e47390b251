"""Point-in-time features at each episode's entry, one code path for training and scoring."""

from __future__ import annotations

from ._build import build_features
from ._models import MODEL_FEATURES, ou_fit, spread_model_features
from ._spec import (
    FEATURE_DESCRIPTIONS,
    FEATURE_GROUPS,
    feature_descriptions,
    feature_groups,
    feature_names,
)

__all__ = [
    "FEATURE_GROUPS",
    "FEATURE_DESCRIPTIONS",
    "feature_groups",
    "feature_descriptions",
    "feature_names",
    "build_features",
    "MODEL_FEATURES",
    "ou_fit",
    "spread_model_features",
]
