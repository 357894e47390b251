"""revertible: the odds that a pairs divergence reverts in time, and the size of each leg.

One package per pipeline stage; the contract (definitions, commands, output columns) is
``docs/design.md``. Data flows files -> ``data`` -> ``universe`` -> ``spread`` -> ``episodes`` ->
``features`` -> ``model`` / ``tuning`` -> ``scoring`` -> ``decision`` -> ``backtest``. The imports
form layers that do not follow that order (``decision`` and ``risk`` sit below ``model``, which
uses the sizing rules); the README's "Where things are" has the map and the layer table, both
checked against the code by ``tests/test_layout.py``.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version

# LightGBM's OpenMP threads spin while idle by default; on a busy 2-core machine that made a
# 0.1 s fit take 40 s. Passive waiting costs nothing when the machine is free.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _numba_cache_dir() -> str:
    """Folder for numba's compiled-kernel cache: ``$XDG_CACHE_HOME/revertible/numba``.

    ``~/.cache`` when ``XDG_CACHE_HOME`` is unset. Without it numba writes ``__pycache__`` files
    next to the sources (the source tree, or site-packages, which may be read-only).
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "revertible", "numba")


# numba reads NUMBA_CACHE_DIR when it is first imported; a value the user set wins.
os.environ.setdefault("NUMBA_CACHE_DIR", _numba_cache_dir())
if "numba" in sys.modules:  # pragma: no cover - numba imported before revertible
    from numba.core import config as _numba_config

    if not _numba_config.CACHE_DIR:
        _numba_config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]

try:
    __version__ = version("revertible")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
