"""Fixtures of the basket tests: a config, the planted clusters' basket table, the real panel."""

from __future__ import annotations

import pytest

from revertible.baskets import (
    basket_table,
)
from revertible.config import config_from_mapping


@pytest.fixture(scope="module")
def cfg():
    return config_from_mapping({"data": {"path": "."}})


@pytest.fixture(scope="module")
def table(clusters, cfg):
    return basket_table(clusters[0], cfg)


@pytest.fixture(scope="session")
def real(spot_dir):
    from revertible.data import load_panel

    c = config_from_mapping({"data": {"path": str(spot_dir)}})
    return load_panel(c.data), c
