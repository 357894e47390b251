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
from rich.table import Table

from .config import Config, load_config
from .errors import RevertibleError

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
def progress_bar(description: str, total: int | None = None) -> Iterator[Callable[[int, int], None]]:
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
    from .data import load_panel

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


@app.command()
@handle_errors
def validate(config: ConfigArg, set: SetOpt = None, data: DataOpt = None) -> None:
    """Check the config and the data; print a per-asset summary (writes nothing)."""
    from .data import summarize

    cfg = _config(config, set, data)
    panel = load_data(cfg)
    summary = summarize(panel)
    table = Table(title=f"{panel.n_assets} assets, {panel.n_bars} bars ({panel.source})")
    for col in ("asset", "first_bar", "last_bar", "bars", "missing_bars", "filled_bars",
                "median_daily_quote_volume", "has_funding"):
        table.add_column(col, justify="right" if col not in ("asset",) else "left")
    for row in summary.itertuples(index=False):
        table.add_row(
            row.asset, f"{row.first_bar:%Y-%m-%d %H:%M}", f"{row.last_bar:%Y-%m-%d %H:%M}",
            str(row.bars), str(row.missing_bars), str(row.filled_bars),
            f"{row.median_daily_quote_volume:,.0f}", "yes" if row.has_funding else "",
        )
    out.print(table)
    low = summary[summary["median_daily_quote_volume"] < cfg.universe.min_quote_volume]
    out.print(
        f"ok: {panel.n_assets} assets from {panel.times[0]:%Y-%m-%d %H:%M} to "
        f"{panel.times[-1]:%Y-%m-%d %H:%M} UTC; {int(summary['missing_bars'].sum())} missing bars; "
        f"{len(low)} assets below the {cfg.universe.min_quote_volume:,.0f} median daily quote "
        f"volume filter; fingerprint {panel.fingerprint()}"
    )


@app.command()
@handle_errors
def pairs(
    config: ConfigArg,
    set: SetOpt = None,
    data: DataOpt = None,
    at: Annotated[
        str | None, typer.Option(help="As-of time (UTC), e.g. 2024-06-01T12:00; default last bar.")
    ] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the eligible pairs here (.parquet or .csv).")
    ] = None,
    heatmap: Annotated[
        Path | None, typer.Option(help="Write a clustered correlation heatmap PNG here.")
    ] = None,
    all_pairs: Annotated[
        bool, typer.Option("--all", help="Include ineligible pairs with the reason.")
    ] = False,
) -> None:
    """Correlation engine: pairs eligible as of a date, with 30/60/90-day correlations."""
    from .io import write_table
    from .pairs import eligible_pairs, plot_corr_heatmap

    cfg = _config(config, set, data)
    panel = load_data(cfg)
    try:
        df = eligible_pairs(panel, cfg.universe, at, include_ineligible=all_pairs)
    except ValueError as exc:
        raise RevertibleError(f"--at {at}: {exc}") from None
    n_el = int(df["eligible"].sum())
    out.print(
        f"{n_el} eligible pairs at {df['time'].iloc[0] if len(df) else at} "
        f"({(df['relationship'] == 'inverse').sum()} inverse)"
    )
    show = df[df["eligible"]].copy()
    key = f"corr_{cfg.universe.eligibility_window_days}d"
    show = show.reindex(show[key].abs().sort_values(ascending=False).index).head(15)
    if len(show):
        out.print(show.drop(columns=["time"]).to_string(index=False, float_format="%.3f"))
    if out_path:
        write_table(df, out_path)
        out.print(f"wrote {len(df)} rows to {out_path}")
    if heatmap:
        plot_corr_heatmap(panel, cfg.universe, heatmap, at)
        out.print(f"wrote heatmap {heatmap}")


@app.command()
@handle_errors
def episodes(
    config: ConfigArg,
    set: SetOpt = None,
    data: DataOpt = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the episode table here (.parquet or .csv).")
    ] = None,
) -> None:
    """Divergence episodes with their reversion labels, for every eligible pair."""
    from .episodes import write_episodes

    cfg = _config(config, set, data)
    panel = load_data(cfg)
    with progress_bar("episodes (pairs)") as update:
        summary = write_episodes(panel, cfg, out_path, progress=update)
    out.print(
        f"{summary['episodes']} episodes over {summary['pairs_with_episodes']} pairs "
        f"({summary['pairs']} in the universe); labelled {summary['labelled']}, "
        f"open {summary['open']}; reversion rate {summary['reversion_rate']:.3f}; "
        f"exits: {summary['exit_reasons']}"
    )
    if out_path:
        out.print(f"wrote {out_path}")


@app.command()
@handle_errors
def train(
    config: ConfigArg,
    set: SetOpt = None,
    data: DataOpt = None,
    promote: Annotated[
        bool, typer.Option("--promote", help="Point the registered model's 'champion' alias here.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Features, purged walk-forward CV, calibration, final fit, holdout; log + register in MLflow."""
    from .train import train as run_train

    cfg = _config(config, set, data)
    panel = load_data(cfg)
    res = run_train(cfg, config_path=config, panel=panel, promote=promote, console=err,
                    progress=progress_bar)
    if json_out:
        emit_json({"run_id": res["run_id"], "model_uri": res["model_uri"],
                   "registered_version": res["registered_version"], "metrics": res["metrics"]})
    else:
        out.print(f"run_id {res['run_id']}  model_uri {res['model_uri']}")


@app.command()
@handle_errors
def tune(
    config: ConfigArg,
    trials: Annotated[int, typer.Option(help="Total finished trials the study should reach.")],
    set: SetOpt = None,
    data: DataOpt = None,
    study: Annotated[
        str | None, typer.Option(help="Study name (resumable); default tuning.study.")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(help="Optuna storage URL; default tuning.storage (sqlite:///experiments/"
                          "optuna.db). Share a PostgreSQL URL to tune from several machines."),
    ] = None,
    retrain_best: Annotated[
        bool, typer.Option("--retrain-best", help="Fit, evaluate once and register the best.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Optuna study over the model's hyperparameters on the development period (never the holdout)."""
    from .tune import tune_command

    cfg = _config(config, set, data)
    res = tune_command(cfg, trials=trials, study=study, storage=storage,
                       retrain_best=retrain_best, config_path=config, console=err,
                       progress=progress_bar)
    if json_out:
        emit_json({k: res.get(k) for k in ("run_id", "model_uri", "best_value", "best_params",
                                            "n_trials_done", "metrics")})


@app.command()
@handle_errors
def score(
    config: ConfigArg,
    model: Annotated[
        str, typer.Option(help="runs:/<id>/model, models:/<name>@champion, models:/<name>/<v> "
                               "or a model folder.")
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Signals file (.parquet or .csv).")],
    set: SetOpt = None,
    data: DataOpt = None,
    since: Annotated[
        str | None, typer.Option(help="Historical scoring: first entry time (UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Historical scoring: last entry time (UTC).")
    ] = None,
    capital: Annotated[
        float | None, typer.Option(help="Capital to size against; default sizing.capital.")
    ] = None,
) -> None:
    """Score divergences (open ones as of the last bar by default) and size their two legs."""
    from .scoring import score_command

    cfg = _config(config, set, data)
    score_command(cfg, model, since=since, until=until, capital=capital, out=out_path,
                  console=out, progress=progress_bar)


@app.command()
@handle_errors
def backtest(
    config: ConfigArg,
    set: SetOpt = None,
    data: DataOpt = None,
    model: Annotated[
        str | None, typer.Option(help="Score the range with this one model (URI or folder).")
    ] = None,
    walk_forward: Annotated[
        bool, typer.Option("--walk-forward", help="Retrain every backtest.retrain_every_days; "
                                                  "every trade out of sample.")
    ] = False,
    since: Annotated[str | None, typer.Option(help="First bar to trade (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Last bar to trade (UTC).")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for the HTML report and the ledger.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Cost-aware replay of scored divergences next to naive baselines; HTML report + MLflow."""
    from .backtest import backtest_command

    if (model is None) == (not walk_forward):
        _fail("give exactly one of --model URI or --walk-forward")
    cfg = _config(config, set, data)
    res = backtest_command(cfg, model_uri=model, walk_forward=walk_forward, since=since,
                           until=until, out_dir=out_dir, config_path=config, console=err,
                           progress=progress_bar)
    if json_out:
        emit_json({"run_id": res.get("run_id"), "model_uri": model, "metrics": res["metrics"]})


@app.command()
@handle_errors
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for the generated data and outputs.")
    ] = Path("demo-out"),
    config: Annotated[Path, typer.Option(help="Demo config.")] = Path("configs/demo.yaml"),
    set: SetOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated market.")] = 7,
    n_assets: Annotated[int, typer.Option(help="Assets in the generated market.")] = 16,
    days: Annotated[int, typer.Option(help="Days of hourly bars.")] = 300,
) -> None:
    """The whole pipeline on a generated market with a known answer."""
    from .demo import run_demo

    result = run_demo(out_dir, config, set or [], seed=seed, n_assets=n_assets, days=days,
                      console=out, progress=progress_bar)
    out.print(result["summary"])


def main() -> None:  # pragma: no cover - console entry point
    """Entry point for ``python -m revertible``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
