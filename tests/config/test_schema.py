"""The config's defaults are the ones docs/design.md documents as the reference."""

from __future__ import annotations

import pytest

from revertible.config import Config, CostConfig

#: (dotted key, docs/design.md's default). A change of a default fails here until the contract
#: says the same.
DOCUMENTED = [
    ("data.timeframe", "1h"),                      # hourly by default
    ("spread.beta_window", 720),
    ("spread.z_window", 72),
    ("spread.min_obs_frac", 0.9),
    ("universe.min_history_days", 90),
    ("universe.min_quote_volume", 1_000_000.0),
    ("universe.min_abs_corr", 0.5),
    ("universe.eligibility_window_days", 30),      # correlation over the last 30 days
    ("universe.volume_window_days", 30),           # median daily quote volume over 30 days
    ("universe.relationship", "both"),
    ("universe.listed_before_start", True),
    ("universe.min_obs_frac", 0.9),
    ("label.entry", 2.0),
    ("label.exit", 0.5),
    ("label.stop", 4.0),
    ("label.horizon", 48),
    ("continue_.take_profit", 4.0),                # the `continue` section
    ("continue_.stop", 0.5),
    ("continue_.horizon", None),                   # the label horizon
    ("sizing.capital", 100_000.0),
    ("sizing.buffer", 0.4),
    ("sizing.max_gross_leverage", 3.0),
    ("sizing.min_abs_beta", 0.1),
    ("sizing.split", "beta"),
    ("sizing.min_abs_corr_exit", 0.5),             # exit when |corr| over 30 days < 0.5
    ("sizing.min_edge", 0.0),
    ("sizing.kelly_fraction", 0.25),
    ("sizing.trade_cap_frac", 0.05),               # README: 5% of equity on leg A
    ("sizing.liquidation_sigmas", 3.0),
    ("backtest.rebalance_drift", None),            # seed 0.8%, off by default
    ("hedge.rebalance_drift", 0.008),              # the live plan's threshold while it is off
    ("backtest.n_trials", None),                   # else 1
    ("decision.confidence", 0.95),
    ("decision.calibration_bins", 20),
    ("decision.shrinkage", 200.0),
    ("decision.cluster_days", 7),                  # a standard error clustered by week
    ("decision.drift_days", None),                 # off by default
    ("decision.common_level", "adverse"),
    ("costs.venue", "spot"),
    ("costs.fill", "taker"),
    ("costs.slippage_bps", 2.0),
    ("costs.borrow_rate_daily", 0.0002),           # 0.02% a day
    ("costs.slippage_model", "constant"),
    ("tracking.uri", "sqlite:///experiments/mlflow.db"),
    ("tuning.storage", "sqlite:///experiments/optuna.db"),
]


@pytest.mark.parametrize(("key", "value"), DOCUMENTED, ids=[k for k, _ in DOCUMENTED])
def test_default_is_the_documented_one(key, value):
    node = Config(data={"path": "unused"})
    for part in key.split("."):
        node = getattr(node, part)
    assert node == value


@pytest.mark.parametrize(("venue", "fill", "fee", "slippage"), [
    ("spot", "taker", 0.001, 0.0002), ("spot", "maker", 0.001, 0.0),
    ("perp", "taker", 0.0005, 0.0002), ("perp", "maker", 0.0002, 0.0),
])
def test_venue_presets_are_the_documented_fees(venue, fill, fee, slippage):
    """docs/design.md "Costs": spot 0.10% taker and maker, perp 0.05% / 0.02%; 2 bp per taker
    fill, none for maker fills."""
    costs = CostConfig(venue=venue, fill=fill)
    assert (costs.fee, costs.slippage) == pytest.approx((fee, slippage), abs=1e-15)
