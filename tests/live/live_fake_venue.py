"""A local stand-in for Binance's public archive and REST API, and Bybit's REST API.

Built in memory from the shared data (read in place): the archive's zip layout with ``.CHECKSUM``
files and S3 listings, Binance's ``/api/v3`` and ``/fapi/v1`` kline, mark-kline, funding and
exchangeInfo endpoints, Bybit's ``/v5/market`` instruments, kline and funding endpoints, all in
the venues' own formats. Every request is logged with its arrival time.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import time
import urllib.parse
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

MS = 10**6  # ns per ms


class FakeVenue:
    def __init__(self, shared: Path, *, monthly_before: str | None = None,
                 archive_end: str | None = None, micro_spot: bool = False,
                 corrupt: tuple[str, ...] = (), delisted: tuple[str, ...] = (),
                 delay: float = 0.0, symbols: tuple[str, ...] | None = None,
                 now: str | pd.Timestamp | None = None) -> None:
        self.spot_dir = shared / "binance-spot-1h-2024"
        self.fut_dir = shared / "binance-futures-1h-2024"
        self.monthly_before = monthly_before
        self.archive_end = pd.Timestamp(archive_end, tz="UTC") if archive_end else None
        self.micro_spot, self.corrupt, self.delisted = micro_spot, set(corrupt), set(delisted)
        self.delay = delay
        self.now = now
        self.only = None if symbols is None else {b + "USDT" for b in symbols}
        self.log: list[tuple[float, str]] = []
        self._cache: dict[tuple[str, str], pd.DataFrame] = {}
        venue = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                venue.log.append((time.monotonic(), self.path))
                if venue.delay:
                    time.sleep(venue.delay)
                status, body, ctype = venue.route(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def now(self) -> pd.Timestamp | None:
        """The venue's clock (UTC); None: every bar of the data is known."""
        return self._now

    @now.setter
    def now(self, value: str | pd.Timestamp | None) -> None:
        t = None if value is None else pd.Timestamp(value)
        self._now = t if t is None or t.tzinfo else t.tz_localize("UTC")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # ---------------------------------------------------------------- data
    def _symbols(self, pattern: str, folder: Path) -> list[str]:
        names = (p.name.split("_")[0] + "USDT" for p in folder.glob(pattern))
        return sorted(s for s in names if self.only is None or s in self.only)

    def spot_symbols(self) -> list[str]:
        return self._symbols("*_USDT-1h.feather", self.spot_dir)

    def perp_symbols(self) -> list[str]:
        return self._symbols("*_USDT_USDT-1h-futures.feather", self.fut_dir)

    def frame(self, market: str, kind: str, symbol: str) -> pd.DataFrame | None:
        key = (market, kind, symbol)
        if key not in self._cache:
            base = symbol[:-4]
            path = {("spot", "klines"): self.spot_dir / f"{base}_USDT-1h.feather",
                    ("perp", "klines"): self.fut_dir / f"{base}_USDT_USDT-1h-futures.feather",
                    ("perp", "mark"): self.fut_dir / f"{base}_USDT_USDT-8h-mark.feather",
                    ("perp", "funding"): self.fut_dir / f"{base}_USDT_USDT-8h-funding_rate.feather",
                    }[(market, kind)]
            self._cache[key] = pd.read_feather(path) if path.exists() else None
        return self._cache[key]

    @staticmethod
    def flow(df: pd.DataFrame) -> dict[str, np.ndarray]:
        v, c = df["volume"].to_numpy(), df["close"].to_numpy()
        return {"qv": v * c, "n": np.floor(v * 10), "tb": v * 0.4, "tbq": v * 0.4 * c}

    def kline_rows(self, df: pd.DataFrame, step_ms: int, micro: bool = False) -> list[list]:
        t = df["date"].astype("int64").to_numpy() // MS
        f = self.flow(df)
        unit = 1000 if micro else 1
        return [[int(t[i]) * unit, *(repr(float(df[c].iat[i])) for c in
                                     ("open", "high", "low", "close", "volume")),
                 (int(t[i]) + step_ms - 1) * unit, repr(float(f["qv"][i])), int(f["n"][i]),
                 repr(float(f["tb"][i])), repr(float(f["tbq"][i])), "0"] for i in range(len(df))]

    # ---------------------------------------------------------------- archive
    def zip_for(self, path: str) -> bytes | None:
        parts = path.strip("/").split("/")
        market = "spot" if parts[1] == "spot" else "perp"
        rest = parts[2:] if market == "spot" else parts[3:]
        freq, kind, symbol = rest[0], rest[1], rest[2]
        name = rest[-1][: -len(".zip")]
        period = name.rsplit("-", 2 if freq == "monthly" else 3)[1:]
        period = "-".join(period)
        start = pd.Timestamp(period + ("-01" if freq == "monthly" else ""), tz="UTC")
        stop = start + (pd.offsets.MonthBegin(1) if freq == "monthly" else pd.Timedelta("1D"))
        if freq == "monthly" and self.monthly_before and period >= self.monthly_before:
            return None
        if self.archive_end is not None and stop > self.archive_end:
            return None
        if self.now is not None and stop > self.now:  # not published before its period ends
            return None
        k = {"klines": "klines", "markPriceKlines": "mark", "fundingRate": "funding"}[kind]
        df = self.frame(market, k, symbol) if k != "mark" or market == "perp" else None
        if df is None:
            return None
        df = df[(df["date"] >= start) & (df["date"] < stop)]
        if not len(df):
            return None
        if k == "funding":
            t = df["date"].astype("int64").to_numpy() // MS
            lines = ["calc_time,funding_interval_hours,last_funding_rate"] + [
                f"{int(t[i])},8,{float(df['open'].iat[i])!r}" for i in range(len(df))]
        else:
            step = 8 * 3600_000 if k == "mark" else 3600_000
            rows = self.kline_rows(df, step, micro=self.micro_spot and market == "spot")
            lines = [",".join(str(x) for x in r) for r in rows]
            if market == "perp":
                lines.insert(0, "open_time,open,high,low,close,volume,close_time,quote_volume,"
                                "count,taker_buy_volume,taker_buy_quote_volume,ignore")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            info = zipfile.ZipInfo(name + ".csv", date_time=(2024, 1, 1, 0, 0, 0))
            zf.writestr(info, "\n".join(lines) + "\n", compress_type=zipfile.ZIP_DEFLATED)
        return buf.getvalue()

    def listing(self, query: dict[str, str]) -> bytes:
        prefix, marker = query.get("prefix", ""), query.get("marker", "")
        parts = prefix.strip("/").split("/")
        market = "spot" if "spot" in parts else "perp"
        symbols = self.spot_symbols() if market == "spot" else self.perp_symbols()
        depth = 4 if market == "spot" else 5
        if len(parts) == depth:  # data/spot/monthly/klines/ -> symbols, paged 5 at a time
            names = [s for s in symbols if prefix + s + "/" > marker]
            page, more = names[:5], len(names) > 5
        else:  # data/spot/monthly/klines/BTCUSDT/ -> its intervals
            page, more = (["1h"] if parts[-1] in symbols else []), False
        items = "".join(f"<CommonPrefixes><Prefix>{prefix}{p}/</Prefix></CommonPrefixes>"
                        for p in page)
        nxt = f"<NextMarker>{prefix}{page[-1]}/</NextMarker>" if more else ""
        return (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns='
                f'"http://s3.amazonaws.com/doc/2006-03-01/"><Name>data.binance.vision</Name>'
                f"<Prefix>{prefix}</Prefix><Marker>{marker}</Marker><MaxKeys>1000</MaxKeys>"
                f"<Delimiter>/</Delimiter><IsTruncated>{str(more).lower()}</IsTruncated>{nxt}"
                f"{items}</ListBucketResult>").encode()

    # ---------------------------------------------------------------- REST
    def binance_info(self, market: str) -> dict:
        symbols = self.spot_symbols() if market == "spot" else self.perp_symbols()
        out = []
        for s in symbols:
            if s[:-4] in self.delisted:
                continue
            item = {"symbol": s, "status": "TRADING", "baseAsset": s[:-4], "quoteAsset": "USDT",
                    "baseAssetPrecision": 8, "quotePrecision": 8, "quoteAssetPrecision": 8,
                    "orderTypes": ["LIMIT", "MARKET"], "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False, "permissions": ["SPOT"],
                    "filters": [{"filterType": "PRICE_FILTER", "minPrice": "0.00000001",
                                 "maxPrice": "1000000", "tickSize": "0.00000001"},
                                {"filterType": "LOT_SIZE", "minQty": "0.00000001",
                                 "maxQty": "9000000000", "stepSize": "0.00000001"}]}
            if market == "perp":
                item.update({"contractType": "PERPETUAL", "marginAsset": "USDT",
                             "pricePrecision": 8, "quantityPrecision": 3,
                             "deliveryDate": 4133404800000, "onboardDate": 1569398400000,
                             "underlyingType": "COIN"})
                item.pop("status")
                item["status"] = "TRADING"
            out.append(item)
        return {"timezone": "UTC", "serverTime": 1725000000000, "rateLimits": [],
                "symbols": out}

    def window(self, df, start_ms: int, end_ms: int, limit: int, newest: bool = False,
               step_ms: int = 0):
        """Rows opening in ``[start_ms, end_ms]`` known at ``now`` (a forming bar: partial)."""
        t = df["date"].astype("int64").to_numpy() // MS
        known = np.ones(len(t), bool) if self.now is None else (
            t <= self.now.value // MS - (1 if step_ms else 0))
        sel = df[(t >= start_ms) & (t <= end_ms) & known]
        sel = sel.iloc[-limit:] if newest else sel.iloc[:limit]
        if self.now is not None and step_ms and len(sel):
            last = sel["date"].iat[-1].value // MS
            if last + step_ms > self.now.value // MS:  # still forming
                sel = sel.copy()
                sel.iloc[-1, sel.columns.get_loc("close")] = sel["open"].iat[-1]
                sel.iloc[-1, sel.columns.get_loc("volume")] = sel["volume"].iat[-1] / 2
        return sel

    def route(self, raw: str) -> tuple[int, bytes, str]:
        parsed = urllib.parse.urlparse(raw)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        path = parsed.path
        if path == "/" and "prefix" in q:
            return 200, self.listing(q), "application/xml"
        if path.startswith("/data/"):
            want_sum = path.endswith(".CHECKSUM")
            blob = self.zip_for(path[: -len(".CHECKSUM")] if want_sum else path)
            if blob is None:
                return 404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml"
            if not want_sum:
                return 200, blob, "application/zip"
            name = path.rsplit("/", 1)[-1][: -len(".CHECKSUM")]
            digest = hashlib.sha256(blob + (b"x" if name in self.corrupt else b"")).hexdigest()
            return 200, f"{digest}  {name}\n".encode(), "text/plain"
        host, _, rest = path.strip("/").partition("/")
        try:
            body = self.rest(host, "/" + rest, q)
        except KeyError:
            return 400, json.dumps({"code": -1121, "msg": "Invalid symbol."}).encode(), \
                "application/json"
        if body is None:
            return 404, b"{}", "application/json"
        return 200, json.dumps(body).encode(), "application/json"

    def rest(self, host: str, path: str, q: dict[str, str]):
        if host == "api.binance.com" and path == "/api/v3/exchangeInfo":
            return self.binance_info("spot")
        if host == "fapi.binance.com" and path == "/fapi/v1/exchangeInfo":
            return self.binance_info("perp")
        if host in ("api.binance.com", "fapi.binance.com") and path.endswith(
                ("/klines", "/markPriceKlines")):
            market = "spot" if host.startswith("api") else "perp"
            kind = "mark" if path.endswith("markPriceKlines") else "klines"
            df = self.frame(market, kind, q["symbol"])
            if df is None or q["symbol"][:-4] in self.delisted:
                raise KeyError(q["symbol"])
            step = 8 * 3600_000 if kind == "mark" else 3600_000
            sel = self.window(df, int(q["startTime"]), int(q.get("endTime", 2**62)),
                              int(q.get("limit", 500)), step_ms=step)
            return self.kline_rows(sel, step)
        if host == "fapi.binance.com" and path == "/fapi/v1/fundingRate":
            df = self.frame("perp", "funding", q["symbol"])
            if df is None:
                raise KeyError(q["symbol"])
            sel = self.window(df, int(q["startTime"]), int(q.get("endTime", 2**62)),
                              int(q.get("limit", 100)))
            t = sel["date"].astype("int64").to_numpy() // MS
            return [{"symbol": q["symbol"], "fundingTime": int(t[i]),
                     "fundingRate": repr(float(sel["open"].iat[i])), "markPrice": "1.0"}
                    for i in range(len(sel))]
        if host == "api.bybit.com":
            return self.bybit(path, q)
        return None

    def bybit(self, path: str, q: dict[str, str]):
        ok = {"retCode": 0, "retMsg": "OK", "retExtInfo": {}, "time": 1725000000000}
        if path == "/v5/market/instruments-info":
            cat = q["category"]
            if cat not in ("spot", "linear"):
                return {**ok, "result": {"category": cat, "list": [], "nextPageCursor": ""}}
            symbols = self.spot_symbols() if cat == "spot" else self.perp_symbols()
            items = []
            for s in symbols:
                it = {"symbol": s, "baseCoin": s[:-4], "quoteCoin": "USDT", "status": "Trading",
                      "innovation": "0", "marginTrading": "none",
                      "lotSizeFilter": {"basePrecision": "0.000001", "quotePrecision": "0.01",
                                        "minOrderQty": "0.000001", "maxOrderQty": "1000000"},
                      "priceFilter": {"tickSize": "0.00000001"}}
                if cat == "linear":
                    it.update({"contractType": "LinearPerpetual", "settleCoin": "USDT",
                               "launchTime": "1585526400000", "deliveryTime": "0",
                               "fundingInterval": 480,
                               "leverageFilter": {"minLeverage": "1", "maxLeverage": "100",
                                                  "leverageStep": "0.01"},
                               "lotSizeFilter": {"qtyStep": "0.001", "minOrderQty": "0.001",
                                                 "maxOrderQty": "100"}})
                items.append(it)
            return {**ok, "result": {"category": cat, "list": items, "nextPageCursor": ""}}
        if path in ("/v5/market/kline", "/v5/market/mark-price-kline"):
            market = "spot" if q["category"] == "spot" else "perp"
            kind = "mark" if "mark-price" in path else "klines"
            df = self.frame(market, kind, q["symbol"])
            if df is None:
                return {"retCode": 10001, "retMsg": "Not supported symbols", "result": {}}
            sel = self.window(df, int(q["start"]), int(q.get("end", 2**62)),
                              int(q.get("limit", 200)), newest=True,
                              step_ms=8 * 3600_000 if kind == "mark" else 3600_000)
            rows = self.kline_rows(sel, 3600_000)
            rows = [[str(r[0]), *r[1:6], r[7]] for r in rows][::-1]  # newest first
            return {**ok, "result": {"category": q["category"], "symbol": q["symbol"],
                                     "list": rows}}
        if path == "/v5/market/funding/history":
            df = self.frame("perp", "funding", q["symbol"])
            sel = self.window(df, int(q.get("startTime", 0)), int(q.get("endTime", 2**62)),
                              int(q.get("limit", 200)), newest=True)
            t = sel["date"].astype("int64").to_numpy() // MS
            rows = [{"symbol": q["symbol"], "fundingRate": repr(float(sel["open"].iat[i])),
                     "fundingRateTimestamp": str(int(t[i]))} for i in range(len(sel))][::-1]
            return {**ok, "result": {"category": "linear", "list": rows}}
        return None
