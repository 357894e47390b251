"""The sequential calibration test: Page's CUSUM of the labels and where it alerts.

:func:`calibration_cusum` is the path; :func:`cusum_limit` the level it alerts at. A fixed level
is a fixed number of labels' evidence, so its false alarms per month grow with the record's
label flow: 6.5 holds 2.5% of 30-day periods at 215 calibrated labels a month, and the
known-answer market of 40 planted pairs (540 labels a month) alarmed in 5 of 80 stable months
at that level (``research/monitor_known_answers.py --pairs 40``). ``cusum_threshold: auto`` (the
default) draws the level instead: the ``1 - cusum_false_alarms`` quantile of a 30-day CUSUM's
maximum over calibrated labels at the training record's flow (labels a day, divided by its
design effect: dependent labels count less) and the probabilities of its sketch. The level is
the model's: it does not move with the live record.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..config import MonitorConfig
    from ._reference import Reference

__all__ = ["calibration_cusum", "cusum_limit", "calibration_error", "FALLBACK_LIMIT",
           "PERIOD_DAYS"]

#: The level where the reference does not say its label flow (no design: a model or reference
#: built without resolution times): 2.5% of 30-day periods at 215 labels (the known-answer
#: markets of 16 pairs).
FALLBACK_LIMIT = 6.5
#: The period the false-alarm share is counted over.
PERIOD_DAYS = 30
#: Labels a period beyond which the level is extrapolated, not drawn (:func:`cusum_limit`).
MAX_DRAWN = 5000


def calibration_cusum(y: np.ndarray, p: np.ndarray, odds_ratio: float,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """Page's CUSUM path of Bernoulli log-likelihood ratios for an odds shift ``odds_ratio``.

    Parameters
    ----------
    y, p : numpy.ndarray
        Labels (1 reverted, 0 not) and the model's probabilities, in the order they resolved.
    odds_ratio : float
        The alternative: the odds of reverting are ``odds_ratio`` times the model's.
    weights : numpy.ndarray, optional
        What each label's log-likelihood ratio counts (``1 / D``, its design effect).

    Returns
    -------
    numpy.ndarray
        ``S_i = max(0, S_{i-1} + w_i)`` after each label, ``S_0 = 0``.

    """
    w = y * np.log(odds_ratio) - np.log1p(-p * (1.0 - odds_ratio))
    c = np.cumsum(w if weights is None else w * weights)
    return c - np.minimum(np.minimum.accumulate(c), 0.0) if len(c) else c


def cusum_limit(ref: Reference, mcfg: MonitorConfig) -> tuple[float | None, dict[str, Any]]:
    """The level the sequential test alerts at, and how it was set.

    Returns
    -------
    tuple
        The level (None: the test is off) and ``{"how", "labels_per_period"}``: ``how`` is
        ``"fixed"`` (a number in the config), ``"auto"`` (drawn at the reference's effective
        labels per 30 days, ``labels_per_period``, and with its ``calibration_error``) or
        ``"fallback"`` (:data:`FALLBACK_LIMIT`: the reference has no label flow, no labels or
        no probabilities).

    """
    h = mcfg.cusum_threshold
    if h is None:
        return None, {"how": "off", "labels_per_period": float("nan")}
    if h != "auto":
        return float(h), {"how": "fixed", "labels_per_period": float("nan")}
    flow = _effective_flow(ref)
    points, shares = _probability_mix(ref)
    bias = _calibration_error(ref, points, shares)
    if flow is None or not points or bias is None:
        return FALLBACK_LIMIT, {"how": "fallback", "labels_per_period": float("nan")}
    # a grid 5% apart, rounded up (more labels: a higher level), so models of similar flows
    # share one draw
    n = max(int(math.ceil(1.05 ** math.ceil(math.log(max(flow, 1.0), 1.05)) - 1e-9)), 1)
    # above MAX_DRAWN labels, the level at MAX_DRAWN plus ln(n / MAX_DRAWN): a period's
    # crossing probability grows about in proportion to its labels, and a CUSUM's in-control
    # run length as e^h (Siegmund); drawn, 2,500 -> 20,000 labels added 0.59, 0.64 and 0.87 a
    # doubling (ln 2 = 0.69), and 20,000 labels take 7 s to draw against 1.5 s for 5,000
    level = _max_quantile(min(n, MAX_DRAWN), points, shares, float(mcfg.cusum_odds_ratio),
                          float(mcfg.cusum_false_alarms), round(bias, 3))
    level += math.log(n / MAX_DRAWN) if n > MAX_DRAWN else 0.0
    return level, {"how": "auto", "labels_per_period": float(flow), "calibration_error": bias}


def calibration_error(ref: Reference) -> float:
    """The model's own calibration error in log-odds, from its reference (0: not known).

    See :func:`_calibration_error`; the window check and the page's weekly band allow for it as
    the sequential test's drawn level does.
    """
    points, shares = _probability_mix(ref)
    err = _calibration_error(ref, points, shares) if points else None
    return float(err) if err is not None else 0.0


def _calibration_error(ref: Reference, points: tuple[float, ...],
                       shares: tuple[float, ...]) -> float | None:
    """The standard error, in log-odds, of a model's calibration from its reference labels.

    A model calibrated on ``N`` labels is off by about ``1 / sqrt(N pbar(1 - pbar))`` in
    log-odds (an intercept's standard error), ``N`` divided by the labels' design effect. A
    month of live labels sees that error as much as its own noise when it holds about as many
    labels as the reference (the known-answer markets' monthly calibration z varied 0.95
    between seeds' models against 0.58 for calibrated labels, and 1.0 within a seed); the
    level is drawn with it, so a model no worse than its training allows alarms at the share
    asked.
    """
    n = float(ref.n) / max(float(ref.design_effect), 1.0)
    v = float(np.dot(np.asarray(points) * (1 - np.asarray(points)), np.asarray(shares)))
    # no reference labels: an error the draw cannot size (the fixed fallback instead)
    return 1.0 / math.sqrt(n * v) if n > 0 and v > 0 and math.isfinite(n * v) else None


def _effective_flow(ref: Reference) -> float | None:
    """Independent-label equivalents a 30-day period resolves, from the training record.

    Labels per day with a label (``labels / blocks`` of :func:`design_effect`: a record with
    empty days counts as busier than it is, which raises the level) times 30, divided by the
    reference's design effect (the weights the CUSUM gives dependent labels).
    """
    d = ref.design or {}
    try:
        labels, days = float(d["labels"]), float(d["blocks"])
    except (KeyError, TypeError, ValueError):
        return None
    deff = float(ref.design_effect)
    if not (labels > 0 and days > 0 and math.isfinite(labels / days) and math.isfinite(deff)):
        return None
    return PERIOD_DAYS * labels / days / max(deff, 1.0)


def _probability_mix(ref: Reference) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The reference's probabilities as a few points and their shares (from its sketch).

    A bin's point is its midpoint; the two end bins extend one neighbouring bin's width past
    their edge. Points rounded to 0.01 within 0.01-0.99, shares to 0.001 (the draw's cache
    key). Without a sketch of the probability: the median probability alone.
    """
    col = (ref.sketch.get("columns") or {}).get("probability") or {}
    edges = np.asarray(col.get("edges", ()), dtype=float)
    shares = np.asarray(col.get("shares", ()), dtype=float)
    if len(edges) >= 2 and len(shares) == len(edges) + 1 and shares.sum() > 0:
        ext = np.concatenate([[edges[0] - (edges[1] - edges[0])], edges,
                              [edges[-1] + (edges[-1] - edges[-2])]])
        pts = np.clip((ext[:-1] + ext[1:]) / 2, 0.001, 0.999)
    elif np.isfinite(ref.median_probability) and 0 < ref.median_probability < 1:
        pts, shares = np.array([ref.median_probability]), np.array([1.0])
    else:
        return (), ()
    keep = shares > 0
    # rounded, then kept inside 0.01-0.99 (a point rounded to 0 or 1 would add nothing)
    return (tuple(min(max(round(float(x), 2), 0.01), 0.99) for x in pts[keep]),
            tuple(round(float(x), 3) for x in shares[keep] / shares[keep].sum()))


@functools.lru_cache(maxsize=256)
def _max_quantile(n: int, points: tuple[float, ...], shares: tuple[float, ...],
                  odds_ratio: float, alpha: float, bias: float = 0.0,
                  draws: int = 4000) -> float:
    """The ``1 - alpha`` quantile of the CUSUM's maximum over ``n`` labels of a model that holds.

    Each label's probability is drawn from ``points`` at ``shares``; each period's model is off
    by a log-odds error drawn with standard deviation ``bias`` (its calibration's own
    uncertainty), and the outcome comes from the probability so shifted, while the CUSUM weighs
    the model's. A fixed seed, so the level is the same on every run. Drawn in chunks of at most
    about 4 million labels (memory).
    """
    rng = np.random.default_rng(20243)
    pts = np.asarray(points, dtype=float)
    e = np.asarray(shares, dtype=float)
    e = e / e.sum()
    lr, out = math.log(odds_ratio), np.empty(draws)
    chunk = max(1, min(draws, 4_000_000 // n))
    for start in range(0, draws, chunk):
        k = min(chunk, draws - start)
        p = pts[rng.choice(len(pts), size=(k, n), p=e)]
        shift = np.exp(rng.normal(0.0, bias, (k, 1))) if bias > 0 else 1.0
        true = p * shift / (1.0 - p + p * shift)  # the log-odds moved by the period's error
        w = (rng.random((k, n)) < true) * lr - np.log1p(-p * (1.0 - odds_ratio))
        c = np.cumsum(w, axis=1)
        out[start:start + k] = (c - np.minimum(np.minimum.accumulate(c, axis=1), 0.0)).max(1)
    return float(np.quantile(out, 1.0 - alpha))
