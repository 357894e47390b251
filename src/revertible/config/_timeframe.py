"""Bar sizes and windows written in time units: ``"30d"``, ``"72h"`` or a bare number of bars.

Every window and horizon of the config counts bars (``spread.beta_window: 720`` is 720 bars at any
bar size). Each may instead be written as a duration (``"30d"``, ``"72h"``, ``"90m"``), which is
turned into bars of the run's bar size (``data.resample`` if set, else ``data.timeframe``) when the
config is parsed, so every consumer still sees a whole number of bars. A duration that is not a
whole number of bars, or a window too short in bars for the statistic it feeds, is refused with the
reason.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from pydantic import BaseModel

__all__ = ["duration", "bars_per_day", "resolve_windows", "field_minimums", "check_day_windows",
           "WINDOW_KEYS", "DAY_WINDOWS"]

_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_ALIASES = {"minute": "1m", "hour": "1h", "h": "1h", "d": "1d", "day": "1d", "w": "1w"}
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

#: Windows and horizons counted in bars: ``section -> {key: why it needs its minimum}``.
WINDOW_KEYS: dict[str, dict[str, str]] = {
    "spread": {
        "beta_window": "a rolling OLS hedge ratio needs enough bars for a stable slope",
        "z_window": "a rolling z-score needs enough bars for a meaningful standard deviation",
    },
    "label": {"horizon": "the label needs at least one bar to revert in"},
    "continue": {"horizon": "the time stop needs at least one bar"},
    "features": {
        "trailing_bars": "the AR(1), half-life and ADF fits need this many bars",
        "regime_short_bars": "a volatility needs at least two returns",
        "regime_long_bars": "the long regime volatility needs a day of hourly bars",
        "short_bars": "the short spread window needs enough bars for a slope",
        "z_lags": "a lag is at least one bar",
        "vr_lags": "a variance-ratio horizon is at least one bar",
        "flow_lags": "a leg-move lag is at least one bar",
    },
    "cv": {"embargo_bars": "an embargo is a number of bars"},
    "hedge": {
        "vol_window": "a volatility needs enough bars",
        "horizon": "the liquidation horizon is at least one bar",
        "beta_window": "a rolling hedge beta needs enough bars for a stable slope",
    },
    "baskets": {"shift_bars": "the short correlation needs enough bars"},
}


#: Windows counted in days that feed a statistic: ``(section, key, minimum bars, why)``.
DAY_WINDOWS: tuple[tuple[str, str, int, str], ...] = (
    ("universe", "corr_windows_days", 5, "a return correlation needs at least 5 returns"),
    ("universe", "coint_window_days", 20, "the cointegration regression needs at least 20 bars"),
    ("features", "corr_days", 5, "a return correlation needs at least 5 returns"),
    ("features", "corr_short_days", 5, "a return correlation needs at least 5 returns"),
    ("baskets", "windows_days", 5, "a return correlation needs at least 5 returns"),
    ("baskets", "baseline_days", 5, "the trigger baselines need at least 5 returns"),
    ("baskets", "cov_window_days", 5, "a covariance needs at least 5 returns"),
    ("backtest", "corr_exit_days", 5, "the correlation exit needs at least 5 returns"),
)


def check_day_windows(cfg: Any, bar: pd.Timedelta | None) -> None:
    """Refuse a day-counted window of ``cfg`` spanning fewer bars than its statistic needs.

    Raises
    ------
    ValueError
        Naming the key, its bars at the bar size and the reason.
    """
    if bar is None:
        return
    per_day = pd.Timedelta(days=1) / bar
    for section, key, low, why in DAY_WINDOWS:
        sec = getattr(cfg, section, None)
        value = getattr(sec, key, None) if sec is not None else None
        if value is None or not why:
            continue
        for days in value if isinstance(value, tuple) else (value,):
            bars = days * per_day
            if bars < low:
                raise ValueError(
                    f"{section}.{key}={days} days is {bars:g} bars of {bar_text(bar)}, too "
                    f"short: {why}; lengthen it or use a finer bar size"
                )


def bar_text(bar: pd.Timedelta) -> str:
    """Short text of a bar size: 1h, 15m, 1d, or pandas' form when irregular."""
    secs = bar.total_seconds()
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs > 0 and secs % size == 0:
            return f"{int(secs // size)}{unit}"
    return str(bar)


def duration(text: str) -> pd.Timedelta | None:
    """The length of ``"<n><unit>"`` (unit ``s m h d w``; ``n`` may be decimal), else None.

    Examples
    --------
    >>> duration("72h"), duration("1.5d"), duration("720")
    (Timedelta('3 days 00:00:00'), Timedelta('1 days 12:00:00'), None)
    """
    m = _RE.match(_ALIASES.get(text, text))
    if m is None or float(m.group(1)) == 0.0:
        return None
    return pd.Timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})


def bars_per_day(bar: pd.Timedelta | str) -> float:
    """Bars in one day at bar size ``bar`` (24 at ``"1h"``, 6 at ``"4h"``, 96 at ``"15m"``).

    Examples
    --------
    >>> bars_per_day("4h"), bars_per_day(pd.Timedelta(minutes=15))
    (6.0, 96.0)
    """
    step = duration(bar) if isinstance(bar, str) else bar
    if step is None:
        raise ValueError(f"bar size {bar!r} is not understood; use e.g. 15m, 1h, 4h, 1d")
    return float(pd.Timedelta(days=1) / step)


def field_minimums(models: dict[str, type[BaseModel]]) -> dict[str, dict[str, int]]:
    """The ``ge`` bound of every :data:`WINDOW_KEYS` field of the section ``models``."""
    out: dict[str, dict[str, int]] = {}
    for section, model in models.items():
        for key in WINDOW_KEYS.get(section, {}):
            field = model.model_fields.get(key)
            lows = [m.ge for m in (field.metadata if field else ()) if hasattr(m, "ge")]
            if lows:
                out.setdefault(section, {})[key] = int(lows[0])
    return out


def _bar_of(raw: dict[str, Any]) -> tuple[str, pd.Timedelta | None]:
    data = raw.get("data")
    if not isinstance(data, dict):
        return "1h", pd.Timedelta(hours=1)
    tf = data.get("resample") or data.get("timeframe") or "1h"
    return str(tf), duration(str(tf))


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _to_bars(key: str, value: Any, tf: str, step: pd.Timedelta | None) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.isdigit():
        return int(text)
    span = duration(text)
    if span is None and step is not None and not _number(text):
        raise ValueError(
            f"{key}={value!r} is not a number of bars or a positive duration; write e.g. "
            "48 (bars), 48h or 2d"
        )
    if span is None or step is None:  # the field (or the bar size) refuses it, naming its key
        return value
    bars = span / step
    if abs(bars - round(bars)) > 1e-9:
        raise ValueError(
            f"{key}={value!r} is {bars:g} bars of {tf}, not a whole number; write a multiple "
            f"of {tf}"
        )
    return int(round(bars))


def resolve_windows(raw: Any, minimums: dict[str, dict[str, int]]) -> Any:
    """Turn every duration-valued window of a raw config mapping into bars, and check minimums.

    Parameters
    ----------
    raw : Any
        The mapping handed to the config model (returned untouched if not a dict).
    minimums : dict
        ``section -> {key: minimum bars}`` (from the section models' ``ge`` bounds).

    Returns
    -------
    Any
        A copy of ``raw`` whose :data:`WINDOW_KEYS` hold bar counts.

    Raises
    ------
    ValueError
        A duration that is not understood or not a whole number of bars, or a window shorter
        than its minimum (the message gives the key, its bars at the bar size and the reason).
    """
    if not isinstance(raw, dict):
        return raw
    tf, step = _bar_of(raw)
    out = dict(raw)
    for section, keys in WINDOW_KEYS.items():
        sec = out.get(section)
        if not isinstance(sec, dict):
            continue
        sec = dict(sec)
        for key, why in keys.items():
            if key not in sec or sec[key] is None:
                continue
            name = f"{section}.{key}"
            value = sec[key]
            if isinstance(value, (list, tuple)):
                conv = tuple(_to_bars(f"{name}.{i}", v, tf, step) for i, v in enumerate(value))
                written = [v for v, c in zip(value, conv, strict=True) if isinstance(v, str)]
                vals = conv
            else:
                conv = _to_bars(name, value, tf, step)
                written = [value] if isinstance(value, str) else []
                vals = (conv,)
            low = minimums.get(section, {}).get(key)
            short = [v for v in vals if isinstance(v, int) and low is not None and v < low]
            if short and written:
                raise ValueError(
                    f"{name}={value!r} is {short[0]} bar(s) of {tf}, too short: {why} (at least "
                    f"{low} bars); lengthen it or use a finer bar size"
                )
            if short:
                raise ValueError(
                    f"{name}={short[0]} bars is too short: {why} (at least {low} bars)"
                )
            sec[key] = conv
        out[section] = sec
    return out
