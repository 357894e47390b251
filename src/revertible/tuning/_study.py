r"""Tuning: an Optuna study over the model's settings, resumable, shareable, tracked in MLflow.

``revertible tune CONFIG --trials N`` runs trials until the study holds ``N`` *finished* trials
(COMPLETE or PRUNED). ``N`` is the study's **total** target, not a number of additional trials:
re-running the same command after an interruption continues until ``N`` are finished, and on a
study that already has ``N`` it runs none (with ``--retrain-best`` it then only retrains).

What a trial is
---------------
The config with the ``model.*`` fields named in ``tuning.space`` replaced by sampled values,
evaluated by the purged walk-forward CV of :mod:`revertible.model` (same folds, same
``fit_predict``, same walk-forward calibration, same metric code;
``tests/tuning/test_study.py`` checks that a trial's ``cv.*`` metrics equal
``train.cross_validate``'s bit for bit). The objective is ``tuning.objective`` (``logloss`` ->
``cv.log_loss``, ``brier`` -> ``cv.brier``, minimised; ``auc`` -> ``cv.roc_auc``, maximised) over
the pooled, walk-forward calibrated folds 2..K.

Timing and the holdout
----------------------
Features are computed once per invocation; the final holdout is split off with
:func:`revertible.model.holdout_split` before anything else and its rows never reach the study: the
objective sees only development episodes, whose labels are known before ``holdout_start``.
The holdout is evaluated once, by ``--retrain-best``, through :func:`revertible.workflows.train`.

Pruning (``tuning.pruner``: ``median``, ``successive_halving`` or ``none``)
--------------------------------------------------------------------------
Fold 1 only seeds the walk-forward calibrator, so its calibrated score does not exist. After fold
``k >= 2`` the trial reports, at step ``k``, the objective on the pooled calibrated predictions
of folds ``2..k``: the same quantity as the final value (which is step ``K``), on fewer folds.
Pruning can therefore happen from fold 2 on; later folds train on more data and cost more, so
this still saves most of a bad trial. The median pruner waits for
``tuning.median_startup_trials`` finished trials; successive halving starts at step 2 with
reduction factor ``tuning.sh_reduction_factor``.

Sampling and reproducibility
----------------------------
TPE (multivariate, constant liar) whose random state is derived from ``(tuning.seed, trial
number)``: one worker with the same settings and data proposes the same sequence of parameters
(LightGBM runs deterministically, so the values repeat too), and concurrent workers never draw
the same startup points.

Storage, resuming and several workers
-------------------------------------
The study lives in ``tuning.storage`` (default ``sqlite:///experiments/optuna.db``; ``--storage``
overrides it; any Optuna RDB URL, e.g. ``postgresql+psycopg2://user:pass@host/db``) under
``tuning.study`` (``--study``). Every trial records a heartbeat every
``tuning.heartbeat_interval_s`` s; a RUNNING trial without a heartbeat for
``tuning.grace_period_s`` s (its process was killed, even with ``kill -9``, or its machine died)
is marked FAIL by the next worker and re-queued (``tuning.max_retry`` times, default once) with
the same parameters, so finished trials are never lost and the
study still reaches ``N``. Each worker asks the storage how many trials are finished or running
before it starts one, and stands back (polling, and failing stale trials) once the running ones
are enough to reach ``N``; a trial created in a race beyond ``N`` is failed before sampling (a
FAIL with user attribute ``surplus``), so the study ends with exactly ``N`` finished trials.
The study stores the settings that define its objective (data fingerprint, universe, spread,
label, features, CV, fixed model settings, objective, search space, seeds); resuming with
different ones is refused rather than mixing incomparable trials.

Run the same study on several machines (README)::

    # one shared PostgreSQL for the study, one shared MLflow server for the runs
    export MLFLOW_TRACKING_URI=http://mlflow.internal:5000
    STORAGE=postgresql+psycopg2://tuner:secret@db.internal/optuna   # pip install psycopg2-binary
    # on every machine (same code, same data: the study checks the data fingerprint),
    # one process per two cores (each LightGBM fit uses two threads):
    revertible tune configs/binance-spot-1h.yaml --trials 200 --study spot-v1 --storage $STORAGE
    # stop any of them at any time (Ctrl-C, kill -9, a lost machine: its running trial is
    # failed and re-queued after the grace period); start one again to continue.
    # fit, evaluate on the holdout and register the best (first helps finish any trials left):
    revertible tune configs/binance-spot-1h.yaml --trials 200 --study spot-v1 \
        --storage $STORAGE --retrain-best

SQLite serves several processes on one machine (the default file); across machines use
PostgreSQL or MySQL, never SQLite on a network file system. A fresh SQLite MLflow store should be
created by one process first (e.g. run ``revertible train`` or one ``tune`` once) before several
workers start writing to it at the same time.

MLflow
------
Each invocation opens one parent run (``tune.role=study``) in ``tracking.experiment``; each trial
it runs is a child run (``mlflow.parentRunId``) with the trial's ``model.*`` params, its fold
metrics (``fold<k>.*``, and ``cv.*`` when complete, named as in ``revertible train``) and the
running objective per fold (``objective``, step = fold). At the end the parent logs the study's
best value and parameters (``best.*``), trial counts (``tune.*``), parameter importances
(``importance.<param>``, fANOVA, from two completed trials on) and the optimisation history,
intermediate values and importance plots. ``--retrain-best`` then runs
:func:`revertible.workflows.train` with the best parameters as another child of the parent: the same
metrics (``cv.*``, ``holdout.*``, ``baseline.*``), plots and registered model as ``revertible
train``. A tune stopped by Ctrl-C or SIGTERM ends its parent run FAILED; a parent whose process
was killed with ``kill -9`` is marked FAILED by the next start of the same study on that host
(:mod:`._parent`); its killed trial's child run is set to KILLED when the trial is found stale.

Modules
-------
``_data`` (development rows, folds, :func:`evaluate_cv`), ``_space`` (search space),
``_storage`` (storage, sampler, pruner, :func:`open_study`), ``_trials`` (the worker loop, one
trial), ``_report`` (the parent run's summary), ``_parent`` (parent-run cleanup); this module holds
the entry points.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, RevertibleError
from ._data import OBJECTIVES, prepare_tuning_data
from ._report import _hms, _log_study
from ._runner import run_study
from ._space import _with_model, check_space
from ._storage import _best, _counts, _redact, study_settings
from ._trials import _Objective

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import optuna
    import pandas as pd

    from ..config import Config
    from ..data import Panel

__all__ = ["tune", "tune_command"]


def tune(
    cfg: Config,
    *,
    trials: int,
    study: str | None = None,
    storage: str | None = None,
    retrain_best: bool = False,
    panel: Panel | None = None,
    episodes: pd.DataFrame | None = None,
    tracker: Any = None,
    config_path: str | Path | None = None,
    console: Any = None,
    progress: Callable[..., Any] | None = None,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    poll_s: float | None = None,
) -> dict[str, Any]:
    """Run (or resume, or join) the study until it holds ``trials`` finished trials.

    Parameters
    ----------
    cfg : Config
        The run's config; ``tuning.*`` defines the study, ``model.*`` the fixed settings.
    trials : int
        Total number of finished (COMPLETE + PRUNED) trials the study should hold.
    study, storage : str, optional
        Study name and Optuna storage URL (default ``tuning.study`` and ``tuning.storage``).
    retrain_best : bool
        Afterwards fit the best parameters through :func:`revertible.workflows.train` (CV,
        holdout, registered model) as a child run of this invocation's parent run.
    panel, episodes, tracker
        Preloaded data / a :class:`revertible.tracking.Tracker` (tests, the demo).
    heartbeat_interval, grace_period : int, optional
        Seconds between trial heartbeats, and without one before a RUNNING trial is stale;
        default ``tuning.heartbeat_interval_s`` / ``tuning.grace_period_s``.

    Returns
    -------
    dict
        ``run_id`` (the parent run), ``study``, ``storage`` (password hidden), ``best_value``,
        ``best_params``, ``best_trial``, ``n_trials_done`` (finished trials in the study),
        ``n_trials_run`` (by this invocation), ``metrics`` (the parent's flat metrics, plus the
        retrained run's ``cv.*``/``holdout.*``/... with ``retrain_best``) and, with
        ``retrain_best``, ``model_uri``, ``retrain_run_id`` and ``registered_version``.
    """
    from ..data import load_panel
    from ..tracking import Tracker

    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, but got {trials}")
    check_space(cfg)

    def say(msg: str) -> None:
        if console is not None:
            console.print(msg, markup=False, highlight=False)

    bar_ctx = progress or (lambda *_a, **_k: contextlib.nullcontext(lambda *_: None))
    t_start = time.perf_counter()
    name = study or cfg.tuning.study or cfg.name
    url = storage or cfg.tuning.storage
    tracker = (tracker or Tracker(cfg.tracking)).connect()
    panel = load_panel(cfg.data) if panel is None else panel
    with bar_ctx("features (pairs)") as update:
        data, eps = prepare_tuning_data(cfg, panel, episodes, progress=update)
    metric, direction = OBJECTIVES[cfg.tuning.objective]

    def describe(c0: Any) -> str:
        return (f"study {name!r} at {_redact(url)}: {c0.done}/{trials} finished ({c0.complete} "
                f"complete, {c0.pruned} pruned), {c0.failed} failed, {c0.running} running; "
                f"objective cv.{metric} ({direction}) on {len(data.y)} development episodes, "
                f"{len(data.folds)} folds; holdout from {data.holdout_start:%Y-%m-%d %H:%M} "
                f"({data.n_holdout} episodes) not used")

    def trial_line(st: optuna.Study, t: Any) -> str:
        c = _counts(st)
        best = _best(st)
        val = "-" if t.value is None else f"{t.value:.5f}"
        if t.state.name == "PRUNED":
            at = t.user_attrs.get("pruned_at_fold")
            last = t.intermediate_values.get(at) if at else None
            val = f"pruned at fold {at}" + ("" if last is None else f" ({last:.5f})")
        bst = "-" if best is None else f"{best.value:.5f} (#{best.number})"
        dur = t.user_attrs.get("duration_s")
        return (f"trial {t.number:>4d}  {t.state.name.lower():8s} {metric} {val:28s} best "
                f"{bst:18s} {'' if dur is None else f'{dur:6.1f}s'}  finished "
                f"{c.done}/{trials}  elapsed {_hms(time.perf_counter() - t_start)}")

    tags = {"tune.role": "study", "optuna.study": name, "optuna.storage": _redact(url),
            "tune.objective": f"cv.{metric}", "tune.direction": direction,
            "data_fingerprint": data.fingerprint, "data_source": str(panel.source),
            "config_name": cfg.name, "holdout_start": str(data.holdout_start)}
    done = run_study(
        cfg, name=name, url=url, trials=trials, tracker=tracker,
        settings=study_settings(cfg, data.fingerprint), tags=tags, describe=describe,
        make_objective=lambda pid: _Objective(data, cfg, trials, tracker, pid, name, bar_ctx),
        trial_line=trial_line,
        summarise=lambda st, _pid, ran: _log_study(st, tracker, cfg, trials, ran, t_start),
        say=say, config_path=config_path, heartbeat_interval=heartbeat_interval,
        grace_period=grace_period, poll_s=poll_s)
    parent_id, ran, summary = done.parent_id, done.ran, done.summary
    best = summary["best"]
    out: dict[str, Any] = {
        "run_id": parent_id, "study": name, "storage": _redact(url),
        "best_value": None if best is None else float(best.value),
        "best_params": {} if best is None else dict(best.params),
        "best_trial": None if best is None else best.number,
        "n_trials_done": summary["counts"].done, "n_trials_run": ran,
        "metrics": dict(summary["metrics"]), "importances": summary["importances"],
    }
    if best is None:
        say(f"study {name!r}: no completed trial yet")
    else:
        say(f"study {name!r}: best cv.{metric} {best.value:.5f} (trial {best.number}) "
            f"{json.dumps(best.params)}; parent run {parent_id}")
    if retrain_best:
        if best is None:
            raise RevertibleError(f"study {name!r} has no completed trial to retrain; run "
                                  "more trials first")
        from mlflow import MlflowClient

        from ..workflows import train

        best_cfg = _with_model(cfg, best.params)
        if best_cfg.tracking.run_name is None:
            best_cfg = best_cfg.model_copy(update={"tracking": best_cfg.tracking.model_copy(
                update={"run_name": f"{name}-best"})})
        say(f"retraining trial {best.number}'s parameters on the development period; holdout "
            "evaluated once")
        res = train(best_cfg, config_path=config_path, panel=panel, episodes=eps,
                    tracker=tracker, console=console, progress=progress,
                    extra_tags={"optuna.study": name, "optuna.best_trial": str(best.number),
                                "tune.role": "retrain"},
                    parent_run_id=parent_id)
        client = MlflowClient(tracker.uri)
        client.set_tag(parent_id, "retrain.run_id", res["run_id"])
        client.set_tag(parent_id, "retrain.model_uri", res["model_uri"])
        out.update(model_uri=res["model_uri"], retrain_run_id=res["run_id"],
                   registered_version=res["registered_version"])
        out["metrics"].update(res["metrics"])
    return out


def tune_command(
    cfg: Config,
    *,
    trials: int,
    study: str | None = None,
    storage: str | None = None,
    retrain_best: bool = False,
    config_path: str | Path | None = None,
    console: Any = None,
    progress: Callable[..., Any] | None = None,
    objective: str = "model",
    validate_best: bool = False,
) -> dict[str, Any]:
    """``revertible tune``: load the data (with a progress bar) and run :func:`tune`.

    ``objective="strategy"`` runs the strategy search
    (:func:`revertible.tuning.tune_strategy`) instead; ``validate_best`` belongs to it and
    ``retrain_best`` to the model study.
    """
    from ..data import load_panel

    if objective not in ("model", "strategy"):
        raise ConfigError(f"--objective {objective!r}: use model or strategy")
    if objective == "strategy" and retrain_best:
        raise ConfigError("--retrain-best fits the model study's best model; the strategy search "
                          "validates its best with --validate-best")
    if objective == "model" and validate_best:
        raise ConfigError("--validate-best belongs to --objective strategy; the model study "
                          "evaluates its holdout with --retrain-best")
    bar_ctx = progress or (lambda *_a, **_k: contextlib.nullcontext(lambda *_: None))
    with bar_ctx("loading data") as update:
        panel = load_panel(cfg.data, progress=update)
    if objective == "strategy":
        from ._strategy_study import tune_strategy

        return tune_strategy(cfg, trials=trials, study=study, storage=storage,
                             validate_best=validate_best, panel=panel, config_path=config_path,
                             console=console)
    return tune(cfg, trials=trials, study=study, storage=storage, retrain_best=retrain_best,
                panel=panel, config_path=config_path, console=console, progress=progress)
