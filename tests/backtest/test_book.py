"""The replay's book is live sizing's book: at the caps, the first booking of a bar agrees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.backtest import unit_sizes
from revertible.backtest._book import Market, simulate
from revertible.backtest._signals import PATH_COLUMNS
from revertible.config import config_from_mapping
from revertible.data import Panel
from revertible.decision import Exit, book_caps, size_signals, trade_barriers

T0 = 20  # the bar of every signal
NAMES = tuple(f"{c * 3}/USDT" for c in "ABCDEFGH")


def _panel(n_bars: int = 60) -> Panel:
    rng = np.random.default_rng(7)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, (n_bars, len(NAMES))), axis=0))
    opn = np.vstack([close[:1], close[:-1]])
    vol = np.full(close.shape, 1e6)
    f = np.asfortranarray
    return Panel(
        times=pd.date_range("2024-01-01", periods=n_bars, freq="h", tz="UTC"), assets=NAMES,
        open=f(opn), high=f(np.fmax(opn, close)), low=f(np.fmin(opn, close)), close=f(close),
        volume=f(vol), quote_volume=f(vol * close), funding=None, source="test",
    )  # fmt: skip


def _signals(panel: Panel) -> pd.DataFrame:
    """One bar's decided signals, in priority order (descending lower bound).

    Leg A 25_000 wanted each (the per-trade cap), beta 1: (1) AAA/BBB books in full; (2)
    AAA/CCC shorts AAA again: cut by AAA's net cap; (3) DDD/AAA would short more AAA: the
    net cap leaves no room; (4) DDD/EEE books in full; (5) FFF/GGG is cut by the gross and margin
    caps (they tie at leverage 2); (6)-(7) the book holds its four positions.
    """
    pairs = [("AAA", "BBB", 2.5), ("AAA", "CCC", 2.5), ("DDD", "AAA", -2.5),
             ("DDD", "EEE", 2.5), ("FFF", "GGG", 2.5), ("GGG", "HHH", 2.5),
             ("BBB", "HHH", 2.5)]  # fmt: skip
    pos = {a: i for i, a in enumerate(panel.assets)}
    rows = []
    for k, (a, b, z) in enumerate(pairs):
        ia, ib = pos[f"{a}/USDT"], pos[f"{b}/USDT"]
        row = {
            "asset_a": f"{a}/USDT", "asset_b": f"{b}/USDT", "entry_time": panel.times[T0],
            "t": T0, "ia": ia, "ib": ib, "z_entry": z + 0.01 * k * np.sign(z), "beta": 1.0,
            "spread_mean": 0.0, "spread_std": 0.01, "direction": "revert",
            "expected_return_lower": 0.01 - 1e-4 * k, "return_m2": 0.002,
            "price_a": panel.close[T0, ia], "price_b": panel.close[T0, ib],
            "probability": 0.9, "label": 1.0,
            "entry_bar": T0 + 1, "exit_signal_bar": T0 + 5, "exit_bar": T0 + 6,
            "path_reason": int(Exit.TAKE_PROFIT), "at_close": False,
            "open_a": panel.open[T0 + 1, ia], "open_b": panel.open[T0 + 1, ib],
            "exit_px_a": panel.open[T0 + 6, ia], "exit_px_b": panel.open[T0 + 6, ib],
        }  # fmt: skip
        row.update({f"c_{c}": row[c] for c in PATH_COLUMNS})
        rows.append(row)
    return pd.DataFrame(rows)


def test_live_sizing_and_the_replays_first_booking_agree_at_the_caps():
    panel = _panel()
    cfg = config_from_mapping({
        "data": {"path": "."}, "universe": {"min_history_days": 0, "min_quote_volume": 0},
        "sizing": {"capital": 100_000.0, "trade_cap_frac": 0.25, "max_gross_leverage": 2.0,
                   "buffer": 0.25, "max_asset_net_exposure": 0.3, "qty_step": 0.001,
                   "min_notional": 10.0},
        "backtest": {"max_concurrent": 4},
    })  # fmt: skip
    sz = cfg.sizing
    sig = _signals(panel)
    n = len(sig)
    cont_barriers = trade_barriers(cfg.label, cfg.continue_)["continue"]
    live = size_signals(sig, sz, cfg.costs, cfg.label, capital=sz.capital,
                        continuation=cont_barriers, max_positions=cfg.backtest.max_concurrent)
    run = simulate("book", 1.0, sig, np.ones(n, bool), np.zeros(n, bool),
                   unit_sizes(sig, cfg, cfg.costs), True, np.ones(n), np.arange(n),
                   Market.of(panel, cfg.costs), cfg, cfg.costs)  # fmt: skip

    # the book is at every cap: AAA's net, gross and margin, the position count
    caps = book_caps(sz, sz.capital, cfg.backtest.max_concurrent)
    booked = live[live["leg_a_notional"] > 0.0]
    assert len(booked) == caps.positions == 4
    gross = (booked["leg_a_notional"] + booked["leg_b_notional"]).sum()
    assert gross == pytest.approx(caps.gross, rel=1e-5) and gross <= caps.gross
    assert booked["margin"].sum() == pytest.approx(caps.margin, rel=1e-5)
    aaa = booked.loc[booked["asset_a"] == "AAA/USDT", "leg_a_notional"].sum()
    assert aaa == pytest.approx(caps.net, rel=1e-5) and aaa <= caps.net
    reason = live["reason"].tolist()
    assert "reduced by per-asset net exposure cap on AAA/USDT" in reason[1]
    # no room left on AAA (what the rounding left of it rounds to zero)
    assert live["leg_a_notional"].iloc[2] == 0.0
    assert "per-asset net exposure cap on AAA/USDT" in reason[2]
    assert "reduced by gross leverage cap" in reason[4] or "reduced by margin" in reason[4]
    assert all(r.startswith("max concurrent positions reached") for r in reason[5:])
    assert run.skipped["caps"] + run.skipped["min_notional"] == 1
    assert run.skipped["max_concurrent"] == 2

    # the replay booked the same rows, in the same order, with the same legs
    tr = run.trades
    assert list(zip(tr["asset_a"], tr["asset_b"], strict=True)) == list(
        zip(booked["asset_a"], booked["asset_b"], strict=True))
    for leg in ("a", "b"):
        np.testing.assert_allclose(tr[f"qty_{leg}"], booked[f"leg_{leg}_qty"], rtol=1e-9,
                                   atol=0.0)  # fmt: skip
        np.testing.assert_allclose(tr[f"qty_{leg}"] * booked[f"price_{leg}"].to_numpy(),
                                   booked[f"leg_{leg}_notional"], rtol=1e-9, atol=0.0)
    assert (tr["side_a"].to_numpy() == booked["leg_a_side"].to_numpy()).all()
    assert (tr["side_b"].to_numpy() == booked["leg_b_side"].to_numpy()).all()
    np.testing.assert_allclose(tr["equity_at_entry"], sz.capital, rtol=0.0)
