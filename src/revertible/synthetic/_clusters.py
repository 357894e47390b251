"""A generated market with planted factor clusters (the known answer for ``baskets``).

Hourly log returns of asset ``i`` in cluster ``k``:
``r_i = sigma_i * (sqrt(rho_m) m + sqrt(rho_c - rho_m) f_k + sqrt(1 - rho_c) e_i)``, with
independent standard normal market ``m``, cluster factors ``f_k`` and idiosyncratic ``e_i``. Two
members of one cluster then correlate at ``rho_c``, members of different clusters at ``rho_m``.
Unclustered ("noise") assets load on the market only: ``sqrt(rho_m) m + sqrt(1 - rho_m) e_i``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import Panel

__all__ = ["generate_cluster_market"]


def generate_cluster_market(
    n_clusters: int = 4,
    cluster_size: int = 4,
    n_noise: int = 4,
    rho_cluster: float = 0.75,
    rho_market: float = 0.2,
    n_bars: int = 24 * 120,
    seed: int = 0,
    start: str = "2024-01-01",
    quote_volume: float = 5e7,
) -> tuple[Panel, pd.Series]:
    """Panel with planted clusters and the truth: asset -> cluster (1..K; 0 for noise assets).

    Volatilities are drawn in ``[0.5%, 1.5%]`` per hour; every asset trades from the first bar with
    a constant hourly quote volume of ``quote_volume / 24`` (so all pass the liquidity filter).
    """
    if not 0.0 <= rho_market < rho_cluster < 1.0:
        raise ValueError("need 0 <= rho_market < rho_cluster < 1")
    rng = np.random.default_rng(seed)
    n = n_clusters * cluster_size + n_noise
    cluster = np.concatenate([np.repeat(np.arange(1, n_clusters + 1), cluster_size),
                              np.zeros(n_noise, dtype=np.int64)])
    perm = rng.permutation(n)  # names carry no hint of the cluster
    cluster = cluster[perm]
    m = rng.standard_normal(n_bars)
    f = rng.standard_normal((n_bars, n_clusters + 1))
    e = rng.standard_normal((n_bars, n))
    z = np.sqrt(rho_market) * m[:, None] + np.where(
        cluster > 0,
        np.sqrt(rho_cluster - rho_market) * f[:, cluster] + np.sqrt(1 - rho_cluster) * e,
        np.sqrt(1 - rho_market) * e,
    )
    sigma = rng.uniform(0.005, 0.015, n)
    r = z * sigma
    r[0] = 0.0
    close = 100.0 * np.exp(np.cumsum(r, axis=0))
    open_ = np.vstack([close[:1], close[:-1]])
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    qv = np.full((n_bars, n), quote_volume / 24)
    names = tuple(f"C{i:02d}/USDT" for i in range(n))
    times = pd.date_range(start, periods=n_bars, freq="h", tz="UTC")
    f_ = np.asfortranarray
    panel = Panel(times=times, assets=names, open=f_(open_), high=f_(high), low=f_(low),
                  close=f_(close), volume=f_(qv / close), quote_volume=f_(qv), source="synthetic",
                  meta={"seed": seed, "clusters": dict(zip(names, cluster.tolist(), strict=True))})
    return panel, pd.Series(cluster, index=list(names), name="cluster")
