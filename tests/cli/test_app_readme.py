"""The README's command lines are runnable as written: real commands and options, folders made.

A user copies the "Running it live" set-up, crontab and systemd unit verbatim; a renamed option
or a folder nobody creates fails there every hour, out of sight.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer

from revertible.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"```(bash|cron|ini)\n(.*?)```", re.S)
_CALL = re.compile(r"revertible\s+([a-z]+)\b([^&|;'\n>]*)")


def _blocks() -> list[tuple[str, str]]:
    return [(kind, body.replace("\\\n", " ")) for kind, body in _BLOCK.findall(README.read_text())]


def test_every_command_and_option_in_the_readme_code_exists():
    root = typer.main.get_command(app)
    wrong = []
    for _, body in _blocks():
        for line in body.splitlines():
            line = re.sub(r"(^|\s)#.*", "", line)  # comments, `# revertible.service`
            if line.lstrip().startswith(("git ", "cp ", "mkdir ", "Description=")):
                continue
            for name, rest in _CALL.findall(line):
                sub = root.commands.get(name)
                if sub is None:
                    wrong.append(f"revertible {name}")
                    continue
                opts = {o for p in sub.params for o in (*p.opts, *p.secondary_opts)}
                wrong += [f"revertible {name} {o}" for o in re.findall(r"(?<!\S)(--[a-z][\w-]*)",
                                                                    rest) if o not in opts]
    assert wrong == [], "README code calls commands or options that do not exist"


def test_the_setup_creates_every_folder_the_cron_line_writes_into():
    blocks = _blocks()
    setup = next(body for kind, body in blocks if kind == "bash" and "--promote" in body
                 and "download" in body)
    cron = next(body for kind, body in blocks if kind == "cron")
    used = set(re.findall(r"(?:--ledger|--out|>>)\s+([\w.-]+)/", cron))
    assert used, "the crontab line writes its ledger and log into a folder"
    made = set(re.findall(r"mkdir -p ((?:[\w.-]+ ?)+)", setup))
    made = {f for group in made for f in group.split()}
    assert used <= made, f"the one-time setup does not create {sorted(used - made)}"


def test_the_systemd_unit_runs_the_crontab_s_chain():
    # tests/live/test_download_cron_chain.py runs the crontab's line; the unit must run the same
    blocks = _blocks()
    cron = next(body for kind, body in blocks if kind == "cron")
    unit = next(body for kind, body in blocks if kind == "ini" and "ExecStart=" in body)
    chain = re.search(r"sh -c '(.*?)'", cron).group(1)
    start = re.search(r"ExecStart=/bin/sh -c '(.*?)'", unit).group(1)
    assert start == chain
    assert re.search(r"NOTIFY=\S+", unit) and "WorkingDirectory=%h/revertible" in unit
    assert "cd $HOME/revertible" in cron
