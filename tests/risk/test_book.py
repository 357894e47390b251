"""Book risk by hand: the k-sigma loss, the cap and its scale, the trailing covariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.baskets import (
    book_risk,
    cap_scale,
    stress_covariance,
    trailing_covariance,
    within_book_cap,
)


def _cov3():
    idx = ["A", "B", "C"]
    sd = np.array([0.01, 0.02, 0.03])
    c = np.array([[1, .5, .2], [.5, 1, .4], [.2, .4, 1.]])
    return pd.DataFrame(c * np.outer(sd, sd), index=idx, columns=idx)


def test_book_risk_by_hand_three_assets():
    cov = _cov3()
    # dollar vols y = x * sd = 1, 2, -1.5
    r = book_risk({"A": 100.0, "B": 100.0, "C": -50.0}, cov)
    assert r["book_var"] == pytest.approx(1 + 4 + 2.25 + 2 * (1 * 2 * .5 - 1.5 * .2 - 3 * .4))
    assert r["stress_var"] == pytest.approx(7.25 + 2 * .95 * (2 - 1.5 - 3))
    assert r["book_sd"] == pytest.approx(2.5) and r["stress_sd"] == pytest.approx(np.sqrt(2.5))
    assert r["decorr_var"] == pytest.approx(7.25)  # legs decoupled: sum of (x_i sd_i)^2
    # an all-long book is riskier under the stress, a hedged one less
    long = book_risk({"A": 100.0, "B": 100.0, "C": 50.0}, cov)
    assert long["stress_var"] > long["book_var"]
    assert book_risk({}, cov)["book_var"] == 0.0
    s95 = stress_covariance(cov)
    np.testing.assert_allclose(np.diag(s95), np.diag(cov.to_numpy()))
    assert s95[0, 1] == pytest.approx(0.95 * 0.01 * 0.02)


def test_book_cap_and_scale():
    cov = _cov3()
    book = {"A": 100.0}
    trade = {"B": 100.0, "C": 100.0}
    assert within_book_cap(book_risk(book, cov), capital=1000.0, cap=None)
    assert not within_book_cap(book_risk({"A": 1e6}, cov), capital=1000.0, cap=0.01)
    s = cap_scale(book, trade, cov, capital=1000.0, cap=0.005)  # stressed sd <= 5
    after = book_risk({"A": 100.0, "B": 100.0 * s, "C": 100.0 * s}, cov)
    assert 0 < s < 1 and after["stress_sd"] == pytest.approx(5.0)
    assert cap_scale(book, trade, cov, 1000.0, None) == 1.0
    assert cap_scale({"A": 1e6}, trade, cov, 1000.0, 0.005) == 0.0


def test_trailing_covariance_matches_numpy(clusters):
    panel, _ = clusters
    t = panel.n_bars - 1
    cov = trailing_covariance(panel, t, 30)
    r = np.diff(np.log(panel.close), axis=0)[-720:]
    np.testing.assert_allclose(cov.to_numpy(), np.cov(r.T) * 24, rtol=1e-8)
