"""Scoring core: features -> probability and calibrated outcomes -> decision -> sized legs.

No train/serve skew: episodes come from :func:`revertible.episodes.build_episodes` and features
from :func:`revertible.features.build_features` on the whole panel, exactly as in training
(:func:`revertible.model.prepare_dataset`); only the rows to score are featurised, with the full
episode table passed as ``history`` so the pair-history features count the pair's earlier
episodes exactly as training does. Before anything is predicted the model is checked
(:func:`revertible.scoring.check_model`).

Timing (point in time)
----------------------
Every input of a divergence entered at bar ``t`` uses bars ``<= t``: its features, probability
and calibrated outcomes (the model's held-out record, fitted before training ended), and
(historical rows) its leg prices and leg vols at the close of ``t``, so a historical row is what
the hourly run would have printed at ``t``. Live rows are re-measured
and priced at the last bar ``T`` (:mod:`revertible.scoring._inputs`): what a trader acting now
needs. Only ``label`` / ``exit_reason`` (the outcome so far) look forward.

What "the same size" means under book limits
--------------------------------------------
:func:`revertible.decision.size_signals` shares the book caps among the signals sized
*together*, by descending lower bound of the expected net return. Live: the divergences open
now form one book.
Historical: the divergences that entered at the same bar form one book, so a row's size depends
only on data up to its entry: the full history and history cut at any ``T >= entry`` give
identical rows. ``bet_size`` (the fractional-Kelly stake before caps) is book-free, and so are
the ``*_if_taken`` legs (each sized as if it were the only new position).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..data import Panel
from ._inputs import leg_vols, live_path, pricing_inputs, touched_reasons, z_now
from ._model import check_model
from ._trees import compiled_trees

__all__ = ["SIGNAL_COLUMNS", "EXTRA_COLUMNS", "OUTPUT_COLUMNS", "episode_features",
           "score_episodes", "continuation_barriers"]  # fmt: skip

#: docs/design.md signal columns, in order.
SIGNAL_COLUMNS = [
    "asset_a", "asset_b", "entry_time", "z_entry", "beta", "probability", "direction",
    "expected_return", "expected_return_lower", "reason", "model",
    "leg_a_side", "leg_a_notional", "leg_a_qty", "leg_a_price",
    "leg_b_side", "leg_b_notional", "leg_b_qty", "leg_b_price",
    "gross_leverage", "take_profit_z", "stop_z", "time_stop", "min_abs_corr",
]  # fmt: skip

#: Extra columns after the docs/design.md ones. ``spread_mean``/``spread_std`` (with ``beta``) are
#: the frozen spread parameters the exits are defined on: ``z' = sign(z_entry) * (log a - beta *
#: log b - spread_mean) / spread_std``; ``z_prime_now`` is ``z'`` at the pricing bar
#: ``priced_at`` (entry bar, or the last bar for live rows) and ``z_now`` the same z in
#: ``z_entry``'s raw convention (``sign(z_entry) * z_prime_now``); ``net_exposure`` the signed
#: sum of the recommended legs' notionals (quote currency: long +, short -).
#: ``revert_expected``/``continue_expected`` are both directions' expected net returns and
#: ``revert_lower``/``continue_lower`` their lower bounds;
#: ``score_quantile`` the probability's share of the model's held-out record at or below it;
#: ``bet_size`` the fractional-Kelly stake (gross notional per unit of capital, before caps);
#: ``margin``, leverages and liquidation prices show the liquidation rule; the ``*_if_taken``
#: columns the legs a trader would use if they took the divergence anyway (the better direction
#: at the per-trade cap, under the same caps), apart from the recommended stake above;
#: ``label``/``exit_reason`` the outcome so far (null / ``open`` when live).
EXTRA_COLUMNS = [
    "spread_mean", "spread_std", "z_now", "z_prime_now", "priced_at", "net_exposure",
    "score_quantile", "revert_expected",
    "revert_lower", "continue_expected", "continue_lower", "bet_size", "margin",
    "leg_a_leverage", "leg_b_leverage", "leg_a_liq_price", "leg_b_liq_price",
    "direction_if_taken", "leg_a_side_if_taken", "leg_a_notional_if_taken",
    "leg_a_qty_if_taken", "leg_b_side_if_taken", "leg_b_notional_if_taken",
    "leg_b_qty_if_taken", "gross_leverage_if_taken", "label", "exit_reason",
]  # fmt: skip

OUTPUT_COLUMNS = SIGNAL_COLUMNS + EXTRA_COLUMNS

#: Historical scoring sizes its books in worker processes from this many rows on.
PARALLEL_MIN_ROWS = 50_000

#: From this many rows on, the model's LightGBM trees are evaluated by the compiled walk of
#: :func:`revertible.scoring.compiled_trees` (same results bit for bit; below it, LightGBM).
COMPILED_MIN_ROWS = 10_000


def continuation_barriers(cfg: Config) -> Any:
    """The continuation trade's barriers from the config's ``continue`` section, if any."""
    from ..decision import trade_barriers

    return trade_barriers(cfg.label, getattr(cfg, "continue_", None))


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
    live: bool = False,
    features: pd.DataFrame | None = None,
    vols: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
    lap: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Features, probability, calibrated outcomes, direction and two-leg sizes of ``episodes``.

    Parameters
    ----------
    panel : Panel
        The panel the episodes were built on (features read the whole panel, as in training).
    episodes : pandas.DataFrame
        The rows to score (episode columns).
    model : object
        Loaded model with a return calibrator (``predict_outcomes``; :func:`check_model`).
    cfg : Config
        Run config (features, barriers, sizing, costs).
    history : pandas.DataFrame
        The full episode table of ``panel`` (pair-history features).
    model_id : str
        Written to the ``model`` column.
    capital : float, optional
        Account equity; ``cfg.sizing.capital`` if None.
    book : {"all", "entry_time"}
        Rows sized together: all rows in one book (live), or one book per entry bar.
    live : bool
        Re-measure and price at the last bar (open divergences), else at each entry bar.
    features : pandas.DataFrame, optional
        :func:`episode_features` of ``episodes`` (same rows, same order), computed if None.
    vols : numpy.ndarray, optional
        :func:`leg_vols` of ``panel`` (computed if None).
    progress : callable, optional
        ``progress(pairs_done, pairs_total)`` while features are computed.
    lap : callable, optional
        Called as ``lap(stage)`` after each stage (``features`` when computed here,
        ``predict``, ``decide/size``): the command's timing line.

    Returns
    -------
    pandas.DataFrame
        :data:`OUTPUT_COLUMNS`, same row order as ``episodes``, fresh ``RangeIndex``.
    """
    from ..decision import (
        OUTCOME_COLUMNS,
        condition_on_realised,
        decide,
        direction_if_taken,
        expected_carry,
        leg_ratios,
    )

    if book not in ("all", "entry_time"):
        raise ValueError(f"`book in {{'all', 'entry_time'}}` must hold, but got book={book!r}")
    lap = lap or (lambda _stage: None)
    eps = episodes.reset_index(drop=True)
    if features is None:
        feats = episode_features(panel, eps, cfg, history=history, progress=progress)
        lap("features")
    elif len(features) != len(eps):
        raise ValueError(
            f"`len(features) == len(episodes)` must hold, but got ({len(features)}, {len(eps)})"
        )
    else:
        feats = features.reset_index(drop=True)
    check_model(model, cfg, panel.funding is not None, feats)
    if len(eps):
        # many rows: the same trees, compiled (bit-identical, checked per call; _trees.py)
        scorer = compiled_trees(model) if len(eps) >= COMPILED_MIN_ROWS else model
        pred = scorer.predict_outcomes(feats).reset_index(drop=True)
    else:
        pred = pd.DataFrame({c: np.empty(0) for c in ("probability", "score_quantile",
                                                      *OUTCOME_COLUMNS)})
    lap("predict")
    vols = leg_vols(panel, None, cfg.universe.min_obs_frac) if vols is None else vols
    z_entry = eps["z_entry"].to_numpy(dtype=float)
    std = eps["spread_std"].to_numpy(dtype=float)
    if live:
        zp = z_now(panel, eps)
        realised = (np.abs(z_entry) - zp) * std / (1.0 + np.abs(eps["beta"].to_numpy(float)))
        heads = condition_on_realised(pred, np.nan_to_num(realised, nan=0.0))
        priced_at = np.full(len(eps), panel.times[-1])
    else:
        zp = np.abs(z_entry)
        heads = pred
        priced_at = pd.DatetimeIndex(eps["entry_time"])
    prices = pricing_inputs(panel, eps, vols, live=live)
    d = cfg.decision
    beta = eps["beta"].to_numpy(dtype=float)
    ratio = leg_ratios(cfg.sizing.split, beta, prices["vol_a"], prices["vol_b"])
    horizons = {"revert": cfg.label.horizon,
                "continue": cfg.continue_.horizon_or(cfg.label.horizon)}
    carry = expected_carry(z_entry, beta, ratio, cfg.costs, panel.freq, horizons,
                           *_funding_at(panel, eps, live))
    allow = None
    if d.continue_max_score_quantile is not None:
        q = pred["score_quantile"].to_numpy(float)
        allow = np.isfinite(q) & (q <= d.continue_max_score_quantile)
    decision = decide(heads, cfg.costs, d.confidence, cfg.sizing.min_edge, carry=carry,
                      allow_continue=allow)
    sig = pd.DataFrame(
        {
            "asset_a": eps["asset_a"].astype(object),
            "asset_b": eps["asset_b"].astype(object),
            "entry_time": pd.DatetimeIndex(eps["entry_time"]),
            "z_entry": z_entry,
            "beta": eps["beta"].to_numpy(dtype=float),
            "spread_std": std,
            "z_now": zp,
            **prices,
            **{c: decision[c].to_numpy() for c in decision.columns},
        }
    )
    bars = continuation_barriers(cfg)
    if live:
        # a 'none' row is checked on the direction a trader would take anyway (its legs if taken)
        skip = touched_reasons(live_path(panel, eps, cfg.label.horizon),
                               direction_if_taken(sig), bars)  # fmt: skip
        stale = ~(np.isfinite(sig["price_a"]) & np.isfinite(sig["price_b"])).to_numpy()
        free = stale & (skip == "")
        if free.any():
            skip[free] = _stale_reasons(panel, sig.loc[free, ["asset_a", "asset_b"]])
        sig["skip_reason"] = skip
    sized = _size(sig, cfg, capital, panel.freq, book, bars["continue"])
    out = sized.drop(columns=["price_a", "price_b", "vol_a", "vol_b", "return_m2"]
                     + (["skip_reason"] if live else []))  # fmt: skip
    out["probability"] = pred["probability"].to_numpy(dtype=float)
    out["score_quantile"] = pred["score_quantile"].to_numpy(dtype=float)
    # z' (oriented: positive means still diverged in the direction of entry) gets its own
    # column; z_now is the current z in z_entry's raw convention (same sign as z_entry while
    # the divergence lasts)
    out["z_prime_now"] = out["z_now"].to_numpy(dtype=float)
    out["z_now"] = np.sign(z_entry) * out["z_prime_now"].to_numpy(dtype=float)
    sign = {"long": 1.0, "short": -1.0, "": 0.0}
    out["net_exposure"] = (out["leg_a_side"].map(sign).to_numpy(float) * out["leg_a_notional"]
                           + out["leg_b_side"].map(sign).to_numpy(float)
                           * out["leg_b_notional"])  # fmt: skip
    out["spread_mean"] = eps["spread_mean"].to_numpy(dtype=float)
    out["priced_at"] = priced_at
    out["exit_reason"] = eps["exit_reason"]
    out["model"] = model_id
    out["label"] = eps["label"].astype("Float64")
    out = out[OUTPUT_COLUMNS]
    lap("decide/size")
    return out


def _stale_reasons(panel: Panel, legs: pd.DataFrame) -> np.ndarray:
    """"stale leg: <asset> last priced <h> h before the last bar" for rows with a missing price."""
    close = np.asarray(panel.close)
    ok = np.isfinite(close)
    last = np.where(ok.any(axis=0), len(close) - 1 - np.argmax(ok[::-1], axis=0), -1)
    hours = (panel.times[-1] - panel.times[np.maximum(last, 0)]) / pd.Timedelta(hours=1)
    behind = dict(zip(panel.assets, np.where(last >= 0, hours, np.inf), strict=True))
    out = []
    for a, b in zip(legs["asset_a"], legs["asset_b"], strict=True):
        worst = max((a, b), key=lambda x: behind.get(x, np.inf))
        h = behind.get(worst, np.inf)
        out.append(f"stale leg: {worst} last priced {h:.0f} h before the last bar "
                   f"({panel.times[-1]:%Y-%m-%d %H:%M} UTC); run revertible download or drop it")
    return np.asarray(out, dtype=object)


def _funding_at(panel: Panel, eps: pd.DataFrame, live: bool
                ) -> tuple[np.ndarray | None, np.ndarray | None]:  # fmt: skip
    """Each leg's last funding rate known at the pricing bar (None without funding data)."""
    if panel.funding is None or len(eps) == 0:
        return None, None
    known = pd.DataFrame(panel.funding).ffill().to_numpy()
    t = (np.full(len(eps), panel.n_bars - 1) if live
         else panel.times.get_indexer(pd.DatetimeIndex(eps["entry_time"])))
    index = pd.Index(list(panel.assets), dtype=object)
    ia = index.get_indexer(pd.Index(eps["asset_a"], dtype=object))
    ib = index.get_indexer(pd.Index(eps["asset_b"], dtype=object))
    return known[t, ia], known[t, ib]


def _size(sig: pd.DataFrame, cfg: Config, capital: float | None, bar: pd.Timedelta,
          book: str, follow: Any) -> pd.DataFrame:  # fmt: skip
    """Size ``sig`` in one book (``"all"``) or one book per entry bar; row order kept.

    Books of different entry bars are independent, so with many rows they are sized in worker
    processes (``compute.threads``, default all cores): the same function on the same inputs, so
    the result is identical to the serial loop.
    """
    args = (cfg.sizing, cfg.costs, cfg.label, bar, capital, follow)
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
                bar: pd.Timedelta, capital: float | None, follow: Any) -> pd.DataFrame:
    """``size_signals`` with books ``sig[:cuts[0]]``, ``sig[cuts[0]:cuts[1]]``, ... (one call)."""
    from ..decision import size_signals

    books = np.zeros(len(sig), np.int64)
    books[cuts] = 1
    return size_signals(sig, sizing, costs, label, bar=bar, capital=capital,
                        continuation=follow, books=np.cumsum(books))  # fmt: skip


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
