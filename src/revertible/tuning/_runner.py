"""One study runner shared by the model study and the strategy search.

:func:`run_study` is what both do around their objective: fail the parent runs of killed tunes,
open (or join) the study with heartbeats, say where it stands, open the parent MLflow run with the
config, run trials until the target of finished trials with one progress line per trial, and let
the caller summarise while the parent run is still open. Optuna's own per-trial log is muted and
SIGTERM ends the parent run FAILED, as Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from ..config import flatten
from ._parent import fail_orphaned_parents, parent_tags, sigterm_interrupts
from ._storage import _counts, open_study
from ._trials import run_trials

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ..config import Config

__all__ = ["StudyRun", "quiet_optuna", "run_study"]


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Our own progress lines replace Optuna's per-trial log; its experimental notes are muted."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


@dataclass
class StudyRun:
    """What :func:`run_study` returns: the parent run, the trials it ran, the caller's summary."""

    parent_id: str
    ran: int
    summary: Any


def run_study(
    cfg: Config,
    *,
    name: str,
    url: str,
    trials: int,
    tracker: Any,
    settings: dict[str, str],
    tags: dict[str, str],
    describe: Callable[[Any], str],
    make_objective: Callable[[str], Callable[[optuna.Trial], float]],
    trial_line: Callable[[optuna.Study, Any], str],
    summarise: Callable[[optuna.Study, str, int], Any],
    say: Callable[[str], None],
    config_path: str | Path | None = None,
    direction: str | None = None,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    poll_s: float | None = None,
) -> StudyRun:
    """Run (or resume, or join) the study ``name`` at ``url`` until it holds ``trials`` finished.

    Parameters
    ----------
    cfg : Config
        The run's config (logged flat as the parent run's params; ``tuning.*`` defaults).
    name, url : str
        Study name and Optuna storage URL.
    trials : int
        Total of finished (COMPLETE + PRUNED) trials the study should hold.
    tracker : revertible.tracking.Tracker
        Connected (the caller connects first, so a bad store fails before any work); the parent
        run is ``<name>-tune`` with ``tags`` and the host's tags.
    settings : dict
        The settings that define the objective; resuming with different ones is refused.
    tags : dict
        The parent run's tags.
    describe : callable
        ``describe(counts)`` -> the opening line, given the study's trial counts.
    make_objective : callable
        ``make_objective(parent_run_id)`` -> the objective each trial runs.
    trial_line : callable
        ``trial_line(study, finished_trial)`` -> the progress line said after each trial.
    summarise : callable
        ``summarise(study, parent_run_id, trials_run)``, called inside the parent run; its
        result is :attr:`StudyRun.summary`.
    say : callable
        Prints one progress line.
    config_path : path, optional
        The YAML, logged as ``config.yaml``.
    direction : str, optional
        ``minimize`` or ``maximize``; default that of ``tuning.objective``.
    heartbeat_interval, grace_period, poll_s
        Seconds between trial heartbeats (default ``tuning.heartbeat_interval_s``), without one
        before a RUNNING trial is stale (default ``tuning.grace_period_s``), between polls of a
        worker waiting for others (default ``min(5, heartbeat_interval)``).

    Returns
    -------
    StudyRun
    """
    if heartbeat_interval is None:
        heartbeat_interval = cfg.tuning.heartbeat_interval_s
    for run_id in fail_orphaned_parents(tracker.uri, tracker.experiment_id, name):
        say(f"study {name!r}: parent run {run_id} of a killed tune marked FAILED")
    with quiet_optuna(), sigterm_interrupts():
        st = open_study(cfg, name, url, settings, tracking_uri=tracker.uri,
                        heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                        direction=direction)
        say(describe(_counts(st)))
        with tracker.run(run_name=f"{name}-tune", tags={**tags, **parent_tags()}) as parent:
            parent_id = parent.info.run_id
            tracker.log_params(flatten(cfg))
            raw_yaml = Path(config_path).read_text() if config_path else ""
            if raw_yaml:
                tracker.log_text(raw_yaml, "config.yaml")
            ran = run_trials(st, make_objective(parent_id), trials,
                             on_trial=lambda t: say(trial_line(st, t)),
                             poll_s=poll_s if poll_s is not None else
                             float(min(5, heartbeat_interval)))
            summary = summarise(st, parent_id, ran)
    return StudyRun(parent_id=parent_id, ran=ran, summary=summary)
