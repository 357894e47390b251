"""Shared fixtures: a seeded rng, the real data folder, and one of each expensive thing per session.

Session fixtures (built once per test process, read-only for the tests that use them): one
generated market in memory (``generated_market``) and one written to disk (``market_dir``), one
MLflow store (``mlflow_store``), one trained, registered model in it (``trained_model``), and
the planted-cluster market (``clusters``).
"""

from __future__ import annotations

import os
import re
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


#: Progress lines a slow step prints before the error on a loaded machine ("episodes (pairs):
#: 10/10 after 26 s", "... done 10/10 in 25.8 s", the heartbeat "...: working (...), 9 s").
_PROGRESS = re.compile(r"^[^:]+: (\d+/\d+ after |done |working )")


def one_line_error(result, *needles: str) -> str:
    """Assert exit 2 with a one-line ``error:`` naming every needle; return it, whitespace folded.

    The error is the last line; anything before it may only be progress lines (a slow step on a
    loaded machine prints them before the input is refused). No traceback anywhere.
    """
    assert result.exit_code == 2, result.output
    out = cli_output(result)
    lines = out.splitlines()
    assert lines and all(_PROGRESS.match(x) for x in lines[:-1]), out
    msg = lines[-1]
    assert msg.startswith("error:"), out
    assert "Traceback" not in out, out
    flat = " ".join(msg.split())
    for needle in needles:
        assert needle in flat, (needle, flat)
    return flat


def copy_feathers(src: Path, dst: Path) -> Path:
    """Copy the feather files of folder ``src`` into ``dst`` (created); return ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.glob("*.feather"):
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


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


@pytest.fixture(scope="session")
def clusters():
    """A generated market with planted factor clusters (baskets, book risk, trigger features)."""
    from revertible.synthetic import generate_cluster_market

    return generate_cluster_market(n_clusters=4, cluster_size=4, n_noise=4, n_bars=24 * 120,
                                   seed=3)


@pytest.fixture(scope="session")
def generated_market():
    """``(panel, truth)``: 8 generated assets over 120 days (seed 11), planted pairs."""
    from revertible.synthetic import generate_market

    return generate_market(n_assets=8, n_bars=24 * 120, seed=11)


@pytest.fixture(scope="session")
def market_dir(tmp_path_factory) -> Path:
    """A generated market of 6 assets over 60 days (seed 3) as feather files; do not write to it."""
    return make_market(tmp_path_factory.mktemp("market"), n_assets=6, days=60, seed=3)


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory) -> Path:
    """One SQLite MLflow store (``mlflow.db`` and ``artifacts/`` in the folder), created once.

    Creating a store costs seconds; worker processes need it to exist before they write to it
    together. Tests keep apart by experiment and registered-model names.
    """
    from revertible.config import TrackingConfig
    from revertible.tracking import Tracker

    tmp = tmp_path_factory.mktemp("mlflow")
    Tracker(TrackingConfig(uri=f"sqlite:///{tmp}/mlflow.db",
                           artifact_location=(tmp / "artifacts").as_uri())).connect()
    return tmp


def store_sets(store: Path) -> list[str]:
    """``--set`` overrides pointing a config at the session store ``store``."""
    return [f"tracking.uri=sqlite:///{store}/mlflow.db",
            f"tracking.artifact_location={(store / 'artifacts').as_uri()}"]


#: The trained model's settings: the demo config, small and quick.
TRAINED_SETS = ["tracking.registered_model=track-model", "tracking.experiment=track",
                "model.n_estimators=30", "cv.n_folds=3"]


@pytest.fixture(scope="session")
def trained_model(generated_market, mlflow_store):
    """``(cfg, result)``: the demo config trained on ``generated_market`` and promoted.

    Registered as version 1 of ``track-model`` in experiment ``track`` of ``mlflow_store``.
    """
    from revertible.config import load_config
    from revertible.workflows import train

    cfg = load_config(REPO / "configs" / "demo.yaml", [*store_sets(mlflow_store), *TRAINED_SETS],
                      data="unused")
    return cfg, train(cfg, panel=generated_market[0], promote=True)
