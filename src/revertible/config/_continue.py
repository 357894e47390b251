"""The ``continue`` section: barriers of a continuation trade (the divergence keeps going)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ContinueConfig"]


class ContinueConfig(BaseModel):
    """Barriers on ``|z|`` (the entry's frozen spread) of a trade *with* the divergence.

    Take-profit when ``|z'|`` reaches ``take_profit``, stop when it falls back to ``stop``, time
    stop after ``horizon`` bars (``None``: ``label.horizon``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    take_profit: float = Field(4.0, gt=0.0)
    stop: float = Field(0.5, ge=0.0)
    horizon: int | None = Field(None, ge=1, description="Bars; null: label.horizon.")

    @model_validator(mode="after")
    def _check(self) -> ContinueConfig:
        if not self.stop < self.take_profit:
            raise ValueError(
                f"`stop < take_profit` must hold, but got (stop={self.stop}, "
                f"take_profit={self.take_profit})"
            )
        return self
