"""Helpers shared by the tests of this package."""

from __future__ import annotations

import math

import numpy as np


def _ar1(s):
    """AR(1) slope of ``s`` on consecutive finite pairs and the number of pairs."""
    ok = np.isfinite(s[1:]) & np.isfinite(s[:-1])
    x, y = s[:-1][ok], s[1:][ok]
    x = x - x.mean()
    return float((x * (y - y.mean())).sum() / (x * x).sum()), int(ok.sum())


def _half_life(phi):
    return math.log(0.5) / math.log(phi) if 0 < phi < 1 else math.inf
