"""The ``revertible`` command line: a thin layer over the library (docs/design.md "Commands").

Every command takes a YAML config, ``--set dotted.key=value`` overrides and ``--data DIR``; prints
progress on standard error; exits 2 with a one-line ``error: ...`` on bad input; and writes its
outputs atomically (no half-written file on failure).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..config import Config, load_config
from ..errors import RevertibleError
from ..io import strict_json

app = typer.Typer(
    name="revertible",
    help=(
        "Will this pairs divergence revert within the horizon, and how big should each leg be?\n\n"
        "Pipeline: validate -> pairs -> episodes -> train -> tune -> score -> backtest; the "
        "live loop: download -> paper -> monitor (README \"Running it live\"). "
        "Every command reads a YAML config (see configs/), accepts --set key=value overrides "
        "and --data DIR, and exits non-zero with a one-line reason on bad input."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# piped output (files, CI logs, cron) gets a wide fixed width so tables and long lines are never
# wrapped at 80 columns or truncated; both streams alike (train's table and tune's lines go to
# stderr)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 200)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)

ConfigArg = Annotated[
    Path, typer.Argument(help="YAML config file, e.g. configs/binance-spot-1h.yaml.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", metavar="KEY=VALUE",
        help="Override a config value: --set label.horizon=24 (repeatable)."
    ),
]
DataOpt = Annotated[
    Path | None, typer.Option("--data", help="Data folder; overrides data.path of the config.")
]
JsonOpt = Annotated[
    bool, typer.Option("--json/--no-json", help="Print one JSON object as the last line of stdout.")
]


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def check_output_file(path: Path, option: str = "--out") -> None:
    """Fail before any heavy work if ``path`` cannot be written as a file."""
    path = Path(path)
    if path.is_dir():
        raise RevertibleError(f"{option} {path}: is a directory; pass a file path such as "
                              f"{path / 'out.parquet'}")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise RevertibleError(f"{option} {path}: folder {parent} does not exist; create it or "
                              "choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RevertibleError(f"{option} {path}: folder {parent} is not writable; choose another "
                              "path or fix its permissions")
    if path.exists() and not os.access(path, os.W_OK):
        raise RevertibleError(f"{option} {path}: file exists and is not writable; remove it or "
                              "choose another path")


def check_output_dir(path: Path, option: str = "--out") -> None:
    """Fail before any heavy work if ``path`` cannot be used (or created) as an output folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RevertibleError(f"{option} {path}: is a file, not a folder; pass a folder path")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RevertibleError(f"{option} {path}: {probe} is not writable; choose another folder")


def _utc(value: str, option: str) -> Any:
    import pandas as pd

    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise RevertibleError(f"{option} {value}: not a time; use e.g. 2024-06-01 or "
                              "2024-06-01T12:00 (UTC)") from None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def precheck(kwargs: dict[str, Any], command: str = "") -> None:
    """Cheap checks on a command's options, run before any import or data load.

    Output paths (``out_path``, ``heatmap``, ``regime_out``, ``regime_plot``: files with their
    extension; ``out_dir``: a folder), ``since <= until``
    and ``trials >= 1``: each fails in milliseconds instead of after the data is loaded (and
    before an MLflow store is created).
    """
    files = {"out_path": "--out", "heatmap": "--heatmap", "regime_out": "--regime-out",
             "regime_plot": "--regime-plot"}
    for key, option in files.items():
        if kwargs.get(key) is not None:
            check_output_file(kwargs[key], option)
    tables = [kwargs.get("regime_out")]
    tables += [kwargs.get("out_path")] if command in TABLE_OUTPUTS else []
    for path in (p for p in tables if p is not None):
        suffix = Path(path).suffix.lower()
        if suffix not in {".parquet", ".pq", ".csv"}:
            raise RevertibleError(f"output file {path}: unknown extension {suffix!r}; "
                                  "use .parquet or .csv")
    for key in ("heatmap", "regime_plot"):
        path = kwargs.get(key)
        if path is not None and Path(path).suffix.lower() != ".png":
            raise RevertibleError(f"{files[key]} {path}: the image is written as PNG; name the "
                                  "file .png")
    if kwargs.get("out_dir") is not None:
        check_output_dir(kwargs["out_dir"])
    if kwargs.get("until") and _BARE_DATE.match(str(kwargs["until"]).strip()):
        # --until 2024-08-31 means the whole of that day (its last bar included)
        kwargs["until"] = f"{str(kwargs['until']).strip()}T23:59:59"
    since = _utc(kwargs["since"], "--since") if kwargs.get("since") else None
    until = _utc(kwargs["until"], "--until") if kwargs.get("until") else None
    if since is not None and until is not None and since > until:
        raise RevertibleError(f"--since {kwargs['since']} is after --until {kwargs['until']}; "
                              "`since <= until` must hold")
    if "trials" in kwargs and kwargs["trials"] is not None and kwargs["trials"] < 1:
        raise RevertibleError(f"--trials must be >= 1, but got {kwargs['trials']}")
    if command in DATED_COMMANDS and "config" in kwargs:
        at = _utc(kwargs["at"], "--at") if kwargs.get("at") else None
        if since is not None or until is not None or at is not None:
            cfg = _config(kwargs["config"], kwargs.get("set"), kwargs.get("data"))
            check_dates_in_data(cfg, since=since, until=until, at=at)
    model = kwargs.get("model")
    if isinstance(model, str) and model.startswith(("models:/", "runs:/")) and "config" in kwargs:
        from ..tracking import check_store, store_uri

        cfg = _config(kwargs["config"], kwargs.get("set"), kwargs.get("data"))
        check_store(store_uri(cfg.tracking), need_existing=True, what=model)


#: Commands whose ``--at`` / ``--since`` / ``--until`` must overlap the data (checked up front).
DATED_COMMANDS = frozenset({"score", "pairs", "baskets", "sectors", "backtest"})
_BARE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def data_span(cfg: Config) -> tuple[Any, Any] | None:
    """First and last bar over the price files ``data.assets`` selects, read cheaply.

    Only the time column of feather and parquet files is read (milliseconds for 136 files);
    None when a file is of another format or has no ``date`` column (the load then decides).
    """
    import pyarrow.compute as pc
    import pyarrow.feather as pf
    import pyarrow.parquet as pq

    from ..data import discover_files

    files = discover_files(Path(cfg.data.path), cfg.data.format, cfg.data.timeframe)
    wanted = set(cfg.data.assets) if cfg.data.assets is not None else None
    lo = hi = None
    for asset, path in files:
        if wanted is not None and asset not in wanted:
            continue
        suffix = path.suffix.lower()
        try:
            if suffix == ".feather":
                col = pf.read_table(path, columns=["date"]).column(0)
            elif suffix in (".parquet", ".pq"):
                col = pq.read_table(path, columns=["date"]).column(0)
            else:
                return None
            if not str(col.type).startswith("timestamp") or col.type.tz is None:
                return None
            mm = pc.min_max(col)
            first, last = mm["min"].as_py(), mm["max"].as_py()
        except Exception:  # noqa: BLE001 - unreadable: the full load names the problem
            return None
        if first is None:
            continue
        lo = first if lo is None else min(lo, first)
        hi = last if hi is None else max(hi, last)
    if lo is None:
        return None
    import pandas as pd

    return pd.Timestamp(lo).tz_convert("UTC"), pd.Timestamp(hi).tz_convert("UTC")


def check_dates_in_data(cfg: Config, *, since: Any = None, until: Any = None,
                        at: Any = None) -> None:
    """Refuse ``--since/--until`` wholly outside the data, or ``--at`` outside it (exit 2).

    Without it ``score --since 2030`` wrote an empty file and ``pairs --at 2030`` silently used
    the last bar.
    """
    span = data_span(cfg)
    if span is None:
        return
    first, last = span
    held = (f"data.path {cfg.data.path} holds {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} "
            "UTC")
    if at is not None and not first <= at <= last:
        where = "before the first bar" if at < first else "after the last bar"
        raise RevertibleError(f"--at {at:%Y-%m-%d %H:%M} is {where} of the data ({held}); "
                              "choose a time inside it")
    if since is not None and since > last:
        raise RevertibleError(f"--since {since:%Y-%m-%d %H:%M} is after the data's last bar "
                              f"({held}); choose dates inside it")
    if until is not None and until < first:
        raise RevertibleError(f"--until {until:%Y-%m-%d %H:%M} is before the data's first bar "
                              f"({held}); choose dates inside it")


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn expected errors into a one-line message and exit code 2; Ctrl-C into 130.

    Runs :func:`precheck` on the options first; an ``OSError`` that escapes (a disk full, a
    path made read-only meanwhile) becomes one line naming the file, never a traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            precheck(kwargs, fn.__name__)
            with heartbeat(fn.__name__):
                if fn.__name__ not in TRACKED_COMMANDS:
                    return fn(*args, **kwargs)
                with lazy_store():
                    return fn(*args, **kwargs)
        except RevertibleError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except MemoryError:
            _fail("out of memory: lower compute.block_size or restrict data.assets")
        except OSError as exc:
            where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
            _fail(f"cannot read or write{where}: {exc.strerror or exc}; check the path, its "
                  "permissions and free disk space")

    return wrapper


def _config(config: Path, sets: list[str] | None, data: Path | None) -> Config:
    return load_config(config, sets or [], str(data) if data else None)


#: Without a terminal (cron, CI), a step running longer than ``PLAIN_PROGRESS_AFTER`` seconds
#: logs a plain line then and every ``PLAIN_PROGRESS_EVERY`` seconds, and one when it ends.
PLAIN_PROGRESS_AFTER = 5.0
PLAIN_PROGRESS_EVERY = 10.0
#: A command silent for this many seconds prints a ``<command>: working (<stage>), N s`` line
#: (``REVERTIBLE_HEARTBEAT_S`` overrides it): 9 s, so no gap reaches the promised 10 s.
HEARTBEAT_EVERY = float(os.environ.get("REVERTIBLE_HEARTBEAT_S") or 9.0)
_ACTIVITY: dict[str, Any] = {"last": 0.0, "stage": ""}


def note_progress(stage: str | None = None) -> None:
    """Record that progress was shown now (and, if given, the stage now running)."""
    _ACTIVITY["last"] = time.monotonic()
    if stage:
        _ACTIVITY["stage"] = stage


def set_stage(stage: str) -> None:
    """Name the stage now running (the heartbeat line says it); shows nothing by itself."""
    _ACTIVITY["stage"] = stage


def _real_stream(stream: Any) -> bool:
    """A stream backed by a file descriptor (not a test runner's in-memory buffer)."""
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


@contextlib.contextmanager
def heartbeat(command: str, every: float | None = None, stream: Any = None) -> Iterator[None]:
    """While ``command`` runs, a line on stderr whenever nothing was shown for ``every`` seconds.

    The line names the stage last announced (:func:`note_progress`, every progress bar does)
    and the time since the command started, so no step is ever silent for long. Only on a real
    stream: an in-process test runner's captured output stays as the command printed it.
    """
    stream = sys.stderr if stream is None else stream
    every = HEARTBEAT_EVERY if every is None else every
    if not _real_stream(stream):
        yield
        return
    import threading

    t0 = time.monotonic()
    note_progress("starting")
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(min(1.0, every / 4)):
            now = time.monotonic()
            if now - _ACTIVITY["last"] >= every:
                text = f"{command}: working ({_ACTIVITY['stage']}), {now - t0:.0f} s"
                if stream is sys.stderr and err.is_terminal:
                    err.print(text, highlight=False)
                else:
                    stream.write(text + "\n")
                    stream.flush()
                _ACTIVITY["last"] = now

    thread = threading.Thread(target=beat, name="revertible-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2.0)


@contextlib.contextmanager
def plain_progress(description: str) -> Iterator[Callable[[int, int], None]]:
    """Plain progress lines for logs; quick steps stay silent."""
    t0 = time.monotonic()
    state: dict[str, Any] = {"next": t0 + PLAIN_PROGRESS_AFTER, "done": 0, "total": 0,
                             "said": False}

    set_stage(description)

    def line(text: str) -> None:
        sys.stderr.write(f"{description}: {text}\n")
        sys.stderr.flush()
        state["said"] = True
        note_progress()

    def update(done: int, tot: int) -> None:
        state["done"], state["total"] = done, tot
        now = time.monotonic()
        if now >= state["next"]:
            state["next"] = now + PLAIN_PROGRESS_EVERY
            line(f"{done}/{tot} after {now - t0:.0f} s")

    yield update
    _ACTIVITY["stage"] = f"after {description}"
    took = time.monotonic() - t0
    if state["said"] or took >= PLAIN_PROGRESS_AFTER:
        tail = f" {state['done']}/{state['total']}" if state["total"] else ""
        line(f"done{tail} in {took:.1f} s")


@contextlib.contextmanager
def progress_bar(
    description: str, total: int | None = None
) -> Iterator[Callable[[int, int], None]]:
    """A transient progress bar on stderr (plain log lines when stderr is not a terminal)."""
    if not err.is_terminal:
        with plain_progress(description) as update:
            yield update
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as prog:
        task = prog.add_task(description, total=total)
        note_progress(description)

        def update(done: int, tot: int) -> None:
            prog.update(task, completed=done, total=tot)
            note_progress()  # the bar shows it live

        yield update
    _ACTIVITY["stage"] = f"after {description}"


def load_data(cfg: Config, *, pairs: bool = True):
    """Load and validate the panel with a progress bar; with ``pairs``, need 2 assets or more."""
    from ..data import load_panel

    with progress_bar("loading data") as update:
        panel = load_panel(cfg.data, progress=update)
    if pairs:
        require_pairs(panel)
        announce_compile()
    return panel


def require_pairs(panel: Any) -> None:
    """A pairs command on fewer than 2 assets fails instead of writing an empty result."""
    if panel.n_assets < 2:
        from ..errors import DataError

        raise DataError(
            f"data {panel.source}: only {panel.n_assets} asset ({', '.join(panel.assets)}) "
            "after data.assets; pairs need at least 2: add price files or widen data.assets"
        )


def require_pairs_files(cfg: Config) -> None:
    """:func:`require_pairs` for commands that load the data themselves (score, backtest, tune).

    Counts the price files ``data.assets`` selects (each becomes one panel asset, or the load
    fails), so the check costs milliseconds and runs before the model or the data is loaded; then
    says so if the numba kernels are about to be compiled (:func:`announce_compile`).
    """
    from ..data import discover_files
    from ..errors import DataError

    found = discover_files(Path(cfg.data.path), cfg.data.format, cfg.data.timeframe)
    names = [a for a, _ in found]
    wanted = cfg.data.assets
    assets = names if wanted is None else [a for a in dict.fromkeys(wanted) if a in names]
    if wanted is not None and len(assets) < len(set(wanted)):
        return  # unknown names in data.assets: the loader names them with a fix
    if len(assets) < 2:
        raise DataError(
            f"data {cfg.data.path}: only {len(assets)} asset ({', '.join(assets) or 'none'}) "
            "after data.assets; pairs need at least 2: add price files or widen data.assets"
        )
    announce_compile()


def announce_compile() -> None:
    """Say so when the numba kernels are about to be compiled (first run only, ~40 s)."""
    from .. import spread

    # numba's cache: NUMBA_CACHE_DIR (revertible/__init__ sets a user folder), else __pycache__
    root = os.environ.get("NUMBA_CACHE_DIR")
    found = (any(Path(root).glob("spread_*/_kernel.*.nbi")) if root
             else any((Path(spread.__file__).parent / "__pycache__").glob("_kernel.*.nbi")))
    if not found:
        err.print("compiling the spread kernels with numba (first run only, about 40 s; "
                  "cached afterwards)", highlight=False)


class _WarningHandler(logging.Handler):
    """Library warnings (``revertible.*`` loggers) as one ``warning:`` line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"[yellow]warning:[/] {record.getMessage()}", highlight=False, soft_wrap=True)


def _install_warning_handler() -> None:
    log = logging.getLogger("revertible")
    if not any(isinstance(h, _WarningHandler) for h in log.handlers):
        log.addHandler(_WarningHandler(logging.WARNING))
        log.setLevel(logging.INFO)
        log.propagate = False


_install_warning_handler()


#: Commands whose ``--out`` is one table file (parquet or CSV).
TABLE_OUTPUTS = frozenset({"pairs", "episodes", "score", "baskets", "sectors", "rebalance"})

#: Commands that open the MLflow store (they import MLflow anyway).
TRACKED_COMMANDS = frozenset({"train", "tune", "backtest", "score", "runs", "demo"})


@contextlib.contextmanager
def lazy_store() -> Iterator[None]:
    """While a command runs, an embedded MLflow store is created on its first run only.

    So a command that fails on its input leaves no ``mlflow.db``; restored afterwards, so library
    code in the same process (tests, notebooks) keeps the eager default.
    """
    from ..tracking import Tracker

    before = Tracker.create_on_connect
    Tracker.create_on_connect = False
    try:
        yield
    finally:
        Tracker.create_on_connect = before


def _version_callback(value: bool) -> None:
    if value:
        from .. import __version__

        out.print(f"revertible {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True,
                           help="Print the version and exit.")
    ] = False,
) -> None:
    """Pairs divergences: will they revert, and how big should each leg be."""


def emit_json(payload: dict[str, Any]) -> None:
    """Print the machine-readable result as the last line of standard output (strict JSON)."""
    sys.stdout.write(json.dumps(strict_json(payload), default=str, sort_keys=True,
                                allow_nan=False) + "\n")
    sys.stdout.flush()


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m revertible``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
