"""The monitor's one-line summary of a paper ledger (fast; the end-to-end runs are in
test_command_monitor.py)."""

from __future__ import annotations

import math

import numpy as np

from revertible.monitor._command import _ledger_line


def _ledger(**kw):
    base = {"path": "live/ledger.sqlite", "trades_closed": 0, "realised_net_bp": math.nan,
            "realised_net_bp_ci_low": math.nan, "realised_net_bp_ci_high": math.nan,
            "open_positions": 0, "last_bar": "2024-09-07 01:00:00+00:00"}
    return {**base, **kw}


def test_a_ledger_with_nothing_closed_shows_dashes_not_nan():
    # it printed "realised net +nan bp/trade [90% CI +nan, +nan]" (paper itself prints "-")
    line = _ledger_line(_ledger())
    assert "nan" not in line, line
    # and then "- bp/trade [90% CI -, -]"; paper says "no closed trade yet", so does this line
    assert "ledger live/ledger.sqlite: no closed trade yet; 0 open position(s)" in line


def test_a_ledger_with_closed_trades_shows_signed_bp():
    line = _ledger_line(_ledger(trades_closed=12, realised_net_bp=3.14,
                                realised_net_bp_ci_low=-20.0, realised_net_bp_ci_high=25.55,
                                open_positions=2))
    assert "12 trades closed, realised net +3.1 bp/trade [90% CI -20.0, +25.6]; 2 open" in line


def test_a_ledger_whose_trades_exited_on_one_day_has_no_interval():
    # the first closed trades of a ledger, all exited on one day: the day-block bootstrap has
    # one block; it printed "[90% CI +12.0, +12.0]", a zero-width interval
    from revertible.backtest import bootstrap_mean_ci

    mean, lo, hi = bootstrap_mean_ci(np.array([30.0, -6.0]), np.array([19970, 19970]))
    line = _ledger_line(_ledger(trades_closed=2, realised_net_bp=mean,
                                realised_net_bp_ci_low=lo, realised_net_bp_ci_high=hi))
    assert "2 trades closed, realised net +12.0 bp/trade [no 90% CI: every closed trade " \
        "exited on one day]; 0 open" in line, line
