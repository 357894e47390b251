"""Live-loop commands: ``download`` (and ``monitor``, registered from here too)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import RevertibleError
from ._app import (
    ConfigArg,
    DataOpt,
    JsonOpt,
    SetOpt,
    _config,
    _utc,
    app,
    check_output_dir,
    emit_json,
    err,
    handle_errors,
    progress_bar,
)

NotifyOpt = Annotated[
    list[str] | None,
    typer.Option("--notify", metavar="URL",
                 help="apprise URL to send alerts to (tgram://, discord://, "
                 "slack://, mailto://, json://host/path...); repeatable."),
]


def _dirs(cfg: Any, markets: tuple[str, ...], out_dir: Path | None) -> dict[str, Path]:
    """Target folder per market: ``--out``, else the folders the config reads."""
    if out_dir is not None:
        return {m: Path(out_dir) for m in markets}
    venue = cfg.costs.venue
    dirs: dict[str, Path] = {}
    for m in markets:
        if m == venue:
            dirs[m] = Path(cfg.data.path)
        elif m == "perp" and cfg.data.funding_path is not None:
            dirs[m] = Path(cfg.data.funding_path)
        else:
            raise RevertibleError(
                f"--market {m}: the config reads {venue} data (costs.venue={venue}, data.path="
                f"{cfg.data.path}); pass --out DIR for the {m} files")
    for d in dirs.values():
        check_output_dir(d, "data.path" if out_dir is None else "--out")
    return dirs


@app.command()
@handle_errors
def download(
    config: ConfigArg,
    exchange: Annotated[str, typer.Option(help="A ccxt exchange id: binance, bybit, okx...")]
    = "binance",
    since: Annotated[str | None, typer.Option(
        help="First bar (UTC date); needed for a first download, or to extend files backwards.")]
    = None,
    until: Annotated[str | None, typer.Option(
        help="Last day (UTC): a date alone includes that whole day, a time stops before "
             "it; default: up to the last closed bar.")] = None,
    market: Annotated[str | None, typer.Option(
        metavar="spot|perp|both",
        help="spot, perp or both; default: the config's costs.venue.")] = None,
    assets: Annotated[str | None, typer.Option(
        help="Comma-separated assets, e.g. BTC,ETH; default: data.assets, else the files there.")]
    = None,
    top_volume: Annotated[int | None, typer.Option(
        help="The N symbols of most quote volume in the month before --since (delisted "
             "included; Binance archive).")] = None,
    funding: Annotated[bool, typer.Option(
        "--funding/--no-funding", help="Perpetuals: also funding-rate and 8h mark files.")]
    = False,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Write here instead of the config's data folders.")] = None,
    archive_url: Annotated[str | None, typer.Option(
        help="A mirror of the Binance archive (default data.binance.vision).")] = None,
    api_url: Annotated[str | None, typer.Option(
        help="Route REST calls through this base: <base>/<exchange host>/<path>.")] = None,
    rate: Annotated[float, typer.Option(help="Requests a second at most (archive and REST).")]
    = 5.0,
    retries: Annotated[int, typer.Option(help="Retries of a failed request (backoff 1, 2, 4 s)")]
    = 4,
    notify_urls: NotifyOpt = None,
    set: SetOpt = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Download or update freqtrade-layout data up to the last closed bar (archive, then REST)."""
    from ..live import (
        DownloadError,
        DownloadRequest,
        check_notify_urls,
        download,
        notify,
        parse_asset,
    )

    check_notify_urls(notify_urls)
    cfg = _config(config, set, data)
    chosen = market or cfg.costs.venue
    markets = {"spot": ("spot",), "perp": ("perp",), "both": ("spot", "perp")}.get(chosen)
    if markets is None:
        raise RevertibleError(f"--market {chosen}: use spot, perp or both")
    if assets and top_volume:
        raise RevertibleError("--assets and --top-volume exclude each other; pass one")
    if top_volume is not None and top_volume < 1:
        raise RevertibleError(f"--top-volume must be >= 1, but got {top_volume}")
    if retries < 0:
        raise RevertibleError(f"--retries must be >= 0, but got {retries}")
    names = [a for a in (assets or "").split(",") if a.strip()] or (
        [a for a in cfg.data.assets] if cfg.data.assets and not top_volume else None)
    if names:
        [parse_asset(n) for n in names]  # a malformed name fails before any request
    req = DownloadRequest(
        dirs=_dirs(cfg, markets, out_dir), exchange=exchange.strip().lower(), markets=markets,
        assets=tuple(names) if names else None, top_volume=top_volume,
        since=_utc(since, "--since") if since else None,
        until=_utc(until, "--until") if until else None, funding=funding,
        timeframe=cfg.data.timeframe, archive_url=archive_url, api_url=api_url, rate=rate,
        retries=retries, backoff=1.0,
    )
    try:
        done = download(req, log=lambda line: err.print(line, highlight=False, soft_wrap=True))
    except DownloadError as exc:
        notify(notify_urls, f"download failed: {exc}", title="revertible download failed",
               level="failure")
        raise
    added = sum(r.rows_added for r in done)
    err.print(f"ok: {len(done)} files, {added} rows added", highlight=False)
    newest = max((r.last_bar for r in done if r.kind == "klines" and r.last_bar is not None),
                 default=None)
    behind = [r for r in done if r.kind == "klines" and r.last_bar is not None
              and newest is not None and r.last_bar < newest]
    if behind or any(r.notes for r in done):
        lines = [f"{r.asset} {r.market}: last bar {r.last_bar:%Y-%m-%d %H:%M} UTC, behind "
                 f"{newest:%Y-%m-%d %H:%M}" for r in behind]
        lines += [f"{r.asset} {r.market} {r.kind}: {'; '.join(r.notes)}" for r in done if r.notes]
        notify(notify_urls, "stale data after download:\n" + "\n".join(lines),
               title="revertible: stale data", level="warning")
    if json:
        emit_json({"files": [{"asset": r.asset, "market": r.market, "kind": r.kind,
                              "file": r.file, "rows_before": r.rows_before,
                              "rows_added": r.rows_added, "archive_rows": r.archive_rows,
                              "rest_rows": r.rest_rows, "first_new": r.first_new,
                              "last_new": r.last_new, "last_bar": r.last_bar,
                              "notes": r.notes} for r in done]})


@app.command()
@handle_errors
def monitor(
    config: ConfigArg,
    model: Annotated[str, typer.Option(
        help="runs:/<id>/model, models:/<name>@champion, models:/<name>/<v> or a model folder.")],
    since: Annotated[str | None, typer.Option(
        help="Start of the live record (UTC); default: the model's holdout start, where "
             "the labels it saw stop (an earlier one is refused: in sample).")]
    = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="Folder for monitor.html and monitor.json.")] = None,
    ledger: Annotated[Path | None, typer.Option(
        help="A `revertible paper` ledger of this config and model: its P&L joins the report "
             "(read only).")] = None,
    notify_urls: NotifyOpt = None,
    set: SetOpt = None,
    data: DataOpt = None,
    json: JsonOpt = False,
) -> None:
    """Check the model's live record against its training reference; exit 3 on a breach.

    Every divergence scored since --since, with the labels resolved so far: calibration over
    the last monitor.window_days and a sequential test, AUC, Brier skill, ECE, drift of the
    probability (PSI), and what a drop of the reversion rate this record can show. Writes
    monitor.html (reliability, calibration over time) and monitor.json with --out, and an
    MLflow run in the model's experiment. Thresholds: the config's monitor section.
    """
    from ..live import check_notify_urls
    from ..monitor import monitor_command
    from ._app import out

    check_notify_urls(notify_urls)
    cfg = _config(config, set, data)
    if since is not None:
        _utc(since, "--since")
    pnl = None
    if ledger is not None:  # read and checked (config, model) before anything is written
        from ..workflows import ledger_pnl

        pnl = ledger_pnl(cfg, ledger, model)
    state = monitor_command(cfg, model, since=since, out_dir=out_dir, notify_urls=notify_urls,
                            log=lambda line: err.print(line, highlight=False, soft_wrap=True),
                            ledger=pnl, progress=progress_bar)
    m = state["metrics"]
    levels = state["levels"]  # where the checks alert, as evaluate applies them

    def fig(key: str) -> str:  # a figure the record leaves undefined says why, not "nan"
        v = m.get(key, float("nan"))
        if math.isfinite(v):
            return f"{v:.3f}"
        return "n/a (labels of one class)" if state["n_resolved"] else "n/a (no label)"

    live, psi = state["base_rate_live"], state["psi"].get("probability", float("nan"))
    out.print(f"{'ALERT' if state['alerts'] else 'ok'}: {state['n_resolved']} labels resolved "
              f"since {state['since']}; live base rate "
              f"{f'{live:.3f}' if math.isfinite(live) else 'n/a'} "
              f"(reference {state['base_rate_reference']:.3f}), AUC {fig('roc_auc')}, Brier "
              f"skill {fig('brier_skill')}, ECE {fig('ece')}, calibration CUSUM "
              f"{state['cusum']['value']:.2f} ({levels['cusum']}), "
              f"probability PSI {f'{psi:.3f}' if math.isfinite(psi) else 'n/a'} ({levels['psi']}); "
              f"{len(state['alerts'])} alert(s); MLflow run {state['run_id']}",
              highlight=False, soft_wrap=True)
    if json:
        from ..monitor import flat_metrics, ledger_json

        emit_json({"model": state["model"], "model_uri": state["model"], "alerts": state["alerts"],
                   "run_id": state["run_id"], "reference": state["reference"],
                   "metrics": flat_metrics(state),
                   "ledger": None if state["ledger"] is None else ledger_json(state["ledger"])})
    if state["alerts"]:
        raise typer.Exit(3)
