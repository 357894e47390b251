"""Every divergence traded under three fill models: taker, optimistic maker, pessimistic maker.

The naive revert trade of each closed episode (leg A ``-sign(z)``, leg B ``sign(z) sign(beta)``,
leg A notional 1 and leg B ``|beta|`` at the signal closes), entered on the signal bar
(``entry_time``) and exited on the exit signal bar (``exit_time``, the label's barrier or time
stop), filled three ways:

* ``taker``: at the next bar's open, slipped by ``costs.slippage_bps``, taker fee;
* ``maker_optimistic``: at the next bar's open at the maker fee, no slippage (``costs.fill:
  maker``: every order fills);
* ``maker_pessimistic``: :func:`revertible.costs.pessimistic_fills` (entries may be cancelled;
  an exit must happen, so an unfilled exit crosses).

Per model: the trades made, the maker fill rate of the legs ordered, the cost per trade (fees and
the fill prices against the signal closes, in bp of gross notional: the implementation shortfall,
which includes the adverse selection of the fills that happen), the legging cost and the net
return per trade (bp, from the entry fills to the exit fills, after fees).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..costs import fill_summary, pessimistic_fills

if TYPE_CHECKING:
    from ..config import CostConfig
    from ..data import Panel

__all__ = ["compare_fill_models"]


def _orders(panel: Panel, episodes: pd.DataFrame) -> dict[str, np.ndarray]:
    eps = episodes[episodes["exit_reason"] != "open"]
    col = {a: i for i, a in enumerate(panel.assets)}
    t = panel.times.searchsorted(pd.DatetimeIndex(eps["entry_time"]))
    x = panel.times.searchsorted(pd.DatetimeIndex(eps["exit_time"]))
    ca = eps["asset_a"].map(col).to_numpy(np.int64)
    cb = eps["asset_b"].map(col).to_numpy(np.int64)
    sgn = np.sign(eps["z_entry"].to_numpy(float))
    beta = eps["beta"].to_numpy(float)
    ok = (x + 1 < panel.n_bars) & (t + 2 < panel.n_bars)
    t, x, ca, cb, sgn, beta = t[ok], x[ok], ca[ok], cb[ok], sgn[ok], beta[ok]
    pa, pb = panel.close[t, ca], panel.close[t, cb]
    return {"t": t, "x": x, "ca": ca, "cb": cb, "sa": -sgn, "sb": sgn * np.sign(beta),
            "qa": 1.0 / pa, "qb": np.abs(beta) / pb, "gross": 1.0 + np.abs(beta)}  # fmt: skip


def _next_open(panel: Panel, o: dict, bar: np.ndarray, slip: float, fee: float,
               flip: float) -> dict[str, np.ndarray]:
    k = bar + 1
    out = {}
    for leg in ("a", "b"):
        side = o[f"s{leg}"] * flip
        out[f"price_{leg}"] = panel.open[k, o[f"c{leg}"]] * (1.0 + side * slip)
        out[f"fee_{leg}"] = np.full(len(k), fee)
    return out


def _leg_cost(panel: Panel, o: dict, fills: dict, bar: np.ndarray, flip: float) -> np.ndarray:
    """Fees plus the fill prices against the signal closes, per trade (quote currency)."""
    cost = np.zeros(len(bar))
    for leg in ("a", "b"):
        side = o[f"s{leg}"] * flip
        ref = panel.close[bar, o[f"c{leg}"]]
        p = fills[f"price_{leg}"]
        cost += o[f"q{leg}"] * (side * (p - ref) + fills[f"fee_{leg}"] * p)
    return cost


def _pnl(o: dict, ent: dict, ext: dict) -> np.ndarray:
    pnl = np.zeros(len(o["t"]))
    for leg in ("a", "b"):
        q, s = o[f"q{leg}"], o[f"s{leg}"]
        pi, px = ent[f"price_{leg}"], ext[f"price_{leg}"]
        pnl += q * (s * (px - pi) - ent[f"fee_{leg}"] * pi - ext[f"fee_{leg}"] * px)
    return pnl


def compare_fill_models(panel: Panel, episodes: pd.DataFrame, costs: CostConfig) -> pd.DataFrame:
    """One row per fill model (module docstring); costs' fees, slippage and maker settings used.

    Columns ``model, orders, trades, fill_rate, cost_bp, legging_bp, net_bp, net_bp_se`` (per
    trade made, bp of its gross notional; ``net_bp_se`` the standard error of ``net_bp``).
    """
    o = _orders(panel, episodes)
    slip = costs.slippage_bps / 1e4
    rows = []
    for model, fee, s in (("taker", costs.taker_fee, slip),
                          ("maker_optimistic", costs.maker_fee, 0.0)):  # fmt: skip
        ent = _next_open(panel, o, o["t"], s, fee, 1.0)
        ext = _next_open(panel, o, o["x"], s, fee, -1.0)
        cost = _leg_cost(panel, o, ent, o["t"], 1.0) + _leg_cost(panel, o, ext, o["x"], -1.0)
        pnl = _pnl(o, ent, ext)
        ok = np.isfinite(cost) & np.isfinite(pnl)
        rows.append((model, len(ok), int(ok.sum()), 1.0 if model != "taker" else 0.0,
                     cost[ok], np.zeros(ok.sum()), pnl[ok], o["gross"][ok]))  # fmt: skip
    ent = pessimistic_fills(o["t"], o["ca"], o["cb"], o["sa"], o["sb"], o["qa"], o["qb"],
                            panel.open, panel.high, panel.low, panel.close, costs)
    crossing = costs.model_copy(update={"maker_unfilled": "cross"})
    ext = pessimistic_fills(o["x"], o["ca"], o["cb"], -o["sa"], -o["sb"], o["qa"], o["qb"],
                            panel.open, panel.high, panel.low, panel.close, crossing)
    made = np.isin(ent["status"], ("maker", "legged", "crossed"))
    made &= np.isin(ext["status"], ("maker", "legged", "crossed"))
    cost = _leg_cost(panel, o, ent, o["t"], 1.0) + _leg_cost(panel, o, ext, o["x"], -1.0)
    legging = (np.where(ent["status"] == "legged", ent["legging_cost"], 0.0)
               + np.where(ext["status"] == "legged", ext["legging_cost"], 0.0))
    pnl = _pnl(o, ent, ext)
    both = {k: np.concatenate([ent[k], ext[k][made]]) for k in ("status", "maker_a", "maker_b",
                                                                 "legging_cost")}  # fmt: skip
    rows.append(("maker_pessimistic", len(made), int(made.sum()), fill_summary(both)["fill_rate"],
                 cost[made], legging[made], pnl[made], o["gross"][made]))  # fmt: skip
    out = []
    for model, orders, trades, rate, c, lg, p, g in rows:
        net = 1e4 * p / g
        out.append({"model": model, "orders": orders, "trades": trades, "fill_rate": rate,
                    "cost_bp": float(np.mean(1e4 * c / g)) if trades else np.nan,
                    "legging_bp": float(np.mean(1e4 * lg / g)) if trades else np.nan,
                    "net_bp": float(np.mean(net)) if trades else np.nan,
                    "net_bp_se": float(np.std(net, ddof=1) / np.sqrt(trades))
                    if trades > 1 else np.nan})  # fmt: skip
    return pd.DataFrame(out)
