"""Shared fixtures: a seeded rng, the real data folder, temporary MLflow stores."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The real Binance data: $REVERTIBLE_DATA, default ../shared/data beside the repo."""
    return Path(os.environ.get("REVERTIBLE_DATA", REPO.parent / "shared" / "data")).resolve()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "binance-spot-1h-2024").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real data missing at {path}: set REVERTIBLE_DATA or place ../shared/data")
        pytest.skip(f"real data missing at {path} (set REVERTIBLE_DATA)")
    return path


@pytest.fixture(scope="session")
def spot_dir(shared_data: Path) -> Path:
    return shared_data / "binance-spot-1h-2024"


@pytest.fixture(scope="session")
def futures_dir(shared_data: Path) -> Path:
    return shared_data / "binance-futures-1h-2024"


#: Informational lines the CLI may print before an error (first run of the numba kernels).
_NOTICES = ("compiling the spread kernels",)


def cli_output(result) -> str:
    """A CLI result's output without the one-off compile notice (cold numba cache)."""
    lines = [ln for ln in result.output.splitlines() if not ln.startswith(_NOTICES)]
    return "\n".join(lines).strip()


def make_market(folder: Path, n_assets: int, days: int, seed: int) -> Path:
    """Write a generated hourly market (freqtrade feather files) to ``folder/data``; return it."""
    from revertible.synthetic import generate_market, write_market

    panel, truth = generate_market(n_assets=n_assets, n_bars=24 * days, seed=seed)
    write_market(folder / "data", panel, truth)
    return folder / "data"


def write_cli_config(path: Path, market: Path, min_history_days: int,
                     stores: Path | None = None) -> Path:
    """A small config for CLI tests on a generated market (stores under ``stores`` if given)."""
    text = (
        f"data: {{path: {market}}}\n"
        f"universe: {{min_abs_corr: 0.3, min_history_days: {min_history_days}, "
        "min_quote_volume: 100000}\n"
        "sizing: {min_abs_corr_exit: 0.3}\n"
    )
    if stores is not None:
        text += (f"tracking: {{uri: 'sqlite:///{stores}/mlflow.db'}}\n"
                 f"tuning: {{storage: 'sqlite:///{stores}/optuna.db'}}\n")
    path.write_text(text)
    return path
