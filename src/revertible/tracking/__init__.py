"""MLflow tracking and the model registry: a tracker passed in, never a singleton."""

from __future__ import annotations

from ._naming import (
    HEADLINE,
    dataset_summary,
    experiment_for,
    headline_metrics,
    run_label,
    ui_base,
    ui_command,
    ui_link,
)
from ._registry import (
    comparability_warning,
    compare_to_champion,
    describe_version,
    model_differences,
)
from ._runs import compare_runs, list_runs
from ._store import store_uri
from ._tracker import (
    ReversionPyfunc,
    Tracker,
    check_store,
    git_commit,
    load_model,
)

__all__ = [
    "Tracker",
    "ReversionPyfunc",
    "load_model",
    "git_commit",
    "check_store",
    "store_uri",
    "HEADLINE",
    "run_label",
    "headline_metrics",
    "experiment_for",
    "dataset_summary",
    "ui_base",
    "ui_link",
    "ui_command",
    "describe_version",
    "compare_to_champion",
    "model_differences",
    "comparability_warning",
    "list_runs",
    "compare_runs",
]
