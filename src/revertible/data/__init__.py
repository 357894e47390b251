"""Market data: discover, read and validate price files; align them on one UTC bar grid.

Modules: ``_discover`` (file names, bar sizes), ``_read`` (one file), ``_validate`` (row rules,
summary, staleness), ``_align`` (the panel, the module docstring lists every rule) and
``_funding`` (funding events on the bar grid).
"""

from __future__ import annotations

from ._align import load_panel
from ._discover import discover_files, parse_timeframe
from ._panel import Panel
from ._read import read_bars
from ._resample import resample_panel
from ._validate import stale_assets, summarize

__all__ = [
    "load_panel",
    "discover_files",
    "read_bars",
    "summarize",
    "stale_assets",
    "parse_timeframe",
    "Panel",
    "resample_panel",
]
