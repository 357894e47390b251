"""Model commands: ``train`` and ``tune``."""

from __future__ import annotations

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
    load_data,
    out,
    progress_bar,
    require_pairs_files,
)


@app.command()
@handle_errors
def train(
    config: ConfigArg,
    set: SetOpt = None,
    data: DataOpt = None,
    promote: Annotated[
        bool, typer.Option("--promote/--no-promote",
                           help="Point the registered model's 'champion' alias here (and say "
                                "how it compares with the previous champion on the holdout).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Features, purged walk-forward CV, calibration, final fit, holdout; log, register (MLflow)."""
    from ..workflows import train as run_train

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
        typer.Option(help="Optuna storage URL; default tuning.storage (a SQLite file in "
                          "experiments/). Share a PostgreSQL URL to tune from several "
                          "machines."),
    ] = None,
    retrain_best: Annotated[
        bool, typer.Option("--retrain-best/--no-retrain-best",
                           help="Fit, evaluate once and register the best.")
    ] = False,
    objective: Annotated[
        str, typer.Option(metavar="NAME",
                          help="model: LightGBM hyperparameters (tuning.space); strategy: "
                               "strategy and label settings (the space of tuning.strategy) by a "
                               "walk-forward after-cost backtest, validation period held out.")
    ] = "model",
    validate_best: Annotated[
        bool, typer.Option("--validate-best/--no-validate-best",
                           help="--objective strategy: backtest the best trial once on the "
                                "held-out validation period (validation_days of tuning.strategy).")
    ] = False,
    fidelity: Annotated[
        str | None, typer.Option(metavar="NAME",
                                 help="--objective strategy: 'low' ranks the trials with a "
                                      "cheaper model and re-scores the best at full fidelity "
                                      "before reporting (fidelity of tuning.strategy); default the "
                                      "config's ('full').")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Optuna study of the model (development period, never the holdout) or of the strategy."""
    from ..tuning import tune_command

    if fidelity is not None:
        if objective != "strategy":
            _fail(f"--fidelity {fidelity} applies to --objective strategy only (got --objective "
                  f"{objective}); drop --fidelity or use --objective strategy")
        if fidelity not in ("full", "low"):
            _fail(f"--fidelity {fidelity!r}: use 'full' or 'low'")
        set = [*(set or []), f"tuning.strategy.fidelity={fidelity}"]
    cfg = _config(config, set, data)
    from ..costs import not_replayed

    if objective == "strategy" and (why := not_replayed(cfg.costs)) is not None:
        _fail(why)
    require_pairs_files(cfg)
    res = tune_command(cfg, trials=trials, study=study, storage=storage,
                       retrain_best=retrain_best, config_path=config, console=err,
                       progress=progress_bar, objective=objective, validate_best=validate_best)
    if json_out:
        keys = ("run_id", "model_uri", "best_value", "best_params", "n_trials_done", "metrics")
        if objective == "strategy":
            keys = ("run_id", "study", "best_value", "best_params", "best_trial",
                    "n_trials_done", "validation_start", "search", "validation", "metrics")
        emit_json({k: res.get(k) for k in keys})
