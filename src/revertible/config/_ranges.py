"""One dimension of a search space (``tuning.space``, ``tuning.strategy.space``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["ParamRange"]


class ParamRange(BaseModel):
    """One dimension of the tuning search space."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

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
