"""One typed config, parsed once: YAML -> frozen pydantic models.

Unknown keys are rejected (with a "did you mean" hint), ranges are checked, and every default is
defined exactly once, here. ``--set dotted.key=value`` overrides are applied to the raw mapping
before validation, so they are checked by the same rules as the file.

String values may reference environment variables as ``${NAME}`` or ``${NAME:-default}``; the
shipped configs use ``${REVERTIBLE_DATA:-../shared/data}`` so tests and CI can point at the data.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError
from ._continue import ContinueConfig
from ._costs import CostConfig

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
    "ContinueConfig",
    "load_config",
    "apply_overrides",
    "flatten",
]

BARS_PER_DAY = 24  # hourly bars; see DataConfig.timeframe


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


class UniverseConfig(_Frozen):
    """Pair eligibility per bar: correlation, liquidity and history, all point-in-time."""

    corr_windows_days: tuple[int, ...] = (30, 60, 90)
    eligibility_window_days: int = Field(30, gt=0)
    min_abs_corr: float = Field(0.5, ge=0.0, le=1.0)
    relationship: Literal["both", "positive", "inverse"] = "both"
    min_quote_volume: float = Field(1_000_000.0, ge=0.0)
    volume_window_days: int = Field(30, gt=0)
    min_history_days: int = Field(90, ge=0)
    min_obs_frac: float = Field(
        0.9, gt=0.0, le=1.0, description="Share of valid returns a correlation window needs."
    )

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


class LabelConfig(_Frozen):
    """Divergence entry threshold and the frozen-parameter reversion label (DESIGN.md)."""

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


class ModelConfig(_Frozen):
    """LightGBM classifier and calibration."""

    n_estimators: int = Field(400, ge=1)
    learning_rate: float = Field(0.03, gt=0.0, le=1.0)
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


class ParamRange(_Frozen):
    """One dimension of the tuning search space."""

    type: Literal["float", "int", "categorical"] = "float"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[str | int | float, ...] | None = None

    @model_validator(mode="after")
    def _check(self) -> ParamRange:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical range needs `choices`")
        elif self.low is None or self.high is None or not self.low <= self.high:
            raise ValueError(
                f"`low <= high` must hold, but got (low={self.low}, high={self.high})"
            )
        return self


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
    space: dict[str, ParamRange] = Field(default_factory=_default_space)


class SizingConfig(_Frozen):
    """Probability -> two-leg position under explicit risk limits (DESIGN.md defaults)."""

    capital: float = Field(100_000.0, gt=0.0)
    buffer: float = Field(0.40, ge=0.0, lt=1.0)
    max_gross_leverage: float = Field(3.0, gt=0.0)
    method: Literal["kelly", "afml"] = "kelly"
    kelly_fraction: float = Field(0.25, gt=0.0, le=1.0)
    min_edge: float = Field(0.0, ge=0.0, description="Minimum expected return per unit risked.")
    split: Literal["beta", "vol_parity", "dollar"] = "beta"
    risk_per_trade: float = Field(
        0.01, gt=0.0, le=1.0, description="Spread-vol budget per trade as a share of capital."
    )
    max_asset_net_exposure: float = Field(
        0.5, gt=0.0, description="Per-asset net notional cap as a share of capital."
    )
    min_notional: float = Field(10.0, ge=0.0)
    qty_step: float = Field(0.0, ge=0.0, description="Quantity rounding step (0: none).")
    maintenance_margin_rate: float = Field(0.005, ge=0.0, lt=1.0)
    min_abs_corr_exit: float = Field(0.5, ge=0.0, le=1.0)


class BacktestConfig(_Frozen):
    """Walk-forward replay."""

    retrain_every_days: int = Field(30, ge=1)
    min_train_days: int = Field(90, ge=1)
    fixed_notional_frac: float = Field(
        0.05, gt=0.0, le=1.0, description="Per-leg notional of the fixed-size strategies."
    )
    cost_multipliers: tuple[float, ...] = (1.0, 2.0)
    max_concurrent: int = Field(50, ge=1)
    seed: int = Field(
        0, description="Seeds the random order of signals within a bar (unranked strategies)."
    )
    corr_exit_days: int = Field(30, ge=1, description="Window of the correlation exit.")
    min_probability: float | None = Field(
        None, ge=0.0, le=1.0,
        description="null: the model filter is bet_size > 0; a number: probability >= it.",
    )
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
    calibration_folds: int | None = Field(
        2, ge=2, description="Purged CV folds of each walk-forward model's calibrator (each "
        "fold is one LightGBM fit); null: cv.n_folds.",
    )


class Config(_Frozen):
    """The whole run: data, universe, spread, label, features, model, tracking, sizing..."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True,
                              populate_by_name=True)

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
    continue_: ContinueConfig = Field(default_factory=ContinueConfig, alias="continue")

    @property
    def embargo_bars(self) -> int:
        """Embargo after each CV test block (defaults to the label horizon)."""
        return self.label.horizon if self.cv.embargo_bars is None else self.cv.embargo_bars

    def with_data_path(self, path: str | os.PathLike[str] | None) -> Config:
        """Return a copy reading data from ``path`` (the ``--data`` flag); unchanged if None."""
        if path is None:
            return self
        return self.model_copy(update={"data": self.data.model_copy(update={"path": Path(path)})})


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand_env(value: Any) -> Any:
    if isinstance(value, str):
        return _ENV.sub(lambda m: os.environ.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, dict):
        return {k: _expand_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v) for v in value]
    return value


def _known_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        name = field.alias or name
        keys.append(prefix + name)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys.extend(_known_keys(ann, prefix + name + "."))
    return keys


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides to a raw config mapping (values parsed as YAML)."""
    out = _deepcopy(raw)
    known = _known_keys(Config)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form dotted.key=value")
        key, _, text = item.partition("=")
        key = key.strip()
        if key not in known and not _under_dict_field(key):
            hint = difflib.get_close_matches(key, known, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(f"override --set {key}: unknown config key{extra}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"override --set {key}: value {text!r} is not valid YAML") from exc
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
        node[parts[-1]] = value
    return out


def _under_dict_field(key: str) -> bool:
    return key.startswith("tuning.space.")


def _deepcopy(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deepcopy(v) if isinstance(v, Mapping) else v for k, v in raw.items()}


def _format_validation(source: str, exc: ValidationError) -> str:
    known = _known_keys(Config)
    msgs = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(loc, known, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            msgs.append(f"unknown key {loc!r}{extra}: remove or correct it")
        elif err["type"] == "missing":
            msgs.append(f"missing required key {loc!r}")
        else:
            where = f"key {loc!r}: " if loc else ""
            msgs.append(f"{where}{err['msg']} (got {err.get('input')!r})")
    return f"config {source}: " + "; ".join(msgs)


def config_from_mapping(raw: Mapping[str, Any], source: str = "<mapping>") -> Config:
    """Validate a raw mapping into a :class:`Config`, with one-line error messages."""
    try:
        return Config.model_validate(_expand_env(dict(raw)))
    except ValidationError as exc:
        raise ConfigError(_format_validation(source, exc)) from None


def load_config(
    path: str | os.PathLike[str], overrides: Iterable[str] = (), data: str | None = None
) -> Config:
    """Load a YAML config, apply ``--set`` overrides and the ``--data`` folder, and validate.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.yaml"
    >>> _ = p.write_text("data: {path: /tmp}\\nlabel: {horizon: 24}\\n")
    >>> load_config(p, ["label.entry=2.5"]).label
    LabelConfig(entry=2.5, exit=0.5, stop=4.0, horizon=24)
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config {path}: file not found; pass an existing YAML file") from None
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read ({exc.strerror})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config {path}:{where} is not valid YAML; fix the syntax") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: top level must be a mapping of sections")
    raw = apply_overrides(raw, overrides)
    cfg = config_from_mapping(raw, str(path))
    return cfg.with_data_path(data)


def flatten(cfg: BaseModel | Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten a config into ``{"label.horizon": "48", ...}`` for MLflow params."""
    raw = cfg.model_dump(mode="json", by_alias=True) if isinstance(cfg, BaseModel) else cfg
    out: dict[str, str] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = "null" if value is None else str(value)
    return out
