"""The config's sections: one frozen pydantic model each, every default defined once, here.

Unknown keys are rejected, ranges are checked. Loading YAML, ``--set`` overrides and flattening
for MLflow are in :mod:`._load`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ._baskets import BasketsConfig
from ._continue import ContinueConfig
from ._costs import CostConfig
from ._hedge import HedgeConfig
from ._live import MonitorConfig, ScoringConfig
from ._ranges import ParamRange
from ._strategy_search import StrategySearchConfig
from ._timeframe import check_day_windows, duration, field_minimums, resolve_windows

__all__ = [
    "Config",
    "DataConfig",
    "UniverseConfig",
    "SpreadConfig",
    "LabelConfig",
    "ComputeConfig",
    "FeatureConfig",
    "ModelConfig",
    "CVConfig",
    "TrackingConfig",
    "TuningConfig",
    "ParamRange",
    "CostConfig",
    "SizingConfig",
    "BacktestConfig",
    "DecisionConfig",
]

BARS_PER_DAY = 24  # hourly only; a run's own: Panel.bars_per_day (config/_timeframe.py)


_RETIRED_SIZING = {
    "method": "the stake is fractional Kelly on the calibrated lower bound (sizing."
    "kelly_fraction); remove sizing.method",
    "risk_per_trade": "the stake is min(sizing.trade_cap_frac, kelly_fraction x lower bound / "
    "second moment); remove sizing.risk_per_trade",
}
_RETIRED_BACKTEST = {
    "fixed_notional_frac": "use sizing.trade_cap_frac (the same leg-A share of equity, now also "
    "the per-trade cap of live sizing)",
    "min_probability": "the model strategies trade on the calibrated decision (decision."
    "confidence); remove backtest.min_probability",
}


def _refuse_retired(data: Any, section: str, retired: dict[str, str]) -> Any:
    """Refuse a key that lost its meaning, naming what replaces it."""
    if isinstance(data, dict):
        for key, fix in retired.items():
            if key in data:
                raise ValueError(f"{section}.{key} is retired: {fix}")
    return data


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class DataConfig(_Frozen):
    """Where the market data lives and how it is read and aligned."""

    path: Path = Field(description="Folder of per-asset price files.")
    format: Literal["auto", "feather", "csv", "parquet"] = "auto"
    timeframe: str = Field("1h", description="Bar size; files whose spacing differs are rejected.")
    assets: tuple[str, ...] | None = Field(
        None, description="Restrict to these assets (e.g. ['BTC/USDT', 'ETH/USDT']); all if null."
    )
    funding_path: Path | None = Field(
        None, description="Folder of freqtrade '-8h-funding_rate.feather' files (optional)."
    )
    ffill_limit: int = Field(
        0, ge=0, description="Forward-fill at most this many missing bars per asset (0: none)."
    )
    min_rows: int = Field(
        2, ge=2, description="A file with fewer rows than this is rejected as too short."
    )
    max_gap_days: float = Field(
        7.0, gt=0.0, description="A gap inside an asset's history longer than this (a delisting "
        "and relisting, or a reused ticker) is refused unless join_gaps is true."
    )
    join_gaps: bool = Field(
        False, description="Join an asset's history across gaps longer than max_gap_days."
    )
    resample: str | None = Field(
        None, description="Build coarser bars (e.g. 4h, 1d) from the timeframe's files, point in "
        "time (a bar exists once complete); null: the files' bars."
    )

    @model_validator(mode="after")
    def _check_bars(self) -> DataConfig:
        step = duration(self.timeframe)
        if self.resample is None or step is None:
            return self
        coarse = duration(self.resample)
        if coarse is None:
            raise ValueError(
                f"data.resample={self.resample!r} is not understood; use <n><unit>, e.g. 4h or 1d"
            )
        if coarse <= step or coarse % step != pd.Timedelta(0):
            raise ValueError(
                f"data.resample={self.resample!r} must be a multiple of data.timeframe="
                f"{self.timeframe!r} and coarser than it; e.g. 4h or 1d from 1h files"
            )
        return self


class UniverseConfig(_Frozen):
    """Pair eligibility per bar: correlation, liquidity and history, all point-in-time."""

    corr_windows_days: tuple[int, ...] = (30, 60, 90)
    eligibility_window_days: int = Field(30, gt=0)
    min_abs_corr: float = Field(0.5, ge=0.0, le=1.0)
    relationship: Literal["both", "positive", "inverse"] = "both"
    min_quote_volume: float = Field(1_000_000.0, ge=0.0)
    volume_window_days: int = Field(30, gt=0)
    min_history_days: int = Field(90, ge=0)
    listed_before_start: bool = Field(
        True, description="An asset with a price at the data's first bar counts as listed before "
        "it (its history is not counted from the first bar of the folder); point-in-time: only "
        "bar 0 is looked at."
    )
    min_obs_frac: float = Field(
        0.9, gt=0.0, le=1.0, description="Share of valid returns a correlation window needs."
    )
    max_coint_pvalue: float | None = Field(
        None, gt=0.0, le=1.0, description="Keep only episodes whose pair's Engle-Granger "
        "p-value (latest daily test, trailing coint_window_days) is at most this; null: no filter."
    )
    coint_window_days: int = Field(90, ge=2, description="Window of the cointegration test.")
    coint_lags: int = Field(1, ge=0, le=24, description="ADF lags of the cointegration test.")

    @model_validator(mode="after")
    def _check(self) -> UniverseConfig:
        if self.eligibility_window_days not in self.corr_windows_days:
            raise ValueError(
                f"eligibility_window_days={self.eligibility_window_days} must be one of "
                f"corr_windows_days={list(self.corr_windows_days)}"
            )
        return self


class SpreadConfig(_Frozen):
    """Hedge ratio and z-score windows (in bars)."""

    beta_window: int = Field(720, ge=10)
    z_window: int = Field(72, ge=5)
    min_obs_frac: float = Field(
        0.9, gt=0.0, le=1.0, description="Share of valid bars a rolling window needs."
    )
    beta_model: Literal["ols", "kalman"] = Field(
        "ols", description="Hedge ratio: rolling OLS over beta_window, or a Kalman filter on log "
        "prices (spread/_kalman.py; beta_window's valid-bar count is its warm-up)."
    )
    kalman_state_noise: float = Field(
        1e-6, gt=0.0, description="Kalman: per-bar variance of the random walk of beta and "
        "intercept (larger: a faster-moving hedge ratio)."
    )
    kalman_obs_noise: float = Field(
        1e-4, gt=0.0, description="Kalman: variance of the observation (log price) noise."
    )


class LabelConfig(_Frozen):
    """Divergence entry threshold and the frozen-parameter reversion label (docs/design.md)."""

    entry: float = Field(2.0, gt=0.0)
    exit: float = Field(0.5)
    stop: float = Field(4.0)
    horizon: int = Field(48, ge=1)

    @model_validator(mode="after")
    def _check(self) -> LabelConfig:
        if not self.exit < self.entry < self.stop:
            raise ValueError(
                f"`exit < entry < stop` must hold, but got "
                f"(exit={self.exit}, entry={self.entry}, stop={self.stop})"
            )
        return self


class ComputeConfig(_Frozen):
    """How the per-pair work is scheduled."""

    block_size: int = Field(1024, ge=1, description="Pairs per streamed block.")
    threads: int | None = Field(None, ge=1, description="Numba threads; null: all cores.")


class FeatureConfig(_Frozen):
    """Point-in-time features at each episode's entry."""

    trailing_bars: int = Field(720, ge=24, description="Window for spread-behaviour features.")
    regime_short_bars: int = Field(24, ge=2)
    regime_long_bars: int = Field(720, ge=24)
    spike_sigma: float = Field(3.0, gt=0.0)
    use_funding: bool = True
    use_regime: bool = Field(False, description="Add the regime-trigger feature family.")
    use_spread_models: bool = Field(
        False, description="Add the spread-model family: OU fit (speed, half-life, stationary "
        "std) and the Engle-Granger p-value at entry (features/_models.py)."
    )
    short_bars: int = Field(
        168, ge=8, description="Short spread window and hedge-ratio stability window (bars)."
    )
    z_lags: tuple[int, ...] = Field((1, 6, 24), min_length=1, description="z-velocity lags.")
    vr_lags: tuple[int, ...] = Field(
        (6, 24), min_length=1, description="Variance-ratio horizons (bars, long spread window)."
    )
    corr_days: tuple[int, ...] = Field(
        (30, 60, 90), min_length=1, description="Return-correlation windows at entry (days)."
    )
    corr_short_days: int = Field(
        7, ge=1, description="Short correlation, compared with the first of corr_days."
    )
    flow_lags: tuple[int, ...] = Field(
        (1, 6, 24), min_length=2,
        description="Bars of the leg-move features; the second is used for idio and breadth.",
    )
    half_life_min: float = Field(0.5, gt=0.0, description="Half-lives are clipped below (bars).")
    funding_max_age_hours: int = Field(
        24, ge=1, description="A funding rate older than this is unknown (NaN)."
    )
    funding_events: int = Field(3, ge=1, description="Events in the funding-differential mean.")
    prior_strength: float = Field(
        20.0, ge=0.0, description="Pseudo-episodes of the global prior in the shrunk rate."
    )
    market_min_assets: int = Field(3, ge=2, description="Assets a market cross-section needs.")

    @model_validator(mode="after")
    def _check_lags(self) -> FeatureConfig:
        for key in ("z_lags", "vr_lags", "corr_days", "flow_lags"):
            value = getattr(self, key)
            if min(value) < 1 or len(set(value)) != len(value):
                raise ValueError(
                    f"`{key}` must be distinct positive integers, but got {value}; "
                    f"e.g. {type(self).model_fields[key].default}"
                )
        if self.corr_short_days in self.corr_days:
            raise ValueError(
                f"`corr_short_days` must not be one of corr_days, but got "
                f"{self.corr_short_days} in {self.corr_days}"
            )
        return self


class ModelConfig(_Frozen):
    """LightGBM classifier and calibration."""

    # 150 trees at 0.08 (was 400 at 0.03): the same purged-CV AUC (0.5623 both) on the spot
    # episodes labelled before the first walk-forward block (2024-04-27), at 2.6x less work
    n_estimators: int = Field(150, ge=1)
    learning_rate: float = Field(0.08, gt=0.0, le=1.0)
    num_leaves: int = Field(31, ge=2)
    max_depth: int = Field(-1, ge=-1)
    min_child_samples: int = Field(100, ge=1)
    feature_fraction: float = Field(0.8, gt=0.0, le=1.0)
    bagging_fraction: float = Field(0.8, gt=0.0, le=1.0)
    bagging_freq: int = Field(1, ge=0)
    lambda_l1: float = Field(0.0, ge=0.0)
    lambda_l2: float = Field(1.0, ge=0.0)
    early_stopping_rounds: int = Field(
        0, ge=0, description="0: fixed n_estimators; >0: early stopping inside each fold."
    )
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    n_jobs: int = Field(
        2, ge=1, description="LightGBM threads per fit (one tuning worker per n_jobs cores)."
    )
    exclude_features: tuple[str, ...] = Field(
        (), description="Feature names or 'group:<name>' to leave out (ablation)."
    )


class CVConfig(_Frozen):
    """Purged walk-forward cross-validation and the final holdout."""

    n_folds: int = Field(5, ge=2)
    embargo_bars: int | None = Field(
        None, ge=0, description="Gap after each test block; null: the label horizon."
    )
    holdout_frac: float = Field(0.2, ge=0.0, lt=1.0)
    min_train_frac: float = Field(
        0.2, gt=0.0, lt=1.0, description="Share of the training period before the first fold."
    )


class TrackingConfig(_Frozen):
    """MLflow tracking and model registry."""

    uri: str = "sqlite:///experiments/mlflow.db"
    artifact_location: str | None = Field(
        None, description="Artifact root for a new experiment; null: experiments/artifacts."
    )
    experiment: str = "revertible"
    registered_model: str = "revertible-reversion"
    run_name: str | None = None


def _default_space() -> dict[str, ParamRange]:
    return {
        "learning_rate": ParamRange(low=0.01, high=0.2, log=True),
        "num_leaves": ParamRange(type="int", low=7, high=127, log=True),
        "max_depth": ParamRange(type="int", low=3, high=12),
        "min_child_samples": ParamRange(type="int", low=20, high=400, log=True),
        "feature_fraction": ParamRange(low=0.4, high=1.0),
        "bagging_fraction": ParamRange(low=0.5, high=1.0),
        "lambda_l1": ParamRange(low=1e-3, high=10.0, log=True),
        "lambda_l2": ParamRange(low=1e-3, high=10.0, log=True),
        "n_estimators": ParamRange(type="int", low=100, high=1500, log=True),
        "calibration": ParamRange(type="categorical", choices=("isotonic", "sigmoid")),
    }


class TuningConfig(_Frozen):
    """Optuna study over the model's hyperparameters."""

    study: str | None = Field(None, description="Study name; null: the config's `name`.")
    storage: str = "sqlite:///experiments/optuna.db"
    objective: Literal["logloss", "auc", "brier"] = "logloss"
    pruner: Literal["median", "successive_halving", "none"] = "median"
    seed: int = 42
    space: dict[str, ParamRange] = Field(
        default_factory=_default_space,
        description="Search space; `--set tuning.space.X=...` merges into it (null drops X).",
    )
    heartbeat_interval_s: int = Field(
        30, ge=1, description="Seconds between heartbeats of a running trial."
    )
    grace_period_s: int = Field(
        120, ge=1, description="A RUNNING trial without a heartbeat this long is stale."
    )
    max_retry: int = Field(
        1, ge=0, description="Times a stale trial is re-queued with the same parameters."
    )
    tpe_startup_trials: int = Field(
        10, ge=1, description="Random (seeded) trials before TPE models the history."
    )
    median_startup_trials: int = Field(
        5, ge=0, description="Finished trials before the median pruner prunes anything."
    )
    sh_reduction_factor: int = Field(
        3, ge=2, description="Successive halving keeps the best 1/factor at each rung."
    )
    strategy: StrategySearchConfig = Field(
        default_factory=StrategySearchConfig,
        description="`revertible tune --objective strategy` (config/_strategy_search.py).",
    )

    @model_validator(mode="after")
    def _check_grace(self) -> TuningConfig:
        if self.grace_period_s <= self.heartbeat_interval_s:
            raise ValueError(
                "`grace_period_s > heartbeat_interval_s` must hold, but got "
                f"grace_period_s={self.grace_period_s}, heartbeat_interval_s="
                f"{self.heartbeat_interval_s}; raise tuning.grace_period_s"
            )
        return self


class SizingConfig(_Frozen):
    """Decided divergence -> two-leg position under explicit risk limits (docs/design.md defaults).

    The stake of a decided trade is ``min(trade_cap_frac, kelly_fraction * lower / m2)`` of
    equity (leg A; :func:`revertible.decision.kelly_fraction`): ``lower`` is the calibrated lower
    bound of the direction's net return, ``m2`` its score bin's realised second moment.
    """

    capital: float = Field(100_000.0, gt=0.0)
    buffer: float = Field(0.40, ge=0.0, lt=1.0)
    max_gross_leverage: float = Field(3.0, gt=0.0)
    kelly_fraction: float = Field(0.25, gt=0.0, le=1.0)
    min_edge: float = Field(
        0.0,
        ge=0.0,
        description="A direction is taken only if the lower confidence bound of its expected "
        "net return per unit of gross notional exceeds this (0: above costs).",
    )
    trade_cap_frac: float = Field(
        0.05, gt=0.0, le=1.0,
        description="Per-trade cap: leg-A notional at most this share of equity (leg B is "
        "ratio x leg A), live and in the backtest; also the size of the fixed-size strategies.",
    )
    split: Literal["beta", "vol_parity", "dollar"] = "beta"
    max_asset_net_exposure: float = Field(
        0.5, gt=0.0, description="Per-asset net notional cap as a share of capital."
    )
    min_notional: float = Field(10.0, ge=0.0)
    qty_step: float = Field(0.0, ge=0.0, description="Quantity rounding step (0: none).")
    maintenance_margin_rate: float = Field(0.005, ge=0.0, lt=1.0)
    min_abs_corr_exit: float = Field(0.5, ge=0.0, le=1.0)
    min_abs_beta: float = Field(
        0.1, ge=0.0, description="Below this |beta| a pair is not sized (not a pair trade)."
    )
    liquidation_cushion: float = Field(
        0.5, ge=0.0, description="Liquidation lies beyond each leg's adverse move * (1 + this)."
    )
    liquidation_sigmas: float = Field(
        3.0, ge=0.0, description="A leg's plausible move: this many sigmas over the horizon."
    )

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        return _refuse_retired(data, "sizing", _RETIRED_SIZING)


class BacktestConfig(_Frozen):
    """Walk-forward replay."""

    retrain_every_days: int = Field(30, ge=1)
    min_train_days: int = Field(90, ge=1)
    cost_multipliers: tuple[float, ...] = (1.0, 2.0)
    max_concurrent: int = Field(50, ge=1)
    seed: int = Field(
        0, description="Seeds the random order of signals within a bar (unranked strategies)."
    )
    corr_exit_days: int = Field(30, ge=1, description="Window of the correlation exit.")
    rebalance_drift: float | None = Field(
        None, gt=0.0, lt=1.0,
        description="Trade leg B back to the target ratio when the marked legs' notional ratio "
        "drifts more than this from it (0.008 is the source's seed value); null: never.",
    )
    rebalance_drift_pairs: dict[str, float] = Field(
        default_factory=dict,
        description="Per-pair override of rebalance_drift, keyed 'A/USDT|B/USDT'.",
    )
    n_trials: int | None = Field(
        None, ge=1,
        description="Configurations tried, for the deflated Sharpe; null: the study's, else 1.",
    )
    bootstrap_samples: int = Field(2000, ge=100, description="Day-block bootstrap resamples.")
    spread_model_baselines: bool = Field(
        False, description="Also replay naive_coint (pairs with an Engle-Granger p-value <= "
        "universe.max_coint_pvalue, else 0.05) and naive_kalman (episodes of the Kalman hedge "
        "ratio); off by default: the daily tests and the Kalman episodes take tens of seconds.")
    calibration_folds: int | None = Field(
        2, ge=2, description="Purged CV folds of each walk-forward model's calibrator (each "
        "fold is one LightGBM fit); null: cv.n_folds.",
    )
    calibration_record: Literal["earlier_blocks", "folds"] = Field(
        "earlier_blocks", description="Held-out record each walk-forward model's calibrators "
        "are fitted on. earlier_blocks: the first block's purged CV folds "
        "(calibration_folds), then the out-of-sample scores the earlier blocks' models gave "
        "their own episodes, those whose labels ended before the block (no fold refits); "
        "folds: every block refits its calibration_folds CV folds (the earlier scheme).",
    )
    warm_start_trees: int | None = Field(
        None, ge=1, description="With calibration_record=earlier_blocks: each block after the "
        "first continues the previous block's classifier with this many trees fitted on its "
        "own (grown) training rows, instead of model.n_estimators trees from scratch; null: "
        "every block from scratch.",
    )

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        return _refuse_retired(data, "backtest", _RETIRED_BACKTEST)


class DecisionConfig(_Frozen):
    """The evidence gate: held-out scores calibrated to realised returns (docs/design.md).

    A direction is taken only if the lower ``confidence`` bound of its calibrated expected
    return, net of the venue's round trip and expected carry, is above ``sizing.min_edge``
    (0 by default); otherwise ``none``. ``calibration_bins``, ``shrinkage`` and the interval
    were chosen on purged CV of the spot development period only (README, "The decision").
    """

    confidence: float = Field(
        0.95, gt=0.5, lt=1.0, description="One-sided confidence of the lower bound.")
    # bins, shrinkage, clusters and the drift term: purged CV of the spot development period
    # (labels before 2024-04-27), 27 settings (research/calibrator_cv.py, README "The decision")
    calibration_bins: int = Field(
        20, ge=2, le=100, description="Quantile bins of the held-out score.")
    shrinkage: float = Field(
        200.0, ge=0.0, description="Pseudo-trades pulling each bin's mean toward the "
        "unconditional mean (0: none).")
    min_bin_trades: int = Field(
        30, ge=2, description="A bin with fewer held-out trades never clears the gate.")
    cluster_days: int = Field(
        7, ge=1, description="Clusters of the standard errors: entries within this many days "
        "(calendar periods) move together; few clusters widen the bound (Student's t).")
    drift_days: int | None = Field(
        None, ge=1, description="null (default): the bound is on the bin's expected return "
        "(week-clustered standard error). A number: bound the *next period's* mean instead, "
        "adding the between-period variance of the mean return over periods of this many days "
        "(a one-period predictive bound: far more conservative, it shut out a planted IC-0.05 "
        "edge; README 'The decision').")
    common_level: Literal["adverse", "estimate"] = Field(
        "adverse", description="How the level all divergences of a week share enters the "
        "bound. 'adverse': the bound is on the score bin's edge over its week's average "
        "divergence (that level swings month to month and cancels between the two "
        "directions), plus the record's level only as far as its interval excludes zero (a "
        "bound for a book taking both directions, not for one direction alone); 'estimate': "
        "the bin's own mean, level included (README 'The decision').")
    debias_expected: bool = Field(
        False, description="Backtest replays (walk-forward or given scores): correct the model's "
        "expected_return by the gate's own earlier record, block by block: the mean realised "
        "minus expected net return of the divergences it took whose outcomes were known before "
        "the block, if a shortfall over at least 1000 of them. The bound and the decisions are "
        "unchanged. Off by default (README 'The decision': where the gate's optimism comes "
        "from).")
    continue_max_score_quantile: float | None = Field(
        None, gt=0.0, le=1.0, description="Continuation only on divergences whose score lies "
        "in this bottom share of the held-out scores (a pre-registered rule, e.g. 0.1); null: "
        "everywhere.")
    overfit_ic: float = Field(
        0.05, ge=0.0, description="Warn when the scorer's in-sample rank IC exceeds this and "
        "three times its held-out IC (or the held-out IC is <= 0).")


class Config(_Frozen):
    """The whole run: data, universe, spread, label, features, model, tracking, sizing..."""

    # `continue` is a keyword: the field is `continue_`, YAML and dumps use the alias
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True,
                              validate_by_name=True, validate_by_alias=True,
                              serialize_by_alias=True)

    name: str = "revertible"
    seed: int = 42
    data: DataConfig
    universe: UniverseConfig = UniverseConfig()
    spread: SpreadConfig = SpreadConfig()
    label: LabelConfig = LabelConfig()
    compute: ComputeConfig = ComputeConfig()
    features: FeatureConfig = FeatureConfig()
    model: ModelConfig = ModelConfig()
    cv: CVConfig = CVConfig()
    tracking: TrackingConfig = TrackingConfig()
    tuning: TuningConfig = TuningConfig()
    costs: CostConfig = CostConfig()
    sizing: SizingConfig = SizingConfig()
    backtest: BacktestConfig = BacktestConfig()
    decision: DecisionConfig = DecisionConfig()
    baskets: BasketsConfig = BasketsConfig()
    hedge: HedgeConfig = HedgeConfig()
    continue_: ContinueConfig = Field(ContinueConfig(), alias="continue")
    scoring: ScoringConfig = ScoringConfig()
    monitor: MonitorConfig = MonitorConfig()

    @model_validator(mode="before")
    @classmethod
    def _windows_in_bars(cls, raw: Any) -> Any:
        sections = {"spread": SpreadConfig, "label": LabelConfig, "continue": ContinueConfig,
                    "features": FeatureConfig, "cv": CVConfig, "hedge": HedgeConfig,
                    "baskets": BasketsConfig}  # fmt: skip
        return resolve_windows(raw, field_minimums(sections))

    @model_validator(mode="after")
    def _day_windows(self) -> Config:
        check_day_windows(self, duration(self.data.resample or self.data.timeframe))
        return self

    @model_validator(mode="after")
    def _cross_check(self) -> Config:
        entry, exit_ = self.universe.min_abs_corr, self.sizing.min_abs_corr_exit
        if exit_ > entry:
            raise ValueError(
                f"sizing.min_abs_corr_exit={exit_} is above universe.min_abs_corr={entry}: a pair "
                f"entered at |corr| between {entry} and {exit_} is closed at once on correlation; "
                f"set sizing.min_abs_corr_exit <= {entry} or raise universe.min_abs_corr"
            )
        return self

    @property
    def embargo_bars(self) -> int:
        """Embargo after each CV test block (defaults to the label horizon)."""
        return self.label.horizon if self.cv.embargo_bars is None else self.cv.embargo_bars

    def with_data_path(self, path: str | os.PathLike[str] | None) -> Config:
        """Return a copy reading data from ``path`` (the ``--data`` flag); unchanged if None."""
        if path is None:
            return self
        return self.model_copy(update={"data": self.data.model_copy(update={"path": Path(path)})})


