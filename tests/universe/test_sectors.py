"""The sector map: default and user sectors."""

from __future__ import annotations

import pytest

from revertible.errors import ConfigError
from revertible.universe import DEFAULT_SECTORS, sector_assets, sector_map


def test_sector_map_default_and_user():
    assert sector_map(["FET/USDT", "XYZ/USDT"]) == {"FET/USDT": "ai"}
    assert DEFAULT_SECTORS["PEPE/USDT"] == "memecoins"
    with pytest.raises(ConfigError, match=r"not in the data: NOPE/USDT"):
        sector_map(["BTC/USDT"], {"BTC/USDT": "l1", "NOPE/USDT": "l1"})
    with pytest.raises(ConfigError, match="known sectors: l1"):
        sector_assets({"BTC/USDT": "l1"}, "ai")
