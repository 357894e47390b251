"""The decision: revert, continue or no trade, on the expected net return of each direction.

Per divergence the return heads give ``E[r]`` and ``E[r^2]`` of the *gross* return per unit of
gross notional of the two trades in docs/design.md (``revert_return``, ``continue_return``). Net of
the venue's round trip ``c`` (per unit of gross notional: the cost model's
:func:`revertible.costs.round_trip_cost`, ``2 * (fee + slippage)`` of the configured venue and
fill, so maker fills reach the decision), each direction's expected net return is
``mean - c``. ``direction`` is the larger one if it exceeds ``sizing.min_edge``, else ``none``;
``expected_return`` is that direction's (for ``none``, the better of the two); ``return_m2`` is
``E[(r - c)^2]`` of the same direction, which Kelly sizing needs.

Timing: the outcome moments are the model's at the divergence's entry bar; for a live divergence
re-measured at a later bar, :func:`condition_on_realised` removes what the trade would already
have earned (an approximation: the moments are not re-estimated on the path; a loss so far is
not credited back).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from ..config import CostConfig, LabelConfig
from ..costs import round_trip_cost

__all__ = [
    "OUTCOME_COLUMNS",
    "DECISION_COLUMNS",
    "DIRECTIONS",
    "Barriers",
    "trade_barriers",
    "decide",
    "condition_on_realised",
]

OUTCOME_COLUMNS = ("revert_mean", "revert_m2", "continue_mean", "continue_m2")
"""Return-head columns ``decide`` reads (gross, per unit of gross notional)."""

DECISION_COLUMNS = (
    "direction", "expected_return", "return_m2", "revert_expected", "continue_expected",
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
    min_edge: float = 0.0,
    directions: tuple[str, ...] = ("revert", "continue"),
) -> pd.DataFrame:
    """Direction and expected net return of each divergence (vectorised).

    Parameters
    ----------
    outcomes : pandas.DataFrame
        :data:`OUTCOME_COLUMNS` (``model.predict_outcomes``): ``E[r]`` and ``E[r^2]`` of the
        gross return per unit of gross notional of the reversion and continuation trades.
    costs : CostConfig
        The venue's fees and slippage; the round trip per unit of gross notional is
        :func:`revertible.costs.round_trip_cost` (the configured fill: taker or maker).
    min_edge : float
        A direction is taken only if its expected net return exceeds this (``sizing.min_edge``).
    directions : tuple of str
        The directions allowed (``("revert",)``: the model restricted to reversion, the
        backtest's ``model_revert``); both expected returns are reported either way.

    Returns
    -------
    pandas.DataFrame
        Same index; :data:`DECISION_COLUMNS`: ``direction`` (``revert``, ``continue`` or
        ``none``), ``expected_return`` (net, the chosen direction's; for ``none`` the better of
        the two; NaN when both are missing), ``return_m2`` (net ``E[r^2]`` of that direction),
        ``revert_expected`` and ``continue_expected`` (net means). A missing (NaN) direction
        never wins; ties go to ``revert``.

    Raises
    ------
    ValueError
        On a missing outcome column or ``min_edge < 0``.

    Examples
    --------
    >>> out = decide(pd.DataFrame({"revert_mean": [0.01, -0.002], "revert_m2": [4e-4, 4e-4],
    ...                            "continue_mean": [0.0, 0.0006], "continue_m2": [4e-4, 4e-4]}),
    ...              CostConfig(taker_fee=0.0005, slippage_bps=0.0))
    >>> out["direction"].tolist(), out["expected_return"].round(5).tolist()
    (['revert', 'none'], [0.009, -0.0004])

    """
    missing = [c for c in OUTCOME_COLUMNS if c not in outcomes.columns]
    if missing:
        raise ValueError(
            f"`outcomes has every return-head column` must hold, but got missing={missing}; "
            "pass model.predict_outcomes(features) (a model with return heads)"
        )
    if not min_edge >= 0.0:
        raise ValueError(f"`min_edge >= 0` must hold, but got min_edge={min_edge!r}")
    if not (directions and set(directions) <= {"revert", "continue"}):
        raise ValueError(
            "`directions` must be a non-empty subset of ('revert', 'continue'), but got "
            f"directions={directions!r}"
        )
    cost = round_trip_cost(costs)
    net = {}
    for d in ("revert", "continue"):
        mean = outcomes[f"{d}_mean"].to_numpy(dtype=float)
        m2 = outcomes[f"{d}_m2"].to_numpy(dtype=float)
        net[d] = (mean - cost, m2 - 2.0 * cost * mean + cost * cost)
    rev, cont = net["revert"][0], net["continue"][0]
    rev_key = np.where(np.isnan(rev) | ("revert" not in directions), -np.inf, rev)
    cont_key = np.where(np.isnan(cont) | ("continue" not in directions), -np.inf, cont)
    follow = cont_key > rev_key
    best = np.where(follow, cont, rev)
    if len(directions) == 2:  # the one that exists
        best = np.where(np.isnan(best), np.where(follow, rev, cont), best)
    m2 = np.where(follow, net["continue"][1], net["revert"][1])
    take = np.isfinite(best) & (best > min_edge)
    direction = np.where(take, np.where(follow, "continue", "revert"), "none")
    return pd.DataFrame(
        {
            "direction": direction.astype(object),
            "expected_return": best,
            "return_m2": m2,
            "revert_expected": rev,
            "continue_expected": cont,
        },
        index=outcomes.index,
    )


def condition_on_realised(outcomes: pd.DataFrame, realised_revert: np.ndarray) -> pd.DataFrame:
    """Outcome moments of the *remaining* trade, given what it earned since entry.

    ``realised_revert`` is the reversion trade's gross return per unit of gross notional so far
    (the continuation trade earned its negative). With ``R = s + R_rest`` and the total's moments
    taken as unchanged by the path (the heads were fitted at entry, not mid-trade),
    ``E[R_rest] = mu - s`` and ``E[R_rest^2] = m2 - 2 s mu + s^2``. Only a *gain* is removed
    (``s`` floored at 0 per direction): crediting a move against a direction as extra expected
    return would be the gambler's fallacy on heads that never saw the path. So a direction that
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
