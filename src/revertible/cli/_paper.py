"""``revertible paper``: the forward-test ledger (the backtest engine, run bar by bar)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import (
    ConfigArg,
    DataOpt,
    JsonOpt,
    SetOpt,
    _config,
    _utc,
    app,
    check_output_file,
    emit_json,
    err,
    handle_errors,
    out,
    progress_bar,
    require_pairs_files,
)
from ._live import NotifyOpt


@app.command()
@handle_errors
def paper(
    config: ConfigArg,
    model: Annotated[str, typer.Option(
        help="runs:/<id>/model, models:/<name>@champion, models:/<name>/<v> or a model folder.")],
    ledger: Annotated[Path, typer.Option(
        help="The ledger (SQLite); created on the first run, then extended bar by bar.")],
    since: Annotated[str | None, typer.Option(
        help="First run only: start the ledger at this bar (UTC); default the last closed bar. "
             "A bar inside the model's training data is refused (in sample).")]
    = None,
    notify_urls: NotifyOpt = None,
    rotate: Annotated[bool, typer.Option(
        "--rotate", help="When the ledger was kept for another model (a retrain moved "
        "@champion), move it aside to <ledger>-<its model's run>.sqlite and start a new one at "
        "the last closed bar, instead of refusing; another config is still refused.")] = False,
    set: SetOpt = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Paper-trade the model: replay the backtest to the last closed bar, extend the ledger."""
    import pandas as pd

    from ..errors import RevertibleError
    from ..live import check_notify_urls, notify
    from ..workflows import paper_command, paper_summary

    check_output_file(ledger, "--ledger")
    check_notify_urls(notify_urls)
    cfg = _config(config, set, data)
    if since is not None:
        _utc(since, "--since")
    require_pairs_files(cfg)
    try:
        rep = paper_command(cfg, model, ledger, since=since, notify_urls=notify_urls,
                            rotate=rotate,
                            log=lambda line: err.print(line, highlight=False, soft_wrap=True),
                            progress=progress_bar, now=pd.Timestamp.now(tz="UTC"))
    except RevertibleError as exc:
        notify(notify_urls, f"paper {ledger}: {exc}", title="revertible paper failed",
               level="failure")
        raise
    for line in paper_summary(rep, float(cfg.sizing.capital)):
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    if json:
        emit_json({**rep.as_dict(), "model_uri": model, "metrics": rep.metrics()})
