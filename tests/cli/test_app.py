"""Issue 11 leftovers through the command line: the one-asset check and the compile notice for the
commands that load data themselves, the backtest summary (stdout, or stderr with ``--json``),
one tracking-store rule, quantities in ``signals.csv``, headline metrics and the demo's note.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli_output, make_market, write_cli_config
from typer.testing import CliRunner

from revertible.cli import app
from revertible.config import TrackingConfig

runner = CliRunner()


@pytest.fixture(scope="module")
def market(market_dir) -> Path:
    return market_dir


@pytest.fixture
def cfg_file(tmp_path, market) -> Path:
    return write_cli_config(tmp_path / "c.yaml", market, 10, stores=tmp_path / "store")


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


# ---- 1. one-asset universe and the compile notice: score, backtest, tune -------------------------

ONE_ASSET = {
    "score": ["--model", "{tmp}/no-model", "--out", "{tmp}/s.csv"],
    "backtest": ["--walk-forward"],
    "tune": ["--trials", "2"],
}


@pytest.mark.parametrize("command", sorted(ONE_ASSET))
def test_one_asset_universe_fails_fast_for_commands_loading_data(command, cfg_file, tmp_path):
    extra = [a.format(tmp=tmp_path) for a in ONE_ASSET[command]]
    t0 = time.perf_counter()
    r = run(command, cfg_file, "--set", "data.assets=[AAA/USDT]", *extra,
            env={"MLFLOW_TRACKING_URI": ""})
    assert r.exit_code == 2, r.output
    msg = cli_output(r)
    assert msg.startswith("error:") and len(msg.splitlines()) == 1, msg
    flat = " ".join(msg.split())
    assert "only 1 asset (AAA/USDT)" in flat and "at least 2" in flat, flat
    assert time.perf_counter() - t0 < 10, "checked before the model and the data are loaded"
    assert not (tmp_path / "store").exists(), "no store created before failing"
    assert not (tmp_path / "s.csv").exists()


def test_unknown_asset_still_gets_the_loaders_hint(cfg_file):
    r = run("backtest", cfg_file, "--walk-forward", "--set", "data.assets=[AAA/USDT,ZZZ/USDT]")
    assert r.exit_code == 2
    assert "ZZZ/USDT not found" in " ".join(cli_output(r).split())


def test_compile_notice_reaches_score(cfg_file, tmp_path):
    # an empty numba cache folder: the kernels would be compiled, so the command says so
    # (numba itself read its cache folder at import: nothing is really recompiled here)
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    r = run("score", cfg_file, "--model", tmp_path / "no-model", "--out", tmp_path / "s.csv",
            env={"NUMBA_CACHE_DIR": str(cache), "MLFLOW_TRACKING_URI": ""})
    assert r.exit_code == 2, r.output
    assert "compiling the spread kernels with numba" in r.output
    assert "no such folder" in cli_output(r)


# ---- 2. backtest summary ----------------------------------------------------------------------


def test_backtest_summary_is_for_people():
    from revertible.backtest import backtest_summary

    m = {"model.trades": 1234.0, "model.net_bp_per_trade": 12.345,
         "model.net_bp_per_trade_ci_low": -1.04, "model.net_bp_per_trade_ci_high": 25.0,
         "model.sharpe": 1.234, "model.max_drawdown": -0.0456, "model.total_return": 0.1234,
         "model.deflated_sharpe": 0.912, "naive_beta.trades": 0.0,
         "naive_beta.sharpe": float("nan")}
    lines = backtest_summary(m, ["model", "naive_beta"]).splitlines()
    assert lines[0].split()[:3] == ["strategy", "trades", "net"]
    for header in ("net bp/trade [90% CI]", "Sharpe", "max DD", "total return",
                   "deflated Sharpe"):
        assert header in lines[0]
    row = lines[1]
    for cell in ("1,234", "+12.3 [-1.0, +25.0]", "1.23", "-4.6%", "+12.3%", "0.91"):
        assert cell in row, (cell, row)
    assert lines[2].split()[:3] == ["naive_beta", "0", "-"], "missing values print as -"
    assert "nan" not in "\n".join(lines)


@pytest.fixture(scope="module")
def backtest_runs(tmp_path_factory):
    """Two real walk-forward backtests through the CLI, with and without --json."""
    tmp = tmp_path_factory.mktemp("bt")
    make_market(tmp, n_assets=6, days=120, seed=5)
    sets = [f"tracking.uri=sqlite:///{tmp}/mlflow.db",
            f"tracking.artifact_location={(tmp / 'artifacts').as_uri()}",
            "model.n_estimators=15", "cv.n_folds=2", "backtest.min_train_days=60",
            "backtest.retrain_every_days=30", "backtest.cost_multipliers=[1.0]"]
    args = ["backtest", "configs/demo.yaml", "--walk-forward", "--data", str(tmp / "data")]
    for s in sets:
        args += ["--set", s]
    env = {"MLFLOW_TRACKING_URI": ""}
    plain = runner.invoke(app, args, env=env)
    as_json = runner.invoke(app, [*args, "--json"], env=env)
    return plain, as_json


def _table_rows(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("strategy "))
    return lines[start:start + 7]


@pytest.mark.slow
def test_backtest_summary_on_stdout(backtest_runs):
    plain, _ = backtest_runs
    assert plain.exit_code == 0, plain.output
    rows = _table_rows(plain.stdout)
    assert "net bp/trade [90% CI]" in rows[0] and "deflated Sharpe" in rows[0]
    names = [r.split()[0] for r in rows[1:]]
    assert names[:3] == ["model", "model_revert", "model_fixed_size"], names
    assert "naive_beta" in names and "naive_1to1" in names
    assert all("%" in r for r in rows[1:]), "drawdown and return in percent"
    assert "strategy " not in plain.stderr, "the table is not on stderr without --json"


@pytest.mark.slow
def test_backtest_json_puts_the_summary_on_stderr(backtest_runs):
    plain, as_json = backtest_runs
    assert as_json.exit_code == 0, as_json.output
    last = as_json.stdout.strip().splitlines()[-1]
    payload = json.loads(last)
    assert payload["metrics"]["model.trades"] >= 0
    assert "strategy " not in as_json.stdout, "stdout holds only the JSON"
    rows = _table_rows(as_json.stderr)
    assert rows[0] == _table_rows(plain.stdout)[0]


# ---- 3. one tracking-store rule ---------------------------------------------------------------


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def test_store_rule_env_over_config_with_a_warning():
    from revertible.scoring import tracking_uri
    from revertible.tracking import Tracker, _store, store_uri

    _store._warned.clear()
    said = _Lines()
    logging.getLogger("revertible.tracking").addHandler(said)

    default = TrackingConfig()
    mine = TrackingConfig(uri="sqlite:////tmp/w2d-mine.db")
    assert store_uri(default, env_uri="") == default.uri
    assert store_uri(mine, env_uri="") == mine.uri
    assert store_uri(default, env_uri="http://team:5000") == "http://team:5000"
    assert not said.lines, "no warning when the config keeps the default"
    try:
        assert store_uri(mine, env_uri="http://team:5000") == "http://team:5000"
    finally:
        logging.getLogger("revertible.tracking").removeHandler(said)
    assert said.lines == ["tracking store: MLFLOW_TRACKING_URI=http://team:5000 overrides "
                          "tracking.uri=sqlite:////tmp/w2d-mine.db; unset MLFLOW_TRACKING_URI "
                          "to use the config's store"]
    # one function behind the Tracker, scoring and the CLI pre-check
    from revertible.config import load_config

    cfg = load_config("configs/demo.yaml", ["tracking.uri=sqlite:////tmp/w2d-x.db"], data="u")
    assert Tracker(cfg.tracking).uri == tracking_uri(cfg) == store_uri(cfg.tracking)


def test_mlflow_does_not_leak_the_store_into_the_environment(tmp_path, monkeypatch):
    import os

    from revertible.tracking import Tracker, store_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    a = TrackingConfig(uri=f"sqlite:///{tmp_path}/a.db")
    Tracker(a).connect()
    assert "MLFLOW_TRACKING_URI" not in os.environ
    b = TrackingConfig(uri=f"sqlite:///{tmp_path}/b.db")
    assert store_uri(b) == b.uri, "a later command keeps its own store"


def test_score_and_backtest_read_the_same_store(cfg_file, tmp_path):
    # MLFLOW_TRACKING_URI wins over a non-default tracking.uri for both commands (before the
    # Tracker took the config first and scoring the environment first)
    from revertible.tracking import _store

    env_store = f"sqlite:///{tmp_path}/env/mlflow.db"
    for command, extra in (("score", ["--out", tmp_path / "s.csv"]), ("backtest", [])):
        _store._warned.clear()
        r = run(command, cfg_file, "--model", "models:/m@champion", *extra,
                env={"MLFLOW_TRACKING_URI": env_store})
        assert r.exit_code == 2, r.output
        flat = " ".join(cli_output(r).split())
        assert f"no database at {tmp_path}/env/mlflow.db" in flat, (command, flat)
        assert "overrides tracking.uri" in flat, "the override is said, not silent"


# ---- 4. quantities in signals.csv --------------------------------------------------------------


def test_csv_quantities_without_a_lot_step():
    from revertible.scoring import QTY_SIG_FIGS, csv_quantities

    rng = np.random.default_rng(0)
    price = np.exp(rng.uniform(np.log(0.01), np.log(60_000.0), 500))
    notional = rng.uniform(10.0, 50_000.0, 500)
    sig = pd.DataFrame({"leg_a_qty": notional / price, "leg_b_qty": -notional / price,
                        "leg_a_notional": notional, "leg_a_price": price})
    out = csv_quantities(sig, 0.0)
    q, q0 = out["leg_a_qty"].to_numpy(), sig["leg_a_qty"].to_numpy()
    assert (np.abs(q) <= np.abs(q0)).all(), "toward zero: never more than sized"
    assert ((q0 - q) / q0 < 10.0 ** (1 - QTY_SIG_FIGS)).all()
    digits = [len(f"{v:.15g}".replace(".", "").replace("-", "").lstrip("0").rstrip("0"))
              for v in q]
    assert max(digits) <= QTY_SIG_FIGS
    np.testing.assert_array_equal(out["leg_b_qty"], -out["leg_a_qty"])
    pd.testing.assert_frame_equal(out.drop(columns=["leg_a_qty", "leg_b_qty"]),
                                  sig.drop(columns=["leg_a_qty", "leg_b_qty"]))
    assert sig["leg_a_qty"].equals(pd.Series(notional / price)), "input untouched"
    zero = csv_quantities(pd.DataFrame({"leg_a_qty": [0.0, np.nan], "leg_b_qty": [0.0, 1.0]}),
                          0.0)
    assert zero["leg_a_qty"].iloc[0] == 0.0 and np.isnan(zero["leg_a_qty"].iloc[1])


def test_csv_quantities_with_a_lot_step_only_drop_float_noise():
    from revertible.scoring import csv_quantities

    q = np.arange(1, 200) * 0.001 * 3  # multiples of the step, with float noise
    out = csv_quantities(pd.DataFrame({"leg_a_qty": q, "leg_b_qty": q}), 0.001)
    assert all(len(repr(v).split(".")[-1]) <= 3 for v in out["leg_a_qty"])
    np.testing.assert_allclose(out["leg_a_qty"], q, rtol=0, atol=1e-12)


# ---- 5. headline metrics --------------------------------------------------------------------


def test_headline_names_point_at_logged_metrics():
    from revertible.tracking import HEADLINE, headline_metrics

    assert HEADLINE["0_holdout_rank_ic"] == "returns.holdout.revert.rank_ic"
    assert HEADLINE["0_net_bp_per_trade"] == "model.net_bp_per_trade"
    got = headline_metrics({"returns.holdout.revert.rank_ic": 0.03,
                            "model.net_bp_per_trade": 12.0})
    assert got == {"0_holdout_rank_ic": 0.03, "0_net_bp_per_trade": 12.0}


# ---- 6. the demo says why its Sharpe is high -----------------------------------------------------


def test_demo_sharpe_note_measures_the_planted_share():
    from revertible.demo import sharpe_note

    cut = pd.Timestamp("2024-06-01", tz="UTC")
    t = pd.DataFrame({
        "strategy": ["model"] * 3 + ["naive_beta"],
        "asset_a": ["AAA/USDT", "CCC/USDT", "BBB/USDT", "AAA/USDT"],
        "asset_b": ["BBB/USDT", "EEE/USDT", "AAA/USDT", "BBB/USDT"],
        "pnl": [100.0, -10.0, 50.0, 7.0], "notional_a": [1000.0] * 4, "notional_b": [1000.0] * 4,
        "fees": [2.0] * 4, "slippage": [0.5] * 4, "borrow": [0.5] * 4,
        "signal_time": [cut + pd.Timedelta(hours=h) for h in (1, 2, 3, 4)],
        "model_cutoff": [cut] * 4,
    })
    truth = pd.DataFrame({"asset_a": ["AAA/USDT"], "asset_b": ["BBB/USDT"], "kind": ["ou"],
                          "half_life_bars": [6.0]})
    note = sharpe_note(t, truth, {"model.sharpe": 6.5})
    flat = " ".join(note.split())
    assert "Sharpe (6.5)" in flat and "2 of its 3 trades" in flat
    assert "earn 150 of its 140 P&L (the other pairs -10)" in flat
    assert "entered after the model's holdout start" in flat
    assert "15.0 bp of its gross notional" in flat
    assert sharpe_note(t.iloc[:0], truth, {"model.sharpe": 6.5}) == ""
    assert sharpe_note(t, truth, {"model.sharpe": 1.4}) == ""  # below the alarm: nothing to say
    early = t.assign(signal_time=cut - pd.Timedelta(hours=1))
    assert "NOT after" in sharpe_note(early, truth, {"model.sharpe": 6.5})
