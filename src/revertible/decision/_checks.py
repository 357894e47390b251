"""Input checks shared by the decision and sizing modules (Optuna-style one-line errors)."""

from __future__ import annotations

import math

import numpy as np

__all__: list[str] = []

TOL = 1e-9
"""Relative shrink of every cap so float rounding never lands above it."""

BIG_LOG_MOVE = 700.0
"""``exp()`` overflows past ~709; a log move this large is never survivable."""


def fmt(value: object) -> str:
    """Repr of a scalar with numpy types shown as Python ones."""
    if isinstance(value, bool | np.bool_):
        return repr(bool(value))
    if isinstance(value, int | np.integer):
        return repr(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return repr(value)


def require(ok: bool, rule: str, fix: str = "", **values: object) -> None:
    """Raise ``ValueError("`rule` must hold, but got k=v; fix")`` unless ``ok``."""
    if ok:
        return
    got = ", ".join(f"{k}={fmt(v)}" for k, v in values.items())
    if len(values) > 1:
        got = f"({got})"
    raise ValueError(f"`{rule}` must hold, but got {got}" + (f"; {fix}" if fix else ""))


def check_capital(capital: float) -> None:
    """``capital`` finite and non-negative."""
    require(
        math.isfinite(capital) and capital >= 0.0,
        "capital >= 0",
        "pass the account equity in quote currency",
        capital=capital,
    )


def check_side(side: str) -> None:
    """``side`` is ``long`` or ``short``."""
    require(side in ("long", "short"), "side in {'long', 'short'}", side=side)
