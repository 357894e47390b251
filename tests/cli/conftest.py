"""Fixtures of the CLI tests: the session's small market and a config on it (stores in tmp_path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_cli_config


@pytest.fixture(scope="module")
def market(market_dir) -> Path:
    return market_dir


@pytest.fixture
def cfg_file(tmp_path, market) -> Path:
    return write_cli_config(tmp_path / "c.yaml", market, 10, stores=tmp_path / "store")
