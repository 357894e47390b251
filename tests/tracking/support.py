"""What the tracking tests share: a CLI runner and the trained model's overrides."""

from __future__ import annotations

from conftest import TRAINED_SETS, store_sets
from typer.testing import CliRunner

runner = CliRunner()


def _sets(tmp):
    return [*store_sets(tmp), *TRAINED_SETS]
