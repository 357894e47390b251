"""``revertible baskets`` and ``revertible sectors``: tables, plots, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from revertible.cli import app
from revertible.synthetic import write_market

runner = CliRunner()


@pytest.fixture(scope="module")
def market(tmp_path_factory, clusters) -> Path:
    folder = tmp_path_factory.mktemp("clusters") / "data"
    write_market(folder, clusters[0])
    return folder


def _cfg(tmp_path: Path, market: Path, extra: str = "") -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(f"data: {{path: {market}}}\n{extra}")
    return p


def test_cli_baskets_writes_table_and_plots(tmp_path, market):
    out = tmp_path / "b.parquet"
    res = runner.invoke(app, ["baskets", str(_cfg(tmp_path, market)), "--out", str(out),
                              "--heatmap", str(tmp_path / "h.png"),
                              "--regime-out", str(tmp_path / "r.csv"),
                              "--regime-plot", str(tmp_path / "r.png")])
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert {"basket", "asset", "weight", "mean_corr", "stress_loss_095", "trigger"} <= set(df)
    assert df["basket"].nunique() == 4
    for f in ("h.png", "r.png"):
        assert (tmp_path / f).read_bytes()[:4] == b"\x89PNG"
    assert set(pd.read_csv(tmp_path / "r.csv").columns) == {"time", "basket", "trigger", "value"}
    # the printed table's figures say what they are: "loss_now 0.156" on the shared spot data
    # read as a loss already taken; it is a 3-sigma daily loss as a share of the notional
    text = " ".join(res.output.split())
    assert "loss_now, stress_loss_095: the 3-sigma daily loss as a share of the basket's " \
        "notional, under the 30-day correlations and with every correlation at 0.95; " \
        "trigger:" in text, text


def test_cli_no_basket_says_the_regime_outputs_are_not_written(tmp_path, market):
    # it exited 0 saying only "0 baskets": the asked-for files were silently missing
    res = runner.invoke(app, ["baskets", str(_cfg(tmp_path, market,
                                                  "baskets: {corr_band: [0.999, 0.9999]}")),
                              "--regime-out", str(tmp_path / "r.csv"),
                              "--regime-plot", str(tmp_path / "r.png")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "0 baskets" in text and "no basket at" in text, text
    assert f"{tmp_path / 'r.csv'} and {tmp_path / 'r.png'} not written" in text, text
    assert not (tmp_path / "r.csv").exists() and not (tmp_path / "r.png").exists()


@pytest.mark.parametrize("extra, msg", [
    ("baskets: {corr_band: [0.6, 1.2]}", "within [-1, 1]"),
    ("baskets: {corr_band: [-1.5, 0.9]}", "within [-1, 1]"),
    ("baskets: {corr_band: [0.9, 0.6]}", "inverted"),
    ("baskets: {min_size: 1}", "min_size"),
    ("baskets: {sectors: {'NOPE/USDT': ai}}", "not in the data: NOPE/USDT"),
])
def test_cli_bad_input_one_line_exit_2(tmp_path, market, extra, msg):
    out = tmp_path / "b.csv"
    res = runner.invoke(app, ["baskets", str(_cfg(tmp_path, market, extra)), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert msg in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert "Traceback" not in res.output
    assert not out.exists()


def test_cli_sectors(tmp_path, market):
    names = [p.name.split("_")[0] for p in sorted(market.glob("*.feather"))][:4]
    extra = "baskets: {sectors: {" + ", ".join(f"'{n}/USDT': demo" for n in names) + "}}\n"
    cfg = _cfg(tmp_path, market, extra)
    res = runner.invoke(app, ["sectors", str(cfg)])
    assert res.exit_code == 0 and "demo (4)" in res.output
    res = runner.invoke(app, ["sectors", str(cfg), "--sector", "demo", "--out",
                              str(tmp_path / "s.csv"), "--heatmap", str(tmp_path / "s.png")])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(tmp_path / "s.csv")) == 6
    res = runner.invoke(app, ["sectors", str(cfg), "--sector", "nope"])
    assert res.exit_code == 2 and "known sectors: demo" in res.output
    # the same view from the correlation engine's command
    res = runner.invoke(app, ["pairs", str(cfg), "--sector", "demo", "--out",
                              str(tmp_path / "p.csv"), "--heatmap", str(tmp_path / "p.png")])
    assert res.exit_code == 0, res.output
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "p.csv"), pd.read_csv(tmp_path / "s.csv"))
    assert (tmp_path / "p.png").stat().st_size > 0


def test_cli_at_before_data_and_too_little_history(tmp_path, market):
    cfg = _cfg(tmp_path, market)
    res = runner.invoke(app, ["baskets", str(cfg), "--at", "2000-01-01"])
    assert res.exit_code == 2 and "before the first bar" in res.output
    # 30 days in: no asset has the 90 days of history a basket needs -> an empty table, exit 0
    out = tmp_path / "e.csv"
    res = runner.invoke(app, ["baskets", str(cfg), "--at", "2024-01-31", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "0 baskets" in res.output and len(pd.read_csv(out)) == 0


@pytest.mark.parametrize(("command", "option", "name", "needle"), [
    ("baskets", "--regime-out", "missing/r.csv", "--regime-out {p}: folder"),
    ("baskets", "--regime-out", "r.txt", "unknown extension '.txt'"),
    ("baskets", "--regime-plot", "r.txt", "--regime-plot {p}: the image is written as PNG"),
    ("baskets", "--heatmap", "h.jpg", "--heatmap {p}: the image is written as PNG"),
    ("pairs", "--heatmap", "h.jpg", "--heatmap {p}: the image is written as PNG"),
])
def test_cli_plot_and_regime_paths_are_checked_before_any_work(tmp_path, command, option, name,
                                                               needle):
    # a missing folder failed after the whole regime history (and was called "--out"); a .jpg
    # or .txt name got PNG bytes
    path = tmp_path / name
    res = runner.invoke(app, [command, str(tmp_path / "no-config.yaml"), option, str(path)])
    assert res.exit_code == 2, res.output
    assert needle.format(p=path) in " ".join(res.output.split()), res.output
    assert "config" not in res.output  # refused before the config is even read
    assert not path.exists()


def test_cli_sector_funding_in_bp_and_missing_figures_explained(tmp_path, spot_dir, futures_dir):
    # the shared data: funding as a rate at 4 decimals printed DOGE's 30-day mean as "0.0000",
    # and assets without a perpetual as bare "NaN"
    from revertible.baskets import sector_pairs
    from revertible.config import load_config
    from revertible.data import load_panel

    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(f"data: {{path: {spot_dir}, funding_path: {futures_dir}, assets: "
                        "[BTC/USDT, ETH/USDT, SOL/USDT, AVAX/USDT]}\n")
    res = runner.invoke(app, ["sectors", str(cfg_path), "--sector", "l1", "--at", "2024-06-01"])
    assert res.exit_code == 0, res.output
    assert "NaN" not in res.output and "nan" not in res.output
    cfg = load_config(cfg_path)
    df = sector_pairs(load_panel(cfg.data), cfg, "l1", "2024-06-01")
    rows = {tuple(ln.split()[:2]): ln.split()[2:] for ln in res.output.splitlines()
            if ln.strip().startswith(tuple(df["asset_a"]))}
    assert len(rows) == len(df) == 6
    for r in df.itertuples(index=False):
        corr, fa, fb, fd = rows[(r.asset_a, r.asset_b)]
        assert float(corr) == pytest.approx(r.corr_30d, abs=5e-4)
        for shown, rate in ((fa, r.funding_a), (fb, r.funding_b), (fd, r.funding_diff)):
            assert shown == "-" if np.isnan(rate) else float(shown) == pytest.approx(
                rate * 1e4, abs=0.005)
    assert any(v[1] != "-" and abs(float(v[1])) >= 0.01 for v in rows.values())
    text = " ".join(res.output.split())
    assert "funding_*_bp: the mean funding rate per 8-hour settlement over the window, in bp " \
        "of notional" in text and "'-': no funding data for the asset (no perpetual)" in text
