"""``revertible backtest`` through the CLI: the summary on stdout, or on stderr with ``--json``."""

from __future__ import annotations

import json

import pytest
from conftest import make_market

from revertible.cli import app

from .support import runner


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
    # the line above the table says what the figures are (the table alone gave no period,
    # costs or units)
    head = plain.stdout.splitlines()[plain.stdout.splitlines().index(rows[0]) - 1]
    assert head.startswith("equity 20") and "UTC at spot taker costs" in head, head
    assert "net bp/trade = P&L after costs per unit of gross notional" in head, head
    # without --out the report is only in the run: the last lines say where (they said "run <id>")
    flat = " ".join(plain.stderr.split())
    assert "report.html is among its artifacts (file://" in flat, flat
    assert "--out DIR also writes it to a folder" in flat


def test_backtest_help_states_the_defaults():
    text = " ".join(runner.invoke(app, ["backtest", "--help"]).output.replace("│", " ").split())
    assert "with --model the model's holdout start" in text, text
    assert "default the last bar" in text and "only in the MLflow run" in text, text


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
