"""Atomic output: write to a temporary file beside the target, then rename.

A crash or an error while writing never leaves a half-written file at the target path.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import RevertibleError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["atomic_path", "write_table", "read_table", "save_png", "subplots", "strict_json",
           "short_hash"]


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in ``dest``'s folder; rename it onto ``dest`` on success.

    On any exception the temporary file is removed and ``dest`` is left untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "x.txt").read_text()
    'hello'
    """
    dest = Path(dest)
    if dest.parent and not dest.parent.exists():
        raise RevertibleError(
            f"output folder {dest.parent} does not exist: create it or choose another --out path"
        )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_table(df: pd.DataFrame, dest: str | os.PathLike[str]) -> Path:
    """Write ``df`` atomically as parquet or CSV, chosen by ``dest``'s extension."""
    dest = Path(dest)
    suffix = dest.suffix.lower()
    if suffix not in {".parquet", ".pq", ".csv"}:
        raise RevertibleError(
            f"output file {dest}: unknown extension {suffix!r}; use .parquet or .csv"
        )
    with atomic_path(dest) as tmp:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
    return dest


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a parquet or CSV table written by :func:`write_table`."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    return pd.read_parquet(path)


def subplots(*args: Any, figsize: tuple[float, float] | None = None, **kwargs: Any) -> Any:
    """``(figure, axes)`` like ``pyplot.subplots``, on a :class:`matplotlib.figure.Figure`.

    No pyplot and no backend: the figure renders with ``savefig`` on any machine (no display
    needed), needs no closing and never touches matplotlib's global state.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def save_png(fig, dest: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Write a matplotlib figure atomically as a PNG at ``dest``, close it, return the path."""
    import matplotlib.pyplot as plt

    dest = Path(dest)
    try:
        with atomic_path(dest) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return dest


def strict_json(value: Any) -> Any:
    """``value`` with NaN and infinities as ``None`` (in nested dicts, lists, tuples).

    ``json.dumps`` writes them as ``NaN``/``Infinity``, which strict JSON parsers reject.

    Examples
    --------
    >>> strict_json({"a": float("nan"), "b": [1.0, float("-inf")], "c": "x"})
    {'a': None, 'b': [1.0, None], 'c': 'x'}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def short_hash(value: Any) -> str:
    """SHA-256 (16 hex digits) of ``value`` as sorted-key JSON (``str`` for what JSON lacks).

    Examples
    --------
    >>> short_hash({"b": 1, "a": [2]}) == short_hash({"a": [2], "b": 1})
    True
    """
    import hashlib
    import json

    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
