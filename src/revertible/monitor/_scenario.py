"""Known-answer scenarios for the monitor: generated markets whose planted pairs break (or not).

``n_pairs`` planted OU pairs (half-lives 8-24 bars) on twice as many assets; with ``breaks``
every planted spread turns into a random walk at ``break_frac`` of the sample (they stop
reverting), else they stay OU.
The model's universe is the planted pairs (the episodes of other pairs are dropped). The
episodes are the project's own (:func:`revertible.episodes.build_episodes` under the demo
config). The "model" is a logistic regression on ``|z_entry|`` (and the pair, with
``per_pair``) fitted on the episodes resolved in the first ``train_days``: calibrated in its
training period by construction and point in time (fitted before the live record starts), a fast
stand-in for a trained model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._core import make_reference

__all__ = ["planted_scenario"]

_HALF_LIVES = (8, 12, 16, 24)
_BETAS = (1.2, 0.8, 1.1, 0.9, 1.3, 0.7, 1.0, 1.15)


def planted_scenario(seed: int, *, breaks: bool, n_days: int = 150, break_frac: float = 0.6,
                     train_days: int = 60, per_pair: bool = False,
                     n_pairs: int = 16) -> dict[str, Any]:
    """Build a live record, its training reference and the break time.

    Returns
    -------
    dict
        ``record`` (the monitor's record columns plus ``abs_z``), ``reference``, ``live_start``
        (end of the training period), ``end`` (last bar), ``break_time`` (None without breaks).

    """
    from sklearn.linear_model import LogisticRegression

    from ..config import load_config
    from ..episodes import build_episodes
    from ..synthetic import PairSpec, generate_market

    kind = "break" if breaks else "ou"
    pairs = [PairSpec(kind, half_life=_HALF_LIVES[i % 4], beta=_BETAS[i % 8],
                      break_frac=break_frac) for i in range(n_pairs)]
    panel, truth = generate_market(n_assets=2 * n_pairs, n_bars=24 * n_days, seed=seed, pairs=pairs,
                                   n_late=0, n_illiquid=0)
    from importlib.resources import files

    cfg = load_config(str(files("revertible") / "configs" / "demo.yaml"), [])
    eps = build_episodes(panel, cfg).sort_values("entry_time", ignore_index=True)
    names = [f"{a}|{b}" for a, b in zip(truth["asset_a"], truth["asset_b"], strict=True)]
    eps = eps[(eps["asset_a"] + "|" + eps["asset_b"]).isin(names)].reset_index(drop=True)
    horizon = pd.Timedelta(hours=cfg.label.horizon)
    resolved = eps["exit_time"].fillna(eps["entry_time"] + horizon)
    pair = (eps["asset_a"] + "|" + eps["asset_b"]).to_numpy()
    X = np.column_stack([*(pair == n for n in names), np.abs(eps["z_entry"].to_numpy())])
    X = X[:, -1:] if not per_pair else X
    live_start = panel.times[0] + pd.Timedelta(days=train_days)
    train = ((resolved < live_start) & eps["label"].notna()).to_numpy()
    y = eps["label"].to_numpy(dtype=float)
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(X[train], y[train].astype(int))
    p = clf.predict_proba(X)[:, 1]
    record = pd.DataFrame({"entry_time": eps["entry_time"], "resolved_at": resolved,
                           "label": y, "probability": p, "abs_z": X[:, -1]})
    ref = make_reference(y[train], record.loc[train, ["probability", "abs_z"]],
                         source="training period (scenario)", resolved_at=resolved[train])
    brk = panel.times[int(break_frac * len(panel.times))] if breaks else None
    return {"record": record[record["entry_time"] >= live_start].reset_index(drop=True),
            "reference": ref, "live_start": live_start, "end": panel.times[-1],
            "break_time": brk}
