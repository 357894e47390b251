"""The decision: revert, continue or no trade, only where the held-out evidence clears costs.

Per divergence the model's return calibrator (:class:`revertible.model.ReturnCalibrator`)
gives, for both trades of docs/design.md (``revert_return``, ``continue_return``, for the legs that
will be traded), the mean gross return per unit of gross notional in the score's bin of the
model's *held-out* record, its standard error (clustered by week) and the bin's realised second
moment. Net of the venue's round trip ``c`` (:func:`revertible.costs.round_trip_cost`: fees and
slippage of the configured venue and fill) and the expected carry ``k`` (borrow on spot short
legs and funding paid on perpetual legs over the direction's horizon, :func:`expected_carry`):

* ``<d>_expected = mean - c - k`` and ``<d>_lower = mean - z * se - c - k`` with ``z`` the
  one-sided normal quantile of ``decision.confidence`` (0.95: 1.645);
* ``direction`` is the direction with the higher lower bound if that bound exceeds
  ``sizing.min_edge`` (0: above costs), else ``none``; ``expected_return`` and
  ``expected_return_lower`` are that direction's (for ``none``, the better one's);
* ``return_m2 = E[(r - c - k)^2]`` of the same direction: what Kelly sizing divides by.

On a market without an edge the lower bound sits below zero for almost every divergence and the
answer is ``none``, with a reason a trader can read.

Timing: the calibrated outcomes are the model's at the divergence's entry bar; for a live
divergence re-measured at a later bar, :func:`condition_on_realised` removes what the trade
would already have earned (an approximation: the bin is not re-estimated on the path; a loss so
far is not credited back).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..config import CostConfig, LabelConfig
from ..costs import round_trip_cost

__all__ = [
    "OUTCOME_COLUMNS",
    "DECISION_COLUMNS",
    "DIRECTIONS",
    "Barriers",
    "trade_barriers",
    "decide",
    "expected_carry",
    "condition_on_realised",
]

OUTCOME_COLUMNS = tuple(f"{d}_{m}" for d in ("revert", "continue") for m in ("mean", "se", "m2"))
"""Calibrated outcome columns ``decide`` reads (gross, per unit of gross notional)."""

DECISION_COLUMNS = (
    "direction", "expected_return", "expected_return_lower", "return_m2", "revert_expected",
    "revert_lower", "continue_expected", "continue_lower", "best_direction", "decision_reason",
)  # fmt: skip
"""Columns ``decide`` returns."""

DIRECTIONS = ("revert", "continue", "none")


class Barriers(NamedTuple):
    """Exit rules of one trade on ``z' = sign(z_entry) * (spread - mean) / std``.

    ``take_profit`` and ``stop`` are barriers on ``z'`` checked on bar closes, ``horizon`` the
    time stop in bars. The reversion trade takes profit below ``take_profit`` and stops above
    ``stop``; the continuation trade the mirror (take profit above, stop below).
    """

    take_profit: float
    stop: float
    horizon: int


def trade_barriers(label: LabelConfig, continuation: object | None = None) -> dict[str, Barriers]:
    """Barriers of both trades: reversion from ``label``, continuation from its config section.

    ``continuation`` is the config's ``continue`` section (fields ``take_profit``, ``stop`` and
    ``horizon``, the latter None for the label horizon); None mirrors the label's barriers, which
    are docs/design.md's defaults (take profit at ``label.stop``, stop at ``label.exit``).

    Examples
    --------
    >>> trade_barriers(LabelConfig())["continue"]
    Barriers(take_profit=4.0, stop=0.5, horizon=48)

    """
    revert = Barriers(float(label.exit), float(label.stop), int(label.horizon))
    if continuation is None:
        follow = Barriers(float(label.stop), float(label.exit), int(label.horizon))
    else:
        horizon = getattr(continuation, "horizon", None)
        follow = Barriers(
            float(continuation.take_profit),  # type: ignore[attr-defined]
            float(continuation.stop),  # type: ignore[attr-defined]
            int(label.horizon if horizon is None else horizon),
        )
    return {"revert": revert, "continue": follow}


def decide(
    outcomes: pd.DataFrame,
    costs: CostConfig,
    confidence: float = 0.95,
    min_edge: float = 0.0,
    directions: tuple[str, ...] = ("revert", "continue"),
    carry: dict[str, np.ndarray] | None = None,
    allow_continue: np.ndarray | None = None,
    reasons: bool = True,
) -> pd.DataFrame:
    """Direction, expected net return and its lower bound of each divergence (vectorised).

    Parameters
    ----------
    outcomes : pandas.DataFrame
        :data:`OUTCOME_COLUMNS` (``model.predict_outcomes``): mean, standard error and second
        moment of each direction's gross return per unit of gross notional.
    costs : CostConfig
        The venue's fees and slippage (round trip :func:`revertible.costs.round_trip_cost`).
    confidence : float
        One-sided confidence of the lower bound (``decision.confidence``).
    min_edge : float
        A direction is taken only if its lower bound exceeds this (``sizing.min_edge``).
    directions : tuple of str
        The directions allowed (``("revert",)``: the backtest's ``model_revert``); both
        directions' figures are reported either way.
    carry : dict, optional
        ``{"revert": array, "continue": array}``: expected carry per unit of gross notional
        (:func:`expected_carry`); 0 if None.
    allow_continue : numpy.ndarray of bool, optional
        Rows where the continuation trade may be taken (a pre-registered rule such as
        ``decision.continue_max_score_quantile``); all if None.
    reasons : bool
        Write ``decision_reason`` (one text per row not taken, formatted in Python: about 3 us a
        row); False leaves it empty, for callers that only need the numbers.

    Returns
    -------
    pandas.DataFrame
        Same index; :data:`DECISION_COLUMNS`. ``direction`` is ``revert``, ``continue`` or
        ``none``; ``best_direction`` is the direction with the better lower bound, taken or
        not (``none`` only without an outcome: the one ``expected_return`` describes);
        ``decision_reason`` is empty for a trade and says why for ``none``. A
        missing (NaN) direction never wins; ties go to ``revert``.

    Raises
    ------
    ValueError
        On a missing outcome column, ``min_edge < 0`` or a confidence outside (0.5, 1).

    Examples
    --------
    >>> o = pd.DataFrame({"revert_mean": [0.01, 0.001], "revert_se": [0.001, 0.001],
    ...                   "revert_m2": [4e-4, 4e-4], "continue_mean": [-0.01, -0.001],
    ...                   "continue_se": [0.001, 0.001], "continue_m2": [4e-4, 4e-4]})
    >>> out = decide(o, CostConfig(taker_fee=0.0005, slippage_bps=0.0))
    >>> out["direction"].tolist(), (out["expected_return_lower"] * 1e4).round(2).tolist()
    (['revert', 'none'], [73.55, -16.45])
    >>> out["decision_reason"].iloc[1]
    'no direction clears costs: best lower bound -16.4 bp (expected 0.0 bp, round trip 10.0 bp)'

    """
    missing = [c for c in OUTCOME_COLUMNS if c not in outcomes.columns]
    if missing:
        raise ValueError(
            f"`outcomes has every calibrated outcome column` must hold, but got missing="
            f"{missing}; pass model.predict_outcomes(features) (a model with a return calibrator)"
        )
    if not min_edge >= 0.0:
        raise ValueError(f"`min_edge >= 0` must hold, but got min_edge={min_edge!r}")
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"`0.5 < confidence < 1` must hold, but got confidence={confidence!r}")
    if not (directions and set(directions) <= {"revert", "continue"}):
        raise ValueError(
            "`directions` must be a non-empty subset of ('revert', 'continue'), but got "
            f"directions={directions!r}"
        )
    n = len(outcomes)
    cost = round_trip_cost(costs)
    zq = float(norm.ppf(confidence))
    net: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for d in ("revert", "continue"):
        mean = outcomes[f"{d}_mean"].to_numpy(dtype=float)
        se = outcomes[f"{d}_se"].to_numpy(dtype=float)
        m2 = outcomes[f"{d}_m2"].to_numpy(dtype=float)
        k = cost + (np.zeros(n) if carry is None else np.asarray(carry[d], dtype=float))
        with np.errstate(invalid="ignore"):
            lower = np.where(np.isinf(se), -np.inf, mean - zq * se - k)
        net[d] = (mean - k, lower, m2 - 2.0 * k * mean + k * k)
    ok_c = np.ones(n, bool) if allow_continue is None else np.asarray(allow_continue, bool)
    rev_key = np.where(np.isnan(net["revert"][1]) | ("revert" not in directions), -np.inf,
                       net["revert"][1])
    cont_key = np.where(np.isnan(net["continue"][1]) | ("continue" not in directions) | ~ok_c,
                        -np.inf, net["continue"][1])
    follow = cont_key > rev_key
    pick = {i: np.where(follow, net["continue"][i], net["revert"][i]) for i in range(3)}
    best_mean, best_lower = pick[0], pick[1]
    take = np.isfinite(best_lower) & (best_lower > min_edge)
    direction = np.where(take, np.where(follow, "continue", "revert"), "none")
    reason = np.full(n, "", dtype=object)
    if reasons and (~take).any():
        nt = ~take
        lo = np.where(np.isfinite(best_lower), best_lower * 1e4, np.nan)
        text = [
            "no calibrated outcome (score missing)" if np.isnan(m) else
            (f"no direction clears costs: best lower bound "
             f"{'-inf' if not np.isfinite(lo_) else f'{lo_:.1f}'} bp (expected {m * 1e4:.1f} "
             f"bp, round trip {cost * 1e4:.1f} bp)"
             + ("" if np.isfinite(lo_) else "; too few held-out trades in its score bin")
             + ("" if min_edge == 0.0 or not np.isfinite(lo_) or lo_ <= 0.0
                else f", below sizing.min_edge {min_edge * 1e4:.1f} bp"))
            for m, lo_ in zip(best_mean[nt], lo[nt], strict=True)
        ]
        reason[nt] = np.asarray(text, dtype=object)
    return pd.DataFrame(
        {
            "direction": direction.astype(object),
            "expected_return": best_mean,
            "expected_return_lower": best_lower,
            "return_m2": pick[2],
            "revert_expected": net["revert"][0],
            "revert_lower": net["revert"][1],
            "continue_expected": net["continue"][0],
            "continue_lower": net["continue"][1],
            "best_direction": np.where(np.isnan(best_mean), "none",
                                       np.where(follow, "continue", "revert")).astype(object),
            "decision_reason": reason,
        },
        index=outcomes.index,
    )


def expected_carry(
    z_entry: np.ndarray, beta: np.ndarray, ratio: np.ndarray, costs: CostConfig,
    bar: pd.Timedelta, horizons: dict[str, int],
    funding_a: np.ndarray | None = None, funding_b: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Expected borrow and funding of each direction per unit of gross notional (>= 0).

    Spot: short legs pay ``costs.borrow_rate_daily`` pro rata; perpetuals: each funding time
    held costs ``side * rate`` on a leg (a positive rate is paid by longs), with ``rate`` the
    leg's last known funding rate (``funding_a``/``funding_b``, else
    ``costs.funding_rate_default``) and ``len(costs.funding_hours)`` funding times a day. Both
    are taken over the direction's whole horizon (an upper bound on the holding time). The two
    legs' funding is netted (a pair's long and short legs pay and receive together; the rates
    of one market move together), and a net expected *receipt* is not credited: the carry only
    ever makes a trade harder to clear.

    Examples
    --------
    >>> c = expected_carry(np.array([2.5]), np.array([1.0]), np.array([1.0]), CostConfig(),
    ...                    pd.Timedelta(hours=1), {"revert": 48, "continue": 48})
    >>> round(float(c["revert"][0]) * 1e4, 6)     # half the notional short for 2 days at 2 bp
    2.0
    """
    z = np.asarray(z_entry, dtype=float)
    b = np.asarray(beta, dtype=float)
    r = np.asarray(ratio, dtype=float)
    wa, wb = 1.0 / (1.0 + r), r / (1.0 + r)
    sa_rev = -np.sign(z)
    sb_rev = np.sign(z) * np.sign(b)
    out: dict[str, np.ndarray] = {}
    for d, flip in (("revert", 1.0), ("continue", -1.0)):
        sa, sb = flip * sa_rev, flip * sb_rev
        held = horizons[d] * bar
        if costs.perpetual:
            n_fund = held / pd.Timedelta(days=1) * len(costs.funding_hours)
            fa = (np.full(len(z), costs.funding_rate_default) if funding_a is None
                  else np.where(np.isfinite(funding_a), funding_a, costs.funding_rate_default))
            fb = (np.full(len(z), costs.funding_rate_default) if funding_b is None
                  else np.where(np.isfinite(funding_b), funding_b, costs.funding_rate_default))
            paid = (wa * sa * fa + wb * sb * fb) * n_fund
        else:
            short = wa * (sa < 0) + wb * (sb < 0)
            paid = short * costs.borrow_rate_daily * (held / pd.Timedelta(days=1))
        out[d] = np.maximum(np.nan_to_num(paid, nan=0.0), 0.0)
    return out


def condition_on_realised(outcomes: pd.DataFrame, realised_revert: np.ndarray) -> pd.DataFrame:
    """Outcome moments of the *remaining* trade, given what it earned since entry.

    ``realised_revert`` is the reversion trade's gross return per unit of gross notional so far
    (the continuation trade earned its negative). With ``R = s + R_rest`` and the total's moments
    taken as unchanged by the path (the calibrator's bin is the entry's, not re-estimated),
    ``E[R_rest] = mu - s`` and ``E[R_rest^2] = m2 - 2 s mu + s^2``. Only a *gain* is removed
    (``s`` floored at 0 per direction): crediting a move against a direction as extra expected
    return would be the gambler's fallacy on a record that never saw the path. So a direction that
    already earned has less left, and one that lost is not made more attractive by the loss.

    Examples
    --------
    >>> o = pd.DataFrame({"revert_mean": [0.01], "revert_m2": [4e-4], "continue_mean": [-0.01],
    ...                   "continue_m2": [4e-4]})
    >>> condition_on_realised(o, np.array([0.004]))[["revert_mean", "continue_mean"]].round(6)
       revert_mean  continue_mean
    0        0.006          -0.01

    """
    out = outcomes.copy()
    s = np.asarray(realised_revert, dtype=float)
    for d, sd in (("revert", s), ("continue", -s)):
        gain = np.maximum(sd, 0.0)
        mu = outcomes[f"{d}_mean"].to_numpy(dtype=float)
        m2 = outcomes[f"{d}_m2"].to_numpy(dtype=float)
        out[f"{d}_mean"] = mu - gain
        out[f"{d}_m2"] = np.maximum(m2 - 2.0 * gain * mu + gain * gain, 0.0)
    return out
