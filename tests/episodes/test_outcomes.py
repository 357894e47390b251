"""Trade outcomes: revert_return / continue_return against the backtest's own machinery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.backtest import _book, _ledger
from revertible.backtest import _signals as bt
from revertible.config import load_config
from revertible.data import Panel, load_panel
from revertible.episodes import EPISODE_COLUMNS, build_episodes
from revertible.episodes._outcomes import trade_outcomes

N_ASSETS = 24  # real data, a subset of the assets: ~276 pairs, thousands of trades


@pytest.fixture(scope="module")
def real(spot_dir):
    cfg = load_config("configs/binance-spot-1h.yaml", data=str(spot_dir))
    panel = load_panel(cfg.data)
    panel = panel.select(list(panel.assets[:N_ASSETS]))
    return cfg, panel, build_episodes(panel, cfg)


def _engine_gross(panel: Panel, eps: pd.DataFrame, cfg, side: float) -> tuple[np.ndarray, ...]:
    """Gross P&L per unit of gross notional realised by the backtest's exit paths and marking.

    ``exit_paths`` gives the engine's entry/exit fills under ``cfg``'s barriers (the correlation
    exit is switched off by the caller); the ledger's ``_hold`` marks the position bar by bar at
    zero cost with leg A ``1/(1+|beta|)`` and leg B ``|beta|/(1+|beta|)`` of a unit of gross
    notional at the entry fill (``side`` -1: the continuation trade, sides reversed). Also
    returns the same P&L from the ledger formula (``_ledger``'s ``gross_pnl``).
    """
    sig = bt._signals(panel, eps.assign(probability=np.nan, model_cutoff=pd.NaT),
                      panel.times[0], panel.times[-1])  # fmt: skip
    sig = sig.join(bt.exit_paths(panel, sig, cfg))
    mkt = _book.Market.of(panel, cfg.costs)
    n = panel.n_bars
    marked = np.full(len(sig), np.nan)
    ledger = np.full(len(sig), np.nan)
    hedge = np.zeros(5)
    st = np.zeros(_ledger.N_STATS)
    for k, (_, r) in enumerate(sig.iterrows()):
        if r["path_reason"] == 5:  # no entry fill
            continue
        ab = abs(r["beta"])
        sa = -side * np.sign(r["z_entry"])
        sb = -sa * np.sign(r["beta"])
        qa = sa * (1.0 / (1.0 + ab)) / r["open_a"]
        qb = sb * (ab / (1.0 + ab)) / r["open_b"]
        dpnl = np.zeros(n + 1)
        gross = np.zeros(n + 1)
        marg = np.zeros(n + 1)
        x = int(r["exit_bar"])
        book = x - 1 if r["at_close"] else x
        _ledger._hold(dpnl, gross, marg, mkt.close, mkt.open, mkt.mark, mkt.fund * 0.0, 0.0,
                      int(r["ia"]), int(r["ib"]), int(r["entry_bar"]), x, book,
                      bool(r["at_close"]), qa, qb, r["open_a"], r["open_b"], r["exit_px_a"],
                      r["exit_px_b"], 0.0, 0.0, 0.0, 1.0, 0.0, hedge, st)  # fmt: skip
        marked[k] = dpnl.sum()
        ledger[k] = qa * (r["exit_px_a"] - r["open_a"]) + qb * (r["exit_px_b"] - r["open_b"])
    return sig, marked, ledger, bt.EXIT_REASONS[sig["path_reason"].to_numpy()]


def test_columns_and_open_episodes(real):
    _, _, eps = real
    assert EPISODE_COLUMNS[-2:] == ["revert_return", "continue_return"]
    is_open = eps["label"].isna()
    assert is_open.any() and (~is_open).sum() > 1000
    assert eps.loc[is_open, ["revert_return", "continue_return"]].isna().all().all()
    assert eps.loc[~is_open, "revert_return"].notna().all()
    # defaults: the continuation barriers mirror the label's, so the trades exit together
    assert (eps["continue_return"] == -eps["revert_return"]).where(~is_open, True).all()
    by = eps.groupby("exit_reason")["revert_return"].mean()
    assert by["revert"] > 0.005 and by["stop"] < -0.005  # overshoot past the barriers included


def test_revert_return_is_what_the_backtest_realises(real):
    cfg, panel, eps = real
    no_corr_exit = cfg.sizing.model_copy(update={"min_abs_corr_exit": 0.0})
    cfg = cfg.model_copy(update={"sizing": no_corr_exit})
    closed = eps[eps["label"].notna()].reset_index(drop=True)
    sig, marked, ledger, reason = _engine_gross(panel, closed, cfg, side=1.0)
    got = closed["revert_return"].to_numpy()
    assert np.isfinite(marked).sum() == len(closed) > 1000
    np.testing.assert_allclose(got, marked, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got, ledger, rtol=0, atol=1e-12)
    # the engine's exit reason matches the label's exit reason
    want = closed["exit_reason"].map({"revert": "take_profit", "stop": "stop", "timeout": "time"})
    ok = reason == want.to_numpy()
    assert ok.mean() > 0.99, pd.Series(reason[~ok]).value_counts()  # rest: end of data


def test_continue_return_with_its_own_barriers_is_what_the_backtest_realises(real, spot_dir):
    cfg0, panel, _ = real
    over = ["continue.take_profit=3.0", "continue.stop=1.0", "continue.horizon=24"]
    cfg = load_config("configs/binance-spot-1h.yaml", over, data=str(spot_dir))
    eps = build_episodes(panel, cfg)
    closed = eps[eps["continue_return"].notna()].reset_index(drop=True)
    assert len(closed) > 1000
    assert not np.allclose(closed["continue_return"], -closed["revert_return"])
    # the engine with the continuation barriers as its exit rules, sides reversed
    mirror = cfg.model_copy(update={
        "label": cfg.label.model_copy(update={"exit": 1.0, "stop": 3.0, "horizon": 24}),
        "sizing": cfg.sizing.model_copy(update={"min_abs_corr_exit": 0.0}),
    })  # fmt: skip
    _, marked, ledger, _ = _engine_gross(panel, closed, mirror, side=-1.0)
    np.testing.assert_allclose(closed["continue_return"], marked, rtol=0, atol=1e-12)
    np.testing.assert_allclose(closed["continue_return"], ledger, rtol=0, atol=1e-12)


def test_label_exit_reuse_equals_the_full_search(real):
    cfg, panel, eps = real
    pos = {a: i for i, a in enumerate(panel.assets)}
    t = panel.times.get_indexer(eps["entry_time"])
    ia = eps["asset_a"].map(pos).to_numpy()
    ib = eps["asset_b"].map(pos).to_numpy()
    lc, cc = cfg.label, cfg.continue_
    rev, con = trade_outcomes(panel.log_close(), panel.open, panel.close, t, ia, ib,
                              eps["z_entry"], eps["beta"], eps["spread_mean"], eps["spread_std"],
                              lc.exit, lc.stop, lc.horizon, cc.take_profit, cc.stop,
                              cc.horizon_or(lc.horizon))  # fmt: skip
    np.testing.assert_array_equal(rev, eps["revert_return"].to_numpy())
    np.testing.assert_array_equal(con, eps["continue_return"].to_numpy())


MEAN = 1.5 * np.log(100.0) + 0.025  # at prices 100/100: z = -(a + 0.5 b - MEAN) / 0.01 = -2.5


def _toy(opn: np.ndarray, close: np.ndarray, **kw):
    args = dict(label_exit=0.5, label_stop=4.0, label_horizon=4, continue_take_profit=4.0,
                continue_stop=0.5, continue_horizon=4)  # fmt: skip
    args.update(kw)
    return trade_outcomes(np.log(close), opn, close, np.array([1]), np.array([0]),
                          np.array([1]), np.array([-2.5]), np.array([-0.5]), np.array([MEAN]),
                          np.array([0.01]), **args)  # fmt: skip


def test_known_answers_sides_weights_and_timing():
    n = 10
    close = np.full((n, 2), 100.0)
    opn = close.copy()
    # z < 0, beta < 0: long A, long B (the spread a + 0.5 b is too low); weights 2/3 and 1/3
    close[2:, 0] = 100.0 * np.exp(0.03)  # a rises 3%: z' = -(0.03 - 0.025) / 0.01 = -0.5: revert
    opn[3:, 0] = 103.0  # exit fills at the open after the signal bar (2)
    opn[3:, 1] = 97.0
    rev, con = _toy(opn, close)
    want = (2 / 3) * 0.03 + (1 / 3) * -0.03
    assert rev[0] == pytest.approx(want, abs=1e-15) and con[0] == pytest.approx(-want, abs=1e-15)
    # no open for leg B at t + 1: no trade
    o2 = opn.copy()
    o2[2, 1] = np.nan
    assert np.isnan(_toy(o2, close)[0][0])
    # missing exit open: the fill waits for the next bar with both opens
    o3 = opn.copy()
    o3[3, 0] = np.nan
    o3[4:, 0] = 104.0
    assert _toy(o3, close)[0][0] == pytest.approx((2 / 3) * 0.04 - (1 / 3) * 0.03, abs=1e-15)
    # horizon past the data with no barrier: open (NaN); with a full horizon: time stop
    flat = np.full((n, 2), 100.0)
    assert np.isnan(_toy(flat, flat, label_horizon=20)[0][0])  # z' stays 2.5
    assert np.isnan(_toy(flat, flat, continue_horizon=20)[1][0])
    rev, con = _toy(flat, flat)  # time stop, flat prices
    assert rev[0] == 0.0 and con[0] == 0.0


def test_planted_momentum_pays_the_continuation_trade():
    from revertible.synthetic import momentum_panel

    cfg = load_config("configs/demo.yaml", data="unused")
    out = {}
    for rho in (0.0, 0.9):
        panel = momentum_panel(n_pairs=6, n_bars=24 * 150, rho=rho, seed=1)
        eps = build_episodes(panel, cfg)
        eps = eps[eps["asset_a"].str[2] == eps["asset_b"].str[2]]  # the planted pairs
        out[rho] = eps["continue_return"].dropna()
        assert len(out[rho]) > 100
    boot = np.random.default_rng(0).choice(out[0.9].to_numpy(), (500, len(out[0.9]))).mean(1)
    assert np.quantile(boot, 0.05) > 0.002  # > 20 bp gross on average, beyond noise
    assert out[0.9].mean() > out[0.0].mean() + 0.002


def test_continue_config_section(tmp_path):
    from revertible.config import config_from_mapping, flatten
    from revertible.errors import ConfigError

    p = tmp_path / "c.yaml"
    p.write_text("data: {path: /tmp}\ncontinue: {take_profit: 5.0, horizon: 24}\n")
    cfg = load_config(p, ["continue.stop=1.0"])
    assert (cfg.continue_.take_profit, cfg.continue_.stop, cfg.continue_.horizon) == (5.0, 1.0, 24)
    assert load_config(p).continue_.horizon_or(48) == 24
    assert load_config("configs/demo.yaml", data="x").continue_.horizon_or(48) == 48
    dumped = cfg.model_dump(mode="json")
    assert "continue" in dumped and "continue_" not in dumped
    assert config_from_mapping(dumped).continue_ == cfg.continue_  # a logged config reloads
    assert flatten(cfg)["continue.take_profit"] == "5.0"
    with pytest.raises(ConfigError, match="continue.stop < continue.take_profit"):
        load_config(p, ["continue.stop=6"])
    with pytest.raises(ConfigError, match="did you mean 'continue.stop'"):
        load_config(p, ["continue.stp=1"])
