"""``revertible runs``: the experiment's runs with their headline metrics, and two side by side."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer
from rich.table import Table

from ._app import ConfigArg, DataOpt, SetOpt, _config, app, err, handle_errors, out


def ui_hint(uri: str, link: str) -> str:
    """``MLflow UI: <link>``, with how to start the UI for an embedded store."""
    if uri.startswith(("http://", "https://")):
        return f"MLflow UI: {link}"
    from ..tracking import ui_command

    return f"MLflow UI: {link} (start it first: {ui_command(uri)})"


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if not math.isfinite(v):
            return ""
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    if hasattr(v, "strftime"):
        return f"{v:%Y-%m-%d %H:%M}"
    return str(v)


@app.command()
@handle_errors
def runs(
    config: ConfigArg,
    set: SetOpt = None,
    data: DataOpt = None,
    kind: Annotated[
        str, typer.Option(metavar="train|backtest|hedge|all",
                          help="train (training and tuning runs), backtest, hedge, or all.")
    ] = "train",
    sort: Annotated[
        str | None, typer.Option(help="Metric to sort by, best first: holdout_auc (default for "
                                      "training), sharpe (backtests), holdout_ece or any metric "
                                      "name.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many runs.")] = 30,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(help="Two run ids (or unique prefixes or names): differing params, metrics "
                          "and tags side by side."),
    ] = None,
    all_keys: Annotated[
        bool, typer.Option("--all/--diff", help="With --compare: all keys, not only differing.")
    ] = False,
) -> None:
    """Table of the experiment's runs with their headline metrics, best first."""
    from ..errors import ConfigError
    from ..tracking import Tracker, compare_runs, list_runs, ui_link

    if kind not in ("train", "backtest", "hedge", "all"):
        raise ConfigError(f"--kind {kind}: must be train, backtest, hedge or all")
    cfg = _config(config, set, data)  # the runs need no data; --data is accepted like everywhere
    tracker = Tracker(cfg.tracking)
    if compare:
        df = compare_runs(tracker, *compare, show_all=all_keys)
        (ida, na), (idb, nb) = df.attrs["runs"]
        table = Table(title=f"{len(df)} {'keys' if all_keys else 'differences'}")
        table.add_column("section")
        table.add_column("key")
        table.add_column(f"{na}\n{ida[:8]}", justify="right")
        table.add_column(f"{nb}\n{idb[:8]}", justify="right")
        for row in df.itertuples(index=False):
            table.add_row(row.section, row.key, _cell(row.a), _cell(row.b))
        out.print(table)
        if df.attrs.get("warning"):
            err.print(f"[yellow]{df.attrs['warning']}[/]", highlight=False, soft_wrap=True)
        return
    df = list_runs(tracker, kind=kind, sort=sort, limit=limit)
    if df.empty:
        out.print(f"no {kind} runs in experiment {cfg.tracking.experiment!r} at {tracker.uri}")
        return
    table = Table(title=f"{len(df)} {kind} runs of {cfg.tracking.experiment!r} ({tracker.uri}), "
                        f"best first")
    cols = [c for c in df.columns if c not in ("status",)]
    for c in cols:
        table.add_column(c, justify="left" if c in ("run_id", "name", "kind", "data_range", "range",
                                                     "alias") else "right",
                         overflow="fold")
    for row in df[cols].itertuples(index=False):
        cells = zip(cols, row, strict=True)
        table.add_row(*[(v[:8] if c == "run_id" else _cell(v)) for c, v in cells])
    out.print(table)
    ids = df.attrs.get("experiment_ids") or [None]  # read, never created: runs only reads
    out.print(ui_hint(tracker.uri, ui_link(tracker.uri, experiment_id=ids[0])),
              highlight=False, soft_wrap=True)
