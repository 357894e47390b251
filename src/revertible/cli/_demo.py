"""``revertible demo``: the whole pipeline on a generated market."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import SetOpt, app, handle_errors, out, progress_bar


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

    result = run_demo(out_dir, config or DEMO_CONFIG, set or [], seed=seed, n_assets=n_assets,
                      days=days, console=out, progress=progress_bar)
    out.print(result["summary"])
