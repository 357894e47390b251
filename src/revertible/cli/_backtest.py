"""``revertible backtest``: cost-aware replay next to naive baselines."""

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
    _fail,
    app,
    emit_json,
    err,
    handle_errors,
    out,
    progress_bar,
    require_pairs_files,
)


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
    since: Annotated[str | None, typer.Option(
        help="First bar to trade (UTC); default: with --model the model's holdout start, with "
             "--walk-forward the first episode plus backtest.min_train_days.")] = None,
    until: Annotated[str | None, typer.Option(
        help="Last bar to trade (UTC); a date alone (2024-08-31) includes that whole day; "
             "default the last bar.")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for the HTML report and the ledger; "
                                                "default: they are only in the MLflow run.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Cost-aware replay of scored divergences next to naive baselines; HTML report + MLflow.

    The summary table (one row per strategy) goes to standard output; with --json to standard
    error, and the JSON object is the last line of standard output.
    """
    from ..backtest import backtest_command

    if (model is None) == (not walk_forward):
        _fail("give exactly one of --model URI or --walk-forward")
    cfg = _config(config, set, data)
    from ..costs import not_replayed

    if (why := not_replayed(cfg.costs)) is not None:
        _fail(why)
    require_pairs_files(cfg)
    res = backtest_command(cfg, model_uri=model, walk_forward=walk_forward, since=since,
                           until=until, out_dir=out_dir, config_path=config, console=err,
                           progress=progress_bar, summary_to=err if json_out else out)
    if json_out:
        emit_json({"run_id": res.get("run_id"), "model_uri": model, "metrics": res["metrics"]})
