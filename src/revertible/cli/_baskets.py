"""Basket commands: ``baskets`` (thematic baskets, stress, regime monitor) and ``sectors``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ._app import (
    ConfigArg,
    DataOpt,
    SetOpt,
    _config,
    app,
    handle_errors,
    load_data,
    out,
    set_stage,
)

AtOpt = Annotated[
    str | None, typer.Option(help="As-of time (UTC), e.g. 2024-07-01T00:00; default last bar.")
]


@app.command()
@handle_errors
def baskets(
    config: ConfigArg,
    set: SetOpt = None,
    data: DataOpt = None,
    at: AtOpt = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the basket table here (.parquet or .csv).")
    ] = None,
    heatmap: Annotated[
        Path | None, typer.Option(help="Write the baskets' correlation heatmap PNG here.")
    ] = None,
    regime_out: Annotated[
        Path | None,
        typer.Option("--regime-out", help="Write the trigger events of these baskets over the "
                     "whole history here (.parquet or .csv)."),
    ] = None,
    regime_plot: Annotated[
        Path | None,
        typer.Option("--regime-plot", help="Plot these baskets' triggers over the history (PNG)."),
    ] = None,
) -> None:
    """Thematic baskets at a date, with weights, stress at 0.95 and regime triggers.

    Clusters of the 30/60/90-day return correlations; optionally the triggers over the history.
    """
    from ..baskets import basket_regime, basket_table, plot_basket_heatmap, plot_regime
    from ..baskets import regime_events as events_of
    from ..io import write_table

    cfg = _config(config, set, data)
    panel = load_data(cfg)
    set_stage("clustering the baskets")
    df = basket_table(panel, cfg, at)
    when = df["time"].iloc[0] if len(df) else (at or panel.times[-1])
    out.print(f"{df['basket'].nunique()} baskets ({len(df)} assets) at {when}")
    if len(df):
        show = df.groupby("basket", sort=True).agg(
            assets=("asset", lambda s: " ".join(a.split("/")[0] for a in s)),
            weights=("weight", lambda s: " ".join(f"{w:.2f}" for w in s)),
            mean_corr=("mean_corr", "first"), loss_now=("loss_now", "first"),
            stress_loss_095=("stress_loss_095", "first"), trigger=("trigger", "first"))
        out.print(show.to_string(float_format="%.3f"))
        bc = cfg.baskets  # what the figures are: a bare "loss_now 0.156" read as a loss taken
        out.print(f"loss_now, stress_loss_095: the {bc.shock_sigma:g}-sigma daily loss as a "
                  f"share of the basket's notional, under the {bc.windows_days[0]}-day "
                  f"correlations and with every correlation at {bc.stress_corr:g}; trigger: a "
                  "regime trigger (correlation shift or volatility spike) is on at this bar",
                  highlight=False, soft_wrap=True)
    if out_path:
        write_table(df, out_path)
        out.print(f"wrote {len(df)} rows to {out_path}")
    if heatmap:
        plot_basket_heatmap(panel, cfg, df, heatmap)
        out.print(f"wrote heatmap {heatmap}")
    if (regime_out or regime_plot) and not len(df):
        lo, hi = cfg.baskets.corr_band
        skipped = " and ".join(str(p) for p in (regime_out, regime_plot) if p)
        out.print(f"no basket at {when} (no {cfg.baskets.min_size} or more assets with every "
                  f"pairwise correlation in [{lo}, {hi}], baskets.corr_band): {skipped} not "
                  "written", highlight=False)
    if (regime_out or regime_plot) and len(df):
        set_stage("regime triggers over the history")
        reg = basket_regime(panel, df[["basket", "asset", "weight"]], cfg.baskets,
                            cfg.universe.min_obs_frac)
        ev = events_of(reg)
        n_v = int((ev["trigger"] == "vol_spike").sum())
        out.print(f"regime monitor: {len(ev)} trigger onsets over {panel.n_bars} bars "
                  f"({n_v} volatility spikes, {len(ev) - n_v} correlation shifts)")
        if regime_out:
            write_table(ev, regime_out)
            out.print(f"wrote {len(ev)} trigger events to {regime_out}")
        if regime_plot:
            plot_regime(reg, regime_plot, cfg.baskets,
                        title=f"regime triggers of the baskets formed at {when:%Y-%m-%d %H:%M}"
                        if hasattr(when, "strftime") else "regime triggers")
            out.print(f"wrote regime plot {regime_plot}")


@app.command()
@handle_errors
def sectors(
    config: ConfigArg,
    set: SetOpt = None,
    data: DataOpt = None,
    sector: Annotated[
        str | None, typer.Option(help="Sector name (e.g. ai, l1, memecoins); default: list them.")
    ] = None,
    at: AtOpt = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write the sector's pairs here (.parquet/.csv).")
    ] = None,
    heatmap: Annotated[
        Path | None, typer.Option(help="Write the sector's clustered heatmap PNG here.")
    ] = None,
) -> None:
    """One sector's pairs with 30-day correlation and funding differential (or list sectors).

    Config ``baskets.sectors`` maps assets to sectors (default: a small map for the shared data).
    """
    from ..universe import sector_map

    cfg = _config(config, set, data)
    panel = load_data(cfg)
    if sector is not None:
        sector_report(panel, cfg, sector, at, out_path, heatmap)
        return
    mapping = sector_map(panel.assets, cfg.baskets.sectors)
    counts: dict[str, list[str]] = {}
    for a, s in sorted(mapping.items()):
        counts.setdefault(s, []).append(a.split("/")[0])
    for s, names in sorted(counts.items()):
        out.print(f"{s} ({len(names)}): {' '.join(names)}")


def sector_report(panel, cfg, sector: str, at: str | None, out_path: Path | None,
                  heatmap: Path | None) -> None:
    """Print one sector's pairs (30-day correlation, funding differential); write table/heatmap.

    Shared by ``revertible sectors --sector`` and ``revertible pairs --sector``.
    """
    from ..baskets import plot_sector_heatmap, sector_pairs
    from ..io import write_table

    df = sector_pairs(panel, cfg, sector, at)
    out.print(f"sector {sector}: {len(df)} pairs at {df['time'].iloc[0] if len(df) else at}")
    if len(df):
        # funding in bp per settlement: as a rate at 4 decimals DOGE's 30-day mean printed
        # "0.0000"; a missing figure as "-" with the reason below, not a bare "NaN"
        cols = ["funding_a", "funding_b", "funding_diff"]
        show = df.drop(columns=["time", "sector"]).assign(**{c: df[c] * 1e4 for c in cols})
        show = show.rename(columns={c: f"{c}_bp" for c in cols})
        corr = next(c for c in show.columns if c.startswith("corr_"))
        out.print(show.to_string(index=False, na_rep="-", formatters={
            corr: "{:.3f}".format, **{f"{c}_bp": "{:+.2f}".format for c in cols}}))
        out.print("funding_*_bp: the mean funding rate per 8-hour settlement over the window, in "
                  "bp of notional (positive: longs pay shorts); funding_diff = a - b; '-': no "
                  f"funding data for the asset (no perpetual), or for {corr} too little history",
                  highlight=False, soft_wrap=True)
    if out_path:
        write_table(df, out_path)
        out.print(f"wrote {len(df)} rows to {out_path}")
    if heatmap:
        plot_sector_heatmap(panel, cfg, sector, heatmap, at)
        out.print(f"wrote heatmap {heatmap}")
