"""The short-perpetual hedge and the live rebalance planner: known answers, bad input, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli_output
from typer.testing import CliRunner

from revertible.cli import app
from revertible.config import HedgeConfig
from revertible.hedge import (
    plan_rebalance,
    replay_hedge,
    settlement_bars,
    trailing_beta,
    unwind_rule,
)

runner = CliRunner()
N = 24 * 40
HOURLY = 24 * 365


def _times(n: int, start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="1h", tz="UTC")


def _walk(rng: np.random.Generator, n: int, vol: float = 0.01, p0: float = 100.0) -> np.ndarray:
    return p0 * np.exp(np.cumsum(rng.normal(0.0, vol, n)))


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


def _replay(spot, perp, *, funding=None, ratio=1.0, q=2.0, high=None, cfg=None, unwind=False):
    n = spot.size
    p_open = np.r_[perp[0], perp[:-1]]
    s_open = np.r_[spot[0], spot[:-1]]
    fund = np.full(n, np.nan) if funding is None else funding
    cfg = cfg or HedgeConfig()
    return replay_hedge(_times(n), spot, p_open, perp,
                        np.maximum(p_open, perp) if high is None else high,
                        p_open - s_open, perp - spot, fund, np.full(n, ratio * q), q, cfg,
                        unwind=unwind, periods_per_year=HOURLY)


# ---- known answers ---------------------------------------------------------------------------


def test_full_hedge_removes_volatility_half_hedge_halves_it(rng):
    spot = _walk(rng, N)
    full = _replay(spot, spot.copy(), ratio=1.0).metrics
    half = _replay(spot, spot.copy(), ratio=0.5).metrics
    # the one entry fee is all that is left
    assert full["hedged.volatility"] < 5e-3 * full["unhedged.volatility"]
    assert full["hedge_effectiveness"] > 0.999
    assert 0.4 < half["hedged.volatility"] / half["unhedged.volatility"] < 0.6
    assert half["hedged.max_drawdown"] < half["unhedged.max_drawdown"]
    assert full["liquidations"] == 0 and full["hedged_bars"] == 1.0


def test_funding_basis_and_fees_match_a_hand_calculation(rng):
    n, q, ratio, rate = 24 * 10, 3.0, 1.0, 0.0002
    spot = _walk(rng, n)
    basis = np.linspace(0.0, 0.5, n)  # perp drifts above spot by 0.5 over the range
    perp = spot + basis
    fund = np.full(n, np.nan)
    fund[::8] = rate
    cfg = HedgeConfig(taker_fee=0.0005, slippage_bps=2.0)
    res = _replay(spot, perp, funding=fund, ratio=ratio, q=q, cfg=cfg)
    m, h = res.metrics, ratio * q
    p_open = np.r_[perp[0], perp[:-1]]
    s_open = np.r_[spot[0], spot[:-1]]
    # filled at the open of bar 1; funding settling at bars >= 2 is on the contracts carried in
    events = np.flatnonzero(np.isfinite(fund))
    events = events[events >= 2]
    received = rate * h * p_open[events].sum()
    assert m["funding_paid"] == pytest.approx(-received, rel=1e-12)
    basis_open1 = p_open[1] - s_open[1]
    assert m["basis_pnl"] == pytest.approx(-h * (basis[-1] - basis_open1), rel=1e-9)
    assert m["perp_pnl"] == pytest.approx(-h * (perp[-1] - p_open[1]), rel=1e-9)
    assert m["spot_pnl"] == pytest.approx(q * (spot[-1] - spot[0]), rel=1e-9)
    assert m["fees"] == pytest.approx(h * p_open[1] * (0.0005 + 2e-4), rel=1e-12)
    end = res.bars["hedged_equity"].iloc[-1] - res.bars["unhedged_equity"].iloc[-1]
    assert end == pytest.approx(m["perp_pnl"] + received - m["fees"], rel=1e-9)


def test_short_liquidation_is_detected_from_the_bar_high(rng):
    n = 200
    spot = np.full(n, 100.0) + rng.normal(0, 0.01, n)
    perp = spot.copy()
    p_open = np.r_[perp[0], perp[:-1]]
    high = np.maximum(p_open, perp)
    high[120] = p_open[120] * 1.05  # a wick: +5% intrabar, the close does not move
    thin = HedgeConfig(leverage=25.0, maintenance_margin_rate=0.005, on_margin_call="stop")
    res = _replay(spot, perp, high=high, cfg=thin, q=1.0)
    m = res.metrics
    assert m["liquidations"] == 1 and m["liquidated_at_bar"] == 120
    assert (res.bars["contracts"].iloc[120:] == 0).all()
    assert (res.bars["contracts"].iloc[1:120] == 1.0).all()
    # margin = notional / leverage - fee, marked to market up to the open of bar 120
    fee = p_open[1] * (thin.taker_fee + thin.slippage_bps * 1e-4)
    margin = p_open[1] / 25.0 - fee - (p_open[120] - p_open[1])
    liq = (margin + p_open[120]) / (1.0 + 0.005)
    assert m["liquidation_loss"] == pytest.approx(0.005 * liq, rel=1e-9)
    assert res.bars["perp_pnl"].iloc[120] == pytest.approx(-(liq - p_open[120]), rel=1e-9)
    # the same wick with ample margin: no liquidation
    assert _replay(spot, perp, high=high, q=1.0).metrics["liquidations"] == 0
    # nor without the wick, on closes alone
    assert _replay(spot, perp, cfg=thin, q=1.0).metrics["liquidations"] == 0


def test_funding_unwind_rule_unwinds_and_rehedges_with_persistence(rng):
    n = 24 * 12
    spot = _walk(rng, n, vol=0.002)
    fund = np.full(n, np.nan)
    fund[::8] = 0.0001  # shorts receive
    fund[8 * 10:8 * 14:8] = -0.0003  # 4 settlements where the short pays 0.03%
    cfg = HedgeConfig(unwind_persistence=3)
    on = _replay(spot, spot.copy(), funding=fund, cfg=cfg, unwind=True)
    assert on.metrics["unwinds"] == 1 and on.metrics["rehedges"] == 1
    held = on.bars["contracts"].to_numpy()
    # decided at the close of the 3rd paying settlement (bar 96), filled at the next open
    assert held[96] > 0 and held[97] == 0
    # back on after 3 settlements at or below the threshold (bars 112, 120, 128)
    assert held[128] == 0 and held[129] > 0
    off = _replay(spot, spot.copy(), funding=fund, cfg=cfg, unwind=False)
    assert off.metrics["unwinds"] == 0 and off.metrics["hedged_bars"] == 1.0
    state = unwind_rule(fund[: 8 * 12 + 1], cfg)
    assert state["action"] == "unwind" and state["paid_streak"] == 3
    # 4-hourly funding: the 0.01% per 8 h threshold is 0.005% per settlement
    four = np.full(40, np.nan)
    four[::4] = -0.00007
    assert settlement_bars(four, 8.0) == 4.0
    assert unwind_rule(four, cfg, per_8h=2.0)["action"] == "unwind"
    assert unwind_rule(four, cfg)["action"] == "keep"


def test_trailing_beta_is_point_in_time_and_recovers_a_known_beta(rng):
    n = 2000
    hedge = _walk(rng, n)
    held = hedge[0] * np.exp(2.0 * np.log(hedge / hedge[0]) + np.cumsum(rng.normal(0, 0.002, n)))
    full = trailing_beta(held, hedge, 500)
    cut = trailing_beta(held[:1200], hedge[:1200], 500)
    np.testing.assert_allclose(cut, full[:1200], equal_nan=True)
    assert np.isnan(full[:449]).all() and np.isfinite(full[450:]).all()
    assert full[-1] == pytest.approx(2.0, abs=0.1)


def test_plan_rebalance_trades_leg_b_back_to_the_target_only_past_the_threshold():
    # long 1 A at 110 (was 100), short 10 B at 10: ratio B/A = 100/110 vs target 1.0
    pos = pd.DataFrame({"asset_a": ["A/USDT", "D/USDT"], "asset_b": ["B/USDT", "C/USDT"],
                        "qty_a": [1.0, 1.0], "qty_b": [-10.0, -10.0], "target_ratio": [1.0, 1.0]})
    prices = {"A/USDT": 110.0, "B/USDT": 10.0, "C/USDT": 10.05, "D/USDT": 100.0}
    plan = plan_rebalance(pos, prices, 0.008)
    assert plan["drift"].iloc[0] == pytest.approx(100.0 / 110.0 - 1.0)
    assert plan["order_a"].iloc[0] == 0.0  # leg A is the anchor, as in the backtest
    assert (-10.0 + plan["order_b"].iloc[0]) * 10.0 == pytest.approx(-110.0)
    assert plan["action"].tolist() == ["rebalance", "none"]  # 0.5% drift < 0.8%
    assert plan["order_b"].iloc[1] == 0.0


# ---- CLI ---------------------------------------------------------------------------------------


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
    assert payload["plan"]["contracts"] == pytest.approx(5.0)
    assert payload["plan"]["liquidation_price"] > payload["plan"]["perp_price"]
    page = (out / "hedge.html").read_text()
    for name in ("equity", "funding", "basis"):
        assert f'id="plot-{name}"' in page
    assert "data:image/png;base64," in page and "<script" not in page
    bars = pd.read_parquet(out / "hedge_bars.parquet")
    assert bars["date"].iloc[0] == pd.Timestamp("2024-01-10", tz="UTC")


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
         ("fewer than 2 bars where spot AAA/USDT and perpetual", "overlap")),
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
    r = run("rebalance", cfg_file, "--positions", pos, "--json")
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


# ---- real data -------------------------------------------------------------------------------


def test_real_btc_full_hedge_removes_most_volatility(spot_dir, futures_dir, tmp_path):
    from revertible.config import config_from_mapping
    from revertible.hedge import hedge_command

    cfg = config_from_mapping({"data": {"path": str(spot_dir), "funding_path": str(futures_dir)}})
    res = hedge_command(cfg, asset="BTC", quantity=1.0, since="2024-06-01", until="2024-07-01",
                        track=False)
    m = res["metrics"]
    assert m["hedged.volatility"] < 0.1 * m["unhedged.volatility"]
    assert m["funding_events"] == 91  # 30 days x 3 settlements + the one at --until (inclusive)
    assert res["plan"]["liquidation_sigmas"] > 2


def test_hedge_config_section_is_typed_and_checked(tmp_path):
    from revertible.config import load_config
    from revertible.errors import ConfigError

    p = tmp_path / "c.yaml"
    p.write_text("data: {path: /tmp}\nhedge: {leverage: 5}\n")
    cfg = load_config(p, ["hedge.unwind=true"])
    assert cfg.hedge.leverage == 5.0 and cfg.hedge.unwind is True
    assert cfg.hedge.unwind_funding == 0.0001  # the source's 0.01% per 8 h
    p.write_text("data: {path: /tmp}\nhedge: {levrage: 5}\n")
    with pytest.raises(ConfigError, match="did you mean 'hedge.leverage'"):
        load_config(p)
    with pytest.raises(ConfigError, match="hedge.maintenance_margin_rate"):
        load_config(_write(tmp_path, "hedge: {maintenance_margin_rate: 1.5}"))


def _write(tmp_path: Path, extra: str) -> Path:
    p = tmp_path / "x.yaml"
    p.write_text(f"data: {{path: /tmp}}\n{extra}\n")
    return p
