"""The spread-model baselines: naive_coint and naive_kalman beside the naive ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from revertible.backtest import build_report, run_backtest, write_outputs
from revertible.config import load_config
from revertible.episodes import build_episodes, episode_coint_pvalues, kalman_config
from revertible.synthetic import generate_market

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "demo.yaml")


@pytest.fixture(scope="module")
def result():
    panel, _ = generate_market(n_assets=8, n_bars=24 * 200, seed=4)
    cfg = load_config(CONFIG, ["backtest.spread_model_baselines=true"], data="unused")
    return panel, cfg, run_backtest(cfg, panel)


def test_off_by_default_and_named_per_cost_multiplier(result):
    panel, cfg, res = result
    assert {"naive_coint", "naive_kalman", "naive_coint_2x_costs"} <= set(res.strategies)
    plain = run_backtest(load_config(CONFIG, data="unused"), panel)
    assert not {"naive_coint", "naive_kalman"} & set(plain.strategies)
    # the others are unchanged by the extra baselines
    for k in ("naive_beta.trades", "naive_beta.pnl", "model.trades"):
        assert res.metrics[k] == plain.metrics[k]


def test_naive_coint_trades_only_cointegrated_pairs(result):
    panel, cfg, res = result
    tr = res.trades[res.trades["strategy"] == "naive_coint"]
    assert len(tr) >= 20
    eps = build_episodes(panel, cfg)
    key = eps.set_index(["entry_time", "asset_a", "asset_b"]).index
    p = episode_coint_pvalues(panel, cfg, eps)
    got = key.get_indexer(tr.set_index(["signal_time", "asset_a", "asset_b"]).index)
    assert (got >= 0).all() and (p[got] <= 0.05).all()
    assert res.metrics["naive_coint.trades"] < res.metrics["naive_beta.trades"]


def test_naive_kalman_trades_the_kalman_episodes(result):
    panel, cfg, res = result
    tr = res.trades[res.trades["strategy"] == "naive_kalman"]
    assert len(tr) >= 20
    keps = build_episodes(panel, kalman_config(cfg))
    kkey = keps.set_index(["entry_time", "asset_a", "asset_b"]).index
    got = kkey.get_indexer(tr.set_index(["signal_time", "asset_a", "asset_b"]).index)
    assert (got >= 0).all()
    np.testing.assert_allclose(tr["beta"].to_numpy(), keps["beta"].to_numpy()[got])
    assert tr["model_cutoff"].isna().all()


def test_the_report_shows_them(result, tmp_path):
    panel, cfg, res = result
    paths = write_outputs(build_report(res, panel, cfg), res, tmp_path)
    text = Path(paths["report"]).read_text()
    assert "naive_coint" in text and "naive_kalman" in text
