"""``revertible score``: sized signals from a registered model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import (
    ConfigArg,
    DataOpt,
    SetOpt,
    _config,
    _fail,
    app,
    handle_errors,
    out,
    progress_bar,
    require_pairs_files,
)


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
        str | None, typer.Option(help="Historical scoring: last entry time (UTC); a date alone "
                                       "(2024-08-31) includes that whole day.")
    ] = None,
    capital: Annotated[
        float | None, typer.Option(help="Capital to size against; default sizing.capital.")
    ] = None,
) -> None:
    """Score divergences (open ones as of the last bar by default) and size their two legs."""
    from ..scoring import score_command

    cfg = _config(config, set, data)
    from ..costs import not_replayed

    if (why := not_replayed(cfg.costs)) is not None:
        _fail(why)
    require_pairs_files(cfg)
    score_command(cfg, model, since=since, until=until, capital=capital, out=out_path,
                  console=out, progress=progress_bar)
