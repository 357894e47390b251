"""The probability-only ("legacy") stake: volatility target times the barrier-payoff bet size.

Kept for classifier-only callers (the backtest's probability strategies) until they size on the
return heads; it is the former rule, vectorised: payoff between the label's barriers
(:func:`revertible.decision.payoff`), bet size from ``p`` and the payoff ratio
(:func:`revertible.decision.bet_size`), times the leg-A notional whose spread volatility is
``risk_per_trade * capital`` (:func:`revertible.decision.vol_target_notional`). docs/design.md's
sizing is true fractional Kelly on the outcome distribution: pass decided signals instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import ndtr

from ..config import CostConfig, SizingConfig
from ._decide import Barriers

__all__ = ["legacy_stakes"]


def legacy_stakes(
    zp: np.ndarray,
    std: np.ndarray,
    prob: np.ndarray,
    ratio: np.ndarray,
    why: Any,
    sizing: SizingConfig,
    costs: CostConfig,
    revert: Barriers,
    capital: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(bet_size, payoff_ratio, leg-A notional wanted)``; adds reasons to ``why`` in place."""
    per_fill = costs.fee + costs.slippage  # the cost model's fill (taker or maker)
    cost = 2.0 * per_fill * (1.0 + ratio)
    ok = why.ok
    s = np.where(ok, std, 0.0)
    win = (zp - revert.take_profit) * s - cost
    loss = (revert.stop - zp) * s + cost
    why.add(~(win > 0.0), "no net win after costs")
    ok = why.ok
    b = np.where(ok, win / np.where(ok, loss, 1.0), 0.0)
    p = np.where(ok, prob, 0.0)
    edge = p * b - (1.0 - p)
    why.add(~(edge > sizing.min_edge), "edge below minimum")
    ok = why.ok
    f = sizing.kelly_fraction
    if sizing.method == "kelly":
        with np.errstate(divide="ignore", invalid="ignore"):
            size = np.clip(f * (p - (1.0 - p) / np.where(ok, b, 1.0)), 0.0, 1.0)
    else:
        var = p * (1.0 - p)
        with np.errstate(divide="ignore", invalid="ignore"):
            full = np.where(var > 0.0, 2.0 * ndtr((p - 0.5) / np.sqrt(var)) - 1.0, 1.0)
        size = np.where(p > 0.5, np.clip(f * full, 0.0, 1.0), 0.0)
    size = np.where(ok, size, 0.0)
    zero = ok & ~(size > 0.0)
    if zero.any():
        msg = np.full(len(p), "", dtype=object)
        msg[zero] = [f"{sizing.method} size is zero at p={x:.4g}" for x in p[zero]]
        why.add(zero, msg)
    wanted = np.where(why.ok, sizing.risk_per_trade * capital / np.where(why.ok, s, 1.0), 0.0)
    return size, b, wanted * size
