"""The command line: happy paths, and bad input -> one-line error, exit 2, no output left."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli_output, make_market, write_cli_config
from contract_support import EPISODE_FILE_COLUMNS
from typer.testing import CliRunner

from revertible.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    return make_market(tmp_path_factory.mktemp("market"), n_assets=8, days=120, seed=5)


@pytest.fixture
def cfg_file(tmp_path, market) -> Path:
    return write_cli_config(tmp_path / "c.yaml", market, 30)


def _copy_market(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.glob("*.feather"):
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    msg = cli_output(result)
    assert msg.startswith("error:"), msg
    assert "Traceback" not in msg
    flat = " ".join(msg.split())
    for needle in needles:
        assert needle in flat, (needle, flat)


def test_help_lists_commands():
    r = run("--help")
    assert r.exit_code == 0
    for cmd in ("validate", "pairs", "episodes", "demo"):
        assert cmd in r.output


def test_validate_prints_summary(cfg_file):
    r = run("validate", cfg_file)
    assert r.exit_code == 0, r.output
    assert "ok: 8 assets" in r.output
    assert "AAA/USDT" in r.output


#: ``revertible pairs --out``: one row per pair at the as-of time (``--all`` adds ``reason``).
PAIRS_COLUMNS = ["time", "asset_a", "asset_b", "corr_30d", "corr_60d", "corr_90d", "relationship",
                 "eligible"]


def test_pairs_writes_table_and_heatmap(cfg_file, tmp_path):
    r = run("pairs", cfg_file, "--out", tmp_path / "p.parquet", "--heatmap", tmp_path / "h.png")
    assert r.exit_code == 0, r.output
    df = pd.read_parquet(tmp_path / "p.parquet")
    cols = {"asset_a", "asset_b", "corr_30d", "corr_60d", "corr_90d", "relationship"}
    assert cols <= set(df.columns)
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    # the --out columns in order (docs/design.md: eligible pairs with 30/60/90-day correlations)
    assert list(df.columns) == PAIRS_COLUMNS and df["eligible"].all()
    assert str(df["time"].dt.tz) == "UTC"
    r = run("pairs", cfg_file, "--all", "--out", tmp_path / "all.csv")
    assert r.exit_code == 0, r.output
    assert list(pd.read_csv(tmp_path / "all.csv").columns) == [*PAIRS_COLUMNS, "reason"]


def test_pairs_on_data_too_short_for_a_correlation(tmp_path):
    # two days of bars: it printed "0 eligible pairs at None" and matplotlib warned twice about
    # an empty image
    import warnings

    market = make_market(tmp_path, n_assets=4, days=2, seed=3)
    cfg = write_cli_config(tmp_path / "c.yaml", market, 30)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = run("pairs", cfg, "--heatmap", tmp_path / "h.png")
    assert r.exit_code == 0, r.output
    assert "0 eligible pairs at 2024-01-02 23:00:00+00:00" in r.output, r.output
    assert [str(w.message) for w in caught if issubclass(w.category, UserWarning)] == []
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"


def test_episodes_writes_parquet(cfg_file, tmp_path):
    r = run("episodes", cfg_file, "--out", tmp_path / "e.parquet", "--set", "label.horizon=24")
    assert r.exit_code == 0, r.output
    df = pd.read_parquet(tmp_path / "e.parquet")
    assert len(df) > 0 and df["bars_held"].max() <= 24
    assert list(df.columns) == EPISODE_FILE_COLUMNS
    # the summary counts each exit reason in words, as the file has them
    counts = df["exit_reason"].value_counts()
    line = next(ln for ln in r.output.splitlines() if "episodes over" in ln)
    assert "{" not in line and line.startswith(f"{len(df):,} episodes over")
    assert line.endswith("exits: " + ", ".join(f"{k} {counts[k]:,}" for k in sorted(counts.index)))


def test_unknown_config_key_suggests_fix(cfg_file, tmp_path):
    r = run("episodes", cfg_file, "--set", "label.horizn=24", "--out", tmp_path / "e.parquet")
    assert_one_line_error(r, "label.horizn", "did you mean 'label.horizon'")
    assert not list(tmp_path.glob("e.parquet*"))


def test_typo_in_config_file(tmp_path, market):
    p = tmp_path / "c.yaml"
    p.write_text(f"data: {{path: {market}}}\nlabel: {{entyr: 2.0}}\n")
    assert_one_line_error(run("validate", p), str(p), "label.entyr", "label.entry")


def test_out_of_range_config_value(cfg_file):
    assert_one_line_error(run("validate", cfg_file, "--set", "label.exit=3"), "exit < entry < stop")


def test_missing_config_file(tmp_path):
    assert_one_line_error(run("validate", tmp_path / "nope.yaml"), "nope.yaml", "not found")


def test_missing_data_folder(cfg_file, tmp_path):
    assert_one_line_error(run("validate", cfg_file, "--data", tmp_path / "nodata"), "nodata")


def _bad_market(tmp_path, market, mutate) -> Path:
    folder = _copy_market(market, tmp_path / "bad")
    f = folder / "BBB_USDT-1h.feather"
    df = pd.read_feather(f)
    mutate(df).reset_index(drop=True).to_feather(f)
    return folder


BAD = {
    "missing column": (lambda d: d.drop(columns=["close"]), ["BBB_USDT-1h.feather", "close"]),
    "duplicate timestamps": (
        lambda d: pd.concat([d.iloc[:10], d.iloc[9:10], d.iloc[10:]]),
        ["BBB_USDT-1h.feather", "duplicate"],
    ),
    "unsorted timestamps": (
        lambda d: pd.concat([d.iloc[:10], d.iloc[11:12], d.iloc[10:11], d.iloc[12:]]),
        ["BBB_USDT-1h.feather"],
    ),
    "non-positive price": (
        lambda d: d.assign(low=np.where(np.arange(len(d)) == 7, -1.0, d["low"])),
        ["BBB_USDT-1h.feather", "low"],
    ),
    "naive timestamps": (
        lambda d: d.assign(date=d["date"].dt.tz_localize(None)),
        ["BBB_USDT-1h.feather", "timezone"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_data_fails_cleanly(case, tmp_path, cfg_file, market):
    mutate, needles = BAD[case]
    folder = _bad_market(tmp_path, market, mutate)
    out = tmp_path / "out"
    out.mkdir()
    r = run("episodes", cfg_file, "--data", folder, "--out", out / "e.parquet")
    assert_one_line_error(r, *needles)
    assert list(out.iterdir()) == [], "no output (and no temporary file) may be left behind"


def test_output_to_missing_folder(cfg_file, tmp_path):
    r = run("episodes", cfg_file, "--out", tmp_path / "no" / "e.parquet")
    assert_one_line_error(r, "does not exist")


def test_bad_output_extension(cfg_file, tmp_path):
    r = run("episodes", cfg_file, "--out", tmp_path / "e.xlsx")
    assert_one_line_error(r, "e.xlsx", ".parquet")
    assert not list(tmp_path.glob("*e.xlsx*"))


def test_pairs_all_counts_inverse_pairs_among_the_eligible(tmp_path, spot_dir):
    # the shared spot data: `pairs --all` said "1825 eligible pairs ... (2 inverse)", the two
    # being ineligible (ASR~HARD, HARD~LOKA: |corr_30d| about 0.001 and 0.03)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{path: {spot_dir}, assets: [ASR/USDT, HARD/USDT, LOKA/USDT, "
                   "BTC/USDT, ETH/USDT]}\n")
    r = run("pairs", cfg, "--all", "--out", tmp_path / "all.csv")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(tmp_path / "all.csv")
    inverse = df["relationship"] == "inverse"
    assert inverse.any() and not (inverse & df["eligible"]).any()
    assert f"{int(df['eligible'].sum())} eligible pairs at" in r.output
    assert "(0 inverse)" in r.output, r.output


def test_pairs_says_its_table_shows_the_strongest_only(tmp_path, futures_dir):
    # the shared perpetuals: "21 eligible pairs" above a table of 15, no word that it is a part
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data: {{path: {futures_dir}}}\n")
    r = run("pairs", cfg, "--at", "2024-09-01", "--out", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    n = len(pd.read_csv(tmp_path / "p.csv"))
    assert n > 15 and f"{n} eligible pairs at" in r.output
    assert f"(the 15 of {n} with the largest |corr_30d|; all in {tmp_path / 'p.csv'})" in \
        " ".join(r.output.split()), r.output
