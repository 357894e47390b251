"""Synthetic markets with a known answer: planted cointegrated pairs, breaks, listings, gaps.

The generator builds hourly bars for a small universe whose pair structure is known exactly, so
tests and the ``demo`` command can check the pipeline against the truth:

* log prices are driven by common factors: a market factor and two sector factors, each with
  stochastic (log-AR(1)) volatility, calm/stressed volatility regimes and Student-t innovations
  (fat tails); one base asset loads negatively on the market and some load negatively on their
  sector, so inverse relationships exist besides the planted ones;
* planted pairs ``a = beta * b + c + s`` where ``b`` is a factor-driven asset and the spread ``s``
  is an Ornstein-Uhlenbeck (AR(1)) process with a known half-life (``ou``), a random walk
  (``random_walk``), or an OU spread whose relationship breaks at ``break_bar`` (``break``: the
  spread turns into a random walk, or the hedge ratio shifts to ``beta_after``);
* late listings (NaN before the listing bar), a few missing bars, one multi-bar gap;
* consistent OHLC and a base/quote volume with intraday seasonality, activity bursts and
  per-asset liquidity levels: most assets have a median daily quote volume of several million,
  the illiquid ones a few hundred thousand (they fail a 1M liquidity filter).

:func:`write_market` writes the panel as freqtrade-style feather files so the normal loader reads
synthetic data through the same path as real data. :func:`simulate_ou_pair` and
:func:`simulate_random_walk_pair` are the minimal Gaussian processes used to test the labeler
against theory.

Everything is vectorised numpy (AR(1) recursions via :func:`scipy.signal.lfilter`) and fully
determined by ``seed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from ..data import Panel
from ..io import atomic_path
from ._pairs import _ar1, _ou_spread, _t_noise, ou_phi

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "PairSpec",
    "DEFAULT_PAIRS",
    "TRUTH_COLUMNS",
    "FactorReturns",
    "factor_returns",
    "generate_market",
    "write_market",
]

TRUTH_COLUMNS = [
    "asset_a",
    "asset_b",
    "kind",
    "half_life_bars",
    "beta",
    "break_bar",
    "beta_after",
    "intercept",
    "spread_sigma",
]

_BAR = pd.Timedelta(hours=1)
_T_DF = 4.0  # Student-t degrees of freedom of price innovations (fat tails)
_SPREAD_T_DF = 6.0  # ... and of spread innovations


@dataclass(frozen=True)
class FactorReturns:
    """Per-bar log returns of a generated market's assets before any pair is planted.

    ``returns`` and ``variance`` (its conditional variance, known at the bar before) are
    ``(n, k)``; ``drift`` is each asset's constant per-bar drift ``(k,)``.
    """

    returns: np.ndarray
    variance: np.ndarray
    drift: np.ndarray


@dataclass(frozen=True)
class PairSpec:
    """One planted pair ``a = beta * b + c + s``.

    Parameters
    ----------
    kind : {'ou', 'random_walk', 'break'}
        Spread process: Ornstein-Uhlenbeck, random walk, or OU until ``break_frac`` of the sample.
    half_life : float or None
        OU half-life in bars (``ou`` and ``break``); ignored for ``random_walk``.
    beta : float
        Hedge ratio of log prices (negative: inverse relationship).
    beta_after : float or None
        ``break`` only: the hedge ratio after the break (the spread stays OU). ``None``: the
        hedge ratio stays and the spread turns into a random walk at the break.
    break_frac : float
        ``break`` only: the break bar as a share of the sample.
    spread_std : float
        Stationary standard deviation of the OU spread (log units); for a random-walk spread the
        per-bar innovation is ``spread_std * sqrt(1 - phi**2)`` with ``phi`` of a 12-bar half-life.
    """

    kind: Literal["ou", "random_walk", "break"]
    half_life: float | None = None
    beta: float = 1.0
    beta_after: float | None = None
    break_frac: float = 0.5
    spread_std: float = 0.015

    def __post_init__(self) -> None:
        if self.kind not in ("ou", "random_walk", "break"):
            raise ValueError(
                f"`kind` must be one of 'ou', 'random_walk', 'break', but got {self.kind!r}"
            )
        if self.kind != "random_walk" and not (self.half_life is not None and self.half_life > 0):
            raise ValueError(
                f"a {self.kind!r} pair needs `half_life > 0`, but got {self.half_life!r}"
            )
        if not 0.0 < self.break_frac < 1.0:
            raise ValueError(f"`0 < break_frac < 1` must hold, but got {self.break_frac}")
        if not self.spread_std > 0.0:
            raise ValueError(f"`spread_std > 0` must hold, but got {self.spread_std}")


#: The default plan: OU half-lives 6/12/24/48 (one inverse), a random walk, two kinds of break.
#: ``generate_market`` plants the first ``n_assets // 2`` of them.
DEFAULT_PAIRS: tuple[PairSpec, ...] = (
    PairSpec("ou", half_life=6, beta=1.25),
    PairSpec("ou", half_life=12, beta=0.8),
    PairSpec("ou", half_life=24, beta=-0.7),
    PairSpec("ou", half_life=48, beta=1.5),
    PairSpec("random_walk", beta=1.0),
    PairSpec("break", half_life=12, beta=0.9),
    PairSpec("break", half_life=12, beta=1.1, beta_after=0.5, break_frac=0.6),
)


# --------------------------------------------------------------------------- the market


def _asset_names(n: int) -> list[str]:
    letters = [chr(ord("A") + i) for i in range(26)]
    names = [c * 3 for c in letters]
    names += [f"Q{x}{y}" for x in letters for y in letters if not x == y == "Q"]
    if n > len(names):
        raise ValueError(f"`n_assets <= {len(names)}` must hold, but got n_assets={n}")
    return [f"{s}/USDT" for s in names[:n]]


def _regime(rng: np.random.Generator, n: int) -> np.ndarray:
    """Volatility multiplier: calm (1.0) and stressed (2.2) blocks of geometric length."""
    k = max(4, 2 * n // (24 * 12) + 4)
    calm = rng.geometric(1.0 / (24 * 18), size=k)
    stress = rng.geometric(1.0 / (24 * 3), size=k)
    lengths = np.column_stack([calm, stress]).ravel()
    levels = np.tile([1.0, 2.2], k)
    while lengths.sum() < n:  # pragma: no cover - astronomically rare
        lengths = np.concatenate([lengths, lengths])
        levels = np.concatenate([levels, levels])
    return np.repeat(levels, lengths)[:n]


def _sv_returns(
    rng: np.random.Generator, n: int, k: int, vol: np.ndarray, regime: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(sigma, returns)``, each ``(n, k)``: stochastic log-volatility, regimes, t innovations.

    ``sigma`` is each bar's volatility, known before the bar (independent of the innovation).
    """
    phi_h = 0.995
    sd_h = 0.45  # stationary std of log-vol
    eta = rng.normal(0.0, sd_h * math.sqrt(1 - phi_h**2), size=(n, k))
    eta[0] = rng.normal(0.0, sd_h, size=k)
    h = _ar1(eta, phi_h)
    sig = np.exp(h - sd_h**2) * regime[:, None] * vol[None, :]  # E[sig^2] ~ vol^2 * regime^2
    return sig, sig * _t_noise(rng, _T_DF, (n, k))


def factor_returns(rng: np.random.Generator, n: int, k: int) -> FactorReturns:
    """The factor model under every generated market, drawn from ``rng`` in a fixed order.

    A market factor, two sector factors and idiosyncratic noise, each with stochastic
    volatility; loadings, signs and a small drift per asset. :func:`generate_market` draws these
    first, so its unplanted assets' log returns are exactly :attr:`FactorReturns.returns` (row 0
    is the first bar's return, not observable in prices).

    Examples
    --------
    >>> import numpy as np
    >>> f = factor_returns(np.random.default_rng(0), 100, 4)
    >>> f.returns.shape, f.variance.shape, f.drift.shape
    ((100, 4), (100, 4), (4,))
    """
    regime = _regime(rng, n)
    sf, factors = _sv_returns(rng, n, 3, np.array([0.007, 0.004, 0.004]), regime)
    si, idio = _sv_returns(rng, n, k, rng.uniform(0.004, 0.009, k), regime)
    load_m = rng.uniform(0.6, 1.4, k)
    sector = np.arange(k) % 2
    load_s = rng.uniform(0.5, 1.2, k) * np.where(rng.random(k) < 0.3, -1.0, 1.0)
    load_m[k - 1] *= -1.0  # the last asset moves against the market (with its pair leg A)
    drift = rng.normal(0.0, 2e-5, k)
    sec_f = np.where(sector == 0, factors[:, [1]], factors[:, [2]])
    sec_s = np.where(sector == 0, sf[:, [1]], sf[:, [2]])
    rets = factors[:, [0]] * load_m + sec_f * load_s + idio + drift
    var = (sf[:, [0]] * load_m) ** 2 + (sec_s * load_s) ** 2 + si**2
    return FactorReturns(returns=rets, variance=var, drift=drift)


def _ema(x: np.ndarray, alpha: float) -> np.ndarray:
    zi = x[:1] * (1 - alpha)
    return lfilter([alpha], [1.0, -(1.0 - alpha)], x, axis=0, zi=zi)[0]


def generate_market(
    n_assets: int = 12,
    n_bars: int = 24 * 240,
    seed: int = 0,
    start: str | pd.Timestamp = "2024-01-01",
    *,
    pairs: Sequence[PairSpec] | None = None,
    n_late: int = 2,
    n_illiquid: int = 1,
    missing_frac: float = 0.0005,
    gap_bars: int = 6,
) -> tuple[Panel, pd.DataFrame]:
    """Generate an hourly market with planted pairs and a truth table.

    Parameters
    ----------
    n_assets : int
        Number of assets (named ``AAA/USDT``, ``BBB/USDT``, ...). Planted pair ``i`` uses assets
        ``2i`` (leg A) and ``2i + 1`` (leg B); the remaining assets are factor-driven only.
    n_bars : int
        Number of hourly bars (default 240 days).
    seed : int
        Seed; the output is a deterministic function of all arguments.
    start : str or pandas.Timestamp
        Open time of the first bar (naive means UTC).
    pairs : sequence of PairSpec, optional
        The planted pairs; default the first ``n_assets // 2`` of :data:`DEFAULT_PAIRS`.
    n_late : int
        Assets listed late, at a bar drawn in 15%-50% of the sample (NaN before).
    n_illiquid : int
        Assets with a median daily quote volume of 0.15-0.5 million (others: 3-300 million).
    missing_frac : float
        Share of each asset's listed bars dropped at random (never its first or the last bar).
    gap_bars : int
        Length of one extra run of consecutive missing bars in one asset (0: none).

    Returns
    -------
    panel : Panel
        ``(T, N)`` Fortran-ordered float64 arrays, ``times`` hourly UTC, ``funding=None``,
        ``source="synthetic"``; ``meta`` holds ``seed``, ``truth``, ``listing_bar`` (asset -> bar),
        ``illiquid`` (asset names) and ``missing`` (asset -> number of missing listed bars).
    truth : pandas.DataFrame
        One row per planted pair, columns :data:`TRUTH_COLUMNS`: ``asset_a, asset_b, kind,
        half_life_bars`` (NaN for random walks), ``beta`` (before any break), ``break_bar``
        (nullable int), ``beta_after``, ``intercept`` (of ``a = beta*b + c + s`` before any
        break), ``spread_sigma`` (stationary std of the OU spread, or the per-bar innovation std
        of a random-walk spread).

    Examples
    --------
    >>> panel, truth = generate_market(n_assets=6, n_bars=500, seed=1, n_late=1, n_illiquid=0)
    >>> panel.close.shape, panel.close.flags.f_contiguous, list(truth["kind"])
    ((500, 6), True, ['ou', 'ou', 'ou'])
    """
    if n_assets < 2:
        raise ValueError(f"`n_assets >= 2` must hold, but got n_assets={n_assets}")
    if n_bars < 48:
        raise ValueError(f"`n_bars >= 48` must hold, but got n_bars={n_bars}")
    plan = list(DEFAULT_PAIRS[: n_assets // 2] if pairs is None else pairs)
    if 2 * len(plan) > n_assets:
        raise ValueError(
            f"`2 * len(pairs) <= n_assets` must hold, but got {len(plan)} pairs for "
            f"n_assets={n_assets}; pass fewer pairs or more assets"
        )
    if n_late + n_illiquid > n_assets:
        raise ValueError(
            f"`n_late + n_illiquid <= n_assets` must hold, but got n_late={n_late}, "
            f"n_illiquid={n_illiquid}, n_assets={n_assets}"
        )
    if not 0.0 <= missing_frac < 0.5:
        raise ValueError(f"`0 <= missing_frac < 0.5` must hold, but got {missing_frac}")

    rng = np.random.default_rng(seed)
    n, k = n_bars, n_assets
    names = _asset_names(k)
    times = _bar_times(start, n)

    # --- common factors and idiosyncratic noise ------------------------------------------
    rets = factor_returns(rng, n, k).returns
    logp = np.cumsum(rets, axis=0) + rng.uniform(np.log(0.05), np.log(30_000.0), k)

    # --- planted pairs: overwrite leg A -------------------------------------------------
    rows = []
    for i, spec in enumerate(plan):
        ia, ib = 2 * i, 2 * i + 1
        b = logp[:, ib]
        hl = spec.half_life if spec.half_life is not None else 12.0
        if spec.kind == "random_walk":
            sig = spec.spread_std * math.sqrt(1 - ou_phi(12.0) ** 2)
            s = np.cumsum(sig * _t_noise(rng, _SPREAD_T_DF, n))
            spread_sigma = sig
        else:
            s = _ou_spread(rng, n, hl, spec.spread_std, _SPREAD_T_DF)
            spread_sigma = spec.spread_std
        target0 = rng.uniform(np.log(0.05), np.log(30_000.0))
        c = target0 - spec.beta * b[0] - s[0]
        a = spec.beta * b + c + s
        break_bar = None
        if spec.kind == "break":
            break_bar = int(round(spec.break_frac * n))
            if spec.beta_after is None:  # spread turns into a random walk
                sig = spec.spread_std * math.sqrt(1 - ou_phi(hl) ** 2)
                rw = np.cumsum(sig * _t_noise(rng, _SPREAD_T_DF, n - break_bar))
                a[break_bar:] = (spec.beta * b + c)[break_bar:] + s[break_bar - 1] + rw
            else:  # hedge ratio shifts, continuously at the break
                c2 = c + (spec.beta - spec.beta_after) * b[break_bar]
                a[break_bar:] = (spec.beta_after * b + c2 + s)[break_bar:]
        logp[:, ia] = a
        rows.append(
            {
                "asset_a": names[ia],
                "asset_b": names[ib],
                "kind": spec.kind,
                "half_life_bars": float(spec.half_life) if spec.kind != "random_walk" else np.nan,
                "beta": float(spec.beta),
                "break_bar": break_bar,
                "beta_after": float(spec.beta if spec.beta_after is None else spec.beta_after),
                "intercept": float(c),
                "spread_sigma": float(spread_sigma),
            }
        )
    truth = pd.DataFrame(rows, columns=TRUTH_COLUMNS)
    truth["break_bar"] = truth["break_bar"].astype("Int64")

    # --- availability: late listings, missing bars, one gap ------------------------------
    perm = rng.permutation(k)
    late, illiquid = perm[:n_late], perm[n_late : n_late + n_illiquid]
    listing = np.zeros(k, dtype=np.int64)
    listing[late] = (rng.uniform(0.15, 0.5, n_late) * n).astype(np.int64)
    valid = np.arange(n)[:, None] >= listing[None, :]
    for j in range(k):
        cand = np.arange(listing[j] + 1, n - 1)
        m = rng.binomial(len(cand), missing_frac) if len(cand) else 0
        valid[rng.choice(cand, size=m, replace=False), j] = False
    if gap_bars > 0 and n > 4 * gap_bars:
        j = int(rng.integers(k))
        g0 = int(rng.integers(max(listing[j] + 1, n // 4), n - 2 * gap_bars))
        valid[g0 : g0 + gap_bars, j] = False

    # --- OHLC ---------------------------------------------------------------------------
    r = np.diff(logp, axis=0, prepend=logp[:1])
    absr = np.abs(r)
    absr[0] = np.median(absr[1:], axis=0)
    bar_vol = _ema(absr, 0.05)  # local typical |return| per bar
    close = np.exp(logp)
    open_ = np.empty_like(close)
    open_[1:] = close[:-1] * np.exp(rng.normal(0.0, 0.02, (n - 1, k)) * bar_vol[1:])
    open_[0] = close[0] * np.exp(rng.normal(0.0, 1.0, k) * bar_vol[0])
    up = np.abs(rng.normal(0.0, 0.6, (n, k))) * bar_vol
    dn = np.abs(rng.normal(0.0, 0.6, (n, k))) * bar_vol
    high = np.maximum(open_, close) * np.exp(up)
    low = np.minimum(open_, close) * np.exp(-dn)

    # --- volume ---------------------------------------------------------------------------
    level = np.exp(rng.uniform(np.log(3e6), np.log(3e8), k))  # median daily quote volume
    level[illiquid] = rng.uniform(1.5e5, 5e5, len(illiquid))
    hour = times.hour.to_numpy()
    season = 1.0 + 0.35 * np.cos(2 * np.pi * (hour - 15) / 24.0)
    liq = np.exp(_ar1(rng.normal(0.0, 0.4 * math.sqrt(1 - 0.97**2), (n, k)), 0.97))
    burst = 1.0 + 1.5 * absr / np.maximum(bar_vol, 1e-12)
    since = np.arange(n)[:, None] - listing[None, :]
    hype = 1.0 + np.where(np.isin(np.arange(k), late), 3.0, 0.0) * np.exp(
        -np.maximum(since, 0) / (24.0 * 7)
    )
    qv = season[:, None] * liq * burst * hype * np.exp(rng.normal(0.0, 0.35, (n, k)))
    day = (times.normalize() - times[0].normalize()).days.to_numpy()
    for j in range(k):
        ok = valid[:, j]
        daily = np.bincount(day[ok], weights=qv[ok, j])
        full = np.bincount(day[ok]) >= 20
        med = np.median(daily[full]) if full.any() else np.median(daily)
        qv[:, j] *= level[j] / med
    volume = qv / close

    arrays = {}
    for name, x in (
        ("open", open_), ("high", high), ("low", low), ("close", close),
        ("volume", volume), ("quote_volume", volume * close),
    ):
        arrays[name] = np.asfortranarray(np.where(valid, x, np.nan))
    listed = {names[j]: int(listing[j]) for j in range(k)}
    missing = {names[j]: int((~valid[listing[j] :, j]).sum()) for j in range(k)}
    panel = Panel(
        times=times,
        assets=tuple(names),
        funding=None,
        source="synthetic",
        meta={
            "seed": seed,
            "truth": truth,
            "listing_bar": listed,
            "illiquid": [names[j] for j in sorted(illiquid)],
            "missing": missing,
        },
        **arrays,
    )
    return panel, truth


def _bar_times(start: str | pd.Timestamp, n: int) -> pd.DatetimeIndex:
    t0 = pd.Timestamp(start)
    t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
    return pd.date_range(t0, periods=n, freq=_BAR).as_unit("ns")


# --------------------------------------------------------------------------- files


def write_market(
    folder: str | Path, panel: Panel, truth: pd.DataFrame | None = None
) -> list[Path]:
    """Write ``panel`` as freqtrade-style feather files, plus ``truth.csv``.

    One file per asset, ``AAA_USDT-1h.feather`` for ``AAA/USDT``, with columns ``date``
    (``datetime64[ns, UTC]``, the bar's open time), ``open, high, low, close, volume`` (base
    units), holding only the asset's listed, non-missing bars, as the exchange would. Each file is
    written atomically.

    Parameters
    ----------
    folder : str or pathlib.Path
        Output folder, created if missing.
    panel : Panel
        Typically from :func:`generate_market`.
    truth : pandas.DataFrame, optional
        Written as ``truth.csv``; default ``panel.meta["truth"]`` when present.

    Returns
    -------
    list of pathlib.Path
        The feather files in asset order, then ``truth.csv`` if written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if truth is None:
        truth = panel.meta["truth"] if "truth" in panel.meta else None
    dates = pd.Series(panel.times.as_unit("ns"), name="date")
    paths = []
    for j, name in enumerate(panel.assets):
        ok = np.isfinite(panel.close[:, j])
        df = pd.DataFrame(
            {
                "date": dates[ok].reset_index(drop=True),
                **{f: getattr(panel, f)[ok, j] for f in ("open", "high", "low", "close", "volume")},
            }
        )
        dest = folder / f"{name.replace('/', '_')}-1h.feather"
        with atomic_path(dest) as tmp:
            df.to_feather(tmp)
        paths.append(dest)
    if truth is not None:
        dest = folder / "truth.csv"
        with atomic_path(dest) as tmp:
            truth.to_csv(tmp, index=False)
        paths.append(dest)
    return paths
