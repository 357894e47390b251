"""Fill models side by side; placebo: on random walks no fill model earns."""

from __future__ import annotations

import numpy as np
import pytest

from revertible.backtest import compare_fill_models
from revertible.config import config_from_mapping
from revertible.episodes import build_episodes
from revertible.synthetic import generate_market

SEEDS = (201, 202, 203, 204)
CFG = config_from_mapping({"data": {"path": "."}, "universe": {
    "min_history_days": 30, "min_quote_volume": 0, "min_abs_corr": 0.2},
    "sizing": {"min_abs_corr_exit": 0.2}, "costs": {"fill": "maker_pessimistic"}})


def _run(seed: int):
    panel, _ = generate_market(n_assets=8, n_bars=24 * 150, seed=seed, pairs=[])
    eps = build_episodes(panel, CFG)
    return panel, eps, compare_fill_models(panel, eps, CFG.costs).set_index("model")


@pytest.fixture(scope="module")
def placebo():
    panel, eps, _ = _run(SEEDS[0])
    return panel, eps, CFG


def test_no_fill_model_earns_on_random_walks():
    """Every spread is a random walk: pooled over seeds, every fill model loses its costs."""
    tabs = [_run(seed)[2] for seed in SEEDS]
    n = sum(t["trades"] for t in tabs)
    assert list(tabs[0].index) == ["taker", "maker_optimistic", "maker_pessimistic"]
    assert (n > 3000).all()
    net = sum(t["net_bp"] * t["trades"] for t in tabs) / n
    cost = sum(t["cost_bp"] * t["trades"] for t in tabs) / n
    se = np.sqrt(sum((t["net_bp_se"] * t["trades"]) ** 2 for t in tabs)) / n
    assert (net < 0).all(), net
    # before costs nothing is earned either: the gross is within 3 standard errors of 0 (the
    # trades of one market share assets, so the true error is larger than this one)
    assert ((net + cost).abs() < 3 * se + 1.0).all(), (net + cost, se)


def test_fill_models_order_costs(placebo):
    panel, eps, cfg = placebo
    tab = compare_fill_models(panel, eps, cfg.costs).set_index("model")
    assert tab.loc["taker", "fill_rate"] == 0.0 and tab.loc["maker_optimistic", "fill_rate"] == 1.0
    assert 0.0 < tab.loc["maker_pessimistic", "fill_rate"] < 1.0
    # spot: 10 bp per fill for taker and maker alike; taker adds 2 bp slippage per fill
    assert tab.loc["maker_optimistic", "cost_bp"] == pytest.approx(20.0, abs=0.5)
    assert tab.loc["taker", "cost_bp"] == pytest.approx(24.0, abs=0.5)
    # the pessimistic maker pays its legging on top of the maker fees, never less than them
    pess = tab.loc["maker_pessimistic"]
    assert pess["legging_bp"] > 0 and pess["cost_bp"] >= 20.0 - 0.5
    assert np.isfinite(tab["net_bp_se"]).all()
