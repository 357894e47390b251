"""Bar size and spread models through the CLI: bad input -> one-line error, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import cli_output, make_market, write_cli_config
from typer.testing import CliRunner

from revertible.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    return make_market(tmp_path_factory.mktemp("market"), n_assets=4, days=60, seed=5)


def _run(*args) -> object:
    return runner.invoke(app, [str(a) for a in args])


def _one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    msg = cli_output(result)
    assert msg.startswith("error:") and "Traceback" not in msg and "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_validate_resampled(tmp_path, market):
    cfg = write_cli_config(tmp_path / "c.yaml", market, 10)
    r = _run("validate", cfg, "--set", "data.resample=4h")
    assert r.exit_code == 0, r.output
    assert "ok: 4 assets" in r.output


@pytest.mark.parametrize(
    ("override", "needles"),
    [
        ("data.timeframe=15m", ("timeframe 15m",)),  # finer than the files: none found
        ("data.resample=30m", ("data.resample='30m' must be a multiple",)),
        ("spread.z_window=2", ("spread.z_window=2 bars is too short",)),
        ("spread.beta_model=garch", ("spread.beta_model", "'ols' or 'kalman'")),
        ("spread.kalman_state_noise=-1e-6", ("spread.kalman_state_noise", "greater than 0")),
        ("spread.kalman_obs_noise=-1", ("spread.kalman_obs_noise", "greater than 0")),
    ],
)
def test_bad_bar_sizes_exit_2(tmp_path, market, override, needles):
    cfg = write_cli_config(tmp_path / "c.yaml", market, 10)
    _one_line_error(_run("validate", cfg, "--set", override), *needles)


def test_episodes_at_4h_with_kalman_and_durations(tmp_path, market):
    import pandas as pd

    cfg = write_cli_config(tmp_path / "c.yaml", market, 10)
    out = tmp_path / "e.parquet"
    r = _run("episodes", cfg, "--out", out, "--set", "data.resample=4h", "--set",
             "spread.beta_model=kalman", "--set", "spread.beta_window=10d", "--set",
             "spread.z_window=2d", "--set", "label.horizon=1d")
    assert r.exit_code == 0, r.output
    df = pd.read_parquet(out)
    assert len(df) > 0 and df["bars_held"].max() <= 6  # 1 day of 4h bars
    times = pd.DatetimeIndex(df["entry_time"])
    assert (times.hour % 4 == 0).all() and (times.minute == 0).all()


@pytest.mark.parametrize("override", ["costs.fill=maker_pessimistic",
                                      "costs.slippage_model=estimated",
                                      "costs.max_volume_share=0.1"])
def test_costs_the_book_does_not_replay_are_refused(tmp_path, market, override):
    """Not silently replayed as the optimistic maker or the constant slippage."""
    cfg = write_cli_config(tmp_path / "c.yaml", market, 10)
    key = override.split("=")[0]
    _one_line_error(_run("backtest", cfg, "--walk-forward", "--set", override), key,
                    "not replayed by the backtest book yet")
    _one_line_error(_run("score", cfg, "--model", tmp_path / "none", "--out", tmp_path / "s.pq",
                         "--set", override), key)
    assert not (tmp_path / "s.pq").exists()
    assert _run("validate", cfg, "--set", override).exit_code == 0
