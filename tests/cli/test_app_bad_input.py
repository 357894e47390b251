"""Issue 20's silent or misleading answers, each through the command line, and no traceback.

Every case exits 2 with one ``error:`` line naming the value and the fix, or (a file name the
reader does not know) warns and goes on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli_output, copy_feathers, make_market, one_line_error, write_cli_config
from typer.testing import CliRunner

from revertible.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    return make_market(tmp_path_factory.mktemp("bad"), n_assets=5, days=40, seed=5)


@pytest.fixture
def cfg_file(tmp_path, market) -> Path:
    return write_cli_config(tmp_path / "c.yaml", market, 10, stores=tmp_path / "store")


def run(*args):
    return runner.invoke(app, [str(a) for a in args])








def _first_last(market: Path) -> tuple[pd.Timestamp, pd.Timestamp]:
    t = pd.read_feather(next(iter(sorted(market.glob("*.feather")))))["date"]
    return t.iloc[0], t.iloc[-1]


# ---- dates wholly outside the data -------------------------------------------------------------


def test_score_since_after_the_data_is_refused_before_the_model_loads(cfg_file, tmp_path):
    out = tmp_path / "s.parquet"
    flat = one_line_error(run("score", cfg_file, "--model", "runs:/nope/model", "--out", out,
                              "--since", "2030-01-01"),
                          "--since 2030-01-01 00:00 is after the data's last bar",
                          "choose dates inside it")
    assert "holds" in flat and not out.exists()
    assert not (tmp_path / "store").exists()  # no MLflow store created


def test_score_range_before_the_data_is_refused(cfg_file, tmp_path):
    one_line_error(run("score", cfg_file, "--model", "runs:/nope/model", "--out",
                       tmp_path / "s.parquet", "--since", "2019-01-01", "--until", "2020-01-01"),
                   "--until 2020-01-01 23:59 is before the data's first bar")


@pytest.mark.parametrize("command", ["pairs", "baskets"])
@pytest.mark.parametrize(("at", "where"), [("2030-01-01", "after the last bar"),
                                           ("2019-06-01T12:00", "before the first bar")])
def test_pairs_and_baskets_at_outside_the_data_is_refused(cfg_file, command, at, where):
    one_line_error(run(command, cfg_file, "--at", at), f"--at {at[:10]}", f"is {where} of the "
                   "data", "choose a time inside it")


def test_backtest_range_after_the_data_is_refused(cfg_file):
    one_line_error(run("backtest", cfg_file, "--walk-forward", "--since", "2030-01-01"),
                   "--since 2030-01-01 00:00 is after the data's last bar")


@pytest.mark.parametrize(("args", "needles"), [
    (("--fidelity", "low"), ("--fidelity low applies to --objective strategy only",)),
    (("--objective", "strategy", "--fidelity", "medium"), ("--fidelity 'medium'", "'low'")),
])
def test_tune_fidelity_is_checked_before_any_work(cfg_file, tmp_path, args, needles):
    one_line_error(run("tune", cfg_file, "--trials", 1, "--storage",
                       f"sqlite:///{tmp_path}/o.db", *args), *needles)
    assert not (tmp_path / "o.db").exists()


def test_until_as_a_date_means_the_whole_day():
    from revertible.cli._app import precheck

    kwargs = {"since": "2024-08-31", "until": "2024-08-31"}
    precheck(kwargs, "backtest")
    assert kwargs["until"] == "2024-08-31T23:59:59"
    kwargs = {"until": "2024-08-31T12:00"}
    precheck(kwargs, "backtest")
    assert kwargs["until"] == "2024-08-31T12:00"  # a time is kept as given


@pytest.mark.parametrize("command", ["score", "backtest", "hedge"])
def test_until_help_says_a_date_includes_the_whole_day(command):
    r = run(command, "--help")
    assert r.exit_code == 0
    text = " ".join(r.output.replace("│", " ").split())  # rich draws the help in a box
    assert "a date alone" in text and "includes that whole day" in text


# ---- config files -------------------------------------------------------------------------------


def test_duplicate_yaml_key_is_refused_with_both_lines(tmp_path, market):
    p = tmp_path / "dup.yaml"
    p.write_text(f"data: {{path: {market}}}\nlabel: {{horizon: 24}}\nlabel: {{horizon: 48}}\n")
    one_line_error(run("validate", p), f"config {p}", "key 'label' is given twice",
                   "line 3", "first on line 2", "keep one")
    p.write_text(f"data: {{path: {market}}}\nlabel:\n  horizon: 24\n  horizon: 12\n")
    one_line_error(run("validate", p), "key 'horizon' is given twice")


@pytest.mark.parametrize(("content", "needle"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not a text file"),
    (b"data: {path: x}\x00\x00", "a binary file"),
    (b"a,b,c\n1,2,3\n", "top level must be a mapping"),
])
def test_binary_or_non_yaml_config_is_refused(tmp_path, content, needle):
    p = tmp_path / "c.yaml"
    p.write_bytes(content)
    one_line_error(run("validate", p), str(p), needle)


# ---- data files ---------------------------------------------------------------------------------


def test_asset_dated_after_now_is_refused_naming_its_file(cfg_file, market, tmp_path):
    folder = copy_feathers(market, tmp_path / "future")
    victim = sorted(folder.glob("*.feather"))[0]
    df = pd.read_feather(victim)
    df["date"] = df["date"] + pd.Timedelta(days=3650 * 2)
    df.to_feather(victim)
    one_line_error(run("validate", cfg_file, "--data", folder), f"data file {victim.name}",
                   "is after the current time", "fix its timestamps or remove the file")


def test_file_with_an_unrecognised_name_is_named_in_a_warning(cfg_file, market, tmp_path):
    folder = copy_feathers(market, tmp_path / "odd")
    src = sorted(folder.glob("*.feather"))[0]
    (folder / "my prices.feather").write_bytes(src.read_bytes())
    r = run("validate", cfg_file, "--data", folder)
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert "warning:" in flat and "my prices.feather" in flat and "name them" in flat


# ---- positions, quantities, runs --------------------------------------------------------------


def _positions(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pos.csv"
    p.write_text(text)
    return p


def test_rebalance_same_asset_on_both_legs(cfg_file, market, tmp_path):
    a = sorted(market.glob("*.feather"))[0].name.split("-")[0].replace("_", "/")
    pos = _positions(tmp_path, f"asset_a,asset_b,qty_a,qty_b,target_ratio\n{a},{a},1,-1,1\n")
    one_line_error(run("rebalance", cfg_file, "--positions", pos), "row 1 has", "on both legs")


def test_rebalance_unknown_asset_is_named_as_such(cfg_file, market, tmp_path):
    a = sorted(market.glob("*.feather"))[0].name.split("-")[0].replace("_", "/")
    pos = _positions(tmp_path, f"asset_a,asset_b,qty_a,qty_b,target_ratio\n{a},ZZZ,1,-1,1\n")
    flat = one_line_error(run("rebalance", cfg_file, "--positions", pos),
                          "positions file", "row 1 asset ZZZ/USDT is unknown",
                          "no price file for it")
    assert "data.assets" not in flat


def test_rebalance_stale_leg_is_not_traded(cfg_file, market, tmp_path):
    folder = copy_feathers(market, tmp_path / "stale")
    files = sorted(folder.glob("*.feather"))
    a = files[0].name.split("-")[0].replace("_", "/")
    b = files[1].name.split("-")[0].replace("_", "/")
    df = pd.read_feather(files[1])
    df.iloc[:-22].to_feather(files[1])  # leg B's file ends 22 h early
    pos = _positions(tmp_path, f"asset_a,asset_b,qty_a,qty_b,target_ratio\n{a},{b},1,-1,50\n")
    r = run("rebalance", cfg_file, "--data", folder, "--positions", pos, "--json")
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert f"not traded: {b} is stale: its file {files[1].name} ends 22 h before" in flat
    import json

    orders = json.loads(r.output.strip().splitlines()[-1])["orders"]
    assert orders[0]["action"] == "stale" and orders[0]["order_b"] == 0


def test_runs_sort_by_an_unknown_metric_is_refused(cfg_file, tmp_path):
    import mlflow

    from revertible.config import load_config
    from revertible.tracking import Tracker

    cfg = load_config(cfg_file)
    tracker = Tracker(cfg.tracking).connect()
    with tracker.run(run_name="t", tags={"kind": "train"}):
        tracker.log_metrics({"holdout.roc_auc": 0.6})
    one_line_error(run("runs", cfg_file, "--sort", "no_such_metric"),
                   "--sort no_such_metric", "no train run here logged a metric of that name")
    ok = run("runs", cfg_file, "--sort", "holdout_auc")
    assert ok.exit_code == 0, ok.output
    mlflow.end_run()


def test_non_revertible_model_is_refused(cfg_file, tmp_path):
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path / "sk"
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    mlflow.sklearn.save_model(LogisticRegression().fit(x, [0, 0, 1, 1]), folder)
    flat = one_line_error(run("score", cfg_file, "--model", folder, "--out",
                              tmp_path / "s.parquet"),
                          "is not a revertible model", "sklearn", "revertible train")
    assert "MlflowException" not in flat


def test_absurd_hedge_quantity_is_refused(cfg_file):
    one_line_error(run("hedge", cfg_file, "--asset", "AAA", "--quantity", "1e30"),
                   "past the sanity bound of 1e+12 units")


# ---- no traceback, anywhere -------------------------------------------------------------------

COMMANDS = ("validate", "pairs", "episodes", "train", "tune", "score", "backtest", "hedge",
            "rebalance", "demo", "baskets", "sectors", "runs", "download", "monitor", "paper")


def test_every_command_has_help_and_bad_input_gives_no_traceback(cfg_file, tmp_path):
    from revertible.cli import app as the_app

    names = {c.name or c.callback.__name__ for c in the_app.registered_commands}
    assert names == set(COMMANDS)
    assert run("--help").exit_code == 0
    for command in COMMANDS:
        r = run(command, "--help")
        assert r.exit_code == 0 and "Traceback" not in r.output, (command, r.output)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    for command in COMMANDS:
        extra = {"score": ("--model", "x", "--out", tmp_path / "o.parquet"),
                 "tune": ("--trials", 1), "hedge": ("--asset", "AAA", "--quantity", 1),
                 "rebalance": ("--positions", tmp_path / "p.csv"),
                 "backtest": ("--model", "x"), "monitor": ("--model", "x"),
                 "paper": ("--model", "x", "--ledger", tmp_path / "l.sqlite")}.get(command, ())
        if command == "demo":
            r = run(command, "--config", binary, "--out", tmp_path / "d")
        else:
            r = run(command, binary, *extra)
        assert r.exit_code == 2, (command, r.output)
        assert "Traceback" not in r.output and r.exception is None or \
            isinstance(r.exception, SystemExit), (command, r.output)
        # the error is the last line
        assert cli_output(r).splitlines()[-1].startswith("error:"), (command, r.output)
