"""Hedge a spot holding with a short perpetual; keep two-leg positions at their ratio (issue 13).

``_market`` loads spot, perpetual and funding; ``_plan`` sizes the short at one bar and holds the
leverage rule; ``_replay`` replays the holding alone against the hedged book (with the margin-call
policy); ``_verdict`` runs the leverage sweep and writes the one-line verdict; ``_report`` writes
the HTML page; ``_command`` ties them to MLflow; ``_rebalance`` is the live drift rebalancing
planner.
"""

from __future__ import annotations

from ._command import HEDGE_PLAN_KEYS, hedge_command, rebalance_command
from ._market import HedgeMarket, load_hedge_market, spot_name
from ._plan import (
    MAX_NOTIONAL,
    MAX_QUANTITY,
    RULE_MIN_BARS,
    check_hedge_inputs,
    check_notional,
    hedge_rule,
    hedge_target,
    leverage_for_distance,
    plan_hedge,
    settlement_bars,
    trailing_beta,
    trailing_vol,
    unwind_rule,
    worst_rally,
)
from ._rebalance import POSITION_COLUMNS, plan_rebalance, read_positions
from ._replay import REPLAY_COLUMNS, HedgeReplay, hedge_metrics, replay_hedge
from ._verdict import SWEEP_COLUMNS, SWEEP_LEVERAGES, hedge_verdict, leverage_sweep

__all__ = [
    "HEDGE_PLAN_KEYS",
    "hedge_command",
    "rebalance_command",
    "HedgeMarket",
    "load_hedge_market",
    "spot_name",
    "MAX_NOTIONAL",
    "MAX_QUANTITY",
    "RULE_MIN_BARS",
    "check_hedge_inputs",
    "check_notional",
    "hedge_rule",
    "leverage_for_distance",
    "worst_rally",
    "hedge_target",
    "plan_hedge",
    "settlement_bars",
    "trailing_beta",
    "trailing_vol",
    "unwind_rule",
    "POSITION_COLUMNS",
    "plan_rebalance",
    "read_positions",
    "REPLAY_COLUMNS",
    "HedgeReplay",
    "hedge_metrics",
    "replay_hedge",
    "SWEEP_COLUMNS",
    "SWEEP_LEVERAGES",
    "hedge_verdict",
    "leverage_sweep",
]
