"""The tracking tests' store: the session's model, a second training run and a backtest."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from revertible.backtest import backtest_command
from revertible.config import load_config
from revertible.tracking import Tracker
from revertible.workflows import train

from .support import _sets


@pytest.fixture(scope="session")
def store(generated_market, mlflow_store, trained_model):
    tmp = mlflow_store
    panel, _ = generated_market
    cfg, a = trained_model
    cfg_b = load_config("configs/demo.yaml", [*_sets(tmp), "model.num_leaves=7",
                                                  "model.calibration=sigmoid"], data="unused")
    lines: list[str] = []

    class Say:
        def print(self, msg, **_):
            lines.append(str(msg))

    b = train(cfg_b, panel=panel, promote=True, console=Say())
    bt = backtest_command(cfg, model_uri=a["model_uri"], panel=panel, tracker=Tracker(cfg.tracking))
    yaml_path = tmp / "c.yaml"
    yaml_path.write_text(
        "data: {path: unused}\n"
        f"tracking: {{uri: 'sqlite:///{tmp}/mlflow.db', experiment: track, "
        "registered_model: track-model}\n"
    )
    return {"tmp": tmp, "a": a, "b": b, "bt": bt, "lines": lines, "yaml": yaml_path,
            "client": MlflowClient(f"sqlite:///{tmp}/mlflow.db"), "cfg": cfg}
