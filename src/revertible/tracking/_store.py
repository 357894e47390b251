"""Which MLflow store a command uses: one rule for training, tuning, scoring and backtests.

Rule (as the README and the tracking and scoring docstrings state):
``MLFLOW_TRACKING_URI``, when set (non-empty), overrides ``tracking.uri``; otherwise
``tracking.uri`` (default ``sqlite:///experiments/mlflow.db``). When both are set and differ,
a ``revertible.tracking`` warning says which one is used, so an overridden
``--set tracking.uri=...`` is never silent.
"""

from __future__ import annotations

import logging
import os

from ..config import TrackingConfig

__all__ = ["store_uri", "use_store", "quiet_mlflow"]

_log = logging.getLogger("revertible.tracking")
_warned: set[tuple[str, str]] = set()


def quiet_mlflow() -> None:
    """MLflow settings for a command line: fail fast, no progress bars, no INFO chatter.

    Called where MLflow is first used (:func:`use_store`, :class:`Tracker`, :func:`load_model`),
    never at import: importing ``revertible`` changes no environment variable and no logger.
    A value the user set in the environment wins. MLflow's INFO messages (database migrations,
    signature validation) are not for our users; the pyfunc cloudpickle notice is expected: the
    model class is this package's own code.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def store_uri(cfg: TrackingConfig, env_uri: str | None = None) -> str:
    """The tracking store: ``MLFLOW_TRACKING_URI`` if set, else ``tracking.uri``.

    Parameters
    ----------
    cfg : TrackingConfig
        The config's ``tracking`` section.
    env_uri : str, optional
        The environment's value; default ``os.environ["MLFLOW_TRACKING_URI"]`` now (which
        :func:`use_store` keeps as the user set it). An empty string counts as unset.

    Returns
    -------
    str
        The URI every command connects to.

    Examples
    --------
    >>> from revertible.config import TrackingConfig
    >>> store_uri(TrackingConfig(), env_uri="http://mlflow:5000")
    'http://mlflow:5000'
    >>> store_uri(TrackingConfig(uri="sqlite:////tmp/m.db"), env_uri="")
    'sqlite:////tmp/m.db'
    """
    env = os.environ.get("MLFLOW_TRACKING_URI") if env_uri is None else env_uri
    if not env:
        return cfg.uri
    default = TrackingConfig.model_fields["uri"].default
    if cfg.uri not in (env, default) and (env, cfg.uri) not in _warned:
        _warned.add((env, cfg.uri))
        _log.warning("tracking store: MLFLOW_TRACKING_URI=%s overrides tracking.uri=%s; unset "
                     "MLFLOW_TRACKING_URI to use the config's store", env, cfg.uri)
    return env


def use_store(uri: str) -> None:
    """Point MLflow's tracking and registry at ``uri`` without touching the environment.

    ``mlflow.set_tracking_uri`` also writes ``MLFLOW_TRACKING_URI`` into ``os.environ``; left
    there, a later :func:`store_uri` in the same process (another command, another test) would
    take an earlier run's store for the user's choice. The variable is put back as it was.
    """
    import mlflow

    quiet_mlflow()
    before = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
    finally:
        if before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before
