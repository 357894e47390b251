"""The ``revertible`` command line: a thin layer over the library (docs/design.md "Commands").

``_app`` holds the Typer app and what every command shares (options, errors, progress, JSON);
each command group registers itself from its own module.
"""

from __future__ import annotations

# each import registers its commands, in the order --help lists them
from . import _data  # noqa: F401
from . import _model  # noqa: F401
from . import _score  # noqa: F401
from . import _backtest  # noqa: F401
from . import _hedge  # noqa: F401
from . import _demo  # noqa: F401
from . import _baskets  # noqa: F401
from . import _runs  # noqa: F401
from . import _live  # noqa: F401
from . import _paper  # noqa: F401
from ._app import app, main

__all__ = ["app", "main"]
