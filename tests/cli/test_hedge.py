"""``revertible hedge`` and ``revertible rebalance``: plans, replays, pages, orders, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli_output
from hedge.support import N, _times, _walk
from typer.testing import CliRunner

from revertible.cli import app
from revertible.io import read_table

runner = CliRunner()


def _bars(close: np.ndarray, times: pd.DatetimeIndex, high: np.ndarray | None = None):
    opn = np.r_[close[0], close[:-1]]
    hi = np.maximum(opn, close) if high is None else high
    return pd.DataFrame({"date": times, "open": opn, "high": hi, "low": np.minimum(opn, close),
                         "close": close, "volume": np.full(close.size, 1e6)})


def _funding(times: pd.DatetimeIndex, rate: float) -> pd.DataFrame:
    t = times[times.hour % 8 == 0]
    z = np.zeros(t.size)
    return pd.DataFrame({"date": t, "open": np.full(t.size, rate), "high": z, "low": z,
                         "close": z, "volume": z})


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> tuple[Path, Path]:
    rng = np.random.default_rng(7)
    root = tmp_path_factory.mktemp("hedge")
    spot, fut = root / "spot", root / "futures"
    spot.mkdir()
    fut.mkdir()
    t = _times(N)
    aaa = _walk(rng, N, p0=100.0)
    _bars(aaa, t).to_feather(spot / "AAA_USDT-1h.feather")
    _bars(aaa, t).to_feather(fut / "AAA_USDT_USDT-1h-futures.feather")
    _funding(t, 0.0001).to_feather(fut / "AAA_USDT_USDT-8h-funding_rate.feather")
    bbb = _walk(rng, N, p0=10.0)
    _bars(bbb, t).to_feather(spot / "BBB_USDT-1h.feather")  # spot only: no perpetual
    ddd = _walk(rng, N, p0=5.0)
    _bars(ddd, t).to_feather(spot / "DDD_USDT-1h.feather")
    _bars(ddd, t).to_feather(fut / "DDD_USDT_USDT-1h-futures.feather")  # no funding file
    eee = _walk(rng, N, p0=2.0)
    half = N // 2
    _bars(eee[:half], t[:half]).to_feather(spot / "EEE_USDT-1h.feather")
    _bars(eee[half:], t[half:]).to_feather(fut / "EEE_USDT_USDT-1h-futures.feather")
    _funding(t[half:], 0.0001).to_feather(fut / "EEE_USDT_USDT-8h-funding_rate.feather")
    fff = _walk(rng, N, p0=3.0)  # a perpetual without spot
    _bars(fff, t).to_feather(fut / "FFF_USDT_USDT-1h-futures.feather")
    _funding(t, 0.0001).to_feather(fut / "FFF_USDT_USDT-8h-funding_rate.feather")
    return spot, fut


@pytest.fixture
def cfg_file(tmp_path, market) -> Path:
    spot, fut = market
    p = tmp_path / "c.yaml"
    p.write_text(f"data: {{path: {spot}, funding_path: {fut}}}\n"
                 f"tracking: {{uri: 'sqlite:///{tmp_path}/mlflow.db', "
                 f"artifact_location: '{tmp_path}/artifacts'}}\n"
                 "hedge: {vol_window: 100, beta_window: 200}\n")
    return p


def run(*args) -> object:
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    msg = cli_output(result)
    assert msg.startswith("error:") and "\n" not in msg, msg
    flat = " ".join(msg.split())
    for needle in needles:
        assert needle in flat, (needle, flat)


@pytest.mark.slow
def test_cli_hedge_plans_replays_writes_page_and_tracks(cfg_file, tmp_path):
    out = tmp_path / "out"
    r = run("hedge", cfg_file, "--asset", "AAA", "--quantity", 10, "--ratio", 0.5,
            "--since", "2024-01-10", "--out", out, "--json")
    assert r.exit_code == 0, r.output
    payload = json.loads(r.output.strip().splitlines()[-1])
    m = payload["metrics"]
    assert len(payload["run_id"]) == 32
    assert 0.4 < m["hedged.volatility"] / m["unhedged.volatility"] < 0.6
    assert m["funding_paid"] < 0  # positive funding: the short receives
    # and the lines say which sign means what (BTC 2024: "funding paid -5,290.96", received)
    flat = " ".join(r.output.split())
    assert f"funding paid {m['funding_paid']:,.2f} USDT (negative: received)" in flat, flat
    assert f"basis (perp - spot) {payload['plan']['basis']:,.4f}" in flat, flat
    assert payload["plan"]["contracts"] == pytest.approx(5.0)
    assert payload["plan"]["liquidation_price"] > payload["plan"]["perp_price"]
    page = (out / "hedge.html").read_text()
    for name in ("equity", "funding", "basis"):
        assert f'id="plot-{name}"' in page
    assert "data:image/png;base64," in page and "<script" not in page
    bars = pd.read_parquet(out / "hedge_bars.parquet")
    assert bars["date"].iloc[0] == pd.Timestamp("2024-01-10", tz="UTC")


@pytest.mark.slow
def test_cli_hedge_cross_asset_uses_trailing_beta(cfg_file):
    r = run("hedge", cfg_file, "--asset", "BBB", "--quantity", 100, "--hedge-with", "AAA",
            "--json")
    assert r.exit_code == 0, r.output
    payload = json.loads(r.output.strip().splitlines()[-1])
    # independent walks: beta near 0, the short is small, and the replay waits for the beta
    assert abs(payload["plan"]["beta"]) < 0.3
    assert payload["metrics"]["hedged_bars"] < 1.0


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--asset", "BBB", "--quantity", 1), ("no perpetual for BBB/USDT", "AAA")),
        (("--asset", "DDD", "--quantity", 1), ("no funding file for DDD/USDT:USDT",)),
        (("--asset", "FFF", "--quantity", 1), ("no spot prices for FFF/USDT",)),
        (("--asset", "BBB", "--quantity", 1, "--hedge-with", "DDD"), ("no funding file",)),
        (("--asset", "AAA", "--quantity", 1, "--ratio", 2.5), ("--ratio must lie in (0, 2]",
                                                               "2.5")),
        (("--asset", "AAA", "--quantity", 1, "--ratio", 0), ("--ratio must lie in (0, 2]",)),
        (("--asset", "AAA", "--quantity", 0), ("--quantity must be > 0", "got 0")),
        (("--asset", "AAA", "--quantity", -3), ("--quantity must be > 0",)),
        (("--asset", "EEE", "--quantity", 1), ("share fewer than 2 bars",)),
        (("--asset", "AAA", "--quantity", 1, "--since", "2025-01-01"),
         ("range --since 2025-01-01: fewer than 2 bars where spot AAA/USDT and perpetual",
          "overlap")),  # it said "--since 2025-01-01 --until None"
    ],
)
def test_cli_hedge_bad_input_is_one_line_exit_2(cfg_file, args, needles):
    assert_one_line_error(run("hedge", cfg_file, *args), *needles)


def test_cli_rebalance_prints_orders_or_none(cfg_file, market, tmp_path):
    spot, _ = market
    last = {a: pd.read_feather(spot / f"{a}_USDT-1h.feather")["close"].iloc[-1]
            for a in ("AAA", "BBB")}
    ratio_now = (30.0 * last["BBB"]) / (2.0 * last["AAA"])
    pos = tmp_path / "pos.csv"
    pos.write_text("pair,qty_a,qty_b,entry_ratio\n"
                   f"AAA~BBB,2,-30,{ratio_now}\n"
                   f"AAA/USDT~BBB/USDT,2,-30,{ratio_now * 1.05}\n")
    r = run("rebalance", cfg_file, "--positions", pos, "--json", "--out", tmp_path / "o.csv")
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert lines[1].endswith(": none")
    assert "sell" in lines[2] and "BBB/USDT" in lines[2]  # more of the short hedge leg B
    orders = json.loads(lines[-1])["orders"]
    assert orders[0]["action"] == "none" and orders[1]["action"] == "rebalance"
    new_a = 2 + orders[1]["order_a"]
    new_b = -30 + orders[1]["order_b"]
    assert new_a == 2  # leg A is the anchor
    assert abs(new_b * last["BBB"]) / abs(new_a * last["AAA"]) == pytest.approx(ratio_now * 1.05)
    # --out (docs/design.md's command table): the same orders as a file an executor can read
    table = pd.read_csv(tmp_path / "o.csv")
    assert table["action"].tolist() == ["none", "rebalance"]
    assert table["order_b"].tolist() == pytest.approx([o["order_b"] for o in orders])
    assert f"wrote 2 rows to {tmp_path / 'o.csv'}" in " ".join(r.output.split())
    bad = run("rebalance", cfg_file, "--positions", pos, "--out", tmp_path / "o.txt")
    assert bad.exit_code == 2 and "unknown extension '.txt'" in bad.output
    assert not (tmp_path / "o.txt").exists()


#: ``revertible rebalance --out``: the positions, their prices and drift, the orders and why.
REBALANCE_COLUMNS = ["asset_a", "asset_b", "qty_a", "qty_b", "target_ratio", "price_a", "price_b",
                     "ratio", "drift", "order_a", "order_b", "cost_notional", "action", "reason"]


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_cli_rebalance_out_writes_the_orders(cfg_file, market, tmp_path, ext):
    """docs/design.md: rebalance writes stdout and ``--out``; the file holds the --json orders."""
    folder = tmp_path / "out"
    folder.mkdir()
    pos = folder / "pos.csv"
    pos.write_text("pair,qty_a,qty_b,target_ratio\nAAA~BBB,2,-30,1.0\nAAA~DDD,1,5,1e9\n")
    dest = folder / f"orders.{ext}"
    r = run("rebalance", cfg_file, "--positions", pos, "--out", dest, "--json")
    assert r.exit_code == 0, r.output
    assert f"wrote 2 rows to {dest}" in r.output
    table = read_table(dest)
    assert list(table.columns) == REBALANCE_COLUMNS
    orders = json.loads(r.output.strip().splitlines()[-1])["orders"]
    assert table["action"].tolist() == [o["action"] for o in orders] == ["rebalance"] * 2
    np.testing.assert_array_equal(table["order_b"], [o["order_b"] for o in orders])
    assert sorted(p.name for p in folder.iterdir()) == sorted(["pos.csv", dest.name])


def test_cli_rebalance_out_with_unknown_extension_is_refused_before_work(cfg_file, tmp_path):
    pos = tmp_path / "pos.csv"
    pos.write_text("pair,qty_a,qty_b,target_ratio\nAAA~BBB,2,-30,1.0\n")
    assert_one_line_error(run("rebalance", cfg_file, "--positions", pos, "--out",
                              tmp_path / "orders.txt"), "unknown extension", ".parquet or .csv")
    assert not (tmp_path / "orders.txt").exists()


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("pair,qty_a,qty_b\nAAA~BBB,1,-1\n", ("missing column(s) target_ratio",
                                                "(has pair, qty_a, qty_b)")),
        ("pair,qty_a,qty_b,target_ratio\nAAA~BBB,x,-1,1\n", ("row 1 column qty_a", "'x'")),
        ("pair,qty_a,qty_b,target_ratio\nAAA~BBB,1,-1,1\nAAA~BBB,1,-1,-2\n",
         ("row 2 column target_ratio", "must be > 0")),
        ("pair,qty_a,qty_b,target_ratio\nAAABBB,1,-1,1\n", ("row 1 pair 'AAABBB'",)),
        ("pair,qty_a,qty_b,target_ratio\n", ("no rows",)),
    ],
)
def test_cli_rebalance_bad_positions_file_is_one_line_exit_2(cfg_file, tmp_path, text, needles):
    pos = tmp_path / "p.csv"
    pos.write_text(text)
    assert_one_line_error(run("rebalance", cfg_file, "--positions", pos), *needles)


def test_cli_rebalance_missing_file(cfg_file, tmp_path):
    assert_one_line_error(run("rebalance", cfg_file, "--positions", tmp_path / "nope.csv"),
                          "not found")


def test_cli_rebalance_on_the_perpetuals_data(tmp_path, futures_dir):
    # the shared perpetuals (configs/binance-perp-1h.yaml): every leg, named BTC~ETH or
    # BTC/USDT:USDT~ETH/USDT:USDT, was refused ("asset BTC/USDT is unknown ... expected
    # BTC_USDT-1h.feather"): the positions' names lost their settle currency
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{path: {futures_dir}}}\n")
    pos = tmp_path / "pos.csv"
    pos.write_text("pair,qty_a,qty_b,target_ratio\nBTC/USDT:USDT~ETH/USDT:USDT,0.1,-2.5,1.0\n"
                   "SOL~DOGE,10,-5000,0.8\n")
    r = run("rebalance", cfg, "--positions", pos, "--json")
    assert r.exit_code == 0, r.output
    orders = json.loads(r.output.strip().splitlines()[-1])["orders"]
    assert [(o["asset_a"], o["asset_b"]) for o in orders] == [
        ("BTC/USDT:USDT", "ETH/USDT:USDT"), ("SOL/USDT:USDT", "DOGE/USDT:USDT")]
    for o in orders:  # each at the perpetuals' last prices
        assert o["ratio"] == pytest.approx(abs(o["qty_b"] * o["price_b"] / (o["qty_a"]
                                                                           * o["price_a"])))
