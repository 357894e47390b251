"""Market data: discover, read and validate price files; align them on one UTC bar grid."""

from __future__ import annotations

from ._load import (
    discover_files,
    load_panel,
    parse_timeframe,
    read_bars,
    summarize,
)
from ._panel import (
    Panel,
)

__all__ = [
    "load_panel",
    "discover_files",
    "read_bars",
    "summarize",
    "parse_timeframe",
    "Panel",
]
