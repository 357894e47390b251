"""``revertible hedge`` (short-perpetual hedge of a spot holding) and ``revertible rebalance``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ._app import (
    ConfigArg,
    DataOpt,
    JsonOpt,
    SetOpt,
    _config,
    app,
    emit_json,
    err,
    handle_errors,
    out,
    set_stage,
)


@app.command()
@handle_errors
def hedge(
    config: ConfigArg,
    asset: Annotated[str, typer.Option("--asset", help="Spot asset held, e.g. BTC or BTC/USDT.")],
    quantity: Annotated[float, typer.Option(
        "--quantity", help="Units held (> 0; at most 1e12 units and 1e12 of notional in the "
                           "quote currency: past that it is taken for a typo).")],
    ratio: Annotated[
        float, typer.Option("--ratio", help="Share of the notional to short, in (0, 2].")
    ] = 1.0,
    hedge_with: Annotated[
        str | None, typer.Option("--hedge-with", help="Hedge with this asset's perpetual "
                                                      "(sized by the trailing beta).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="First bar of the replay (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Last bar of the replay; the plan is made "
                                                   "there (UTC; a date alone includes that "
                                                   "whole day).")] = None,
    unwind: Annotated[
        bool | None, typer.Option("--unwind/--no-unwind", help="Apply the funding unwind rule "
                                                              "in the replay (default: "
                                                              "hedge.unwind).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for hedge.html, the bars and the plan.")
    ] = None,
    set: SetOpt = None,
    data: DataOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Plan (at the last bar) and replay a short-perpetual hedge of a spot holding."""
    from ..hedge import check_hedge_inputs, hedge_command

    check_hedge_inputs(quantity, ratio)
    cfg = _config(config, set, data)
    set_stage("loading, replay and leverage sweep")
    res = hedge_command(cfg, asset=asset, quantity=quantity, ratio=ratio, hedge_with=hedge_with,
                        since=since, until=until, out_dir=out_dir, unwind=unwind,
                        config_path=config)
    plan, m = res["plan"], res["metrics"]
    quote = plan["asset"].split("/")[-1]
    out.print(f"[bold]verdict:[/] {res['verdict']}", highlight=False)
    out.print(f"[bold]plan at {plan['at']}[/]: short {plan['contracts']:.6g} {plan['perp']} "
              f"(beta {plan['beta']:.3f}), notional {plan['notional']:,.2f} {quote}",
              highlight=False)
    how = "leverage rule" if plan["leverage_rule"] == "rule" else "hedge.leverage"
    out.print(f"  leverage {plan['leverage']:.2f}x ({how}): initial margin "
              f"{plan['initial_margin']:,.2f} {quote}, maintenance "
              f"{plan['maintenance_margin']:,.2f}; liquidation at {plan['liquidation_price']:,.2f} "
              f"(+{plan['liquidation_distance']:.1%} log, {plan['liquidation_sigmas']:.2f} sigma "
              f"over the {int(plan['holding_bars'])}-bar holding period; worst rally so far "
              f"+{plan['worst_rally']:.1%}); keep {plan['collateral']:,.2f} {quote} as collateral; "
              f"on a margin call: {plan['on_margin_call']}", highlight=False)
    out.print(f"  basis (perp - spot) {plan['basis']:,.4f} ({plan['basis_bp']:.2f} bp); funding "
              f"{1e4 * plan['funding_rate']:.2f} bp per settlement (every "
              f"{plan['settlement_hours']:g}h) -> paid per day {plan['funding_paid_per_day']:,.2f} "
              f"{quote} (negative: received)", highlight=False)
    out.print(f"  rule: {plan['rule']}", highlight=False)
    out.print(f"[bold]replay[/] {int(m['bars'])} bars: volatility {m['unhedged.volatility']:.2%}"
              f" -> {m['hedged.volatility']:.2%}, max drawdown {m['unhedged.max_drawdown']:.2%} "
              f"-> {m['hedged.max_drawdown']:.2%}, return {m['unhedged.return']:.2%} -> "
              f"{m['hedged.return']:.2%}", highlight=False)
    # the sign said once: on BTC 2024 "funding paid -5,290.96" was funding received
    out.print(f"  funding paid {m['funding_paid']:,.2f} {quote} (negative: received), basis P&L "
              f"{m['basis_pnl']:,.2f}, "
              f"fees {m['fees']:,.2f}, liquidation loss {m['liquidation_loss']:,.2f}, "
              f"effectiveness {m['hedge_effectiveness']:.3f}, liquidations "
              f"{int(m['liquidations'])}, re-opened {int(m['reopens'])}, margin calls "
              f"{int(m['margin_calls'])} (collateral added {m['collateral_added']:,.2f}), unwinds "
              f"{int(m['unwinds'])}, hedged {m['hedged_bars']:.1%} of bars", highlight=False)
    # top-up is what margin calls add (a buffer), not what a liquidation needs: on the shared
    # data TON at 3x was never liquidated without it yet its margin calls added 718.87
    out.print("[bold]leverage sweep[/] (liquidations, hedged, vol and funding without top-up; "
              "top-up: the collateral on_margin_call: top_up adds at its margin calls, the "
              f"liquidation price within {cfg.hedge.margin_call_sigmas:g} sigmas, whether or not "
              "a liquidation would have followed):", highlight=False)
    out.print(f"  {'leverage':>8} {'liquidations':>12} {'first liquidation':>17} "
              f"{'hedged':>7} {'vol':>7} {'funding paid':>13} {'top-up':>12}", highlight=False)
    for r in res["sweep"].itertuples():
        out.print(f"  {r.leverage:>7g}x {r.liquidations:>12d} {r.first_liquidation or '-':>17} "
                  f"{r.hedged_share:>7.1%} {r.hedged_volatility:>7.2%} {r.funding_paid:>13,.2f} "
                  f"{r.top_up_collateral:>12,.2f}", highlight=False)
    if m["funding_coverage"] < 0.9:
        err.print(f"warning: the funding file covers {m['funding_coverage']:.0%} of the range's "
                  "settlements; missing settlements count as zero funding", highlight=False)
    if res.get("run_link"):
        from ._runs import ui_hint

        out.print(ui_hint(res["tracking_uri"], res["run_link"]), highlight=False,
                  soft_wrap=True)
    if json_out:
        emit_json({"run_id": res["run_id"], "metrics": m, "plan": plan,
                   "verdict": res["verdict"],
                   "sweep": json.loads(res["sweep"].to_json(orient="records"))})


@app.command()
@handle_errors
def rebalance(
    config: ConfigArg,
    positions: Annotated[
        Path, typer.Option("--positions", help="CSV: pair (or asset_a, asset_b), qty_a, qty_b, "
                                               "target_ratio (or entry_ratio).")
    ],
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Also write the orders here (.parquet or .csv): "
                                                "one row per position, action rebalance, none "
                                                "or stale.")
    ] = None,
    set: SetOpt = None,
    data: DataOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Orders that bring open two-leg positions back to their target ratio at the last bar."""
    from ..hedge import rebalance_command
    from ..io import write_table

    cfg = _config(config, set, data)
    set_stage("loading prices")
    plan, at, thr = rebalance_command(cfg, positions)
    out.print(f"prices at {at}; rebalance when the notional ratio drifts more than {thr:.2%}",
              highlight=False)
    for row in plan.itertuples():
        head = (f"{row.asset_a} / {row.asset_b}: ratio {row.ratio:.4f} vs target "
                f"{row.target_ratio:.4f} (drift {row.drift:+.2%})")
        if row.action == "none":
            out.print(f"{head}: none", highlight=False)
            continue
        if row.action == "stale":
            out.print(f"{head}: not traded: {row.reason}", highlight=False)
            continue
        legs = [f"{'buy' if q > 0 else 'sell'} {abs(q):.8g} {a} at {p:.8g}"
                for q, a, p in ((row.order_a, row.asset_a, row.price_a),
                                (row.order_b, row.asset_b, row.price_b)) if q != 0]
        out.print(f"{head}: " + ", ".join(legs), highlight=False)
    if out_path is not None:
        write_table(plan, out_path)
        out.print(f"wrote {len(plan)} rows to {out_path}", highlight=False)
    if json_out:
        emit_json({"threshold": thr, "at": at,
                   "orders": plan.to_dict(orient="records")})
