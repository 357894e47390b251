"""Shared helpers of the feature families: time columns, column checks, episode location."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..data import Panel

__all__: list[str] = []

_REQUIRED = ("asset_a", "asset_b", "entry_time", "z_entry", "beta", "spread_std")
_HISTORY_REQUIRED = ("asset_a", "asset_b", "entry_time", "label", "exit_time")


def _utc(values) -> pd.DatetimeIndex:
    """A datetime column as a UTC nanosecond index (naive means UTC)."""
    idx = pd.DatetimeIndex(values)
    return (idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")).as_unit("ns")


def _ns(values) -> np.ndarray:
    """Epoch nanoseconds of a datetime column; NaT -> int64 min."""
    return _utc(values).asi8


def _check_columns(df: pd.DataFrame, what: str, cols: tuple[str, ...]) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} is missing column(s) {missing}; pass a table from "
            "revertible.episodes.build_episodes (docs/design.md episode columns)"
        )


def _locate(panel: Panel, episodes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entry bar and the legs' columns of every episode; ValueError naming the first bad row."""
    t = panel.times.as_unit("ns").get_indexer(_utc(episodes["entry_time"]))
    if (t < 0).any():
        k = int(np.argmax(t < 0))
        raise ValueError(
            f"episodes row {k}: entry_time {episodes['entry_time'].iloc[k]} is not a bar of the "
            f"panel ({panel.times[0]} .. {panel.times[-1]}); build episodes and features from the "
            "same panel"
        )
    legs = []
    for col in ("asset_a", "asset_b"):
        idx = asset_columns(panel.assets, episodes[col])
        if (idx < 0).any():
            k = int(np.argmax(idx < 0))
            raise ValueError(
                f"episodes row {k}: {col} {episodes[col].iloc[k]!r} is not an asset of the panel "
                f"({panel.n_assets} assets); build episodes and features from the same panel"
            )
        legs.append(idx)
    return t.astype(np.int64), legs[0], legs[1]


def asset_columns(assets: tuple[str, ...] | list[str], names) -> np.ndarray:
    """Column of each name in ``assets`` (int64; -1 where not an asset): one hash lookup each."""
    return pd.Index(list(assets), dtype=object).get_indexer(
        pd.Index(names, dtype=object)).astype(np.int64)
