"""Every divergence of the shared data traded under three fill models (not a test).

Usage::

    python research/fill_models.py [--config configs/binance-spot-1h.yaml] [--set key=value ...]

Builds the config's episodes and prints :func:`revertible.backtest.compare_fill_models`: trades,
maker fill rate, cost per trade (bp of gross notional, against the signal closes), legging cost
and net return per trade under taker, optimistic maker and pessimistic maker fills. ``--placebo``
replaces the data with generated random walks (no pair reverts): no fill model should earn.
"""

from __future__ import annotations

import argparse

from revertible.backtest import compare_fill_models
from revertible.config import load_config
from revertible.data import load_panel
from revertible.episodes import build_episodes


def main(argv: list[str] | None = None) -> int:
    """Print the fill-model table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", default="configs/binance-spot-1h.yaml")
    ap.add_argument("--set", action="append", default=[], dest="sets")
    ap.add_argument("--placebo", action="store_true", help="generated random walks instead")
    args = ap.parse_args(argv)
    cfg = load_config(args.config, overrides=args.sets)
    if args.placebo:
        from revertible.synthetic import generate_market

        panel, _ = generate_market(n_assets=12, n_bars=24 * 365, seed=7, pairs=())
    else:
        panel = load_panel(cfg.data)
    eps = build_episodes(panel, cfg)
    tab = compare_fill_models(panel, eps, cfg.costs)
    print(f"{len(eps)} episodes, venue {cfg.costs.venue}, maker margin "
          f"{cfg.costs.maker_margin_bps:g} bp, wait {cfg.costs.maker_wait_bars} bar(s), "
          f"unfilled: {cfg.costs.maker_unfilled}")
    print(tab.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
