"""Errors that never lie and never trace back: each case through the command line.

Every bad input exits 2 with one ``error:`` line naming the rule, the value and the fix; checks
that need no data run before any data is loaded and before an MLflow store is created.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import copy_feathers, one_line_error, write_cli_config
from typer.testing import CliRunner

from revertible.cli import app
from revertible.config import load_config
from revertible.synthetic import generate_market

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def market(market_dir) -> Path:
    return market_dir


@pytest.fixture
def cfg_file(tmp_path, market) -> Path:
    return write_cli_config(tmp_path / "c.yaml", market, 10, stores=tmp_path / "store")


def run(*args, env: dict[str, str] | None = None):
    return runner.invoke(app, [str(a) for a in args], env=env)






# ---- outputs ------------------------------------------------------------------------------------


def test_output_path_is_a_directory(cfg_file, tmp_path):
    (tmp_path / "e.parquet").mkdir()
    t0 = time.perf_counter()
    r = run("episodes", cfg_file, "--out", tmp_path / "e.parquet")
    one_line_error(r, "e.parquet", "is a directory")
    assert time.perf_counter() - t0 < 5, "checked before loading the data"


def test_output_path_not_writable(cfg_file, tmp_path):
    # /proc refuses new files even for root, so this runs the same as any user
    r = run("episodes", cfg_file, "--out", "/proc/revertible-e.parquet")
    one_line_error(r, "/proc")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_output_folder_read_only(cfg_file, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        one_line_error(run("episodes", cfg_file, "--out", ro / "e.parquet"), "not writable")
    finally:
        ro.chmod(0o700)


def test_backtest_out_is_a_file(cfg_file, tmp_path):
    (tmp_path / "report").write_text("x")
    r = run("backtest", cfg_file, "--walk-forward", "--out", tmp_path / "report")
    one_line_error(r, "is a file, not a folder")
    assert not (tmp_path / "store").exists()


# ---- tracking store -----------------------------------------------------------------------------


def test_unreachable_tracking_server_when_scoring(cfg_file, tmp_path):
    t0 = time.perf_counter()
    r = run("score", cfg_file, "--model", "models:/revertible-reversion@champion",
            "--out", tmp_path / "s.csv", "--set", "tracking.uri=http://127.0.0.1:9",
            env={"MLFLOW_TRACKING_URI": ""})
    msg = one_line_error(r, "http://127.0.0.1:9", "unreachable")
    assert "alias" not in msg and "not found" not in msg
    assert time.perf_counter() - t0 < 15


def test_scoring_from_a_store_that_does_not_exist(cfg_file, tmp_path):
    r = run("score", cfg_file, "--model", "models:/revertible-reversion@champion",
            "--out", tmp_path / "s.csv", env={"MLFLOW_TRACKING_URI": ""})
    one_line_error(r, "no database", "train")
    assert not (tmp_path / "store" / "mlflow.db").exists(), "reading must not create a store"


# ---- config -------------------------------------------------------------------------------------


def test_unset_env_var_in_config(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("data: {path: '${REVERTIBLE_H11_UNSET}/spot'}\n")
    msg = one_line_error(run("validate", p, env={"REVERTIBLE_H11_UNSET": ""}),
                         "REVERTIBLE_H11_UNSET", "not set", "data.path")
    assert "does not exist" not in msg


def test_env_var_default_still_works(tmp_path, market):
    p = tmp_path / "c.yaml"
    p.write_text("data: {path: '${REVERTIBLE_H11_UNSET:-" + str(market) + "}'}\n")
    r = run("validate", p, env={"REVERTIBLE_H11_UNSET": ""})
    assert r.exit_code == 0, r.output


def test_bad_set_value_blames_the_set(cfg_file):
    msg = one_line_error(run("validate", cfg_file, "--set", "label.horizon=abc"),
                         "--set label.horizon=abc")
    assert str(cfg_file) not in msg, "the YAML file is not at fault"


def test_corr_exit_above_entry_is_refused(cfg_file):
    one_line_error(run("validate", cfg_file, "--set", "sizing.min_abs_corr_exit=0.5"),
                   "sizing.min_abs_corr_exit=0.5", "universe.min_abs_corr=0.3")


def test_shipped_configs_pass_the_cross_check():
    for p in sorted((REPO / "configs").glob("*.yaml")):
        cfg = load_config(p, data="unused")
        assert cfg.sizing.min_abs_corr_exit <= cfg.universe.min_abs_corr, p


# ---- cheap checks first -------------------------------------------------------------------------


def test_backtest_since_after_until_fails_fast_without_a_store(cfg_file, tmp_path):
    t0 = time.perf_counter()
    r = run("backtest", cfg_file, "--walk-forward", "--since", "2024-03-01",
            "--until", "2024-02-01")
    one_line_error(r, "--since 2024-03-01", "--until 2024-02-01")
    assert time.perf_counter() - t0 < 5
    assert not (tmp_path / "store").exists(), "no mlflow.db before failing"


def test_tune_zero_trials_fails_fast_without_a_store(cfg_file, tmp_path):
    t0 = time.perf_counter()
    one_line_error(run("tune", cfg_file, "--trials", "0"), "--trials must be >= 1")
    assert time.perf_counter() - t0 < 5
    assert not (tmp_path / "store").exists()


def test_backtest_on_bad_data_leaves_no_store(cfg_file, tmp_path):
    r = run("backtest", cfg_file, "--walk-forward", "--data", tmp_path / "nodata")
    one_line_error(r, "nodata", "does not exist")
    assert not (tmp_path / "store").exists(), "the SQLite store is created on the first run"


# ---- data ---------------------------------------------------------------------------------------


def test_data_pointing_at_a_file(cfg_file, market):
    f = sorted(market.glob("*.feather"))[0]
    msg = one_line_error(run("validate", cfg_file, "--data", f), "is a file, not a folder",
                         str(market))
    assert "does not exist" not in msg


def test_garbage_csv_row(cfg_file, market, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    for f in sorted(market.glob("*.feather"))[:3]:
        df = pd.read_feather(f)
        df["date"] = df["date"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        text = df.to_csv(index=False)
        if f.name.startswith("BBB"):
            lines = text.splitlines()
            lines.insert(5, "@@garbage,,,row")
            text = "\n".join(lines) + "\n"
        (folder / f.name.replace(".feather", ".csv")).write_text(text)
    msg = one_line_error(run("validate", cfg_file, "--data", folder), "BBB_USDT-1h.csv",
                         "'@@garbage'", "not a timestamp")
    assert "no timezone" not in msg


def test_high_below_low(cfg_file, market, tmp_path):
    folder = copy_feathers(market, tmp_path / "hl")
    f = folder / "BBB_USDT-1h.feather"
    df = pd.read_feather(f)
    df.loc[10, ["high", "low"]] = df.loc[10, ["low", "high"]].to_numpy()
    df.loc[10, "low"] = df.loc[10, "high"] * 1.01
    df.to_feather(f)
    one_line_error(run("validate", cfg_file, "--data", folder), "BBB_USDT-1h.feather",
                   "row 11", "high >= low")


def test_one_asset_universe(cfg_file, tmp_path):
    r = run("episodes", cfg_file, "--set", "data.assets=[AAA/USDT]", "--out",
            tmp_path / "e.parquet")
    one_line_error(r, "only 1 asset", "AAA/USDT", "at least 2")
    assert not (tmp_path / "e.parquet").exists()


def test_other_bar_size_file_is_reported(cfg_file, market, tmp_path):
    folder = copy_feathers(market, tmp_path / "mixed")
    (folder / "AAA_USDT-1h.feather").rename(folder / "AAA_USDT-4h.feather")
    r = run("validate", cfg_file, "--data", folder)
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert "warning:" in flat and "AAA_USDT-4h.feather" in flat and "timeframe=1h" in flat


def test_validate_reports_assets_ending_early(cfg_file, market, tmp_path):
    folder = copy_feathers(market, tmp_path / "stale")
    f = folder / "CCC_USDT-1h.feather"
    pd.read_feather(f).iloc[:-22].reset_index(drop=True).to_feather(f)
    r = run("validate", cfg_file, "--data", folder)
    assert r.exit_code == 0, r.output
    flat = " ".join(r.output.split())
    assert "1 of 6 assets end before the last bar" in flat and "22 h early" in flat
    assert "CCC/USDT" in flat and "stale" in flat


def _with_gap(market: Path, dst: Path, days: int) -> Path:
    folder = copy_feathers(market, dst)
    f = folder / "DDD_USDT-1h.feather"
    df = pd.read_feather(f)
    mid = len(df) // 2
    df.drop(index=range(mid, mid + days * 24)).reset_index(drop=True).to_feather(f)
    return folder


def test_reused_ticker_gap_is_refused(cfg_file, market, tmp_path):
    folder = _with_gap(market, tmp_path / "gap", days=10)
    one_line_error(run("validate", cfg_file, "--data", folder), "DDD_USDT-1h.feather",
                   "data.max_gap_days=7", "10 days", "data.join_gaps")
    r = run("validate", cfg_file, "--data", folder, "--set", "data.join_gaps=true")
    assert r.exit_code == 0, r.output
    assert "joined across it" in " ".join(r.output.split())
    r = run("validate", cfg_file, "--data", folder, "--set", "data.max_gap_days=12")
    assert r.exit_code == 0, r.output


# ---- defaults and polish ------------------------------------------------------------------------


def test_version():
    from revertible import __version__

    r = run("--version")
    assert r.exit_code == 0 and r.output.strip() == f"revertible {__version__}"


def test_flags_show_both_forms():
    r = run("train", "--help")
    flat = " ".join(r.output.split())
    assert "--promote" in flat and "--no-promote" in flat


def test_demo_config_ships_with_the_package(tmp_path, monkeypatch):
    from revertible.demo import DEMO_CONFIG

    assert DEMO_CONFIG.read_text() == (REPO / "configs" / "demo.yaml").read_text()
    monkeypatch.chdir(tmp_path)  # any directory
    cfg = load_config(DEMO_CONFIG, data=str(tmp_path))
    assert cfg.name == "demo"


def test_plain_progress_lines_without_a_terminal(capsys, monkeypatch):
    from revertible.cli import _app

    monkeypatch.setattr(_app, "PLAIN_PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(_app, "PLAIN_PROGRESS_EVERY", 0.0)
    with _app.progress_bar("features (pairs)") as update:
        for i in range(1, 4):
            update(i, 3)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "features (pairs): 1/3 after 0 s"
    assert lines[-1].startswith("features (pairs): done 3/3 in ")


def test_listed_before_start_keeps_the_first_days():
    from revertible.config import UniverseConfig
    from revertible.universe import asset_eligibility

    panel, _ = generate_market(n_assets=6, n_bars=24 * 40, seed=3)
    at_start = np.isfinite(panel.close[0])
    assert at_start.any() and not at_start.all(), "the market has late listings"
    kw = {"min_history_days": 30, "min_quote_volume": 0.0}
    old = asset_eligibility(panel, UniverseConfig(**kw, listed_before_start=False))
    new = asset_eligibility(panel, UniverseConfig(**kw))
    day2 = 24 * 2
    assert not old[day2].any(), "counting from the folder's first bar loses 30 days"
    np.testing.assert_array_equal(new[day2] & at_start, np.isfinite(panel.close[day2]) & at_start)
    # a late listing still needs its own 30 days of history
    late = np.flatnonzero(~at_start)
    assert not new[day2, late].any()
    assert (new >= old).all(), "the rule only adds bars"
