"""The book's correlation-aware risk in the backtest: the cap's inputs and the risk over time.

At a bar ``t`` the covariance is :func:`revertible.risk.trailing_covariance` at the start of
``t``'s day (bar ``D * (t // D)``, ``D = Panel.day_bars``, so bars ``<= t`` only), computed
once per day and cached (one ``(N, N)`` matrix per day that has a signal or an open position).
The risk measures, in the units of ``baskets.max_book_risk`` (a share of equity):

* ``book_risk``: ``shock_sigma x`` the daily sd of the net book under the trailing covariance;
* ``stress_loss``: ``shock_sigma x`` the worse of the daily sd with every correlation at
  ``stress_corr`` (0.95) and with every correlation at 0 (the legs decouple, the stress that
  hurts a hedged book); the cap bounds the largest of the three.

The report's path is rebuilt from the trade list (signed quantities from entry to exit bar,
marked at each bar's close; drift rebalances are not replayed, so a rebalanced trade keeps its
entry quantities).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._book import risk_matrices, trailing_covariance

if TYPE_CHECKING:
    from ..config import Config
    from ..data import Panel

__all__ = ["RiskCovariances", "risk_limit", "book_risk_paths", "risk_metrics"]


@dataclass
class RiskCovariances:
    """Per-day trailing risk matrices ``(3, N, N)`` (trailing, stressed, decoupled), cached."""

    panel: Panel
    window_days: int
    min_obs_frac: float
    stress_corr: float
    _cache: dict[int, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, panel: Panel, cfg: Config) -> RiskCovariances:
        b = cfg.baskets
        return cls(panel, b.cov_window_days, cfg.universe.min_obs_frac, b.stress_corr)

    def at(self, t: int) -> np.ndarray:
        """The risk matrices for decisions at bar ``t`` (from bars up to ``t``'s day start)."""
        day = self.panel.day_bars
        d = (int(t) // day) * day
        if d not in self._cache:
            cov = trailing_covariance(self.panel, d, self.window_days, self.min_obs_frac)
            self._cache[d] = risk_matrices(cov.to_numpy(np.float64), self.stress_corr)
        return self._cache[d]


def risk_limit(cfg: Config, equity: float) -> float:
    """The cap on the book's daily sd in quote currency at ``equity`` (``inf``: no cap)."""
    b = cfg.baskets
    if b.max_book_risk is None:
        return float("inf")
    return b.max_book_risk * equity / b.shock_sigma


def book_risk_paths(
    trades: pd.DataFrame, panel: Panel, close: np.ndarray, covs: RiskCovariances, cfg: Config,
    equity: pd.Series,
) -> pd.DataFrame:  # fmt: skip
    """``book_risk`` and ``stress_loss`` (shares of equity) at each bar of ``equity.index``.

    ``trades``: one strategy's trade list; ``close``: forward-filled closes ``(T, N)``.
    Bars without an open position have 0; NaN covariance entries of a held asset count as 0.
    """
    times = panel.times
    t0 = int(times.searchsorted(equity.index[0]))
    n_t = len(equity)
    out = pd.DataFrame({"book_risk": np.zeros(n_t), "stress_loss": np.zeros(n_t)},
                       index=equity.index)  # fmt: skip
    if len(trades) == 0:
        return out
    col = {a: i for i, a in enumerate(panel.assets)}
    dq = np.zeros((n_t + 1, panel.n_assets))
    e = np.clip(times.searchsorted(trades["entry_time"].to_numpy()) - t0, 0, n_t)
    x = np.clip(times.searchsorted(trades["exit_time"].to_numpy()) - t0, 0, n_t)
    for leg in ("a", "b"):
        j = trades[f"asset_{leg}"].map(col).to_numpy(np.int64)
        q = np.where(trades[f"side_{leg}"] == "long", 1.0, -1.0) * trades[f"qty_{leg}"].to_numpy()
        np.add.at(dq, (e, j), q)
        np.add.at(dq, (x, j), -q)
    net = np.cumsum(dq[:n_t], axis=0) * np.nan_to_num(close[t0 : t0 + n_t])
    net[np.abs(net) < 1e-9] = 0.0
    held = np.flatnonzero(np.any(net != 0.0, axis=1))
    var = np.zeros((3, n_t))
    k = cfg.baskets.shock_sigma
    per_day = panel.day_bars
    for day in np.unique((held + t0) // per_day):
        rows = held[(held + t0) // per_day == day]
        m = np.nan_to_num(covs.at(int(day) * per_day))
        xs = net[rows]
        var[:, rows] = np.einsum("ti,mij,tj->mt", xs, m, xs)
    sd = np.sqrt(np.maximum(var, 0.0)) * k / np.maximum(equity.to_numpy(float), 1e-12)
    out["book_risk"] = sd[0]
    out["stress_loss"] = np.maximum(sd[1], sd[2])
    return out


def risk_metrics(path: pd.DataFrame) -> dict[str, float]:
    """``book_risk_mean``/``_max`` and ``stress_loss_mean``/``_max`` over bars with a position."""
    on = path["book_risk"].to_numpy() > 0.0
    out = {}
    for c in ("book_risk", "stress_loss"):
        v = path[c].to_numpy()[on]
        out[f"{c}_mean"] = float(v.mean()) if len(v) else 0.0
        out[f"{c}_max"] = float(v.max()) if len(v) else 0.0
    return out
