"""``revertible hedge`` and ``revertible rebalance``: load, plan, replay, report, track."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config, flatten
from ..errors import DataError
from ..io import atomic_path, write_table
from ._market import load_hedge_market, spot_name
from ._plan import (
    check_hedge_inputs,
    check_notional,
    hedge_rule,
    hedge_target,
    plan_hedge,
    settlement_bars,
    trailing_beta,
    unwind_rule,
)
from ._rebalance import plan_rebalance, read_positions
from ._replay import replay_hedge
from ._verdict import hedge_verdict, leverage_sweep

__all__ = ["HEDGE_PLAN_KEYS", "hedge_command", "rebalance_command", "rebalance_threshold"]

HEDGE_PLAN_KEYS = ("contracts", "notional", "leverage", "initial_margin", "maintenance_margin",
                   "liquidation_price", "liquidation_distance", "liquidation_sigmas",
                   "required_distance", "holding_bars", "collateral", "basis", "basis_bp",
                   "funding_rate", "funding_paid_per_day")
_YEAR = pd.Timedelta(days=365)


def _run_name(cfg: Config, asset: str, hedge_asset: str, ratio: float) -> str:
    if cfg.tracking.run_name:
        return cfg.tracking.run_name
    base = asset.split("/")[0]
    via = "" if hedge_asset == asset else f"-{hedge_asset.split('/')[0]}"
    return f"hedge-{base}{via}-{ratio:g}"


def hedge_command(
    cfg: Config, *, asset: str, quantity: float, ratio: float = 1.0,
    hedge_with: str | None = None, since: str | None = None, until: str | None = None,
    out_dir: Path | None = None, unwind: bool | None = None, track: bool = True,
    config_path: Path | None = None,
) -> dict[str, Any]:
    """Plan the hedge at the last bar of the range and replay it over the range.

    Parameters
    ----------
    cfg : Config
        ``data`` (spot ``path``, perpetual/funding ``funding_path``), ``hedge`` and ``tracking``.
    asset : str
        Held spot asset (``BTC`` or ``BTC/USDT``).
    quantity : float
        Units held (> 0).
    ratio : float
        Hedge ratio in (0, 2]: the share of the holding's notional (times beta for a cross-asset
        hedge) shorted.
    hedge_with : str, optional
        Hedge with this asset's perpetual, sized by the trailing beta (``hedge.beta_window``).
    since, until : str, optional
        Replay range (UTC, inclusive); the plan is made at its last bar.
    out_dir : pathlib.Path, optional
        Writes ``hedge.html``, ``hedge_bars.parquet`` and ``hedge_plan.json`` there.
    unwind : bool, optional
        Apply the funding unwind rule in the replay (default: ``hedge.unwind``).
    track : bool
        Log one MLflow run (params, metrics, the page).

    Returns
    -------
    dict
        ``plan`` (dict), ``metrics`` (flat), ``bars`` (the replay frame), ``sweep`` (the
        leverage sweep, :func:`~revertible.hedge.leverage_sweep`), ``verdict`` (one line),
        ``run_id``, ``html``.
    """
    check_hedge_inputs(quantity, ratio)
    hcfg = cfg.hedge
    unwind = hcfg.unwind if unwind is None else unwind
    mk = load_hedge_market(cfg, asset, hedge_with, since, until)
    cross = mk.hedge_asset != mk.asset
    beta = trailing_beta(mk.spot_close, mk.perp_close, hcfg.beta_window) if cross else None
    target = hedge_target(quantity, ratio, mk.spot_close, mk.perp_close, beta)
    r = slice(mk.start, mk.stop)
    check_notional(quantity, float(np.nanmax(mk.spot_close[r])), mk.asset)
    step = mk.times[1] - mk.times[0]
    eight = pd.Timedelta(hours=8) / step  # bars per 8 h
    # the unwind threshold is per 8 h; contracts settling every 4 h get half of it per settlement
    per_8h = eight / settlement_bars(mk.funding[r], eight)
    rcfg = hcfg.model_copy(update={"unwind_funding": hcfg.unwind_funding / per_8h})
    holding = int(hcfg.holding_bars or (mk.stop - mk.start))
    # the rule on the whole history (bars <= t at every t), then cut to the replay's range
    full_rule = hedge_rule(mk.perp_close, mk.perp_high, hcfg, holding)
    rule = {k: v[r] for k, v in full_rule.items()}
    args = (mk.times[r], mk.spot_close[r], mk.perp_open[r], mk.perp_close[r], mk.perp_high[r],
            mk.basis_open[r], mk.basis_close[r], mk.funding[r], target[r], quantity, rcfg)

    def replay(rule_: dict[str, np.ndarray], policy: str | None = None):
        return replay_hedge(*args, unwind=unwind, periods_per_year=_YEAR / step, rule=rule_,
                            policy=policy)

    rep = replay(rule)
    n = mk.stop - mk.start
    sweep = leverage_sweep(
        lambda lev, pol: replay({**rule, "leverage": np.full(n, lev)}, pol), mk.times[r])
    policy = hcfg.on_margin_call
    top_up_cost = (replay(rule, "top_up").metrics["collateral_added"]
                   if rep.metrics["liquidations"] and policy != "top_up" else None)
    verdict = hedge_verdict(rep.metrics, mk.times[r], sweep, policy, top_up_cost,
                            quote=mk.asset.split("/")[1])
    last = mk.stop - 1
    if not np.isfinite(target[last]):
        raise DataError(
            f"hedge beta of {mk.asset} on {mk.perp} is not known at {mk.times[last]}: it needs "
            f"{int(0.9 * hcfg.beta_window)} bars of both; lower hedge.beta_window or move --until"
        )
    fund_hist = mk.funding[: last + 1]
    recent = settlement_bars(fund_hist[-int(30 * eight):], eight)  # spacing over ~30 settlements
    events = np.flatnonzero(np.isfinite(fund_hist))
    rate = float(fund_hist[events[-1]]) if events.size else float("nan")
    sigma = float(full_rule["sigma"][last])
    plan: dict[str, Any] = {
        "asset": mk.asset, "perp": mk.perp, "at": str(mk.times[last]), "quantity": quantity,
        "ratio": ratio, "beta": float(beta[last]) if beta is not None else 1.0,
        "spot_price": float(mk.spot_close[last]), "perp_price": float(mk.perp_close[last]),
        "holding_value": quantity * float(mk.spot_close[last]),
        "leverage": float(full_rule["leverage"][last]),
        "leverage_rule": "hedge.leverage" if hcfg.leverage is not None else "rule",
        "worst_rally": float(full_rule["rally"][last]),
        "on_margin_call": policy,
    }
    plan.update(plan_hedge(contracts=float(target[last]), spot_price=plan["spot_price"],
                           perp_price=plan["perp_price"],
                           hedge_spot_price=float(mk.hedge_close[last]), funding_rate=rate,
                           sigma=sigma, cfg=hcfg, leverage=plan["leverage"], holding=holding,
                           distance=float(full_rule["distance"][last]),
                           settlements_per_day=pd.Timedelta(days=1) / step / recent))
    plan.update(unwind_rule(fund_hist, hcfg, per_8h=eight / recent))
    plan["settlement_hours"] = recent * step / pd.Timedelta(hours=1)
    metrics = dict(rep.metrics)
    metrics.update(ratio=ratio, quantity=quantity, bars=float(mk.stop - mk.start),
                   filled_bars=float(mk.filled_bars), unwind_rule=float(unwind),
                   funding_events=float(np.isfinite(mk.funding[r]).sum()))
    # share of the settlements the range should hold (at the range's own spacing) present
    metrics["funding_coverage"] = metrics["funding_events"] / max(
        1.0, (mk.stop - mk.start) * per_8h / eight)
    metrics.update({f"plan.{k}": float(plan[k]) for k in HEDGE_PLAN_KEYS})
    title = (f"Hedging {quantity:g} {mk.asset} by shorting {ratio:.0%} of its notional in "
             f"{mk.perp}, "
             f"{mk.times[mk.start]:%Y-%m-%d} to {mk.times[last]:%Y-%m-%d}"
             f"{' (funding unwind rule)' if unwind else ''}")
    from ._report import render_hedge_html

    page = render_hedge_html(title, rep.bars, plan, metrics, sweep=sweep, verdict=verdict)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(out_dir / "hedge.html") as tmp:
            tmp.write_text(page)
        write_table(rep.bars.rename_axis("date").reset_index(), out_dir / "hedge_bars.parquet")
        with atomic_path(out_dir / "hedge_plan.json") as tmp:
            tmp.write_text(pd.Series(plan).to_json(indent=2))
        write_table(sweep, out_dir / "hedge_sweep.csv")
    run_id = link = uri = None
    if track:
        run_id, link, uri = _track(cfg, plan, metrics, page, rep.bars, config_path,
                                   _run_name(cfg, mk.asset, mk.hedge_asset, ratio), sweep,
                                   verdict)
    return {"plan": plan, "metrics": metrics, "bars": rep.bars, "sweep": sweep,
            "verdict": verdict, "run_id": run_id, "run_link": link, "tracking_uri": uri,
            "html": page}


def _track(cfg: Config, plan: dict[str, Any], metrics: dict[str, float], page: str,
           bars: pd.DataFrame, config_path: Path | None, name: str, sweep: pd.DataFrame,
           verdict: str) -> tuple[str, str, str]:
    """Log the run; returns its id, a UI link (model-training view) and the tracking URI."""
    from ..tracking import Tracker, ui_link

    tracker = Tracker(cfg.tracking).connect()
    # kind "hedge": the run goes to <experiment>-hedge, away from the training runs
    with tracker.run(run_name=name, tags={"revertible.command": "hedge", "kind": "hedge",
                                          "mlflow.note.content": verdict,
                                          "hedge.asset": plan["asset"],
                                          "hedge.perp": plan["perp"]}) as run:
        params = {f"hedge.{k}": v for k, v in flatten(cfg.hedge).items()}
        params.update({"asset": plan["asset"], "perp": plan["perp"],
                       "quantity": plan["quantity"], "ratio": plan["ratio"],
                       "since": str(bars.index[0]), "until": str(bars.index[-1]),
                       "data.path": str(cfg.data.path),
                       "data.funding_path": str(cfg.data.funding_path)})
        tracker.log_params(params)
        tracker.log_metrics(metrics)
        tracker.log_text(page, "hedge.html")
        tracker.log_text(pd.Series(plan).to_json(indent=2), "hedge_plan.json")
        tracker.log_table(sweep, "hedge_sweep.csv")
        if config_path is not None and Path(config_path).is_file():
            tracker.log_text(Path(config_path).read_text(), "config.yaml")
        link = ui_link(tracker.uri, experiment_id=run.info.experiment_id,
                       run_id=run.info.run_id)
        return run.info.run_id, link, tracker.uri


def rebalance_threshold(cfg: Config) -> float:
    """The live drift threshold: ``backtest.rebalance_drift`` when set, else ``hedge``'s."""
    # backtest.rebalance_drift is off (null) by default; the live planner then uses
    # hedge.rebalance_drift (the source's seed, 0.8%)
    drift = cfg.backtest.rebalance_drift
    return float(drift) if drift else cfg.hedge.rebalance_drift


def _in_data(asset: str, files: dict[str, Any]) -> str:
    """``asset``, or its twin in ``files`` when only that one is there.

    The twins are the spot and perpetual symbols ``BASE/QUOTE`` and ``BASE/QUOTE:QUOTE``.
    """
    if asset in files or not asset.strip():
        return asset
    spot = spot_name(asset)
    twins = [a for a in (spot, f"{spot}:{spot.partition('/')[2]}") if a != asset and a in files]
    return twins[0] if twins else asset


def rebalance_command(cfg: Config, positions: Path) -> tuple[pd.DataFrame, str, float]:
    """Orders that bring each open position of ``positions`` back to its target ratio.

    The prices are the last bar's of the data (``data.assets``, plus the positions' assets).
    ``score``'s staleness rule applies: a position with a leg that has no price at that bar is
    not traded (``action`` ``stale``, ``reason`` names the leg, its file and how many hours it
    is behind). Returns the :func:`plan_rebalance` frame, the last bar's time and the threshold.

    Raises
    ------
    DataError
        A positions row names an asset with no price file in ``data.path``.
    """
    from ..data import discover_files, load_panel

    pos = read_positions(positions)
    files = dict(discover_files(cfg.data.path, cfg.data.format, cfg.data.timeframe))
    # a leg named by its spot symbol is the data's perpetual where only that exists (and the
    # reverse): the perpetual config's data has BTC/USDT:USDT, never BTC/USDT
    for col in ("asset_a", "asset_b"):
        pos[col] = [_in_data(a, files) for a in pos[col]]
    for i, row in enumerate(pos.itertuples(), start=1):
        for leg in (row.asset_a, row.asset_b):
            if leg not in files:
                raise DataError(
                    f"positions file {positions}: row {i} asset {leg} is unknown: no price file "
                    f"for it in {cfg.data.path} (expected {leg.replace('/', '_')}-"
                    f"{cfg.data.timeframe}.feather); fix the row or add the file"
                )
    held = tuple(dict.fromkeys([*pos["asset_a"], *pos["asset_b"]]))
    assets = None if cfg.data.assets is None else tuple(dict.fromkeys([*cfg.data.assets, *held]))
    panel = load_panel(cfg.data.model_copy(update={"assets": assets, "funding_path": None}))
    close = panel.frame("close")
    last_bar = close.index[-1]
    prices: dict[str, float] = {}
    stale: dict[str, str] = {}
    for a in held:
        col = close[a].dropna()
        if col.empty:
            raise DataError(
                f"positions file {positions}: asset {a} has no price in {cfg.data.path}"
            )
        prices[a] = float(col.iloc[-1])
        if col.index[-1] < last_bar:
            hours = (last_bar - col.index[-1]) / pd.Timedelta(hours=1)
            stale[a] = (f"{a} is stale: its file {files[a].name} ends {hours:g} h before the last "
                        f"bar ({col.index[-1]:%Y-%m-%d %H:%M} UTC); refresh it")
    thr = rebalance_threshold(cfg)
    plan = plan_rebalance(pos, prices, thr)
    reason = [stale.get(a) or stale.get(b) or "" for a, b in zip(plan["asset_a"],
                                                                  plan["asset_b"], strict=True)]
    plan["reason"] = reason
    bad = plan["reason"] != ""
    plan.loc[bad, ["order_a", "order_b", "cost_notional"]] = 0.0
    plan.loc[bad, "action"] = "stale"
    return plan, str(last_bar), thr
