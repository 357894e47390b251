"""``revertible download`` against a local stand-in of the Binance archive and REST API (and Bybit).

No internet: ``live_fake_venue.FakeVenue`` serves the shared data in the venues' formats on
127.0.0.1; ccxt is pointed at it with ``--api-url`` and the archive with ``--archive-url``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from revertible.cli import app
from revertible.config import load_config
from revertible.data import load_panel, read_bars
from revertible.live import DownloadError, DownloadRequest, RateLimiter, download

from .live_fake_venue import FakeVenue

pytestmark = pytest.mark.realdata
SIX = ["date", "open", "high", "low", "close", "volume"]
SINCE, UNTIL = "2024-01-01", "2024-03-12"  # the library's ``until``: bars opening before it
# the CLI's --until: a date alone includes that whole day (as in every command), so the
# same bars as ``until=UNTIL`` are asked for with the day before
LAST_DAY = "2024-03-11"
REPO = Path(__file__).resolve().parents[2]


def _cfg(tmp: Path, venue: str = "spot") -> Path:
    spot, perp = tmp / "spot", tmp / "perp"
    path = tmp / "cfg.yaml"
    main = spot if venue == "spot" else perp
    path.write_text(f"name: live\ndata:\n  path: {main}\n  funding_path: {perp}\n"
                    f"costs:\n  venue: {venue}\n")
    return path


def _run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_line_error(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    text = lines[-1]  # summary lines of files finished before may come first
    assert text.startswith("error:") and "Traceback" not in result.output, result.output
    assert sum(ln.startswith("error:") for ln in lines) == 1
    for w in words:
        assert w in text, text


def _expected(shared: Path, name: str, since: str = SINCE, until: str = UNTIL) -> pd.DataFrame:
    folder = "binance-spot-1h-2024" if name.count("_") == 1 else "binance-futures-1h-2024"
    df = pd.read_feather(shared / folder / name)
    df = df[(df["date"] >= pd.Timestamp(since, tz="UTC")) & (df["date"] < pd.Timestamp(until,
                                                                                         tz="UTC"))]
    return df.reset_index(drop=True)


def _six(path: Path) -> pd.DataFrame:
    df = pd.read_feather(path)
    assert list(df.columns[:6]) == SIX
    df["date"] = df["date"].dt.as_unit("ns")
    return df[SIX]


def _req(venue: FakeVenue, out: Path, **kw) -> DownloadRequest:
    base = dict(dirs={"spot": out, "perp": out}, markets=("spot", "perp"), assets=("BTC", "ETH"),
                since=pd.Timestamp(SINCE, tz="UTC"), until=pd.Timestamp(UNTIL, tz="UTC"),
                funding=True, archive_url=venue.url, api_url=venue.url, rate=500, retries=0)
    base.update(kw)
    return DownloadRequest(**base)


FILES = ["BTC_USDT-1h.feather", "ETH_USDT-1h.feather", "BTC_USDT_USDT-1h-futures.feather",
         "ETH_USDT_USDT-1h-futures.feather", "BTC_USDT_USDT-8h-funding_rate.feather",
         "ETH_USDT_USDT-8h-funding_rate.feather", "BTC_USDT_USDT-8h-mark.feather"]


def test_cli_download_equals_shared_data(shared_data, tmp_path):
    # monthly zips for Jan and Feb, daily zips from Mar 1 to Mar 5, REST after; spot archive
    # timestamps in microseconds (as Binance's from 2025)
    with FakeVenue(shared_data, monthly_before="2024-03", archive_end="2024-03-06",
                   micro_spot=True) as v:
        cfg = _cfg(tmp_path)
        res = _run("download", cfg, "--market", "both", "--assets", "BTC,ETH", "--funding",
                   "--since", SINCE, "--until", LAST_DAY, "--archive-url", v.url, "--api-url",
                   v.url, "--rate", 500, "--json")
        assert res.exit_code == 0, res.output
        paths = [r[1] for r in v.log]
    assert any("/daily/klines/" in p for p in paths) and any("/monthly/" in p for p in paths)
    assert any("/api/v3/klines" in p for p in paths) and any("fundingRate?" in p for p in paths)
    for name in FILES:
        folder = tmp_path / ("spot" if name.count("_") == 1 else "perp")
        got, want = _six(folder / name), _expected(shared_data, name)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert "BTC/USDT spot: +1704 rows" in res.output
    # order-flow columns kept after the six; the reader keeps quote_volume, drops the others
    spot = pd.read_feather(tmp_path / "spot" / "BTC_USDT-1h.feather")
    assert list(spot.columns[6:]) == ["quote_volume", "trades", "taker_buy_volume",
                                      "taker_buy_quote_volume"]
    assert spot[["trades", "taker_buy_volume"]].notna().all().all()
    bars = read_bars(tmp_path / "spot" / "BTC_USDT-1h.feather")
    assert (bars["quote_volume"].to_numpy() == spot["quote_volume"].to_numpy()).all()
    assert "trades" not in bars.columns
    # the config that was filled loads as it is: spot prices with the perpetuals' funding
    panel = load_panel(load_config(cfg, []).data)
    assert list(panel.assets) == ["BTC/USDT", "ETH/USDT"] and panel.funding is not None
    assert (panel.funding[np.isfinite(panel.funding)] != 0).any()


def test_one_go_equals_incremental(shared_data, tmp_path):
    with FakeVenue(shared_data, monthly_before="2024-03", archive_end="2024-03-06") as v:
        download(_req(v, tmp_path / "one"), log=lambda s: None)
        inc = tmp_path / "inc"
        # a later start first, then an earlier --since (backfill) and two updates
        download(_req(v, inc, since=pd.Timestamp("2024-01-20", tz="UTC"),
                      until=pd.Timestamp("2024-02-10 07:00", tz="UTC")), log=lambda s: None)
        download(_req(v, inc, until=pd.Timestamp("2024-03-03 13:00", tz="UTC")),
                 log=lambda s: None)
        lines: list[str] = []
        download(_req(v, inc, since=None), log=lines.append)
    for name in FILES:
        a, b = pd.read_feather(tmp_path / "one" / name), pd.read_feather(inc / name)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert any("BTC/USDT spot: +" in ln and "before" in ln for ln in lines)


def test_bybit_rest_only(shared_data, tmp_path):
    with FakeVenue(shared_data) as v:
        download(_req(v, tmp_path, exchange="bybit", until=pd.Timestamp("2024-02-20", tz="UTC")),
                 log=lambda s: None)
        assert not any(p.startswith("/data/") for _, p in v.log)  # no Binance archive
    for name in FILES:
        got = _six(tmp_path / name)
        pd.testing.assert_frame_equal(got, _expected(shared_data, name, until="2024-02-20"),
                                      check_exact=True)
    assert pd.read_feather(tmp_path / "BTC_USDT-1h.feather")["trades"].isna().all()


def test_checksum_mismatch_keeps_finished_files(shared_data, tmp_path):
    with FakeVenue(shared_data, corrupt=("ETHUSDT-1h-2024-02.zip",)) as v:
        cfg = _cfg(tmp_path)
        res = _run("download", cfg, "--assets", "BTC,ETH", "--since", SINCE, "--until", LAST_DAY,
                   "--archive-url", v.url, "--api-url", v.url, "--rate", 500, "--retries", 0)
    _one_line_error(res, "checksum mismatch", "ETHUSDT-1h-2024-02.zip")
    name = "BTC_USDT-1h.feather"
    pd.testing.assert_frame_equal(_six(tmp_path / "spot" / name), _expected(shared_data, name))
    assert not (tmp_path / "spot" / "ETH_USDT-1h.feather").exists()
    assert not list((tmp_path / "spot").glob(".*.part"))


def test_unreachable_server_keeps_files(shared_data, tmp_path):
    with FakeVenue(shared_data) as v:
        cfg = _cfg(tmp_path)
        res = _run("download", cfg, "--assets", "BTC", "--since", SINCE, "--until", "2024-02-01",
                   "--archive-url", v.url, "--api-url", v.url, "--rate", 500)
        assert res.exit_code == 0, res.output
        dead = v.url
    before = (tmp_path / "spot" / "BTC_USDT-1h.feather").read_bytes()
    res = _run("download", cfg, "--until", LAST_DAY, "--archive-url", dead, "--api-url", dead,
               "--retries", 1)
    _one_line_error(res, "after 2 attempts")
    assert (tmp_path / "spot" / "BTC_USDT-1h.feather").read_bytes() == before


def _most_in_a_second(times: list[float]) -> int:
    return max(sum(t <= u < t + 1.0 for u in times) for t in times)


def test_rate_limiter_holds(shared_data, tmp_path, monkeypatch):
    released: list[float] = []  # the instants the limiter let a request start
    wait = RateLimiter.wait

    def spy(limiter: RateLimiter) -> float:
        released.append(wait(limiter))
        return released[-1]

    monkeypatch.setattr(RateLimiter, "wait", spy)
    with FakeVenue(shared_data, monthly_before="2024-03") as v:
        download(_req(v, tmp_path, markets=("spot",), assets=("BTC",), funding=False,
                      until=pd.Timestamp("2024-03-05", tz="UTC"), rate=10), log=lambda s: None)
        times = [t for t, _ in v.log]  # arrivals, by the server's clock (the same monotonic one)
    # exchangeInfo, 2 monthly zips + checksums, 4 daily zips + checksums: more than a
    # second's worth, so an unthrottled run would put them all in one second
    assert len(times) >= 12
    # the limiter: no burst, starts 1/10 s apart at least, so at most 10 in any second
    assert all(b - a >= 0.1 - 1e-9 for a, b in pairwise(released))
    assert _most_in_a_second(released) <= 10
    assert released[-1] - released[0] >= (len(released) - 1) / 10 - 1e-9
    # every request the server saw was let through by the limiter, one at a time: the k-th
    # arrives after the k-th start and before the next start (exact, whatever the load)
    assert len(times) == len(released)
    bounds = [*released[1:], float("inf")]
    assert all(r <= t <= nxt for r, t, nxt in zip(released, times, bounds, strict=True))
    # hence by the server's clock: arrivals k and k+j are at least (j-1)/10 s apart, so at
    # most 10 a second plus one whose transit was slower than the next one's (no more)
    assert _most_in_a_second(times) <= 11
    assert times[-1] - times[0] >= (len(times) - 2) / 10


def test_kill_mid_download_leaves_no_partial_file_and_resumes(shared_data, tmp_path):
    with FakeVenue(shared_data, delay=0.05) as v:
        cfg = _cfg(tmp_path)
        args = [sys.executable, "-m", "revertible", "download", str(cfg), "--assets",
                "BTC,ETH,SOL,XRP", "--since", SINCE, "--until", LAST_DAY, "--archive-url", v.url,
                "--api-url", v.url, "--rate", 1000]
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        proc = subprocess.Popen([str(a) for a in args], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not list((tmp_path / "spot").glob("*.feather")) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        files = list((tmp_path / "spot").glob("*.feather"))
        assert 1 <= len(files) < 4  # killed part way
        for path in files:  # every visible file is whole: readable, a prefix of the full range
            got = _six(path)
            want = _expected(shared_data, path.name)
            pd.testing.assert_frame_equal(got, want.iloc[: len(got)].reset_index(drop=True))
        res = _run("download", cfg, "--assets", "BTC,ETH,SOL,XRP", "--until", LAST_DAY,
                   "--since", SINCE, "--archive-url", v.url, "--api-url", v.url,
                   "--rate", 1000)
        assert res.exit_code == 0, res.output
    for base in ("BTC", "ETH", "SOL", "XRP"):
        name = f"{base}_USDT-1h.feather"
        pd.testing.assert_frame_equal(_six(tmp_path / "spot" / name),
                                      _expected(shared_data, name))
    assert not list((tmp_path / "spot").glob(".*"))


@pytest.mark.parametrize(("args", "words"), [
    (["--exchange", "nosuchvenue", "--assets", "BTC"], ["--exchange nosuchvenue",
                                                        "not a ccxt exchange id"]),
    (["--assets", "BTC,NOPE"], ["NOPE/USDT", "does not list", "archive has no such symbol"]),
    (["--assets", "BTC", "--since", "2099-01-01"], ["--since 2099-01-01", "last closed bar"]),
    (["--exchange", "bybit", "--top-volume", "3"], ["--top-volume", "--assets"]),
    (["--assets", "BTC", "--market", "perp", "--out", "{ro}"], ["not writable"]),
    (["--assets", "BTC", "--market", "futures"], ["--market futures"]),
])
def test_bad_input_one_line_nothing_written(shared_data, tmp_path, monkeypatch, args, words):
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == ro and
                        mode & os.W_OK else real_access(p, mode, **kw))
    with FakeVenue(shared_data, symbols=("BTC", "ETH")) as v:
        cfg = _cfg(tmp_path)
        args = [a.format(ro=ro) for a in args]
        since = [] if "--since" in args else ["--since", SINCE, "--until", LAST_DAY]
        res = _run("download", cfg, *args, *since, "--archive-url", v.url,
                   "--api-url", v.url, "--rate", 500)
    _one_line_error(res, *words)
    assert not (tmp_path / "spot").exists() or not list((tmp_path / "spot").iterdir())
    assert not list(ro.iterdir())


def test_top_volume_ranks_by_archive_volume_before_since(shared_data, tmp_path):
    assets = ("BTC", "ETH", "SOL", "PEPE", "EURI", "DOGS", "TAO")  # DOGS, TAO list later
    with FakeVenue(shared_data, symbols=assets, delisted=("SOL",)) as v:
        done = download(_req(v, tmp_path, markets=("spot",), assets=None, top_volume=3,
                             funding=False, since=pd.Timestamp("2024-03-01", tz="UTC"),
                             until=pd.Timestamp("2024-03-03", tz="UTC")), log=lambda s: None)
    qv = {}
    for a in assets:
        df = pd.read_feather(shared_data / "binance-spot-1h-2024" / f"{a}_USDT-1h.feather")
        feb = df[(df["date"] >= "2024-02-01") & (df["date"] < "2024-03-01")]
        if len(feb):
            qv[a] = float((feb["volume"] * feb["close"]).sum())
    want = sorted(qv, key=lambda a: -qv[a])[:3]
    assert [r.asset for r in done] == [f"{a}/USDT" for a in want]
    assert "SOL" in want  # delisted now, ranked all the same: no survivorship


def test_since_after_the_venues_last_bar(shared_data, tmp_path):
    with FakeVenue(shared_data) as v, pytest.raises(DownloadError, match="has no bars from"):
        download(_req(v, tmp_path, since=pd.Timestamp("2024-09-10", tz="UTC"),
                      until=pd.Timestamp("2024-09-12", tz="UTC")), log=lambda s: None)
    assert not list(tmp_path.iterdir())


def test_delisted_symbol_comes_from_the_archive_only(shared_data, tmp_path):
    with FakeVenue(shared_data, symbols=("BTC", "ETH"), delisted=("ETH",),
                   archive_end="2024-03-01") as v:
        done = download(_req(v, tmp_path, markets=("spot",), assets=("ETH",), funding=False,
                             until=pd.Timestamp("2024-03-05", tz="UTC")), log=lambda s: None)
    assert done[0].rest_rows == 0 and "archive only" in done[0].notes[0]
    got = _six(tmp_path / "ETH_USDT-1h.feather")
    pd.testing.assert_frame_equal(got, _expected(shared_data, "ETH_USDT-1h.feather",
                                                 until="2024-03-01"))


def test_library_error_type(shared_data, tmp_path):
    with FakeVenue(shared_data) as v, pytest.raises(DownloadError, match="no file yet"):
        download(_req(v, tmp_path, since=None), log=lambda s: None)


@pytest.mark.parametrize(("args", "words"), [
    (["--assets", "BTC", "--since", "2099-01-01"], ["--since 2099-01-01", "last closed bar"]),
    (["--assets", "BTC"], ["BTC_USDT-1h.feather: no file yet and no --since"]),
    ([], ["no asset to download", "--assets BTC,ETH"]),
])
def test_offline_bad_input_is_named_before_the_network(tmp_path, args, words):
    # no venue answers here: these used to fail with "load markets failed: NetworkError", and
    # after creating the data folder
    dead = "http://127.0.0.1:9"
    res = _run("download", _cfg(tmp_path), *args, "--archive-url", dead, "--api-url", dead,
               "--retries", 0)
    _one_line_error(res, *words)
    assert "NetworkError" not in res.output
    assert not (tmp_path / "spot").exists()


def test_hourly_updates_keep_only_closed_bars_mark_prices_included(shared_data, tmp_path):
    # the cron line runs download every hour: the 8h mark bar opening at 16:00 was stored at
    # 17:07 with the venue's values of that moment (a bar still forming, closing at 24:00) and
    # never fetched again, so the mark file differed from a download in one go
    req = dict(markets=("perp",), assets=("BTC",), funding=True, rate=500, retries=0)
    hours = pd.date_range("2024-08-17 15:07", "2024-08-18 01:07", freq="h", tz="UTC")
    with FakeVenue(shared_data, symbols=("BTC",)) as v:
        for i, now in enumerate(hours):
            v.now = now
            download(_req(v, tmp_path / "hourly", **req, now=now, until=None,
                          since=pd.Timestamp("2024-08-10", tz="UTC") if i == 0 else None),
                     log=lambda s: None)
        download(_req(v, tmp_path / "one", **req, now=hours[-1], until=None,
                      since=pd.Timestamp("2024-08-10", tz="UTC")), log=lambda s: None)
    for kind in ("1h-futures", "8h-funding_rate", "8h-mark"):
        name = f"BTC_USDT_USDT-{kind}.feather"
        one, hourly = _six(tmp_path / "one" / name), _six(tmp_path / "hourly" / name)
        pd.testing.assert_frame_equal(hourly, one, check_exact=True)
        want = _expected(shared_data, name, since="2024-08-10", until="2024-08-18 01:00")
        if kind == "8h-mark":  # bars closed by 01:07: the last opened at 16:00 the day before
            want = want[want["date"] <= pd.Timestamp("2024-08-17 16:00", tz="UTC")]
        pd.testing.assert_frame_equal(one, want.reset_index(drop=True), check_exact=True)


def test_an_hourly_update_asks_the_archive_nothing_for_today(shared_data, tmp_path):
    # each cron run asked for this month's zip and twice for today's, none published yet (4
    # requests a file an hour, 45 for 15 files: 9 s at the default 5 a second)
    req = dict(markets=("perp",), assets=("BTC",), funding=True, rate=500, retries=0,
               until=None)
    first = pd.Timestamp("2024-08-17 15:07", tz="UTC")
    with FakeVenue(shared_data, symbols=("BTC",), now=first) as v:
        download(_req(v, tmp_path, **req, now=first), log=lambda s: None)
        v.log.clear()
        v.now = first + pd.Timedelta(hours=1)
        done = download(_req(v, tmp_path, **req, since=None, now=v.now), log=lambda s: None)
        asked = [p for _, p in v.log]
        # after midnight the day before may be in the archive, here not yet (it lags): asked
        # for once, then REST
        v.log.clear()
        v.now, v.archive_end = (pd.Timestamp("2024-08-18 00:07", tz="UTC"),
                                pd.Timestamp("2024-08-17", tz="UTC"))
        late = download(_req(v, tmp_path, **req, since=None, now=v.now), log=lambda s: None)
        after_midnight = [p for _, p in v.log]
        # a run that missed the hours around midnight (21:07, then 01:07): the missing range
        # runs into today, whose zip was still asked for
        v.now = pd.Timestamp("2024-08-18 21:07", tz="UTC")
        download(_req(v, tmp_path, **req, since=None, now=v.now), log=lambda s: None)
        v.log.clear()
        v.now = pd.Timestamp("2024-08-19 01:07", tz="UTC")
        download(_req(v, tmp_path, **req, since=None, now=v.now), log=lambda s: None)
        across = [p for _, p in v.log]
    assert not [p for p in across if "2024-08-19" in p or "2024-08.zip" in p], across
    assert late[0].rows_added == 8 and late[0].rest_rows == 8
    # the 15:00 bar, no funding event, the 8h mark bar that closed at 16:00
    assert [r.rows_added for r in done] == [1, 0, 1]
    assert not [p for p in asked if p.startswith("/data/")], asked
    assert len(asked) == 4  # exchangeInfo, then one REST request a file
    day = "/data/futures/um/daily/klines/BTCUSDT/1h/BTCUSDT-1h-2024-08-17.zip"
    assert after_midnight.count(day) == 1
    assert len(after_midnight) == len(set(after_midnight)), after_midnight  # nothing asked twice
