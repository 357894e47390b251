"""``revertible score`` and ``backtest`` read the same tracking store."""

from __future__ import annotations

from conftest import cli_output

from .support import run


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
