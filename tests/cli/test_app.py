"""The command line's shared checks: one asset fails fast, the loader's hint, the compile notice,
stderr not wrapped at 80 columns when it is a file."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import cli_output

from .support import run

ONE_ASSET = {
    "score": ["--model", "{tmp}/no-model", "--out", "{tmp}/s.csv"],
    "backtest": ["--walk-forward"],
    "tune": ["--trials", "2"],
}


@pytest.mark.parametrize("command", sorted(ONE_ASSET))
def test_one_asset_universe_fails_fast_for_commands_loading_data(command, cfg_file, tmp_path):
    extra = [a.format(tmp=tmp_path) for a in ONE_ASSET[command]]
    t0 = time.perf_counter()
    r = run(command, cfg_file, "--set", "data.assets=[AAA/USDT]", *extra,
            env={"MLFLOW_TRACKING_URI": ""})
    assert r.exit_code == 2, r.output
    msg = cli_output(r)
    assert msg.startswith("error:") and len(msg.splitlines()) == 1, msg
    flat = " ".join(msg.split())
    assert "only 1 asset (AAA/USDT)" in flat and "at least 2" in flat, flat
    assert time.perf_counter() - t0 < 10, "checked before the model and the data are loaded"
    assert not (tmp_path / "store").exists(), "no store created before failing"
    assert not (tmp_path / "s.csv").exists()


def test_unknown_asset_still_gets_the_loaders_hint(cfg_file):
    r = run("backtest", cfg_file, "--walk-forward", "--set", "data.assets=[AAA/USDT,ZZZ/USDT]")
    assert r.exit_code == 2
    assert "ZZZ/USDT not found" in " ".join(cli_output(r).split())


def test_compile_notice_reaches_score(cfg_file, tmp_path):
    # an empty numba cache folder: the kernels would be compiled, so the command says so
    # (numba itself read its cache folder at import: nothing is really recompiled here)
    cache = tmp_path / "numba-cache"
    cache.mkdir()
    r = run("score", cfg_file, "--model", tmp_path / "no-model", "--out", tmp_path / "s.csv",
            env={"NUMBA_CACHE_DIR": str(cache), "MLFLOW_TRACKING_URI": ""})
    assert r.exit_code == 2, r.output
    assert "compiling the spread kernels with numba" in r.output
    assert "no such folder" in cli_output(r)


def test_every_command_accepts_set_and_data():
    """docs/design.md: every command takes ``--set`` overrides and ``--data DIR`` (``demo``
    generates its data, so it takes ``--set`` alone)."""
    import typer

    from revertible.cli import app

    group = typer.main.get_command(app)
    lacking = {name: sorted({"--set", "--data"} - {o for p in cmd.params for o in p.opts})
               for name, cmd in group.commands.items()}
    assert {k: v for k, v in lacking.items() if v} == {"demo": ["--data"]}


def test_runs_takes_data_like_every_command(cfg_file, tmp_path):
    r = run("runs", cfg_file, "--data", tmp_path, env={"MLFLOW_TRACKING_URI": ""})
    assert r.exit_code == 0, r.output


def test_stderr_to_a_file_is_not_wrapped_at_80_columns():
    # `train` prints its metrics table and `tune` its trial lines on stderr; in a cron log or
    # with --json (stdout a pipe) they were cut into 80-column pieces, the table unreadable
    code = ("from rich.table import Table\n"
            "from revertible.cli._app import err\n"
            "err.print('x' * 150, markup=False, highlight=False)\n"
            "t = Table(*[f'column_{i}' for i in range(10)])\n"
            "t.add_row(*[f'{i}.0000' for i in range(10)])\n"
            "err.print(t)\n")
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    lines = res.stderr.splitlines()
    assert lines[0] == "x" * 150, lines
    header = next(ln for ln in lines if "column_0" in ln)
    assert "column_9" in header, lines


@pytest.mark.parametrize(("command", "shown"), [
    ("validate", ["KEY=VALUE"]),
    ("tune", ["KEY=VALUE", "NAME"]),
    ("download", ["spot|perp|both", "URL"]),
    ("runs", ["train|backtest|hedge|all"]),
])
def test_help_shows_what_an_option_takes(command, shown):
    # the metavars were the Python types: --set <list[str]>, --objective <str>, --notify <list[str]>
    text = " ".join(run(command, "--help").output.replace("│", " ").split())
    for s in shown:
        assert f" {s} " in text, (s, text)
    assert "<list[str]>" not in text


def test_help_cuts_no_word_at_80_columns():
    # rich cuts a word longer than the help column with an ellipsis: tune --help showed
    # "(sqlite:///experim…" and "(tuning.strategy.s…" (80 columns: stdout not a terminal)
    from revertible.cli import app

    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert len(commands) > 10
    for command in ["", *commands]:
        r = run(*[command] if command else [], "--help", env={"COLUMNS": "80"})
        assert r.exit_code == 0 and "…" not in r.output, r.output


def test_help_paragraphs_wrap_at_80_columns_without_ragged_lines():
    # a docstring's single line breaks are source wrapping: rich kept them, and monitor --help
    # at 80 columns showed "calibration over" / "drift of the" / "Writes" alone on lines
    from revertible.cli import app

    for cmd in app.registered_commands:
        assert all("\n" not in p for p in cmd.help.split("\n\n")), cmd.help
    r = run("monitor", "--help", env={"COLUMNS": "80"})
    text = "\n".join(line.strip() for line in r.output.splitlines())
    para = next(p for p in text.split("\n\n") if p.startswith("Every divergence"))
    lines = para.splitlines()
    assert len(lines) > 3 and all(len(line) > 50 for line in lines[:-1]), lines
