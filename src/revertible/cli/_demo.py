"""``revertible demo``: the whole pipeline on a generated market."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ._app import SetOpt, app, handle_errors, out, progress_bar, set_stage


@app.command()
@handle_errors
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for the generated data and outputs.")
    ] = Path("demo-out"),
    config: Annotated[
        Path | None, typer.Option(help="Demo config; default: the one shipped with the package "
                                       "(same as configs/demo.yaml).")
    ] = None,
    set: SetOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated market.")] = 7,
    n_assets: Annotated[int, typer.Option(help="Assets in the generated market.")] = 16,
    days: Annotated[int, typer.Option(help="Days of hourly bars.")] = 300,
) -> None:
    """The whole pipeline on a generated market with a known answer."""
    from ..demo import DEMO_CONFIG, run_demo
    from ..errors import RevertibleError

    # the generator lists two assets late and makes one illiquid, and needs 48 bars
    if n_assets < 3:
        raise RevertibleError(f"--n-assets {n_assets}: the generated market needs at least 3 "
                              "assets (default 16)")
    if days < 2:
        raise RevertibleError(f"--days {days}: the generated market needs at least 2 days of "
                              "hourly bars (default 300; under about 150 days too few "
                              "episodes to train on)")

    result = run_demo(out_dir, config or DEMO_CONFIG, set or [], seed=seed, n_assets=n_assets,
                      days=days, console=out, progress=progress_bar, stage=set_stage)
    out.print(result["summary"])
    from ..config import load_config
    from ..tracking import store_uri

    cfg = load_config(config or DEMO_CONFIG, set or [], data=str(Path(out_dir) / "data"))
    for line in demo_epilogue(result, store_uri(cfg.tracking), cfg.tracking.registered_model):
        out.print(line, highlight=False, soft_wrap=True)


def demo_epilogue(result: dict[str, Any], tracking_uri: str, model_name: str) -> list[str]:
    """The demo's last lines: where its report is, and how to open its runs in the MLflow UI.

    Links open the model-training view (:func:`~revertible.tracking.ui_link`); for an
    embedded store the first line says how to start the UI.
    """
    from ..tracking import ui_command, ui_link

    def run_link(run_id: str | None) -> str | None:
        if not run_id:
            return None
        try:
            from mlflow import MlflowClient

            exp = MlflowClient(tracking_uri).get_run(run_id).info.experiment_id
        except Exception:  # noqa: BLE001 - no link rather than a failure at the very end
            return None
        return ui_link(tracking_uri, experiment_id=exp, run_id=run_id)

    lines = []
    backtest = result.get("backtest") or {}
    if backtest.get("report"):
        lines.append(f"report: {Path(backtest['report']).resolve()} (open it in a browser)")
    if tracking_uri.startswith(("http://", "https://")):
        lines.append("MLflow UI:")
    else:
        lines.append(f"MLflow UI: run `{ui_command(tracking_uri)}`, then open:")
    train = result.get("train") or {}
    for what, link in (("training run", run_link(train.get("run_id"))),
                       ("backtest run", run_link(backtest.get("run_id")))):
        if link:
            lines.append(f"  {what}: {link}")
    if train.get("registered_version") is not None:
        link = ui_link(tracking_uri, model=model_name, version=train["registered_version"])
        lines.append(f"  registered model: {link}")
    return lines
