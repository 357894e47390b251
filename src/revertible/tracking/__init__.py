"""MLflow tracking and the model registry: a tracker passed in, never a singleton."""

from __future__ import annotations

from ._tracker import (
    ReversionPyfunc,
    Tracker,
    git_commit,
    load_model,
)

__all__ = [
    "Tracker",
    "ReversionPyfunc",
    "load_model",
    "git_commit",
]
