"""True Kelly stakes from an outcome distribution (per unit of gross notional).

The trade's return per unit of gross notional is ``r`` (net of the round trip). Staking ``f``
times capital in gross notional grows capital by ``E[log(1 + f r)]`` a trade. Full Kelly maximises
it; the configured ``kelly_fraction`` of it is what :func:`revertible.decision.size_signals`
stakes (docs/design.md: "the stake at risk is that fraction of the Kelly stake").

* Continuous outcome, known first two moments (the return heads): the second-order expansion
  ``log(1 + x) ~ x - x^2 / 2`` gives ``E[log(1 + f r)] ~ f mu - f^2 E[r^2] / 2``, maximised at
  ``f* = mu / E[r^2]`` (:func:`kelly_fraction`). It is accurate while ``|f* r|`` stays small on
  the outcomes that carry the probability mass; with fat left tails (negative skew) the true
  optimum is lower, one more reason to stake a fraction of it.
* Binary outcome (a barrier payoff: win ``W`` with probability ``p``, else lose ``L``): the exact
  optimum ``f* = p / L - (1 - p) / W`` (:func:`binary_kelly`). Use empirical ``W`` and ``L``
  (:func:`empirical_payoff`: the realised returns of won and lost trades, overshoot included),
  not the barrier distances: stops checked on closes overshoot, so barrier losses understate.
"""

from __future__ import annotations

import numpy as np

__all__ = ["net_moments", "kelly_fraction", "binary_kelly", "empirical_payoff"]


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


def binary_kelly(p: np.ndarray, win: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Exact full Kelly of a bet winning ``win`` w.p. ``p``, else losing ``loss`` (per unit).

    ``f* = p / loss - (1 - p) / win``, floored at 0; 0 where ``win <= 0``, ``loss <= 0`` or an
    input is missing.

    Examples
    --------
    >>> binary_kelly(np.array([0.6]), np.array([0.02]), np.array([0.02])).round(6).tolist()
    [10.0]

    """
    p = np.asarray(p, dtype=float)
    win = np.asarray(win, dtype=float)
    loss = np.asarray(loss, dtype=float)
    ok = np.isfinite(p) & np.isfinite(win) & np.isfinite(loss) & (win > 0.0) & (loss > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = p / np.where(ok, loss, 1.0) - (1.0 - p) / np.where(ok, win, 1.0)
    return np.where(ok, np.maximum(f, 0.0), 0.0)


def empirical_payoff(returns: np.ndarray, won: np.ndarray) -> tuple[float, float]:
    """Mean realised win and loss sizes (gross, per unit of gross notional) of past trades.

    ``win = mean(returns | won)`` and ``loss = -mean(returns | not won)``: for the reversion
    trade, pass the training table's ``revert_return`` and ``label == 1``. Realised returns
    include the overshoot of barriers checked on closes (and the time stops), which the barrier
    distances leave out. NaN returns (open episodes) are ignored.

    Raises
    ------
    ValueError
        If no won or no lost trade has a return.

    Examples
    --------
    >>> empirical_payoff(np.array([0.02, 0.03, -0.025, np.nan]), np.array([1, 1, 0, 0]))
    (0.025, 0.025)

    """
    r = np.asarray(returns, dtype=float)
    w = np.asarray(won).astype(bool)
    ok = np.isfinite(r)
    if not (ok & w).any() or not (ok & ~w).any():
        raise ValueError(
            "`at least one won and one lost trade with a return` must hold, but got "
            f"(won={int((ok & w).sum())}, lost={int((ok & ~w).sum())}); pass labelled episodes"
        )
    return float(r[ok & w].mean()), float(-r[ok & ~w].mean())
