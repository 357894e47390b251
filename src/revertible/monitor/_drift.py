"""Drift against a training reference: a quantile sketch per column and the PSI against it.

:func:`quantile_sketch` summarises a frame in a small JSON-able dict (per column: the interior
quantile edges of ``bins`` equal-frequency bins, the reference share in each bin and the share
missing), to be stored with the model at training; :func:`psi` compares a later frame with it:
``PSI = sum_k (a_k - e_k) * ln(a_k / e_k)`` over the bins plus a missing bin, shares floored at
``1e-4``. Rules of thumb: below 0.1 stable, 0.1-0.25 moderate, above 0.25 a shift.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["quantile_sketch", "psi", "SKETCH_VERSION", "FLOOR"]

SKETCH_VERSION = 1
FLOOR = 1e-4


def _shares(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, float]:
    """Shares of finite ``values`` in the bins cut at ``edges`` (right-closed), and NaN share."""
    n = len(values)
    finite = values[np.isfinite(values)]
    if n == 0:
        return np.full(len(edges) + 1, np.nan), float("nan")
    counts = np.bincount(np.searchsorted(edges, finite, side="left"), minlength=len(edges) + 1)
    return counts / n, float((n - len(finite)) / n)


def quantile_sketch(frame: pd.DataFrame, bins: int = 10) -> dict[str, Any]:
    """Summarise each numeric column of ``frame`` for later drift checks.

    Parameters
    ----------
    frame : pandas.DataFrame
        The reference rows (e.g. the training features plus a ``probability`` column).
    bins : int
        Equal-frequency bins per column.

    Returns
    -------
    dict
        ``{"version", "n", "bins", "columns": {name: {"edges", "shares", "missing"}}}``, plain
        lists and floats (JSON-able).

    """
    cols: dict[str, Any] = {}
    for name in frame.columns:
        v = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
        finite = v[np.isfinite(v)]
        if len(finite):
            q = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
            edges = np.unique(q)
        else:
            edges = np.array([], dtype=np.float64)
        shares, missing = _shares(v, edges)
        cols[str(name)] = {"edges": edges.tolist(), "shares": np.nan_to_num(shares).tolist(),
                           "missing": 0.0 if np.isnan(missing) else missing}
    return {"version": SKETCH_VERSION, "n": int(len(frame)), "bins": int(bins), "columns": cols}


def psi(sketch: dict[str, Any], frame: pd.DataFrame) -> pd.Series:
    """Population stability index of each sketched column of ``frame`` (NaN if absent/empty).

    Parameters
    ----------
    sketch : dict
        From :func:`quantile_sketch`.
    frame : pandas.DataFrame
        The rows to compare (e.g. the live record's features and probabilities).

    Returns
    -------
    pandas.Series
        PSI by column name, largest first.

    """
    out: dict[str, float] = {}
    for name, ref in sketch["columns"].items():
        if name not in frame.columns or len(frame) == 0:
            out[name] = float("nan")
            continue
        edges = np.asarray(ref["edges"], dtype=np.float64)
        v = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64)
        a_sh, a_miss = _shares(v, edges)
        e = np.maximum(np.append(np.asarray(ref["shares"], dtype=np.float64), ref["missing"]),
                       FLOOR)
        a = np.maximum(np.append(a_sh, a_miss), FLOOR)
        out[name] = float(np.sum((a - e) * np.log(a / e)))
    return pd.Series(out, dtype=np.float64).sort_values(ascending=False, na_position="last")
