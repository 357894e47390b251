"""The monitor's arithmetic: a live record against its training reference, at a point in time.

The live record has one row per scored divergence: ``entry_time``, ``resolved_at`` (when its
label is known: exit time, or entry + horizon), ``label`` (1 reverted, 0 not, NaN open),
``probability`` and the model's feature columns. At time ``at`` only rows entered by ``at`` count,
and only labels resolved by ``at``: a check never uses what was not known then.

Checks (``monitor`` config; a null threshold is off):

* **calibration**: over the labels resolved in the last ``window_days``,
  ``z = sum(y - p) / sqrt(sum p(1-p))``; ``|z| >= calibration_z`` with at least ``min_labels``
  labels is an alert. The same ``z`` in each half of the reference's probability range (below /
  above its median) is reported, not alerted on (measured: it added false alarms and no faster
  detection on the known-answer markets, ``research/monitor_known_answers.py``).
* **calibration, sequential** (``cusum_odds_ratio``, ``cusum_threshold``): Page's CUSUM of the
  Bernoulli log-likelihood ratio of each resolved label under the odds of reverting multiplied by
  ``cusum_odds_ratio`` (< 1: fewer reversions than predicted) against the model's own
  probability, ``w = y ln(r) - ln(1 - p (1 - r))``, ``S = max(0, S + w)`` over the labels in
  the order they resolved since the start of the record (a risk-adjusted CUSUM, Steiner et al.
  2000). A miss at a high probability weighs most. ``S >= cusum_threshold`` with at least
  ``min_labels`` labels is an alert: evidence accumulates over as many labels as it takes instead
  of a fixed window, and falls back to 0 while the model holds.
* **ece / auc / brier skill** over every resolved label since the start of the record.
* **returns** (reported, no alert): expected vs realised net return of the reversion trade by
  decile of the expected one, and their rank correlation (:func:`return_deciles`).
* **probability drift** and **feature drift**: PSI of the record against the reference sketch,
  above the threshold and above its sampling noise (:func:`psi_noise`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._drift import psi, quantile_sketch

if TYPE_CHECKING:
    from ..config import MonitorConfig

__all__ = ["Reference", "make_reference", "evaluate", "scan", "psi_noise", "return_deciles",
           "RECORD_COLUMNS", "NOT_SKETCHED", "calibration_cusum"]

RECORD_COLUMNS = ("entry_time", "resolved_at", "label", "probability")
#: Record columns that are no drift target (the rest are the model's features).
NOT_SKETCHED = (*RECORD_COLUMNS, "expected_revert", "realised_revert")


@dataclass(frozen=True)
class Reference:
    """The model's training reference: base rate, median probability, quantile sketch."""

    base_rate: float
    median_probability: float
    n: int
    sketch: dict[str, Any]
    source: str


def make_reference(labels: np.ndarray, frame: pd.DataFrame, *, bins: int = 10,
                   source: str = "training period") -> Reference:
    """Reference from the training rows: ``frame`` has ``probability`` and the features."""
    y = np.asarray(labels, dtype=float)
    p = frame["probability"].to_numpy(dtype=float)
    return Reference(base_rate=float(np.nanmean(y)) if len(y) else float("nan"),
                     median_probability=float(np.nanmedian(p)) if len(p) else 0.5,
                     n=int(len(y)), sketch=quantile_sketch(frame, bins), source=source)


def psi_noise(ref: Reference, n: int, alpha: float = 0.001) -> float:
    """The PSI a sample of ``n`` rows exceeds with probability ``alpha`` when nothing drifted.

    ``PSI * (1/n + 1/N)^-1`` is about chi-square with ``bins - 1`` degrees of freedom for ``n``
    live and ``N`` reference rows, so small samples need a larger PSI before it means anything.
    """
    from scipy.stats import chi2

    if n <= 0 or ref.n <= 0:
        return float("inf")
    k = int(ref.sketch.get("bins", 10))
    return float(chi2.ppf(1 - alpha, k - 1) * (1 / n + 1 / max(ref.sketch.get("n", ref.n), 1)))


def return_deciles(done: pd.DataFrame, n_bins: int = 10) -> pd.DataFrame:
    """Expected vs realised net return of the reversion trade by decile of the expected one.

    Resolved rows only; net of the venue's round trip (fees, slippage; not borrow or funding).
    ``attrs["rank_ic"]`` is their Spearman rank correlation. Empty without a return calibrator.
    """
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
    out.attrs["rank_ic"] = float(pd.Series(e).corr(pd.Series(r), method="spearman"))
    return out


def _calibration_z(y: np.ndarray, p: np.ndarray) -> float:
    var = float(np.sum(p * (1 - p)))
    return float(np.sum(y - p) / np.sqrt(var)) if var > 0 else float("nan")


def calibration_cusum(y: np.ndarray, p: np.ndarray, odds_ratio: float) -> np.ndarray:
    """Page's CUSUM path of Bernoulli log-likelihood ratios for an odds shift ``odds_ratio``.

    Parameters
    ----------
    y, p : numpy.ndarray
        Labels (1 reverted, 0 not) and the model's probabilities, in the order they resolved.
    odds_ratio : float
        The alternative: the odds of reverting are ``odds_ratio`` times the model's.

    Returns
    -------
    numpy.ndarray
        ``S_i = max(0, S_{i-1} + w_i)`` after each label, ``S_0 = 0``.

    """
    w = y * np.log(odds_ratio) - np.log1p(-p * (1.0 - odds_ratio))
    c = np.cumsum(w)
    return c - np.minimum(np.minimum.accumulate(c), 0.0) if len(c) else c


def _cusum_state(done: pd.DataFrame, odds_ratio: float) -> dict[str, Any]:
    """The CUSUM now and the labels of its current run (since it last stood at 0)."""
    d = done.sort_values(["resolved_at", "entry_time"], kind="stable")
    y, p = d["label"].to_numpy(dtype=float), d["probability"].to_numpy(dtype=float)
    path = calibration_cusum(y, p, odds_ratio)
    if not len(path) or path[-1] <= 0:
        return {"value": 0.0, "n": 0, "realised": float("nan"), "predicted": float("nan"),
                "since": None}
    zero = np.nonzero(path <= 0)[0]
    first = int(zero[-1]) + 1 if len(zero) else 0
    return {"value": float(path[-1]), "n": int(len(path) - first),
            "realised": float(y[first:].mean()), "predicted": float(p[first:].mean()),
            "since": d["resolved_at"].iloc[first]}


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
    start = at - pd.Timedelta(days=mcfg.window_days)
    win = done[done["resolved_at"] > start]
    halves = {}
    for name, sel in (("all", np.ones(len(win), dtype=bool)),
                      ("low", (win["probability"] < ref.median_probability).to_numpy()),
                      ("high", (win["probability"] >= ref.median_probability).to_numpy())):
        part = win[sel]
        yw, pw = part["label"].to_numpy(dtype=float), part["probability"].to_numpy(dtype=float)
        halves[name] = {"n": int(len(part)), "z": _calibration_z(yw, pw) if len(part) else
                        float("nan"), "realised": float(yw.mean()) if len(yw) else float("nan"),
                        "predicted": float(pw.mean()) if len(pw) else float("nan")}
    cols = [c for c in ref.sketch["columns"] if features or c == "probability"]
    drift = psi({**ref.sketch, "columns": {c: ref.sketch["columns"][c] for c in cols}},
                known) if len(known) else pd.Series(dtype=float)
    alerts: list[str] = []
    if mcfg.calibration_z is not None:
        h = halves["all"]
        if h["n"] >= mcfg.min_labels and abs(h["z"]) >= mcfg.calibration_z:
            alerts.append(
                f"calibration: {h['n']} labels resolved in the last {mcfg.window_days:g} days "
                f"reverted {h['realised']:.1%} against {h['predicted']:.1%} predicted "
                f"(z={h['z']:+.1f}, limit {mcfg.calibration_z:g})")
    n = len(y)
    cusum = (_cusum_state(done, mcfg.cusum_odds_ratio) if mcfg.cusum_threshold is not None
             else {"value": float("nan"), "n": 0})
    if mcfg.cusum_threshold is not None and n >= mcfg.min_labels \
            and cusum["value"] >= mcfg.cusum_threshold:
        alerts.append(
            f"calibration: sequential test (CUSUM {cusum['value']:.1f}, limit "
            f"{mcfg.cusum_threshold:g}): {cusum['n']} labels resolved since "
            f"{cusum['since']:%Y-%m-%d %H:%M} reverted {cusum['realised']:.1%} against "
            f"{cusum['predicted']:.1%} predicted")
    if n >= mcfg.min_labels and scores:
        for key, limit, worse in (("ece", mcfg.max_ece, "above"), ("roc_auc", mcfg.min_auc,
                                  "below"), ("brier_skill", mcfg.min_brier_skill, "below")):
            v = scores.get(key, float("nan"))
            if limit is not None and np.isfinite(v) and (v > limit if worse == "above"
                                                         else v < limit):
                alerts.append(f"{key} {v:.3f} is {worse} the limit {limit:g} over {n} labels")
    noise = psi_noise(ref, len(known))
    if len(known) >= mcfg.min_rows and len(drift):
        pp = drift.get("probability", float("nan"))
        if mcfg.max_psi is not None and np.isfinite(pp) and pp > max(mcfg.max_psi, noise):
            alerts.append(f"probability drift: PSI {pp:.2f} above {mcfg.max_psi:g} (and its "
                          f"noise level {noise:.2f}) over {len(known)} divergences")
        if mcfg.max_feature_psi is not None:
            for name, v in drift.drop("probability", errors="ignore").items():
                if np.isfinite(v) and v > max(mcfg.max_feature_psi, noise):
                    alerts.append(f"feature drift: {name} PSI {v:.2f} above "
                                  f"{mcfg.max_feature_psi:g} (noise level {noise:.2f})")
    returns = return_deciles(done)
    if len(returns):
        scores = {**scores, "returns.rank_ic": float(returns.attrs["rank_ic"]),
                  "returns.top_decile_realised": float(returns["realised"].iloc[-1]),
                  "returns.top_decile_expected": float(returns["expected"].iloc[-1])}
    return {"at": at, "n_scored": int(len(known)), "n_resolved": n, "metrics": scores,
            "returns": returns,
            "window": halves, "cusum": cusum, "psi": drift, "psi_noise": noise, "alerts": alerts,
            "base_rate_live": float(y.mean()) if n else float("nan"),
            "base_rate_reference": ref.base_rate, "reference": ref.source}


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
