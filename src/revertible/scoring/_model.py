"""The model side of scoring: the registry and loading; the checks are the model package's.

:func:`check_model`, :func:`has_calibrator`, :func:`costs_note` and :func:`assets_note` are
:mod:`revertible.model`'s (``backtest --model`` uses them too), re-exported here.
"""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..errors import ModelError
from ..model import assets_note, check_model, costs_note, has_calibrator

__all__ = ["check_model", "has_calibrator", "costs_note", "assets_note", "tracking_uri",
           "resolve_model_uri"]


def tracking_uri(cfg: Config) -> str:
    """Return the MLflow store: :func:`revertible.tracking.store_uri` (the Tracker's rule)."""
    from ..tracking import store_uri

    return store_uri(cfg.tracking)


def resolve_model_uri(uri: str, tracking: str) -> str:
    """Pin ``models:/<name>@<alias>`` to ``models:/<name>/<version>``; other URIs unchanged.

    The output's ``model`` column then names the exact version that scored, even after the
    alias moves, and loading the pinned URI cannot race a concurrent promotion.
    """
    if not (uri.startswith("models:/") and "@" in uri):
        return uri
    name, _, alias = uri[len("models:/"):].partition("@")
    from mlflow import MlflowClient

    try:
        mv = MlflowClient(tracking, registry_uri=tracking).get_model_version_by_alias(name, alias)
    except Exception as exc:  # noqa: BLE001 - any failure: the alias cannot be resolved
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ModelError(
            f"model {uri}: alias {alias!r} of registered model {name!r} not found in {tracking} "
            f"({first}); promote a version (revertible train --promote) or pass "
            "models:/<name>/<version>"
        ) from None
    return f"models:/{name}/{mv.version}"


def load_pinned(uri: str, store: str) -> tuple[str, Any]:
    """Pin an alias to its version and load that model: ``(pinned_uri, model)``."""
    from ..tracking import load_model

    pinned = resolve_model_uri(uri, store)
    return pinned, load_model(pinned, store)
