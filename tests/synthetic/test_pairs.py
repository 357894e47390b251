"""Minimal simulated pairs: an OU spread with a known half-life, a random walk."""

from __future__ import annotations

import math

import numpy as np

from revertible.synthetic import (
    ou_phi,
    simulate_ou_pair,
    simulate_random_walk_pair,
)

from .support import _ar1, _half_life


def test_simulate_ou_pair():
    a, b = simulate_ou_pair(40_000, half_life=24, beta=-0.6, sigma_spread=0.002, sigma_b=0.01,
                            seed=5, intercept=1.5)
    a2, b2 = simulate_ou_pair(40_000, half_life=24, beta=-0.6, sigma_spread=0.002, sigma_b=0.01,
                              seed=5, intercept=1.5)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    s = a + 0.6 * b - 1.5
    phi_hat, n = _ar1(s)
    phi = ou_phi(24)
    assert abs(phi_hat - phi) <= 4 * math.sqrt((1 - phi**2) / n) + 5.0 / n
    np.testing.assert_allclose(np.std(np.diff(b)), 0.01, rtol=0.03)
    resid = s[1:] - phi * s[:-1]
    np.testing.assert_allclose(resid.std(), 0.002, rtol=0.03)


def test_simulate_random_walk_pair():
    a, b = simulate_random_walk_pair(40_000, beta=0.7, sigma_spread=0.003, seed=2)
    s = a - 0.7 * b
    np.testing.assert_allclose(np.diff(s).std(), 0.003, rtol=0.03)
    phi_hat, _ = _ar1(s)
    assert _half_life(phi_hat) > 1000
