"""``revertible paper``: the ledger kept run by run equals one backtest of the same period."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from revertible.backtest import TRADE_COLUMNS, run_backtest
from revertible.config import load_config
from revertible.data import load_panel
from revertible.live import paper_run
from revertible.model import train
from revertible.synthetic import generate_market, write_market
from revertible.tracking import load_model

NAME = "paper-test"
# a market that trades: perpetual maker fills and a lower confidence let the gate take ~50+
# divergences a month on this generated market (measured: 150-180)
TRADES = ["costs.venue=perp", "costs.fill=maker", "decision.confidence=0.6"]


def _sets(root):
    return [f"tracking.uri=sqlite:///{root}/mlflow.db",
            f"tracking.artifact_location={(root / 'artifacts').as_uri()}",
            f"tracking.registered_model={NAME}", "model.n_estimators=20", "cv.n_folds=3",
            "model.calibration=sigmoid", *TRADES]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper")
    market, truth = generate_market(n_assets=10, n_bars=24 * 90, seed=11)
    write_market(root / "data", market, truth)
    cfg = load_config("configs/demo.yaml", _sets(root), data=str(root / "data"))
    panel = load_panel(cfg.data)
    res = train(cfg, panel=panel, promote=True)
    model = load_model(res["model_uri"], cfg.tracking.uri)
    end = panel.times[-1] - pd.Timedelta(days=4)  # later bars close the month's last trades
    return {"root": root, "cfg": cfg, "panel": panel, "model": model, "truth": truth,
            "uri": res["model_uri"], "start": end - pd.Timedelta(days=30), "end": end}


def _table(path, name):
    con = sqlite3.connect(path)
    try:
        return pd.read_sql_query(f"SELECT * FROM {name}", con)
    finally:
        con.close()


def _frame(df):
    from revertible.live._ledger_db import from_rows  # the ledger's own reader (same package)

    return from_rows(df)


def _same(a: pd.DataFrame, b: pd.DataFrame, cols) -> None:
    assert len(a) == len(b)
    for c in cols:
        x, y = a[c], b[c]
        if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=1e-9,
                                       atol=1e-9, err_msg=c)
        else:
            assert list(x.astype(str)) == list(y.astype(str)), c


def test_paper_run_by_run_equals_the_backtest_of_the_month(env, tmp_path):
    cfg, panel, model = env["cfg"], env["panel"], env["model"]
    start, end = env["start"], env["end"]
    ledger = tmp_path / "ledger.sqlite"
    # 21 runs over the month, each seeing the data cut at a later bar (steps of 35 hours, so
    # runs fall at every hour of the day), the last one at the month's end
    cuts = list(pd.date_range(start, end, freq="35h")) + [end]
    seen_new = 0
    for i, t in enumerate(cuts):
        rep = paper_run(cfg, ledger, model=model, model_uri=env["uri"], panel=panel.cut(t),
                        since=start if i == 0 else None)
        assert rep.last_bar == t and rep.changed
        seen_new += len(rep.new)
    ref = run_backtest(cfg, panel.cut(end), model=model, since=start, until=end,
                       strategies=("model",))
    want = ref.trades[ref.trades["strategy"] == "model"].sort_values(
        ["entry_time", "asset_a", "asset_b"]).reset_index(drop=True)
    got = _frame(_table(ledger, "trades")).sort_values(
        ["entry_time", "asset_a", "asset_b"]).reset_index(drop=True)
    assert len(want) >= 50, f"the month must trade: {len(want)} trades"
    assert seen_new == len(got) == len(want)
    _same(got, want, TRADE_COLUMNS)  # every column, open positions marked as the backtest's
    assert set(got["status"]) == {"open", "closed"} or (got["status"] == "closed").all()
    assert ((got["status"] == "open") == (got["exit_reason"] == "end_of_data")).all()
    for c in ("fees", "slippage", "funding", "pnl"):
        assert got[c].sum() == pytest.approx(want[c].sum(), rel=1e-9, abs=1e-9)
    # equity marks: the backtest's equity at every bar of the month
    marks = _table(ledger, "marks").set_index("time")
    eq = ref.equity["model"]
    eq = eq[eq.index <= end]
    np.testing.assert_allclose(marks.loc[[t.isoformat() for t in eq.index], "equity"],
                               eq.to_numpy(), rtol=1e-12)
    # the same trades on data that goes on after the month: closed ones final, open ones entered
    full = run_backtest(cfg, panel, model=model, since=start, until=end, strategies=("model",))
    later = full.trades[(full.trades["strategy"] == "model")
                        & (full.trades["entry_time"] <= end)].sort_values(
        ["entry_time", "asset_a", "asset_b"]).reset_index(drop=True)
    closed = got["status"] == "closed"
    _same(got[closed].reset_index(drop=True), later[closed.to_numpy()].reset_index(drop=True),
          [c for c in TRADE_COLUMNS if c != "label"])
    from revertible.live import ENTRY_COLUMNS

    _same(got, later, ENTRY_COLUMNS)
    runs = _table(ledger, "runs")
    assert len(runs) == len(cuts) and runs["new_trades"].sum() == len(want)
