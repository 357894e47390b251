"""Training data: the episode table and its features, the feature list, the development split.

The training *workflow* (CV, calibrators, holdout, MLflow) is :func:`revertible.workflows.train`;
this module holds what it and the studies share below the tracking layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..data import Panel
from ..errors import RevertibleError
from ._cv import holdout_split, label_end

__all__ = ["select_features", "prepare_dataset", "development_split"]

def select_features(cfg: Config, names: list[str], groups: dict[str, list[str]]) -> list[str]:
    """Feature names minus ``model.exclude_features`` (names or ``group:<name>``)."""
    drop: set[str] = set()
    for item in cfg.model.exclude_features:
        if item.startswith("group:"):
            g = item[len("group:"):]
            if g not in groups:
                raise RevertibleError(
                    f"model.exclude_features: unknown group {g!r}; groups: {', '.join(groups)}"
                )
            drop.update(groups[g])
        elif item not in names:
            raise RevertibleError(f"model.exclude_features: unknown feature {item!r}")
        else:
            drop.add(item)
    return [n for n in names if n not in drop]


def prepare_dataset(
    cfg: Config, panel: Panel, episodes: pd.DataFrame | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Episodes (sorted by entry time) and their point-in-time features, same row order."""
    from ..episodes import build_episodes
    from ..features import build_features

    eps = build_episodes(panel, cfg) if episodes is None else episodes
    eps = eps.sort_values(["entry_time", "asset_a", "asset_b"], kind="stable")
    eps = eps.reset_index(drop=True)
    feats = build_features(panel, eps, cfg, progress=progress)
    return eps, feats.reset_index(drop=True)


def development_split(
    cfg: Config, eps: pd.DataFrame, feats: pd.DataFrame, bar: pd.Timedelta
) -> dict[str, Any]:
    """Development set and holdout, shared by training and tuning.

    Returns ``dev``/``hold`` positions, ``holdout_start``, the raw label array ``y_all``, and the
    development ``X``, ``y``, ``entry`` and label ``end`` times (index reset).
    """
    if not eps["label"].notna().any():  # e.g. a few days of data: no pair is eligible yet
        raise RevertibleError(
            f"no labelled divergence episode in the data ({len(eps)} episodes, none labelled); "
            "need at least 100 (more data, a lower label.entry or looser universe filters)"
        )
    dev, hold, hstart = holdout_split(eps, cfg.cv.holdout_frac, cfg.label.horizon, bar)
    if len(dev) < 100:
        raise RevertibleError(
            f"only {len(dev)} labelled development episodes; need at least 100 (more data, a "
            "lower label.entry or looser universe filters)"
        )
    end = label_end(eps, cfg.label.horizon, bar)
    y_all = eps["label"].to_numpy(dtype=float, na_value=np.nan)
    return {
        "dev": dev, "hold": hold, "holdout_start": hstart, "y_all": y_all,
        "X": feats.iloc[dev].reset_index(drop=True), "y": y_all[dev].astype(int),
        "entry": eps["entry_time"].iloc[dev].reset_index(drop=True),
        "end": end.iloc[dev].reset_index(drop=True),
    }
