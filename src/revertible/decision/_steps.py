"""Per-signal sizing steps 1-4, vectorised over rows (see :mod:`revertible.decision._size`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..config import CostConfig, LabelConfig, SizingConfig
from ..costs import round_trip_cost
from ._checks import require
from ._decide import Barriers, trade_barriers
from ._legs import leg_ratios, leg_signs
from ._risk import safe_leverages
from ._stake import legacy_stakes

__all__ = ["REQUIRED_COLUMNS", "MODE_COLUMNS", "sizing_mode", "per_signal"]

REQUIRED_COLUMNS = (
    "asset_a", "asset_b", "entry_time", "z_entry", "beta", "spread_std", "price_a", "price_b",
)  # fmt: skip
"""Columns ``size_signals`` always needs; the stake needs those of one mode (module docstring),
``vol_a``/``vol_b`` are needed for ``split="vol_parity"`` and used by the liquidation check."""

MODE_COLUMNS = {
    "moments": ("direction", "expected_return", "return_m2"),
    "binary": ("probability", "win_return", "loss_return"),
    "legacy": ("probability",),
}

def sizing_mode(columns: object) -> str:
    """``"moments"``, ``"binary"`` or ``"legacy"`` from the columns present (module docstring)."""
    cols = set(columns)  # type: ignore[arg-type]
    for mode, need in MODE_COLUMNS.items():
        if set(need) <= cols:
            return mode
    require(
        False,
        "signals carry a stake input",
        "pass decide() output (direction, expected_return, return_m2) or a probability",
        columns=sorted(cols),
    )
    raise AssertionError  # pragma: no cover


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
    """``f"{v:.{digits}g}"`` of each value, formatting each distinct rounded value once."""
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.floor(np.log10(np.abs(np.where(v == 0.0, 1.0, v))))
    scale = 10.0 ** (digits - 1 - np.nan_to_num(mag))
    key = np.round(v * scale) / scale
    uniq, inv = np.unique(key, return_inverse=True)
    text = np.array([f"{u:.{digits}g}" for u in uniq], dtype=object)
    return text[inv.reshape(-1)]


def _check_probability(signals: pd.DataFrame, prob: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isnan(prob) & ((prob < 0.0) | (prob > 1.0)))
    if bad.size:
        i = int(bad[0])
        where = (f"row {i} ({signals['asset_a'].iloc[i]} / {signals['asset_b'].iloc[i]} at "
                 f"{signals['entry_time'].iloc[i]})")  # fmt: skip
        require(False, "0 <= probability <= 1",
                f"in {where}; pass calibrated probabilities (NaN marks an unscored signal)",
                probability=float(prob[i]))  # fmt: skip


def per_signal(
    signals: pd.DataFrame,
    sizing: SizingConfig,
    costs: CostConfig,
    label: LabelConfig,
    cap: float,
    continuation: Barriers | None,
) -> SimpleNamespace:
    """Steps 1-4 for every row (vectorised): reasons, sides, ratio, stake, leverages."""
    missing = [c for c in REQUIRED_COLUMNS if c not in signals.columns]
    if sizing.split == "vol_parity":
        missing += [c for c in ("vol_a", "vol_b") if c not in signals.columns]
    require(not missing, "signals has every required column",
            "add them (episode key, z_entry, beta, spread_std, leg prices and vols)",
            missing=missing)  # fmt: skip
    mode = sizing_mode(signals.columns)
    n = len(signals)
    z, beta, std = _col(signals, "z_entry"), _col(signals, "beta"), _col(signals, "spread_std")
    price_a, price_b = _col(signals, "price_a"), _col(signals, "price_b")
    has_vols = "vol_a" in signals.columns and "vol_b" in signals.columns
    vol_a = _col(signals, "vol_a") if has_vols else None
    vol_b = _col(signals, "vol_b") if has_vols else None
    why = Reasons(n)
    if mode == "moments":
        direction = signals["direction"].astype(object).to_numpy()
        bad = ~np.isin(direction, ("revert", "continue", "none"))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            require(False, "direction in {'revert', 'continue', 'none'}", f"in row {i}",
                    direction=direction[i])  # fmt: skip
        follow = direction == "continue"
        key = _col(signals, "expected_return")
        prob = np.full(n, np.nan)
    else:
        prob = _col(signals, "probability")
        _check_probability(signals, prob)
        follow = np.zeros(n, dtype=bool)
        key = prob
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
    if mode == "moments":
        why.add(np.isnan(key), "expected return is missing")
        none = direction == "none"
        if none.any():
            msg = np.full(n, "", dtype=object)
            msg[none] = "no direction clears min_edge (best expected return " + _fmt_g(
                key[none], 4) + ")"
            why.add(none, msg)
    else:
        why.add(np.isnan(prob), "probability is missing")
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

    # 3. stake: leg-A notional wanted
    cost_gross = round_trip_cost(costs)  # per unit of gross notional (venue, fill)
    payoff_ratio = np.zeros(n)
    if mode == "legacy":
        stake = legacy_stakes(zp, std, prob, ratio, why, sizing, costs, rev, cap)
        bet, payoff_ratio, wanted_a = stake
    else:
        if mode == "moments":
            mu, m2 = key, _col(signals, "return_m2")
            why.add(~(mu > sizing.min_edge), "edge below minimum")
            why.add(~positive(m2), "return_m2 is not positive")
            with np.errstate(divide="ignore", invalid="ignore"):
                full = np.where(why.ok, mu / np.where(why.ok, m2, 1.0), 0.0)
        else:
            win = _col(signals, "win_return") - cost_gross
            loss = _col(signals, "loss_return") + cost_gross
            why.add(~positive(win), "no net win after costs")
            why.add(~positive(loss), "loss_return is not positive")
            ok = why.ok
            w, ls = np.where(ok, win, 1.0), np.where(ok, loss, 1.0)
            payoff_ratio = np.where(ok, w / ls, 0.0)
            why.add(~(prob * w - (1.0 - prob) * ls > sizing.min_edge), "edge below minimum")
            full = np.where(why.ok, prob / ls - (1.0 - prob) / w, 0.0)
        bet = np.where(why.ok, sizing.kelly_fraction * np.maximum(full, 0.0), 0.0)
        why.add(~(bet > 0.0), "kelly stake is zero")
        wanted_a = np.where(why.ok, bet * cap / (1.0 + ratio), 0.0)

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
        payoff_ratio=payoff_ratio, take_profit=take_profit, stop=stop, horizon=horizon,
        mmr=mmr, top=top,
    )


