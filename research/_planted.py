"""What the planted-score studies share (``decision_gate.py``, ``gate_bias.py``).

Their options (config, overrides at perpetual taker costs by default, seeds, the planted
score's rank IC) and their data: the config's panel and its episodes in time order, as
training orders them (:func:`revertible.model.prepare_dataset`).
"""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from revertible.config import Config
from revertible.data import load_panel
from revertible.episodes import build_episodes


def study_options(description: str, seeds: int) -> argparse.ArgumentParser:
    """A parser with ``--config``, ``--set`` (default perp taker costs), ``--seeds``, ``--ic``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--config", default="configs/binance-spot-1h.yaml")
    ap.add_argument("--set", action="append", default=["costs.venue=perp"],
                    help="config overrides (default: perp taker costs)")
    ap.add_argument("--seeds", type=int, default=seeds)
    ap.add_argument("--ic", type=float, default=0.05)
    return ap


def study_data(cfg: Config) -> tuple[Any, pd.DataFrame]:
    """The config's panel and its episodes sorted by entry time, then pair (stable)."""
    panel = load_panel(cfg.data)
    eps = build_episodes(panel, cfg).sort_values(["entry_time", "asset_a", "asset_b"],
                                                 kind="stable").reset_index(drop=True)
    return panel, eps
