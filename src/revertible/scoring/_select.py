"""Which divergences to score: open at the last bar (live) or entered in a range (historical)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..config import Config
from ..errors import RevertibleError

__all__ = ["select_open", "select_range"]


def select_open(
    episodes: pd.DataFrame, as_of: pd.Timestamp, horizon: int, bar: pd.Timedelta
) -> pd.DataFrame:
    """Divergences open as of bar ``as_of``: entered within the horizon, no barrier touched yet.

    An episode entered at ``t`` is open at ``as_of`` when its label window ``t + 1 .. t +
    horizon`` is not complete (``t > as_of - horizon * bar``, ``t <= as_of``) and its label is
    null (no barrier touched by the last bar of the pair's data).

    Examples
    --------
    >>> eps = pd.DataFrame({
    ...     "entry_time": pd.to_datetime(["2024-01-01 00:00", "2024-01-02 20:00",
    ...                                   "2024-01-02 21:00"], utc=True),
    ...     "label": pd.array([pd.NA, pd.NA, 1.0], dtype="Float64")})
    >>> as_of = pd.Timestamp("2024-01-03 00:00", tz="UTC")  # the first entry is 48 bars old
    >>> select_open(eps, as_of, 48, pd.Timedelta("1h")).index.tolist()
    [1]
    """
    entry = episodes["entry_time"]
    start = as_of - horizon * bar
    keep = (entry > start) & (entry <= as_of) & episodes["label"].isna().to_numpy()
    return episodes[keep.to_numpy()]


def select_range(
    episodes: pd.DataFrame, since: pd.Timestamp | None, until: pd.Timestamp | None
) -> pd.DataFrame:
    """Divergences whose entry lies in ``[since, until]`` (inclusive; None: unbounded)."""
    keep = np.ones(len(episodes), dtype=bool)
    entry = episodes["entry_time"]
    if since is not None:
        keep &= (entry >= since).to_numpy()
    if until is not None:
        keep &= (entry <= until).to_numpy()
    return episodes[keep]


def as_utc(value: str | pd.Timestamp | None, flag: str) -> pd.Timestamp | None:
    """Parse a time flag as UTC (naive means UTC); one-line error naming the flag."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise RevertibleError(
            f"{flag} {value!r} is not a time; use an ISO time such as 2024-06-01T12:00 (UTC)"
        ) from None
    if ts is pd.NaT:
        raise RevertibleError(f"{flag} {value!r} is not a time; use e.g. 2024-06-01T12:00 (UTC)")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def check_request(
    cfg: Config,
    since: str | pd.Timestamp | None,
    until: str | pd.Timestamp | None,
    capital: float | None,
) -> tuple[pd.Timestamp | None, pd.Timestamp | None, float]:
    """Check and return ``(since, until, capital)``; one-line :class:`RevertibleError` if bad."""
    t_since, t_until = as_utc(since, "--since"), as_utc(until, "--until")
    if t_since is not None and t_until is not None and t_since > t_until:
        raise RevertibleError(
            f"`since <= until` must hold, but got (since={t_since}, until={t_until}); swap them"
        )
    cap = cfg.sizing.capital if capital is None else float(capital)
    if not (math.isfinite(cap) and cap > 0.0):
        raise RevertibleError(
            f"`capital > 0` must hold, but got capital={cap!r}; pass the account equity in "
            "quote currency (--capital or sizing.capital)"
        )
    return t_since, t_until, cap


def select_rows(
    history: pd.DataFrame,
    as_of: pd.Timestamp,
    cfg: Config,
    bar: pd.Timedelta,
    since: pd.Timestamp | None,
    until: pd.Timestamp | None,
) -> pd.DataFrame:
    """The episodes to score: open as of ``as_of`` (live) or entered in range (historical)."""
    if since is None and until is None:
        return select_open(history, as_of, cfg.label.horizon, bar)
    return select_range(history, since, until)
