"""Divergence episodes and their reversion labels (docs/design.md default definition).

An episode of ordered pair (A, B) starts at bar ``t`` when ``|z_t| >= entry`` and
``|z_{t-1}| < entry`` (both finite), the pair is eligible at ``t``, and ``t`` is not inside an
earlier episode of the pair. With ``beta_t``, ``mean_t`` and ``std_t`` frozen at ``t``::

    z'_{t+k} = sign(z_t) * (a_{t+k} - beta_t * b_{t+k} - mean_t) / std_t,   k = 1..horizon

The label is 1 when ``z' <= exit`` happens before ``z' >= stop`` within the horizon, else 0. The
episode ends at the first barrier touched (``revert`` / ``stop``) or at ``t + horizon``
(``timeout``). Bars where either price is missing cannot touch a barrier. An episode whose horizon
reaches past the pair's last bar with both prices, and which has touched no barrier, is ``open``:
label null. Only the label looks forward; detection at ``t`` uses bars ``<= t`` (an earlier
episode blocks ``t`` only while it is still running at ``t``).

Pair orientation: the universe holds each unordered pair once, with ``asset_a`` the name that sorts
first (``BTC/USDT`` before ``ETH/USDT``). The orientation is fixed by names, never by data, so it is
point-in-time by construction; the spread regresses A on B.

:func:`build_episodes` streams blocks of pairs through one compiled kernel (parallel over pairs)
that computes the return correlation, the hedge ratio, spread, z-score, detection and labels, so
memory is bounded by the block size, not by the number of pairs.

With ``spread.beta_model: kalman`` the hedge ratio is the Kalman filter's
(:func:`revertible.spread.kalman_series`) and the same detector and label run over its series
(:mod:`._models`). With ``universe.max_coint_pvalue``, an episode is kept only when its pair's
latest daily Engle-Granger p-value at the entry bar is at most that (the episode is detected, and
blocks its pair while it runs, either way: the filter decides what is traded, not the detection).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..spread import SpreadSeries, block_kernel, detect_label, min_obs, pack_assets
from ..universe import universe_pairs
from ._models import kalman_rows, pair_coint_pvalues
from ._outcomes import LEG_COLUMNS, trade_outcome_legs

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ..config import Config
    from ..data import Panel

__all__ = [
    "EPISODE_COLUMNS",
    "EXIT_REASONS",
    "pair_episodes",
    "iter_episode_blocks",
    "build_episodes",
    "write_episodes",
    "empty_episodes",
]

EPISODE_COLUMNS = [
    "asset_a",
    "asset_b",
    "entry_time",
    "z_entry",
    "beta",
    "spread_mean",
    "spread_std",
    "label",
    "exit_time",
    "exit_reason",
    "bars_held",
    "revert_return",
    "continue_return",
]
EXIT_REASONS = np.array(["revert", "stop", "timeout", "open"], dtype=object)
_N_FIELDS = 10  # entry_idx, z, beta, mean, std, label, exit_idx, reason, held, corr
_REL = {"both": 0, "positive": 1, "inverse": 2}
_NO_SERIES = np.empty((0, 6, 0))


def pair_episodes(
    a: np.ndarray,
    b: np.ndarray,
    sp: SpreadSeries,
    eligible: np.ndarray | None = None,
    entry: float = 2.0,
    exit: float = 0.5,
    stop: float = 4.0,
    horizon: int = 48,
) -> pd.DataFrame:
    """Episodes of one pair from its spread series (see the module docstring for the rule).

    Returns
    -------
    pandas.DataFrame
        Columns ``entry_idx, z_entry, beta, spread_mean, spread_std, label, exit_idx,
        exit_reason, bars_held``; ``label`` is 1.0, 0.0 or NaN (open), ``exit_idx`` is -1 when
        open. Indices are bar positions.
    """
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    n = a.shape[0]
    elig = np.ones(n, dtype=np.bool_) if eligible is None else np.asarray(eligible, np.bool_)
    cap = n // 2 + 1
    out = np.empty((cap, _N_FIELDS))
    cnt = detect_label(
        a, b, sp.beta, sp.mean, sp.std, sp.z, elig, entry, exit, stop, horizon, out, cap
    )
    return _rows_to_frame(out[:cnt]).drop(columns="corr_entry")


def _rows_to_frame(rows: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "entry_idx": rows[:, 0].astype(np.int64),
            "z_entry": rows[:, 1],
            "beta": rows[:, 2],
            "spread_mean": rows[:, 3],
            "spread_std": rows[:, 4],
            "label": rows[:, 5],
            "exit_idx": rows[:, 6].astype(np.int64),
            "exit_reason": EXIT_REASONS[rows[:, 7].astype(np.int64)],
            "bars_held": rows[:, 8].astype(np.int64),
            "corr_entry": rows[:, 9],
        }
    )


def iter_episode_blocks(
    panel: Panel,
    cfg: Config,
    asset_elig: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[pd.DataFrame]:
    """Yield the episode table block by block of ``cfg.compute.block_size`` pairs.

    Parameters
    ----------
    panel : Panel
        Aligned prices.
    cfg : Config
        Spread, label, universe and compute settings.
    asset_elig : numpy.ndarray
        ``(T, N)`` bool, per-asset eligibility (liquidity, history) from
        :func:`revertible.universe.asset_eligibility`.
    pairs : tuple of arrays, optional
        Column indices ``(ia, ib)``; default :func:`universe_pairs`.
    progress : callable, optional
        Called with ``(pairs_done, pairs_total)`` after each block.
    """
    pack = pack_assets(panel.log_close())
    elig = np.asfortranarray(asset_elig, dtype=np.bool_)
    ia, ib = universe_pairs(panel.assets) if pairs is None else pairs
    n_pairs = len(ia)
    n = panel.n_bars
    sc, lc, uc = cfg.spread, cfg.label, cfg.universe
    cw = panel.days_to_bars(uc.eligibility_window_days)
    args = (
        sc.beta_window, sc.z_window,
        min_obs(sc.beta_window, sc.min_obs_frac), min_obs(sc.z_window, sc.min_obs_frac),
        cw, min_obs(cw, uc.min_obs_frac), uc.min_abs_corr, _REL[uc.relationship],
        lc.entry, lc.exit, lc.stop, lc.horizon,
    )
    cap = min(n // 2 + 1, max(64, n // 16))
    bs = cfg.compute.block_size
    times = panel.times
    names = np.asarray(panel.assets, dtype=object)
    opn, close = np.ascontiguousarray(panel.open), np.ascontiguousarray(panel.close)
    cc = cfg.continue_
    barriers = (lc.exit, lc.stop, lc.horizon, cc.take_profit, cc.stop, cc.horizon_or(lc.horizon))
    kalman = sc.beta_model == "kalman"
    if kalman:
        bs = min(bs, 256)  # the Kalman path holds (pairs, 6, T) correlation series per block
    for start in range(0, n_pairs, bs):
        pa, pb = ia[start : start + bs], ib[start : start + bs]
        if kalman:
            rows, which = kalman_rows(panel, elig, pa, pb, cfg, cw)
        else:
            counts = np.zeros(len(pa), dtype=np.int64)
            out = np.empty((len(pa), cap, _N_FIELDS))
            block_kernel(pack, elig, pa, pb, *args, False, _NO_SERIES, cap, out, counts)
            if counts.max(initial=0) > cap:  # rare: a pair with very many episodes
                big = n // 2 + 1
                out = np.empty((len(pa), big, _N_FIELDS))
                block_kernel(pack, elig, pa, pb, *args, False, _NO_SERIES, big, out, counts)
            which = np.repeat(np.arange(len(pa)), counts)
            slot = np.concatenate([np.arange(c) for c in counts]) if len(which) else which
            rows = out[which, slot]
        if uc.max_coint_pvalue is not None:  # the pair's latest daily test at the entry bar
            p_at = pair_coint_pvalues(panel, cfg, pa, pb)[which, rows[:, 0].astype(np.int64)]
            keep = p_at <= uc.max_coint_pvalue  # NaN (no test yet) fails
            rows, which = rows[keep], which[keep]
        df = _rows_to_frame(rows)
        exit_idx = df.pop("exit_idx").to_numpy()
        entry_idx = df.pop("entry_idx").to_numpy()
        df.insert(0, "asset_a", names[pa[which]])
        df.insert(1, "asset_b", names[pb[which]])
        df.insert(2, "entry_time", times[entry_idx])
        df["exit_time"] = pd.Series(times[np.maximum(exit_idx, 0)]).where(exit_idx >= 0)
        df["label"] = df["label"].astype("Float64")
        df.loc[df["exit_reason"] == "open", "label"] = pd.NA
        outcomes = trade_outcome_legs(
            pack, opn, close, entry_idx, pa[which], pb[which], df["z_entry"], df["beta"],
            df["spread_mean"], df["spread_std"], *barriers, revert_exit=exit_idx,
        )
        for col, values in outcomes.items():
            df[col] = values
        yield df[[*EPISODE_COLUMNS, "corr_entry", *LEG_COLUMNS]].reset_index(drop=True)
        if progress is not None:
            progress(min(start + bs, n_pairs), n_pairs)


def build_episodes(
    panel: Panel,
    cfg: Config,
    asset_elig: np.ndarray | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """The whole episode table (docs/design.md columns), sorted by entry time then pair."""
    if asset_elig is None:
        from ..universe import asset_eligibility

        asset_elig = asset_eligibility(panel, cfg.universe)
    blocks = list(iter_episode_blocks(panel, cfg, asset_elig, progress=progress))
    if not blocks:
        return empty_episodes()
    df = pd.concat(blocks, ignore_index=True)
    return df.sort_values(["entry_time", "asset_a", "asset_b"], kind="stable").reset_index(
        drop=True
    )


def empty_episodes() -> pd.DataFrame:
    """An episode table with no rows and the right dtypes."""
    return pd.DataFrame(
        {
            "asset_a": pd.Series([], dtype=object),
            "asset_b": pd.Series([], dtype=object),
            "entry_time": pd.DatetimeIndex([], tz="UTC"),
            "z_entry": pd.Series([], dtype=float),
            "beta": pd.Series([], dtype=float),
            "spread_mean": pd.Series([], dtype=float),
            "spread_std": pd.Series([], dtype=float),
            "label": pd.Series([], dtype="Float64"),
            "exit_time": pd.DatetimeIndex([], tz="UTC"),
            "exit_reason": pd.Series([], dtype=object),
            "bars_held": pd.Series([], dtype=np.int64),
            "revert_return": pd.Series([], dtype=float),
            "continue_return": pd.Series([], dtype=float),
            "corr_entry": pd.Series([], dtype=float),
            **{c: pd.Series([], dtype=float) for c in LEG_COLUMNS},
        }
    )


def write_episodes(
    panel: Panel,
    cfg: Config,
    dest: str | Path | None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Stream the episode table to ``dest`` (parquet or CSV, atomically) block by block.

    Rows are ordered by pair, then entry time. Memory stays bounded by the block size for
    parquet output (CSV is collected, then written). Returns a summary dictionary.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..io import atomic_path, write_table
    from ..universe import asset_eligibility

    elig = asset_eligibility(panel, cfg.universe)
    n_pairs = len(universe_pairs(panel.assets)[0])
    stats = {"episodes": 0, "labelled": 0, "reverted": 0, "open": 0}
    reasons: dict[str, int] = {}
    pairs_with = 0

    def account(block: pd.DataFrame) -> None:
        nonlocal pairs_with
        stats["episodes"] += len(block)
        lab = block["label"].dropna()
        stats["labelled"] += len(lab)
        stats["reverted"] += int((lab == 1).sum())
        stats["open"] += int(block["label"].isna().sum())
        for k, v in block["exit_reason"].value_counts().items():
            reasons[k] = reasons.get(k, 0) + int(v)
        pairs_with += block[["asset_a", "asset_b"]].drop_duplicates().shape[0]

    blocks = iter_episode_blocks(panel, cfg, elig, progress=progress)
    dest_path = Path(dest) if dest is not None else None
    if dest_path is not None and dest_path.suffix.lower() in {".parquet", ".pq"}:
        with atomic_path(dest_path) as tmp:
            ts = pa.timestamp("ns", tz="UTC")
            schema = pa.schema(
                [("asset_a", pa.string()), ("asset_b", pa.string()), ("entry_time", ts),
                 ("z_entry", pa.float64()), ("beta", pa.float64()), ("spread_mean", pa.float64()),
                 ("spread_std", pa.float64()), ("label", pa.float64()), ("exit_time", ts),
                 ("exit_reason", pa.string()), ("bars_held", pa.int64()),
                 ("revert_return", pa.float64()), ("continue_return", pa.float64()),
                 ("corr_entry", pa.float64()), *((c, pa.float64()) for c in LEG_COLUMNS)]
            )
            with pq.ParquetWriter(tmp, schema) as writer:
                for block in blocks:
                    account(block)
                    table = pa.Table.from_pandas(block, schema=schema, preserve_index=False)
                    writer.write_table(table)
    else:
        collected = []
        for block in blocks:
            account(block)
            collected.append(block)
        if dest_path is not None:
            df = pd.concat(collected, ignore_index=True) if collected else empty_episodes()
            write_table(df, dest_path)
    return {
        **stats,
        "pairs": n_pairs,
        "pairs_with_episodes": pairs_with,
        "reversion_rate": (
            stats["reverted"] / stats["labelled"] if stats["labelled"] else float("nan")
        ),
        "exit_reasons": dict(sorted(reasons.items())),
    }
