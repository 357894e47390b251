"""What the study's parent MLflow run records: best trial, counts, importances, plots."""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from ..io import subplots
from ._data import OBJECTIVES
from ._storage import _best, _counts

if TYPE_CHECKING:
    from ..config import Config

__all__: list[str] = []


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _importances(study: Any, seed: int) -> dict[str, float]:
    """Parameter importances (fANOVA) of the completed trials; {} with fewer than two."""
    if len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))) < 2:
        return {}
    try:
        imp = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed))
    except (ValueError, RuntimeError):  # e.g. no parameter varied among completed trials
        return {}
    return {k: float(v) for k, v in imp.items()}


def _importance_figure(imp: dict[str, float], objective: str):

    names = list(imp)[::-1]
    fig, ax = subplots(figsize=(6, 0.35 * len(names) + 1.2))
    ax.barh(names, [imp[n] for n in names], color="#4c72b0")
    ax.set_xlabel(f"fANOVA importance for {objective}")
    ax.set_title("hyperparameter importance")
    fig.tight_layout()
    return fig


def _log_study(study: Any, tracker: Any, cfg: Config, target: int, ran: int,
               t_start: float) -> dict[str, Any]:
    """Best value and parameters, counts, importances and plots on the parent run."""
    c = _counts(study)
    best = _best(study)
    metrics: dict[str, float] = {
        "tune.trials_target": float(target), "tune.n_complete": float(c.complete),
        "tune.n_pruned": float(c.pruned), "tune.n_fail": float(c.failed),
        "tune.n_running": float(c.running), "tune.trials_run": float(ran),
        "tune.elapsed_s": time.perf_counter() - t_start,
    }
    imp = _importances(study, cfg.tuning.seed)
    metrics.update({f"importance.{k}": float(v) for k, v in imp.items()})
    if best is not None:
        metrics["best.value"] = float(best.value)
        metrics["best.trial_number"] = float(best.number)
        metrics.update({f"best.cv.{k}": v for k, v in (best.user_attrs.get("cv") or {}).items()
                        if v is not None})
        tracker.log_params({f"best.model.{k}": v for k, v in best.params.items()})
        tracker.log_text(json.dumps({"value": best.value, "trial": best.number,
                                     "params": best.params}, indent=2), "best_params.json")
    tracker.log_metrics(metrics)
    import matplotlib

    # optuna's plots switch the global style to ggplot: keep that out of later figures
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore")
        trials = study.trials_dataframe()
        if len(trials):
            tracker.log_table(trials, "trials.csv")
        if best is not None:
            from optuna.visualization import matplotlib as ovm

            for name, fn in (("optimization_history", ovm.plot_optimization_history),
                             ("intermediate_values", ovm.plot_intermediate_values)):
                with contextlib.suppress(Exception):
                    ax = fn(study)
                    tracker.log_figure(ax.figure, f"plots/{name}.png")
        if imp:
            tracker.log_figure(_importance_figure(imp, f"cv.{OBJECTIVES[cfg.tuning.objective][0]}"),
                               "plots/param_importances.png")
    return {"metrics": metrics, "best": best, "importances": imp, "counts": c}
