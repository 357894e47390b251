"""True Kelly stakes from an outcome distribution (per unit of gross notional).

The trade's return per unit of gross notional is ``r`` (net of the round trip). Staking ``f``
times capital in gross notional grows capital by ``E[log(1 + f r)]`` a trade. Full Kelly maximises
it; the configured ``kelly_fraction`` of it is what :func:`revertible.decision.size_signals`
stakes (docs/design.md: "the stake at risk is that fraction of the Kelly stake").

* Continuous outcome, first two moments from the calibrated held-out record (the decision's
  lower bound and the bin's realised second moment): the second-order expansion
  ``log(1 + x) ~ x - x^2 / 2`` gives ``E[log(1 + f r)] ~ f mu - f^2 E[r^2] / 2``, maximised at
  ``f* = mu / E[r^2]`` (:func:`kelly_fraction`). It is accurate while ``|f* r|`` stays small on
  the outcomes that carry the probability mass; with fat left tails (negative skew) the true
  optimum is lower, one more reason to stake a fraction of it. Sizing passes the *lower bound*
  of the net mean, not the point estimate, so the stake is zero wherever the evidence does not
  clear costs and shrinks with the uncertainty of the record.
"""

from __future__ import annotations

import numpy as np

__all__ = ["net_moments", "kelly_fraction"]


def net_moments(
    mean: np.ndarray, m2: np.ndarray, cost: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and second moment of ``r - cost`` from those of ``r``.

    ``E[r - c] = mu - c`` and ``E[(r - c)^2] = m2 - 2 c mu + c^2``.

    Examples
    --------
    >>> mu, m2 = net_moments(np.array([0.01]), np.array([0.0005]), 0.002)
    >>> round(float(mu[0]), 6), round(float(m2[0]), 8)
    (0.008, 0.000464)

    """
    mean = np.asarray(mean, dtype=float)
    m2 = np.asarray(m2, dtype=float)
    return mean - cost, m2 - 2.0 * cost * mean + np.square(cost)


def kelly_fraction(mu: np.ndarray, m2: np.ndarray) -> np.ndarray:
    """Full-Kelly gross notional per unit of capital, ``mu / E[r^2]`` (0 unless both > 0).

    Parameters
    ----------
    mu, m2 : numpy.ndarray
        Mean and second moment (about zero, not the variance) of the net return per unit of
        gross notional.

    Returns
    -------
    numpy.ndarray
        ``mu / m2`` where ``mu > 0`` and ``m2 > 0`` (finite), else 0. Second-order
        approximation of ``argmax_f E[log(1 + f r)]``; see the module docstring.

    Examples
    --------
    >>> kelly_fraction(np.array([0.002, -0.001, 0.002]), np.array([0.0004, 0.0004, 0.0])).tolist()
    [5.0, 0.0, 0.0]

    """
    mu = np.asarray(mu, dtype=float)
    m2 = np.asarray(m2, dtype=float)
    ok = np.isfinite(mu) & np.isfinite(m2) & (mu > 0.0) & (m2 > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, mu / np.where(ok, m2, 1.0), 0.0)
