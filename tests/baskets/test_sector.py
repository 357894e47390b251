"""One sector's pairs with their funding differentials on the real data."""

from __future__ import annotations

import numpy as np

from revertible.baskets import (
    sector_pairs,
)
from revertible.config import config_from_mapping


def test_sector_pairs_with_funding(real, futures_dir, spot_dir):
    from revertible.data import load_panel

    c = config_from_mapping({"data": {"path": str(spot_dir), "funding_path": str(futures_dir),
                                      "assets": ["BTC/USDT", "ETH/USDT", "SOL/USDT",
                                                 "AVAX/USDT"]}})
    panel = load_panel(c.data)
    df = sector_pairs(panel, c, "l1", "2024-06-01")
    assert len(df) == 6
    with_f = df.dropna(subset=["funding_diff"])
    # BTC, ETH, SOL have perpetuals in the shared data; AVAX does not
    assert set(with_f["asset_a"]) | set(with_f["asset_b"]) == {"BTC/USDT", "ETH/USDT",
                                                                "SOL/USDT"}
    np.testing.assert_allclose(with_f["funding_diff"], with_f["funding_a"] - with_f["funding_b"])
    assert df["corr_30d"].between(0.3, 1.0).all()
