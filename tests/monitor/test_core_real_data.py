"""The monitor on the shared perpetuals: a calibrated model's live record, dependent labels.

``research/monitor_real_data.py`` is the measurement (README "Dependent labels"); here the
perpetuals, whose 36 pairs on 9 assets give labels that revert or fail together by day.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from revertible.config import load_config
from revertible.data import load_panel
from revertible.episodes import build_episodes
from revertible.model import forward_start
from revertible.monitor import live_record, reference_of, scan
from revertible.workflows import train

pytestmark = pytest.mark.slow


def test_the_perpetuals_live_record_does_not_cry_wolf(futures_dir, tmp_path):
    cfg = load_config("configs/binance-perp-1h.yaml",
                      [f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
                       f"tracking.artifact_location={(tmp_path / 'artifacts').as_uri()}"],
                      data=str(futures_dir))
    panel = load_panel(cfg.data)
    history = build_episodes(panel, cfg)  # once: training uses the same episodes
    model = train(cfg, panel=panel, episodes=history, register=False)["model"]
    ref = reference_of(model, panel, history, cfg)
    assert ref.source == "stored with the model"
    # the shared labels are dependent beyond chance: the training record says so
    assert ref.rho > 0 and ref.design_effect > 1.2 and ref.design["blocks"] > 100
    start, end = forward_start(model.meta), pd.Timestamp(panel.times[-1])
    record = live_record(panel, history, model, cfg, start)
    assert record["label"].notna().sum() > 400

    def alarm_days(r):
        res = scan(record, r, cfg.monitor, start, end, every="1D")
        return int((res["alerts"].map(len) > 0).sum()), len(res)

    with_d, days = alarm_days(ref)
    as_independent, _ = alarm_days(dataclasses.replace(ref, design_effect=1.0, rho=0.0))
    assert days > 40 and with_d <= 1 and as_independent > with_d  # measured: 0 and 3 of 46
