"""The recent tail (and other venues' whole history) from the exchange's REST API through ccxt.

Every call goes through the run's :class:`~._http.Retry` (one shared rate limiter, retries with
backoff on ccxt's ``NetworkError``); pages are explicit ``[since, since + page)`` windows, so the
result does not depend on whether a venue fills a window from its start (Binance) or its end
(Bybit). On Binance the raw kline endpoints are used so the order-flow columns (number of trades,
taker-buy volumes) come with the tail as they come with the archive; other venues give the six
standard columns (order flow NaN). No API key is used or needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._archive import funding_frame, klines_frame
from ._http import DownloadError, Retry

__all__ = ["Venue"]

_FUNDING_PAGE = {"binance": 1000, "bybit": 200, "okx": 100}
_KLINE_PAGE = {"binance": 1000, "bybit": 1000, "okx": 100}


def _rewrite(urls: Any, base: str) -> Any:
    """Route every ``https://host/path`` of a ccxt ``urls['api']`` to ``base/host/path``."""
    if isinstance(urls, dict):
        return {k: _rewrite(v, base) for k, v in urls.items()}
    if isinstance(urls, str) and urls.startswith(("https://", "http://")):
        return base.rstrip("/") + "/" + urls.split("://", 1)[1]
    return urls


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


class Venue:
    """One ccxt exchange for public market data.

    Parameters
    ----------
    exchange_id : str
        A ccxt exchange id (``binance``, ``bybit``, ``okx``...).
    markets : set of str
        ``spot`` and/or ``perp``: which market lists to load.
    retry : Retry
        Rate limiter and retry policy shared with the archive.
    api_url : str, optional
        Route every REST call to this base (``base/<original host>/<path>``): a mirror, a
        recording proxy or a test server.

    """

    def __init__(self, exchange_id: str, markets: set[str], retry: Retry,
                 api_url: str | None = None) -> None:
        import ccxt

        if exchange_id not in ccxt.exchanges:
            near = [e for e in ccxt.exchanges if e.startswith(exchange_id[:3])][:5]
            raise DownloadError(
                f"--exchange {exchange_id}: not a ccxt exchange id; use e.g. binance, bybit or "
                f"okx" + (f" (close: {', '.join(near)})" if near else ""))
        self.id = exchange_id
        self.retry = retry
        types = (["spot"] if "spot" in markets else []) + (["linear"] if "perp" in markets else [])
        options: dict[str, Any] = {"fetchMarkets": {"types": types}} if exchange_id in (
            "binance", "bybit") else {}
        self.ex = getattr(ccxt, exchange_id)({"enableRateLimit": False, "options": options,
                                              "timeout": 30_000})
        if api_url:
            self.ex.urls["api"] = _rewrite(self.ex.urls["api"], api_url)
        self._ccxt = ccxt
        self.call("load markets", self.ex.load_markets)

    def call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` under the limiter with retries; a failure is one line."""
        ccxt = self._ccxt

        def transient(exc: BaseException) -> bool:
            return isinstance(exc, (ccxt.NetworkError, ccxt.RateLimitExceeded))

        try:
            return self.retry(what, lambda: fn(*args, **kwargs), transient)
        except ccxt.BadSymbol as exc:
            raise DownloadError(f"{self.id}: {what}: {_one_line(exc)}") from None
        except ccxt.BaseError as exc:
            raise DownloadError(
                f"{self.id}: {what} failed: {_one_line(exc)} (after {self.retry.retries + 1} "
                "attempts); check the network and rerun: what was written so far is kept"
            ) from None

    def symbol(self, base: str, quote: str, market: str) -> str:
        """The unified ccxt symbol: ``BTC/USDT`` (spot) or ``BTC/USDT:USDT`` (perp)."""
        return f"{base}/{quote}" if market == "spot" else f"{base}/{quote}:{quote}"

    def lists(self, symbol: str) -> bool:
        """Whether the venue lists ``symbol`` now."""
        return symbol in self.ex.markets

    def market_id(self, symbol: str) -> str:
        """The venue's own id of a listed symbol (``BTCUSDT``)."""
        return self.ex.markets[symbol]["id"]

    def _pages(self, start_ms: int, end_ms: int, step_ms: int, page: int):
        t = start_ms
        while t < end_ms:
            stop = min(end_ms, t + page * step_ms)
            yield t, stop
            t = stop

    def klines(self, symbol: str, timeframe: str, start: pd.Timestamp, end: pd.Timestamp,
               *, mark: bool = False) -> pd.DataFrame:
        """Bars opening in ``[start, end)``, oldest first."""
        step = int(pd.Timedelta(timeframe).total_seconds() * 1000)
        page = _KLINE_PAGE.get(self.id, 500)
        rows: list[Any] = []
        s_ms, e_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        market = self.ex.markets[symbol]
        for lo, hi in self._pages(s_ms, e_ms, step, page):
            what = f"{'mark ' if mark else ''}klines {symbol} from {pd.Timestamp(lo, unit='ms')}"
            if self.id == "binance":
                fn = (self.ex.fapiPublicGetMarkPriceKlines if mark else
                      self.ex.fapiPublicGetKlines if market.get("linear") else
                      self.ex.publicGetKlines)
                got = self.call(what, fn, {"symbol": market["id"], "interval": timeframe,
                                           "startTime": lo, "endTime": hi - 1, "limit": page})
                got = [[r[0], *r[1:6], r[6], *r[7:11]] for r in got]
            else:
                params = {"until": hi - 1, **({"price": "mark"} if mark else {})}
                got = self.call(what, self.ex.fetch_ohlcv, symbol, timeframe, lo, page, params)
            rows += [r for r in got if lo <= int(r[0]) < hi]
        frame = klines_frame(np.array(rows, dtype=np.float64) if rows else np.empty((0, 11)))
        if mark:
            frame["volume"] = 0.0
        return frame.drop_duplicates("date").sort_values("date", ignore_index=True)

    def funding(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Funding events in ``[start, end)``, pages of the venue's maximum (1,000 on Binance)."""
        page = _FUNDING_PAGE.get(self.id, 100)
        t, e_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
        times: list[int] = []
        rates: list[float] = []
        while t < e_ms:
            # Binance pages forward from the start; other venues may fill a window from its end,
            # so their windows hold at most `page` events (funding is at most hourly)
            hi = e_ms if self.id == "binance" else min(e_ms, t + page * 3_600_000)
            got = self.call(f"funding {symbol} from {pd.Timestamp(t, unit='ms')}",
                            self.ex.fetch_funding_rate_history, symbol, t, page,
                            {"until": hi - 1})
            got = sorted((g for g in got if t <= int(g["timestamp"]) < hi),
                         key=lambda g: int(g["timestamp"]))
            times += [int(g["timestamp"]) for g in got]
            rates += [float(g["fundingRate"]) for g in got]
            if self.id != "binance":
                t = hi
            elif len(got) < page:
                break
            else:
                t = int(got[-1]["timestamp"]) + 1
        frame = funding_frame(np.array(times, dtype=np.int64), np.array(rates))
        return frame.drop_duplicates("date").sort_values("date", ignore_index=True)
