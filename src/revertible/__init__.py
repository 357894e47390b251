"""revertible: will this pairs divergence revert within the horizon, and how big should each leg be?

One package per pipeline stage (DESIGN.md), dependencies pointing down the pipeline:
``config`` -> ``data`` -> ``spread`` -> ``universe`` -> ``episodes`` -> ``features`` -> ``model``
-> ``tuning`` -> ``decision`` -> ``scoring`` -> ``backtest``; ``tracking`` (MLflow), ``synthetic``
(generated markets with known answers) and ``cli`` sit at the edges.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version

# LightGBM's OpenMP threads spin while idle by default; on a busy 2-core machine that made a
# 0.1 s fit take 40 s. Passive waiting costs nothing when the machine is free.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    __version__ = version("revertible")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
