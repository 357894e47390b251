"""Generated markets with known answers (OU pairs with known half-lives, random walks, momentum)."""

from __future__ import annotations

from ._clusters import generate_cluster_market
from ._market import (
    DEFAULT_PAIRS,
    TRUTH_COLUMNS,
    FactorReturns,
    PairSpec,
    factor_returns,
    generate_market,
    write_market,
)
from ._momentum import momentum_panel, simulate_momentum_pair
from ._pairs import ou_phi, simulate_ou_pair, simulate_random_walk_pair
from ._scores import noise_score, planted_score

__all__ = [
    "generate_cluster_market",
    "PairSpec",
    "DEFAULT_PAIRS",
    "TRUTH_COLUMNS",
    "FactorReturns",
    "factor_returns",
    "ou_phi",
    "generate_market",
    "write_market",
    "simulate_ou_pair",
    "simulate_random_walk_pair",
    "simulate_momentum_pair",
    "momentum_panel",
    "planted_score",
    "noise_score",
]
