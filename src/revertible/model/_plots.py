"""Figures logged with every training run (each returns a Figure; no pyplot, no backend)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from ..io import subplots

__all__ = ["roc_figure", "reliability_figure", "importance_figure", "probability_hist_figure",
           "return_decile_figure"]


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]]):
    """ROC curves of several named (y, p) sets on one axis."""
    fig, ax = subplots(figsize=(5.5, 5))
    for name, (y, p) in curves.items():
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr, _ = roc_curve(y, p)
        from sklearn.metrics import auc

        ax.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC: reverted within the horizon")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def reliability_figure(sets: dict[str, tuple[np.ndarray, np.ndarray]], n_bins: int = 10):
    """Reliability diagram (equal-frequency bins) with the count histogram below."""
    fig, (ax, axh) = subplots(2, 1, figsize=(5.5, 6.5), height_ratios=[3, 1], sharex=True)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="perfect")
    for name, (y, p) in sets.items():
        order = np.argsort(p, kind="stable")
        bins = [b for b in np.array_split(order, min(n_bins, max(1, len(p)))) if len(b)]
        ax.plot([p[b].mean() for b in bins], [y[b].mean() for b in bins], marker="o", label=name)
        axh.hist(p, bins=20, range=(0, 1), alpha=0.5, label=name)
    ax.set_ylabel("observed reversion rate")
    ax.set_title("Reliability (calibrated probabilities)")
    ax.legend(fontsize=8)
    axh.set_xlabel("predicted probability")
    axh.set_ylabel("episodes")
    fig.tight_layout()
    return fig


def importance_figure(importance: pd.Series, top: int = 30):
    """Horizontal bar chart of the top features by gain."""
    imp = importance.head(top)[::-1]
    fig, ax = subplots(figsize=(6.5, max(3.0, 0.25 * len(imp) + 1)))
    ax.barh(imp.index, imp.to_numpy(), color="#3b75af")
    ax.set_xlabel("total gain")
    ax.set_title("LightGBM feature importance (final model)")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    return fig


def probability_hist_figure(y: np.ndarray, p: np.ndarray, title: str = "holdout"):
    """Histogram of predicted probabilities split by the realised label."""
    fig, ax = subplots(figsize=(6, 4))
    ax.hist(p[y == 1], bins=30, range=(0, 1), alpha=0.6, label="reverted (1)", color="#2a9d8f")
    ax.hist(p[y == 0], bins=30, range=(0, 1), alpha=0.6, label="not reverted (0)", color="#e76f51")
    ax.set_xlabel("calibrated probability")
    ax.set_ylabel("episodes")
    ax.set_title(f"Probability by label ({title})")
    ax.legend()
    fig.tight_layout()
    return fig


def return_decile_figure(sets: dict[str, tuple[np.ndarray, np.ndarray]], n_bins: int = 10):
    """Mean realised vs mean predicted net return (bp) by decile of the prediction, per set."""
    fig, ax = subplots(figsize=(6, 5))
    lo, hi = np.inf, -np.inf
    for name, (p, r) in sets.items():
        ok = np.isfinite(p) & np.isfinite(r)
        if ok.sum() < n_bins:
            continue
        order = np.argsort(p[ok], kind="stable")
        bins = np.array_split(order, n_bins)
        x = np.array([p[ok][b].mean() for b in bins]) * 1e4
        y = np.array([r[ok][b].mean() for b in bins]) * 1e4
        ax.plot(x, y, marker="o", label=name)
        lo, hi = min(lo, x.min(), y.min()), max(hi, x.max(), y.max())
    if np.isfinite(lo):
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--", label="predicted = realised")
    ax.axhline(0.0, color="black", lw=0.6)
    ax.set_xlabel("mean predicted net return per decile (bp of gross notional)")
    ax.set_ylabel("mean realised net return (bp)")
    ax.set_title("Return calibrator: expected vs realised by decile\n(net of the round trip)",
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
