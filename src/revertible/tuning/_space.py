"""The search space: validation of ``tuning.space`` and sampling one point per trial."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..config import Config, ModelConfig, ParamRange
from ..errors import ConfigError

__all__ = ["check_space", "suggest_params", "model_with"]

#: Model settings that are resources, not hyperparameters: never tuned.
_NOT_TUNABLE = ("exclude_features", "n_jobs")


def _field_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{err['msg']} (got {err.get('input')!r})"


def check_space(cfg: Config) -> None:
    """Raise :class:`ConfigError` unless every ``tuning.space`` entry is a valid model range."""
    space = cfg.tuning.space
    if not space:
        raise ConfigError("tuning.space is empty; give at least one model setting to tune")
    names = [n for n in ModelConfig.model_fields if n not in _NOT_TUNABLE]
    for name, r in space.items():
        key = f"tuning.space.{name}"
        if name not in names:
            raise ConfigError(f"{key}: not a tunable model setting; use one of {', '.join(names)}")
        if r.type == "categorical":
            values = list(r.choices or ())
        else:
            values = [r.low, r.high]
            if r.type == "int" and any(float(v) != int(v) for v in values):
                raise ConfigError(f"{key}: an int range needs whole numbers, but got "
                                  f"(low={r.low}, high={r.high})")
            if r.log and r.low <= 0:
                raise ConfigError(f"{key}: a log range needs `low > 0`, but got low={r.low}")
        for v in values:
            try:
                model_with(cfg.model, {name: _cast(r, v)})
            except ValidationError as exc:
                raise ConfigError(f"{key}: value {v!r} is not a valid model.{name}: "
                                  f"{_field_error(exc)}; fix the range") from None


def _cast(r: ParamRange, v: Any) -> Any:
    return int(v) if r.type == "int" else float(v) if r.type == "float" else v


def suggest_params(trial: Any, space: dict[str, ParamRange]) -> dict[str, Any]:
    """Sample one value per dimension, in the config's order."""
    out: dict[str, Any] = {}
    for name, r in space.items():
        if r.type == "categorical":
            out[name] = trial.suggest_categorical(name, list(r.choices or ()))
        elif r.type == "int":
            out[name] = trial.suggest_int(name, int(r.low), int(r.high), log=r.log)
        else:
            out[name] = trial.suggest_float(name, float(r.low), float(r.high), log=r.log)
    return out


def model_with(model: ModelConfig, params: dict[str, Any]) -> ModelConfig:
    """``model.model_copy(update=params)``, validated (``model_copy`` alone checks nothing)."""
    return ModelConfig.model_validate({**model.model_dump(), **params})


def _with_model(cfg: Config, params: dict[str, Any]) -> Config:
    return cfg.model_copy(update={"model": model_with(cfg.model, params)})
