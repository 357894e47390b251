"""What the CLI tests share: one Typer runner."""

from __future__ import annotations

from typer.testing import CliRunner

from revertible.cli import app

runner = CliRunner()


def run(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)
