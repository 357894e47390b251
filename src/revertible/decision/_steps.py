"""Per-signal sizing steps 1-4, vectorised over rows (see :mod:`revertible.decision._size`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..config import CostConfig, LabelConfig, SizingConfig
from ._checks import require
from ._decide import Barriers, trade_barriers
from ._kelly import kelly_fraction
from ._legs import leg_ratios, leg_signs
from ._risk import safe_leverages

__all__ = ["REQUIRED_COLUMNS", "STAKE_COLUMNS", "per_signal", "direction_if_taken"]

REQUIRED_COLUMNS = (
    "asset_a", "asset_b", "entry_time", "z_entry", "beta", "spread_std", "price_a", "price_b",
)  # fmt: skip
"""Columns ``size_signals`` always needs beside :data:`STAKE_COLUMNS`;
``vol_a``/``vol_b`` are needed for ``split="vol_parity"`` and used by the liquidation check."""

STAKE_COLUMNS = ("direction", "expected_return_lower", "return_m2")
"""Columns of :func:`revertible.decision.decide` the stake needs."""


def _col(signals: pd.DataFrame, name: str) -> np.ndarray:
    return np.asarray(signals[name], dtype=float)


def positive(x: np.ndarray) -> np.ndarray:
    return np.isfinite(x) & (x > 0.0)


class Reasons:
    """First failing reason per row (vectorised); ``add`` keeps earlier reasons."""

    def __init__(self, n: int) -> None:
        self.text = np.full(n, "", dtype=object)
        self.ok = np.ones(n, dtype=bool)

    def add(self, mask: np.ndarray, why: str | np.ndarray) -> None:
        m = np.asarray(mask, dtype=bool) & self.ok
        if m.any():
            self.text[m] = why[m] if isinstance(why, np.ndarray) else why
            self.ok &= ~m


def _fmt_g(values: np.ndarray, digits: int) -> np.ndarray:
    """``f"{v:.{digits}g}"`` of each value, formatting each distinct rounded value once.

    Examples
    --------
    >>> _fmt_g(np.array([12.345, 12.3449, 0.0, 1e-310, -np.inf, np.nan]), 3).tolist()
    ['12.3', '12.3', '0', '1e-310', '-inf', 'nan']
    """
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mag = np.floor(np.log10(np.abs(np.where(v == 0.0, 1.0, v))))
        scale = 10.0 ** (digits - 1 - np.nan_to_num(mag))
        # +-inf, NaN and values too small to scale (subnormal) as they are
        key = np.where(np.isfinite(v) & np.isfinite(scale), np.round(v * scale) / scale, v)
    uniq, inv = np.unique(key, return_inverse=True)
    text = np.array([f"{u:.{digits}g}" for u in uniq], dtype=object)
    return text[inv.reshape(-1)]


def direction_if_taken(signals: pd.DataFrame) -> np.ndarray:
    """The decided direction, or for ``none`` the decision's ``best_direction`` (else revert)."""
    direction = signals["direction"].astype(object).to_numpy()
    best = (signals["best_direction"].astype(object).to_numpy()
            if "best_direction" in signals.columns
            else np.full(len(signals), "revert", dtype=object))  # fmt: skip
    return np.where(direction == "none", best, direction).astype(object)


def per_signal(
    signals: pd.DataFrame,
    sizing: SizingConfig,
    costs: CostConfig,
    label: LabelConfig,
    cap: float,
    continuation: Barriers | None,
    at_cap: bool = False,
) -> SimpleNamespace:
    """Steps 1-4 for every row (vectorised): reasons, sides, ratio, stake, leverages.

    ``at_cap``: the stake is the per-trade cap (``sizing.trade_cap_frac``) whatever the
    evidence, for the legs a trader would use *if they took it anyway* (``*_if_taken``); the
    direction must then be ``revert`` or ``continue``.
    """
    missing = [c for c in REQUIRED_COLUMNS + STAKE_COLUMNS if c not in signals.columns]
    if sizing.split == "vol_parity":
        missing += [c for c in ("vol_a", "vol_b") if c not in signals.columns]
    require(not missing, "signals has every required column",
            "add them (episode key, z_entry, beta, spread_std, leg prices and vols, and the "
            "decision: decide() output)",
            missing=missing)  # fmt: skip
    n = len(signals)
    z, beta, std = _col(signals, "z_entry"), _col(signals, "beta"), _col(signals, "spread_std")
    price_a, price_b = _col(signals, "price_a"), _col(signals, "price_b")
    has_vols = "vol_a" in signals.columns and "vol_b" in signals.columns
    vol_a = _col(signals, "vol_a") if has_vols else None
    vol_b = _col(signals, "vol_b") if has_vols else None
    why = Reasons(n)
    direction = signals["direction"].astype(object).to_numpy()
    bad = ~np.isin(direction, ("revert", "continue", "none"))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        require(False, "direction in {'revert', 'continue', 'none'}", f"in row {i}",
                direction=direction[i])  # fmt: skip
    # a 'none' row's sides and exits are those of the direction a trader would take anyway
    follow = direction_if_taken(signals) == "continue"
    key = _col(signals, "expected_return_lower")
    bars = trade_barriers(label) if continuation is None else {
        "revert": trade_barriers(label)["revert"], "continue": continuation}  # fmt: skip
    rev, con = bars["revert"], bars["continue"]
    take_profit = np.where(follow, con.take_profit, rev.take_profit)
    stop = np.where(follow, con.stop, rev.stop)
    horizon = np.where(follow, con.horizon, rev.horizon)
    sign_a, sign_b = leg_signs(z, beta, follow)

    # 1. inputs and legs
    if cap == 0.0:
        why.add(np.ones(n, bool), "no capital")
    if "skip_reason" in signals.columns:
        skip = signals["skip_reason"].fillna("").astype(str).to_numpy(dtype=object)
        why.add(skip != "", skip)
    why.add((signals["asset_a"] == signals["asset_b"]).to_numpy(), "asset_a equals asset_b")
    why.add(pd.isna(signals["entry_time"]).to_numpy(), "entry_time is missing")
    none = direction == "none"
    if none.any() and not at_cap:
        msg = np.full(n, "", dtype=object)
        given = (signals["decision_reason"].fillna("").astype(str).to_numpy(dtype=object)
                 if "decision_reason" in signals.columns else np.full(n, "", dtype=object))
        low = np.where(np.isfinite(key), key * 1e4, np.nan)
        msg[none] = np.where(given[none] != "", given[none],
                             "no direction clears costs: best lower bound "
                             + _fmt_g(low[none], 3) + " bp")  # fmt: skip
        why.add(none, msg)
    if at_cap:
        why.add(none, "no calibrated outcome")
    else:
        why.add(np.isnan(key), "expected return lower bound is missing")
    for name, x in (("z_entry", z), ("beta", beta)):
        why.add(~(np.isfinite(x) & (x != 0.0)), f"{name} is zero or missing")
    low = np.abs(beta) < sizing.min_abs_beta
    if (low & why.ok).any():
        msg = np.full(n, "", dtype=object)
        msg[low] = ("|beta| " + _fmt_g(np.abs(beta[low]), 3)
                    + f" below sizing.min_abs_beta {sizing.min_abs_beta:g} (not a pair trade)")
        why.add(low, msg)
    for name, x in (("spread_std", std), ("price_a", price_a), ("price_b", price_b)):
        why.add(~positive(x), f"{name} is not positive")
    if has_vols:
        what = "vol_parity split" if sizing.split == "vol_parity" else "liquidation check"
        for name, x in (("vol_a", vol_a), ("vol_b", vol_b)):
            why.add(~positive(x), f"{name} is not positive ({what})")
    ratio = leg_ratios(sizing.split, beta, vol_a, vol_b)
    ratio = np.where(why.ok & np.isfinite(ratio), ratio, 1.0)

    # 2. barriers on z'
    now = "z_now" in signals.columns
    zp = _col(signals, "z_now") if now else np.abs(z)
    why.add(~np.isfinite(zp), "z_now is missing")
    inside_tp = np.where(follow, zp >= take_profit, zp <= take_profit)
    beyond_stop = np.where(follow, zp <= stop, zp >= stop)
    zname = "z_now" if now else "|z_entry|"
    why.add(inside_tp & ~follow, f"{zname} already within take-profit")
    why.add(beyond_stop & ~follow, f"{zname} at or beyond the stop")
    why.add(inside_tp & follow, "z' already at or beyond the continuation take-profit")
    why.add(beyond_stop & follow, "z' at or below the continuation stop")

    # 3. stake: fractional Kelly on the lower bound, leg-A notional wanted, per-trade cap
    mu, m2 = key, _col(signals, "return_m2")
    limit = sizing.trade_cap_frac * cap
    if at_cap:
        bet = np.where(why.ok, limit * (1.0 + ratio) / max(cap, 1e-300), 0.0)
    else:
        why.add(~(mu > sizing.min_edge), "lower bound not above sizing.min_edge")
        why.add(~positive(m2), "return_m2 is not positive")
        bet = np.where(why.ok, sizing.kelly_fraction * kelly_fraction(mu, m2), 0.0)
        why.add(~(bet > 0.0), "kelly stake is zero")
    wanted_a = np.where(why.ok, np.minimum(bet * cap / (1.0 + ratio), limit), 0.0)
    capped = why.ok & (bet * cap / (1.0 + ratio) > limit * (1.0 + 1e-12))

    # 4. leverage: liquidation beyond the stop move and each leg's own plausible move
    stop_dist = np.where(follow, zp - stop, stop - zp)
    move_a = np.maximum(stop_dist, 0.0) * np.where(why.ok, std, 0.0)
    move_b = move_a / np.where(why.ok, np.abs(beta), 1.0)
    if has_vols:
        k = sizing.liquidation_sigmas * np.sqrt(horizon.astype(float))
        move_a = np.maximum(move_a, k * np.where(why.ok, vol_a, 0.0))
        move_b = np.maximum(move_b, k * np.where(why.ok, vol_b, 0.0))
    grow = 1.0 + sizing.liquidation_cushion
    mmr, top = sizing.maintenance_margin_rate, sizing.max_gross_leverage
    lev_a = safe_leverages(move_a * grow, sign_a, mmr, top)
    lev_b = safe_leverages(move_b * grow, sign_b, mmr, top)
    floor = min(1.0, top)
    for leg, lev in (("a", lev_a), ("b", lev_b)):
        sigmas = f"{sizing.liquidation_sigmas:g}-sigma"
        why.add(lev < floor * (1.0 - 1e-6), f"leg {leg} would be liquidated before the stop or "
                f"its {sigmas} move even at {floor:.3g}x leverage")  # fmt: skip
    notes = np.full(n, "", dtype=object)
    for leg, lev in (("a", lev_a), ("b", lev_b)):
        lowered = why.ok & (lev < top * (1.0 - 1e-6))
        if lowered.any():
            add = (f"leg {leg} leverage lowered to " + _fmt_g(lev[lowered], 3)
                   + "x so the stop precedes liquidation")
            notes[lowered] = np.where(notes[lowered] == "", add, notes[lowered] + "; " + add)
    wanted_a = np.where(why.ok, wanted_a, 0.0)

    return SimpleNamespace(
        n=n, why=why, notes=notes, wanted_a=wanted_a, ratio=ratio, lev_a=lev_a, lev_b=lev_b,
        sign_a=sign_a, sign_b=sign_b, price_a=price_a, price_b=price_b, key=key, bet=bet,
        capped=capped, take_profit=take_profit, stop=stop, horizon=horizon,
        mmr=mmr, top=top,
    )


