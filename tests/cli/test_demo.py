"""``revertible demo`` options: a market the generator cannot make is one line, not a traceback."""

from __future__ import annotations

import pytest
from conftest import one_line_error

from .support import run


@pytest.mark.parametrize(("args", "needle"), [
    # a market too small to generate: the generator's ValueError with a traceback, after
    # creating --out
    (["--n-assets", "1"], "--n-assets 1: the generated market needs at least 3 assets"),
    (["--n-assets", "2"], "--n-assets 2: the generated market needs at least 3 assets"),
    (["--days", "1"], "--days 1: the generated market needs at least 2 days"),
    # too few episodes to train on: data, pairs, heatmap and episodes were written, then train
    # refused with a hint about the data ("more data, a lower label.entry") instead of --days
    (["--days", "3"], "--days 3 --n-assets 16: the generated market has 0 labelled development"),
    (["--days", "30"], "--days 30 --n-assets 16: the generated market has 1 labelled"),
    # a bad config: the market was generated and written into --out first, then refused
    (["--set", "universe.min_abs_corr=2"], "--set universe.min_abs_corr=2"),
    (["--set", "bad.key=1"], "--set bad.key: unknown config key"),
    (["--config", "no-such.yaml"], "config no-such.yaml: file not found"),
])
def test_bad_demo_options_are_refused_in_one_line_before_anything_is_written(tmp_path, args,
                                                                             needle):
    res = run("demo", "--out", tmp_path / "d", *args)
    one_line_error(res, needle)
    assert not (tmp_path / "d").exists()


def test_the_heartbeat_names_the_demo_step_running(tmp_path, monkeypatch):
    # it said "working (starting)" through steps 1-3 (no progress bar names them)
    import revertible.demo as demo
    from revertible.cli import _app
    from revertible.errors import RevertibleError

    seen = []

    def spy(name):
        real = getattr(demo, name)

        def call(*a, **k):
            seen.append(_app._ACTIVITY["stage"])
            if name == "write_episodes":
                raise RevertibleError("stopped after the stages of interest")
            return real(*a, **k)
        monkeypatch.setattr(demo, name, call)

    monkeypatch.setattr(demo, "_check_trainable", lambda *a: None)  # 2 days train on nothing
    for name in ("generate_market", "load_panel", "eligible_pairs", "write_episodes"):
        spy(name)
    monkeypatch.setitem(_app._ACTIVITY, "stage", "starting")
    res = run("demo", "--out", tmp_path / "d", "--n-assets", "3", "--days", "2")
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert res.output.strip().splitlines()[-1] == "error: stopped after the stages of interest"
    assert seen == ["1/8 generating the market", "2/8 validating", "3/8 pairs",
                    "episodes (pairs)"], seen


@pytest.mark.slow
def test_the_demo_runs_every_step_and_its_paper_ledger_is_the_backtest(tmp_path):
    # `make demo` is the README's first command; no test ran it whole. 120 days: about 20 s
    import re

    out = tmp_path / "d"
    res = run("demo", "--out", out, "--days", "120", "--set",
              f"tracking.uri=sqlite:///{tmp_path}/mlflow.db", "--set",
              f"tracking.artifact_location={(tmp_path / 'artifacts').as_uri()}")
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    for step in range(1, 9):
        assert f"{step}/8 " in flat, step
    for name in ("pairs.parquet", "episodes.parquet", "signals.csv", "backtest/report.html",
                 "backtest-perp-maker/report.html", "live/ledger.sqlite", "live/monitor.html"):
        assert (out / name).is_file(), name
    # the ledger starts after the model's training data and runs to the end, so it is the
    # holdout replay at the same costs: the same trades and net per trade
    bt = re.search(r"backtest-perp-maker/report\.html strategy .*? model (\d+) ([+-][0-9.]+) ",
                   flat)
    paper = re.search(r"8/8 paper from .*? (\d+) trades closed, realised net ([+-][0-9.]+) bp",
                      flat)
    assert bt and paper, flat
    assert "(after the model's training data)" in flat
    assert paper.groups() == bt.groups() and int(paper.group(1)) > 0
    assert "8/8 monitor" in flat and "demo finished" in flat
