"""Where the decision gate's optimism comes from: expected minus realised of what it takes.

The gate's record (every divergence it takes, at unit size; ``research/decision_gate.py``)
realises about 4 bp a divergence less than the decision expected. Both sides charge the same
round trip and the same expected carry (``model.decision_taken_net_bp`` against
``model.taken_net_bp_expected``), so the gap is in the gross return. With the planted score of
``research/decision_gate.py`` on the shared data, each taken divergence's gap splits into

* ``shrink_iso``: the record's raw mean edge of its score bin (its return minus its week's
  mean, what ``decision.common_level: adverse`` calibrates) minus the calibrated edge after
  shrinkage and the isotonic fit;
* ``record_vs_all``: the same bin's edge over *all* the data (hindsight) minus the record's, and
  ``all_vs_block``: the bin's edge in the block it trades minus the one over all the data. Their
  sum is how much the bin's edge in the next block falls short of its record: the cells the gate
  takes are the ones whose estimate came out high (selection), and the edge moves over time
  (drift);
* ``within_bin``: the taken divergences' own edge minus their bin's in the block (which
  direction and which divergences of a bin the gate takes);
* ``level``: the realised week mean of the taken direction minus the record's level counted.

The four add up to realised minus expected exactly. ``--shuffle`` replays the same data with its
calendar weeks moved to random week slots (entry and exit times shifted by whole weeks): the
edge no longer drifts in time, so what remains is the selection. ``--variant`` replays one of the
corrections tried (README, "The decision"; ``shift_expected`` is ``decision.debias_expected``,
off by default: :func:`revertible.decision.record_shortfall`). The replay is the backtest's gate
(:func:`revertible.backtest.given_score_predictions`, :func:`revertible.decision.decide`,
:func:`revertible.decision.realised_net`); ``--check`` compares the first seed's figures with
:func:`revertible.backtest.run_backtest`.

Usage::

    python research/gate_bias.py [--config configs/binance-spot-1h.yaml] [--set K=V ...]
        [--seeds 18] [--first-seed 0] [--ic 0.05] [--shuffle] [--variant none] [--check]

Data: ``$REVERTIBLE_DATA`` (default ``../shared/data``). Prints one line per seed, the means over
seeds, (variant ``none``) the gap by the taken divergences' lower bound, and the planted edge by
month (the first four seeds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from _planted import study_data, study_options
from scipy.stats import norm

from revertible.backtest import (
    bootstrap_mean_ci,
    decision_carry,
    given_score_predictions,
    run_backtest,
)
from revertible.config import Config, load_config
from revertible.costs import round_trip_cost
from revertible.decision import (
    RECORD_MIN_TRADES,
    decide,
    decision_quality,
    realised_net,
    record_shortfall,
)
from revertible.episodes import outcome_targets
from revertible.model import cluster_se, outcome_end, return_calibrator, week_clusters
from revertible.synthetic import planted_score

DIRS = ("revert", "continue")
HEADS = [f"{d}_{m}" for d in DIRS for m in ("mean", "se", "m2")]
COMPONENTS = ("shrink_iso", "record_vs_all", "all_vs_block", "within_bin", "level")
VARIANTS = ("none", "slope", "slope_expected", "shift", "shift_expected", "week_interval",
            "week_mean")
_WEEK_NS = 7 * 86_400 * 10**9


@dataclass
class Data:
    """The episodes and what the gate needs of them (row order: time-sorted episodes)."""

    cfg: Config
    eps: pd.DataFrame
    bar: pd.Timedelta
    carry: dict[str, np.ndarray]
    returns: dict[str, np.ndarray]
    known: np.ndarray  # every divergence with a label and both trades' returns


def load(cfg: Config) -> tuple[Data, object]:
    """Panel, time-sorted episodes, their expected carry (last funding known at entry)."""
    panel, eps = study_data(cfg)
    sig = eps
    if cfg.costs.perpetual and panel.funding is not None:  # as run_backtest does
        rates = pd.DataFrame(panel.funding).ffill().to_numpy()
        t = panel.times.get_indexer(pd.DatetimeIndex(eps["entry_time"]))
        pos = {a: i for i, a in enumerate(panel.assets)}
        ia, ib = eps["asset_a"].map(pos).to_numpy(), eps["asset_b"].map(pos).to_numpy()
        sig = eps.assign(funding_a=rates[t, ia], funding_b=rates[t, ib])
    carry = decision_carry(sig, cfg, cfg.costs, panel.freq)
    tg = outcome_targets(eps, cfg.sizing.split)
    ret = {d: tg[d].to_numpy(float) for d in DIRS}
    known = (np.isfinite(ret["revert"]) & np.isfinite(ret["continue"])
             & eps["label"].notna().to_numpy())
    return Data(cfg, eps, panel.freq, carry, ret, known), panel


def shuffled(eps: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The episodes with each calendar week moved, whole, to a random week slot."""
    week = week_clusters(eps["entry_time"])
    slots = np.unique(week)
    new = dict(zip(slots, np.random.default_rng(1000 + seed).permutation(slots), strict=True))
    shift = pd.to_timedelta((np.array([new[w] for w in week]) - week) * _WEEK_NS)
    return eps.assign(entry_time=eps["entry_time"] + shift, exit_time=eps["exit_time"] + shift)


def week_means(r: np.ndarray, week: np.ndarray) -> np.ndarray:
    """Each row's week mean of ``r``."""
    return pd.Series(r).groupby(week).transform("mean").to_numpy()


def week_shortfall(gap: np.ndarray, taken: np.ndarray, entry_ns: np.ndarray,
                   known_ns: np.ndarray, counted: str, confidence: float) -> np.ndarray:
    """Per week of entry: the mean of ``gap`` over the taken rows known before the week starts.

    ``counted='interval'``: at the end of its one-sided interval nearest zero (week-clustered,
    as the calibrator's level); ``'mean'``: the mean itself (0 with fewer than two weeks).
    """
    ok = taken & np.isfinite(gap)
    week = entry_ns // _WEEK_NS
    order = np.argsort(known_ns[ok], kind="stable")
    k_ns, g_all, own = known_ns[ok][order], gap[ok][order], week[ok][order]
    out = np.zeros(len(gap))
    for w in np.unique(week):
        k = int(np.searchsorted(k_ns, w * _WEEK_NS, side="left"))
        g = g_all[:k]
        if k == 0 or len(np.unique(own[:k])) < 2:
            continue
        half = float(norm.ppf(confidence)) * cluster_se(g - g.mean(), own[:k], confidence)
        m = float(g.mean())
        out[week == w] = m if counted == "mean" else np.sign(m) * max(abs(m) - half, 0.0)
    return out


def replay(data: Data, eps: pd.DataFrame, score: np.ndarray, variant: str = "none") -> dict:
    """The gate on ``score``, block by block, with the decomposition of its gap (bp)."""
    cfg, ret, carry = data.cfg, data.returns, data.carry
    d_cfg, costs = cfg.decision, cfg.costs
    cost = round_trip_cost(costs)
    t_ns = pd.DatetimeIndex(eps["entry_time"]).as_unit("ns").asi8
    ends = pd.DatetimeIndex(outcome_end(eps, cfg.label, cfg.continue_, data.bar)).as_unit("ns")
    end_ns = ends.asi8
    week = week_clusters(eps["entry_time"], d_cfg.cluster_days)
    fin = data.known & np.isfinite(score)
    wm = {d: np.where(fin, week_means(np.where(fin, ret[d], 0.0), np.where(fin, week, -1)),
                      np.nan) for d in DIRS}
    wfp = given_score_predictions(cfg, eps, score, eps["entry_time"].min(),
                                  eps["entry_time"].max(), data.bar)
    n = len(eps)
    direction = np.full(n, "none", dtype=object)
    exp, exp0, real, lower = (np.full(n, np.nan) for _ in range(4))
    pred = {d: np.full(n, np.nan) for d in DIRS}  # the raw calibrated edge of each block's rows
    comp = {k: np.full(n, np.nan) for k in COMPONENTS}
    times = pd.DatetimeIndex(eps["entry_time"])
    for bs, be in zip(wfp.blocks["start"], wfp.blocks["end"], strict=True):
        b_ns, e_ns = pd.Timestamp(bs).value, pd.Timestamp(be).value
        seen = np.flatnonzero(fin & (end_ns < b_ns))  # given_score_predictions' record
        rows = np.flatnonzero((t_ns >= b_ns) & (t_ns < e_ns))
        if len(seen) < 2 * d_cfg.min_bin_trades or not len(rows):
            continue
        cal = return_calibrator(cfg).fit(score[seen], pd.DataFrame(
            {d: ret[d][seen] for d in DIRS}), times[seen])
        o = cal.predict(score[rows])
        if not np.allclose(o.to_numpy(float), wfp.heads[rows, 1:], equal_nan=True):
            raise RuntimeError("the replay's calibrator differs from given_score_predictions'")
        adj = {d: np.zeros(len(rows)) for d in DIRS}  # added to the expected return only
        for d in DIRS:
            lv = cal.level_[d]["counted"]
            pred[d][rows] = o[f"{d}_mean"].to_numpy() - lv
            old = seen[np.isfinite(pred[d][seen])]
            if variant.startswith("slope") and len(old) >= RECORD_MIN_TRADES:
                x = (ret[d][seen] - week_means(ret[d][seen], week[seen]))[
                    np.isfinite(pred[d][seen])]
                p = pred[d][old]
                b = float(np.clip(p @ x / (p @ p), 0.0, 1.0)) if p @ p > 0 else 1.0
                if variant == "slope":
                    o[f"{d}_mean"] = b * (o[f"{d}_mean"] - lv) + lv
                else:
                    adj[d] = (b - 1.0) * pred[d][rows]
        if variant == "shift":  # the gate's earlier record's shortfall, on the bound too
            old = np.flatnonzero((direction != "none") & (end_ns < b_ns) & np.isfinite(real))
            if len(old) >= RECORD_MIN_TRADES:
                s = min(float(np.mean(real[old] - exp0[old])), 0.0)
                for d in DIRS:
                    o[f"{d}_mean"] = o[f"{d}_mean"] + s
        k = {d: carry[d][rows] for d in DIRS}
        dec = decide(o, costs, d_cfg.confidence, cfg.sizing.min_edge, carry=k, reasons=False)
        direction[rows] = dec["direction"].to_numpy()
        follow = dec["best_direction"].to_numpy() == "continue"
        exp0[rows] = dec["expected_return"].to_numpy(float)
        exp[rows] = exp0[rows] + np.where(follow, adj["continue"], adj["revert"])
        lower[rows] = dec["expected_return_lower"].to_numpy(float)
        real[rows] = realised_net(dec, ret["revert"][rows], ret["continue"][rows], cost, k)
        if variant != "none":
            continue
        # the decomposition (hindsight: it reads the block and all the data; diagnosis only)
        nb = len(cal.edges_) + 1
        blk = np.flatnonzero((t_ns >= b_ns) & (t_ns < e_ns) & fin)
        everything = np.flatnonzero(fin)
        b_rec, b_blk, b_all = (cal.bin_of(score[i]) for i in (seen, blk, everything))
        b_rows = cal.bin_of(score[rows])

        def bin_mean(b: np.ndarray, x: np.ndarray, nb: int = nb) -> np.ndarray:
            return np.bincount(b, weights=x, minlength=nb) / np.maximum(
                np.bincount(b, minlength=nb), 1)

        for d in DIRS:
            i = rows[direction[rows] == d]
            if not len(i):
                continue
            bi = b_rows[direction[rows] == d]
            rec = bin_mean(b_rec, ret[d][seen] - week_means(ret[d][seen], week[seen]))[bi]
            alls = bin_mean(b_all, ret[d][everything] - wm[d][everything])[bi]
            block = bin_mean(b_blk, ret[d][blk] - wm[d][blk])[bi]
            lv = cal.level_[d]["counted"]
            comp["shrink_iso"][i] = rec - (cal.params_[d]["mean"][bi] - lv)
            comp["record_vs_all"][i] = alls - rec
            comp["all_vs_block"][i] = block - alls
            comp["within_bin"][i] = ret[d][i] - wm[d][i] - block
            comp["level"][i] = wm[d][i] - lv
    taken = direction != "none"
    if variant.startswith("week"):
        exp = exp0 + week_shortfall(real - exp0, taken, t_ns, end_ns, variant[5:],
                                    d_cfg.confidence)
    if variant == "shift_expected":  # what decision.debias_expected does
        starts = pd.DatetimeIndex(wfp.blocks["start"]).as_unit("ns").asi8
        exp = exp0 + record_shortfall(exp0, real, taken, t_ns, end_ns, starts)
    sel = taken & np.isfinite(real) & np.isfinite(exp)
    day = times.floor("D").asi8
    mean, lo, hi = (bootstrap_mean_ci(real[sel] * 1e4, day[sel],
                                      n_samples=cfg.backtest.bootstrap_samples)
                    if sel.any() else (np.nan,) * 3)  # fmt: skip
    out = {"taken_share": sel.sum() / n, "expected_bp": float(np.mean(exp[sel]) * 1e4),
           "realised_bp": mean, "ci_low": lo, "ci_high": hi,
           "gap_bp": mean - float(np.mean(exp[sel]) * 1e4),
           "decile_slope": decision_quality(exp, real, taken)["decile_slope"],
           "share_continue": float(np.mean(direction[sel] == "continue"))}
    if variant == "none":
        out.update({k: float(np.nanmean(v[sel]) * 1e4) for k, v in comp.items()})
        out["lower"] = lower[sel] * 1e4
        out["gap"] = (real[sel] - exp[sel]) * 1e4
    return out


def month_edges(data: Data, seeds: range, ic: float) -> pd.DataFrame:
    """Per month: the planted score's top 5% reversion edge and bottom 5% continuation edge (bp).

    The edge is the return minus its week's mean over all divergences (hindsight), averaged over
    ``seeds``; also the month's divergences and the sd of the reversion trade's return.
    """
    eps, ret, fin = data.eps, data.returns, data.known
    week = week_clusters(eps["entry_time"])[fin]
    month = pd.DatetimeIndex(eps["entry_time"]).tz_convert(None).to_period("M")[fin]
    rev = eps["revert_return"].to_numpy(float)
    x = {d: ret[d][fin] - week_means(ret[d][fin], week) for d in DIRS}
    out = []
    for seed in seeds:
        q = pd.Series(planted_score(rev, ic, seed)[fin]).rank(pct=True).to_numpy()
        frame = pd.DataFrame({"month": month, "revert": np.where(q >= 0.95, x["revert"], np.nan),
                              "continue": np.where(q <= 0.05, x["continue"], np.nan)})
        out.append(frame.groupby("month")[["revert", "continue"]].mean() * 1e4)
    table = pd.concat(out).groupby(level=0).mean().add_suffix("_edge_bp")
    g = pd.Series(ret["revert"][fin] * 1e4).groupby(np.asarray(month))
    return table.assign(divergences=g.size().to_numpy(), revert_sd_bp=g.std().to_numpy())


def check(data: Data, panel: object, score: np.ndarray, got: dict, variant: str) -> None:
    """The replay's figures against run_backtest's on the same score (raises if they differ).

    Variant ``shift_expected`` is checked against ``decision.debias_expected: true``.
    """
    cfg = data.cfg
    if variant == "shift_expected":
        cfg = cfg.model_copy(update={"decision": cfg.decision.model_copy(
            update={"debias_expected": True})})
    elif variant != "none":
        raise SystemExit(f"--check: variant {variant!r} is not in run_backtest")
    m = run_backtest(cfg, panel, episodes=data.eps, probabilities=score,
                     strategies=("model",)).metrics
    want = (m["model.decision_taken_net_bp"], m["model.taken_net_bp_expected"])
    if not np.allclose(want, (got["realised_bp"], got["expected_bp"]), atol=1e-6):
        raise RuntimeError(f"replay {got['realised_bp']:.4f} / {got['expected_bp']:.4f} bp, "
                           f"run_backtest {want[0]:.4f} / {want[1]:.4f}")
    print(f"check: run_backtest agrees ({want[0]:+.2f} realised, {want[1]:+.2f} expected)")


def main() -> None:
    """Run the study and print its tables."""
    ap = study_options(__doc__.splitlines()[0], seeds=18)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--shuffle", action="store_true",
                    help="move whole calendar weeks to random slots (no drift in time)")
    ap.add_argument("--variant", choices=VARIANTS, default="none")
    ap.add_argument("--check", action="store_true",
                    help="compare the first seed with run_backtest (about 10 s; variants none "
                    "and shift_expected)")
    a = ap.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    data, panel = load(load_config(a.config, a.set))
    rev = data.eps["revert_return"].to_numpy(float)
    print(f"{len(data.eps)} divergences; loaded in {time.perf_counter() - t0:.0f} s wall, "
          f"{time.process_time() - c0:.0f} CPU-s")
    rows, gaps = [], []
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        score = planted_score(rev, a.ic, seed)
        eps = shuffled(data.eps, seed) if a.shuffle else data.eps
        f = replay(data, eps, score, a.variant)
        if a.check and seed == a.first_seed and not a.shuffle:
            check(data, panel, score, f, a.variant)
        if "gap" in f:
            gaps.append(pd.DataFrame({"lower": f.pop("lower"), "gap": f.pop("gap")}))
        rows.append({"seed": seed, **f})
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.3g}" for k, v in f.items()), flush=True)
    table = pd.DataFrame(rows).set_index("seed")
    print(f"\nmeans over {len(table)} seeds ({a.variant}{', shuffled weeks' if a.shuffle else ''}"
          f"; interval above 0 in {int((table['ci_low'] > 0).sum())}):")
    print(table.mean().round(2).to_string())
    if gaps:
        g = pd.concat(gaps)
        by = g.groupby(pd.cut(g["lower"], [0, 2, 5, 10, 20, np.inf]), observed=True)["gap"]
        print("\nrealised - expected (bp) by the taken divergences' lower bound (bp), pooled:")
        print(pd.DataFrame({"share": by.size() / len(g), "gap_bp": by.mean()}).round(2)
              .to_string())
    seeds = range(a.first_seed, a.first_seed + min(a.seeds, 4))
    print(f"\nthe planted edge by month (seeds {seeds.start}-{seeds.stop - 1}, hindsight):")
    print(month_edges(data, seeds, a.ic).round(1).to_string())
    print(f"\n{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} CPU-s")


if __name__ == "__main__":
    main()
