"""Training's development split: too little data is one line (exit 2), never a traceback."""

from __future__ import annotations

import pytest
from conftest import make_market, one_line_error, write_cli_config
from typer.testing import CliRunner

from revertible.cli import app


@pytest.mark.parametrize("command", [("train",), ("tune", "--trials", "1")])
def test_data_too_short_for_any_episode_is_one_line(tmp_path, command):
    # two days of bars (a fresh download with a recent --since): no pair is eligible yet, so no
    # episode; `train` and `tune` ended in "ValueError: no episodes to split" with a traceback
    market = make_market(tmp_path, n_assets=4, days=2, seed=3)
    cfg = write_cli_config(tmp_path / "c.yaml", market, 30, stores=tmp_path / "stores")
    res = CliRunner().invoke(app, [command[0], str(cfg), *command[1:]],
                             env={"MLFLOW_TRACKING_URI": ""})
    one_line_error(res, "no labelled divergence episode in the data", "need at least 100")
