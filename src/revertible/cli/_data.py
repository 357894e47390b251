"""Data-stage commands: ``validate``, ``pairs`` and ``episodes``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import RevertibleError
from ._app import (
    ConfigArg,
    DataOpt,
    SetOpt,
    _config,
    app,
    handle_errors,
    load_data,
    out,
    progress_bar,
    set_stage,
)


@app.command()
@handle_errors
def validate(config: ConfigArg, set: SetOpt = None, data: DataOpt = None) -> None:
    """Check the config and the data; print a per-asset summary (writes nothing)."""
    from ..data import stale_assets, summarize

    cfg = _config(config, set, data)
    panel = load_data(cfg, pairs=False)
    set_stage("per-asset summary")
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
    stale = stale_assets(summary, panel.times[-1])
    if len(stale):
        worst = stale.iloc[0]
        groups = stale.groupby("hours_behind")["asset"].count().sort_index(ascending=False)
        shown = ", ".join(f"{n} end {h:g} h early" for h, n in groups.head(3).items())
        out.print(
            f"warning: {len(stale)} of {panel.n_assets} assets end before the last bar "
            f"{panel.times[-1]:%Y-%m-%d %H:%M} UTC ({shown}; e.g. {worst.asset} last bar "
            f"{worst.last_bar:%Y-%m-%d %H:%M}): their prices are stale at the live bar; "
            "refresh those files before scoring live signals",
            highlight=False, soft_wrap=True,
        )
    out.print(
        f"ok: {panel.n_assets} assets from {panel.times[0]:%Y-%m-%d %H:%M} to "
        f"{panel.times[-1]:%Y-%m-%d %H:%M} UTC; {int(summary['missing_bars'].sum())} missing bars "
        f"inside histories; {len(stale)} assets end early; "
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
    sector: Annotated[
        str | None, typer.Option(help="Only this sector (baskets.sectors / the default map): its "
                                      "clustered heatmap with funding differentials.")
    ] = None,
) -> None:
    """Correlation engine: pairs eligible as of a date, with 30/60/90-day correlations."""
    from ..io import write_table
    from ..universe import bar_index, eligible_pairs, plot_corr_heatmap

    cfg = _config(config, set, data)
    panel = load_data(cfg)
    set_stage("correlations and eligibility of every pair")
    if sector is not None:
        from ._baskets import sector_report

        sector_report(panel, cfg, sector, at, out_path, heatmap)
        return
    try:
        df = eligible_pairs(panel, cfg.universe, at, include_ineligible=all_pairs)
    except ValueError as exc:
        raise RevertibleError(f"--at {at}: {exc}") from None
    n_el = int(df["eligible"].sum())
    out.print(
        f"{n_el} eligible pairs at "
        f"{df['time'].iloc[0] if len(df) else panel.times[bar_index(panel, at)]} "
        f"({((df['relationship'] == 'inverse') & df['eligible']).sum()} inverse)"
    )
    show = df[df["eligible"]].copy()
    key = f"corr_{cfg.universe.eligibility_window_days}d"
    show = show.reindex(show[key].abs().sort_values(ascending=False).index).head(15)
    if len(show):
        out.print(show.drop(columns=["time"]).to_string(index=False, float_format="%.3f"))
        if len(show) < n_el:  # a table of 15 under "1825 eligible pairs" read as all of them
            out.print(f"(the {len(show)} of {n_el} with the largest |{key}|"
                      + (f"; all in {out_path})" if out_path else "; --out writes them all)"),
                      highlight=False)
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
    from ..episodes import write_episodes

    cfg = _config(config, set, data)
    panel = load_data(cfg)
    with progress_bar("episodes (pairs)") as update:
        summary = write_episodes(panel, cfg, out_path, progress=update)
    exits = ", ".join(f"{k} {v:,}" for k, v in summary["exit_reasons"].items())
    out.print(
        f"{summary['episodes']:,} episodes over {summary['pairs_with_episodes']} pairs "
        f"({summary['pairs']} in the universe); labelled {summary['labelled']:,}, "
        f"open {summary['open']:,}; reversion rate {summary['reversion_rate']:.3f}; "
        f"exits: {exits}", highlight=False
    )
    if out_path:
        out.print(f"wrote {out_path}")
