"""The paper ledger's P&L on the monitor page (``revertible monitor --ledger PATH``).

The ledger is read with the paper command's own code (:func:`revertible.workflows.read_ledger`)
and checked the way ``paper`` checks it (:func:`revertible.workflows.check_ledger`): a ledger
written for another config or model is refused before anything is computed or written. The
summary is as of the ledger's last processed bar: trades closed, realised net bp per trade with
its 90% interval (bootstrap by exit day, as ``paper`` reports it), open positions marked at that
bar (net of exit costs), and the cumulative realised P&L by exit time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import RevertibleError

if TYPE_CHECKING:
    import os

    from ..config import Config

__all__ = ["read_checked_ledger", "ledger_pnl", "ledger_metrics", "ledger_json", "ledger_figure",
           "OPEN_COLUMNS"]

OPEN_COLUMNS = ("trade_id", "direction", "asset_a", "asset_b", "entry_time", "notional_a",
                "notional_b", "pnl", "net_bp")
"""Open-position columns shown on the page and in the JSON."""


def read_checked_ledger(path: str | os.PathLike[str], cfg: Config, model_uri: str,
                        store: str | None) -> Any:
    """Read the ledger at ``path`` and refuse one of another config or model (one line)."""
    from ..workflows import check_ledger, decision_config, model_identity, read_ledger

    book = read_ledger(path)
    if book is None:
        raise RevertibleError(f"--ledger {path}: no such ledger; run `revertible paper CONFIG "
                              f"--model {model_uri} --ledger {path}` first, or drop --ledger")
    check_ledger(str(path), book.meta, decision_config(cfg), model_identity(model_uri, store))
    return book


def ledger_pnl(book: Any, path: str | os.PathLike[str], samples: int) -> dict[str, Any]:
    """The ledger's P&L summary (see the module docstring); JSON-able but for the frames."""
    from ..workflows import realised_interval

    trades = book.trades
    closed = trades[trades["status"] == "closed"].sort_values("exit_time", kind="stable")
    opened = trades[trades["status"] == "open"]
    mean, lo, hi = (realised_interval(closed, samples) if len(closed)
                    else (float("nan"),) * 3)
    curve = pd.Series(closed["pnl"].to_numpy(float).cumsum(),
                      index=pd.DatetimeIndex(closed["exit_time"]), name="cumulative_pnl")
    runs = book.runs
    equity = float(runs["equity"].iloc[-1]) if len(runs) else float("nan")
    return {"path": str(Path(path)), "start": book.meta.get("start"),
            "last_bar": None if book.last_bar is None else str(book.last_bar),
            "runs": int(len(runs)), "trades_closed": int(len(closed)),
            "open_positions": int(len(opened)), "realised_net_bp": float(mean),
            "realised_net_bp_ci_low": float(lo), "realised_net_bp_ci_high": float(hi),
            "realised_pnl": float(closed["pnl"].sum()), "open_pnl": float(opened["pnl"].sum()),
            "equity": equity, "open": opened[list(OPEN_COLUMNS)].reset_index(drop=True),
            "curve": curve}


def ledger_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The summary's numbers, flat (``ledger.trades_closed``, ``ledger.realised_net_bp``...)."""
    keys = ("trades_closed", "open_positions", "realised_net_bp", "realised_net_bp_ci_low",
            "realised_net_bp_ci_high", "realised_pnl", "open_pnl", "equity")
    return {f"ledger.{k}": float(summary[k]) for k in keys}


def ledger_json(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary for ``monitor.json`` and ``--json``: open positions as records, no curve."""
    out = {k: v for k, v in summary.items() if k not in ("open", "curve")}
    out["open"] = [{k: (str(v) if isinstance(v, pd.Timestamp) else v) for k, v in r.items()}
                   for r in summary["open"].to_dict("records")]
    return out


def ledger_figure(summary: dict[str, Any]):
    """Cumulative realised P&L of the ledger's closed trades by exit time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    curve = summary["curve"]
    if len(curve):
        ax.step(curve.index, curve.to_numpy(), where="post",
                label=f"{len(curve)} closed trades")
        ax.legend(fontsize=8)
    if np.isfinite(summary["open_pnl"]) and summary["open_positions"]:
        ax.set_title(f"Paper ledger: realised P&L (open positions marked "
                     f"{summary['open_pnl']:+,.2f})", fontsize=10)
    else:
        ax.set_title("Paper ledger: realised P&L", fontsize=10)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("cumulative P&L")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
