"""Sizing: hand-computed examples, every documented error, and property tests of the limits."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revertible.config import CostConfig, LabelConfig, SizingConfig
from revertible.decision import (
    SIZING_COLUMNS,
    kelly_fraction,
    leg_ratio,
    leg_sides,
    liquidation_price,
    max_safe_leverage,
    round_qty,
    size_signals,
    trade_barriers,
    unit_stakes,
)

PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NUMERIC = [
    "leg_a_notional", "leg_a_qty", "leg_a_price", "leg_b_notional", "leg_b_qty", "leg_b_price",
    "gross_leverage", "take_profit_z", "stop_z", "min_abs_corr", "bet_size", "margin",
    "leg_a_leverage", "leg_b_leverage", "leg_a_liq_price", "leg_b_liq_price",
    "leg_a_notional_if_taken", "leg_a_qty_if_taken", "leg_b_notional_if_taken",
    "leg_b_qty_if_taken", "gross_leverage_if_taken",
]  # fmt: skip
T0 = pd.Timestamp("2024-03-01 12:00", tz="UTC")


def signal(**kw) -> dict:
    """The worked BTC/ETH-like example, decided ``revert``; keywords override."""
    row = dict(
        asset_a="BTC/USDT", asset_b="ETH/USDT", entry_time=T0, z_entry=2.3, beta=0.8,
        spread_std=0.02, direction="revert", expected_return_lower=0.0005, return_m2=0.002,
        price_a=62_000.0, price_b=3_400.0, vol_a=0.006, vol_b=0.008,
    )  # fmt: skip
    row.update(kw)
    return row


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def expected_sides(z: float, beta: float) -> tuple[str, str]:
    # z > 0: sell the spread a - beta*b: short a; b moves against a when beta > 0.
    a = "short" if z > 0 else "long"
    same_side = beta < 0
    b = a if same_side else ("long" if a == "short" else "short")
    return a, b


# --- hand-computed example: z=2.3, beta=0.8, std=0.02, default limits ---
# decision: lower bound 0.0005 (5 bp net), realised second moment 0.002 per unit gross
# full Kelly 0.0005 / 0.002 = 0.25 of capital in gross notional; quarter Kelly 0.0625
# leg A = 0.0625 * 100_000 / (1 + 0.8) = 3_472.22 (under the per-trade cap 0.05 * 100_000 = 5_000)
# leg B = 0.8 * 3_472.22 = 2_777.78; gross 6_250 = 0.0625 x capital
# leverage: leg A's move max((4 - 2.3) * 0.02, 3 * 0.006 * sqrt(48)) * 1.5 = 0.187 log; a short
# survives exp(0.187) = 1.206 up to 1 + 1/L - 0.005 -> L < 4.75: max_gross_leverage 3 binds
# (leg B likewise: 0.249 log, long, L < 4.43 -> 3)
# if taken anyway: the per-trade cap, leg A 5_000, leg B 4_000, gross 0.09 x capital
N_A = 0.0625 * 100_000.0 / 1.8


def test_size_signals_worked_example():
    out = size_signals(frame(signal()), SizingConfig(), CostConfig(), LabelConfig())
    r = out.iloc[0]
    assert N_A == pytest.approx(3_472.22, abs=0.01)
    assert r.reason == ""
    assert r.bet_size == pytest.approx(0.0625)
    assert (r.leg_a_side, r.leg_b_side) == ("short", "long")
    assert r.leg_a_notional == pytest.approx(N_A)
    assert r.leg_b_notional == pytest.approx(0.8 * N_A)
    assert r.leg_a_qty == pytest.approx(N_A / 62_000.0)
    assert r.leg_b_qty == pytest.approx(0.8 * N_A / 3_400.0)
    assert (r.leg_a_price, r.leg_b_price) == (62_000.0, 3_400.0)
    assert r.gross_leverage == pytest.approx(1.8 * N_A / 100_000.0)
    assert r.gross_leverage == pytest.approx(0.0625)
    assert r.leg_a_leverage == 3.0 and r.leg_b_leverage == 3.0
    assert r.margin == pytest.approx(1.8 * N_A / 3.0)
    assert r.leg_a_liq_price == pytest.approx(62_000.0 * (1 + 1 / 3 - 0.005))  # short
    assert r.leg_b_liq_price == pytest.approx(3_400.0 * (1 - 1 / 3 + 0.005))  # long
    assert (r.take_profit_z, r.stop_z, r.min_abs_corr) == (0.5, 4.0, 0.5)
    assert r.time_stop == T0 + pd.Timedelta(hours=48)
    assert set(SIZING_COLUMNS) <= set(out.columns)
    # a Kelly stake below the cap: the legs if taken anyway are at the cap, above the stake
    assert r.direction_if_taken == "revert"
    assert (r.leg_a_side_if_taken, r.leg_b_side_if_taken) == ("short", "long")
    assert r.leg_a_notional_if_taken == pytest.approx(5_000.0)
    assert r.leg_b_notional_if_taken == pytest.approx(4_000.0)
    assert r.leg_a_qty_if_taken == pytest.approx(5_000.0 / 62_000.0)
    assert r.leg_b_qty_if_taken == pytest.approx(4_000.0 / 3_400.0)
    assert r.gross_leverage_if_taken == pytest.approx(0.09)
    assert r.leg_a_notional_if_taken >= r.leg_a_notional
    assert r.leg_b_notional_if_taken >= r.leg_b_notional


def test_stake_above_the_cap_is_cut_to_it_with_a_note():
    # lower 0.004, m2 0.002: full Kelly 2, quarter 0.5 -> leg A 50_000 / 1.8 = 27_778 > 5_000
    out = size_signals(frame(signal(expected_return_lower=0.004)), SizingConfig(), CostConfig(),
                       LabelConfig())  # fmt: skip
    r = out.iloc[0]
    assert r.bet_size == pytest.approx(0.5)  # the stake before the cap is reported
    assert r.leg_a_notional == pytest.approx(5_000.0) and r.leg_b_notional == pytest.approx(4_000.0)
    assert r.reason == "stake capped at sizing.trade_cap_frac 0.05"
    assert r.leg_a_notional_if_taken == pytest.approx(r.leg_a_notional)
    # the cap is a share of the capital passed, and a config key
    out = size_signals(frame(signal(expected_return_lower=0.004)),
                       SizingConfig(trade_cap_frac=0.1), CostConfig(), LabelConfig(),
                       capital=20_000.0)  # fmt: skip
    assert out.leg_a_notional.iloc[0] == pytest.approx(2_000.0)


@pytest.mark.parametrize("best", ["revert", "continue"])
def test_none_row_has_legs_if_taken_at_the_cap_and_no_stake(best):
    """A ``none`` row with usable prices: no recommended stake, the cap-size legs if taken."""
    row = signal(direction="none", expected_return_lower=-0.0012, best_direction=best,
                 decision_reason="no direction clears costs: best lower bound -12.0 bp")
    out = size_signals(frame(row), SizingConfig(), CostConfig(), LabelConfig())
    r = out.iloc[0]
    assert r.leg_a_notional == 0.0 and r.leg_b_notional == 0.0 and r.leg_a_qty == 0.0
    assert r.gross_leverage == 0.0 and r.margin == 0.0
    assert r.reason == "no direction clears costs: best lower bound -12.0 bp"
    assert r.direction_if_taken == best
    sides = expected_sides(2.3, 0.8)
    if best == "continue":
        sides = tuple({"long": "short", "short": "long"}[s] for s in sides)
    assert (r.leg_a_side_if_taken, r.leg_b_side_if_taken) == sides
    # the row's own (zero) legs and exits are that direction's too, never the other one's
    assert (r.leg_a_side, r.leg_b_side) == sides
    barrier = trade_barriers(LabelConfig())[best]
    assert (r.take_profit_z, r.stop_z) == (barrier.take_profit, barrier.stop)
    assert r.time_stop == T0 + pd.Timedelta(hours=barrier.horizon)
    assert r.leg_a_notional_if_taken == pytest.approx(5_000.0)  # 0.05 * 100_000
    assert r.leg_b_notional_if_taken == pytest.approx(4_000.0)  # 0.8 x leg A
    assert r.leg_a_qty_if_taken == pytest.approx(5_000.0 / 62_000.0)
    assert r.leg_b_qty_if_taken == pytest.approx(4_000.0 / 3_400.0)
    assert r.gross_leverage_if_taken == pytest.approx(0.09)
    # equal to the legs of the same row decided `best` with a stake above the cap
    capped = size_signals(frame(signal(direction=best, expected_return_lower=0.01)),
                          SizingConfig(), CostConfig(), LabelConfig()).iloc[0]  # fmt: skip
    assert capped.leg_a_notional == pytest.approx(r.leg_a_notional_if_taken)
    assert capped.leg_b_notional == pytest.approx(r.leg_b_notional_if_taken)
    assert (capped.leg_a_side, capped.leg_b_side) == sides
    # without best_direction a none row is taken as the reversion trade
    plain = size_signals(frame(signal(direction="none", expected_return_lower=-0.0012)),
                         SizingConfig(), CostConfig(), LabelConfig()).iloc[0]  # fmt: skip
    assert plain.direction_if_taken == "revert" and plain.leg_a_notional == 0.0
    assert plain.leg_a_notional_if_taken == pytest.approx(5_000.0)
    assert plain.reason == "no direction clears costs: best lower bound -12 bp"


def test_legs_if_taken_are_alone_in_their_book_and_zero_without_an_outcome():
    # two identical rows both long ETH 4_000 if taken: under a 5_000 net cap per asset the book
    # cuts the second recommended stake, never the legs if taken (each alone in its book)
    sizing = SizingConfig(max_asset_net_exposure=0.05)
    sig = frame(signal(expected_return_lower=0.01), signal(asset_a="SOL/USDT",
                                                          expected_return_lower=0.009))
    out = size_signals(sig, sizing, CostConfig(), LabelConfig())
    assert out.leg_b_notional.sum() == pytest.approx(5_000.0)
    assert "reduced by per-asset net exposure cap on ETH/USDT" in out.reason.iloc[1]
    assert out.leg_b_notional_if_taken.tolist() == pytest.approx([4_000.0, 4_000.0])
    # no calibrated outcome (best_direction none), or unusable prices: nothing if taken either
    none = size_signals(frame(signal(direction="none", expected_return_lower=np.nan,
                                     best_direction="none"),
                              signal(direction="none", best_direction="revert", price_b=0.0)),
                        SizingConfig(), CostConfig(), LabelConfig())  # fmt: skip
    assert (none[["leg_a_notional_if_taken", "leg_b_notional_if_taken",
                  "gross_leverage_if_taken"]].to_numpy() == 0.0).all()  # fmt: skip
    assert (none.leg_a_side_if_taken == "").all()


def test_helpers():
    assert liquidation_price(100.0, "long", 3.0, 0.005) == pytest.approx(67.1666667)
    assert liquidation_price(100.0, "short", 3.0, 0.005) == pytest.approx(132.8333333)
    assert liquidation_price(100.0, "long", 0.5, 0.0) == 0.0  # fully funded long: never
    assert round_qty(1000.0, 3000.0, 0.01) == pytest.approx(0.33)
    assert round_qty(0.3, 1.0, 0.1) == pytest.approx(0.3)  # not 0.2 from 2.9999999999999996
    assert round_qty(1000.0, 3000.0, 0.0) == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("z", "beta", "sides"),
    [
        (2.3, 0.8, ("short", "long")),
        (2.3, -0.8, ("short", "short")),
        (-2.3, 0.8, ("long", "short")),
        (-2.3, -0.8, ("long", "long")),
    ],
)
def test_sides_four_sign_combinations(z, beta, sides):
    assert leg_sides(z, beta) == sides
    out = size_signals(
        frame(signal(z_entry=z, beta=beta)), SizingConfig(), CostConfig(), LabelConfig()
    )
    assert out.leg_a_notional.iloc[0] > 0
    assert (out.leg_a_side.iloc[0], out.leg_b_side.iloc[0]) == sides


@pytest.mark.parametrize(
    ("split", "ratio"), [("beta", 0.8), ("dollar", 1.0), ("vol_parity", 0.006 / 0.008)]
)
def test_split_ratio(split, ratio):
    assert leg_ratio(split, 0.8, 0.006, 0.008) == pytest.approx(ratio)
    out = size_signals(frame(signal()), SizingConfig(split=split), CostConfig(), LabelConfig())
    assert out.leg_b_notional.iloc[0] / out.leg_a_notional.iloc[0] == pytest.approx(ratio)


def test_lower_bound_below_minimum_edge_is_zero_with_reason():
    # lower 5 bp does not clear a 10 bp sizing.min_edge
    out = size_signals(frame(signal()), SizingConfig(min_edge=0.001), CostConfig(), LabelConfig())
    assert out.leg_a_notional.iloc[0] == 0.0
    assert out.reason.iloc[0] == "lower bound not above sizing.min_edge"
    # but it is still sized if taken anyway
    assert out.leg_a_notional_if_taken.iloc[0] == pytest.approx(5_000.0)


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        (dict(expected_return_lower=np.nan), "expected return lower bound is missing"),
        (dict(price_a=0.0), "price_a is not positive"),
        (dict(price_b=-3.0), "price_b is not positive"),
        (dict(spread_std=0.0), "spread_std is not positive"),
        (dict(beta=0.0), "beta is zero or missing"),
        (dict(z_entry=np.nan), "z_entry is zero or missing"),
        (dict(asset_b="BTC/USDT"), "asset_a equals asset_b"),
        (dict(z_entry=4.2), "|z_entry| at or beyond the stop"),
        (dict(z_entry=0.3), "|z_entry| already within take-profit"),
        (dict(expected_return_lower=0.0), "lower bound not above sizing.min_edge"),
        (dict(return_m2=0.0), "return_m2 is not positive"),
    ],
)
def test_unusable_rows_keep_their_row_with_zero_and_reason(kw, reason):
    sig = frame(signal(), signal(**kw))
    out = size_signals(sig, SizingConfig(), CostConfig(), LabelConfig())
    assert len(out) == 2 and out.reason.iloc[1] == reason
    assert out.leg_a_notional.iloc[1] == 0.0 and out.leg_b_notional.iloc[1] == 0.0
    assert out.leg_a_notional.iloc[0] > 0.0 and out.reason.iloc[0] == ""
    assert np.isfinite(out[NUMERIC].to_numpy(dtype=float)).all()


def test_net_exposure_cap_reduces_the_lower_bound_signal():
    sizing = SizingConfig(max_asset_net_exposure=0.025)  # 2,500 USDT net per asset
    # lower 0.0002 / m2 0.002: quarter Kelly 0.025 -> leg A 2_500 / 1.8 = 1_388.9, long ETH 1_111.1
    # lower 0.0003 / m2 0.002: quarter Kelly 0.0375 -> leg A 2_083.3, long ETH 1_666.7; first
    sig = frame(
        signal(asset_a="SOL/USDT", expected_return_lower=0.0002),
        signal(expected_return_lower=0.0003),
    )
    out = size_signals(sig, sizing, CostConfig(), LabelConfig())
    first, second = out.iloc[1], out.iloc[0]
    assert first.reason == "" and first.leg_b_notional == pytest.approx(0.0375e5 * 0.8 / 1.8)
    assert "reduced by per-asset net exposure cap on ETH/USDT" in second.reason
    eth = first.leg_b_notional + second.leg_b_notional  # both long ETH
    assert eth == pytest.approx(2_500.0, rel=1e-6) and eth <= 2_500.0
    assert second.leg_b_notional / second.leg_a_notional == pytest.approx(0.8)


def test_margin_budget_zeroes_a_signal_once_exhausted():
    # trade_cap_frac 1: lower 0.01 / m2 0.002 -> quarter Kelly 1.25 -> gross 125_000 wanted,
    # more than the 30_000 gross (3x of 10% allocated) the book allows
    sizing = SizingConfig(trade_cap_frac=1.0, buffer=0.9, max_asset_net_exposure=10.0)
    sig = frame(signal(expected_return_lower=0.01),
                signal(asset_a="SOL/USDT", asset_b="XRP/USDT"))  # fmt: skip
    out = size_signals(sig, sizing, CostConfig(), LabelConfig())
    assert out.margin.sum() <= 100_000.0 * 0.1
    assert "margin budget" in out.reason.iloc[0] or "gross leverage" in out.reason.iloc[0]
    assert out.leg_a_notional.iloc[1] == 0.0 and "reached" in out.reason.iloc[1]


def test_leverage_lowered_so_stop_precedes_liquidation():
    sizing = SizingConfig(max_gross_leverage=20.0)
    out = size_signals(
        frame(signal(spread_std=0.2, z_entry=2.1)),
        sizing,
        CostConfig(),
        LabelConfig(),
    )
    r = out.iloc[0]
    assert r.leg_a_notional > 0
    assert r.leg_a_leverage < 20.0 and r.leg_b_leverage < 20.0
    assert "leverage lowered" in r.reason
    move = (4.0 - 2.1) * 0.2
    assert 62_000.0 * math.exp(move) < r.leg_a_liq_price  # short A: price rises to the stop
    assert 3_400.0 * math.exp(-move / 0.8) > r.leg_b_liq_price  # long B: price falls


def test_unleverageable_stop_is_refused():
    out = size_signals(
        frame(signal(spread_std=5.0, z_entry=2.1)),
        SizingConfig(),
        CostConfig(),
        LabelConfig(),
    )
    assert out.leg_a_notional.iloc[0] == 0.0
    assert "liquidated before the stop" in out.reason.iloc[0]


def test_rounding_and_min_notional():
    # leg A 3_472.22 / 62_000 = 0.0560 -> 0.05; leg B 2_777.78 / 3_400 = 0.8170 -> 0.81
    out = size_signals(frame(signal()), SizingConfig(qty_step=0.01), CostConfig(), LabelConfig())
    r = out.iloc[0]
    assert r.leg_a_qty == pytest.approx(0.05) and r.leg_b_qty == pytest.approx(0.81)
    assert r.leg_a_notional == pytest.approx(0.05 * 62_000.0)
    out = size_signals(frame(signal()), SizingConfig(qty_step=0.1), CostConfig(), LabelConfig())
    assert out.leg_a_notional.iloc[0] == 0.0 and "rounds to zero" in out.reason.iloc[0]
    # leg B 2_777.78 is below a 3_000 minimum, leg A 3_472.22 is not
    out = size_signals(
        frame(signal()), SizingConfig(min_notional=3_000.0), CostConfig(), LabelConfig()
    )
    assert out.leg_b_notional.iloc[0] == 0.0 and out.reason.iloc[0] == "leg below min_notional"


def test_zero_capital_and_empty_frame():
    out = size_signals(frame(signal()), SizingConfig(), CostConfig(), LabelConfig(), capital=0.0)
    assert out.leg_a_notional.iloc[0] == 0.0 and out.reason.iloc[0] == "no capital"
    assert out.gross_leverage.iloc[0] == 0.0 and out.gross_leverage_if_taken.iloc[0] == 0.0
    empty = size_signals(frame(signal()).iloc[:0], SizingConfig(), CostConfig(), LabelConfig())
    assert len(empty) == 0 and set(SIZING_COLUMNS) <= set(empty.columns)


def test_time_stop_uses_bar_and_horizon():
    out = size_signals(
        frame(signal()),
        SizingConfig(),
        CostConfig(),
        LabelConfig(horizon=12),
        bar=pd.Timedelta(minutes=15),
    )
    assert out.time_stop.iloc[0] == T0 + pd.Timedelta(hours=3)


# --- documented errors ---


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: leg_ratio("beta", 0.0), "`beta != 0 and finite` must hold, but got beta=0.0"),
        (lambda: leg_ratio("vol_parity", 0.8, 0.0, 0.01), "`vol_a > 0 and vol_b > 0` must hold"),
        (lambda: leg_ratio("equal", 0.8), "`split in {'beta', 'vol_parity', 'dollar'}`"),
        (lambda: leg_sides(0.0, 0.8), "`z_entry != 0` must hold, but got z_entry=0.0"),
        (lambda: liquidation_price(0.0, "long", 3.0, 0.005), "`price > 0` must hold"),
        (lambda: liquidation_price(1.0, "flat", 3.0, 0.005), "`side in {'long', 'short'}`"),
        (lambda: liquidation_price(1.0, "long", 0.0, 0.005), "`leverage > 0` must hold"),
        (lambda: max_safe_leverage(-0.1, "long", 0.0, max_leverage=3.0), "`adverse_log_move"),
        (lambda: round_qty(1.0, 1.0, -0.1), "`step >= 0` must hold, but got step=-0.1"),
    ],
)
def test_documented_errors(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert message in str(info.value)


def test_size_signals_errors():
    args = (SizingConfig(), CostConfig(), LabelConfig())
    with pytest.raises(
        ValueError,
        match=r"`direction in \{'revert', 'continue', 'none'\}` must hold, but got "
        r"direction='up'; in row 1",
    ):
        size_signals(frame(signal(), signal(asset_a="SOL/USDT", direction="up")), *args)
    with pytest.raises(ValueError, match=r"`capital >= 0` must hold, but got capital=-1\.0"):
        size_signals(frame(signal()), *args, capital=-1.0)
    with pytest.raises(ValueError, match=r"missing=\['spread_std'\]"):
        size_signals(frame(signal()).drop(columns="spread_std"), *args)
    with pytest.raises(ValueError, match=r"missing=\['return_m2'\].*decide\(\) output"):
        size_signals(frame(signal()).drop(columns="return_m2"), *args)
    with pytest.raises(ValueError, match=r"missing=\['vol_b'\]"):
        size_signals(
            frame(signal()).drop(columns="vol_b"),
            SizingConfig(split="vol_parity"),
            CostConfig(),
            LabelConfig(),
        )
    with pytest.raises(ValueError, match=r"`bar > 0` must hold"):
        size_signals(frame(signal()), *args, bar=pd.Timedelta(0))
    # vols are only needed for the vol_parity split
    out = size_signals(frame(signal()).drop(columns=["vol_a", "vol_b"]), *args)
    assert out.leg_a_notional.iloc[0] > 0


# --- property tests ---

ASSETS = ["AAA", "BBB", "CCC", "DDD"]
finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def configs(draw):
    sizing = SizingConfig(
        capital=100_000.0,
        buffer=draw(st.floats(0.0, 0.95)),
        max_gross_leverage=draw(st.floats(0.2, 25.0)),
        kelly_fraction=draw(st.floats(0.05, 1.0)),
        min_edge=draw(st.sampled_from([0.0, 0.0, 0.0005, 0.003])),
        trade_cap_frac=draw(st.sampled_from([0.01, 0.05, 0.2, 1.0])),
        split=draw(st.sampled_from(["beta", "vol_parity", "dollar"])),
        max_asset_net_exposure=draw(st.floats(0.005, 3.0)),
        min_notional=draw(st.sampled_from([0.0, 10.0, 500.0])),
        qty_step=draw(st.sampled_from([0.0, 0.0, 0.001, 0.1, 1.0])),
        maintenance_margin_rate=draw(st.floats(0.0, 0.2)),
    )
    costs = CostConfig(taker_fee=draw(st.floats(0.0, 0.005)), slippage_bps=draw(st.floats(0, 20)))
    entry = draw(st.floats(0.5, 3.0))
    exit_ = entry - draw(st.floats(0.1, 2.5))
    label = LabelConfig(exit=exit_, entry=entry, stop=entry + draw(st.floats(0.1, 4.0)))
    capital = draw(st.floats(100.0, 1e8))
    return sizing, costs, label, capital


def usually(typical, rare):
    """Draw from ``typical`` four times in five, else from ``rare`` (edge cases stay covered)."""
    return st.sampled_from(range(5)).flatmap(lambda i: rare if i == 0 else typical)


LOWER = usually(st.floats(-0.005, 0.02),
                st.sampled_from([0.0, -0.0, 1e-12, math.nan, -math.inf, 0.5]))  # fmt: skip


@st.composite
def rows(draw):
    a, b = draw(st.lists(st.sampled_from(ASSETS), min_size=2, max_size=2, unique=True))
    lower = draw(LOWER)
    return dict(
        asset_a=a,
        asset_b=b,
        entry_time=T0,
        z_entry=draw(st.sampled_from([-1.0, 1.0]))
        * draw(usually(st.floats(1.5, 3.5), st.floats(0.05, 8.0))),
        beta=draw(st.sampled_from([-1.0, 1.0])) * draw(st.floats(0.02, 3.0)),
        spread_std=draw(usually(st.floats(0.005, 0.1), st.floats(1e-4, 0.8))),
        # decide() takes a direction only above min_edge >= 0; sizing must gate on its own
        direction=draw(usually(st.just("revert"), st.just("none"))),
        expected_return_lower=lower,
        return_m2=draw(usually(st.floats(1e-5, 0.01), st.sampled_from([0.0, math.nan, 1.0]))),
        price_a=draw(st.floats(1e-3, 1e5)),
        price_b=draw(st.floats(1e-3, 1e5)),
        vol_a=draw(st.floats(1e-3, 0.3)),
        vol_b=draw(st.floats(1e-3, 0.3)),
    )


def check_book(out: pd.DataFrame, sizing: SizingConfig, label: LabelConfig, capital: float):
    values = out[NUMERIC].to_numpy(dtype=float)
    assert np.isfinite(values).all()
    traded = out.leg_a_notional > 0
    assert ((out.leg_b_notional > 0) == traded).all()  # both legs or neither
    assert (out.reason[~traded] != "").all()  # every zero says why
    assert (out.bet_size[traded] > 0).all() and (out.bet_size >= 0).all()
    # the stake is the per-trade cap at most, and only for a decided direction
    assert (out.leg_a_notional <= sizing.trade_cap_frac * capital * (1 + 1e-9)).all()
    assert (out.leg_a_notional_if_taken <= sizing.trade_cap_frac * capital * (1 + 1e-9)).all()
    assert (out.direction[traded] == "revert").all()
    eps = 1e-9
    alloc = capital * (1.0 - sizing.buffer)
    gross = (out.leg_a_notional + out.leg_b_notional).sum()
    assert gross <= sizing.max_gross_leverage * alloc * (1 + eps)
    assert out.gross_leverage.sum() <= sizing.max_gross_leverage * (1 - sizing.buffer) * (1 + eps)
    assert out.margin.sum() <= alloc * (1 + eps)  # the buffer is never allocated
    net: dict[str, float] = {}
    for r in out[traded].itertuples():
        for asset, side, notional in [
            (r.asset_a, r.leg_a_side, r.leg_a_notional),
            (r.asset_b, r.leg_b_side, r.leg_b_notional),
        ]:
            net[asset] = net.get(asset, 0.0) + (notional if side == "long" else -notional)
    for value in net.values():
        assert abs(value) <= sizing.max_asset_net_exposure * capital * (1 + eps)
    mmr = sizing.maintenance_margin_rate
    for r in out[traded].itertuples():
        assert min(r.leg_a_notional, r.leg_b_notional) >= sizing.min_notional
        assert (r.leg_a_side, r.leg_b_side) == expected_sides(r.z_entry, r.beta)
        move = (label.stop - abs(r.z_entry)) * r.spread_std  # leg alone carries the spread
        for side, price, lev, liq, leg_move in [
            (r.leg_a_side, r.price_a, r.leg_a_leverage, r.leg_a_liq_price, move),
            (r.leg_b_side, r.price_b, r.leg_b_leverage, r.leg_b_liq_price, move / abs(r.beta)),
        ]:
            assert 0 < lev <= sizing.max_gross_leverage
            assert liq == pytest.approx(liquidation_price(price, side, lev, mmr))
            if side == "long":
                assert price * math.exp(-leg_move) > liq  # stop hit before liquidation
            else:
                assert price * math.exp(leg_move) < liq
        assert r.expected_return_lower > sizing.min_edge
        want = sizing.kelly_fraction * kelly_fraction(np.array([r.expected_return_lower]),
                                                      np.array([r.return_m2]))[0]  # fmt: skip
        assert r.bet_size == pytest.approx(want)


@pytest.mark.slow
@PROPS
@given(configs(), st.lists(rows(), min_size=1, max_size=6))
def test_book_limits_finite_sides_and_liquidation(cfg, sigs):
    sizing, costs, label, capital = cfg
    out = size_signals(frame(*sigs), sizing, costs, label, capital=capital)
    assert len(out) == len(sigs)
    check_book(out, sizing, label, capital)


@PROPS
@given(configs(), st.lists(rows(), min_size=1, max_size=6))
def test_no_stake_at_or_below_zero_lower_bound_and_never_above_the_cap(cfg, sigs):
    """Acceptance: a decision whose lower bound is <= 0 gets no stake, and no stake (nor the
    legs if taken) exceeds the per-trade cap, in the book and per unit of capital."""
    sizing, costs, label, capital = cfg
    sizing = sizing.model_copy(update={"min_edge": 0.0})
    sig = frame(*sigs)
    out = size_signals(sig, sizing, costs, label, capital=capital)
    units = unit_stakes(sig, sizing, costs, label)
    lower = sig["expected_return_lower"].to_numpy(dtype=float)
    not_positive = ~(lower > 0.0)  # NaN included
    assert (out.leg_a_notional[not_positive] == 0.0).all()
    assert (out.leg_b_notional[not_positive] == 0.0).all()
    assert (units.frac_a[not_positive] == 0.0).all() and (units.frac_b[not_positive] == 0.0).all()
    assert (out.bet_size[not_positive] == 0.0).all()
    cap = sizing.trade_cap_frac * capital * (1 + 1e-9)
    assert (out.leg_a_notional <= cap).all() and (out.leg_a_notional_if_taken <= cap).all()
    assert (units.frac_a <= sizing.trade_cap_frac * (1 + 1e-9)).all()


@pytest.mark.slow
@PROPS
@given(configs(), rows(), st.floats(-0.01, 0.05), st.floats(-0.01, 0.05))
def test_size_non_decreasing_in_the_lower_bound(cfg, row, l1, l2):
    sizing, costs, label, capital = cfg
    lo, hi = sorted((l1, l2))
    row = {**row, "direction": "revert"}
    low = size_signals(frame({**row, "expected_return_lower": lo}), sizing, costs, label,
                       capital=capital)  # fmt: skip
    high = size_signals(frame({**row, "expected_return_lower": hi}), sizing, costs, label,
                        capital=capital)  # fmt: skip
    for col in ("bet_size", "leg_a_notional", "leg_b_notional", "leg_a_qty", "leg_b_qty"):
        assert high[col].iloc[0] >= low[col].iloc[0]


@pytest.mark.slow
@PROPS
@given(configs(), st.lists(rows(), min_size=1, max_size=4))
def test_leg_ratio_follows_split_when_not_rounded(cfg, sigs):
    sizing, costs, label, capital = cfg
    sizing = sizing.model_copy(update={"qty_step": 0.0, "min_notional": 0.0})
    out = size_signals(frame(*sigs), sizing, costs, label, capital=capital)
    traded = out[out.leg_a_notional > 0]
    for r in traded.itertuples():
        want = {"beta": abs(r.beta), "dollar": 1.0, "vol_parity": r.vol_a / r.vol_b}[sizing.split]
        assert r.leg_b_notional / r.leg_a_notional == pytest.approx(want, rel=1e-9)
    assert np.isfinite(out[NUMERIC].to_numpy(dtype=float)).all()


@PROPS
@given(configs(), rows())
def test_zero_below_minimum_edge(cfg, row):
    """No stake where the lower bound is at or below sizing.min_edge; when steps 1-2 pass
    (the same row with a large lower bound gets a stake) that is the reason given."""
    sizing, costs, label, capital = cfg
    row = {**row, "direction": "revert"}
    out = size_signals(frame(row), sizing, costs, label, capital=capital)
    r = out.iloc[0]
    if not r.expected_return_lower > sizing.min_edge:
        assert r.leg_a_notional == 0.0 and r.bet_size == 0.0
        big = size_signals(frame({**row, "expected_return_lower": 1.0}), sizing, costs, label,
                           capital=capital).iloc[0]  # fmt: skip
        if big.bet_size > 0 and not math.isnan(r.expected_return_lower):
            assert r.reason == "lower bound not above sizing.min_edge"
    elif r.leg_a_notional > 0:  # above the edge and traded: the fractional Kelly stake
        want = sizing.kelly_fraction * r.expected_return_lower / r.return_m2
        assert r.bet_size == pytest.approx(want)


# --- book-risk cap (baskets.max_book_risk): hand calculation for one BTC/ETH trade ---
# daily vols 2% (BTC), 3% (ETH), correlation 0.8; the trade is short 1 BTC-notional, long 0.8
# ETH-notional per unit of leg-A notional: variance per unit under
#   trailing: 0.02^2 + 0.64 * 0.03^2 - 2 * 0.8 * 0.8 * 0.02 * 0.03 = 0.000208
#   all 0.95: 0.000976 - 2 * 0.8 * 0.95 * 0.0006 = 0.000064
#   all 0   : 0.000976  (the worst: the legs decouple)
# cap 0.001 of 100,000 at 3 sigma: daily sd <= 33.33 -> leg A <= 33.33 / sqrt(0.000976)
# (the worked example wants leg A 3,472.2: the cap binds)


def _cov_btc_eth() -> pd.DataFrame:
    sd = np.array([0.02, 0.03])
    c = np.array([[1.0, 0.8], [0.8, 1.0]])
    idx = ["BTC/USDT", "ETH/USDT"]
    return pd.DataFrame(c * np.outer(sd, sd), index=idx, columns=idx)


def test_book_risk_cap_cuts_the_trade_by_the_expected_factor():
    from revertible.config import BasketsConfig

    sizing = SizingConfig(qty_step=0.0, min_notional=0.0)
    sig = frame(signal())
    free = size_signals(sig, sizing, CostConfig(), LabelConfig()).iloc[0]
    risk = BasketsConfig(max_book_risk=0.001)
    out = size_signals(sig, sizing, CostConfig(), LabelConfig(), cov=_cov_btc_eth(),
                       risk=risk).iloc[0]  # fmt: skip
    expected_a = 0.001 * 100_000.0 / 3.0 / math.sqrt(0.000976)  # 1,066.9
    assert free.leg_a_notional > 1.5 * expected_a  # the cap binds
    assert out.leg_a_notional == pytest.approx(expected_a, rel=1e-6)
    assert out.leg_a_notional / free.leg_a_notional == pytest.approx(
        expected_a / free.leg_a_notional, rel=1e-6)
    assert out.leg_b_notional / out.leg_a_notional == pytest.approx(0.8)
    assert "reduced by book risk cap (baskets.max_book_risk)" in out.reason
    # a huge cap, no cap, and no covariance all size exactly as without the risk cap
    for kw in ({"cov": _cov_btc_eth(), "risk": BasketsConfig(max_book_risk=1e6)},
               {"cov": _cov_btc_eth(), "risk": BasketsConfig()}, {"risk": risk}):
        same = size_signals(sig, sizing, CostConfig(), LabelConfig(), **kw).iloc[0]
        assert same.leg_a_notional == free.leg_a_notional and same.reason == free.reason


def test_book_risk_cap_counts_the_open_book_and_unknown_risk():
    from revertible.config import BasketsConfig

    sizing = SizingConfig(qty_step=0.0, min_notional=0.0)
    risk = BasketsConfig(max_book_risk=0.001)
    # the second, identical trade finds the room used: nothing left, reason says why
    sig = frame(signal(expected_return_lower=0.0005), signal(expected_return_lower=0.0004))
    out = size_signals(sig, sizing, CostConfig(), LabelConfig(), cov=_cov_btc_eth(), risk=risk)
    assert out.leg_a_notional.iloc[1] == 0.0
    assert out.reason.iloc[1] == "book risk cap (baskets.max_book_risk) reached"
    # an asset without a covariance cannot pass the cap
    out = size_signals(frame(signal(asset_b="SOL/USDT")), sizing, CostConfig(), LabelConfig(),
                       cov=_cov_btc_eth(), risk=risk)  # fmt: skip
    assert out.leg_a_notional.iloc[0] == 0.0 and "book risk cap" in out.reason.iloc[0]
