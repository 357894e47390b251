"""No command is silent for long: the heartbeat line and the gap-timing script."""

from __future__ import annotations

import importlib.util
import io
import sys
import time
from pathlib import Path

from conftest import make_market, write_cli_config

from revertible.cli import _app

REPO = Path(__file__).resolve().parents[2]


def _gaps_module():
    spec = importlib.util.spec_from_file_location("progress_gaps",
                                                  REPO / "benchmarks" / "progress_gaps.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["progress_gaps"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_heartbeat_names_the_stage_while_a_step_is_silent(tmp_path):
    path = tmp_path / "err.txt"
    with path.open("w+") as stream:
        with _app.heartbeat("pairs", every=0.3, stream=stream):
            _app.set_stage("correlations and eligibility of every pair")
            time.sleep(1.2)
        time.sleep(0.5)  # stopped: nothing more after the command
        stream.flush()
        lines = path.read_text().splitlines()
    assert len(lines) >= 2, lines
    assert all(ln.startswith("pairs: working (correlations and eligibility of every pair), ")
               for ln in lines), lines
    assert lines[-1].endswith(" s")


def test_heartbeat_stays_quiet_while_progress_is_shown(tmp_path):
    path = tmp_path / "err.txt"
    with path.open("w+") as stream:
        with _app.heartbeat("train", every=0.5, stream=stream):
            for _ in range(8):
                _app.note_progress()  # a progress bar updating
                time.sleep(0.1)
        assert path.read_text() == ""


def test_heartbeat_never_writes_into_a_test_runners_buffer():
    buf = io.StringIO()
    with _app.heartbeat("pairs", every=0.05, stream=buf):
        time.sleep(0.3)
    assert buf.getvalue() == ""


def test_a_progress_bar_names_its_stage_and_what_follows_it():
    with _app.plain_progress("loading data") as update:
        assert _app._ACTIVITY["stage"] == "loading data"
        update(1, 2)
    assert _app._ACTIVITY["stage"] == "after loading data"


def test_pairs_in_a_fresh_process_is_never_silent_for_long(tmp_path):
    market = make_market(tmp_path, n_assets=5, days=40, seed=2)
    cfg = write_cli_config(tmp_path / "c.yaml", market, 10)
    res = _gaps_module().run(["pairs", str(cfg)], env={"REVERTIBLE_HEARTBEAT_S": "0.5"})
    assert res.returncode == 0, res.lines
    assert any("eligible pairs" in text for _, text in res.lines), res.lines
    secs, at, before = res.longest()
    # 0.5 s promised, plus the thread's 0.125 s tick and a busy shared machine
    assert secs < 3.0, (secs, at, before, res.lines)
