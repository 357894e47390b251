"""Classification metrics for probabilities of reversion (every run logs the same names).

All functions take labels ``y`` (0/1) and probabilities ``p`` and return floats (NaN when
undefined, e.g. AUC with one class). ``base_rate`` for the Brier skill score is the *training*
prevalence (the naive forecast available at prediction time), never the test prevalence.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

__all__ = ["METRIC_NAMES", "classification_metrics", "expected_calibration_error"]

METRIC_NAMES = (
    "n",
    "positive_rate",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "brier_skill",
    "ece",
    "top_decile_precision",
    "top_decile_reversion_rate",
    "mean_probability",
)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """ECE with equal-frequency bins: sum over bins of |mean(p) - mean(y)| weighted by count."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if len(y) == 0:
        return float("nan")
    order = np.argsort(p, kind="stable")
    bins = np.array_split(order, min(n_bins, len(y)))
    return float(sum(len(b) * abs(p[b].mean() - y[b].mean()) for b in bins if len(b)) / len(y))


def classification_metrics(y: np.ndarray, p: np.ndarray, base_rate: float) -> dict[str, float]:
    """The standard metric set of every run (see :data:`METRIC_NAMES`).

    ``top_decile_precision`` is the share of reverted episodes among the 10% with the highest
    probability (the same number as ``top_decile_reversion_rate``, kept under both names because
    traders read it as the realised reversion rate of the best signals).
    """
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    out: dict[str, float] = {"n": float(len(y))}
    if len(y) == 0:
        return {k: float("nan") for k in METRIC_NAMES} | {"n": 0.0}
    two = len(np.unique(y)) == 2
    out["positive_rate"] = float(y.mean())
    out["roc_auc"] = float(roc_auc_score(y, p)) if two else float("nan")
    out["pr_auc"] = float(average_precision_score(y, p)) if two else float("nan")
    out["log_loss"] = float(log_loss(y, p, labels=[0, 1]))
    brier = float(np.mean((p - y) ** 2))
    ref = float(np.mean((base_rate - y) ** 2))
    out["brier"] = brier
    out["brier_skill"] = 1.0 - brier / ref if ref > 0 else float("nan")
    out["ece"] = expected_calibration_error(y, p)
    k = max(1, len(y) // 10)
    top = np.argsort(-p, kind="stable")[:k]
    out["top_decile_precision"] = float(y[top].mean())
    out["top_decile_reversion_rate"] = out["top_decile_precision"]
    out["mean_probability"] = float(p.mean())
    return out
