"""The ``revertible`` command line: a thin layer over the library (DESIGN.md "Commands").

Every command takes a YAML config, ``--set dotted.key=value`` overrides and ``--data DIR``; prints
progress on standard error; exits 2 with a one-line ``error: ...`` on bad input; and writes its
outputs atomically (no half-written file on failure).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..config import Config, load_config
from ..errors import RevertibleError

app = typer.Typer(
    name="revertible",
    help=(
        "Will this pairs divergence revert within the horizon, and how big should each leg be?\n\n"
        "Pipeline: validate -> pairs -> episodes -> train -> tune -> score -> backtest. "
        "Every command reads a YAML config (see configs/), accepts --set key=value overrides "
        "and --data DIR, and exits non-zero with a one-line reason on bad input."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
# piped output (files, CI logs) gets a wide fixed width so tables are never truncated
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)

ConfigArg = Annotated[
    Path, typer.Argument(help="YAML config file, e.g. configs/binance-spot-1h.yaml.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", help="Override a config value: --set label.horizon=24 (repeatable)."
    ),
]
DataOpt = Annotated[
    Path | None, typer.Option("--data", help="Data folder; overrides data.path of the config.")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object as the last line of stdout.")
]


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected errors into a one-line message and exit code 2; Ctrl-C into 130."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RevertibleError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except MemoryError:
            _fail("out of memory: lower compute.block_size or restrict data.assets")

    return wrapper


def _config(config: Path, sets: list[str] | None, data: Path | None) -> Config:
    return load_config(config, sets or [], str(data) if data else None)


@contextlib.contextmanager
def progress_bar(
    description: str, total: int | None = None
) -> Iterator[Callable[[int, int], None]]:
    """A transient progress bar on stderr; yields ``update(done, total)``."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as prog:
        task = prog.add_task(description, total=total)

        def update(done: int, tot: int) -> None:
            prog.update(task, completed=done, total=tot)

        yield update


def load_data(cfg: Config):
    """Load and validate the panel with a progress bar."""
    from ..data import load_panel

    with progress_bar("loading data") as update:
        return load_panel(cfg.data, progress=update)


def _strict(value: Any) -> Any:
    """NaN and infinities become null: the output must be strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def emit_json(payload: dict[str, Any]) -> None:
    """Print the machine-readable result as the last line of standard output (strict JSON)."""
    sys.stdout.write(json.dumps(_strict(payload), default=str, sort_keys=True,
                                allow_nan=False) + "\n")
    sys.stdout.flush()


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m revertible``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
