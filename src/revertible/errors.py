"""Error types: every user-facing failure is one of these, rendered as one line by the CLI.

Each message states the rule, echoes the offending file, key, column or row, and gives the fix.
"""

from __future__ import annotations

__all__ = ["RevertibleError", "ConfigError", "DataError", "ModelError", "TrackingError"]


class RevertibleError(Exception):
    """Base class of every expected, user-facing error (the CLI exits with code 2)."""

    exit_code = 2


class ConfigError(RevertibleError):
    """A config file or override is malformed, has an unknown key or an out-of-range value."""


class DataError(RevertibleError):
    """A market-data file is missing, unreadable or breaks a validation rule."""


class ModelError(RevertibleError):
    """A model cannot be loaded or does not fit the data it is asked to score."""


class TrackingError(RevertibleError):
    """The MLflow tracking server or the Optuna storage cannot be reached or used."""
