r"""The strategy search's objective: a walk-forward, after-cost backtest on the search period.

A trial is the config with the ``tuning.strategy.space`` keys (dotted config keys in the
``spread``, ``label``, ``continue``, ``sizing``, ``backtest`` and ``costs`` sections) replaced by
sampled values. Its value is a figure of the walk-forward backtest
(:func:`revertible.backtest.run_backtest`, ``walk_forward=True``) of strategy
``tuning.strategy.strategy`` (default ``model``) after costs:

* ``net_bp`` (default): mean net bp per trade (P&L over gross entry notional);
* ``sharpe``: annualised Sharpe (``sqrt(365)``) of the strategy's daily returns;

and ``tuning.strategy.floor`` when the strategy made fewer than ``tuning.strategy.min_trades``
trades (a mean of five trades is noise, not an edge).

The held-out validation period
------------------------------
:func:`split_validation` cuts the panel at ``validation_start`` = the first bar of the last
``tuning.strategy.validation_days`` days, *before* anything the objective uses is built: the
search panel (bars ``< validation_start``) is the only panel the trials' episodes, features,
walk-forward models and replays ever see, so no label, price or feature of the validation period
reaches a trial (episodes near the cut are labelled on the bars before it only).
:func:`validate_strategy` backtests one configuration once on ``[validation_start, end]``
(walk-forward models trained on labels known before each block, as always).

Speed
-----
The walk-forward model fits are the cost of a trial. The search (and its validation, so the two
figures are comparable) therefore uses a cheaper evaluator (:func:`search_config`): retrain every
``tuning.strategy.retrain_every_days`` (60) days, ``tuning.strategy.n_estimators`` (100) trees,
``tuning.strategy.calibration_folds`` (2) calibration folds, one cost multiplier (1x).
Episodes and features depend on ``universe``, ``spread``, ``label``, ``continue`` and
``features`` only: :class:`EpisodeCache` keeps the last ``tuning.strategy.cache_size`` tables per
process keyed by those settings. The walk-forward predictions depend on those tables and the
``model``, ``cv``, ``seed``, walk-forward settings (``backtest.min_train_days``,
``retrain_every_days``, ``calibration_folds``), the return calibrator's settings and the leg
split only: :class:`PredictionCache` keeps the last
``cache_size`` of them, so trials that differ only in sizing, costs or the other backtest
settings rebuild nothing but the replay.

A trial computes only what its value needs (``light``, the default of
:func:`evaluate_strategy`): it replays ``tuning.strategy.strategy`` alone and skips the
report-only metrics (bootstrap intervals, quarterly Sharpe, book-risk paths, deciles). Every
block model is fitted in full (classifier, calibration folds, return calibrator): the decision
rests on the held-out record, which the calibration folds produce.
``light=False`` runs the full backtest; both give the same figures
(tests/tuning/test_strategy.py).

Fidelity
--------
``tuning.strategy.fidelity: low`` makes the search a two-stage one: every trial is evaluated with
a cheaper model (``low_n_estimators`` trees at ``low_learning_rate``, about the same
``n_estimators x learning_rate``; everything else as above), then the ``rescore_top`` best trials
are evaluated again at full fidelity (:func:`search_config` as above) and only those figures are
reported: the best trial is the best re-scored one, the validation backtests it at full fidelity,
and the deflated Sharpe counts every evaluation at either fidelity (trials plus re-scores).
A low-fidelity value only ranks trials; it is never reported as the search's figure.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ..config import Config, ParamRange, flatten
from ..data import Panel
from ..errors import ConfigError, RevertibleError

__all__ = [
    "STRATEGY_SECTIONS",
    "StrategyData",
    "EpisodeCache",
    "PredictionCache",
    "check_strategy_space",
    "config_with",
    "search_config",
    "split_validation",
    "prepare_strategy_data",
    "strategy_figures",
    "evaluate_strategy",
    "validate_strategy",
]

STRATEGY_SECTIONS = ("spread", "label", "continue", "sizing", "backtest", "costs")
"""Config sections whose settings the strategy search may tune."""

#: Settings episodes and features depend on (the cache key).
_EPISODE_KEYS = ("universe.", "spread.", "label.", "continue.", "features.")


def config_with(cfg: Config, params: dict[str, Any]) -> Config:
    """``cfg`` with dotted keys (``label.entry``) set to ``params``, validated as a whole."""
    raw = cfg.model_dump(mode="python", by_alias=True)
    for key, value in params.items():
        section, _, name = key.partition(".")
        raw[section] = {**raw[section], name: value}
    return Config.model_validate(raw)


def check_strategy_space(cfg: Config) -> None:
    """Raise :class:`ConfigError` unless every ``tuning.strategy.space`` entry is tunable."""
    space = cfg.tuning.strategy.space
    if not space:
        raise ConfigError("tuning.strategy.space is empty; give at least one setting to search")
    for key, r in space.items():
        where = f"tuning.strategy.space.{key}"
        section, _, name = key.partition(".")
        fields = _section_fields(cfg, section)
        if section not in STRATEGY_SECTIONS or name not in fields:
            raise ConfigError(f"{where}: not a strategy or label setting; use a key of the "
                              f"sections {', '.join(STRATEGY_SECTIONS)} (e.g. label.entry)")
        values = list(r.choices or ()) if r.type == "categorical" else [r.low, r.high]
        if r.type == "int" and any(float(v) != int(v) for v in values):
            raise ConfigError(f"{where}: an int range needs whole numbers, but got "
                              f"(low={r.low}, high={r.high})")
        if r.log and r.type != "categorical" and r.low <= 0:
            raise ConfigError(f"{where}: a log range needs `low > 0`, but got low={r.low}")
        for v in values:
            try:
                config_with(cfg, {key: _cast(r, v)})
            except ValidationError as exc:
                err = exc.errors()[0]
                raise ConfigError(f"{where}: value {v!r} is not a valid {key} with the other "
                                  f"settings of the config: {err['msg']}; fix the range") from None


def _section_fields(cfg: Config, section: str) -> tuple[str, ...]:
    model = getattr(cfg, "continue_" if section == "continue" else section, None)
    return tuple(type(model).model_fields) if model is not None else ()


def _cast(r: ParamRange, v: Any) -> Any:
    return int(v) if r.type == "int" else float(v) if r.type == "float" else v


def search_config(cfg: Config, fidelity: str = "full") -> Config:
    """The cheaper walk-forward evaluator of the search and its validation (module docstring).

    ``fidelity="low"``: a low-fidelity trial's models, ``tuning.strategy.low_n_estimators``
    trees at ``low_learning_rate`` (module docstring, "Fidelity").
    """
    sc = cfg.tuning.strategy
    bt: dict[str, Any] = {"cost_multipliers": (1.0,)}
    if sc.retrain_every_days is not None:
        bt["retrain_every_days"] = sc.retrain_every_days
    if sc.calibration_folds is not None:
        bt["calibration_folds"] = sc.calibration_folds
    upd: dict[str, Any] = {"backtest": cfg.backtest.model_copy(update=bt)}
    model: dict[str, Any] = {}
    if sc.n_estimators is not None:
        model["n_estimators"] = sc.n_estimators
    if fidelity == "low":
        model.update(n_estimators=sc.low_n_estimators, learning_rate=sc.low_learning_rate)
    elif fidelity != "full":
        raise ValueError(f"fidelity must be 'full' or 'low', got {fidelity!r}")
    if model:
        upd["model"] = cfg.model.model_copy(update=model)
    return cfg.model_copy(update=upd)


def split_validation(panel: Panel, cfg: Config) -> tuple[Panel, pd.Timestamp]:
    """``(search panel, validation_start)``: bars before the last ``validation_days`` days."""
    days = cfg.tuning.strategy.validation_days
    start = panel.times[-1] - pd.Timedelta(days=days) + panel.freq
    n = int(panel.times.searchsorted(start, side="left"))
    need = cfg.backtest.min_train_days + 1
    span = (panel.times[n - 1] - panel.times[0]) / pd.Timedelta(days=1) if n else 0.0
    if span < need:
        raise ConfigError(
            f"tuning.strategy.validation_days={days} leaves {span:.1f} days to search, but the "
            f"walk-forward needs more than backtest.min_train_days={cfg.backtest.min_train_days}"
            "; lower validation_days or backtest.min_train_days, or use more data")
    return panel.slice_bars(0, n), panel.times[n]


class EpisodeCache:
    """Episode and feature tables of the last ``size`` settings (in memory, per process)."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[str, tuple[pd.DataFrame, pd.DataFrame]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(cfg: Config, panel: Panel) -> str:
        flat = flatten(cfg)
        keep = {k: v for k, v in flat.items() if k.startswith(_EPISODE_KEYS)}
        return json.dumps([panel.fingerprint(), keep], sort_keys=True, default=str)

    def get(self, cfg: Config, panel: Panel, progress: Any = None
            ) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
        """``(episodes, features, cached)`` of ``panel`` under ``cfg``; built on a miss."""
        from ..episodes import build_episodes
        from ..features import build_features

        k = self.key(cfg, panel)
        if k in self._items:
            self._items.move_to_end(k)
            self.hits += 1
            return (*self._items[k], True)
        self.misses += 1
        eps = build_episodes(panel, cfg)
        if len(eps):
            order = np.argsort(pd.DatetimeIndex(eps["entry_time"]).asi8, kind="stable")
            eps = eps.iloc[order].reset_index(drop=True)
        feats = build_features(panel, eps, cfg, progress=progress)
        self._items[k] = (eps, feats)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return eps, feats, False


#: Settings the walk-forward predictions depend on beyond the episode tables.
_MODEL_KEYS = ("model.", "cv.", "backtest.min_train_days", "backtest.retrain_every_days",
               "backtest.calibration_folds", "backtest.calibration_record",
               "backtest.warm_start_trees", "decision.calibration_bins", "decision.shrinkage",
               "decision.min_bin_trades", "decision.cluster_days", "decision.confidence",
               "decision.drift_days", "decision.common_level", "sizing.split")
"""Every ``decision`` key the block return calibrators are fitted with is one of them."""


class PredictionCache:
    """Walk-forward predictions of the last ``size`` settings (in memory, per process).

    Keyed by the episode settings (:meth:`EpisodeCache.key`), the model, cv, seed and
    walk-forward settings, the return calibrator's settings and the leg split (its targets),
    and the range end; the value is
    :attr:`revertible.backtest.BacktestResult.predictions`, passed back to
    :func:`revertible.backtest.run_backtest` as ``predictions``.
    """

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(cfg: Config, panel: Panel) -> str:
        flat = flatten(cfg)
        keep = {k: v for k, v in flat.items() if k.startswith(_MODEL_KEYS) or k == "seed"}
        return json.dumps([EpisodeCache.key(cfg, panel), keep], sort_keys=True, default=str)

    def get(self, key: str) -> Any:
        """The stored predictions of ``key``, or None (counted as a hit or a miss)."""
        if key in self._items:
            self._items.move_to_end(key)
            self.hits += 1
            return self._items[key]
        self.misses += 1
        return None

    def put(self, key: str, predictions: Any) -> None:
        """Store ``predictions`` under ``key`` (dropping the least recently used)."""
        self._items[key] = predictions
        while len(self._items) > self.size:
            self._items.popitem(last=False)


@dataclass
class StrategyData:
    """What every trial of one invocation shares: the search panel only, and the cache."""

    panel: Panel
    validation_start: pd.Timestamp
    fingerprint: str
    n_validation_bars: int
    cache: EpisodeCache = field(repr=False, default_factory=lambda: EpisodeCache(4))
    predictions: PredictionCache = field(repr=False, default_factory=lambda: PredictionCache(4))


def prepare_strategy_data(panel: Panel, cfg: Config) -> StrategyData:
    """Cut the validation period off ``panel`` (before anything is built) and open a cache."""
    search, vstart = split_validation(panel, cfg)
    size = cfg.tuning.strategy.cache_size
    return StrategyData(search, vstart, search.fingerprint(), panel.n_bars - search.n_bars,
                        EpisodeCache(size), PredictionCache(size))


def strategy_figures(result: Any, cfg: Config) -> dict[str, Any]:
    """Objective figures of ``tuning.strategy.strategy`` from a backtest result."""
    from ..backtest import daily_returns

    s = cfg.tuning.strategy.strategy
    if s not in result.strategies:
        raise ConfigError(f"tuning.strategy.strategy={s!r} is not a backtest strategy; use one "
                          f"of {', '.join(result.strategies)}")
    m = result.metrics
    daily = daily_returns(result.equity[s])
    sd = float(np.std(daily, ddof=1)) if len(daily) > 2 else float("nan")
    sharpe = float(np.mean(daily) / sd * math.sqrt(365)) if sd > 0 else float("nan")
    out = {"trades": float(m[f"{s}.trades"]), "net_bp": float(m[f"{s}.net_bp_per_trade"]),
           "sharpe_daily": sharpe, "total_return": float(m[f"{s}.total_return"]),
           "max_drawdown": float(m[f"{s}.max_drawdown"]),
           "deflated_sharpe": float(m.get(f"{s}.deflated_sharpe", float("nan"))),
           "start": str(result.start), "end": str(result.end)}
    metric = "net_bp" if cfg.tuning.strategy.objective == "net_bp" else "sharpe_daily"
    enough = out["trades"] >= cfg.tuning.strategy.min_trades and math.isfinite(out[metric])
    out["value"] = float(out[metric]) if enough else float(cfg.tuning.strategy.floor)
    out["below_min_trades"] = not enough
    out["daily_returns"] = [float(x) for x in daily]
    return out


def evaluate_strategy(data: StrategyData, cfg: Config, progress: Any = None, *,
                      light: bool = True, fidelity: str = "full") -> dict[str, Any]:
    """One trial's figures: the walk-forward backtest of the search panel (never validation).

    ``light`` (default): only what the figures need, with the prediction cache (module
    docstring); ``light=False``: the full backtest of every strategy, no prediction cache.
    Both give the same figures. ``fidelity``: ``"full"`` (the search evaluator) or ``"low"``
    (a cheaper model, module docstring "Fidelity"); the figures carry it.
    """
    from ..backtest import STRATEGIES, run_backtest

    s = cfg.tuning.strategy.strategy
    if s not in STRATEGIES:
        raise ConfigError(f"tuning.strategy.strategy={s!r} is not a backtest strategy; use one "
                          f"of {', '.join(STRATEGIES)}")
    ev = search_config(cfg, fidelity)
    t0, c0 = time.perf_counter(), time.process_time()
    eps, feats, cached = data.cache.get(ev, data.panel, progress)
    built, built_cpu = time.perf_counter() - t0, time.process_time() - c0
    if len(eps) == 0:
        raise RevertibleError("no divergence episodes in the search period with these settings")
    pred, key = None, None
    if light:
        key = data.predictions.key(ev, data.panel)
        pred = data.predictions.get(key)
        res = run_backtest(ev, data.panel, episodes=eps, features=feats, walk_forward=True,
                           strategies=(s,), light=True, predictions=pred)
        if pred is None:
            data.predictions.put(key, res.predictions)
    else:
        res = run_backtest(ev, data.panel, episodes=eps, features=feats, walk_forward=True)
    out = strategy_figures(res, cfg)
    out["fidelity"] = fidelity
    out["cached"] = cached
    out["predictions_cached"] = pred is not None
    out["train_rows"] = float(res.blocks["n_train"].sum()) if len(res.blocks) else 0.0
    out["n_blocks"] = float(len(res.blocks))
    out["timings"] = {"episodes_features_s": built, "episodes_features_cpu_s": built_cpu,
                      **res.timings}
    return out


def validate_strategy(panel: Panel, cfg: Config, validation_start: pd.Timestamp,
                      n_trials: int) -> tuple[dict[str, Any], Any]:
    """Backtest ``cfg`` once on ``[validation_start, end]`` of the full ``panel``.

    Same evaluator as the search (:func:`search_config`); ``backtest.n_trials = n_trials`` so the
    result's deflated Sharpe accounts for the search. Returns ``(figures, BacktestResult)``.
    """
    from ..backtest import run_backtest

    ev = search_config(cfg)
    ev = ev.model_copy(update={"backtest": ev.backtest.model_copy(
        update={"n_trials": int(n_trials)})})
    res = run_backtest(ev, panel, walk_forward=True, since=validation_start)
    return strategy_figures(res, ev), res
