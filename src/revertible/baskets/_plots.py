"""Heatmap of the baskets at one bar: members grouped by basket, outlined."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..io import save_png, subplots
from ._core import bar_index, correlations_at

if TYPE_CHECKING:
    import pandas as pd

    from ..config import Config
    from ..data import Panel

__all__ = ["plot_basket_heatmap"]


def plot_basket_heatmap(panel: Panel, cfg: Config, table: pd.DataFrame, dest: str | Path) -> Path:
    """PNG heatmap of the basket members' correlations, grouped by basket.

    The mean (over ``baskets.windows_days``) return correlation of every basket member, in basket
    order, each basket outlined. ``table`` is :func:`basket_table`'s output. Written atomically.
    """
    from matplotlib.patches import Rectangle

    dest = Path(dest)
    members = list(table["asset"])
    fig, ax = subplots(figsize=(max(5.0, 0.22 * len(members) + 3),) * 2)
    if members:
        t = bar_index(panel, table["time"].iloc[0])
        cors = correlations_at(panel.select(members), t, cfg.baskets.windows_days,
                               cfg.universe.min_obs_frac)
        m = np.mean([cors[d] for d in cfg.baskets.windows_days], axis=0)
        im = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
        labels = [a.split("/")[0] for a in members]
        fs = max(4.0, min(9.0, 400 / len(labels)))
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=fs)
        ax.set_yticks(range(len(labels)), labels, fontsize=fs)
        start = 0
        for _, g in table.groupby("basket", sort=False):
            k = len(g)
            ax.add_patch(Rectangle((start - 0.5, start - 0.5), k, k, fill=False, lw=1.5))
            start += k
        fig.colorbar(im, ax=ax, shrink=0.7, label="mean 30/60/90-day correlation")
        ax.set_title(f"{table['basket'].nunique()} baskets at {panel.times[t]:%Y-%m-%d %H:%M} "
                     "UTC", fontsize=10)
    else:
        ax.set_title("no basket")
    fig.tight_layout()
    return save_png(fig, dest)
