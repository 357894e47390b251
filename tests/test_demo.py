"""The demo's note on a Sharpe too good to be true measures the planted pairs' share."""

from __future__ import annotations

import pandas as pd


def test_demo_sharpe_note_measures_the_planted_share():
    from revertible.demo import sharpe_note

    cut = pd.Timestamp("2024-06-01", tz="UTC")
    t = pd.DataFrame({
        "strategy": ["model"] * 3 + ["naive_beta"],
        "asset_a": ["AAA/USDT", "CCC/USDT", "BBB/USDT", "AAA/USDT"],
        "asset_b": ["BBB/USDT", "EEE/USDT", "AAA/USDT", "BBB/USDT"],
        "pnl": [100.0, -10.0, 50.0, 7.0], "notional_a": [1000.0] * 4, "notional_b": [1000.0] * 4,
        "fees": [2.0] * 4, "slippage": [0.5] * 4, "borrow": [0.5] * 4,
        "signal_time": [cut + pd.Timedelta(hours=h) for h in (1, 2, 3, 4)],
        "model_cutoff": [cut] * 4,
    })
    truth = pd.DataFrame({"asset_a": ["AAA/USDT"], "asset_b": ["BBB/USDT"], "kind": ["ou"],
                          "half_life_bars": [6.0]})
    note = sharpe_note(t, truth, {"model.sharpe": 6.5})
    flat = " ".join(note.split())
    assert "Sharpe (6.5)" in flat and "2 of its 3 trades" in flat
    assert "earn 150 of its 140 P&L (the other pairs -10)" in flat
    assert "entered after the model's holdout start" in flat
    assert "15.0 bp of its gross notional" in flat
    assert sharpe_note(t.iloc[:0], truth, {"model.sharpe": 6.5}) == ""
    assert sharpe_note(t, truth, {"model.sharpe": 1.4}) == ""  # below the alarm: nothing to say
    early = t.assign(signal_time=cut - pd.Timedelta(hours=1))
    assert "NOT after" in sharpe_note(early, truth, {"model.sharpe": 6.5})
