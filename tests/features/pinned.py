"""Inputs of the pinned feature table (tests/fixtures/pinned_features.npz).

:func:`pinned_inputs` builds a generated market (:func:`revertible.synthetic.generate_market`,
fixed seed, synthetic funding added) and small-window configs; :func:`write_fixture` stores the
episode tables and the feature tables of the code at hand. The fixture was written at commit
58a7403 (``python -m tests.features.pinned``); ``test_build_pinned.py`` checks that the current code
reproduces it bit for bit. Generated data only: no shared real data goes into the repo.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from revertible.config import config_from_mapping
from revertible.data import Panel
from revertible.synthetic import generate_market

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "pinned_features.npz"
PINNED_COMMIT = "58a7403"
#: Episode columns stored with the fixture (the feature builder reads these).
EPISODE_COLUMNS = ("asset_a", "asset_b", "entry_time", "z_entry", "beta", "spread_mean",
                   "spread_std", "label", "exit_time")
#: Feature columns stored for the Kalman config (the families that read the hedge model).
KALMAN_PREFIXES = ("corr_", "z_velocity_", "beta_", "relationship_sign")


def _config(beta_model: str):
    return config_from_mapping({
        "data": {"path": "."},
        "universe": {"corr_windows_days": [5, 10, 20], "eligibility_window_days": 10,
                     "min_abs_corr": 0.5, "min_history_days": 10, "volume_window_days": 10,
                     "coint_window_days": 20},
        "sizing": {"min_abs_corr_exit": 0.3},
        "spread": {"beta_window": 240, "z_window": 48, "beta_model": beta_model},
        "features": {"trailing_bars": 240, "short_bars": 48, "regime_long_bars": 240,
                     "corr_days": [5, 10, 20], "corr_short_days": 2, "z_lags": [1, 6, 24],
                     "use_regime": True, "use_spread_models": True},
    })


def pinned_inputs() -> tuple[Panel, dict]:
    """The generated panel and the configs (``ols``, ``kalman``) of the pinned table."""
    panel, _ = generate_market(n_assets=12, n_bars=1600, seed=23)
    rng = np.random.default_rng(23)
    n, m = panel.close.shape
    funding = np.full((n, m), np.nan)
    funding[::8, : m // 2] = rng.normal(1e-4, 2e-4, (len(range(0, n, 8)), m // 2))
    panel = Panel(
        times=panel.times, assets=panel.assets, open=panel.open, high=panel.high,
        low=panel.low, close=panel.close, volume=panel.volume,
        quote_volume=panel.quote_volume, funding=np.asfortranarray(funding),
    )
    return panel, {"ols": _config("ols"), "kalman": _config("kalman")}


def panel_digest(panel: Panel) -> str:
    """SHA-256 of the panel's close, quote volume and funding (detects a changed generator)."""
    h = hashlib.sha256()
    for x in (panel.close, panel.quote_volume, panel.funding):
        h.update(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    return h.hexdigest()


def episodes_to_arrays(eps: pd.DataFrame, key: str) -> dict[str, np.ndarray]:
    """Episode columns as plain arrays (times as int64 ns, NaT as the minimum int64)."""
    out = {}
    for c in EPISODE_COLUMNS:
        s = eps[c]
        if c in ("entry_time", "exit_time"):
            v = s.to_numpy(dtype="datetime64[ns]").astype(np.int64)
        elif c == "label":
            v = s.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
        elif c.startswith("asset"):
            v = s.to_numpy(dtype=str)
        else:
            v = s.to_numpy(dtype=np.float64)
        out[f"{key}_ep_{c}"] = v
    return out


def arrays_to_episodes(z, key: str) -> pd.DataFrame:
    """Inverse of :func:`episodes_to_arrays`."""
    df = pd.DataFrame({c: z[f"{key}_ep_{c}"] for c in EPISODE_COLUMNS})
    for c in ("entry_time", "exit_time"):
        df[c] = pd.to_datetime(df[c].to_numpy(dtype="datetime64[ns]"), utc=True)
    df["label"] = pd.array(df["label"].to_numpy(), dtype="Float64")
    df.loc[df["label"].isna(), "label"] = pd.NA
    return df


def kalman_columns(names: list[str]) -> list[str]:
    """Columns of the Kalman table: those of the families that read the hedge model."""
    return [c for c in names if c.startswith(KALMAN_PREFIXES)]


def write_fixture() -> None:  # pragma: no cover - run once at the pinned commit
    """Write :data:`FIXTURE` from the code at hand."""
    from revertible.episodes import build_episodes
    from revertible.features import build_features

    panel, cfgs = pinned_inputs()
    arrays: dict[str, np.ndarray] = {"digest": np.array(panel_digest(panel))}
    for key, cfg in cfgs.items():
        eps = build_episodes(panel, cfg)
        eps = arrays_to_episodes(episodes_to_arrays(eps, key), key)  # the stored inputs
        f = build_features(panel, eps, cfg)
        cols = list(f.columns) if key == "ols" else kalman_columns(list(f.columns))
        arrays.update(episodes_to_arrays(eps, key))
        arrays[f"{key}_columns"] = np.array(cols)
        arrays[f"{key}_features"] = f[cols].to_numpy()
        print(key, len(eps), "episodes", len(cols), "columns")
    np.savez_compressed(FIXTURE, **arrays)
    print(FIXTURE, FIXTURE.stat().st_size, "bytes")


if __name__ == "__main__":  # pragma: no cover
    write_fixture()
