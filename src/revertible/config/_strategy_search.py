"""The strategy search (``revertible tune --objective strategy``), config ``tuning.strategy``.

A trial replaces the strategy and label settings named in ``space`` (dotted config keys, the
same :class:`ParamRange` type as ``tuning.space``; ``--set tuning.strategy.space.X=...`` merges
into it like ``tuning.space``) and scores the walk-forward backtest of ``strategy`` after costs
on the *search* period: every bar before the last ``validation_days``. The validation period is
cut off the panel before anything the objective uses is built; the best trial is backtested on
it once (``--validate-best``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ._ranges import ParamRange

__all__ = ["StrategySearchConfig", "default_strategy_space"]


def default_strategy_space() -> dict[str, ParamRange]:
    """The default search space.

    Episodes (detection, labels, trade outcomes) depend on ``spread``, ``label`` and
    ``continue``: those dimensions are categorical so trials can share cached episode tables.
    """
    return {
        "spread.z_window": ParamRange(type="categorical", choices=(48, 72, 96, 144)),
        "label.entry": ParamRange(type="categorical", choices=(1.75, 2.0, 2.25, 2.5)),
        "label.horizon": ParamRange(type="categorical", choices=(24, 48, 72)),
        "label.exit": ParamRange(type="categorical", choices=(0.0, 0.25, 0.5, 0.75)),
        "label.stop": ParamRange(type="categorical", choices=(3.5, 4.0, 5.0)),
        "continue.take_profit": ParamRange(type="categorical", choices=(3.0, 4.0, 5.0)),
        "continue.stop": ParamRange(type="categorical", choices=(0.0, 0.5, 1.0)),
        "sizing.min_edge": ParamRange(low=0.0, high=0.002),
        "sizing.split": ParamRange(type="categorical", choices=("beta", "dollar")),
    }


class StrategySearchConfig(BaseModel):
    """Search over strategy and label settings with a walk-forward, after-cost objective."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    study: str | None = Field(None, description="Study name; null: `<name>-strategy`.")
    objective: Literal["net_bp", "sharpe"] = Field(
        "net_bp", description="net_bp: mean net bp per trade; sharpe: annualised Sharpe of "
        "daily returns (both of `strategy`, after costs, on the search period).")
    strategy: str = Field("model", description="The backtest strategy scored.")
    min_trades: int = Field(
        30, ge=1, description="Fewer trades in the search period: the trial scores `floor`.")
    floor: float = Field(
        -1000.0, description="Objective of a trial below min_trades (worse than any real one).")
    validation_days: int = Field(
        45, ge=1, description="Last days of the data held out of the search (validated once).")
    retrain_every_days: int | None = Field(
        60, ge=1, description="Walk-forward retrain interval in the search and its validation "
        "(fewer fits than backtest.retrain_every_days); null: the backtest's.")
    n_estimators: int | None = Field(
        100, ge=1, description="Trees per walk-forward model in the search and its validation "
        "(a cheaper model); null: model.n_estimators.")
    calibration_folds: int | None = Field(
        2, ge=2, description="CV folds of each walk-forward calibrator; null: the backtest's.")
    fidelity: Literal["full", "low"] = Field(
        "full", description="full: every trial is the search evaluator above; low: trials use "
        "a cheaper model (`low_n_estimators` trees at `low_learning_rate`) and the "
        "`rescore_top` best of them are re-evaluated at full fidelity before anything is "
        "reported (the best trial, its validation and the deflated Sharpe, which counts every "
        "evaluation at either fidelity).")
    low_n_estimators: int = Field(
        40, ge=1, description="Trees per walk-forward model of a low-fidelity trial.")
    low_learning_rate: float = Field(
        0.2, gt=0.0, le=1.0, description="Learning rate of a low-fidelity trial's models "
        "(fewer trees, larger steps: about the same n_estimators x learning_rate).")
    rescore_top: int = Field(
        3, ge=1, description="Best low-fidelity trials re-evaluated at full fidelity.")
    cache_size: int = Field(
        4, ge=1, description="Episode/feature tables kept in memory per process (LRU).")
    space: dict[str, ParamRange] = Field(
        default_factory=default_strategy_space,
        description="Dotted config keys -> ranges; `--set tuning.strategy.space.X=...` merges.")
