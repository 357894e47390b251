"""Walk-forward evaluation of the return heads: rank IC and deciles of predicted vs realised.

Same folds as the classifier (:func:`revertible.model.make_folds`): fold k's heads are fitted on
the development episodes whose labels ended before fold k's test block, and predict that block.
Metrics pool folds 2..K (the episodes the classifier's pooled CV metrics use). Every number is
*net*: the realised gross return minus the round trip of the configured venue per unit of gross
notional (:func:`net_cost`, from :func:`revertible.decision.round_trip_cost`), and the prediction
minus the same cost, so the decile table reads as what a trader would have earned.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ..config import Config, CostConfig
from ._estimator import BinnedFeatures
from ._returns import DIRECTIONS, ReturnModel

__all__ = ["net_cost", "return_metrics", "cross_validate_returns", "return_model"]


def net_cost(costs: CostConfig, beta: Any) -> np.ndarray:
    """Round trip per unit of gross notional: ``round_trip_cost(costs, |beta|) / (1 + |beta|)``.

    Examples
    --------
    >>> net_cost(CostConfig(), [1.0, -0.5]).round(6).tolist()   # 2 x (10 bp + 2 bp)
    [0.0024, 0.0024]
    """
    from ..decision import round_trip_cost  # decision sits above model: imported when called

    ab = np.abs(np.asarray(beta, dtype=float))
    out = np.full(ab.shape, np.nan)
    for v in np.unique(ab[np.isfinite(ab)]):
        out[ab == v] = round_trip_cost(costs, float(v)) / (1.0 + v)
    return out


def return_metrics(
    pred: np.ndarray, realised: np.ndarray, cost: np.ndarray, n_bins: int = 10
) -> tuple[dict[str, float], pd.DataFrame]:
    """Rank IC (Spearman) and the decile table of predicted vs realised net return.

    Returns the metrics ``n, rank_ic, mean_net_bp, top_decile_net_bp, bottom_decile_net_bp,
    decile<k>_predicted_bp, decile<k>_realised_bp`` (k = 1 lowest predicted) and the table
    ``decile, n, predicted_net, realised_net`` (returns per unit of gross notional). Rows with a
    non-finite value are left out.
    """
    p = np.asarray(pred, float) - cost
    r = np.asarray(realised, float) - cost
    ok = np.isfinite(p) & np.isfinite(r)
    p, r = p[ok], r[ok]
    out: dict[str, float] = {"n": float(len(p))}
    if len(p) < n_bins:
        return out | {"rank_ic": float("nan")}, pd.DataFrame(
            columns=["decile", "n", "predicted_net", "realised_net"])
    out["rank_ic"] = float(spearmanr(p, r).statistic)
    out["mean_net_bp"] = float(r.mean() * 1e4)
    order = np.argsort(p, kind="stable")
    rows = []
    for k, idx in enumerate(np.array_split(order, n_bins), start=1):
        rows.append({"decile": k, "n": len(idx), "predicted_net": float(p[idx].mean()),
                     "realised_net": float(r[idx].mean())})
        out[f"decile{k}_predicted_bp"] = rows[-1]["predicted_net"] * 1e4
        out[f"decile{k}_realised_bp"] = rows[-1]["realised_net"] * 1e4
    out["top_decile_net_bp"] = out[f"decile{n_bins}_realised_bp"]
    out["bottom_decile_net_bp"] = out["decile1_realised_bp"]
    return out, pd.DataFrame(rows)


def return_model(cfg: Config) -> ReturnModel:
    """An unfitted :class:`ReturnModel` with the run's LightGBM settings."""
    from ._estimator import lgbm_params

    return ReturnModel(lgbm_params(cfg.model, cfg.seed), "regression",
                       cfg.model.early_stopping_rounds)


def cross_validate_returns(
    X: pd.DataFrame, returns: pd.DataFrame, scale: np.ndarray, cost: np.ndarray, folds: list,
    cfg: Config, features: list[str], binned: BinnedFeatures | None = None,
) -> dict[str, Any]:
    """Out-of-fold predictions of the return heads on ``folds`` and their pooled metrics.

    ``binned``: ``X[features]`` binned once (:class:`revertible.model.BinnedFeatures`), reused
    by every fold's fits.

    Returns ``pred`` (frame of ``<direction>_mean``/``_m2``, NaN outside test blocks),
    ``fold_id``, ``metrics`` (flat, ``cv.<direction>.<metric>`` and
    ``cv.<direction>.fold<k>.rank_ic``) and ``deciles`` (table per direction).
    """
    n = len(X)
    fold_id = np.full(n, -1)
    cols = [f"{d}_{m}" for d in DIRECTIONS for m in ("mean", "m2")]
    pred = pd.DataFrame(np.nan, index=X.index, columns=cols)
    for i, f in enumerate(folds):
        fold_id[f.test] = i
        Xf = X.iloc[f.train][features] if binned is None else binned.take(f.train)
        m = return_model(cfg).fit(Xf, returns.iloc[f.train], scale[f.train])
        pred.iloc[f.test] = m.predict(X.iloc[f.test][features], scale[f.test])[cols].to_numpy()
    sel = fold_id >= 1
    metrics: dict[str, float] = {}
    deciles = {}
    for d in DIRECTIONS:
        real = returns[f"{d}_return"].to_numpy(dtype=float, na_value=np.nan)
        mt, table = return_metrics(pred[f"{d}_mean"].to_numpy()[sel], real[sel], cost[sel])
        metrics.update({f"cv.{d}.{k}": v for k, v in mt.items()})
        deciles[d] = table
        for i in range(len(folds)):
            fi = fold_id == i
            mi, _ = return_metrics(pred[f"{d}_mean"].to_numpy()[fi], real[fi], cost[fi])
            metrics[f"cv.{d}.fold{i + 1}.rank_ic"] = mi["rank_ic"]
    return {"pred": pred, "fold_id": fold_id, "metrics": metrics, "deciles": deciles}


def train_returns(
    cfg: Config, eps: pd.DataFrame, feats: pd.DataFrame, split: dict[str, Any], folds: list,
    features: list[str], binned: BinnedFeatures | None = None,
) -> dict[str, Any]:
    """Walk-forward CV, final fit and holdout evaluation of the return heads (one training run).

    ``split`` is :func:`revertible.model.development_split`'s result and ``folds`` the
    classifier's folds (``binned``: the development features binned once, as in
    :func:`cross_validate_returns`). The final heads are fitted on the whole development set;
    the holdout is predicted once by them. Returns ``model`` (fitted :class:`ReturnModel`),
    flat ``metrics`` (``returns.{cv,holdout}.<direction>.<metric>``), ``deciles`` (one table:
    split, direction, decile, n, predicted_net, realised_net) and ``sets``
    (``{label: (predicted, realised)}`` net returns for the plot).
    """
    from ._returns import risk_scale

    cols = [f"{d}_return" for d in DIRECTIONS]
    dev, hold = split["dev"], split["hold"]
    scale_all = risk_scale(eps["spread_std"], eps["beta"])
    cost_all = net_cost(cfg.costs, eps["beta"])
    R = eps[cols].iloc[dev].reset_index(drop=True)
    Xd = split["X"]
    cv = cross_validate_returns(Xd, R, scale_all[dev], cost_all[dev], folds, cfg, features,
                                binned)  # fmt: skip
    model = return_model(cfg).fit(Xd[features] if binned is None else binned.take(), R,
                                  scale_all[dev])  # fmt: skip
    metrics = {f"returns.{k}": v for k, v in cv["metrics"].items()}
    tables = [t.assign(split="cv", direction=d) for d, t in cv["deciles"].items()]
    sel = cv["fold_id"] >= 1
    sets = {}
    for d in DIRECTIONS:
        sets[f"{d} (CV)"] = (cv["pred"][f"{d}_mean"].to_numpy()[sel] - cost_all[dev][sel],
                             R[f"{d}_return"].to_numpy()[sel] - cost_all[dev][sel])
    if len(hold):
        Xh = feats.iloc[hold][features].reset_index(drop=True)
        ph = model.predict(Xh, scale_all[hold])
        for d in DIRECTIONS:
            real = eps[f"{d}_return"].to_numpy(dtype=float, na_value=np.nan)[hold]
            mt, table = return_metrics(ph[f"{d}_mean"].to_numpy(), real, cost_all[hold])
            metrics.update({f"returns.holdout.{d}.{k}": v for k, v in mt.items()})
            tables.append(table.assign(split="holdout", direction=d))
            sets[f"{d} (holdout)"] = (ph[f"{d}_mean"].to_numpy() - cost_all[hold],
                                      real - cost_all[hold])
    metrics["returns.mirror"] = float(model.mirror_)
    deciles = pd.concat(tables, ignore_index=True)[
        ["split", "direction", "decile", "n", "predicted_net", "realised_net"]]
    return {"model": model, "metrics": metrics, "deciles": deciles, "sets": sets}
