"""Backtest: cost-aware replay of scored divergences next to naive baselines, HTML report."""

from __future__ import annotations

from ..costs import funding_schedule
from ._book import unit_sizes
from ._command import (
    SUMMARY_METRICS,
    TIMED_STAGES,
    backtest_command,
    backtest_summary,
    stage_times,
)
from ._engine import (
    RANKED,
    STRATEGIES,
    BacktestResult,
    run_backtest,
    strategy_names,
)
from ._fill_compare import compare_fill_models
from ._ledger import TRADE_COLUMNS, reprice_maker_pessimistic
from ._metrics import (
    LARGEST_TRADES,
    MIN_YEARS,
    bars_per_year_of,
    core_metrics,
    per_trade_note,
    performance_metrics,
    reversion_by_decile,
    stake_metrics,
    strategy_metrics,
    trade_metrics,
)
from ._plans import OUTCOMES, decision_carry
from ._predict import WalkForwardPredictions, given_score_predictions, walk_forward_predictions
from ._report import (
    PLOTS,
    TABLE_METRICS,
    Report,
    best_worst_pairs,
    build_report,
    log_backtest,
    metrics_table,
    render_html,
    render_images,
    write_outputs,
)
from ._signals import EXIT_REASONS, exit_paths, order_keys
from ._stats import (
    bootstrap_mean_ci,
    ci_text,
    daily_returns,
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe,
    sharpe_by_period,
)
from ._walkforward import fit_block_model, walk_forward_blocks

__all__ = [
    "OUTCOMES",
    "decision_carry",
    "LARGEST_TRADES",
    "MIN_YEARS",
    "per_trade_note",
    "stake_metrics",
    "best_worst_pairs",
    "backtest_command",
    "backtest_summary",
    "SUMMARY_METRICS",
    "TIMED_STAGES",
    "stage_times",
    "STRATEGIES",
    "RANKED",
    "EXIT_REASONS",
    "TRADE_COLUMNS",
    "BacktestResult",
    "strategy_names",
    "funding_schedule",
    "exit_paths",
    "order_keys",
    "unit_sizes",
    "walk_forward_blocks",
    "fit_block_model",
    "given_score_predictions",
    "walk_forward_predictions",
    "WalkForwardPredictions",
    "run_backtest",
    "performance_metrics",
    "compare_fill_models",
    "reprice_maker_pessimistic",
    "bars_per_year_of",
    "trade_metrics",
    "strategy_metrics",
    "core_metrics",
    "reversion_by_decile",
    "bootstrap_mean_ci",
    "ci_text",
    "daily_returns",
    "deflated_sharpe",
    "expected_max_sharpe",
    "probabilistic_sharpe",
    "sharpe_by_period",
    "PLOTS",
    "TABLE_METRICS",
    "Report",
    "build_report",
    "render_images",
    "render_html",
    "metrics_table",
    "write_outputs",
    "log_backtest",
]
