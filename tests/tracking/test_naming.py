"""Headline metrics name metrics that are logged."""

from __future__ import annotations


def test_headline_names_point_at_logged_metrics():
    from revertible.tracking import HEADLINE, headline_metrics

    assert HEADLINE["0_holdout_rank_ic"] == "returns.holdout.revert.rank_ic"
    assert HEADLINE["0_net_bp_per_trade"] == "model.net_bp_per_trade"
    got = headline_metrics({"returns.holdout.revert.rank_ic": 0.03,
                            "model.net_bp_per_trade": 12.0})
    assert got == {"0_holdout_rank_ic": 0.03, "0_net_bp_per_trade": 12.0}
