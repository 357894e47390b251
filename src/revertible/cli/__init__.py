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


def _unwrap_help() -> None:
    """Join each command docstring's single line breaks: they are source wrapping.

    Typer's rich help keeps them, so an 80-column terminal showed a multi-line paragraph as
    ragged lines of a word or two; joined, it wraps at any width. A blank line still starts a
    paragraph (the first is the short help in the command list).
    """
    import inspect
    import re

    for cmd in app.registered_commands:
        if cmd.help is None and cmd.callback is not None:
            doc = inspect.getdoc(cmd.callback) or ""
            paragraphs = (re.sub(r"\s*\n\s*", " ", p.strip()) for p in doc.split("\n\n"))
            cmd.help = "\n\n".join(p for p in paragraphs if p)


_unwrap_help()
