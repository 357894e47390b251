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


#: Labelled development episodes training needs (fewer cannot fill its walk-forward folds).
MIN_DEVELOPMENT_EPISODES = 100


class TooFewEpisodes(RevertibleError):
    """Too few labelled development episodes to train on; ``count`` is how many there are."""

    def __init__(self, message: str, count: int) -> None:
        super().__init__(message)
        self.count = count


def trainable_split(
    cfg: Config, eps: pd.DataFrame, bar: pd.Timedelta
) -> tuple[np.ndarray, np.ndarray, pd.Timestamp]:
    """Development and holdout positions and the holdout start, if there is enough to train on.

    Raises :class:`TooFewEpisodes` (a :class:`RevertibleError`: one line, with the fix) where
    the episodes have no label or fewer than :data:`MIN_DEVELOPMENT_EPISODES` labelled
    development episodes. Cheap (no features): callers that write outputs check it before
    writing anything.
    """
    if not eps["label"].notna().any():  # e.g. a few days of data: no pair is eligible yet
        raise TooFewEpisodes(
            f"no labelled divergence episode in the data ({len(eps)} episodes, none labelled); "
            f"need at least {MIN_DEVELOPMENT_EPISODES} (more data, a lower label.entry or "
            "looser universe filters)", 0
        )
    dev, hold, hstart = holdout_split(eps, cfg.cv.holdout_frac, cfg.label.horizon, bar)
    if len(dev) < MIN_DEVELOPMENT_EPISODES:
        raise TooFewEpisodes(
            f"only {len(dev)} labelled development episodes; need at least "
            f"{MIN_DEVELOPMENT_EPISODES} (more data, a lower label.entry or looser universe "
            "filters)", len(dev)
        )
    return dev, hold, hstart


def development_split(
    cfg: Config, eps: pd.DataFrame, feats: pd.DataFrame, bar: pd.Timedelta
) -> dict[str, Any]:
    """Development set and holdout, shared by training and tuning.

    Returns ``dev``/``hold`` positions, ``holdout_start``, the raw label array ``y_all``, and the
    development ``X``, ``y``, ``entry`` and label ``end`` times (index reset). Refused as
    :func:`trainable_split` says.
    """
    dev, hold, hstart = trainable_split(cfg, eps, bar)
    end = label_end(eps, cfg.label.horizon, bar)
    y_all = eps["label"].to_numpy(dtype=float, na_value=np.nan)
    return {
        "dev": dev, "hold": hold, "holdout_start": hstart, "y_all": y_all,
        "X": feats.iloc[dev].reset_index(drop=True), "y": y_all[dev].astype(int),
        "entry": eps["entry_time"].iloc[dev].reset_index(drop=True),
        "end": end.iloc[dev].reset_index(drop=True),
    }
