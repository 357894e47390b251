"""``revertible paper``: a forward-test ledger kept by the backtest engine itself.

One engine for replay and live. Each run replays :func:`revertible.backtest.run_backtest`
(strategy ``model`` at 1x costs) from the ledger's start bar to the last closed bar, then
reconciles the replay with the ledger (:mod:`._ledger_db`):

* every trade whose entry is at or before the last bar processed before must be in the replay
  with the same entry (sizes, prices, equity at entry...), and a trade the ledger holds as
  closed must be unchanged altogether (only its ``label`` may resolve later): that is the
  point-in-time check, and a difference is an error naming the trade;
* the replay's trades entered after that bar are appended (the new decisions, filled at the
  open after their signal bar);
* an open position (the replay closed it ``end_of_data``, at the last close net of exit costs)
  is marked; its exit fills when the data reaches it;
* the run records the last bar it processed; a second run for the same bar writes nothing.

A ledger is tied to the settings that decide and size trades (:func:`decision_config`, hashed),
the model (pinned URI and run) and the data before its start (fingerprint): another config,
model or history is refused, one line, and the ledger is left as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import RevertibleError
from ..io import short_hash
from ._ledger_db import TEXT_COLUMNS, TIME_COLUMNS, read_ledger, write_ledger

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterator, Sequence

    from ..config import Config
    from ..data import Panel
    from ._ledger_db import Ledger

__all__ = ["decision_config", "config_hash", "paper_run", "paper_command", "PaperReport",
           "ENTRY_COLUMNS", "paper_summary", "check_ledger", "model_identity",
           "realised_interval", "ledger_pnl", "LEDGER_OPEN_COLUMNS"]

#: Sections (and keys) that neither decide nor size a trade of a given model: left out of the
#: ledger's config hash, so moving the data folder or the tracking store keeps the ledger.
_NOT_DECISIONS = {"name": None, "seed": None, "compute": None, "model": None, "cv": None,
                  "tracking": None, "tuning": None, "hedge": None, "scoring": None,
                  "monitor": None, "data": ("path", "funding_path"),
                  "backtest": ("cost_multipliers", "bootstrap_samples", "n_trials")}

ENTRY_COLUMNS = ("strategy", "cost_multiplier", "asset_a", "asset_b", "direction",
                 "signal_time", "entry_time", "side_a", "side_b", "qty_a", "qty_b",
                 "entry_price_a", "entry_price_b", "notional_a", "notional_b",
                 "equity_at_entry", "probability", "z_entry", "beta", "model_cutoff")
"""Trade columns fixed when a position opens: a later run must reproduce them exactly."""

_TOL = 1e-9
_PENDING = ["entry_time", "asset_a", "asset_b", "direction", "z_entry", "probability",
            "expected_return_lower"]


def decision_config(cfg: Config) -> dict[str, Any]:
    """The settings that decide and size trades, flat ``section.key -> value`` (JSON types)."""
    dumped = cfg.model_dump(mode="json", by_alias=True)
    flat: dict[str, Any] = {}
    for section, value in dumped.items():
        drop = _NOT_DECISIONS.get(section.rstrip("_"), ())
        if drop is None:
            continue
        if isinstance(value, dict):
            flat.update({f"{section}.{k}": v for k, v in value.items() if k not in drop})
        else:
            flat[section] = value
    return dict(sorted(flat.items()))


def config_hash(settings: dict[str, Any]) -> str:
    """SHA-256 (16 hex digits) of :func:`decision_config`'s output (``io.short_hash``)."""
    return short_hash(settings)


@dataclass
class PaperReport:
    """What one run did and found (the command prints and notifies from it)."""

    ledger: str
    start: pd.Timestamp
    last_bar: pd.Timestamp
    previous_bar: pd.Timestamp | None
    changed: bool
    new: pd.DataFrame
    open: pd.DataFrame
    closed: pd.DataFrame
    newly_closed: int
    equity: float
    realised_net_bp: tuple[float, float, float]
    expected_net_bp: float
    gate_net_bp: tuple[float, float, float]
    pending: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_PENDING))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``--json``)."""
        def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
            cols = ["trade_id", "direction", "asset_a", "asset_b", "entry_time", "side_a",
                    "qty_a", "qty_b", "notional_a", "notional_b", "pnl", "net_bp"]
            return [{k: (str(v) if isinstance(v, pd.Timestamp) else v) for k, v in r.items()}
                    for r in df[cols].to_dict("records")]

        return {"ledger": self.ledger, "start": str(self.start), "last_bar": str(self.last_bar),
                "previous_bar": None if self.previous_bar is None else str(self.previous_bar),
                "changed": self.changed, "new": rows(self.new), "open": rows(self.open),
                "closed": len(self.closed), "newly_closed": self.newly_closed,
                "equity": self.equity, "realised_net_bp": list(self.realised_net_bp),
                "expected_net_bp": self.expected_net_bp, "gate_net_bp": list(self.gate_net_bp),
                "pending": [{**r, "entry_time": str(r["entry_time"])}
                            for r in self.pending.to_dict("records")]}

    def metrics(self) -> dict[str, float]:
        """The run's figures as one flat mapping (``--json``'s ``metrics``, docs/design.md)."""
        out = {"equity": self.equity, "new_trades": len(self.new),
               "open_positions": len(self.open), "trades_closed": len(self.closed),
               "newly_closed": self.newly_closed, "expected_net_bp": self.expected_net_bp}
        for name, (m, lo, hi) in (("realised_net_bp", self.realised_net_bp),
                                  ("gate_net_bp", self.gate_net_bp)):
            out |= {name: m, f"{name}_ci_low": lo, f"{name}_ci_high": hi}
        return out


def _utc(ts: Any) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def trade_ids(trades: pd.DataFrame) -> pd.Series:
    """``<signal time> <asset_a>~<asset_b>``: one position per pair at a time makes it unique."""
    when = pd.DatetimeIndex(trades["signal_time"]).strftime("%Y-%m-%dT%H:%MZ")
    return pd.Series([f"{w} {a}~{b}" for w, a, b in zip(when, trades["asset_a"],
                                                         trades["asset_b"], strict=True)],
                     index=trades.index, dtype=object)


@contextlib.contextmanager
def _quiet(_description: str) -> Iterator[Callable[[int, int], None]]:
    yield lambda *_: None


def replay(cfg: Config, panel: Panel, model: Any, start: pd.Timestamp, *,
           say: Callable[[str], None], progress: Callable[..., Any] | None = None,
           ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float], pd.DataFrame]:
    """The backtest's ``model`` trades, equity/gross marks, metrics, and pending decisions.

    Pending: the signals of the last bar the decision takes (they fill at the next open, which
    the data does not have yet; the next run books them, sized by the book at this close).
    """
    from ..backtest import TRADE_COLUMNS, run_backtest
    from ..episodes import build_episodes

    one = cfg.model_copy(update={"backtest": cfg.backtest.model_copy(
        update={"cost_multipliers": (1.0,)})})
    last = panel.times[-1]
    bars = panel.times[panel.times.searchsorted(start):]
    capital = float(cfg.sizing.capital)
    with (progress or _quiet)("episodes (pairs)") as update:
        episodes = build_episodes(panel, cfg, progress=update)
    entry = episodes["entry_time"] if len(episodes) else pd.Series(dtype="datetime64[ns, UTC]")
    if not ((entry >= start) & (entry <= last)).any():  # nothing to decide yet
        marks = pd.DataFrame({"equity": capital, "gross": 0.0}, index=bars)
        return pd.DataFrame(columns=TRADE_COLUMNS), marks, {}, pd.DataFrame(columns=_PENDING)
    res = run_backtest(one, panel, model=model, since=start, until=last, episodes=episodes,
                       strategies=("model",), say=say, progress=progress)
    tr = res.trades[res.trades["strategy"] == "model"].reset_index(drop=True)
    marks = pd.DataFrame({"equity": res.equity["model"], "gross": res.gross["model"]})
    marks = marks.reindex(bars)
    marks["equity"] = marks["equity"].fillna(capital)  # bars before the first signal
    marks["gross"] = marks["gross"].fillna(0.0)
    sig = res.signals
    if "direction" in sig.columns:
        pending = sig[(sig["entry_time"] == last) & (sig["direction"] != "none")]
    else:
        pending = sig.iloc[:0].assign(direction="none", expected_return_lower=np.nan)
    return tr, marks, res.metrics, pending[_PENDING].reset_index(drop=True)


def _differs(old: pd.Series, new: pd.Series, cols: Sequence[str]) -> str | None:
    """The first column where ``old`` and ``new`` differ (floats to 1e-9), else None."""
    for c in cols:
        a, b = old[c], new[c]
        if c in TIME_COLUMNS:
            if (pd.isna(a) != pd.isna(b)) or (not pd.isna(a) and _utc(a) != _utc(b)):
                return f"{c} was {a}, now {b}"
        elif c in TEXT_COLUMNS:
            if str(a) != str(b):
                return f"{c} was {a}, now {b}"
        else:
            fa, fb = float(a), float(b)
            if np.isnan(fa) != np.isnan(fb) or (
                    not np.isnan(fa) and abs(fa - fb) > _TOL * max(1.0, abs(fa), abs(fb))):
                return f"{c} was {fa!r}, now {fb!r}"
    return None


def reconcile(path: str, ledger: pd.DataFrame, replayed: pd.DataFrame,
              previous: pd.Timestamp | None, run: int) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Check the replay against the ledger; return (rows to write, new trades, newly closed).

    Raises a :class:`RevertibleError` naming the first trade that changed (see module doc).
    """
    from ..backtest import TRADE_COLUMNS

    rep = replayed.copy()
    rep["trade_id"] = trade_ids(rep) if len(rep) else pd.Series(dtype=object)
    rep["status"] = np.where(rep["exit_reason"] == "end_of_data", "open", "closed")
    old = ledger.set_index("trade_id") if len(ledger) else pd.DataFrame()
    by_id = rep.set_index("trade_id")
    fix = ("the data before it was revised or the engine changed; restore that data, or "
           "start a new ledger (another --ledger path)")
    for tid, row in old.iterrows():
        if tid not in by_id.index:
            raise RevertibleError(f"--ledger {path}: trade {tid} is in the ledger but not in "
                                  f"the replay: {fix}")
        cols = ([c for c in TRADE_COLUMNS if c != "label"] if row["status"] == "closed"
                else list(ENTRY_COLUMNS))
        diff = _differs(row, by_id.loc[tid], cols)
        if diff:
            raise RevertibleError(f"--ledger {path}: trade {tid} changed on replay ({diff}): "
                                  f"{fix}")
    if previous is not None:
        late = rep[(rep["entry_time"] <= previous) & ~rep["trade_id"].isin(old.index)]
        if len(late):
            raise RevertibleError(f"--ledger {path}: trade {late['trade_id'].iloc[0]} entered "
                                  f"at or before the last processed bar {previous} is new on "
                                  f"replay: {fix}")
    known = rep["trade_id"].isin(old.index)
    rep["opened_run"] = np.where(known, rep["trade_id"].map(
        old["opened_run"] if len(old) else {}), run)
    was_closed = rep["trade_id"].map(old["status"] if len(old) else {}).eq("closed")
    prev_closed = rep["trade_id"].map(old["closed_run"] if len(old) else {})
    rep["closed_run"] = np.where(was_closed, prev_closed,
                                 np.where(rep["status"] == "closed", run, np.nan))
    newly = int(((rep["status"] == "closed") & ~was_closed).sum())
    if was_closed.any():  # a closed trade keeps its stored row; only its label may resolve
        keep = [c for c in TRADE_COLUMNS if c != "label"]
        ids = rep.loc[was_closed, "trade_id"]
        rep.loc[was_closed, keep] = old.loc[ids, keep].to_numpy()
    return rep, rep[~known].copy(), newly


def model_identity(uri: str, store: str | None) -> dict[str, str]:
    """Pinned URI, registered version and run id of a model (empty strings where none)."""
    out = {"model_uri": uri, "model_version": "", "model_run_id": ""}
    try:
        if uri.startswith("runs:/"):
            out["model_run_id"] = uri[len("runs:/"):].split("/")[0]
        elif uri.startswith("models:/"):
            from mlflow import MlflowClient

            name, _, version = uri[len("models:/"):].partition("/")
            mv = MlflowClient(store, registry_uri=store).get_model_version(name, version)
            out["model_version"], out["model_run_id"] = str(mv.version), str(mv.run_id)
    except Exception:  # noqa: BLE001 - identity is best effort beyond the pinned URI
        pass
    return out


def check_ledger(path: str, meta: dict[str, str], settings: dict[str, Any],
                ident: dict[str, str]) -> None:
    """Refuse a ledger written for another config or model (one line naming the difference).

    ``settings`` is :func:`decision_config` of the config in use, ``ident`` the model's
    :func:`model_identity`; ``paper`` and ``monitor --ledger`` both check this.
    """
    from ..config import override_text

    if meta.get("config_hash") != config_hash(settings):
        was = json.loads(meta.get("config", "{}"))
        diff = [k for k in sorted(set(was) | set(settings)) if was.get(k) != settings.get(k)]
        k = diff[0] if diff else "?"
        raise RevertibleError(
            f"--ledger {path} was written for another config: {k} was {was.get(k)!r}, now "
            f"{settings.get(k)!r}{f' (and {len(diff) - 1} more)' if len(diff) > 1 else ''}; "
            f"run with the ledger's settings ({override_text(k, was.get(k))}) or start a new "
            "ledger")
    if not same_model(meta, ident):
        raise RevertibleError(
            f"--ledger {path} was written for model {meta.get('model_uri')} (run "
            f"{meta.get('model_run_id') or '-'}), not {ident['model_uri']} (run "
            f"{ident.get('model_run_id') or '-'}); pass --model {meta.get('model_uri')} or "
            "start a new ledger for the new model")


def same_model(meta: dict[str, str], ident: dict[str, str]) -> bool:
    """The ledger (its ``meta``) was kept for the model ``ident`` (:func:`model_identity`).

    By the run that logged it where both know it (``models:/x/1`` is ``runs:/<its run>``), else
    by URI.
    """
    run_was, run_now = meta.get("model_run_id", ""), ident.get("model_run_id", "")
    return run_was == run_now if run_was and run_now else meta.get("model_uri") == ident[
        "model_uri"]


def rotate_ledger(path: str | os.PathLike[str], meta: dict[str, str]) -> Path:
    """Move a ledger aside to ``<stem>-<its model's run, 8>[-k]<suffix>``; returns where.

    ``os.replace`` to a name that does not exist yet: nothing is overwritten or lost.
    """
    import os

    src = Path(path)
    tag = (meta.get("model_run_id") or "")[:8] or hashlib.sha256(
        meta.get("model_uri", "").encode()).hexdigest()[:8]
    dst, k = src.with_name(f"{src.stem}-{tag}{src.suffix}"), 1
    while dst.exists():
        k += 1
        dst = src.with_name(f"{src.stem}-{tag}-{k}{src.suffix}")
    os.replace(src, dst)
    return dst


def realised_interval(closed: pd.DataFrame, samples: int) -> tuple[float, float, float]:
    """Mean net bp per closed trade and its 90% interval (bootstrap by exit day)."""
    from ..backtest import bootstrap_mean_ci

    day = pd.DatetimeIndex(closed["exit_time"]).floor("D").asi8
    return bootstrap_mean_ci(closed["net_bp"].to_numpy(float), day, n_samples=samples)


LEDGER_OPEN_COLUMNS = ("trade_id", "direction", "asset_a", "asset_b", "entry_time", "notional_a",
                       "notional_b", "pnl", "net_bp")
"""Open-position columns of :func:`ledger_pnl`."""


def ledger_pnl(cfg: Config, ledger: str | os.PathLike[str], model_uri: str) -> dict[str, Any]:
    """A ledger's P&L as of its last processed bar, for ``monitor --ledger``.

    The ledger is read and checked as ``paper`` checks it (another config or model: one-line
    error; a missing file too). Returns plain values plus two frames: ``open`` (the open
    positions, :data:`LEDGER_OPEN_COLUMNS`, marked net of exit costs) and ``curve`` (cumulative
    realised P&L by exit time); realised net bp per closed trade with its 90% interval as
    ``paper`` reports it (:func:`realised_interval`).
    """
    from ..scoring import resolve_model_uri, tracking_uri

    store = tracking_uri(cfg)
    pinned = resolve_model_uri(model_uri, store)
    book = read_ledger(ledger)
    if book is None:
        raise RevertibleError(f"--ledger {ledger}: no such ledger; run `revertible paper CONFIG "
                              f"--model {model_uri} --ledger {ledger}` first, or drop --ledger")
    check_ledger(str(ledger), book.meta, decision_config(cfg), model_identity(pinned, store))
    trades = book.trades
    closed = trades[trades["status"] == "closed"].sort_values("exit_time", kind="stable")
    opened = trades[trades["status"] == "open"]
    mean, lo, hi = (realised_interval(closed, cfg.backtest.bootstrap_samples) if len(closed)
                    else (float("nan"),) * 3)
    runs = book.runs
    return {"path": str(ledger), "start": book.meta.get("start"),
            "last_bar": None if book.last_bar is None else str(book.last_bar),
            "runs": int(len(runs)), "trades_closed": int(len(closed)),
            "open_positions": int(len(opened)), "realised_net_bp": float(mean),
            "realised_net_bp_ci_low": float(lo), "realised_net_bp_ci_high": float(hi),
            "realised_pnl": float(closed["pnl"].sum()), "open_pnl": float(opened["pnl"].sum()),
            "equity": float(runs["equity"].iloc[-1]) if len(runs) else float("nan"),
            "open": opened[list(LEDGER_OPEN_COLUMNS)].reset_index(drop=True),
            "curve": pd.Series(closed["pnl"].to_numpy(float).cumsum(),
                               index=pd.DatetimeIndex(closed["exit_time"]),
                               name="cumulative_pnl")}


def _check_data(path: str, book: Ledger | None, since: Any, panel: Panel) -> None:
    """Refuse ``--since`` and data the ledger cannot start or continue on (one line each).

    ``book`` is the ledger read (None: a new one). On a new ledger ``since`` must be a time in
    the data; on an existing one it must be None or its start, the data must reach its last
    processed bar and be unchanged up to its start (fingerprint).
    """
    times = panel.times
    if book is None:
        if since is not None and not times[0] <= _utc(since) <= times[-1]:
            raise RevertibleError(f"--since {_utc(since)}: outside the data ({times[0]} .. "
                                  f"{times[-1]}); pick a bar in it")
        return
    start = _utc(book.meta["start"])
    if since is not None and _utc(since) != start:
        raise RevertibleError(f"--since {since}: the ledger {path} started at {start}; "
                              "drop --since (it only starts a new ledger)")
    previous = book.last_bar
    if previous is not None and times[-1] < previous:
        raise RevertibleError(f"the data ends {times[-1]}, before the ledger's last processed "
                              f"bar {previous}: point data.path at the data the ledger was run "
                              "on (or run revertible download)")
    fp = panel.cut(start).fingerprint()
    if fp != book.meta.get("data_fingerprint"):
        raise RevertibleError(f"--ledger {path}: the data up to its start {start} has "
                              f"changed (fingerprint {book.meta.get('data_fingerprint')}, "
                              f"now {fp}: files replaced, or assets added or removed); use "
                              "the ledger's data or start a new ledger")


def paper_run(cfg: Config, ledger: str | os.PathLike[str], *, model: Any,
              model_uri: str, identity: dict[str, str] | None = None,
              panel: Panel, since: Any = None, say: Callable[[str], None] | None = None,
              progress: Callable[..., Any] | None = None,
              now: pd.Timestamp | None = None) -> PaperReport:
    """One paper run on ``panel`` (its last bar is the last closed bar); see the module doc.

    ``since`` starts a new ledger at that bar (default: the last bar); on an existing ledger it
    must be its start or None. ``identity`` is :func:`model_identity` (default: the URI only).
    ``now`` (wall clock) drops a last bar that has not closed yet.
    """
    from .. import __version__

    say = say or (lambda _m: None)
    path = str(ledger)
    ident = identity or {"model_uri": model_uri, "model_version": "", "model_run_id": ""}
    if now is not None:
        closed_until = _utc(now).floor(panel.freq) - panel.freq
        if panel.times[-1] > closed_until:
            panel = panel.cut(closed_until)
    last = panel.times[-1]
    book = read_ledger(path)
    settings = decision_config(cfg)
    previous = None
    if book is not None:
        check_ledger(path, book.meta, settings, ident)
    _check_data(path, book, since, panel)
    if book is not None:
        start, previous = _utc(book.meta["start"]), book.last_bar
    else:
        start = panel.times[panel.times.searchsorted(last if since is None else _utc(since))]
    say(f"paper: replaying {start:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC")
    trades, marks, metrics, pending = replay(cfg, panel, model, start, say=say, progress=progress)
    old = book.trades if book is not None else pd.DataFrame()
    run = 1 + (len(book.runs) if book is not None else 0)
    rows, new, newly = reconcile(path, old, trades, previous, run)
    closed = rows[rows["status"] == "closed"]
    realised = realised_interval(closed, cfg.backtest.bootstrap_samples)
    report = PaperReport(
        ledger=path, start=start, last_bar=last, previous_bar=previous,
        changed=previous is None or last > previous, new=new,
        open=rows[rows["status"] == "open"], closed=closed, newly_closed=newly,
        equity=float(marks["equity"].iloc[-1]), realised_net_bp=realised,
        expected_net_bp=float(metrics.get("model.taken_net_bp_expected", np.nan)),
        gate_net_bp=tuple(float(metrics.get(f"model.decision_taken_net_bp{s}", np.nan))
                          for s in ("", "_ci_low", "_ci_high")),  # type: ignore[arg-type]
        pending=pending)
    if not report.changed:
        report.new = new.iloc[:0]
        report.newly_closed = 0
        return report
    meta = None
    if book is None:
        meta = {"config_hash": config_hash(settings), "config": json.dumps(settings, default=str),
                **ident, "data_fingerprint": panel.cut(start).fingerprint(),
                "start": start.isoformat(), "package_version": __version__,
                "created": pd.Timestamp.now(tz="UTC").isoformat()}
    run_row = {"run": run, "at": pd.Timestamp.now(tz="UTC").isoformat(),
               "last_bar": last.isoformat(), "new_trades": len(new), "closed_trades": len(closed),
               "open_positions": int((rows["status"] == "open").sum()),
               "equity": report.equity, "realised_net_bp": realised[0],
               "expected_net_bp": report.expected_net_bp}
    write_ledger(path, meta=meta, trades=rows, run=run_row, marks=marks,
                 expect_last_bar=previous)
    return report


def _money(x: float) -> str:
    return f"{x:,.2f}" if np.isfinite(x) else "-"


def _bp(x: float) -> str:
    return f"{x:+.1f}" if np.isfinite(x) else "-"


SHOW = 20
"""At most this many new trades (and pending decisions) are listed; the ledger has them all."""


def paper_summary(rep: PaperReport, capital: float) -> list[str]:
    """Lines for people: new decisions with sizes, open positions, realised vs expected."""
    from ..backtest import ci_text

    head = (f"paper {rep.ledger}: {rep.start:%Y-%m-%d %H:%M} .. {rep.last_bar:%Y-%m-%d %H:%M} "
            f"UTC; " + ("new bar(s) processed" if rep.changed else
                        "no new bar since the last run: nothing changed"))
    lines = [head]
    for r in rep.new.head(SHOW).itertuples(index=False):
        lines.append(
            f"  new {r.direction}: {r.side_a} {abs(r.qty_a):.6g} {r.asset_a} "
            f"({abs(r.notional_a):,.2f}), {r.side_b} {abs(r.qty_b):.6g} {r.asset_b} "
            f"({abs(r.notional_b):,.2f}); signal {r.signal_time:%Y-%m-%d %H:%M}, filled at the "
            f"open {r.entry_time:%Y-%m-%d %H:%M}, p={r.probability:.3f}")
    if len(rep.new) > SHOW:
        lines.append(f"  ... and {len(rep.new) - SHOW} more new trade(s) (all in the ledger)")
    for r in rep.pending.head(SHOW).itertuples(index=False):
        lines.append(f"  decided at the last close: {r.direction} {r.asset_a}~{r.asset_b} "
                     f"(z {r.z_entry:+.2f}, p={r.probability:.3f}, lower bound "
                     f"{_bp(1e4 * r.expected_return_lower)} bp net); fills at the next open "
                     "if the book has room, sized against this close's equity")
    lines.append(f"{len(rep.new)} new trade(s), {len(rep.open)} open position(s), "
                 f"{len(rep.closed)} closed ({rep.newly_closed} this run); equity "
                 f"{_money(rep.equity)} ({(rep.equity / capital - 1) * 100:+.2f}%)")
    for r in rep.open.itertuples(index=False):
        lines.append(f"  open {r.trade_id} {r.direction}: marked P&L {_money(r.pnl)} "
                     f"({_bp(r.net_bp)} bp, net of exit costs)")
    m, lo, hi = rep.realised_net_bp
    g, glo, ghi = rep.gate_net_bp
    band = ci_text(lo, hi, "every closed trade exited on one day")
    # no closed trade or no taken signal said so, not "- bp/trade [90% CI -, -]"
    realised = (f"realised net {_bp(m)} bp/trade {band} over {len(rep.closed)} closed trade(s)"
                if len(rep.closed) else "realised net: no closed trade yet")
    # taken signals, none resolved yet: no record at all (it said "- [no 90% CI: all entered
    # on one day]")
    record = (f"{_bp(g)} {ci_text(glo, ghi, 'all entered on one day')}" if np.isfinite(g)
              else "no outcome known yet")
    gate = (f"the backtest of the same period expected {_bp(rep.expected_net_bp)} bp per taken "
            f"signal (the gate's record at unit size: {record})"
            if np.isfinite(g) or np.isfinite(rep.expected_net_bp) else
            "the backtest of the same period has no taken signal with a known outcome")
    lines.append(f"{realised}; {gate}")
    return lines


def paper_command(cfg: Config, model_uri: str, ledger: str | os.PathLike[str], *,
                  since: Any = None, notify_urls: Sequence[str] | None = None,
                  log: Callable[[str], None] = print,
                  progress: Callable[..., Any] | None = None, panel: Panel | None = None,
                  now: pd.Timestamp | None = None, rotate: bool = False) -> PaperReport:
    """Everything ``revertible paper`` does: load, check, run, notify the new decisions.

    ``rotate``: a ledger kept for another model (of the same config) is moved aside
    (:func:`rotate_ledger`) and a new one started, instead of refused.
    """
    from ..data import load_panel
    from ..live import freshness_check, notify, panel_last_bars
    from ..model import check_out_of_sample
    from ..scoring import check_model, resolve_model_uri, tracking_uri
    from ..tracking import load_model

    store = tracking_uri(cfg)
    pinned = resolve_model_uri(model_uri, store)
    book = read_ledger(ledger)  # a foreign file or model fails before the data is loaded
    ident = model_identity(pinned, store)
    retired = None  # a ledger of another model, moved aside once every check has passed
    if book is not None and rotate and not same_model(book.meta, ident):
        # the config must still be the ledger's: checked as if the model were its own
        check_ledger(str(ledger), book.meta, decision_config(cfg), {
            "model_uri": book.meta.get("model_uri", ""),
            "model_run_id": book.meta.get("model_run_id", "")})
        retired, book = book.meta, None
    if book is not None:
        check_ledger(str(ledger), book.meta, decision_config(cfg), ident)
    if panel is None:
        panel = load_panel(cfg.data)
    # checked before the model loads (its warnings printed before the refusal)
    _check_data(str(ledger), book, since, panel)
    model = load_model(pinned, store)
    check_model(model, cfg, panel.funding is not None)
    if book is None:  # a new ledger over the labels the model saw is in sample
        if since is not None:
            check_out_of_sample(_utc(since), getattr(model, "meta", None), "--since", panel.freq)
        else:  # it starts at the last closed bar (a replay of old data can be in sample too)
            last = panel.times[-1] if now is None else min(
                panel.times[-1], _utc(now).floor(panel.freq) - panel.freq)
            check_out_of_sample(last, getattr(model, "meta", None),
                                "the new ledger's first bar (the last closed one)", panel.freq)
    freshness_check(cfg.scoring, last_bar=panel.times[-1], model_meta=getattr(model, "meta", None),
                    asset_last_bars=panel_last_bars(panel), step=panel.freq, now=now,
                    notify_urls=notify_urls)
    if retired is not None:  # after the checks: a refused model or stale data moves nothing
        moved = rotate_ledger(ledger, retired)
        msg = (f"--rotate: {ledger} was kept for model {retired.get('model_uri')} (run "
               f"{retired.get('model_run_id') or '-'}); moved to {moved}, a new ledger starts "
               f"for {pinned}")
        log(msg)
        notify(notify_urls, msg, title="revertible paper: new model, new ledger")
    rep = paper_run(cfg, ledger, model=model, model_uri=pinned, identity=ident, panel=panel,
                    since=since, say=log, progress=progress, now=now)
    if (len(rep.new) or len(rep.pending)) and rep.changed and notify_urls:
        lines = paper_summary(rep, float(cfg.sizing.capital))
        body = "\n".join(ln for ln in lines if ln.startswith(("  new", "  ...", "  decided"))
                         or "new trade" in ln)
        notify(notify_urls, f"paper {Path(str(ledger)).name} at {rep.last_bar:%Y-%m-%d %H:%M} "
               f"UTC:\n{body}", title="revertible paper: new decisions")
    return rep
