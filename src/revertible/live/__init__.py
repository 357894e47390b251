"""The live loop: download market data, notify, check freshness (issue 21).

Modules: ``_http`` (rate limiter, retries), ``_archive`` (Binance public data archive),
``_rest`` (REST tail through ccxt), ``_files`` (freqtrade layout, atomic writes), ``_download``
(the ``download`` command's logic), ``_notify`` (apprise messages), ``_freshness`` (model age,
stale data); the ``paper`` forward-test ledger is :mod:`revertible.workflows`.
"""

from __future__ import annotations

from ._download import Added, DownloadRequest, download, parse_asset
from ._freshness import StaleError, freshness_check, panel_last_bars
from ._http import DownloadError, RateLimiter
from ._notify import check_notify_urls, notify

__all__ = ["Added", "DownloadRequest", "download", "parse_asset", "DownloadError", "RateLimiter",
           "notify", "check_notify_urls", "freshness_check", "panel_last_bars", "StaleError",
           ]
