"""History family: the pair's earlier episodes and its settled reversion rate, point in time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import _ns

__all__: list[str] = []


def _pair_history(
    query: pd.DataFrame, history: pd.DataFrame, step_ns: int, prior_strength: float
) -> dict[str, np.ndarray]:
    """Pair-history features of ``query`` rows from the episodes in ``history``.

    An episode counts as *earlier* when it entered strictly before the query's entry, and as
    *settled* when it has a label and ``max(exit_time, entry_time + 1 ns) <= entry``; open
    episodes never contribute a label. The global prior uses the same rule over all pairs and
    weighs ``prior_strength`` pseudo-episodes in the shrunk rate.
    """
    # one integer per (asset_a, asset_b): the legs' codes in one factorisation of all names
    nh, nq = len(history), len(query)
    names = np.concatenate([np.asarray(history["asset_a"].astype(str), dtype=object),
                            np.asarray(history["asset_b"].astype(str), dtype=object),
                            np.asarray(query["asset_a"].astype(str), dtype=object),
                            np.asarray(query["asset_b"].astype(str), dtype=object)])
    leg, uniq = pd.factorize(names)
    leg = leg.astype(np.int64)
    width = np.int64(max(len(uniq), 1))
    hp = leg[:nh] * width + leg[nh : 2 * nh]
    qp = leg[2 * nh : 2 * nh + nq] * width + leg[2 * nh + nq :]
    codes, _ = pd.factorize(np.concatenate([hp, qp]))  # dense pair codes, as before
    hp, qp = codes[:nh].astype(np.int64), codes[nh:].astype(np.int64)
    he = _ns(history["entry_time"])
    hx = _ns(history["exit_time"])
    hl = history["label"].to_numpy(dtype=np.float64, na_value=np.nan)
    qe = _ns(query["entry_time"])
    nat = np.iinfo(np.int64).min
    done = np.isfinite(hl) & (hx != nat) & (he != nat)
    hr = np.maximum(hx[done], he[done] + 1)  # time the label became known
    lab = hl[done]
    # time ranks make (pair, time) one sortable integer key
    grid = np.unique(np.concatenate([he, hr, qe]))
    span = np.int64(len(grid) + 1)
    qkey = qp * span + np.searchsorted(grid, qe)
    # earlier entries of the pair
    ekey = hp * span + np.searchsorted(grid, he)
    o = np.argsort(ekey, kind="stable")
    ekey, he_sorted = ekey[o], he[o]
    lo = np.searchsorted(ekey, qp * span, "left")
    hi = np.searchsorted(ekey, qkey, "left")
    n_prev = hi - lo
    prev = he_sorted[np.maximum(hi - 1, 0)]
    since = np.where(n_prev > 0, (qe - prev) / step_ns, np.nan)
    # settled labels of the pair
    rkey = hp[done] * span + np.searchsorted(grid, hr)
    o = np.argsort(rkey, kind="stable")
    rkey = rkey[o]
    cs = np.concatenate([[0.0], np.cumsum(lab[o])])
    lo = np.searchsorted(rkey, qp * span, "left")
    hi = np.searchsorted(rkey, qkey, "right")
    n_res = (hi - lo).astype(np.float64)
    k_res = cs[hi] - cs[lo]
    # settled labels of all pairs: the prior
    o = np.argsort(hr, kind="stable")
    gcs = np.concatenate([[0.0], np.cumsum(lab[o])])
    ng = np.searchsorted(hr[o], qe, "right")
    prior = np.where(ng > 0, gcs[ng] / np.maximum(ng, 1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n_res > 0, k_res / n_res, np.nan)
    return {
        "bars_since_prev_episode": since,
        "pair_n_prev": n_prev.astype(np.float64),
        "pair_n_resolved": n_res,
        "pair_revert_rate": rate,
        "pair_revert_rate_shrunk": (k_res + prior_strength * prior) / (n_res + prior_strength),
    }
