"""The decision gate's known answers on the shared data: a noise score and a planted score.

Runs the walk-forward replay (``run_backtest(..., probabilities=score)``: each 30-day block's
return calibrator is fitted on the scores of the episodes whose labels ended before it) with

* a pure-noise score: the gate must abstain on >= 95% of divergences and lose <= 1 bp per
  divergence;
* a planted score with rank IC about 0.05 against the realised reversion return (it reads the
  future by construction: a known answer, not a strategy): the gate must trade >= 1% of
  divergences with a 90% net-per-trade interval above 0 and a decile slope of realised on
  expected net return in [0.5, 1.5].

Usage::

    python research/decision_gate.py [--config configs/binance-spot-1h.yaml] [--set K=V ...]
        [--seeds 3] [--ic 0.05]

Data: ``$REVERTIBLE_DATA`` (default ``../shared/data``). Prints one line per run with the
figures the acceptance points name, and the CPU seconds beside wall.
"""

from __future__ import annotations

import time

import numpy as np
from _planted import study_data, study_options

from revertible.backtest import run_backtest
from revertible.config import load_config
from revertible.synthetic import noise_score, planted_score


def gate_figures(res, n_divergences: int) -> dict[str, float]:
    """The figures the acceptance points name, from a backtest result."""
    m = res.metrics
    pnl = res.trades.loc[res.trades["strategy"] == "model", "pnl"].sum()
    cap = res.equity["model"].iloc[0]
    return {
        "divergences": float(n_divergences),
        "taken_share": m["model.signals_taken"] / max(m["signals.count"], 1.0),
        "abstention": m["model.abstention_rate"],
        "trades": m["model.trades"],
        "net_bp": m.get("model.net_bp_per_trade", np.nan),
        "ci_low": m.get("model.net_bp_per_trade_ci_low", np.nan),
        "ci_high": m.get("model.net_bp_per_trade_ci_high", np.nan),
        # P&L per divergence in bp of the per-trade cap (the fixed notional of one trade)
        "bp_per_divergence": 1e4 * pnl / (cap * 0.05) / max(m["signals.count"], 1.0),
        "taken_net_bp": m.get("model.decision_taken_net_bp", np.nan),
        "taken_ci_low": m.get("model.decision_taken_net_bp_ci_low", np.nan),
        "taken_ci_high": m.get("model.decision_taken_net_bp_ci_high", np.nan),
        "taken_expected_bp": m.get("model.taken_net_bp_expected", np.nan),
        "decile_slope": m.get("model.decision_slope", np.nan),
        "decile_rank_corr": m.get("model.decision_rank_corr", np.nan),
        "top_minus_median_bp": m.get("model.decision_top_minus_median_bp", np.nan),
    }


def main() -> None:
    """Run the study and print its table."""
    a = study_options(__doc__.splitlines()[0], seeds=3).parse_args()
    cfg = load_config(a.config, a.set)
    t0, c0 = time.perf_counter(), time.process_time()
    panel, eps = study_data(cfg)
    print(f"{len(eps)} divergences on {panel.n_assets} assets; episodes in "
          f"{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s")
    rev = eps["revert_return"].to_numpy(float)
    for seed in range(a.seeds):
        for kind, score in (("noise", noise_score(len(eps), seed)),
                            (f"planted IC {a.ic}", planted_score(rev, a.ic, seed))):
            t1, c1 = time.perf_counter(), time.process_time()
            from scipy.stats import spearmanr

            ok = np.isfinite(rev)
            ic = spearmanr(score[ok], rev[ok]).statistic
            res = run_backtest(cfg, panel, episodes=eps, probabilities=score,
                               strategies=("model",))
            f = gate_figures(res, len(eps))
            print(f"seed {seed} {kind:16s} measured IC {ic:+.4f}: " + ", ".join(
                f"{k} {v:.4g}" for k, v in f.items())
                + f"  [{time.perf_counter() - t1:.0f} s wall, "
                f"{time.process_time() - c1:.0f} CPU-s]")


if __name__ == "__main__":
    main()
