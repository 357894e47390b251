"""The drift rule of a hedge: trade leg B back to the target only past the threshold."""

from __future__ import annotations

import pandas as pd
import pytest

from revertible.hedge import (
    plan_rebalance,
)


def test_plan_rebalance_trades_leg_b_back_to_the_target_only_past_the_threshold():
    # long 1 A at 110 (was 100), short 10 B at 10: ratio B/A = 100/110 vs target 1.0
    pos = pd.DataFrame({"asset_a": ["A/USDT", "D/USDT"], "asset_b": ["B/USDT", "C/USDT"],
                        "qty_a": [1.0, 1.0], "qty_b": [-10.0, -10.0], "target_ratio": [1.0, 1.0]})
    prices = {"A/USDT": 110.0, "B/USDT": 10.0, "C/USDT": 10.05, "D/USDT": 100.0}
    plan = plan_rebalance(pos, prices, 0.008)
    assert plan["drift"].iloc[0] == pytest.approx(100.0 / 110.0 - 1.0)
    assert plan["order_a"].iloc[0] == 0.0  # leg A is the anchor, as in the backtest
    assert (-10.0 + plan["order_b"].iloc[0]) * 10.0 == pytest.approx(-110.0)
    assert plan["action"].tolist() == ["rebalance", "none"]  # 0.5% drift < 0.8%
    assert plan["order_b"].iloc[1] == 0.0
