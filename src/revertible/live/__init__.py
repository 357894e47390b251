"""The live loop: download market data, notify, check freshness (issue 21).

Modules: ``_http`` (rate limiter, retries), ``_archive`` (Binance public data archive),
``_rest`` (REST tail through ccxt), ``_files`` (freqtrade layout, atomic writes), ``_download``
(the ``download`` command's logic), ``_notify`` (apprise messages), ``_freshness`` (model age,
stale data), ``_paper`` and ``_ledger_db`` (the ``paper`` forward-test ledger).
"""

from __future__ import annotations

from ._download import Added, DownloadRequest, download, parse_asset
from ._freshness import StaleError, freshness_check, panel_last_bars
from ._http import DownloadError, RateLimiter
from ._ledger_db import Ledger, read_ledger
from ._notify import check_notify_urls, notify
from ._paper import (
    ENTRY_COLUMNS,
    PaperReport,
    config_hash,
    decision_config,
    paper_command,
    paper_run,
    paper_summary,
)

__all__ = ["Added", "DownloadRequest", "download", "parse_asset", "DownloadError", "RateLimiter",
           "notify", "check_notify_urls", "freshness_check", "panel_last_bars", "StaleError",
           "paper_run", "paper_command", "paper_summary", "PaperReport",
           "decision_config", "config_hash", "ENTRY_COLUMNS", "read_ledger", "Ledger"]
