"""Fixtures of the feature tests."""

from __future__ import annotations

import pytest

from revertible.config import config_from_mapping


@pytest.fixture
def cfg():
    return config_from_mapping({"data": {"path": "."}})
