"""Workflows: one module per command's orchestration, above the library, below the CLI.

A workflow loads what a command needs, runs the library's stages, logs to the tracker and
reports; the pure stages it calls live in the pipeline packages. ``paper`` (the forward-test
ledger: the backtest engine replayed to the last closed bar) and ``train`` are here (it was
``revertible.model.train``): training logs to MLflow, and the tracking layer reads the model, so a
workflow inside ``model`` made a circle.
"""

from __future__ import annotations

from ._ledger_db import Ledger, read_ledger
from ._paper import (
    ENTRY_COLUMNS,
    LEDGER_OPEN_COLUMNS,
    PaperReport,
    check_ledger,
    config_hash,
    decision_config,
    ledger_pnl,
    model_identity,
    paper_command,
    paper_run,
    paper_summary,
    realised_interval,
)
from ._train import train

__all__ = ["train", "paper_run", "paper_command", "paper_summary", "PaperReport",
           "decision_config", "config_hash", "ENTRY_COLUMNS", "read_ledger", "Ledger",
           "check_ledger", "model_identity", "realised_interval", "ledger_pnl",
           "LEDGER_OPEN_COLUMNS"]
