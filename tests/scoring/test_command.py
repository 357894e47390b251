"""Quantities in ``signals.csv``: significant figures, or only float noise dropped at a lot step."""

from __future__ import annotations

import numpy as np
import pandas as pd


def test_csv_quantities_without_a_lot_step():
    from revertible.scoring import QTY_SIG_FIGS, csv_quantities

    rng = np.random.default_rng(0)
    price = np.exp(rng.uniform(np.log(0.01), np.log(60_000.0), 500))
    notional = rng.uniform(10.0, 50_000.0, 500)
    sig = pd.DataFrame({"leg_a_qty": notional / price, "leg_b_qty": -notional / price,
                        "leg_a_notional": notional, "leg_a_price": price})
    out = csv_quantities(sig, 0.0)
    q, q0 = out["leg_a_qty"].to_numpy(), sig["leg_a_qty"].to_numpy()
    assert (np.abs(q) <= np.abs(q0)).all(), "toward zero: never more than sized"
    assert ((q0 - q) / q0 < 10.0 ** (1 - QTY_SIG_FIGS)).all()
    digits = [len(f"{v:.15g}".replace(".", "").replace("-", "").lstrip("0").rstrip("0"))
              for v in q]
    assert max(digits) <= QTY_SIG_FIGS
    np.testing.assert_array_equal(out["leg_b_qty"], -out["leg_a_qty"])
    pd.testing.assert_frame_equal(out.drop(columns=["leg_a_qty", "leg_b_qty"]),
                                  sig.drop(columns=["leg_a_qty", "leg_b_qty"]))
    assert sig["leg_a_qty"].equals(pd.Series(notional / price)), "input untouched"
    zero = csv_quantities(pd.DataFrame({"leg_a_qty": [0.0, np.nan], "leg_b_qty": [0.0, 1.0]}),
                          0.0)
    assert zero["leg_a_qty"].iloc[0] == 0.0 and np.isnan(zero["leg_a_qty"].iloc[1])


def test_csv_quantities_with_a_lot_step_only_drop_float_noise():
    from revertible.scoring import csv_quantities

    q = np.arange(1, 200) * 0.001 * 3  # multiples of the step, with float noise
    out = csv_quantities(pd.DataFrame({"leg_a_qty": q, "leg_b_qty": q}), 0.001)
    assert all(len(repr(v).split(".")[-1]) <= 3 for v in out["leg_a_qty"])
    np.testing.assert_allclose(out["leg_a_qty"], q, rtol=0, atol=1e-12)
