"""Model age and data freshness: warn, or refuse, before scoring or paper-trading stale inputs.

Three checks, each against ``scoring`` config keys:

* the **model**: the data it was trained on (``meta["data_until"]``, the training run's last
  bar, its holdout included; ``trained_until`` for a model trained before that was stored) ends
  more than ``max_model_age_days`` before the last bar: retraining resets it;
* the **data**: its last bar is more than ``max_stale_bars`` bars before the last closed bar at
  ``now`` (the download did not run, or failed);
* each **leg**: an asset whose last price is more than ``max_stale_bars`` bars before the data's
  last bar (halted, delisted, or a file that was not refreshed).

``on_stale: warn`` logs one warning line per finding and goes on; ``refuse`` raises
:class:`StaleError` (one line, exit 2) naming the first finding and the fix.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import RevertibleError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..config import ScoringConfig

__all__ = ["StaleError", "freshness_check", "panel_last_bars"]

_log = logging.getLogger("revertible.freshness")
_HOUR = pd.Timedelta("1h")


class StaleError(RevertibleError):
    """The model is too old or the data is stale, and ``scoring.on_stale`` is ``refuse``."""


def panel_last_bars(panel: Any) -> pd.Series:
    """Each asset's last bar with a price (``asset -> UTC time``) of a loaded panel."""
    close = np.asarray(panel.close)
    ok = np.isfinite(close)
    idx = np.where(ok.any(axis=0), len(close) - 1 - np.argmax(ok[::-1], axis=0), -1)
    times = pd.DatetimeIndex(panel.times)
    return pd.Series([times[i] if i >= 0 else pd.NaT for i in idx], index=list(panel.assets))


def freshness_check(
    scoring: ScoringConfig,
    *,
    last_bar: pd.Timestamp,
    model_meta: Mapping[str, Any] | None = None,
    asset_last_bars: Mapping[str, pd.Timestamp] | pd.Series | None = None,
    step: pd.Timedelta = _HOUR,
    now: pd.Timestamp | None = None,
    notify_urls: Sequence[str] | None = None,
) -> list[str]:
    """Check model age and data freshness; warn or refuse per ``scoring.on_stale``.

    Parameters
    ----------
    scoring : ScoringConfig
        ``max_model_age_days``, ``max_stale_bars``, ``on_stale``.
    last_bar : pandas.Timestamp
        The data's last bar (open time, UTC).
    model_meta : mapping, optional
        The model's ``meta`` (``data_until``, else ``trained_until``); no model check without it.
    asset_last_bars : mapping or Series, optional
        Each asset's last bar with a price (:func:`panel_last_bars`); no leg check without it.
    step : pandas.Timedelta
        The bar size.
    now : pandas.Timestamp, optional
        Wall-clock time (UTC); no data-age check without it (historical runs).
    notify_urls : sequence of str, optional
        ``--notify`` targets: the findings are sent there too.

    Returns
    -------
    list of str
        The findings (empty: fresh), each one line.

    Raises
    ------
    StaleError
        With ``on_stale: refuse`` and at least one finding.

    """
    found: list[str] = []
    last_bar = pd.Timestamp(last_bar)
    # not trained_until (its fitted rows' last entry): the holdout after it is weeks long, so a
    # model trained today was "older than 30 days" and retraining did not change that
    meta = model_meta or {}
    trained = meta.get("data_until") or meta.get("trained_until")
    if scoring.max_model_age_days is not None and trained not in (None, "", "NaT"):
        end = pd.Timestamp(trained)
        end = end.tz_localize("UTC") if end.tzinfo is None else end
        age = (last_bar - end) / pd.Timedelta(days=1)
        if age > scoring.max_model_age_days:
            found.append(f"the model's training data ends {end:%Y-%m-%d %H:%M} UTC"
                         f"{' (its holdout included)' if meta.get('data_until') else ''}, "
                         f"{age:.1f} days before the last bar {last_bar:%Y-%m-%d %H:%M} "
                         f"(scoring.max_model_age_days={scoring.max_model_age_days:g}); retrain "
                         "(revertible train CONFIG --promote)")
    limit = scoring.max_stale_bars * step
    if now is not None:
        closed = pd.Timestamp(now).floor(step) - step
        if closed - last_bar > limit:
            hours = (closed - last_bar) / pd.Timedelta(hours=1)
            found.append(f"the data ends {last_bar:%Y-%m-%d %H:%M} UTC, {hours:g} h before the "
                         f"last closed bar {closed:%Y-%m-%d %H:%M} (scoring.max_stale_bars="
                         f"{scoring.max_stale_bars}); run revertible download CONFIG first")
    if asset_last_bars is not None:
        bars = pd.Series(asset_last_bars, dtype="datetime64[ns, UTC]")
        stale = bars[bars.isna() | (bars < last_bar - limit)].sort_values()
        if len(stale):
            shown = ", ".join(f"{a} ({t:%Y-%m-%d %H:%M})" if pd.notna(t) else f"{a} (no price)"
                              for a, t in stale.head(3).items())
            found.append(f"{len(stale)} asset(s) have no price in the last "
                         f"{scoring.max_stale_bars} bars before {last_bar:%Y-%m-%d %H:%M} UTC: "
                         f"{shown}{', ...' if len(stale) > 3 else ''}; refresh their files "
                         "(revertible download) or drop them from data.assets")
    if not found:
        return found
    if notify_urls:
        from ._notify import notify

        notify(notify_urls, "\n".join(found), title="revertible: stale model or data",
               level="failure" if scoring.on_stale == "refuse" else "warning")
    if scoring.on_stale == "refuse":
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise StaleError(f"{found[0]}{more}; scoring.on_stale=refuse (set it to warn to go on)")
    for line in found:
        _log.warning(line)
    return found
