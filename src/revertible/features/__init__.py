"""Point-in-time features at each episode's entry, one code path for training and scoring."""

from __future__ import annotations

from ._build import (
    FEATURE_DESCRIPTIONS,
    FEATURE_GROUPS,
    build_features,
    feature_names,
)

__all__ = [
    "FEATURE_GROUPS",
    "FEATURE_DESCRIPTIONS",
    "feature_names",
    "build_features",
]
