"""Scoring: divergences -> calibrated probability -> two-leg positions (DESIGN.md "scoring").

What a trader runs every hour: take the latest data, find the divergences that are open now, score
them with the registered model and size the two legs under the book's risk limits.

Two modes, one code path:

* **live** (default): the divergences *open as of the last bar* ``T``: an episode that entered
  within the horizon (``entry_time > T - horizon * bar``) and has touched no barrier yet, so its
  label is still null (``exit_reason == "open"``). An episode whose pair stopped trading before
  ``T`` can be "open" forever in the episode table; the horizon condition keeps it out.
* **historical** (``since`` and/or ``until``): every divergence whose entry lies in
  ``[since, until]`` (both inclusive; a missing end is the first / last bar), labels resolved or
  not.

No train/serve skew: episodes come from :func:`revertible.episodes.build_episodes` and features
from :func:`revertible.features.build_features` on the whole panel, exactly as in training
(:func:`revertible.model.prepare_dataset`); only the rows to score are featurised, with the full
episode table passed as ``history`` so the pair-history features count the pair's earlier
episodes exactly as training does. Before anything is predicted the model is checked against the
scoring input (:func:`check_model`): a missing feature, a model trained with funding scored on data
without it, or label / spread settings that differ from the training run raise
:class:`~revertible.errors.ModelError`.

Timing (point in time)
----------------------
Every input of a divergence entered at bar ``t`` uses bars ``<= t``: its features, its
probability, its leg prices and its leg volatilities. Leg prices are the close of the entry bar
``t``, the bar whose close triggered the divergence, live and historical alike, so a historical
row is what the hourly run would have printed at ``t``; quantities are ``notional / price`` at
that close (an order placed after the bar fills at the next bar's open, as the backtest assumes).
Leg volatilities (:func:`leg_vols`, for ``sizing.split = vol_parity``) are the std of one-bar log
returns over the trailing :data:`LEG_VOL_BARS` bars ending at ``t``. Only ``label`` /
``exit_reason`` (the outcome so far) look forward. Scoring data cut at ``T`` gives every divergence
entered at or before ``T`` the same probability as the full data.

What "the same size" means under book limits
--------------------------------------------
:func:`revertible.decision.size_signals` shares the book caps (per-asset net exposure, gross
leverage, margin kept out of the buffer) among the signals sized *together*, in descending
probability. Which signals are sized together is the *book*:

* live: the divergences open now form one book, the positions the trader would hold together;
* historical: the divergences that entered at the same bar form one book (each entry bar starts
  from an empty book). Everything in that book is known at the entry bar, so a row's size (legs,
  quantities, leverage, reason) depends only on data up to its entry: the full history and history
  cut at any ``T >= entry`` give identical rows. A book spanning the whole range would let a later
  (future) signal with a higher probability take room from an earlier one: look-ahead. Holding
  positions across bars, with their exits, is the backtest's job.

``bet_size`` and ``payoff_ratio`` (extra columns) are per-signal and book-free: they are the same
for a divergence in every mode and every cut.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import BARS_PER_DAY, Config
from ..data import Panel
from ..errors import ModelError, RevertibleError

__all__ = [
    "SIGNAL_COLUMNS",
    "EXTRA_COLUMNS",
    "OUTPUT_COLUMNS",
    "LEG_VOL_BARS",
    "select_open",
    "select_range",
    "leg_vols",
    "check_model",
    "tracking_uri",
    "resolve_model_uri",
    "episode_features",
    "score_episodes",
    "score_panel",
    "score_command",
]

#: DESIGN.md signal columns, in order.
SIGNAL_COLUMNS = [
    "asset_a", "asset_b", "entry_time", "z_entry", "beta", "probability", "model",
    "leg_a_side", "leg_a_notional", "leg_a_qty", "leg_a_price",
    "leg_b_side", "leg_b_notional", "leg_b_qty", "leg_b_price",
    "gross_leverage", "take_profit_z", "stop_z", "time_stop", "min_abs_corr", "reason",
]  # fmt: skip

#: Extra columns after the DESIGN.md ones. ``spread_mean``/``spread_std`` (with ``beta``) are
#: the frozen spread parameters the exits are defined on: a trader needs them to compute
#: ``z' = sign(z_entry) * (log a - beta * log b - spread_mean) / spread_std`` and watch
#: ``take_profit_z`` / ``stop_z``. ``bet_size`` and ``payoff_ratio`` are the book-free size of the
#: signal; ``margin``, leg leverages and liquidation prices show the liquidation-before-stop rule;
#: ``label`` / ``exit_reason`` are the outcome so far (null / ``open`` for live rows).
EXTRA_COLUMNS = [
    "spread_mean", "spread_std", "bet_size", "payoff_ratio", "margin",
    "leg_a_leverage", "leg_b_leverage", "leg_a_liq_price", "leg_b_liq_price",
    "label", "exit_reason",
]  # fmt: skip

OUTPUT_COLUMNS = SIGNAL_COLUMNS + EXTRA_COLUMNS

#: Historical scoring sizes its books in worker processes from this many rows on.
PARALLEL_MIN_ROWS = 50_000

#: Trailing window of the per-leg return volatility (``vol_parity`` split): 30 days of bars.
LEG_VOL_BARS = 30 * BARS_PER_DAY


# ----------------------------------------------------------------------------------------------
# selection


def select_open(
    episodes: pd.DataFrame, as_of: pd.Timestamp, horizon: int, bar: pd.Timedelta
) -> pd.DataFrame:
    """Divergences open as of bar ``as_of``: entered within the horizon, no barrier touched yet.

    An episode entered at ``t`` is open at ``as_of`` when its label window ``t + 1 .. t +
    horizon`` is not complete (``t > as_of - horizon * bar``, ``t <= as_of``) and its label is
    null (no barrier touched by the last bar of the pair's data).

    Examples
    --------
    >>> eps = pd.DataFrame({
    ...     "entry_time": pd.to_datetime(["2024-01-01 00:00", "2024-01-02 20:00",
    ...                                   "2024-01-02 21:00"], utc=True),
    ...     "label": pd.array([pd.NA, pd.NA, 1.0], dtype="Float64")})
    >>> as_of = pd.Timestamp("2024-01-03 00:00", tz="UTC")  # the first entry is 48 bars old
    >>> select_open(eps, as_of, 48, pd.Timedelta("1h")).index.tolist()
    [1]
    """
    entry = episodes["entry_time"]
    start = as_of - horizon * bar
    keep = (entry > start) & (entry <= as_of) & episodes["label"].isna().to_numpy()
    return episodes[keep.to_numpy()]


def select_range(
    episodes: pd.DataFrame, since: pd.Timestamp | None, until: pd.Timestamp | None
) -> pd.DataFrame:
    """Divergences whose entry lies in ``[since, until]`` (inclusive; None: unbounded)."""
    keep = np.ones(len(episodes), dtype=bool)
    entry = episodes["entry_time"]
    if since is not None:
        keep &= (entry >= since).to_numpy()
    if until is not None:
        keep &= (entry <= until).to_numpy()
    return episodes[keep]


# ----------------------------------------------------------------------------------------------
# inputs of sizing


def leg_vols(panel: Panel, window: int = LEG_VOL_BARS, min_obs_frac: float = 0.9) -> np.ndarray:
    """``(T, N)`` std (ddof 1) of one-bar log returns over the trailing ``window`` bars.

    The window ends at ``t`` inclusive (the return into bar ``t`` counts); NaN unless at least
    ``ceil(min_obs_frac * window)`` returns are valid. Computed in one forward pass, so the value
    at ``t`` is the same on any panel that holds bars ``0..t``.
    """
    from ..spread import min_obs

    ret = np.diff(panel.log_close(), axis=0, prepend=np.nan)
    df = pd.DataFrame(ret)
    vol = df.rolling(window, min_periods=min_obs(window, min_obs_frac)).std(ddof=1)
    return vol.to_numpy()


def _sizing_inputs(
    panel: Panel, episodes: pd.DataFrame, vols: np.ndarray
) -> dict[str, np.ndarray]:
    """Leg prices (close of the entry bar) and leg vols at each episode's entry."""
    t = panel.times.get_indexer(pd.DatetimeIndex(episodes["entry_time"]))
    pos = {a: i for i, a in enumerate(panel.assets)}
    ia = episodes["asset_a"].map(pos).to_numpy(dtype=np.int64)
    ib = episodes["asset_b"].map(pos).to_numpy(dtype=np.int64)
    return {
        "price_a": panel.close[t, ia],
        "price_b": panel.close[t, ib],
        "vol_a": vols[t, ia],
        "vol_b": vols[t, ib],
    }


# ----------------------------------------------------------------------------------------------
# model


def check_model(
    model: Any, cfg: Config, has_funding: bool, features: pd.DataFrame | None = None
) -> None:
    """Refuse to score when the model cannot use this input (one :class:`ModelError` line).

    Checks, in order: the data sources (a model trained with funding features needs
    ``data.funding_path``), the settings recorded in ``model.meta`` (``label``, ``spread``, and
    ``features`` / ``universe`` when recorded) against ``cfg``, since episodes and features depend
    on them, and the feature columns: those of ``features``, or before any work the columns
    :func:`revertible.features.feature_names` gives under ``cfg``.
    """
    from ..features import feature_names

    model.check_sources(has_funding)
    meta = getattr(model, "meta", {}) or {}
    for section in ("label", "spread", "features", "universe"):
        trained = meta.get(section)
        if not isinstance(trained, dict):
            continue
        now = getattr(cfg, section).model_dump()
        diff = [k for k, v in trained.items() if k in now and not _same(now[k], v)]
        if diff:
            k = diff[0]
            raise ModelError(
                f"the model was trained with {section}.{k}={trained[k]!r} but the scoring config "
                f"has {section}.{k}={now[k]!r}; score with the training config "
                f"(--set {section}.{k}={trained[k]}) or retrain"
            )
    if features is None:
        features = pd.DataFrame(columns=feature_names(cfg))
    model.check_input(features)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def tracking_uri(cfg: Config) -> str:
    """Return the MLflow store: ``MLFLOW_TRACKING_URI`` if set, else ``tracking.uri``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or cfg.tracking.uri


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


# ----------------------------------------------------------------------------------------------
# scoring core


def episode_features(
    panel: Panel,
    episodes: pd.DataFrame,
    cfg: Config,
    *,
    history: pd.DataFrame,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Features of the rows to score, computed exactly as for training.

    :func:`~revertible.features.build_features` of ``episodes`` on the whole ``panel``, the pair
    history counted from ``history`` (the full episode table): row for row equal to the training
    table (:func:`revertible.model.prepare_dataset`) of the same episodes.
    """
    from ..features import build_features

    return build_features(panel, episodes, cfg, history=history, progress=progress)


def score_episodes(
    panel: Panel,
    episodes: pd.DataFrame,
    model: Any,
    cfg: Config,
    *,
    history: pd.DataFrame,
    model_id: str,
    capital: float | None = None,
    book: str = "all",
    features: pd.DataFrame | None = None,
    vols: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Features, calibrated probability and two-leg sizes of ``episodes`` (one row each).

    Parameters
    ----------
    panel : Panel
        The panel the episodes were built on (features read the whole panel, as in training).
    episodes : pandas.DataFrame
        The rows to score (episode columns).
    model : CalibratedReversionModel
        Loaded model (:func:`revertible.tracking.load_model`).
    cfg : Config
        Run config (features, label barriers, sizing, costs).
    history : pandas.DataFrame
        The full episode table of ``panel`` (pair-history features).
    model_id : str
        Written to the ``model`` column.
    capital : float, optional
        Account equity; ``cfg.sizing.capital`` if None.
    book : {"all", "entry_time"}
        Rows sized together: all rows in one book (live), or one book per entry bar
        (historical; see the module docstring).
    features : pandas.DataFrame, optional
        :func:`episode_features` of ``episodes`` (same rows, same order), computed if None.
    vols : numpy.ndarray, optional
        :func:`leg_vols` of ``panel`` (computed if None).
    progress : callable, optional
        ``progress(pairs_done, pairs_total)`` while features are computed.

    Returns
    -------
    pandas.DataFrame
        :data:`OUTPUT_COLUMNS`, same row order as ``episodes``, fresh ``RangeIndex``.
    """
    if book not in ("all", "entry_time"):
        raise ValueError(f"`book in {{'all', 'entry_time'}}` must hold, but got book={book!r}")
    eps = episodes.reset_index(drop=True)
    if features is None:
        feats = episode_features(panel, eps, cfg, history=history, progress=progress)
    elif len(features) != len(eps):
        raise ValueError(
            f"`len(features) == len(episodes)` must hold, but got ({len(features)}, {len(eps)})"
        )
    else:
        feats = features.reset_index(drop=True)
    check_model(model, cfg, panel.funding is not None, feats)
    prob = model.predict_proba(feats) if len(eps) else np.empty(0)
    vols = leg_vols(panel, LEG_VOL_BARS, cfg.universe.min_obs_frac) if vols is None else vols
    sig = pd.DataFrame(
        {
            "entry_time": pd.DatetimeIndex(eps["entry_time"]),
            "z_entry": eps["z_entry"].to_numpy(dtype=float),
            "beta": eps["beta"].to_numpy(dtype=float),
            "spread_std": eps["spread_std"].to_numpy(dtype=float),
            "probability": np.asarray(prob, dtype=float),
            **_sizing_inputs(panel, eps, vols),
        }
    )
    # a narrow frame with object-dtype names: size_signals reads them row by row
    for leg in ("asset_a", "asset_b"):
        sig.insert(0 if leg == "asset_a" else 1, leg, eps[leg].astype(object))
    sized = _size(sig, cfg, capital, panel.freq, book)
    out = sized.drop(columns=["price_a", "price_b", "vol_a", "vol_b"])
    for col in ("asset_a", "asset_b", "spread_mean", "exit_reason"):
        out[col] = eps[col]
    out["model"] = model_id
    out["label"] = eps["label"].astype("Float64")
    return out[OUTPUT_COLUMNS]


def _size(sig: pd.DataFrame, cfg: Config, capital: float | None, bar: pd.Timedelta,
          book: str) -> pd.DataFrame:
    """Size ``sig`` in one book (``"all"``) or one book per entry bar; row order kept.

    Books of different entry bars are independent, so with many rows they are sized in worker
    processes (``compute.threads``, default all cores): the same function on the same inputs, so
    the result is identical to the serial loop.
    """
    args = (cfg.sizing, cfg.costs, cfg.label, bar, capital)
    if book == "all" or len(sig) == 0:
        return _size_books(sig, np.zeros(0, np.int64), *args)
    ns = pd.DatetimeIndex(sig["entry_time"]).asi8
    order = np.argsort(ns, kind="stable")
    sig = sig.iloc[order]
    cuts = np.flatnonzero(np.diff(ns[order])) + 1  # first row of each book after the first
    workers = _workers(cfg)
    if workers < 2 or len(sig) < PARALLEL_MIN_ROWS:
        return _size_books(sig, cuts, *args).sort_index()
    # contiguous runs of whole books with about the same number of rows each
    starts = np.concatenate([[0], cuts])
    chunk = starts * (4 * workers) // len(sig)
    lo = starts[np.flatnonzero(np.diff(chunk, prepend=-1))]
    hi = np.append(lo[1:], len(sig))
    jobs = [(sig.iloc[a:b], cuts[(cuts > a) & (cuts < b)] - a) for a, b in zip(lo, hi, strict=True)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_size_books, frame, inner, *args) for frame, inner in jobs]
        parts = [f.result() for f in futures]
    return pd.concat(parts).sort_index()


def _size_books(sig: pd.DataFrame, cuts: np.ndarray, sizing: Any, costs: Any, label: Any,
                bar: pd.Timedelta, capital: float | None) -> pd.DataFrame:
    """``size_signals`` on ``sig[:cuts[0]]``, ``sig[cuts[0]:cuts[1]]``, ...: one book each."""
    from ..decision import size_signals

    bounds = np.concatenate([[0], cuts, [len(sig)]]).astype(np.int64)
    parts = [
        size_signals(sig.iloc[lo:hi], sizing, costs, label, bar=bar, capital=capital)
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    return parts[0] if len(parts) == 1 else pd.concat(parts)


def _workers(cfg: Config) -> int:
    """Worker processes for sizing: ``compute.threads``, else the usable cores; 1 without fork."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if cfg.compute.threads is not None:
        return cfg.compute.threads
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# ----------------------------------------------------------------------------------------------
# panel -> signals


def _as_utc(value: str | pd.Timestamp | None, flag: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise RevertibleError(
            f"{flag} {value!r} is not a time; use an ISO time such as 2024-06-01T12:00 (UTC)"
        ) from None
    if ts is pd.NaT:
        raise RevertibleError(f"{flag} {value!r} is not a time; use e.g. 2024-06-01T12:00 (UTC)")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _request(
    cfg: Config,
    since: str | pd.Timestamp | None,
    until: str | pd.Timestamp | None,
    capital: float | None,
) -> tuple[pd.Timestamp | None, pd.Timestamp | None, float]:
    """Check and return ``(since, until, capital)``; one-line :class:`RevertibleError` if bad."""
    t_since, t_until = _as_utc(since, "--since"), _as_utc(until, "--until")
    if t_since is not None and t_until is not None and t_since > t_until:
        raise RevertibleError(
            f"`since <= until` must hold, but got (since={t_since}, until={t_until}); swap them"
        )
    cap = cfg.sizing.capital if capital is None else float(capital)
    if not (math.isfinite(cap) and cap > 0.0):
        raise RevertibleError(
            f"`capital > 0` must hold, but got capital={cap!r}; pass the account equity in "
            "quote currency (--capital or sizing.capital)"
        )
    return t_since, t_until, cap


def _rows(
    panel: Panel,
    cfg: Config,
    history: pd.DataFrame,
    since: pd.Timestamp | None,
    until: pd.Timestamp | None,
) -> pd.DataFrame:
    """Select the episodes to score: open as of the last bar (live) or entered in range."""
    if since is None and until is None:
        return select_open(history, panel.times[-1], cfg.label.horizon, panel.freq)
    return select_range(history, since, until)


def _finish(
    panel: Panel,
    model: Any,
    cfg: Config,
    rows: pd.DataFrame,
    history: pd.DataFrame,
    request: tuple[pd.Timestamp | None, pd.Timestamp | None, float],
    model_id: str,
    features: pd.DataFrame | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score and size ``rows``, order them, and describe the run."""
    since, until, capital = request
    live = since is None and until is None
    signals = score_episodes(
        panel, rows, model, cfg, history=history, model_id=model_id, capital=capital,
        book="all" if live else "entry_time", features=features, progress=progress,
    )
    if live:  # most likely first: the order the book was filled in
        key = signals[["probability", "entry_time", "asset_a", "asset_b"]]
        order = np.lexsort(
            (key["asset_b"], key["asset_a"], key["entry_time"], -key["probability"].to_numpy())
        )
        signals = signals.iloc[order].reset_index(drop=True)
    info = {
        "mode": "live" if live else "historical",
        "as_of": panel.times[-1],
        "since": since,
        "until": until,
        "capital": capital,
        "model": model_id,
        "episodes": len(history),
        "scored": len(signals),
        "in_sample": _in_sample(signals, model),
        "stale_legs": _stale_legs(signals, panel) if live else 0,
    }
    return signals, info


def score_panel(
    panel: Panel,
    model: Any,
    cfg: Config,
    *,
    model_id: str,
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    capital: float | None = None,
    history: pd.DataFrame | None = None,
    progress: Callable[[str], Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score the open divergences as of the last bar, or those entered in ``[since, until]``.

    Returns the signals (:data:`OUTPUT_COLUMNS`; live rows by descending probability, historical
    rows by entry time then pair) and a summary dictionary (``mode``, ``as_of``, ``since``,
    ``until``, ``capital``, ``model``, ``episodes``, ``scored``, ``in_sample``: rows entered
    before the model's holdout start, ``stale_legs``: live rows with a leg that has no price at
    the last bar). ``history`` is the episode table of ``panel``
    (:func:`revertible.episodes.build_episodes`), built here if None. ``progress`` is a factory
    like :func:`revertible.cli.progress_bar`: ``progress(description)`` returns a context manager
    yielding ``update(done, total)``.
    """
    from ..episodes import build_episodes

    bar_ctx = progress or (lambda *_a, **_k: contextlib.nullcontext(None))
    request = _request(cfg, since, until, capital)
    # Fail before any heavy work when the model cannot use this data or config.
    check_model(model, cfg, panel.funding is not None)
    if history is None:
        with bar_ctx("episodes (pairs)") as update:
            history = build_episodes(panel, cfg, progress=update)
    rows = _rows(panel, cfg, history, request[0], request[1])
    with bar_ctx("features (pairs)") as update:
        return _finish(panel, model, cfg, rows, history, request, model_id, None, update)


def _in_sample(signals: pd.DataFrame, model: Any) -> int:
    """Rows entered before the model's holdout start: its training data (optimistic scores)."""
    start = (getattr(model, "meta", {}) or {}).get("holdout_start")
    try:
        ts = _as_utc(start, "holdout_start")
    except RevertibleError:
        return 0
    return 0 if ts is None else int((signals["entry_time"] < ts).sum())


def _stale_legs(signals: pd.DataFrame, panel: Panel) -> int:
    """Live rows with a leg that has no close at the last bar (halted or delisted)."""
    if len(signals) == 0:
        return 0
    last = np.isfinite(panel.close[-1])
    ok = {a for a, has in zip(panel.assets, last, strict=True) if has}
    return int((~(signals["asset_a"].isin(ok) & signals["asset_b"].isin(ok))).sum())


# ----------------------------------------------------------------------------------------------
# the command


def _summary(signals: pd.DataFrame, info: dict[str, Any]) -> list[str]:
    traded = signals["leg_a_notional"] > 0
    n, k = len(signals), int(traded.sum())
    if info["mode"] == "live":
        head = (
            f"{n} divergences open as of {info['as_of']:%Y-%m-%d %H:%M} UTC "
            f"(of {info['episodes']} episodes), scored with {info['model']}"
        )
    else:
        lo = info["since"] if info["since"] is not None else "first bar"
        hi = info["until"] if info["until"] is not None else "last bar"
        head = (
            f"{n} divergences entered from {lo} to {hi} (of {info['episodes']} episodes), "
            f"scored with {info['model']}; one book per entry bar"
        )
    lines = [head]
    if n == 0:
        return lines
    cap = info["capital"]
    t = signals[traded]
    gross = float((t["leg_a_notional"] + t["leg_b_notional"]).sum())
    lines.append(
        f"probability median {signals['probability'].median():.3f}, max "
        f"{signals['probability'].max():.3f}; {k} traded, {n - k} not traded; capital "
        f"{cap:,.0f}"
        + (
            f", gross notional {gross:,.0f} ({gross / cap:.2f}x), margin "
            f"{float(t['margin'].sum()):,.0f}"
            if info["mode"] == "live" and k
            else ""
        )
    )
    if info.get("in_sample"):
        lines.append(
            f"note: {info['in_sample']} rows entered before the model's holdout start: it was "
            "trained on them, so their probabilities are in-sample (optimistic)"
        )
    if info.get("stale_legs"):
        lines.append(
            f"note: {info['stale_legs']} open divergences have a leg with no price at the last "
            "bar (halted or delisted?); check before trading them"
        )
    why = signals.loc[~traded, "reason"].str.split(";").str[0].value_counts().head(3)
    if len(why):
        lines.append("not traded: " + ", ".join(f"{r} ({c})" for r, c in why.items()))
    if info["mode"] == "live" and k:
        lines.append("top signals:")
        for r in t.head(5).itertuples(index=False):
            lines.append(
                f"  {r.asset_a} / {r.asset_b}  entry {r.entry_time:%m-%d %H:%M}  z {r.z_entry:+.2f}"
                f"  beta {r.beta:.3f}  p {r.probability:.3f}  {r.leg_a_side} {r.leg_a_qty:.6g} @ "
                f"{r.leg_a_price:.6g}  {r.leg_b_side} {r.leg_b_qty:.6g} @ {r.leg_b_price:.6g}  "
                f"lev {r.gross_leverage:.3f}x"
            )
    return lines


def score_command(
    cfg: Config,
    model_uri: str,
    *,
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    capital: float | None = None,
    out: str | os.PathLike[str] | None = None,
    console: Any = None,
    progress: Callable[[str], Any] | None = None,
) -> pd.DataFrame:
    """Everything ``revertible score CONFIG --model URI [--since T1 --until T2] --out FILE`` does.

    Loads the data (``load_panel(cfg.data)``), resolves and loads the model from the MLflow
    store (``MLFLOW_TRACKING_URI`` or ``tracking.uri``), scores (:func:`score_panel`), writes
    ``out`` atomically as parquet or CSV by extension, and prints a short summary on ``console``.

    Parameters
    ----------
    cfg : Config
        Run config (``--data`` and ``--set`` already applied).
    model_uri : str
        ``runs:/<id>/model``, ``models:/<name>/<version>``, ``models:/<name>@champion`` or a
        model folder; an alias is pinned to its version (the ``model`` column).
    since, until : str or pandas.Timestamp, optional
        Historical range of entry times (UTC if naive); both None: live.
    capital : float, optional
        Account equity (``--capital``); ``cfg.sizing.capital`` if None.
    out : path, optional
        ``.parquet`` / ``.pq`` / ``.csv``; nothing written if None. The extension is checked
        before any work.
    console : rich.console.Console, optional
        Where the summary goes.
    progress : callable, optional
        ``progress(description)`` -> context manager yielding ``update(done, total)``.

    Returns
    -------
    pandas.DataFrame
        The signals (:data:`OUTPUT_COLUMNS`).

    Raises
    ------
    RevertibleError
        Bad output path or extension, bad times or capital, data errors; ``ModelError`` when the
        model cannot be loaded or cannot use this data.
    """
    from ..data import load_panel
    from ..episodes import build_episodes
    from ..io import write_table

    def say(msg: str) -> None:
        if console is not None:
            console.print(msg, markup=False, highlight=False)

    if out is not None:
        dest = Path(out)
        if dest.suffix.lower() not in {".parquet", ".pq", ".csv"}:
            raise RevertibleError(
                f"output file {dest}: unknown extension {dest.suffix!r}; use .parquet or .csv"
            )
        if not dest.parent.exists():
            raise RevertibleError(
                f"output folder {dest.parent} does not exist: create it or choose another --out"
            )
    request = _request(cfg, since, until, capital)
    live = request[0] is None and request[1] is None
    bar_ctx = progress or (lambda *_a, **_k: contextlib.nullcontext(None))
    clock = _Clock()
    # The model (MLflow, LightGBM and scikit-learn imports, the registry, unpickling: mostly
    # Python holding the GIL) loads in a worker thread while this thread reads the data and
    # runs the compiled episode and (live) feature kernels; a loading error surfaces at
    # ``result()``. Historical features are many: they wait for the model check instead.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="revertible-model") as pool:
        loading = pool.submit(_load_model, model_uri, tracking_uri(cfg))
        try:
            with bar_ctx("loading data") as update:
                panel = load_panel(cfg.data, progress=update)
            clock.lap("data")
            with bar_ctx("episodes (pairs)") as update:
                history = build_episodes(panel, cfg, progress=update)
            rows = _rows(panel, cfg, history, request[0], request[1]).reset_index(drop=True)
            clock.lap("episodes")
            feats = None
            if live:
                with bar_ctx("features (pairs)") as update:
                    feats = episode_features(panel, rows, cfg, history=history, progress=update)
                clock.lap("features")
        except BaseException:
            loading.cancel()
            raise
        pinned, model = loading.result()
        clock.lap("waiting for the model")
    check_model(model, cfg, panel.funding is not None, feats)
    with bar_ctx("features (pairs)") as update:
        signals, info = _finish(panel, model, cfg, rows, history, request, pinned, feats, update)
    clock.lap("scoring and sizing" if live else "features, scoring and sizing")
    for line in _summary(signals, info):
        say(line)
    if out is not None:
        write_table(signals, out)
        say(f"wrote {len(signals)} rows to {out}")
    clock.lap("writing")
    say(f"time: {clock}")
    return signals


class _Clock:
    """Wall-clock laps for the command's one-line timing summary."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.append((name, now - self.last))
        self.last = now

    def __str__(self) -> str:
        parts = [f"{name} {secs:.1f}s" for name, secs in self.laps if secs >= 0.05]
        return ", ".join([*parts, f"total {self.last - self.start:.1f}s"])


def _load_model(uri: str, store: str) -> tuple[str, Any]:
    """Pin an alias to its version and load that model: ``(pinned_uri, model)``."""
    from ..tracking import load_model

    pinned = resolve_model_uri(uri, store)
    return pinned, load_model(pinned, store)
