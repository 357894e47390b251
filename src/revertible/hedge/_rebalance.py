"""Live drift rebalancing of open two-leg positions (issue 13, item 3).

The source's rule: rebalance on deviation, not on a clock. A position whose legs' notional ratio
``|qty_b * price_b| / |qty_a * price_a|`` drifts more than ``threshold`` (relative, 0.008 = 0.8%)
from its target is traded back to the target ratio. The order rule is
:func:`revertible.decision.rebalance_orders`, the same one the backtest applies (leg A is the
anchor; only leg B trades).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..decision import rebalance_orders
from ..errors import DataError

__all__ = ["read_positions", "plan_rebalance", "POSITION_COLUMNS"]

POSITION_COLUMNS = ("asset_a", "asset_b", "qty_a", "qty_b", "target_ratio")


def _norm(asset: str) -> str:
    name = str(asset).strip().upper()  # a perpetual keeps its settle currency (BTC/USDT:USDT)
    return name if "/" in name else f"{name.split(':')[0]}/USDT"


def read_positions(path: str | Path) -> pd.DataFrame:
    """Read a positions CSV into :data:`POSITION_COLUMNS` (a bare base ``BTC`` is ``BTC/USDT``).

    Columns: ``asset_a`` and ``asset_b`` (or one ``pair`` column ``A~B``, ``A|B`` or ``A-B``),
    ``qty_a``, ``qty_b`` (signed: negative is short) and ``target_ratio`` or ``entry_ratio`` (the
    notional ratio ``|qty_b price_b| / |qty_a price_a|`` to hold, e.g. ``|beta|``). Every broken
    rule is one :class:`DataError` naming the file, the row (counting data rows from 1) and the
    fix.
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, skipinitialspace=True)
    except FileNotFoundError:
        raise DataError(f"positions file {path}: not found; pass an existing CSV") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"positions file {path}: not a readable CSV ({msg})") from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    given = ", ".join(raw.columns)
    if "pair" in raw.columns and not {"asset_a", "asset_b"} <= set(raw.columns):
        parts = raw["pair"].astype(str).str.split(r"\s*[~|]\s*|(?<=[A-Za-z0-9])-(?=[A-Za-z])",
                                                  regex=True)
        bad = np.flatnonzero(parts.str.len() != 2)
        if bad.size:
            raise DataError(
                f"positions file {path}: row {bad[0] + 1} pair {raw['pair'].iloc[bad[0]]!r} is not "
                "two assets; write it as A~B (e.g. BTC/USDT~ETH/USDT)"
            )
        raw["asset_a"], raw["asset_b"] = parts.str[0], parts.str[1]
    if "target_ratio" not in raw.columns and "entry_ratio" in raw.columns:
        raw["target_ratio"] = raw["entry_ratio"]
    missing = [c for c in POSITION_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(
            f"positions file {path}: missing column(s) {', '.join(missing)} (has "
            f"{given}); need pair or asset_a/asset_b, qty_a, qty_b, "
            "target_ratio or entry_ratio"
        )
    if raw.empty:
        raise DataError(f"positions file {path}: no rows; add one row per open position")
    out = pd.DataFrame({"asset_a": raw["asset_a"].map(_norm), "asset_b": raw["asset_b"].map(_norm)})
    same = np.flatnonzero((out["asset_a"] == out["asset_b"]).to_numpy())
    if same.size:
        raise DataError(
            f"positions file {path}: row {same[0] + 1} has {out['asset_a'].iloc[same[0]]} on both "
            "legs; a pair needs two different assets: fix the row"
        )
    for col in ("qty_a", "qty_b", "target_ratio"):
        vals = pd.to_numeric(raw[col], errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~np.isfinite(vals) | ((vals <= 0) if col == "target_ratio"
                                                   else (vals == 0)))
        if bad.size:
            rule = "> 0" if col == "target_ratio" else "a non-zero number (negative: short)"
            raise DataError(
                f"positions file {path}: row {bad[0] + 1} column {col} value "
                f"{raw[col].iloc[bad[0]]!r} must be {rule}; fix the row"
            )
        out[col] = vals
    return out


def plan_rebalance(positions: pd.DataFrame, prices: dict[str, float],
                   threshold: float) -> pd.DataFrame:
    """Orders for each position at ``prices`` (asset -> last price), or ``none``.

    Returns the positions with ``price_a``, ``price_b``, ``ratio`` (current notional ratio),
    ``drift`` (``ratio / target - 1``), ``order_a``, ``order_b`` (signed quantities, 0: none),
    ``cost_notional`` (notional traded) and ``action`` (``rebalance`` or ``none``).
    """
    out = positions.copy()
    out["price_a"] = out["asset_a"].map(prices).astype(float)
    out["price_b"] = out["asset_b"].map(prices).astype(float)
    na = np.abs(out["qty_a"] * out["price_a"])
    nb = np.abs(out["qty_b"] * out["price_b"])
    out["ratio"] = nb / na
    out["drift"] = out["ratio"] / out["target_ratio"] - 1.0
    orders = [rebalance_orders(*row, threshold) for row in zip(
        out["qty_a"], out["qty_b"], out["price_a"], out["price_b"], out["target_ratio"],
        strict=True)]
    da = np.array([o.order_a for o in orders], dtype=float)
    db = np.array([o.order_b for o in orders], dtype=float)
    out["order_a"], out["order_b"] = da, db
    out["cost_notional"] = np.abs(da) * out["price_a"] + np.abs(db) * out["price_b"]
    out["action"] = np.where((da != 0) | (db != 0), "rebalance", "none")
    return out
