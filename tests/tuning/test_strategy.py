"""A strategy-search trial's shortcuts change nothing it reports (generated market).

``evaluate_strategy(light=True)`` (the default: one strategy replayed, core metrics, the
prediction cache) against ``light=False`` (the full walk-forward backtest of
every strategy, as before the shortcuts): same figures, to the bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from revertible.backtest import STRATEGIES, run_backtest
from revertible.config import load_config
from revertible.errors import ConfigError
from revertible.synthetic import generate_market
from revertible.tuning import evaluate_strategy, prepare_strategy_data
from revertible.tuning._strategy import config_with, search_config

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "demo.yaml")
SETS = ["model.min_child_samples=20", "cv.n_folds=3", "backtest.min_train_days=60",
        "backtest.bootstrap_samples=100", "tuning.strategy.validation_days=30",
        "tuning.strategy.n_estimators=20", "tuning.strategy.retrain_every_days=30",
        "tuning.strategy.min_trades=5",
        # the shortcuts are what is tested, not the gate: a low bar so the model trades here
        "costs.venue=perp", "costs.fill=maker", "decision.confidence=0.55",
        "decision.drift_days=null", "decision.common_level=estimate",
        "decision.min_bin_trades=20", "decision.calibration_bins=5"]
FIGURES = ("value", "trades", "net_bp", "sharpe_daily", "total_return", "max_drawdown",
           "deflated_sharpe", "below_min_trades", "start", "end", "daily_returns")


@pytest.fixture(scope="module")
def market():
    panel, _ = generate_market(n_assets=8, n_bars=24 * 160, seed=3)
    return panel


@pytest.fixture(scope="module")
def cfg():
    return load_config(CONFIG, SETS, data="unused")


def _same(a: dict, b: dict) -> None:
    for k in FIGURES:
        np.testing.assert_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("params", [
    {},
    {"sizing.min_edge": 0.0002, "sizing.split": "dollar"},
    {"label.exit": 0.25, "continue.take_profit": 3.0, "continue.stop": 1.0},  # no mirror
    {"tuning.strategy.strategy": "model_revert", "tuning.strategy.objective": "sharpe"},
    {"tuning.strategy.strategy": "naive_beta"},
])
def test_light_trial_equals_the_full_backtest(market, cfg, params):
    tcfg = cfg
    for k, v in params.items():
        if k.startswith("tuning."):
            st = tcfg.tuning.strategy.model_copy(update={k.rsplit(".", 1)[1]: v})
            tcfg = tcfg.model_copy(update={"tuning": tcfg.tuning.model_copy(
                update={"strategy": st})})
        else:
            tcfg = config_with(tcfg, {k: v})
    light = evaluate_strategy(prepare_strategy_data(market, tcfg), tcfg)
    full = evaluate_strategy(prepare_strategy_data(market, tcfg), tcfg, light=False)
    assert light["trades"] >= 5 and not light["predictions_cached"]
    _same(light, full)


def test_cached_predictions_give_the_same_trial(market, cfg):
    data = prepare_strategy_data(market, cfg)
    first = evaluate_strategy(data, cfg)
    other = config_with(cfg, {"sizing.min_edge": 0.003, "costs.slippage_bps": 5.0})
    again = evaluate_strategy(data, other)  # same episodes and models: reused
    assert again["cached"] and again["predictions_cached"]
    assert data.predictions.hits == 1 and data.predictions.misses == 1
    assert again["timings"]["models_s"] < first["timings"]["models_s"]
    fresh = evaluate_strategy(prepare_strategy_data(market, other), other, light=False)
    _same(again, fresh)
    assert again["value"] != first["value"]  # the sizing change did reach the replay
    # a model or walk-forward setting is part of the key: refitted, not reused
    refit = config_with(cfg, {"backtest.min_train_days": 70})
    assert not evaluate_strategy(data, refit)["predictions_cached"]
    assert data.predictions.misses == 2
    # so is every setting the block return calibrators are fitted with
    from revertible.model import return_calibrator
    from revertible.tuning._strategy import _MODEL_KEYS

    fitted = {f"decision.{k}" for k in ("calibration_bins", "shrinkage", "min_bin_trades",
                                        "cluster_days", "confidence", "drift_days",
                                        "common_level")}
    assert fitted <= set(_MODEL_KEYS)
    assert len(return_calibrator(cfg).get_params()) == len(fitted)


def test_light_backtest_metrics_equal_the_full_ones(market, cfg):
    ev = search_config(cfg)
    full = run_backtest(ev, market, walk_forward=True)
    light = run_backtest(ev, market, walk_forward=True, strategies=("model",), light=True)
    assert light.strategies == ["model"] and light.book_risk is None
    assert light.predictions is not None
    keys = [k for k in light.metrics if k.startswith("model.")]
    assert {"model.trades", "model.net_bp_per_trade", "model.deflated_sharpe"} <= set(keys)
    for k in keys:
        np.testing.assert_equal(light.metrics[k], full.metrics[k], err_msg=k)
    np.testing.assert_array_equal(light.equity["model"].to_numpy(),
                                  full.equity["model"].to_numpy())
    # the light run fits the very block models of the full one
    np.testing.assert_array_equal(light.predictions.heads, full.predictions.heads)
    np.testing.assert_array_equal(light.predictions.probability, full.predictions.probability)
    assert np.isfinite(full.predictions.probability).any()
    # reusing the predictions skips the fits and replays the same trades
    again = run_backtest(ev, market, walk_forward=True, strategies=("model",), light=True,
                         predictions=light.predictions)
    assert again.trades.equals(light.trades)


def test_unknown_strategy_is_refused(market, cfg):
    with pytest.raises(Exception, match="strategies"):
        run_backtest(search_config(cfg), market, walk_forward=True, strategies=("modell",))
    st = cfg.tuning.strategy.model_copy(update={"strategy": "modell"})
    bad = cfg.model_copy(update={"tuning": cfg.tuning.model_copy(update={"strategy": st})})
    with pytest.raises(ConfigError, match="not a backtest strategy"):
        evaluate_strategy(prepare_strategy_data(market, bad), bad)
    assert "model" in STRATEGIES
