"""The paper ledger's SQLite file: schema, reading, and one atomic write per run.

Tables (stdlib :mod:`sqlite3`, one file):

* ``meta`` (``key``, ``value``): what the ledger was started with: ``config_hash`` and
  ``config`` (the decision-relevant settings, JSON), ``model_uri`` (pinned), ``model_version``,
  ``model_run_id``, ``data_fingerprint`` (the panel up to the start bar), ``start``, and
  ``package_version``;
* ``runs``: one row per run that processed a new bar (``at`` wall-clock, ``last_bar``, counts,
  equity, realised and expected net bp);
* ``trades``: the backtest's :data:`revertible.backtest.TRADE_COLUMNS` for every closed trade
  and open position, keyed by ``trade_id`` (signal time and pair), with ``status``
  (``open``/``closed``), ``opened_run`` and ``closed_run``;
* ``marks``: equity and gross notional per bar from the start.

A new ledger is written to a temporary file in the same folder and renamed into place; an
existing one is changed in one ``BEGIN IMMEDIATE`` transaction. Either way an error or Ctrl-C
leaves the file as it was.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import RevertibleError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["TIME_COLUMNS", "TEXT_COLUMNS", "read_ledger", "write_ledger", "Ledger"]

TIME_COLUMNS = ("signal_time", "entry_time", "exit_signal_time", "exit_time", "model_cutoff")
"""Trade columns stored as ISO-8601 UTC text (NULL for NaT)."""

TEXT_COLUMNS = ("strategy", "asset_a", "asset_b", "direction", "exit_reason", "side_a", "side_b")
"""Trade columns stored as text; every other trade column is a REAL."""

_EXTRA = ("trade_id", "status", "opened_run", "closed_run")


def _trade_columns() -> list[str]:
    from ..backtest import TRADE_COLUMNS

    return list(TRADE_COLUMNS)


def _schema() -> str:
    cols = []
    for c in _trade_columns():
        kind = "TEXT" if c in TIME_COLUMNS or c in TEXT_COLUMNS else "REAL"
        cols.append(f'"{c}" {kind}')
    return (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
        "CREATE TABLE runs (run INTEGER PRIMARY KEY, at TEXT NOT NULL, last_bar TEXT NOT NULL, "
        "new_trades INTEGER, closed_trades INTEGER, open_positions INTEGER, equity REAL, "
        "realised_net_bp REAL, expected_net_bp REAL);\n"
        "CREATE TABLE trades (trade_id TEXT PRIMARY KEY, status TEXT NOT NULL, "
        "opened_run INTEGER, closed_run INTEGER, " + ", ".join(cols) + ");\n"
        "CREATE TABLE marks (time TEXT PRIMARY KEY, equity REAL, gross REAL);\n"
    )


class Ledger:
    """What a ledger file holds: ``meta`` (dict), ``trades`` and ``runs`` (frames)."""

    def __init__(self, meta: dict[str, str], trades: pd.DataFrame, runs: pd.DataFrame):
        self.meta, self.trades, self.runs = meta, trades, runs

    @property
    def last_bar(self) -> pd.Timestamp | None:
        """The last bar a run processed (None before the first run)."""
        if len(self.runs) == 0:
            return None
        return pd.Timestamp(self.runs["last_bar"].iloc[-1])


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    if readonly:
        return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True,
                               isolation_level=None)
    return sqlite3.connect(path, isolation_level=None)


def _not_a_ledger(path: Path, why: str) -> RevertibleError:
    return RevertibleError(f"--ledger {path}: {why}; pass the ledger a previous `revertible "
                           "paper` wrote, or a new file path to start one")


def read_ledger(path: str | os.PathLike[str]) -> Ledger | None:
    """Read a ledger file; None when it does not exist yet."""
    path = Path(path)
    if not path.exists():
        return None
    if path.is_dir():
        raise _not_a_ledger(path, "is a folder")
    try:
        con = _connect(path, readonly=True)
        try:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            trades = pd.read_sql_query("SELECT * FROM trades ORDER BY entry_time, trade_id", con)
            runs = pd.read_sql_query("SELECT * FROM runs ORDER BY run", con)
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise _not_a_ledger(path, f"not a paper ledger ({exc})") from None
    return Ledger(meta, from_rows(trades), runs)


def from_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Stored trade rows -> the backtest's dtypes (UTC times, floats with NaN)."""
    out = df.copy()
    for c in _trade_columns():
        if c in TIME_COLUMNS:
            out[c] = pd.to_datetime(out[c], utc=True, format="ISO8601")
        elif c not in TEXT_COLUMNS:
            out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    return out


def _to_rows(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    cols = [*_EXTRA, *_trade_columns()]
    vals = []
    for c in cols:
        s = df[c]
        if c in TIME_COLUMNS:
            v = [None if pd.isna(x) else pd.Timestamp(x).isoformat() for x in s]
        elif c in TEXT_COLUMNS or c in ("trade_id", "status"):
            v = [None if x is None or (isinstance(x, float) and np.isnan(x)) else str(x)
                 for x in s]
        elif c in ("opened_run", "closed_run"):
            v = [None if pd.isna(x) else int(x) for x in s]
        else:
            v = [None if not np.isfinite(x) else float(x) for x in s.to_numpy(float)]
        vals.append(v)
    return list(zip(*vals, strict=True))


def _write(con: sqlite3.Connection, meta: dict[str, str] | None, trades: pd.DataFrame,
           run: dict[str, Any], marks: pd.DataFrame) -> None:
    if meta is not None:
        con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
    cols = [*_EXTRA, *_trade_columns()]
    names = ", ".join(f'"{c}"' for c in cols)
    con.executemany(f"INSERT OR REPLACE INTO trades ({names}) VALUES "
                    f"({', '.join('?' * len(cols))})", _to_rows(trades))
    keys = ("run", "at", "last_bar", "new_trades", "closed_trades", "open_positions", "equity",
            "realised_net_bp", "expected_net_bp")
    con.execute(f"INSERT INTO runs ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))})",
                [None if isinstance(run[k], float) and not np.isfinite(run[k]) else run[k]
                 for k in keys])
    con.executemany("INSERT OR REPLACE INTO marks VALUES (?, ?, ?)",
                    [(pd.Timestamp(t).isoformat(), float(e), float(g)) for t, e, g in
                     zip(marks.index, marks["equity"], marks["gross"], strict=True)])


@contextlib.contextmanager
def _transaction(con: sqlite3.Connection) -> Iterator[None]:
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def write_ledger(path: str | os.PathLike[str], *, meta: dict[str, str] | None,
                 trades: pd.DataFrame, run: dict[str, Any], marks: pd.DataFrame,
                 expect_last_bar: pd.Timestamp | None) -> None:
    """Write one run: a new file (``meta`` given) or one transaction on an existing ledger.

    ``trades`` are the rows to insert or replace (the columns of the ``trades`` table);
    ``expect_last_bar`` is the last bar the run reconciled against: a ledger another run moved
    on meanwhile is refused.
    """
    path = Path(path)
    try:
        if meta is not None:  # a new ledger: build it aside, rename into place
            tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
            tmp.unlink(missing_ok=True)
            try:
                con = _connect(tmp, readonly=False)
                try:
                    con.executescript(_schema())
                    with _transaction(con):
                        _write(con, meta, trades, run, marks)
                finally:
                    con.close()
                if path.exists():
                    raise RevertibleError(f"--ledger {path}: another paper run created it "
                                          "meanwhile; run again (one run at a time: use flock)")
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            return
        con = _connect(path, readonly=False)
        try:
            with _transaction(con):
                row = con.execute("SELECT last_bar FROM runs ORDER BY run DESC LIMIT 1"
                                  ).fetchone()
                now = None if row is None else pd.Timestamp(row[0])
                if now != expect_last_bar:
                    raise RevertibleError(f"--ledger {path}: another paper run moved it to "
                                          f"{now} meanwhile; run again (one run at a time: use "
                                          "flock)")
                _write(con, None, trades, run, marks)
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise RevertibleError(f"--ledger {path}: cannot write ({exc}); check the folder's "
                              "permissions and free disk space (the ledger is unchanged)"
                              ) from None
