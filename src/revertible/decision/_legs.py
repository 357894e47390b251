"""The two legs: notional ratio by split method, and sides for each direction.

Leg B notional per unit of leg-A notional, ``r``: ``|beta|`` (``split="beta"``), ``vol_a / vol_b``
(``"vol_parity"``: equal notional * return vol on both legs) or 1 (``"dollar"``). Sides: the
reversion trade on ``z > 0`` shorts the spread ``s = a - beta * b``: short A, and B long if
``beta > 0`` (opposite sides) or short if ``beta < 0`` (same side); ``z < 0`` mirrors. The
continuation trade takes the opposite side of both legs.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from ._checks import require

__all__ = ["leg_ratio", "leg_sides", "leg_ratios", "leg_signs"]


def leg_ratio(
    split: Literal["beta", "vol_parity", "dollar"],
    beta: float,
    vol_a: float = math.nan,
    vol_b: float = math.nan,
) -> float:
    """Leg-B notional per unit of leg-A notional for a split method.

    ``"beta"``: ``|beta|``; ``"vol_parity"``: ``vol_a / vol_b`` (so that
    ``notional_a * vol_a == notional_b * vol_b``, vols are each leg's return volatility);
    ``"dollar"``: 1.

    Raises
    ------
    ValueError
        If ``beta`` is zero or not finite, a vol is not positive for ``"vol_parity"``, or the
        split is unknown.

    Examples
    --------
    >>> leg_ratio("beta", -0.8), leg_ratio("dollar", 0.8), leg_ratio("vol_parity", 0.8, 0.03, 0.04)
    (0.8, 1.0, 0.75)

    """
    require(math.isfinite(beta) and beta != 0.0, "beta != 0 and finite", beta=beta)
    if split == "beta":
        return abs(beta)
    if split == "dollar":
        return 1.0
    if split == "vol_parity":
        ok = math.isfinite(vol_a) and math.isfinite(vol_b) and vol_a > 0.0 and vol_b > 0.0
        require(ok, "vol_a > 0 and vol_b > 0", vol_a=vol_a, vol_b=vol_b)
        return vol_a / vol_b
    require(False, "split in {'beta', 'vol_parity', 'dollar'}", split=split)
    raise AssertionError  # pragma: no cover - require raised


def leg_sides(z_entry: float, beta: float) -> tuple[str, str]:
    """Sides (``"long"``/``"short"``) of legs A and B for a trade betting ``z`` reverts to 0.

    ``z > 0``: short the spread, so short A; B is long when ``beta > 0`` (opposite sides) and
    short when ``beta < 0`` (same side). ``z < 0`` mirrors.

    Examples
    --------
    >>> leg_sides(2.3, 0.8), leg_sides(2.3, -0.8), leg_sides(-2.3, 0.8), leg_sides(-2.3, -0.8)
    (('short', 'long'), ('short', 'short'), ('long', 'short'), ('long', 'long'))

    """
    require(math.isfinite(z_entry) and z_entry != 0.0, "z_entry != 0", z_entry=z_entry)
    require(math.isfinite(beta) and beta != 0.0, "beta != 0", beta=beta)
    sign_a = -1.0 if z_entry > 0 else 1.0
    sign_b = -sign_a if beta > 0 else sign_a
    return ("long" if sign_a > 0 else "short", "long" if sign_b > 0 else "short")




def leg_ratios(
    split: str, beta: np.ndarray, vol_a: np.ndarray | None = None, vol_b: np.ndarray | None = None
) -> np.ndarray:
    """Vectorised :func:`leg_ratio`; NaN where the inputs do not give a positive finite ratio.

    Examples
    --------
    >>> leg_ratios("beta", np.array([0.8, -2.0, 0.0])).tolist()
    [0.8, 2.0, nan]

    """
    require(split in ("beta", "vol_parity", "dollar"), "split in {'beta', 'vol_parity', 'dollar'}",
            split=split)  # fmt: skip
    beta = np.asarray(beta, dtype=float)
    if split == "beta":
        ratio = np.abs(beta)
    elif split == "dollar":
        ratio = np.ones_like(beta)
    else:
        if vol_a is None or vol_b is None:
            return np.full_like(beta, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.asarray(vol_a, dtype=float) / np.asarray(vol_b, dtype=float)
    ok = np.isfinite(beta) & (beta != 0.0) & np.isfinite(ratio) & (ratio > 0.0)
    return np.where(ok, ratio, np.nan)


def leg_signs(z_entry: np.ndarray, beta: np.ndarray, follow: np.ndarray) -> tuple[np.ndarray, ...]:
    """Signs (+1 long, -1 short, 0 unknown) of legs A and B; ``follow`` flips to continuation.

    Examples
    --------
    >>> a, b = leg_signs(np.array([2.3, 2.3]), np.array([0.8, 0.8]), np.array([False, True]))
    >>> a.tolist(), b.tolist()
    ([-1.0, 1.0], [1.0, -1.0])

    """
    z = np.asarray(z_entry, dtype=float)
    beta = np.asarray(beta, dtype=float)
    ok = np.isfinite(z) & (z != 0.0) & np.isfinite(beta) & (beta != 0.0)
    sign_a = np.where(z > 0, -1.0, 1.0) * np.where(np.asarray(follow, dtype=bool), -1.0, 1.0)
    sign_b = np.where(beta > 0, -sign_a, sign_a)
    return np.where(ok, sign_a, 0.0), np.where(ok, sign_b, 0.0)
