"""The generator's true per-bar moments of a placebo market (``pairs=[]``).

Replays ``generate_market``'s random draws to get each asset's per-bar
log-return drift and conditional variance (known at the bar before: stochastic vol is
independent of the innovation signs).
"""

import math

import numpy as np

from revertible.synthetic._market import _T_DF, _regime
from revertible.synthetic._pairs import _ar1, _t_noise


def _sv(rng, n, k, vol, regime):
    phi_h, sd_h = 0.995, 0.45
    eta = rng.normal(0.0, sd_h * math.sqrt(1 - phi_h**2), size=(n, k))
    eta[0] = rng.normal(0.0, sd_h, size=k)
    h = _ar1(eta, phi_h)
    sig = np.exp(h - sd_h**2) * regime[:, None] * vol[None, :]
    return sig, sig * _t_noise(rng, _T_DF, (n, k))


def true_moments(seed, n, k):
    """Log returns ``(n, k)``, their conditional variance ``(n, k)`` and drift ``(k,)``."""
    rng = np.random.default_rng(seed)
    regime = _regime(rng, n)
    sf, factors = _sv(rng, n, 3, np.array([0.007, 0.004, 0.004]), regime)
    si, idio = _sv(rng, n, k, rng.uniform(0.004, 0.009, k), regime)
    load_m = rng.uniform(0.6, 1.4, k)
    sector = np.arange(k) % 2
    load_s = rng.uniform(0.5, 1.2, k) * np.where(rng.random(k) < 0.3, -1.0, 1.0)
    load_m[k - 1] *= -1.0
    drift = rng.normal(0.0, 2e-5, k)
    sec_f = np.where(sector == 0, factors[:, [1]], factors[:, [2]])
    sec_s = np.where(sector == 0, sf[:, [1]], sf[:, [2]])
    rets = factors[:, [0]] * load_m + sec_f * load_s + idio + drift
    var = (sf[:, [0]] * load_m) ** 2 + (sec_s * load_s) ** 2 + si**2
    return rets, var, drift
