"""Backtest: known answers on generated pairs, exact costs, point in time, metrics, the report."""

from __future__ import annotations

import base64
import math
import re

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from revertible.backtest import (
    PLOTS,
    BacktestResult,
    Report,
    backtest_command,
    exit_paths,
    performance_metrics,
    reversion_by_decile,
    run_backtest,
    strategy_names,
    trade_metrics,
    unit_sizes,
    write_outputs,
)
from revertible.backtest import _engine as bt
from revertible.config import config_from_mapping, load_config
from revertible.data import Panel
from revertible.decision import leg_sides, size_signals
from revertible.spread import rolling_corr
from revertible.synthetic import generate_market, simulate_ou_pair, simulate_random_walk_pair
from revertible.tracking import Tracker

BAR = pd.Timedelta(hours=1)


def make_panel(logp: np.ndarray, opens: np.ndarray | None = None, funding=None,
               start="2024-01-01") -> Panel:
    """A panel from log closes (T, N); opens default to the previous close."""
    close = np.exp(np.asarray(logp, dtype=float))
    n, m = close.shape
    opn = np.vstack([close[:1], close[:-1]]) if opens is None else np.asarray(opens, float)
    names = tuple(f"{c * 3}/USDT" for c in "ABCDEFGHIJKLMNOP"[:m])
    vol = np.full((n, m), 1e6)
    f = np.asfortranarray
    return Panel(
        times=pd.date_range(start, periods=n, freq="h", tz="UTC"), assets=names, open=f(opn),
        high=f(np.fmax(opn, close)), low=f(np.fmin(opn, close)), close=f(close), volume=f(vol),
        quote_volume=f(vol * close), funding=None if funding is None else f(funding),
        source="test",
    )


def make_cfg(**sections) -> object:
    raw = {"data": {"path": "."}, "universe": {"min_history_days": 0, "min_quote_volume": 0}}
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return config_from_mapping(raw)


def episode(t_time, *, z=2.5, beta=1.0, mean=0.0, std=0.01, a="AAA/USDT", b="BBB/USDT"):
    return pd.DataFrame({
        "asset_a": [a], "asset_b": [b], "entry_time": [pd.Timestamp(t_time)], "z_entry": [z],
        "beta": [beta], "spread_mean": [mean], "spread_std": [std],
        "label": pd.array([1.0], dtype="Float64"), "exit_time": [pd.NaT],
        "exit_reason": ["revert"], "bars_held": [0],
    })  # fmt: skip


# ---------------------------------------------------------------------------------------------
# (a) known answers: a mean-reverting pair earns, a random-walk pair does not


def _pairs_panel(kind: str, n_pairs: int = 4, n_bars: int = 24 * 120) -> Panel:
    cols = []
    for seed in range(n_pairs):
        if kind == "ou":
            a, b = simulate_ou_pair(n_bars, half_life=6, beta=1.0, sigma_spread=0.004, seed=seed)
        else:
            a, b = simulate_random_walk_pair(n_bars, beta=1.0, sigma_spread=0.004, seed=seed)
        cols += [a + np.log(100.0), b + np.log(100.0)]
    return make_panel(np.column_stack(cols))


@pytest.fixture(scope="module")
def known():
    # stationary by construction: the month-to-month drift term (decision.drift_days) would
    # need three months of record before the first trade of this 120-day market
    cfg = make_cfg(backtest={"cost_multipliers": [1.0, 2.0]}, decision={"drift_days": None})
    out = {}
    for kind in ("ou", "rw"):
        panel = _pairs_panel(kind)
        from revertible.episodes import build_episodes

        eps = build_episodes(panel, cfg)
        # a constant score: deterministic, no look-ahead; its record (every divergence) is the
        # calibrator's one bin, which clears costs on the mean-reverting pairs only
        said: list[str] = []
        res = run_backtest(cfg, panel, episodes=eps, probabilities=np.full(len(eps), 0.9),
                           say=said.append)
        out[kind] = (panel, cfg, res)
        out[f"said_{kind}"] = said
    return out


def test_mean_reverting_pairs_earn_random_walk_pairs_do_not(known):
    ou, rw = known["ou"][2].metrics, known["rw"][2].metrics
    for s in ("naive_beta", "naive_1to1", "model_fixed_size", "model", "model_revert"):
        assert ou[f"{s}.trades"] >= 100, s
        assert ou[f"{s}.total_return"] > 0.01, s
        assert ou[f"{s}.sharpe"] > 2.0, s
        assert ou[f"{s}.take_profit_rate"] > 0.8, s
        if s.startswith("naive"):
            assert rw[f"{s}.total_return"] < 0.0, s
            assert 0.5 > rw[f"{s}.take_profit_rate"], s
        else:  # the random walks' record never clears costs: no trade, nothing lost
            assert rw[f"{s}.trades"] == 0 and rw[f"{s}.total_return"] == 0.0, s
    # the random walk's gross P&L is noise around 0; what it loses is the costs
    tr = known["rw"][2].trades
    tr = tr[tr["strategy"] == "naive_beta"]
    costs = (tr["fees"] + tr["slippage"]).sum()
    assert abs(tr["gross_pnl"].sum()) < costs
    # the higher costs hurt both
    assert ou["naive_beta_2x_costs.total_return"] < ou["naive_beta.total_return"]
    assert rw["naive_beta_2x_costs.total_return"] < rw["naive_beta.total_return"]


def test_constant_score_takes_what_naive_beta_takes_once_calibrated(known):
    res = known["ou"][2]
    tr = res.trades
    calibrated = res.blocks.loc[res.blocks["n_train"] > 0, "start"].min()
    key = ["signal_time", "asset_a", "asset_b", "direction"]
    # two horizons after the first calibrated block, both books hold the same pairs (the order
    # within a bar differs: the model ranks by lower bound, the naive strategy at random)
    late = tr["signal_time"] >= calibrated + pd.Timedelta(hours=2 * 48)
    a = tr[late & (tr["strategy"] == "model_fixed_size")][key]
    b = tr[late & (tr["strategy"] == "naive_beta")][key]
    a, b = (x.sort_values(key[:3]).reset_index(drop=True) for x in (a, b))
    assert len(a) >= 50
    pd.testing.assert_frame_equal(a, b)
    # no model trade before the record could be calibrated
    m = tr[tr["strategy"].str.startswith("model")]
    assert (m["signal_time"] >= calibrated).all()
    # on random-walk pairs the record never clears costs: the model abstains
    rw = known["rw"][2]
    assert rw.metrics["model.trades"] == 0 and rw.metrics["model.abstention_rate"] == 1.0
    # the decision line says what the gate's takes realised next to what they were expected
    ou = known["ou"][2].metrics
    line = next(x for x in known["said_ou"] if x.startswith("decision: "))
    assert (f"what it took realised {ou['model.decision_taken_net_bp']:+.1f} bp a divergence"
            in line and f"{ou['model.taken_net_bp_expected']:+.1f} expected" in line)
    line = next(x for x in known["said_rw"] if x.startswith("decision: "))
    assert "0 of" in line and "realised" not in line


def test_debias_expected_moves_the_expected_return_by_the_earlier_record(known, monkeypatch):
    """decision.debias_expected: the same decisions and trades; each block's expected return
    moved by the gate's shortfall on the divergences it took that were known before the block.
    """
    import revertible.decision as decision
    from revertible.backtest import decision_carry
    from revertible.costs import round_trip_cost
    from revertible.episodes import build_episodes
    from revertible.model import outcome_end

    panel, cfg, off = known["ou"]
    monkeypatch.setattr(decision, "RECORD_MIN_TRADES", 20)  # a small market's record
    on_cfg = make_cfg(backtest={"cost_multipliers": [1.0, 2.0]},
                      decision={"drift_days": None, "debias_expected": True})
    eps = build_episodes(panel, on_cfg)
    on = run_backtest(on_cfg, panel, episodes=eps, probabilities=np.full(len(eps), 0.9))
    pd.testing.assert_frame_equal(on.trades, off.trades)
    a, b = on.signals, off.signals
    for col in ("direction", "expected_return_lower", "revert_expected", "continue_expected"):
        pd.testing.assert_series_equal(a[col], b[col])
    # the correction, by hand: the mean realised - expected of the earlier known takes
    taken = b["direction"].to_numpy() != "none"
    carry = decision_carry(b, cfg, cfg.costs, panel.freq)
    real = decision.realised_net(b, b["revert_return"].to_numpy(), b["continue_return"].to_numpy(),
                                 round_trip_cost(cfg.costs), carry)
    ends = outcome_end(b, cfg.label, cfg.continue_, panel.freq)
    scored = np.isfinite(b["expected_return"].to_numpy())  # uncalibrated rows stay NaN
    assert (np.isfinite(a["expected_return"].to_numpy()) == scored).all()
    moved = a["expected_return"].to_numpy() - b["expected_return"].to_numpy()
    starts = list(on.blocks["start"])
    n_moved = 0
    for k, start in enumerate(starts):
        rows = ((b["entry_time"] >= start) & (b["entry_time"] < (
            starts[k + 1] if k + 1 < len(starts) else b["entry_time"].max() + pd.Timedelta(1))))
        rows = rows.to_numpy() & scored
        seen = taken & np.isfinite(real) & (ends < start).to_numpy()
        want = min(np.mean(real[seen] - b["expected_return"].to_numpy()[seen]), 0.0) if (
            seen.sum() >= 20) else 0.0
        np.testing.assert_allclose(moved[rows], want, atol=1e-15)
        n_moved += int(rows.sum()) if want < 0 else 0
    assert n_moved > 0  # the constant score's record did fall short of its expected return
    # the metrics report the corrected expected return beside the same realised one
    m_on, m_off = on.metrics, off.metrics
    assert m_on["model.decision_taken_net_bp"] == m_off["model.decision_taken_net_bp"]
    sel = taken & np.isfinite(real)
    assert m_on["model.taken_net_bp_expected"] == pytest.approx(
        1e4 * a["expected_return"].to_numpy()[sel].mean())
    assert m_on["model.taken_net_bp_expected"] < m_off["model.taken_net_bp_expected"]


def test_equity_is_the_sum_of_the_ledger(known):
    for kind in ("ou", "rw"):
        _, cfg, res = known[kind]
        for s in res.strategies:
            tr = res.trades[res.trades["strategy"] == s]
            final = res.equity[s].iloc[-1]
            assert final - cfg.sizing.capital == pytest.approx(tr["pnl"].sum(), abs=1e-6), s
            assert res.metrics[f"{s}.final_equity"] == pytest.approx(final)
            np.testing.assert_allclose(
                tr["pnl"],
                tr["gross_pnl"] - tr["slippage"] - tr["fees"] - tr["funding"] - tr["borrow"],
                atol=1e-9)
            np.testing.assert_allclose(tr["pnl"], tr["pnl_a"] + tr["pnl_b"], atol=1e-9)


def test_book_limits_hold(known):
    panel, cfg, res = known["ou"]
    sz = cfg.sizing
    for s in res.strategies:
        tr = res.trades[res.trades["strategy"] == s]
        g = res.gross[s].to_numpy()
        eq = res.equity[s].to_numpy()
        # gross exposure at every close stays under the cap (5% slack for price moves
        # since the positions were sized)
        assert (g <= 1.05 * sz.max_gross_leverage * (1 - sz.buffer) * eq).all(), s
        # one position per pair at a time, fills at the open after the signal
        assert (tr["entry_time"] == tr["signal_time"] + BAR).all()
        for _, grp in tr.groupby(["asset_a", "asset_b"]):
            grp = grp.sort_values("entry_time")
            assert (grp["entry_time"].iloc[1:].to_numpy()
                    >= grp["exit_time"].iloc[:-1].to_numpy()).all()  # fmt: skip


def test_sides_follow_sizing(known):
    tr = known["ou"][2].trades
    for row in tr.head(50).itertuples(index=False):
        assert (row.side_a, row.side_b) == leg_sides(row.z_entry, row.beta)


# ---------------------------------------------------------------------------------------------
# (b) costs charged exactly


def _scenario(n=100, t0=70):
    """Two legs, B flat near 100; the spread a - b (log) is 0.025 at t0 and 0.004 at t0+5."""
    rng = np.random.default_rng(7)
    spread = np.full(n, 0.012)
    spread[t0] = 0.025
    spread[t0 + 1 : t0 + 5] = [0.02, 0.018, 0.03, 0.015]  # between the barriers
    spread[t0 + 5] = 0.004  # z' = 0.4 <= 0.5: take-profit signal at the close of t0+5
    lb = np.log(100.0) + rng.normal(0, 0.002, n)
    la = lb + spread
    opens = np.exp(np.column_stack([la, lb])) * (1 + rng.normal(0, 0.003, (n, 2)))
    return la, lb, opens


def _hand_trade(panel, t0, x, notional, beta, fee, slip, side_a=-1.0, side_b=1.0):
    pa, pb = panel.close[t0, 0], panel.close[t0, 1]
    qa, qb = notional / pa, notional * abs(beta) / pb
    ina = panel.open[t0 + 1, 0] * (1 + side_a * slip)
    inb = panel.open[t0 + 1, 1] * (1 + side_b * slip)
    outa = panel.open[x, 0] * (1 - side_a * slip)
    outb = panel.open[x, 1] * (1 - side_b * slip)
    fees = fee * (qa * ina + qb * inb + qa * outa + qb * outb)
    pnl = side_a * qa * (outa - ina) + side_b * qb * (outb - inb) - fees
    return {"qty_a": qa, "qty_b": qb, "entry_price_a": ina, "entry_price_b": inb,
            "exit_price_a": outa, "exit_price_b": outb, "fees": fees, "pnl": pnl}  # fmt: skip


@pytest.mark.parametrize("mult", [1.0, 2.0])
def test_one_trade_costs_match_hand_computation(mult):
    t0 = 70
    la, lb, opens = _scenario(t0=t0)
    panel = make_panel(np.column_stack([la, lb]), opens)
    cfg = make_cfg(backtest={"cost_multipliers": [mult]})
    res = run_backtest(cfg, panel, episodes=episode(panel.times[t0]))
    tr = res.trades[res.trades["strategy"] == bt._name("naive_beta", mult)]
    assert len(tr) == 1
    row = tr.iloc[0]
    assert row["exit_reason"] == "take_profit"
    assert row["signal_time"] == panel.times[t0]
    assert row["entry_time"] == panel.times[t0 + 1]
    assert row["exit_signal_time"] == panel.times[t0 + 5]
    assert row["exit_time"] == panel.times[t0 + 6]
    assert (row["side_a"], row["side_b"]) == ("short", "long")
    fee, slip = cfg.costs.taker_fee * mult, cfg.costs.slippage_bps * mult / 1e4
    want = _hand_trade(panel, t0, t0 + 6, cfg.sizing.trade_cap_frac * cfg.sizing.capital,
                       1.0, fee, slip)  # fmt: skip
    # leg A is a spot short: a margin loan paying borrow_rate_daily / 24 per held bar (t0+1..t0+5)
    borrow = sum(want["qty_a"] * cfg.costs.borrow_rate_daily / 24 * panel.open[k, 0]
                 for k in range(t0 + 1, t0 + 6))  # fmt: skip
    assert borrow > 0 and row["borrow"] == pytest.approx(borrow, abs=1e-12, rel=0)
    want["pnl"] -= borrow
    for key, value in want.items():
        assert row[key] == pytest.approx(value, abs=1e-9, rel=0), key
    assert row["funding"] == 0.0  # spot legs
    slippage = slip * (want["qty_a"] * (panel.open[t0 + 1, 0] + panel.open[t0 + 6, 0])
                       + want["qty_b"] * (panel.open[t0 + 1, 1] + panel.open[t0 + 6, 1]))
    assert row["slippage"] == pytest.approx(slippage, abs=1e-9, rel=0)
    eq = res.equity[bt._name("naive_beta", mult)]
    assert eq.iloc[-1] - cfg.sizing.capital == pytest.approx(want["pnl"], abs=1e-9, rel=0)
    assert eq.loc[: panel.times[t0]].eq(cfg.sizing.capital).all()  # nothing before the fill
    # the 1:1 baseline: same fills, leg B notional equal to leg A's
    one = res.trades[res.trades["strategy"] == bt._name("naive_1to1", mult)].iloc[0]
    assert one["notional_b"] == pytest.approx(one["qty_b"] * panel.open[t0 + 1, 1])


def test_funding_charged_at_funding_bars_only_while_held():
    t0 = 70  # 2024-01-03 22:00; held bars t0+1..t0+5 = 23:00, 00:00, 01:00, 02:00, 03:00
    la, lb, opens = _scenario(t0=t0)
    n = len(la)
    funding = np.full((n, 2), np.nan)
    rates_a = {60: 0.003, t0 + 1: 0.0011, t0 + 3: -0.0004, t0 + 6: 0.005, 90: 0.002}
    for bar, rate in rates_a.items():
        funding[bar, 0] = rate  # B has no funding data: the default applies to it
    panel = make_panel(np.column_stack([la, lb]), opens, funding)
    default = 0.0002
    cfg = make_cfg(costs={"venue": "perp", "funding_rate_default": default},
                   backtest={"cost_multipliers": [1.0]})  # fmt: skip
    res = run_backtest(cfg, panel, episodes=episode(panel.times[t0]))
    row = res.trades[res.trades["strategy"] == "naive_beta"].iloc[0]
    # a funding time is paid when the position was opened before it and closed after it: the
    # entry fill at the open of t0+1 comes after that bar's funding time (not paid), the exit
    # fill at the open of t0+6 after that one (paid; issue 10 fixed the reversed boundary)
    held = range(t0 + 2, t0 + 7)
    assert panel.times[t0 + 2].hour == 0  # the only standard funding hour while held
    qa, qb = row["qty_a"], row["qty_b"]
    want = 0.0
    for k in held:
        rate_a = rates_a.get(k, default if panel.times[k].hour in (0, 8, 16) else 0.0)
        rate_b = default if panel.times[k].hour in (0, 8, 16) else 0.0
        want += -qa * rate_a * panel.open[k, 0] + qb * rate_b * panel.open[k, 1]
    assert want != 0.0
    assert row["funding"] == pytest.approx(want, abs=1e-12, rel=0)
    spot = run_backtest(make_cfg(backtest={"cost_multipliers": [1.0]},
                                 costs={"borrow_rate_daily": 0.0,
                                        "taker_fee_override": cfg.costs.taker_fee}),
                        panel, episodes=episode(panel.times[t0]))  # fmt: skip
    base = spot.trades[spot.trades["strategy"] == "naive_beta"].iloc[0]
    assert base["funding"] == 0.0 and row["borrow"] == 0.0  # perp legs pay no borrow
    assert row["pnl"] == pytest.approx(base["pnl"] - want, abs=1e-9)
    sched = bt.funding_schedule(panel, cfg.costs)
    assert sched[60, 0] == 0.003 and sched[t0 + 2, 1] == default and sched[t0 + 1, 1] == 0.0


def test_correlation_exit_and_fill_at_next_open(monkeypatch):
    rng = np.random.default_rng(3)
    n, t0 = 200, 120
    common = np.cumsum(rng.normal(0, 0.01, n))
    lb = np.log(100.0) + common
    la = lb.copy()
    la[t0 + 1 :] = la[t0] + np.cumsum(rng.normal(0, 0.001, n - t0 - 1))  # A decouples
    lb[t0 + 1 :] = lb[t0] + np.cumsum(rng.normal(0, 0.001, n - t0 - 1))
    panel = make_panel(np.column_stack([la, lb]))
    std = 1.0  # wide: the price barriers are never touched
    ep = episode(panel.times[t0], z=2.5, std=std, mean=la[t0] - lb[t0] - 2.5 * std)
    cfg = make_cfg(label={"horizon": 60},  # a 24-bar correlation window for a short test
                   backtest={"cost_multipliers": [1.0], "corr_exit_days": 1})
    res = run_backtest(cfg, panel, episodes=ep)
    row = res.trades[res.trades["strategy"] == "naive_beta"].iloc[0]
    assert row["exit_reason"] == "correlation"
    corr = rolling_corr(la, lb, 24)
    j = panel.times.get_loc(row["exit_signal_time"])
    assert abs(corr[j]) < 0.5 <= np.abs(corr[t0 + 1 : j]).min()
    assert row["exit_time"] == panel.times[j + 1]
    assert row["exit_price_a"] == pytest.approx(panel.open[j + 1, 0] * (1 + 2e-4))


def test_time_stop_and_end_of_data():
    rng = np.random.default_rng(5)
    n = 120
    lb = np.log(100.0) + np.cumsum(rng.normal(0, 0.01, n))
    la = lb + rng.normal(0, 1e-4, n)
    panel = make_panel(np.column_stack([la, lb]))
    cfg = make_cfg(label={"horizon": 10}, backtest={"cost_multipliers": [1.0]})
    std = 1.0
    eps = pd.concat([episode(panel.times[t], std=std, mean=la[t] - lb[t] - 2.5 * std)
                     for t in (30, n - 4)], ignore_index=True)  # fmt: skip
    sig = bt._signals(panel, eps.assign(probability=np.nan, model_cutoff=pd.NaT),
                      panel.times[0], panel.times[-1])  # fmt: skip
    paths = exit_paths(panel, sig, cfg)
    assert list(bt.EXIT_REASONS[paths["path_reason"]]) == ["time", "end_of_data"]
    assert paths["exit_signal_bar"].iloc[0] == 40 and paths["exit_bar"].iloc[0] == 41
    assert paths["at_close"].tolist() == [False, True]
    assert paths["exit_bar"].iloc[1] == n  # held to the last close
    assert paths["exit_px_a"].iloc[1] == panel.close[n - 1, 0]


# ---------------------------------------------------------------------------------------------
# (c) point in time: walk-forward models never saw a trade's future


@pytest.fixture(scope="module")
def walk_forward(tmp_path_factory):
    """One walk-forward ``backtest_command`` run; every model fit is recorded by a spy."""
    from revertible.model import label_end

    tmp = tmp_path_factory.mktemp("bt")
    panel, _ = generate_market(n_assets=8, n_bars=24 * 140, seed=5)
    cfg = load_config("configs/demo.yaml", [
        f"tracking.uri=sqlite:///{tmp}/mlflow.db",
        f"tracking.artifact_location={(tmp / 'artifacts').as_uri()}",
        "model.n_estimators=15", "cv.n_folds=2", "backtest.min_train_days=50",
        "backtest.retrain_every_days=25",
        # point in time is tested here, not the gate: cheap fills and no drift term (a short,
        # stationary market) so the model trades in every block
        "costs.venue=perp", "costs.fill=maker", "decision.drift_days=null",
    ], data="unused")  # fmt: skip
    fits = []
    real = bt.fit_block_model

    def spy(cfg_, episodes, features, cutoff, bar, **kw):
        model = real(cfg_, episodes, features, cutoff, bar, **kw)
        end = label_end(episodes, cfg_.label.horizon, bar)
        used = episodes["label"].notna() & (end < cutoff)
        fits.append({"cutoff": cutoff, "max_label_end": end[used].max(),
                     "max_entry": episodes.loc[used, "entry_time"].max(),
                     "recorded": model.meta["label_cutoff"], "n_used": int(used.sum()),
                     "first_entry": episodes["entry_time"].min()})  # fmt: skip
        return model

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bt, "fit_block_model", spy)
        res = backtest_command(cfg, walk_forward=True, out_dir=tmp / "out", panel=panel,
                               tracker=Tracker(cfg.tracking))  # fmt: skip
    return tmp, panel, cfg, res, pd.DataFrame(fits)


def test_walk_forward_trades_only_with_models_trained_before_entry(walk_forward):
    tmp, panel, cfg, res, fits = walk_forward
    trades = pd.read_parquet(res["trades"])
    model = trades[trades["strategy"].str.startswith("model")]
    assert len(model) > 20
    assert model["model_cutoff"].notna().all()
    assert (model["model_cutoff"] < model["signal_time"]).all()
    assert model["model_cutoff"].nunique() >= 3  # retrained block by block
    assert trades.loc[~trades["strategy"].str.startswith("model"), "model_cutoff"].isna().all()
    assert res["metrics"]["signals.scored"] == res["metrics"]["signals.count"]  # all in blocks
    # each trade's cutoff is that of the latest block starting at or before its signal
    starts = fits["cutoff"].to_numpy()
    k = np.searchsorted(starts, model["signal_time"].to_numpy(), side="right") - 1
    assert (k >= 0).all()
    np.testing.assert_array_equal(model["model_cutoff"].to_numpy(),
                                  fits["recorded"].to_numpy()[k])  # fmt: skip


def test_walk_forward_blocks_train_on_labels_known_before_them(walk_forward):
    _, _, cfg, _, fits = walk_forward
    assert len(fits) >= 3
    assert (fits["max_label_end"] < fits["cutoff"]).all()
    assert (fits["max_entry"] < fits["cutoff"]).all()
    assert (fits["recorded"] == fits["max_label_end"]).all()
    assert (fits["n_used"] > 100).all() and fits["n_used"].is_monotonic_increasing
    first = fits["first_entry"].iloc[0] + pd.Timedelta(days=cfg.backtest.min_train_days)
    assert fits["cutoff"].iloc[0] >= first
    gaps = np.diff(fits["cutoff"].to_numpy())
    assert (gaps == np.timedelta64(cfg.backtest.retrain_every_days, "D")).all()


def test_walk_forward_times_every_stage_and_logs_the_report_after_them(walk_forward):
    from revertible.backtest import TIMED_STAGES, stage_times

    _, _, cfg, res, _ = walk_forward
    tm = res["timings"]
    for stage in TIMED_STAGES:
        assert tm[f"{stage}_s"] >= 0.0 and tm[f"{stage}_cpu_s"] >= 0.0, stage
    assert tm["report_s"] > 0.0, "the images and the HTML take time"
    assert stage_times(tm).split(", ")[0].startswith("data ")
    assert [s.split()[0] for s in stage_times(tm).split(", ")] == list(TIMED_STAGES)
    client = MlflowClient(cfg.tracking.uri)
    logged = client.get_run(res["run_id"]).data.metrics
    for key in ("report_s", "report_cpu_s", "models_s", "data_s"):
        assert logged[f"time.{key}"] == pytest.approx(tm[key]), key
    # the report is rendered after the metrics and the other stages' times are logged
    at = {k: client.get_metric_history(res["run_id"], k)[0].timestamp
          for k in ("model.trades", "time.models_s", "time.report_s")}
    assert at["model.trades"] <= at["time.models_s"] <= at["time.report_s"]


def test_given_model_scores_from_its_holdout(known):
    panel, cfg, _ = known["ou"]

    class Stub:
        features = ["abs_z_entry"]
        meta = {"holdout_start": str(panel.times[24 * 80])}

        def predict_proba(self, X):
            return np.clip(0.4 + 0.1 * X["abs_z_entry"].to_numpy(), 0, 1)

    res = run_backtest(cfg, panel, model=Stub(), model_uri="stub")
    assert res.mode == "model" and res.signals["entry_time"].min() >= panel.times[24 * 80]
    tr = res.trades[res.trades["strategy"] == "model"]
    assert len(tr) and (tr["model_cutoff"] <= tr["signal_time"]).all()


# ---------------------------------------------------------------------------------------------
# (d) metrics


def test_drawdown_return_and_calmar_conventions():
    m = performance_metrics(np.array([100.0, 120.0, 90.0, 130.0, 65.0, 80.0]), bars_per_year=5)
    assert m["max_drawdown"] == pytest.approx(65 / 130 - 1)  # <= 0: fraction of the peak
    assert m["total_return"] == pytest.approx(-0.2)
    assert m["annual_return"] == pytest.approx(0.8 ** (5 / 5) - 1)
    assert m["calmar"] == pytest.approx(m["annual_return"] / 0.5)
    up = performance_metrics(np.linspace(100, 200, 50))
    assert up["max_drawdown"] == 0.0 and math.isnan(up["calmar"]) and math.isnan(up["sortino"])
    rng = np.random.default_rng(0)
    for _ in range(20):
        eq = 100 * np.cumprod(1 + rng.normal(0, 0.01, 300))
        assert performance_metrics(eq)["max_drawdown"] <= 0.0


def test_sharpe_and_sortino_of_known_series():
    # constant returns: no risk, Sharpe undefined (NaN by convention, not inf)
    flat = performance_metrics(100 * 1.001 ** np.arange(200))
    assert math.isnan(flat["sharpe"]) and math.isnan(flat["sortino"])
    assert flat["annual_return"] == pytest.approx(1.001 ** (24 * 365) - 1, rel=1e-9)
    # alternating 0.3% / 0.1%: mean 0.2%, std 0.1% * sqrt(n / (n - 1))
    r = np.tile([0.003, 0.001], 100)
    eq = 100 * np.concatenate([[1.0], np.cumprod(1 + r)])
    m = performance_metrics(eq)
    std = 0.001 * math.sqrt(len(r) / (len(r) - 1))
    assert m["sharpe"] == pytest.approx(0.002 / std * math.sqrt(24 * 365), rel=1e-9)
    r2 = np.tile([0.003, -0.001], 100)
    m2 = performance_metrics(100 * np.concatenate([[1.0], np.cumprod(1 + r2)]))
    down = math.sqrt(np.mean(np.minimum(r2, 0) ** 2))
    assert m2["sortino"] == pytest.approx(0.001 / down * math.sqrt(24 * 365), rel=1e-9)
    assert math.isnan(performance_metrics(np.array([100.0]))["sharpe"])
    ruined = performance_metrics(np.array([100.0, 50.0, -10.0, 20.0]))
    assert ruined["total_return"] == -1.0 and ruined["max_drawdown"] == -1.0


def test_trade_metrics_and_deciles():
    tr = pd.DataFrame({
        "pnl": [10.0, -5.0, 20.0, -15.0], "fees": 1.0, "slippage": 0.5, "funding": [0, 0, 1, -1.0],
        "qty_a": 1.0, "qty_b": 1.0, "entry_price_a": 10.0, "exit_price_a": 10.0,
        "entry_price_b": 5.0, "exit_price_b": 5.0,
        "exit_reason": ["take_profit", "stop", "take_profit", "time"],
    })  # fmt: skip
    m = trade_metrics(tr)
    assert m["trades"] == 4 and m["win_rate"] == 0.5
    assert m["avg_win"] == 15.0 and m["avg_loss"] == -10.0 and m["funding"] == 0.0
    assert m["fees"] == 4.0 and m["traded_notional"] == 4 * 30.0
    assert m["take_profit_rate"] == 0.5
    p = np.linspace(0.05, 0.95, 100)
    y = (np.arange(100) >= 50).astype(float)
    d = reversion_by_decile(np.append(p, 0.5), np.append(y, np.nan))  # the open one is left out
    assert list(d["n"]) == [10] * 10
    assert list(d["realised"]) == [0.0] * 5 + [1.0] * 5
    assert d["predicted"].is_monotonic_increasing
    assert strategy_names((1.0, 2.0))[-1] == "naive_1to1_2x_costs"


def test_unit_sizes_match_size_signals_below_the_caps(known):
    _, cfg, res = known["ou"]
    sig = res.signals.head(30)
    units = unit_sizes(sig, cfg, cfg.costs)
    for i in range(len(sig)):
        one = size_signals(sig.iloc[[i]], cfg.sizing, cfg.costs, cfg.label, capital=50_000.0)
        assert one["leg_a_notional"].iloc[0] == pytest.approx(50_000.0 * units["frac_a"].iloc[i],
                                                              rel=1e-12)  # fmt: skip
        assert one["leg_b_notional"].iloc[0] == pytest.approx(50_000.0 * units["frac_b"].iloc[i],
                                                              rel=1e-12)  # fmt: skip


def test_metric_names_are_strategy_dot_metric(walk_forward):
    _, _, cfg, res, _ = walk_forward
    names = strategy_names(cfg.backtest.cost_multipliers)
    for s in names:
        for k in ("total_return", "annual_return", "sharpe", "sortino", "max_drawdown", "calmar",
                  "trades", "win_rate", "avg_win", "avg_loss", "turnover", "fees", "funding",
                  "exposure", "hedge_effectiveness", "hedge_vol_ratio"):  # fmt: skip
            assert f"{s}.{k}" in res["metrics"], f"{s}.{k}"
    assert "naive_beta.drawdown_vs_1to1" in res["metrics"]
    assert "model.decile10_realised" in res["metrics"]
    assert all(re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_]+", k) for k in res["metrics"])
    hv = res["metrics"]["naive_beta.hedge_vol_ratio"]
    assert 0.0 < hv < 1.0  # the hedge removes most of leg A's variance on correlated pairs


# ---------------------------------------------------------------------------------------------
# (e) the report and the MLflow run


def test_html_report_is_self_contained_and_has_every_plot(walk_forward):
    tmp, _, _, res, _ = walk_forward
    text = (tmp / "out" / "report.html").read_text()
    assert not [p for p in (tmp / "out").iterdir() if p.name.startswith(".")]  # no temp files
    for name in PLOTS:
        m = re.search(rf"<figure id='plot-{name}'><img alt='{name}' "
                      r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'>", text)  # fmt: skip
        assert m, name
        assert base64.b64decode(m.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"(src|href)=['\"](?!data:)", text)
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert "naive_1to1_2x_costs" in text and "max drawdown" in text
    assert res["run_id"] in text
    assert "Expected vs realised net return by decile" in text  # walk-forward: return heads


def test_walk_forward_models_decide_with_their_return_heads(walk_forward):
    tmp, _, _, res, _ = walk_forward
    m = res["metrics"]
    # every settled signal of the range has an out-of-sample decision (open ones: no return)
    assert 0.9 * m["signals.scored"] <= m["model.decided_n"] <= m["signals.scored"]
    assert 0.0 <= m["model.abstention_rate"] <= 1.0
    assert np.isfinite(m["model.return_decile10_expected_bp"])
    assert m["model.return_decile10_expected_bp"] >= m["model.return_decile01_expected_bp"]
    trades = pd.read_parquet(res["trades"])
    model = trades[trades["strategy"] == "model"]
    assert len(model) and set(model["direction"]) <= {"revert", "continue"}


def test_report_write_is_atomic(known, tmp_path):
    panel, cfg, res = known["ou"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("previous report")

    class Broken:
        images: dict = {}

        @property
        def html(self) -> str:  # fails while the file is being written
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_outputs(Broken(), res, out)
    assert (out / "report.html").read_text() == "previous report"
    assert sorted(p.name for p in out.iterdir()) == ["equity.parquet", "report.html",
                                                     "trades.parquet"]  # fmt: skip
    paths = write_outputs(Report({}, "<html>new</html>"), res, out)
    assert paths["report"].read_text() == "<html>new</html>"


#: ``revertible backtest --out``: trades.parquet, one row per trade of every strategy, in order.
TRADE_FILE_COLUMNS = [
    "strategy", "cost_multiplier", "asset_a", "asset_b", "direction", "signal_time",
    "entry_time", "exit_signal_time", "exit_time", "exit_reason", "side_a", "side_b", "qty_a",
    "qty_b", "entry_price_a", "entry_price_b", "exit_price_a", "exit_price_b", "notional_a",
    "notional_b", "gross_pnl", "fees", "slippage", "funding", "borrow", "pnl", "pnl_a", "pnl_b",
    "rebalances", "rebalance_cost", "net_bp", "return_on_equity", "equity_at_entry",
    "probability", "z_entry", "beta", "label", "model_cutoff",
]  # fmt: skip
#: equity.parquet: the bar time, then each strategy's equity, each cost multiplier in turn.
BASE_STRATEGIES = ["model", "model_revert", "model_fixed_size", "naive_beta", "naive_continue",
                   "naive_1to1"]  # fmt: skip


def test_out_files_columns_units_and_times(known, tmp_path):
    """The --out files' columns are pinned; net_bp is bp of the gross notional at entry, P&L in
    quote currency; times are UTC, the fill one bar after the decision."""
    panel, _, res = known["ou"]
    write_outputs(Report({}, "<html></html>"), res, tmp_path)
    trades = pd.read_parquet(tmp_path / "trades.parquet")
    equity = pd.read_parquet(tmp_path / "equity.parquet")
    assert list(trades.columns) == TRADE_FILE_COLUMNS
    assert list(equity.columns) == ["time", *BASE_STRATEGIES,
                                    *(f"{s}_2x_costs" for s in BASE_STRATEGIES)]
    assert len(trades) > 100 and set(trades["strategy"]) <= set(equity.columns[1:])
    gross = trades["notional_a"] + trades["notional_b"]
    np.testing.assert_allclose(trades["net_bp"], 1e4 * trades["pnl"] / gross, rtol=1e-9)
    np.testing.assert_allclose(trades["pnl"], trades["pnl_a"] + trades["pnl_b"], rtol=1e-9,
                               atol=1e-9)
    assert set(trades["side_a"]) | set(trades["side_b"]) <= {"long", "short"}
    assert set(trades["direction"]) <= {"revert", "continue"}
    for col in ("signal_time", "entry_time", "exit_signal_time", "exit_time"):
        assert str(trades[col].dt.tz) == "UTC", col
    assert (trades["entry_time"] - trades["signal_time"] == panel.freq).all()
    ended = trades["exit_reason"] != "end_of_data"
    assert (trades.loc[ended, "exit_time"] > trades.loc[ended, "exit_signal_time"]).all()


def test_one_mlflow_run_with_metrics_and_plots(walk_forward):
    tmp, _, _, res, _ = walk_forward
    client = MlflowClient(f"sqlite:///{tmp}/mlflow.db")
    run = client.get_run(res["run_id"])
    for key in ("model.sharpe", "naive_1to1.max_drawdown", "model_2x_costs.total_return"):
        assert run.data.metrics[key] == pytest.approx(res["metrics"][key])
    assert run.data.tags["kind"] == "backtest" and run.data.tags["backtest.mode"] == "walk_forward"
    assert run.data.params["label.horizon"] == "48"
    arts = {a.path for a in client.list_artifacts(res["run_id"], "plots")}
    assert {f"plots/{p}.png" for p in PLOTS} <= arts
    top = {a.path for a in client.list_artifacts(res["run_id"])}
    assert {"report.html", "trades.parquet", "equity.parquet", "config.yaml"} <= top
    assert mlflow.get_tracking_uri()  # the tracker set it; nothing else leaked


def test_bad_input_fails_with_one_line(known):
    panel, cfg, _ = known["ou"]
    from revertible.errors import RevertibleError

    with pytest.raises(RevertibleError, match="since <= until"):
        run_backtest(cfg, panel, since="2024-03-01", until="2024-02-01")
    with pytest.raises(RevertibleError, match="--model URI or --walk-forward"):
        backtest_command(cfg, panel=panel, tracker=object())
    vp = cfg.model_copy(update={"sizing": cfg.sizing.model_copy(update={"split": "vol_parity"})})
    with pytest.raises(RevertibleError, match="vol_parity"):
        run_backtest(vp, panel)
    assert isinstance(known["ou"][2], BacktestResult)


# ---------------------------------------------------------------------------------------------
# (f) fair baselines, continuation, drift rebalancing


def _renamed(panel: Panel, eps: pd.DataFrame, perm: np.ndarray) -> tuple[Panel, pd.DataFrame]:
    """The same market with asset ``j`` renamed to the ``perm[j]``-th name (name order moves)."""
    names = list(panel.assets)
    new = {a: f"{'ZYXWVUTSRQPONMLK'[perm[j]] * 3}/USDT" for j, a in enumerate(names)}
    p2 = Panel(times=panel.times, assets=tuple(new[a] for a in names), open=panel.open,
               high=panel.high, low=panel.low, close=panel.close, volume=panel.volume,
               quote_volume=panel.quote_volume, funding=panel.funding, source="renamed")
    e2 = eps.assign(asset_a=eps["asset_a"].map(new), asset_b=eps["asset_b"].map(new))
    e2 = e2.sort_values(["entry_time", "asset_a", "asset_b"]).reset_index(drop=True)
    return p2, e2


def test_no_baseline_depends_on_asset_names(known):
    from revertible.episodes import build_episodes

    panel, _, _ = known["ou"]
    # a tight book: which signal of a bar is taken first decides the trades
    cfg = make_cfg(backtest={"cost_multipliers": [1.0], "max_concurrent": 2})
    eps = build_episodes(panel, cfg)
    prob = np.full(len(eps), 0.9)
    res = run_backtest(cfg, panel, episodes=eps, probabilities=prob)
    perm = np.random.default_rng(1).permutation(panel.n_assets)
    p2, e2 = _renamed(panel, eps, perm)
    res2 = run_backtest(cfg, p2, episodes=e2, probabilities=np.full(len(e2), 0.9))
    back = {b: a for a, b in zip(panel.assets, p2.assets, strict=True)}
    for s in ("naive_beta", "naive_1to1", "naive_continue", "model_fixed_size", "model"):
        a = res.trades[res.trades["strategy"] == s]
        b = res2.trades[res2.trades["strategy"] == s]
        b = b.assign(asset_a=b["asset_a"].map(back), asset_b=b["asset_b"].map(back))
        key = ["entry_time", "asset_a", "asset_b"]
        a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
        assert len(a) > 50 and res.metrics[f"{s}.skipped_max_concurrent"] > 0, s
        pd.testing.assert_frame_equal(a[key], b[key])
        np.testing.assert_allclose(a["pnl"], b["pnl"], rtol=0, atol=1e-9)
    # the order is random (another seed takes other signals), not the data's row order
    other = run_backtest(cfg.model_copy(update={"backtest": cfg.backtest.model_copy(
        update={"seed": 7})}), panel, episodes=eps, probabilities=prob)  # fmt: skip
    t1 = res.trades[res.trades["strategy"] == "naive_beta"]
    t7 = other.trades[other.trades["strategy"] == "naive_beta"]
    assert (set(zip(t1["entry_time"], t1["asset_a"], strict=True))
            != set(zip(t7["entry_time"], t7["asset_a"], strict=True)))  # fmt: skip


def test_naive_continue_trades_with_the_divergence(known):
    _, cfg, res = known["ou"]
    tr = res.trades[res.trades["strategy"] == "naive_continue"]
    assert len(tr) >= 100 and (tr["direction"] == "continue").all()
    rev = res.trades[res.trades["strategy"] == "naive_beta"]
    assert (rev["direction"] == "revert").all()
    # the opposite side of the reversion trade: leg A long when z > 0
    assert ((tr["z_entry"] > 0) == (tr["side_a"] == "long")).all()
    # on mean-reverting pairs trading the continuation loses
    assert res.metrics["naive_continue.total_return"] < 0 < res.metrics["naive_beta.total_return"]
    assert tr["exit_reason"].value_counts().idxmax() == "stop"  # |z'| falls back to 0.5


def test_rebalance_orders_rule():
    from revertible.decision import rebalance_orders

    r = rebalance_orders(10.0, -20.0, 100.0, 51.0, 1.0, 0.008)
    assert r.order_a == 0.0 and r.drift == pytest.approx(0.02)
    assert (20.0 - r.order_b) * 51.0 == pytest.approx(1000.0)  # short B back to 1000
    assert rebalance_orders(10.0, -20.0, 100.0, 50.3, 1.0, 0.008).order_b == 0.0  # 0.6%
    assert rebalance_orders(10.0, -20.0, 100.0, 50.3, 1.0, 0.005).order_b != 0.0
    up = rebalance_orders(-5.0, 12.0, 100.0, 40.0, 1.0, 0.008)  # long B lost 4%: buy more
    assert up.order_b == pytest.approx(500.0 / 40.0 - 12.0) and up.order_b > 0
    with pytest.raises(ValueError, match="price_b > 0"):
        rebalance_orders(1.0, 1.0, 1.0, 0.0, 1.0, 0.01)


def test_known_drift_triggers_exactly_the_expected_rebalance():
    n, t0 = 40, 10
    la = np.full(n, np.log(100.0))
    lb = np.full(n, np.log(100.0))
    lb[t0 + 3 :] = np.log(103.0)  # B jumps 3% at the close of t0+3, then stays
    opens = np.exp(np.column_stack([la, lb]))
    opens[t0 + 4 :, 1] = 103.0
    opens[t0 + 3, 1] = 100.0
    panel = make_panel(np.column_stack([la, lb]), opens)
    ep = episode(panel.times[t0], z=2.5, std=1.0, mean=-2.5)  # z' stays 2.5: time stop
    cfg = make_cfg(label={"horizon": 12},
                   backtest={"cost_multipliers": [1.0], "rebalance_drift": 0.008})
    res = run_backtest(cfg, panel, episodes=ep)
    row = res.trades[res.trades["strategy"] == "naive_beta"].iloc[0]
    assert row["rebalances"] == 1
    # by hand: short A 50 @100, long B 50 @100; at the close of t0+3 B's notional is 5150 vs
    # 5000: drift 3% > 0.8%: sell 150/103 B at the open of t0+4 (103 * (1 - slip))
    fee, slip = cfg.costs.taker_fee, cfg.costs.slippage_bps / 1e4
    dq = 150.0 / 103.0
    cost = fee * dq * 103.0 * (1 - slip) + slip * dq * 103.0
    assert row["rebalance_cost"] == pytest.approx(cost, abs=1e-9)
    qb_left = 50.0 - dq
    e, x = t0 + 1, t0 + 13
    fees = fee * (50 * 100 * (1 - slip) + 50 * 100 * (1 + slip) + 50 * 100 * (1 + slip)
                  + qb_left * 103 * (1 - slip) + dq * 103 * (1 - slip))
    slippage = slip * (50 * 100 * 2 + 50 * 100 + qb_left * 103) + slip * dq * 103
    gross_b = 50.0 * 3.0  # the B leg gained 3 on 50 before the sale, nothing after
    borrow = 50 * cfg.costs.borrow_rate_daily / 24 * 100 * (x - e)
    assert row["fees"] == pytest.approx(fees, abs=1e-9)
    assert row["slippage"] == pytest.approx(slippage, abs=1e-9)
    assert row["gross_pnl"] == pytest.approx(gross_b, abs=1e-9)
    assert row["pnl_a"] == pytest.approx(-fee * 50 * 100 * 2 - slip * 50 * 100 * 2 - borrow,
                                         abs=1e-9)  # fmt: skip
    assert row["pnl"] == pytest.approx(gross_b - fees - slippage - borrow, abs=1e-9)
    assert res.metrics["naive_beta.rebalances"] == 1
    off = run_backtest(make_cfg(label={"horizon": 12}, backtest={"cost_multipliers": [1.0]}),
                       panel, episodes=ep)  # fmt: skip
    assert off.trades["rebalances"].eq(0).all()
    # a per-pair override switches it off for this pair only
    pair = make_cfg(label={"horizon": 12}, backtest={
        "cost_multipliers": [1.0], "rebalance_drift": 0.008,
        "rebalance_drift_pairs": {"AAA/USDT|BBB/USDT": 0.05}})  # fmt: skip
    assert run_backtest(pair, panel, episodes=ep).trades["rebalances"].eq(0).all()


# ---------------------------------------------------------------------------------------------
# (f) the book-risk cap (baskets.max_book_risk) and the book's risk over time


def _concurrency(tr: pd.DataFrame) -> tuple[int, float]:
    """Most positions open at once, and the mean number open just after each entry."""
    t = np.concatenate([tr["entry_time"].to_numpy(), tr["exit_time"].to_numpy()])
    step = np.concatenate([np.ones(len(tr)), -np.ones(len(tr))])
    order = np.lexsort((step, t))  # an exit before an entry at the same time
    level = np.cumsum(step[order])
    return int(level.max(initial=0)), float(level[step[order] > 0].mean())


def test_book_risk_cap_tight_cuts_concurrency_huge_changes_nothing(known):
    panel, _, _ = known["ou"]
    from revertible.episodes import build_episodes

    out = {}
    for cap in (None, 1e6, 0.005, 0.002):  # a binding cap scales a trade, or leaves no room
        cfg = make_cfg(backtest={"cost_multipliers": [1.0]}, baskets={"max_book_risk": cap})
        eps = build_episodes(panel, cfg)
        out[cap] = run_backtest(cfg, panel, episodes=eps, probabilities=np.full(len(eps), 0.9))
    free, huge, tight = out[None], out[1e6], out[0.005]
    pd.testing.assert_frame_equal(free.trades, huge.trades)
    pd.testing.assert_frame_equal(free.equity, huge.equity)
    assert {k: v for k, v in free.metrics.items() if k != "total_s"} == {
        k: v for k, v in huge.metrics.items() if k != "total_s"}
    for s in ("naive_beta", "model"):
        ft, tt = (r.trades[r.trades["strategy"] == s] for r in (free, tight))
        assert _concurrency(tt)[1] < _concurrency(ft)[1] - 0.2, s
        # once the cap binds, the sizes scale with it (the risk is linear in the notionals)
        tighter = out[0.002].trades[out[0.002].trades["strategy"] == s]
        ratio = tighter["notional_a"].mean() / tt["notional_a"].mean()
        assert ratio == pytest.approx(0.002 / 0.005, rel=0.05), s
        assert tight.metrics[f"{s}.skipped_book_risk"] > 0 or len(tt) < len(ft)
        # the measured risk stays near the cap (it is sized at the day's covariance and the
        # entry prices; the path marks at each close), and well under the uncapped book's
        assert tight.metrics[f"{s}.stress_loss_max"] <= 1.25 * 0.005
        assert free.metrics[f"{s}.stress_loss_max"] > 2 * 0.005
        assert 0 < tight.metrics[f"{s}.book_risk_mean"] <= tight.metrics[f"{s}.book_risk_max"]
    assert free.metrics["naive_beta.skipped_book_risk"] == 0.0


def test_book_risk_path_by_hand(known):
    panel, cfg, res = known["ou"]
    s = "naive_beta"
    tr = res.trades[res.trades["strategy"] == s]
    one = tr.iloc[len(tr) // 2]
    t = int(panel.times.searchsorted(one["entry_time"])) + 1  # a bar inside the trade
    at = panel.times[t]
    held = tr[(tr["entry_time"] <= at) & (tr["exit_time"] > at)]
    from revertible.risk import book_risk, trailing_covariance

    close = pd.DataFrame(panel.close, columns=list(panel.assets)).ffill().to_numpy()
    net: dict[str, float] = {}
    for leg in ("a", "b"):
        for a, side, q in zip(held[f"asset_{leg}"], held[f"side_{leg}"], held[f"qty_{leg}"],
                              strict=True):  # fmt: skip
            px = close[t, list(panel.assets).index(a)]
            net[a] = net.get(a, 0.0) + (1.0 if side == "long" else -1.0) * q * px
    cov = trailing_covariance(panel, (t // 24) * 24, cfg.baskets.cov_window_days,
                              cfg.universe.min_obs_frac)  # fmt: skip
    r = book_risk(net, cov, cfg.baskets.stress_corr)
    k, eq = cfg.baskets.shock_sigma, res.equity[s].loc[at]
    assert res.book_risk[s].loc[at] == pytest.approx(k * r["book_sd"] / eq, rel=1e-9)
    assert res.stress_loss[s].loc[at] == pytest.approx(
        k * max(r["stress_sd"], r["decorr_sd"]) / eq, rel=1e-9)


# (g) the model trades the decision (calibrated outcomes): direction, fractional Kelly, caps


def _heads(eps: pd.DataFrame, se: float = 1e-4) -> tuple[pd.DataFrame, np.ndarray]:
    """Given calibrated outcomes: rows 0, 3, ... revert pays, 1, 4, ... continue pays, 2: none."""
    g = np.arange(len(eps)) % 3
    mean = np.where(g == 0, 0.01, np.where(g == 1, -0.01, 0.0))
    return pd.DataFrame({"score_quantile": 0.5, "revert_mean": mean, "revert_se": se,
                         "revert_m2": 4e-4, "continue_mean": -mean, "continue_se": se,
                         "continue_m2": 4e-4}, index=eps.index), g  # fmt: skip


@pytest.fixture(scope="module")
def decided(known):
    from revertible.episodes import build_episodes

    panel, cfg, _ = known["ou"]
    eps = build_episodes(panel, cfg)
    heads, g = _heads(eps)
    res = run_backtest(cfg, panel, episodes=eps, outcomes=heads)
    key = eps.assign(group=g).set_index(["entry_time", "asset_a", "asset_b"])["group"]
    tr = res.trades.assign(group=res.trades.set_index(["signal_time", "asset_a", "asset_b"])
                           .index.map(key).to_numpy())  # fmt: skip
    return panel, cfg, res, tr


def test_model_trades_the_decided_direction(decided):
    _, cfg, res, tr = decided
    m = tr[tr["strategy"] == "model"]
    assert len(m) >= 30 and set(m["direction"]) == {"revert", "continue"}
    assert (m.loc[m["group"] == 0, "direction"] == "revert").all()
    assert (m.loc[m["group"] == 1, "direction"] == "continue").all()
    assert not (m["group"] == 2).any()  # `none` is never traded
    # continued trades take the divergence's side and exit on the `continue` barriers
    c = m[m["direction"] == "continue"]
    assert ((c["z_entry"] > 0) == (c["side_a"] == "long")).all()
    assert set(c["exit_reason"]) <= {"take_profit", "stop", "time", "correlation", "end_of_data"}
    # model_revert: the decision restricted to reversion (the continue rows decide `none`)
    r = tr[tr["strategy"] == "model_revert"]
    assert len(r) and (r["group"] == 0).all() and (r["direction"] == "revert").all()
    # model_fixed_size: the model's direction at the fixed notional
    f = tr[tr["strategy"] == "model_fixed_size"]
    assert set(f["direction"]) == {"revert", "continue"} and not (f["group"] == 2).any()
    want = cfg.sizing.trade_cap_frac * f["equity_at_entry"]
    np.testing.assert_allclose(f["qty_a"] * f["notional_a"] / f["qty_a"], want, rtol=1e-6)
    assert res.mode == "given" and res.metrics["model.decided_n"] > 0


def test_kelly_stakes_are_capped_per_trade_and_the_book_caps_bind(decided):
    from revertible.backtest._plans import decision_carry
    from revertible.decision import OUTCOME_COLUMNS, decide, unit_stakes

    panel, cfg, res, tr = decided
    sig = res.signals
    carry = decision_carry(sig, cfg, cfg.costs, panel.freq)
    dec = decide(sig[list(OUTCOME_COLUMNS)], cfg.costs, cfg.decision.confidence,
                 cfg.sizing.min_edge, carry=carry)
    base = sig.drop(columns=[c for c in dec.columns if c in sig.columns])
    units = unit_stakes(base.join(dec), cfg.sizing, cfg.costs, cfg.label)
    # fractional Kelly on the lower bound: 0.25 * lower / E[(r - k)^2], far above the cap
    taken = (dec["direction"] != "none").to_numpy()
    lower = dec["expected_return_lower"].to_numpy()[taken]
    follow = (dec["direction"] == "continue").to_numpy()[taken]
    k = 0.0024 + np.where(follow, carry["continue"][taken], carry["revert"][taken])
    m2 = 4e-4 - 2 * k * 0.01 + k * k
    full = cfg.sizing.kelly_fraction * lower / m2
    np.testing.assert_allclose(units.loc[taken, "bet_size"], full, rtol=1e-9)
    assert (full > 1.0).all()
    # leg A never above the per-trade cap, and here always at it
    np.testing.assert_allclose(units.loc[taken, "frac_a"], cfg.sizing.trade_cap_frac, rtol=1e-12)
    m = tr[tr["strategy"] == "model"]
    assert (m["notional_a"] <= cfg.sizing.trade_cap_frac * m["equity_at_entry"] * (1 + 1e-9)).all()
    gross = m["notional_a"] + m["notional_b"]
    sz = cfg.sizing
    cap = sz.max_gross_leverage * (1 - sz.buffer) * m["equity_at_entry"]
    assert (gross <= cap * (1 + 1e-9)).all()


def test_decision_is_made_at_each_cost_multiplier(decided):
    panel, cfg, _, _ = decided
    from revertible.episodes import build_episodes

    eps = build_episodes(panel, cfg)
    heads, _ = _heads(eps)
    heads = heads.assign(revert_mean=heads["revert_mean"] * 0.3,
                         continue_mean=heads["continue_mean"] * 0.3)  # 30 bp gross edge
    res = run_backtest(cfg, panel, episodes=eps, outcomes=heads)
    # 24 bp round trip at 1x: trades; 48 bp at 2x: every direction is `none`
    assert res.metrics["model.trades"] > 0 and res.metrics["model_2x_costs.trades"] == 0
    assert res.metrics["model_fixed_size_2x_costs.trades"] == 0


def test_given_model_with_a_calibrator_is_decided(known):
    from revertible.errors import ModelError

    panel, cfg, _ = known["ou"]

    class Heads:
        features = ["abs_z_entry"]
        meta = {"holdout_start": str(panel.times[24 * 80])}

        def predict_outcomes(self, X):
            n = len(X)
            return pd.DataFrame({"probability": np.full(n, 0.7), "score_quantile": 0.9,
                                 "revert_mean": 0.01, "revert_se": 1e-4, "revert_m2": 4e-4,
                                 "continue_mean": -0.01, "continue_se": 1e-4,
                                 "continue_m2": 4e-4}, index=X.index)  # fmt: skip

    res = run_backtest(cfg, panel, model=Heads(), model_uri="stub")
    tr = res.trades[res.trades["strategy"] == "model"]
    assert res.mode == "model" and len(tr) and (tr["direction"] == "revert").all()
    assert (res.signals["direction"] == "revert").all()

    class Old(Heads):
        def predict_outcomes(self, X):
            raise ModelError("this model has no return calibrator: retrain it")

    with pytest.raises(ModelError, match="no return calibrator"):
        run_backtest(cfg, panel, model=Old(), model_uri="old")


def test_backtest_model_refuses_a_config_the_model_was_not_trained_for(generated_market,
                                                                        trained_model):
    """backtest --model checks the model against the config as score and paper do."""
    from mlflow import MlflowClient

    from revertible.errors import ModelError
    from revertible.tracking import Tracker

    panel, _ = generated_market
    cfg, a = trained_model
    wider = cfg.model_copy(update={"universe": cfg.universe.model_copy(
        update={"min_abs_corr": round(cfg.universe.min_abs_corr - 0.2, 2)})})
    client = MlflowClient(cfg.tracking.uri)
    exp = client.get_experiment_by_name(cfg.tracking.experiment).experiment_id
    before = len(client.search_runs([exp]))
    with pytest.raises(ModelError, match=r"trained with universe\.min_abs_corr=0\.3 but this "
                                         r"config has .*=0\.1; use the training config "
                                         r"\(--set universe\.min_abs_corr=0\.3\)"):
        backtest_command(wider, model_uri=a["model_uri"], panel=panel,
                         tracker=Tracker(wider.tracking))
    assert len(client.search_runs([exp])) == before  # refused before any run was logged


def test_decision_line_known_answers():
    from revertible.backtest._engine import decision_line

    m = {"model.decision_taken_net_bp": 4.04, "model.decision_taken_net_bp_ci_low": -1.26,
         "model.decision_taken_net_bp_ci_high": 9.5, "model.taken_net_bp_expected": 6.0}
    assert decision_line(30, 1200, 2.5, m) == (
        "decision: 30 of 1200 divergences clear costs (2.50%); best lower bound +2.5 bp; what it "
        "took realised +4.0 bp a divergence at unit size [90% CI -1.3, +9.5] against +6.0 expected")
    # every taken divergence entered on one day: no interval (the bootstrap has one block)
    one_day = {**m, "model.decision_taken_net_bp_ci_low": float("nan"),
               "model.decision_taken_net_bp_ci_high": float("nan")}
    assert "[no 90% CI: all entered on one day]" in decision_line(3, 1200, 2.5, one_day)
    # a light backtest (the strategy study's) has no interval keys: no KeyError
    light = {"model.decision_taken_net_bp": 4.04, "model.taken_net_bp_expected": 6.0}
    assert "[no 90% CI" in decision_line(3, 1200, 2.5, light)
    assert decision_line(0, 0, float("nan"), {}) == (
        "decision: 0 of 0 divergences clear costs (0.00%); best lower bound n/a")
