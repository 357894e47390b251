"""revertible: will this pairs divergence revert within the horizon, and how big should each leg be?

The package follows the pipeline in DESIGN.md: ``data`` -> ``pairs`` -> ``spread`` -> ``episodes``
-> ``features`` -> ``model`` -> ``tuning`` -> ``scoring`` -> ``sizing`` -> ``backtest``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("revertible")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
