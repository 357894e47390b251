r"""``revertible tune CONFIG --objective strategy``: the strategy search, validated once.

The study machinery is the model study's (:func:`._runner.run_study`): the same storage with
heartbeats, resuming by name after ``kill -9``, several workers on one storage (each trial runs
once), the seeded TPE, the target of finished trials, a parent MLflow run per invocation
(FAILED when the tune is stopped or killed) and one child run per trial
(``tune.role=trial``). What differs:

* a trial samples ``tuning.strategy.space`` (strategy and label settings, dotted keys) and its
  value is :func:`._strategy.evaluate_strategy` on the search period (maximised); a sampled
  combination the config refuses (e.g. ``label.exit >= label.entry``) is PRUNED with user
  attribute ``invalid``. There is no intermediate value, so nothing is pruned early;
* the study's default name is ``<tuning.study or name>-strategy``; its stored settings add the
  validation start, the backtest, costs, sizing and ``tuning.strategy.*`` settings, and the data
  fingerprint is that of the *search* panel;
* ``--validate-best`` backtests the best trial once on the held-out validation period
  (:func:`._strategy.validate_strategy`, ``backtest.n_trials`` = the study's completed trials)
  as another child run (``tune.role=validation``), and reports the search figure, the
  validation figure and the deflated Sharpe of the search (Bailey and Lopez de Prado, N = the
  completed trials, the Sharpe spread across them from their daily returns). The validation is
  recorded in the study: asking again for the same best trial and trial count reports the stored
  figures without a second look at the period; validating another best trial later says that the
  period has been used before (``validation.looks``).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.trial import TrialState
from pydantic import ValidationError

from ..config import Config, flatten
from ..errors import ConfigError, RevertibleError
from ._report import _hms, _importances
from ._runner import run_study
from ._space import suggest_params
from ._storage import _best, _counts, _redact
from ._strategy import (
    StrategyData,
    check_strategy_space,
    config_with,
    evaluate_strategy,
    prepare_strategy_data,
    validate_strategy,
)
from ._trials import check_surplus

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ..data import Panel

__all__ = ["strategy_settings", "search_deflated_sharpe", "tune_strategy"]

_VALIDATION_ATTR = "revertible.validation"
_RESCORE_ATTR = "revertible.rescored"
_NOT_SETTINGS = ("tuning.strategy.study", "tuning.strategy.cache_size", "data.path",
                 "data.funding_path")


def strategy_settings(cfg: Config, fingerprint: str, validation_start: Any) -> dict[str, str]:
    """Everything that defines a strategy trial's value: resuming with others is refused."""
    keep = ("seed", "data.", "universe.", "spread.", "label.", "continue.", "features.",
            "model.", "cv.", "sizing.", "costs.", "backtest.", "tuning.seed", "tuning.strategy.")
    flat = flatten(cfg)
    out = {k: v for k, v in flat.items() if k.startswith(keep) and not k.startswith(_NOT_SETTINGS)}
    out["data.fingerprint"] = fingerprint
    out["validation_start"] = str(validation_start)
    return out


def search_deflated_sharpe(study: optuna.Study, best: optuna.trial.FrozenTrial,
                           rescored: dict[str, Any] | None = None) -> dict[str, float]:
    """Deflated Sharpe of the best trial's search-period daily returns over the study's trials.

    N = completed trials plus the full-fidelity re-scores (``rescored``, trial number -> figures
    with ``daily_returns``; the best trial's returns are then its re-score's); the spread of the
    per-day Sharpe across them is measured from their daily returns (two or more), else the
    estimator's null spread.
    """
    from ..backtest import deflated_sharpe

    rescored = rescored or {}
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    runs = [t.user_attrs.get("daily_returns") or [] for t in done]
    runs += [f.get("daily_returns") or [] for f in rescored.values()]
    srs = []
    for d in runs:
        r = np.asarray(d, float)
        if len(r) > 2 and np.std(r, ddof=1) > 0:
            srs.append(np.mean(r) / np.std(r, ddof=1))
    sr_std = float(np.std(srs, ddof=1)) if len(srs) >= 2 else None
    own = rescored.get(str(best.number))
    r = np.asarray((own or best.user_attrs).get("daily_returns") or [], float)
    return {"search.deflated_sharpe": deflated_sharpe(r, len(runs), sr_std),
            "search.n_trials": float(len(runs)),
            "search.sr_std_daily": float("nan") if sr_std is None else sr_std}


def _rescore(st: optuna.Study, cfg: Config, data: StrategyData, tracker: Any, parent_id: str,
             name: str, say: Callable[[str], None]) -> tuple[Any, dict[str, Any]]:
    """Re-evaluate the best low-fidelity trials at full fidelity; return the best and all.

    The ``tuning.strategy.rescore_top`` best completed trials (by their low-fidelity value)
    not re-scored before are evaluated with :func:`evaluate_strategy` at full fidelity, each as
    a child run (``tune.role=rescore``); the figures are kept in the study
    (``revertible.rescored``) so a resumed study does not evaluate them again. Returns the
    trial with the best full-fidelity value and every stored re-score.
    """
    done = [t for t in st.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.value is not None]
    top = sorted(done, key=lambda t: (-float(t.value), t.number))
    top = top[:cfg.tuning.strategy.rescore_top]
    stored: dict[str, Any] = dict(st.user_attrs.get(_RESCORE_ATTR) or {})
    for t in top:
        if str(t.number) in stored:
            continue
        say(f"re-scoring trial {t.number} at full fidelity (low-fidelity value {t.value:.3f})")
        tags = {"optuna.study": name, "optuna.trial_number": str(t.number),
                "tune.role": "rescore", "tune.objective": "strategy"}
        with tracker.run(run_name=f"{name}-rescore-{t.number}", tags=tags, nested=True,
                         parent_run_id=parent_id) as run:
            fig = evaluate_strategy(data, config_with(cfg, t.params), fidelity="full")
            tracker.log_params({**t.params, "optuna.trial_number": t.number})
            tracker.log_metrics({f"search.{k}": float(v) for k, v in fig.items()
                                 if isinstance(v, (int, float, bool)) and math.isfinite(v)})
            run_id = run.info.run_id
        stored[str(t.number)] = {
            **{k: v for k, v in _finite(fig).items() if k not in ("timings",)},
            "low_value": float(t.value), "run_id": run_id}
    st.set_user_attr(_RESCORE_ATTR, stored)
    by_number = {t.number: t for t in done}
    ranked = sorted((k for k in stored if int(k) in by_number),
                    key=lambda k: (-float(stored[k]["value"]), int(k)))
    return by_number[int(ranked[0])], stored


def _finite(fig: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None)
            for k, v in fig.items()}


class _StrategyObjective:
    """One trial: sample, validate the config, walk-forward backtest, log a child run."""

    def __init__(self, data: StrategyData, cfg: Config, target: int, tracker: Any,
                 parent_run_id: str, study_name: str):
        self.data, self.cfg, self.target = data, cfg, target
        self.tracker, self.parent_run_id, self.study_name = tracker, parent_run_id, study_name

    def __call__(self, trial: optuna.Trial) -> float:
        import mlflow

        check_surplus(trial, self.target)
        params = suggest_params(trial, self.cfg.tuning.strategy.space)
        t0 = time.perf_counter()
        tags = {"optuna.study": self.study_name, "optuna.trial_number": str(trial.number),
                "tune.role": "trial", "tune.objective": "strategy"}
        with self.tracker.run(run_name=f"{self.study_name}-trial-{trial.number}", tags=tags,
                              nested=True, parent_run_id=self.parent_run_id) as run:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            self.tracker.log_params({**params, "optuna.trial_number": trial.number})
            try:
                cfg = config_with(self.cfg, params)
            except ValidationError as exc:
                why = f"{exc.errors()[0]['msg']}"
                trial.set_user_attr("invalid", why)
                mlflow.set_tag("optuna.trial_state", "PRUNED")
                mlflow.set_tag("tune.invalid", why[:250])
                raise optuna.TrialPruned(f"invalid settings: {why}") from None
            fig = evaluate_strategy(self.data, cfg, fidelity=self.cfg.tuning.strategy.fidelity)
            duration = time.perf_counter() - t0
            self.tracker.log_metrics({
                **{f"search.{k}": float(v) for k, v in fig.items()
                   if isinstance(v, (int, float, bool))},
                **{f"time.{k}": float(v) for k, v in fig["timings"].items()},
                "objective": fig["value"], "trial.duration_s": duration})
            mlflow.set_tag("optuna.trial_state", "COMPLETE")
        trial.set_user_attr("duration_s", round(duration, 3))
        trial.set_user_attr("daily_returns", fig["daily_returns"])
        trial.set_user_attr("search", {k: v for k, v in _finite(fig).items()
                                       if k not in ("daily_returns", "timings")})
        return float(fig["value"])


def _validate_once(st: optuna.Study, best: optuna.trial.FrozenTrial, cfg: Config, panel: Panel,
                   data: StrategyData, tracker: Any, parent_id: str, name: str,
                   say: Callable[[str], None], n_rescored: int = 0) -> dict[str, Any]:
    n = _counts(st).complete + n_rescored  # every evaluation, at either fidelity
    stored = st.user_attrs.get(_VALIDATION_ATTR) or {}
    if stored.get("trial") == best.number and stored.get("n_trials") == n:
        say(f"trial {best.number} was validated before (run {stored.get('run_id')}); "
            "reporting the stored figures, not looking at the validation period again")
        return stored
    looks = int(stored.get("looks", 0)) + 1
    if looks > 1:
        say(f"the validation period was used before (trial {stored.get('trial')}); validating "
            f"trial {best.number} too: look {looks}, the figure is no longer untouched")
    best_cfg = config_with(cfg, best.params)
    say(f"validating trial {best.number} once on {data.validation_start:%Y-%m-%d %H:%M}.. "
        f"({data.n_validation_bars} bars held out of the search)")
    tags = {"optuna.study": name, "optuna.best_trial": str(best.number),
            "tune.role": "validation", "tune.objective": "strategy"}
    with tracker.run(run_name=f"{name}-validation", tags=tags, nested=True,
                     parent_run_id=parent_id) as run:
        fig, res = validate_strategy(panel, best_cfg, data.validation_start, n)
        tracker.log_params({**best.params, "backtest.n_trials": n})
        tracker.log_metrics({**{f"validation.{k}": float(v) for k, v in fig.items()
                                if isinstance(v, (int, float, bool))},
                             **{k: v for k, v in res.metrics.items() if math.isfinite(v)}})
        run_id = run.info.run_id
    out = {k: v for k, v in fig.items() if k != "daily_returns"}
    out = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
           for k, v in out.items()}
    out.update(trial=best.number, n_trials=n, run_id=run_id, looks=looks)
    st.set_user_attr(_VALIDATION_ATTR, out)
    return out


def tune_strategy(
    cfg: Config, *, trials: int, study: str | None = None, storage: str | None = None,
    validate_best: bool = False, panel: Panel | None = None, tracker: Any = None,
    config_path: str | Path | None = None, console: Any = None,
    heartbeat_interval: int | None = None, grace_period: int | None = None,
    poll_s: float | None = None,
) -> dict[str, Any]:
    """Run (or resume, or join) the strategy study until it holds ``trials`` finished trials.

    Parameters are those of :func:`revertible.tuning.tune`; ``validate_best`` backtests the
    best trial once on the held-out validation period (module docstring).

    Returns
    -------
    dict
        ``run_id`` (parent), ``study``, ``storage``, ``best_value``, ``best_params``,
        ``best_trial``, ``n_trials_done``, ``n_trials_run``, ``validation_start``, ``search``
        (the best trial's search figures), ``metrics`` (the parent's: ``best.*``, ``tune.*``,
        ``search.deflated_sharpe``, ``validation.*``), ``validation`` (with ``validate_best``),
        ``cache`` (episode-table hits, misses of this process) and ``prediction_cache``
        (walk-forward prediction hits, misses).
    """
    from ..data import load_panel
    from ..tracking import Tracker

    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, but got {trials}")
    check_strategy_space(cfg)

    def say(msg: str) -> None:
        if console is not None:
            console.print(msg, markup=False, highlight=False)

    t_start = time.perf_counter()
    name = study or cfg.tuning.strategy.study or f"{cfg.tuning.study or cfg.name}-strategy"
    url = storage or cfg.tuning.storage
    tracker = (tracker or Tracker(cfg.tracking)).connect()
    panel = load_panel(cfg.data) if panel is None else panel
    data = prepare_strategy_data(panel, cfg)
    sc = cfg.tuning.strategy
    what = "mean net bp per trade" if sc.objective == "net_bp" else "Sharpe of daily returns"

    def describe(c0: Any) -> str:
        return (f"study {name!r} at {_redact(url)}: {c0.done}/{trials} finished, {c0.failed} "
                f"failed, {c0.running} running; objective {sc.strategy} {what} after costs "
                f"(walk-forward, >= {sc.min_trades} trades) on {data.panel.times[0]:%Y-%m-%d}.."
                f"{data.panel.times[-1]:%Y-%m-%d}; validation from "
                f"{data.validation_start:%Y-%m-%d %H:%M} not used")

    def trial_line(st: optuna.Study, t: Any) -> str:
        c, b = _counts(st), _best(st)
        val = "invalid" if t.user_attrs.get("invalid") else (
            "-" if t.value is None else f"{t.value:.3f}")
        s = t.user_attrs.get("search") or {}
        trades = "" if not s else f" ({s.get('trades', 0):.0f} trades)"
        bst = "-" if b is None else f"{b.value:.3f} (#{b.number})"
        return (f"trial {t.number:>4d}  {t.state.name.lower():8s} {val}{trades:16s} best "
                f"{bst:16s} {t.user_attrs.get('duration_s', 0):6.1f}s  finished "
                f"{c.done}/{trials}  elapsed {_hms(time.perf_counter() - t_start)}")

    def summarise(st: optuna.Study, parent_id: str, ran: int) -> Any:
        c, best = _counts(st), _best(st)
        metrics: dict[str, float] = {
            "tune.trials_target": float(trials), "tune.n_complete": float(c.complete),
            "tune.n_pruned": float(c.pruned), "tune.n_fail": float(c.failed),
            "tune.trials_run": float(ran), "tune.elapsed_s": time.perf_counter() - t_start,
            "tune.cache_hits": float(data.cache.hits),
            "tune.cache_misses": float(data.cache.misses),
            "tune.prediction_cache_hits": float(data.predictions.hits),
            "tune.prediction_cache_misses": float(data.predictions.misses)}
        metrics.update({f"importance.{k}": v
                        for k, v in _importances(st, cfg.tuning.seed).items()})
        validation = None
        report: dict[str, Any] = {}
        if best is not None:
            rescored = None
            if sc.fidelity == "low":
                best, rescored = _rescore(st, cfg, data, tracker, parent_id, name, say)
                own = rescored[str(best.number)]
                report = {"value": float(own["value"]),
                          "search": {k: v for k, v in own.items()
                                     if k not in ("daily_returns", "run_id")}}
                metrics["tune.n_rescored"] = float(len(rescored))
            else:
                report = {"value": float(best.value),
                          "search": dict(best.user_attrs.get("search") or {})}
            metrics.update({"best.value": report["value"],
                            "best.trial_number": float(best.number),
                            **search_deflated_sharpe(st, best, rescored)})
            metrics.update({f"best.search.{k}": float(v) for k, v in report["search"].items()
                            if isinstance(v, (int, float)) and v is not None})
            tracker.log_params({f"best.{k}": v for k, v in best.params.items()})
            tracker.log_text(json.dumps({"value": report["value"], "trial": best.number,
                                         "params": best.params}, indent=2),
                             "best_params.json")
            # a best trial at the floor never traded enough: no candidate for the one look
            if validate_best and not report["search"].get("below_min_trades"):
                validation = _validate_once(st, best, cfg, panel, data, tracker,
                                            parent_id, name, say, len(rescored or {}))
                metrics.update({f"validation.{k}": float(v) for k, v in validation.items()
                                if isinstance(v, (int, float)) and v is not None})
        with contextlib.suppress(Exception):
            tracker.log_table(st.trials_dataframe(), "trials.csv")
        tracker.log_metrics({k: v for k, v in metrics.items() if math.isfinite(v)})
        return c, best, metrics, validation, report

    tags = {"tune.role": "study", "optuna.study": name, "optuna.storage": _redact(url),
            "tune.objective": f"strategy.{sc.objective}", "tune.direction": "maximize",
            "data_fingerprint": data.fingerprint, "data_source": str(panel.source),
            "config_name": cfg.name, "validation_start": str(data.validation_start)}
    done = run_study(
        cfg, name=name, url=url, trials=trials, tracker=tracker,
        settings=strategy_settings(cfg, data.fingerprint, data.validation_start), tags=tags,
        describe=describe,
        make_objective=lambda pid: _StrategyObjective(data, cfg, trials, tracker, pid, name),
        trial_line=trial_line, summarise=summarise, say=say, config_path=config_path,
        direction="maximize", heartbeat_interval=heartbeat_interval or None,
        grace_period=grace_period, poll_s=poll_s)
    parent_id, ran = done.parent_id, done.ran
    c, best, metrics, validation, report = done.summary
    if best is None:
        if validate_best:
            raise RevertibleError(f"study {name!r} has no completed trial to validate; run more "
                                  "trials first")
        say(f"study {name!r}: no completed trial yet")
    else:
        s = report["search"]
        at = " (re-scored at full fidelity)" if sc.fidelity == "low" else ""
        say(f"study {name!r}: best trial {best.number}{at} {json.dumps(best.params)}: search "
            f"{_figs(s)}, deflated Sharpe {metrics['search.deflated_sharpe']:.3f} over "
            f"{metrics['search.n_trials']:.0f} trials; parent run {parent_id}")
        if validation is not None:
            say(f"validation {data.validation_start:%Y-%m-%d}..: {_figs(validation)}, deflated "
                f"Sharpe {_num(validation.get('deflated_sharpe'))} (N={validation['n_trials']})")
        elif validate_best:
            raise RevertibleError(
                f"study {name!r}: no trial made tuning.strategy.min_trades="
                f"{sc.min_trades} trades in the search (the best, trial {best.number}, is at "
                f"the floor {sc.floor:g}); not validated, so the held-out period stays "
                "untouched: run more trials, widen tuning.strategy.space or lower min_trades")
    return {
        "run_id": parent_id, "study": name, "storage": _redact(url),
        "best_value": None if best is None else report["value"],
        "best_params": {} if best is None else dict(best.params),
        "best_trial": None if best is None else best.number,
        "n_trials_done": c.done, "n_trials_run": ran,
        "validation_start": str(data.validation_start),
        "search": {} if best is None else dict(report["search"]),
        "validation": validation, "metrics": metrics,
        "cache": {"hits": data.cache.hits, "misses": data.cache.misses},
        "prediction_cache": {"hits": data.predictions.hits, "misses": data.predictions.misses},
    }


def _num(v: Any, fmt: str = ".3f") -> str:
    return "nan" if v is None or not math.isfinite(float(v)) else format(float(v), fmt)


def _figs(f: dict[str, Any]) -> str:
    return (f"{_num(f.get('net_bp'), '.2f')} net bp/trade over {_num(f.get('trades'), '.0f')} "
            f"trades, Sharpe (daily) {_num(f.get('sharpe_daily'), '.2f')}, total return "
            f"{_num(f.get('total_return'), '.2%')}")
