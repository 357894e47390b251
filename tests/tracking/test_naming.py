"""What a person sees: informative run names, headline metrics first, named after logged ones."""

from __future__ import annotations

import pytest

from revertible.cli import app
from revertible.tracking import HEADLINE

from .support import runner


def test_headline_names_point_at_logged_metrics():
    from revertible.tracking import HEADLINE, headline_metrics

    assert HEADLINE["0_holdout_taken_rate"] == "decision.holdout.taken_rate"
    assert HEADLINE["0_net_bp_per_trade"] == "model.net_bp_per_trade"
    got = headline_metrics({"decision.holdout.taken_rate": 0.03,
                            "model.net_bp_per_trade": 12.0})
    assert got == {"0_holdout_taken_rate": 0.03, "0_net_bp_per_trade": 12.0}


def test_run_names_are_informative_and_distinct(store):
    c = store["client"]
    na = c.get_run(store["a"]["run_id"]).info.run_name
    nb = c.get_run(store["b"]["run_id"]).info.run_name
    nbt = c.get_run(store["bt"]["run_id"]).info.run_name
    assert na != nb
    assert na.startswith("demo train h48 z2 l31 ") and nb.startswith("demo train h48 z2 l7 ")
    assert nbt.startswith("demo backtest h48 z2 ")


def test_headline_metrics_sort_first_and_copy_their_source(store):
    c = store["client"]
    m = c.get_run(store["a"]["run_id"]).data.metrics
    names = sorted(m)
    heads = [k for k in names if k.startswith("0_")]
    assert names[: len(heads)] == heads, "headline names sort before every other metric"
    for h in ("0_holdout_auc", "0_holdout_ece", "0_holdout_brier_skill", "0_cv_auc"):
        assert m[h] == pytest.approx(m[HEADLINE[h]])
    bt = c.get_run(store["bt"]["run_id"]).data.metrics
    assert bt["0_trades"] == pytest.approx(bt["model.trades"])
    # a source that is undefined (no trade: no Sharpe) is not logged, nor is its headline
    assert ("0_sharpe" in bt) == ("model.sharpe" in bt)
    if "model.sharpe" in bt:
        assert bt["0_sharpe"] == pytest.approx(bt["model.sharpe"])


def test_headline_names_skip_missing_sources():
    from revertible.tracking import headline_metrics

    assert headline_metrics({"holdout.roc_auc": 0.6, "cv.n": 3.0}) == {"0_holdout_auc": 0.6}


def test_decision_and_abstention_headlines_are_logged_and_listed(store):
    c = store["client"]
    m = c.get_run(store["a"]["run_id"]).data.metrics
    assert m["0_holdout_taken_rate"] == pytest.approx(m["decision.holdout.taken_rate"])
    assert m["0_held_out_ic"] == pytest.approx(m["scorer.ic_held_out"])
    bt = c.get_run(store["bt"]["run_id"]).data.metrics
    assert bt["0_abstention_rate"] == pytest.approx(bt["model.abstention_rate"])
    r = runner.invoke(app, ["runs", str(store["yaml"])])
    assert r.exit_code == 0 and "holdout_taken_rate" in " ".join(r.output.split()), r.output
    r = runner.invoke(app, ["runs", str(store["yaml"]), "--kind", "backtest"])
    assert r.exit_code == 0 and "abstention_rate" in " ".join(r.output.split()), r.output
