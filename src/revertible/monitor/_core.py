"""The monitor's arithmetic: a live record against its training reference, at a point in time.

The live record has one row per scored divergence: ``entry_time``, ``resolved_at`` (when its
label is known: exit time, or entry + horizon), ``label`` (1 reverted, 0 not, NaN open),
``probability`` and the model's feature columns. At time ``at`` only rows entered by ``at`` count,
and only labels resolved by ``at``: a check never uses what was not known then.

Checks (``monitor`` config; a null threshold is off):

* **calibration**: over the labels resolved in the last ``window_days``,
  ``z = sum(y - p) / sqrt(sum p(1-p) + (sum p(1-p) e)^2)`` (``e`` the model's own calibration
  error in log-odds, :func:`revertible.monitor.calibration_error`); ``|z| >= calibration_z``
  with at least ``min_labels`` labels is an alert. The same ``z`` in each half of the
  reference's probability range (below / above its median) is reported, not alerted on
  (measured: it added false alarms and no faster detection on the known-answer markets,
  ``research/monitor_known_answers.py``).
* **calibration, sequential** (``cusum_odds_ratio``, ``cusum_threshold``): Page's CUSUM of the
  Bernoulli log-likelihood ratio of each resolved label under the odds of reverting multiplied by
  ``cusum_odds_ratio`` (< 1: fewer reversions than predicted) against the model's own
  probability, ``w = y ln(r) - ln(1 - p (1 - r))``, ``S = max(0, S + w)`` over the labels in
  the order they resolved since the start of the record (a risk-adjusted CUSUM, Steiner et al.
  2000). A miss at a high probability weighs most. ``S`` at the level with at least
  ``min_labels`` labels is an alert: evidence accumulates over as many labels as it takes instead
  of a fixed window, and falls back to 0 while the model holds. The level
  (:func:`revertible.monitor.cusum_limit`) is ``cusum_threshold``, or with ``auto`` the one
  ``cusum_false_alarms`` of 30-day periods of a calibrated model cross at the training record's
  label flow.
* **dependent labels**: divergences of one market move revert or fail together, so a
  calibration sum varies more than independent labels would make it vary. The reference's
  :func:`design_effect` measures the labels' within-day correlation ``rho`` at training; a
  label resolved on a day with ``m`` labels then has the design effect ``1 + rho (m - 1)``
  (busy days weigh less per label). ``z`` divides by ``sqrt(sum p(1-p) D)``, each label's
  log-likelihood ratio in the CUSUM counts ``1/D``, and the PSI's noise level is multiplied by
  the mean ``D`` of the divergences known (by day of entry); ``rho = 0`` (independent labels)
  where the training labels show no dependence beyond chance.
* **ece / auc / brier skill** over every resolved label since the start of the record.
* **returns** (reported, no alert): expected vs realised net return of the reversion trade by
  decile of the expected one, and their rank correlation (:func:`return_deciles`).
* **probability drift** and **feature drift**: PSI of the record against the reference sketch,
  above the threshold and above its sampling noise (:func:`psi_noise`).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._drift import psi, quantile_sketch
from ._reference import Reference
from ._sequential import calibration_cusum, calibration_error, cusum_limit

if TYPE_CHECKING:
    from ..config import MonitorConfig

__all__ = ["Reference", "make_reference", "design_effect", "day_design", "evaluate", "scan",
           "psi_noise", "return_deciles", "RECORD_COLUMNS", "NOT_SKETCHED", "calibration_cusum",
           "weekly_calibration", "detectable_drop"]

RECORD_COLUMNS = ("entry_time", "resolved_at", "label", "probability")
#: Days of resolution :func:`design_effect` needs before it tells dependence from chance.
MIN_BLOCKS = 10
#: Record columns that are no drift target (the rest are the model's features).
NOT_SKETCHED = (*RECORD_COLUMNS, "expected_revert", "realised_revert")


def design_effect(labels: np.ndarray, probability: np.ndarray,
                  resolved_at: pd.Series | np.ndarray, *, block: str = "1D", alpha: float = 0.05,
                  min_blocks: int = MIN_BLOCKS) -> dict[str, Any]:
    """How much the labels' dependence inflates the variance of a calibration sum.

    The residuals ``y - p`` are summed per ``block`` of resolution time (a UTC day):
    ``D = sum_b (sum (y - p))^2 / sum_b sum p(1 - p)``. Independent calibrated labels give
    ``D`` near 1 (``chi2_k / k`` for ``k`` blocks). Divergences of one market move (many pairs
    sharing assets, entered in the same hours) revert or fail together: on the shared spot data
    ``D`` is 79 (10,800 labels a week weigh like 140 independent ones), on the perpetuals 1.9
    (``research/monitor_real_data.py``). ``D`` is used only where it is above 1 beyond chance
    (one-sided ``alpha`` against ``chi2_k / k`` at the effective number of days
    ``(sum V)^2 / sum V_b^2``, and at least ``min_blocks`` blocks), else 1.

    With a day's labels equicorrelated at ``rho``, a day's sum has variance
    ``sum p(1-p) (1 + rho (m - 1))`` for ``m`` labels, so ``rho = (sum R^2 - sum V) /
    sum V (m - 1)`` (moments over the days) and ``D = 1 + rho (m_w - 1)`` at the
    variance-weighted mean count ``m_w``. On the shared spot data ``D`` per day grows with the
    day's count as this says (about 24, 38 and 63 on days of about 740, 1,270 and 2,230
    labels), so the checks apply ``rho`` at the live day's count (:func:`day_design`).

    Returns
    -------
    dict
        ``design_effect`` (the one used, >= 1), ``estimate`` (``D``), ``rho`` (0 unless ``D``
        is used), ``labels_per_day`` (``m_w``), ``blocks`` (``k``), ``labels`` and ``block``.

    """
    from scipy.stats import chi2

    y, p = np.asarray(labels, dtype=float), np.asarray(probability, dtype=float)
    t = pd.DatetimeIndex(pd.to_datetime(np.asarray(resolved_at), utc=True))
    ok = np.isfinite(y) & np.isfinite(p) & ~t.isna()
    g = pd.DataFrame({"b": t[ok].floor(block), "r": y[ok] - p[ok], "v": p[ok] * (1 - p[ok]),
                      "m": 1.0}).groupby("b").sum()
    k, var = len(g), float(g["v"].sum())
    est = float((g["r"] ** 2).sum() / var) if k and var > 0 else float("nan")
    pairs = float((g["v"] * (g["m"] - 1)).sum())
    m_w = float((g["v"] * g["m"]).sum() / var) if var > 0 else float("nan")
    # days of unequal size: D is a variance-weighted mean of k chi2_1 terms, which behaves
    # like chi2 over the effective number of days (sum V)^2 / sum V_b^2, not over k
    k_eff = var * var / float((g["v"] ** 2).sum()) if var > 0 else 0.0
    dependent = (k >= min_blocks and pairs > 0
                 and est > chi2.ppf(1 - alpha, k_eff) / k_eff)
    rho = min((est - 1) * var / pairs, 1.0) if dependent else 0.0  # a correlation: at most 1
    return {"design_effect": float(est) if dependent else 1.0, "estimate": est,
            "rho": float(rho), "labels_per_day": m_w, "blocks": int(k),
            "labels": int(ok.sum()), "block": block}


def make_reference(labels: np.ndarray, frame: pd.DataFrame, *, bins: int = 10,
                   source: str = "training period",
                   resolved_at: pd.Series | np.ndarray | None = None) -> Reference:
    """Reference from the training rows: ``frame`` has ``probability`` and the features.

    With ``resolved_at`` (when each label resolved) the labels' :func:`design_effect` is
    measured too; without it the labels are taken as independent.
    """
    y = np.asarray(labels, dtype=float)
    p = frame["probability"].to_numpy(dtype=float)
    design = design_effect(y, p, resolved_at) if resolved_at is not None else None
    return Reference(base_rate=float(np.nanmean(y)) if len(y) else float("nan"),
                     median_probability=float(np.nanmedian(p)) if len(p) else 0.5,
                     n=int(len(y)), sketch=quantile_sketch(frame, bins), source=source,
                     design_effect=design["design_effect"] if design else 1.0, design=design,
                     rho=design["rho"] if design else 0.0)


#: Below this many (effective) live rows the PSI's noise level is drawn, not approximated.
PSI_EXACT_BELOW = 1000


def psi_noise(ref: Reference, n: int, alpha: float = 0.001, deff: float | None = None,
              drawn: bool = True) -> float:
    """The PSI a sample of ``n`` rows exceeds with probability ``alpha`` when nothing drifted.

    ``PSI * (1/n + 1/N)^-1`` is about chi-square with ``bins - 1`` degrees of freedom for ``n``
    live and ``N`` reference rows, so small samples need a larger PSI before it means anything.
    Under about 1,000 live rows that approximation is too low (an empty bin, floored at
    ``1e-4``, adds about 0.69 alone: at 50 rows 5% of same-distribution samples exceeded its
    0.1% level), so there the live part is the ``1 - alpha`` quantile of the PSI of
    multinomial draws from the reference's shares of the probability (:func:`_psi_draw_quantile`,
    drawn once per count and shares; a calibrator's ties make them unequal), whichever is
    larger; ``drawn=False`` gives the approximation alone (the level reported where no PSI check
    applies). Rows of one market move are not independent: both counts are divided by ``deff``
    (the live record's mean design effect; default the reference's).
    """
    from scipy.stats import chi2

    if n <= 0 or ref.n <= 0:
        return float("inf")
    k = int(ref.sketch.get("bins", 10))
    deff = ref.design_effect if deff is None else deff
    c, big = chi2.ppf(1 - alpha, k - 1) * deff, max(ref.sketch.get("n", ref.n), 1)
    level = c * (1 / n + 1 / big)
    n_eff = int(n / max(deff, 1.0))  # rounded down: fewer rows, a higher level
    if drawn and n_eff < PSI_EXACT_BELOW:  # drawn at a grid of counts 5% apart, rounded down
        grid = n_eff if n_eff <= 40 else int(1.05 ** math.floor(math.log(n_eff, 1.05)))
        col = ref.sketch.get("columns", {}).get("probability") or {}
        # to 0.001: one model's draws serve another's near-equal shares (the cache's key)
        shares = tuple(round(float(x), 3) for x in (*col.get("shares", ()),
                                                    col.get("missing", 0.0)))
        if len(shares) < 2 or not sum(shares) > 0:  # no sketch of the probability: k equal
            shares = (*([1.0 / k] * k), 0.0)
        level = max(level, _psi_draw_quantile(max(grid, 1), shares, alpha) + c / big)
    return float(level)


@functools.lru_cache(maxsize=4096)
def _psi_draw_quantile(n: int, shares: tuple[float, ...], alpha: float,
                       draws: int = 50_000) -> float:
    """The ``1 - alpha`` quantile of the PSI of ``n`` rows drawn from the reference ``shares``.

    ``shares``: each bin's, the missing bin last. The PSI as :func:`revertible.monitor.psi`
    computes it (shares floored at ``1e-4``); a fixed seed, so the level is the same on every
    run.
    """
    from ._drift import FLOOR

    e = np.asarray(shares, dtype=float)
    e = e / e.sum()
    a = np.maximum(np.random.default_rng(20241).multinomial(n, e, size=draws) / n, FLOOR)
    e = np.maximum(e, FLOOR)
    return float(np.quantile(np.sum((a - e) * np.log(a / e), axis=1), 1 - alpha))


def return_deciles(done: pd.DataFrame, n_bins: int = 10) -> pd.DataFrame:
    """Expected vs realised net return of the reversion trade by decile of the expected one.

    Resolved rows only; net of the venue's round trip (fees, slippage; not borrow or funding).
    ``attrs["rank_ic"]`` is their Spearman rank correlation, NaN where either side does not
    vary (expected returns less than ``decision.TIE_BP`` apart are one level: a calibrator at
    its common level ranks nothing, whatever order float rounding gives). Empty without a return
    calibrator.
    """
    from ..decision import tied_levels

    if "expected_revert" not in done.columns:
        return pd.DataFrame()
    d = done[["expected_revert", "realised_revert"]].dropna()
    if len(d) < n_bins:
        return pd.DataFrame()
    order = np.argsort(d["expected_revert"].to_numpy(), kind="stable")
    e, r = d["expected_revert"].to_numpy()[order], d["realised_revert"].to_numpy()[order]
    parts = np.array_split(np.arange(len(d)), n_bins)
    out = pd.DataFrame({"decile": np.arange(1, n_bins + 1), "n": [len(x) for x in parts],
                        "expected": [e[x].mean() for x in parts],
                        "realised": [r[x].mean() for x in parts]})
    levels = tied_levels(e * 1e4)  # ascending: runs of float noise are ties
    varies = np.ptp(levels) > 0 and np.ptp(r) > 0  # a constant side has no rank correlation
    out.attrs["rank_ic"] = float(pd.Series(levels).corr(pd.Series(r), method="spearman")) \
        if varies else float("nan")
    return out


def _calibration_z(y: np.ndarray, p: np.ndarray, deff: np.ndarray,
                   error: float = 0.0) -> tuple[float, float]:
    """``z`` of the sum of ``y - p``, and the sum's mean design effect.

    Each label's variance ``p(1-p)`` is multiplied by its design effect ``deff``. ``error`` is
    the model's own calibration error in log-odds (:func:`revertible.monitor.calibration_error`):
    a model off by ``d`` moves the sum by about ``sum p(1-p) d``, so the sum's variance gains
    ``(sum p(1-p))^2 error^2``; the design effect returned is the labels' alone.
    """
    v = p * (1 - p)
    var, plain = float(np.sum(v * deff)), float(np.sum(v))
    if not plain > 0:
        return float("nan"), 1.0
    return float(np.sum(y - p) / np.sqrt(var + (plain * error) ** 2)), var / plain


def day_design(times: pd.Series, rho: float) -> np.ndarray:
    """Each row's design effect ``1 + rho (m - 1)``, ``m`` the rows of its UTC day in ``times``.

    For the labels known at a check (``times`` their resolution), a day still running counts
    the labels resolved so far (point in time); for the PSI, the divergences entered that day.
    """
    if rho <= 0 or not len(times):
        return np.ones(len(times))
    day = times.values.astype("datetime64[D]").astype(np.int64)  # days since 1970, UTC
    day -= day.min()
    return 1.0 + rho * (np.bincount(day)[day] - 1.0)  # O(n): no sort on every check


def weekly_calibration(done: pd.DataFrame, rho: float = 0.0,
                       error: float = 0.0) -> pd.DataFrame:
    """Realised against predicted reversion rate of the labels resolved each UTC week.

    ``band`` is two standard deviations of the week's realised rate around its predicted one
    if the model holds: ``2 sqrt(sum p(1-p) D + (sum p(1-p) error)^2) / n``, ``D`` each
    label's design effect at its day's count (:func:`day_design`), ``error`` the model's own
    calibration error in log-odds. One row per week with a label (``week`` its Monday).
    """
    cols = ["week", "n", "realised", "predicted", "band", "z"]
    if not len(done):
        return pd.DataFrame(columns=cols)
    y = done["label"].to_numpy(dtype=float)
    p = done["probability"].to_numpy(dtype=float)
    v = p * (1 - p) * day_design(done["resolved_at"], rho)
    t = pd.DatetimeIndex(done["resolved_at"])
    week = t.normalize() - pd.to_timedelta(t.day_of_week, unit="D")  # its Monday
    g = pd.DataFrame({"week": week, "n": 1, "y": y, "p": p, "r": y - p, "v": v,
                      "plain": p * (1 - p)}).groupby("week", sort=True).sum()
    g["v"] += (g["plain"] * error) ** 2
    out = pd.DataFrame({"week": g.index, "n": g["n"].to_numpy(),
                        "realised": (g["y"] / g["n"]).to_numpy(),
                        "predicted": (g["p"] / g["n"]).to_numpy(),
                        "band": (2 * np.sqrt(g["v"]) / g["n"]).to_numpy()})
    with np.errstate(divide="ignore", invalid="ignore"):
        out["z"] = (g["r"] / np.sqrt(g["v"])).to_numpy()
    return out


def detectable_drop(n: int, predicted: float, deff: float, z: float | None,
                    power: float = 0.8, error: float = 0.0) -> float:
    """The drop of the reversion rate one window's check catches with probability ``power``.

    A window of ``n`` labels alerts at ``|z| >= z``; a drop of
    ``(z + z_power) sqrt(p(1-p) D / n + (p(1-p) error)^2)`` puts ``z`` there that often
    (normal approximation; ``error`` the model's own calibration error in log-odds, which the
    window check allows for).

    ``predicted`` is the window's mean probability ``p``, ``deff`` its design effect ``D``.
    What a record of this size can see in one window: a smaller drop takes more windows (the
    sequential test adds them up). NaN without labels or with the window check off.
    """
    from statistics import NormalDist  # 0.4 us a call (scipy's norm.ppf: 60): scan calls it

    if z is None or n <= 0 or not np.isfinite(predicted):
        return float("nan")
    pq = predicted * (1 - predicted)
    return float((z + NormalDist().inv_cdf(power)) * np.sqrt(pq * deff / n + (pq * error) ** 2))


def _cusum_state(done: pd.DataFrame, odds_ratio: float,
                 deff: np.ndarray) -> tuple[dict[str, Any], pd.Series]:
    """The CUSUM now and the labels of its current run (since it last stood at 0); its path.

    The path is ``S`` after each label, indexed by the time it resolved (for the page's figure).

    Each label's log-likelihood ratio counts ``1 / deff`` (its design effect, aligned with
    ``done``): that keeps the test's false-alarm rate when labels come in dependent bunches
    (with one ``D`` for all, the plain path divided by ``D``, since the floor at 0 scales).
    """
    # .values: datetime64 (UTC); to_numpy() of tz-aware times builds Timestamp objects, slowly
    order = np.lexsort((done["entry_time"].values, done["resolved_at"].values))
    d = done.iloc[order]
    y, p = d["label"].to_numpy(dtype=float), d["probability"].to_numpy(dtype=float)
    path = calibration_cusum(y, p, odds_ratio, 1.0 / deff[order])
    series = pd.Series(path, index=pd.DatetimeIndex(d["resolved_at"]), name="cusum")
    if not len(path) or path[-1] <= 0:
        return {"value": 0.0, "n": 0, "realised": float("nan"), "predicted": float("nan"),
                "since": None, "design_effect": 1.0}, series
    zero = np.nonzero(path <= 0)[0]
    first = int(zero[-1]) + 1 if len(zero) else 0
    v = p[first:] * (1 - p[first:])
    return {"value": float(path[-1]), "n": int(len(path) - first),
            "realised": float(y[first:].mean()), "predicted": float(p[first:].mean()),
            "since": d["resolved_at"].iloc[first],
            "design_effect": float(np.sum(v * deff[order][first:]) / np.sum(v))
            if np.sum(v) > 0 else 1.0}, series


def evaluate(record: pd.DataFrame, ref: Reference, mcfg: MonitorConfig, at: pd.Timestamp,
             *, features: bool = True, metrics: bool = True) -> dict[str, Any]:
    """The monitor's state at ``at``: metrics, calibration windows, drift and alerts."""
    from ..model import classification_metrics

    known = record[record["entry_time"] <= at]
    done = known[(known["resolved_at"] <= at) & known["label"].notna()]
    y = done["label"].to_numpy(dtype=float)
    p = done["probability"].to_numpy(dtype=float)
    scores = classification_metrics(y.astype(int), p, ref.base_rate) if len(y) and metrics \
        else {}
    deff = day_design(done["resolved_at"], ref.rho)  # each label's, at its day's count
    level, how = cusum_limit(ref, mcfg)
    # the model's own calibration error, from its reference labels (the drawn level's, else
    # worked out once here)
    error = how.get("calibration_error")
    error = calibration_error(ref) if error is None else error
    start = at - pd.Timedelta(days=mcfg.window_days)
    win = done[done["resolved_at"] > start]
    halves = {}
    for name, sel in (("all", np.ones(len(win), dtype=bool)),
                      ("low", (win["probability"] < ref.median_probability).to_numpy()),
                      ("high", (win["probability"] >= ref.median_probability).to_numpy())):
        part = win[sel]
        yw, pw = part["label"].to_numpy(dtype=float), part["probability"].to_numpy(dtype=float)
        # a sum over part of each day's labels: its days' counts are the part's own
        z, dz = _calibration_z(yw, pw, day_design(part["resolved_at"], ref.rho), error) \
            if len(part) else (np.nan, 1.0)
        halves[name] = {"n": int(len(part)), "z": z, "design_effect": dz,
                        "realised": float(yw.mean()) if len(yw) else float("nan"),
                        "predicted": float(pw.mean()) if len(pw) else float("nan")}
    cols = [c for c in ref.sketch["columns"] if features or c == "probability"]
    drift = psi({**ref.sketch, "columns": {c: ref.sketch["columns"][c] for c in cols}},
                known) if len(known) else pd.Series(dtype=float)
    alerts: list[str] = []
    kinds: list[str] = []  # which check raised each alert (one per check and feature)

    def alert(kind: str, text: str) -> None:
        alerts.append(text)
        kinds.append(kind)

    if mcfg.calibration_z is not None:
        h = halves["all"]
        if h["n"] >= mcfg.min_labels and abs(h["z"]) >= mcfg.calibration_z:
            alert(
                "calibration window",
                f"calibration: {h['n']} labels resolved in the last {mcfg.window_days:g} days "
                f"reverted {h['realised']:.1%} against {h['predicted']:.1%} predicted "
                f"(z={h['z']:+.1f}, limit {mcfg.calibration_z:g}{_dep(h['design_effect'])})")
    n = len(y)
    if how["how"] == "auto":  # the level holds its share at the training flow, not above it
        recent = (done["resolved_at"] > at - pd.Timedelta(days=30)).to_numpy()
        how = {**how, "live_labels_per_period": float(np.sum(1.0 / deff[recent]))}
    cusum, cusum_path = (_cusum_state(done, mcfg.cusum_odds_ratio, deff)
                         if level is not None
                         else ({"value": float("nan"), "n": 0}, pd.Series(dtype=float)))
    cusum.update(limit=level, limit_how=how["how"],
                 limit_labels_per_period=how["labels_per_period"],
                 limit_calibration_error=how.get("calibration_error", float("nan")))
    if level is not None and n >= mcfg.min_labels and cusum["value"] >= level:
        alert(
            "calibration sequential test",
            f"calibration: sequential test (CUSUM {cusum['value']:.2f}, limit "
            f"{level:.2f}{_dep(cusum['design_effect'])}): {cusum['n']} labels "
            "resolved since "
            f"{cusum['since']:%Y-%m-%d %H:%M} reverted {cusum['realised']:.1%} against "
            f"{cusum['predicted']:.1%} predicted")
    if n >= mcfg.min_labels and scores:
        for key, limit, worse in (("ece", mcfg.max_ece, "above"), ("roc_auc", mcfg.min_auc,
                                  "below"), ("brier_skill", mcfg.min_brier_skill, "below")):
            v = scores.get(key, float("nan"))
            if limit is not None and np.isfinite(v) and (v > limit if worse == "above"
                                                         else v < limit):
                alert(key, f"{key} {v:.3f} is {worse} the limit {limit:g} over {n} labels")
    v = p * (1 - p)  # the labels' mean design effect (reported)
    live_deff = float(np.sum(v * deff) / np.sum(v)) if np.sum(v) > 0 else ref.design_effect
    # the PSI counts every divergence known: its rows' design effect by day of entry (the
    # labels' rho standing in for the features' dependence: a rough correction)
    checked = len(known) >= mcfg.min_rows and len(drift) and (
        mcfg.max_psi is not None or mcfg.max_feature_psi is not None)
    noise = psi_noise(ref, len(known),
                      deff=float(np.mean(day_design(known["entry_time"], ref.rho)))
                      if len(known) else None, drawn=bool(checked))
    if len(known) >= mcfg.min_rows and len(drift):
        pp = drift.get("probability", float("nan"))
        if mcfg.max_psi is not None and np.isfinite(pp) and pp > max(mcfg.max_psi, noise):
            alert("probability drift", f"probability drift: PSI {pp:.2f} above "
                  f"{mcfg.max_psi:g} (and its noise level {noise:.2f}) over {len(known)} "
                  "divergences")
        if mcfg.max_feature_psi is not None:
            for name, v in drift.drop("probability", errors="ignore").items():
                if np.isfinite(v) and v > max(mcfg.max_feature_psi, noise):
                    alert(f"feature drift: {name}", f"feature drift: {name} PSI {v:.2f} above "
                          f"{mcfg.max_feature_psi:g} (noise level {noise:.2f})")
    returns = return_deciles(done)
    if len(returns):
        scores = {**scores, "returns.rank_ic": float(returns.attrs["rank_ic"]),
                  "returns.top_decile_realised": float(returns["realised"].iloc[-1]),
                  "returns.top_decile_expected": float(returns["expected"].iloc[-1])}
    return {"at": at, "n_scored": int(len(known)), "n_resolved": n, "metrics": scores,
            "returns": returns,
            "window": halves, "cusum": cusum, "psi": drift, "psi_noise": noise, "alerts": alerts,
            "alert_kinds": kinds,
            "history": {"cusum": cusum_path, "cusum_threshold": level},
            "design_effect": live_deff, "design": ref.design, "calibration_error": error,
            "window_days": mcfg.window_days,
            "min_labels": mcfg.min_labels, "calibration_z": mcfg.calibration_z,
            "detectable_drop": detectable_drop(halves["all"]["n"], halves["all"]["predicted"],
                                               halves["all"]["design_effect"],
                                               mcfg.calibration_z, error=error)
            if halves["all"]["n"] >= mcfg.min_labels else float("nan"),
            "levels": {"cusum": _level(level, n, mcfg.min_labels, "labels", how=how),
                       "psi": _level(mcfg.max_psi, len(known), mcfg.min_rows, "divergences",
                                     noise)},
            "base_rate_live": float(y.mean()) if n else float("nan"),
            "base_rate_reference": ref.base_rate, "reference": ref.source}


def _level(v: float | None, n: int, least: int, what: str, noise: float = 0.0,
           how: dict[str, Any] | None = None) -> str:
    """Where a check alerts, as :func:`evaluate` applies it (``off``; too few rows; the level)."""
    if v is None:
        return "off"
    if n < least:  # the check needs this many; a figure above the level is no alert
        return f"no alert under {least} {what}"
    if noise > v:  # PSI: small samples need a larger one before it means anything
        return f"alert above {noise:.2f}, the noise level of {n} {what}"
    if how and how["how"] == "auto":
        live = how.get("live_labels_per_period", 0.0)
        busier = (f"; the last 30 days resolved {live:,.0f}: false alarms above the share asked"
                  if live > 1.5 * how["labels_per_period"] else "")
        return (f"alert at {v:.2f}, drawn for {how['labels_per_period']:,.0f} independent "
                f"labels a month{busier}")
    if how and how["how"] == "fallback":
        return f"alert at {v:g}, the fallback: the reference has no label flow"
    return f"alert at {v:g}"


def _dep(deff: float) -> str:
    return f"; labels' design effect {deff:.1f}" if deff > 1 else ""


def scan(record: pd.DataFrame, ref: Reference, mcfg: MonitorConfig, since: pd.Timestamp,
         until: pd.Timestamp, every: str = "1h") -> pd.DataFrame:
    """Evaluate at every ``every`` in ``[since, until]`` (record entries from ``since`` on).

    Returns one row per time with ``at``, ``n_resolved`` and ``alerts`` (a list); what an
    hourly cron job running ``monitor --since since`` would have said at each run.
    """
    rec = record[record["entry_time"] >= since]
    rows = []
    for at in pd.date_range(since, until, freq=every):
        state = evaluate(rec, ref, mcfg, at, features=mcfg.max_feature_psi is not None,
                         metrics=any(x is not None for x in (mcfg.max_ece, mcfg.min_auc,
                                                             mcfg.min_brier_skill)))
        row = {"at": at, "n_resolved": state["n_resolved"], "alerts": state["alerts"],
               "cusum": state["cusum"]["value"],
               "psi_probability": state["psi"].get("probability", float("nan")),
               "psi_noise": state["psi_noise"]}
        for name, h in state["window"].items():
            row[f"z_{name}"], row[f"n_{name}"] = h["z"], h["n"]
        rows.append(row)
    return pd.DataFrame(rows)
