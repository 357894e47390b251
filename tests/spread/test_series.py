"""Acceptance test of the labeler against theory.

On simulated Ornstein-Uhlenbeck spreads with known half-lives (6, 12, 24, 48 bars) the measured
reversion rate must match a direct Monte-Carlo of the frozen-parameter rule (docs/design.md) within
sampling error; on a random-walk spread it must be far lower (and match its own Monte-Carlo).

Why the comparison is exact: the data-generating process is Markov in ``(s_t, b_t)`` (the true
spread and leg B). For an episode entered at ``t``, the label depends only on the future path and
on quantities frozen at ``t`` (``beta_t, mean_t, std_t, sign z_t``), so
``p_i = P(label_i = 1 | past)`` is computable by simulating the true process forward from
``(s_t, b_t)``. Episodes do not overlap (the next starts after the previous ended), so
``label_i - p_i`` is a martingale difference sequence and ``mean(label) - mean(p)`` has standard
error ``sqrt(sum p_i (1 - p_i)) / n`` (plus the Monte-Carlo error of the ``p_i``).

The rule itself is also checked directly: the spread against pandas rolling windows written
from the definition, and every episode against a plain-Python reference of the rule.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.signal import lfilter

from revertible.episodes import pair_episodes
from revertible.spread import pair_spread
from revertible.synthetic import ou_phi, simulate_ou_pair, simulate_random_walk_pair

BETA_WINDOW, Z_WINDOW, MIN_OBS_FRAC = 720, 72, 0.9
ENTRY, EXIT, STOP, HORIZON = 2.0, 0.5, 4.0, 48

N_BARS = 60_000
SEED = 2  # one seed for every case: the same b path and shocks (common random numbers)
BETA = 0.8
SIGMA_B = 0.01
SPREAD_STD = 0.01  # stationary std of the OU spreads
RW_SIGMA = 0.003  # per-bar innovation of the random-walk spread
N_PATHS = 400
HALF_LIVES = (6, 12, 24, 48)


def _simulate(case):
    """Log prices and the spread process ``(phi, sigma)`` of one case."""
    if case == "rw":
        a, b = simulate_random_walk_pair(
            N_BARS, beta=BETA, sigma_spread=RW_SIGMA, sigma_b=SIGMA_B, seed=SEED
        )
        return a, b, 1.0, RW_SIGMA
    phi = ou_phi(case)
    sigma = SPREAD_STD * math.sqrt(1 - phi**2)
    a, b = simulate_ou_pair(
        N_BARS, half_life=case, beta=BETA, sigma_spread=sigma, sigma_b=SIGMA_B, seed=SEED
    )
    return a, b, phi, sigma


def _labels(a, b):
    sp = pair_spread(a, b, beta_window=BETA_WINDOW, z_window=Z_WINDOW, min_obs_frac=MIN_OBS_FRAC)
    ep = pair_episodes(a, b, sp, entry=ENTRY, exit=EXIT, stop=STOP, horizon=HORIZON)
    return sp, ep


def monte_carlo_reversion(ep, a, b, phi, sigma, rng, n_paths=N_PATHS, chunk=64):
    """P(revert) per episode by simulating the true process forward from the entry state.

    The true process: ``b`` a random walk with step std ``SIGMA_B``; the spread
    ``s = a - BETA * b`` an AR(1) with coefficient ``phi`` and innovation std ``sigma``
    (``phi = 1``: random walk). The rule uses the episode's frozen beta, mean, std and sign.
    """
    t0 = ep["entry_idx"].to_numpy()
    s0 = (a - BETA * b)[t0]
    b0 = b[t0]
    bh = ep["beta"].to_numpy()
    mh = ep["spread_mean"].to_numpy()
    sh = ep["spread_std"].to_numpy()
    sgn = np.sign(ep["z_entry"].to_numpy())
    p = np.empty(len(t0))
    for i in range(0, len(t0), chunk):
        sl = slice(i, i + chunk)
        m = len(t0[sl])
        shape = (m, n_paths, HORIZON)
        es = rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)
        eb = rng.standard_normal(shape, dtype=np.float32) * np.float32(SIGMA_B)
        zi = np.broadcast_to((phi * s0[sl])[:, None, None], (m, n_paths, 1))
        s = lfilter([1.0], [1.0, -phi], es, axis=-1, zi=zi)[0]  # s_{t+1..t+H}
        bb = b0[sl, None, None] + np.cumsum(eb, axis=-1)
        a_path = BETA * bb + s
        col = (slice(i, i + chunk), None, None)
        zp = sgn[col] * (a_path - bh[col] * bb - mh[col]) / sh[col]
        rev, stp = zp <= EXIT, zp >= STOP
        k_rev = np.where(rev.any(-1), rev.argmax(-1), HORIZON)
        k_stp = np.where(stp.any(-1), stp.argmax(-1), HORIZON)
        p[sl] = (k_rev < k_stp).mean(-1)
    return p


@pytest.fixture(scope="module")
def cases():
    """Measured and Monte-Carlo reversion rates for every half-life and the random walk."""
    rng = np.random.default_rng(20240101)
    out = {}
    for case in (*HALF_LIVES, "rw"):
        a, b, phi, sigma = _simulate(case)
        _, ep = _labels(a, b)
        closed = ep[ep["exit_reason"] != "open"]
        p = monte_carlo_reversion(closed, a, b, phi, sigma, rng)
        n = len(p)
        se = math.sqrt((p * (1 - p)).sum() * (1 + 1 / N_PATHS)) / n
        out[case] = {"measured": float(closed["label"].mean()), "expected": float(p.mean()),
                     "se": se, "n": n}
    return out


# --------------------------------------------------------------------------- the rule itself


def _reference_spread(a, b):
    """docs/design.md's hedge ratio, spread and z-score written with pandas rolling windows."""
    ra, rb = pd.Series(a), pd.Series(b)
    mb = math.ceil(MIN_OBS_FRAC * BETA_WINDOW)
    mz = math.ceil(MIN_OBS_FRAC * Z_WINDOW)
    beta = ra.rolling(BETA_WINDOW, min_periods=mb).cov(rb) / rb.rolling(
        BETA_WINDOW, min_periods=mb
    ).var()
    spread = ra - beta * rb
    # window statistics of a_j - beta_t * b_j under the *current* beta_t (docs/design.md)
    ma = ra.rolling(Z_WINDOW, min_periods=mz).mean()
    mbb = rb.rolling(Z_WINDOW, min_periods=mz).mean()
    va = ra.rolling(Z_WINDOW, min_periods=mz).var(ddof=1)
    vb = rb.rolling(Z_WINDOW, min_periods=mz).var(ddof=1)
    cab = ra.rolling(Z_WINDOW, min_periods=mz).cov(rb, ddof=1)
    mean = ma - beta * mbb
    std = np.sqrt(va - 2 * beta * cab + beta**2 * vb)
    return beta.to_numpy(), spread.to_numpy(), mean.to_numpy(), std.to_numpy(), (
        (spread - mean) / std
    ).to_numpy()


def _reference_episodes(a, b, beta, mean, std, z):
    """The detection and labelling rule of docs/design.md, one bar at a time."""
    n, rows, t = len(a), [], 1
    while t < n:
        if not (np.isfinite(z[t]) and np.isfinite(z[t - 1])
                and abs(z[t]) >= ENTRY and abs(z[t - 1]) < ENTRY):
            t += 1
            continue
        sgn = np.sign(z[t])
        label, reason, end = np.nan, "open", n  # open: no barrier, horizon incomplete
        for k in range(1, HORIZON + 1):
            if t + k >= n:
                break
            zp = sgn * (a[t + k] - beta[t] * b[t + k] - mean[t]) / std[t]
            if zp <= EXIT:
                label, reason, end = 1.0, "revert", t + k
                break
            if zp >= STOP:
                label, reason, end = 0.0, "stop", t + k
                break
        else:
            label, reason, end = 0.0, "timeout", t + HORIZON
        rows.append((t, label, reason, end))
        t = end + 1
    return pd.DataFrame(rows, columns=["entry_idx", "label", "exit_reason", "exit_idx"])


def test_spread_matches_definition():
    a, b, _, _ = _simulate(12)
    a, b = a[:8000], b[:8000]
    sp, _ = _labels(a, b)
    ref = _reference_spread(a, b)
    for name, got, want in zip(("beta", "spread", "mean", "std", "z"), sp, ref, strict=True):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=name)
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9, equal_nan=True,
                                   err_msg=name)


@pytest.mark.parametrize("case", [12, "rw"])
def test_episodes_follow_the_rule(case):
    a, b, _, _ = _simulate(case)
    a, b = a[:20_000], b[:20_000]
    sp, ep = _labels(a, b)
    ref = _reference_episodes(a, b, sp.beta, sp.mean, sp.std, sp.z)
    assert len(ref) > 150
    np.testing.assert_array_equal(ep["entry_idx"], ref["entry_idx"])
    np.testing.assert_array_equal(ep["exit_reason"], ref["exit_reason"])
    np.testing.assert_array_equal(ep["label"], ref["label"])  # NaN == NaN here
    closed = ref["exit_reason"] != "open"
    np.testing.assert_array_equal(ep["exit_idx"][closed], ref["exit_idx"][closed])
    np.testing.assert_array_equal(
        ep["bars_held"][closed], (ref["exit_idx"] - ref["entry_idx"])[closed]
    )
    # the frozen state reported is the state at the entry bar
    t = ep["entry_idx"].to_numpy()
    np.testing.assert_array_equal(ep["beta"], sp.beta[t])
    np.testing.assert_array_equal(ep["spread_mean"], sp.mean[t])
    np.testing.assert_array_equal(ep["spread_std"], sp.std[t])
    np.testing.assert_array_equal(ep["z_entry"], sp.z[t])


# --------------------------------------------------------------------------- against theory


@pytest.mark.slow
@pytest.mark.parametrize("case", [*HALF_LIVES, "rw"])
def test_reversion_rate_matches_monte_carlo(cases, case):
    c = cases[case]
    assert c["n"] >= 600, f"too few episodes for a sharp test: {c['n']}"
    assert abs(c["measured"] - c["expected"]) <= 4 * c["se"], c


@pytest.mark.slow
def test_reversion_rate_falls_with_half_life(cases):
    for short, long in zip(HALF_LIVES, HALF_LIVES[1:], strict=False):
        lo, hi = cases[long], cases[short]
        # both the theory and the labeler agree the slower spread reverts less often
        assert hi["expected"] > lo["expected"] + 0.05, (short, long, hi, lo)
        assert hi["measured"] > lo["measured"] + 0.05, (short, long, hi, lo)


@pytest.mark.slow
def test_random_walk_reverts_far_less(cases):
    rw = cases["rw"]["measured"]
    for hl in (6, 12):
        assert rw <= cases[hl]["measured"] - 0.25, (hl, cases[hl], cases["rw"])


def test_z_score_does_not_depend_on_price_unit():
    a, b, _, _ = _simulate(12)
    a, b = a[:5000], b[:5000]
    sp, _ = _labels(a, b)
    scaled, _ = _labels(a + math.log(1000.0), b + math.log(1000.0))  # prices quoted in milli-units
    ok = np.isfinite(sp.z)
    np.testing.assert_allclose(scaled.z[ok], sp.z[ok], atol=1e-6)
