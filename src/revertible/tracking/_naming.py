"""What a person sees in the MLflow UI: run names, headline metrics, experiment kinds, datasets.

* Run names say what the run is: ``<config> <kind> <key settings> <UTC time>``, e.g.
  ``binance-spot-1h train h48 z2.0 lgbm-l31 0601-1230``; ``tracking.run_name`` replaces the
  config name.
* Headline metrics are copied under names starting with ``0_`` so they sort first on the run
  page and in the column chooser: :data:`HEADLINE` maps the headline name to the source metric.
* Training (and tuning) runs live in ``tracking.experiment``; backtest runs in
  ``<experiment>-backtest`` and hedge runs in ``<experiment>-hedge`` (:func:`experiment_for`):
  their metrics share nothing, so one experiment per kind keeps every column of the runs list
  and the compare view meaningful.
* Both experiments carry ``mlflow.experimentKind = custom_model_development``, which makes the
  MLflow 3 UI open them on the runs list (the default for an untagged experiment is the GenAI view).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

__all__ = [
    "HEADLINE",
    "EXPERIMENT_KIND",
    "BACKTEST_SUFFIX",
    "run_label",
    "headline_metrics",
    "experiment_for",
    "dataset_summary",
    "ui_base",
    "ui_link",
]

#: Headline metric name (sorts first) -> the metric it copies. Missing sources are skipped.
HEADLINE: dict[str, str] = {
    "0_holdout_auc": "holdout.roc_auc",
    "0_holdout_ece": "holdout.ece",
    "0_holdout_brier_skill": "holdout.brier_skill",
    # the decision on the holdout (model/_train.py): share of divergences whose lower bound
    # cleared costs, and the scorer's held-out rank IC against the realised reversion return
    "0_holdout_taken_rate": "decision.holdout.taken_rate",
    "0_held_out_ic": "scorer.ic_held_out",
    "0_cv_auc": "cv.roc_auc",
    # backtest, the model strategy (backtest/_metrics.py strategy_metrics)
    "0_net_bp_per_trade": "model.net_bp_per_trade",
    "0_sharpe": "model.sharpe",
    "0_total_return": "model.total_return",
    "0_max_drawdown": "model.max_drawdown",
    "0_trades": "model.trades",
    "0_abstention_rate": "model.abstention_rate",
}

#: The experiment tag the MLflow 3 UI reads to pick the classic ML (runs) view.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
BACKTEST_SUFFIX = "-backtest"
#: Kinds of run with an experiment of their own, ``<experiment>-<kind>``.
OWN_EXPERIMENT = ("backtest", "hedge")


def experiment_for(experiment: str, kind: str | None) -> str:
    """The experiment a run of ``kind`` goes to (``<experiment>-backtest``, ``-hedge``)."""
    return f"{experiment}-{kind}" if kind in OWN_EXPERIMENT else experiment


#: Where ``mlflow ui`` serves an embedded store by default.
LOCAL_UI = "http://127.0.0.1:5000"


def ui_command(uri: str) -> str:
    """The shell command that serves ``uri`` in the MLflow UI, with this environment's mlflow.

    ``mlflow`` alone is not on the PATH outside an activated virtual environment (``make demo``
    does not activate one), so the executable beside the running Python is named when it exists.
    """
    import shutil
    import sys
    from pathlib import Path

    here = Path(sys.executable).parent / "mlflow"
    exe = "mlflow" if shutil.which("mlflow") == str(here) or not here.exists() else str(here)
    return f"{exe} ui --backend-store-uri {uri}"


def ui_base(uri: str) -> str:
    """The MLflow UI's address for a tracking ``uri`` (a server: itself; else ``mlflow ui``'s)."""
    return uri.rstrip("/") if uri.startswith(("http://", "https://")) else LOCAL_UI


def ui_link(uri: str, *, experiment_id: str | None = None, run_id: str | None = None,
            model: str | None = None, version: str | int | None = None) -> str:
    """A link that opens a run, an experiment or a model version in the model-training view.

    MLflow 3's UI opens in its GenAI view unless the link carries
    ``workflowType=machine_learning``. For an embedded store the address is ``mlflow ui``'s
    (start it with ``mlflow ui --backend-store-uri <uri>``).

    Examples
    --------
    >>> ui_link("sqlite:///experiments/mlflow.db", experiment_id="1", run_id="abc")
    'http://127.0.0.1:5000/#/experiments/1/runs/abc?workflowType=machine_learning'
    """
    base = ui_base(uri)
    if model is not None:
        path = f"/#/models/{model}" + (f"/versions/{version}" if version is not None else "")
    elif run_id is not None:
        path = f"/#/experiments/{experiment_id}/runs/{run_id}"
    elif experiment_id is not None:
        path = f"/#/experiments/{experiment_id}"
    else:
        path = "/#/experiments"
    return f"{base}{path}?workflowType=machine_learning"


def headline_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The headline copies of ``metrics`` (only those whose source is present)."""
    return {h: metrics[src] for h, src in HEADLINE.items() if src in metrics}


def run_label(cfg: Any, kind: str, *, extra: str = "", when: datetime | None = None) -> str:
    """Informative run name: config name, kind, key settings and the UTC time.

    Examples
    --------
    >>> from revertible.config import Config
    >>> from datetime import UTC, datetime
    >>> cfg = Config.model_validate({"name": "spot", "data": {"path": "/tmp"}})
    >>> run_label(cfg, "train", when=datetime(2024, 6, 1, 12, 30, tzinfo=UTC))
    'spot train h48 z2 l31 0601-123000'
    """
    when = when or datetime.now(UTC)
    base = cfg.tracking.run_name or cfg.name
    settings = f"h{cfg.label.horizon} z{cfg.label.entry:g}"
    if kind in ("train", "tune"):
        settings += f" l{cfg.model.num_leaves}"
    if cfg.model.exclude_features:
        settings += " -" + ",".join(str(f).removeprefix("group:") for f in
                                    cfg.model.exclude_features)[:40]
    parts = [base, kind, settings, extra.strip(), f"{when:%m%d-%H%M%S}"]
    return " ".join(p for p in parts if p)


def dataset_summary(panel: Any) -> tuple[pd.DataFrame, dict[str, str]]:
    """Per-asset rows (asset, first/last bar, bars) and the tags describing a panel."""
    import numpy as np

    close = np.asarray(panel.close)
    ok = np.isfinite(close)
    times = panel.times
    rows = []
    for j, asset in enumerate(panel.assets):
        idx = np.flatnonzero(ok[:, j]) if close.ndim == 2 else np.array([], dtype=int)
        rows.append({"asset": asset,
                     "first_bar": str(times[idx[0]]) if len(idx) else "",
                     "last_bar": str(times[idx[-1]]) if len(idx) else "",
                     "bars": int(len(idx))})
    tags = {
        "fingerprint": panel.fingerprint(),
        "range": f"{times[0]:%Y-%m-%d %H:%M} .. {times[-1]:%Y-%m-%d %H:%M} UTC",
        "assets": str(panel.n_assets),
        "bar": str(panel.freq),
        "asset_list": ",".join(panel.assets)[:4000],
    }
    return pd.DataFrame(rows), tags
