"""The continuation trade's barriers (docs/design.md "Trade outcomes"), config section ``continue``.

The continuation trade bets that a divergence goes on: it takes profit when the frozen-parameter
spread ``z'`` (the label's, see :class:`revertible.config.LabelConfig`) reaches
``take_profit`` and stops out when it falls back to ``stop``; it is closed after ``horizon`` bars
(null: the label's horizon). ``continue`` is a Python keyword, so the root config holds this
section in the field ``continue_`` with the alias ``continue`` (YAML, ``--set`` and dumps use
the alias).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ContinueConfig"]


class ContinueConfig(BaseModel):
    """Barriers of the continuation trade, on ``z'`` (the label's frozen-parameter spread)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    take_profit: float = Field(4.0, description="Take profit when z' >= this.")
    stop: float = Field(0.5, description="Stop when z' <= this.")
    horizon: int | None = Field(
        None, ge=1, description="Time stop in bars; null: the label's horizon."
    )

    @model_validator(mode="after")
    def _check(self) -> ContinueConfig:
        if not self.stop < self.take_profit:
            raise ValueError(
                f"`continue.stop < continue.take_profit` must hold, but got "
                f"(stop={self.stop}, take_profit={self.take_profit}); lower the stop or raise "
                f"the take profit"
            )
        return self

    def horizon_or(self, label_horizon: int) -> int:
        """The time stop in bars: ``horizon``, or ``label_horizon`` when it is null."""
        return label_horizon if self.horizon is None else self.horizon
