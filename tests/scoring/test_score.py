"""Scoring: open-divergence selection, train/serve equality, point in time, registry, output."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from contract_support import (
    SIGNAL_EXTRA_COLUMNS,
    SIGNAL_FILE_COLUMNS,
    assert_documented_in_order,
)

from revertible.config import load_config
from revertible.data import load_panel
from revertible.decision import Barriers
from revertible.episodes import build_episodes
from revertible.errors import ModelError, RevertibleError
from revertible.io import read_table
from revertible.model import CalibratedReversionModel, prepare_dataset
from revertible.scoring import (
    EXTRA_COLUMNS,
    OUTPUT_COLUMNS,
    SIGNAL_COLUMNS,
    episode_features,
    has_calibrator,
    leg_vols,
    live_path,
    score_command,
    score_panel,
    select_open,
    touched_reasons,
)
from revertible.synthetic import generate_market, write_market
from revertible.tracking import load_model
from revertible.workflows import train

KEY = ["asset_a", "asset_b", "entry_time"]
NAME = "test-scoring"
SIZING = [
    "leg_a_side", "leg_a_notional", "leg_a_qty", "leg_a_price", "leg_b_side", "leg_b_notional",
    "leg_b_qty", "leg_b_price", "gross_leverage", "take_profit_z", "stop_z", "time_stop",
    "min_abs_corr", "reason", "bet_size", "margin", "leg_a_leverage",
    "leg_b_leverage", "leg_a_liq_price", "leg_b_liq_price", "direction_if_taken",
    "leg_a_side_if_taken", "leg_a_notional_if_taken", "leg_a_qty_if_taken",
    "leg_b_side_if_taken", "leg_b_notional_if_taken", "leg_b_qty_if_taken",
    "gross_leverage_if_taken",
]  # fmt: skip
NUMERIC = [
    "z_entry", "beta", "probability", "expected_return", "z_now", "z_prime_now", "net_exposure",
    "revert_expected",
    "continue_expected", "leg_a_notional", "leg_a_qty", "leg_a_price",
    "leg_b_notional", "leg_b_qty", "leg_b_price", "gross_leverage", "take_profit_z", "stop_z",
    "min_abs_corr", "spread_mean", "spread_std", "bet_size", "margin",
    "leg_a_leverage", "leg_b_leverage", "leg_a_liq_price", "leg_b_liq_price",
    "leg_a_notional_if_taken", "leg_b_notional_if_taken", "gross_leverage_if_taken",
]  # fmt: skip


def _cfg(root, *sets):
    base = [
        f"tracking.uri=sqlite:///{root}/mlflow.db",
        f"tracking.artifact_location={(root / 'artifacts').as_uri()}",
        f"tracking.registered_model={NAME}",
        "model.n_estimators=40",
        "cv.n_folds=3",
        "model.calibration=sigmoid",  # continuous probabilities: few ties in the book order
    ]
    return load_config("configs/demo.yaml", [*base, *sets], data=str(root / "data"))


@pytest.fixture(scope="module")
def env(tmp_path_factory, monkeypatch_module):
    """A generated market on disk, a small model trained on it and promoted to champion."""
    root = tmp_path_factory.mktemp("scoring")
    market, truth = generate_market(n_assets=10, n_bars=24 * 160, seed=11)
    write_market(root / "data", market, truth)
    cfg = _cfg(root)
    panel = load_panel(cfg.data)
    res = train(cfg, panel=panel, promote=True)
    history = build_episodes(panel, cfg)
    assert has_calibrator(res["model"])
    return {"root": root, "cfg": cfg, "panel": panel, "run": res, "model": res["model"],
            "raw_model": res["model"], "history": history}


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield mp
    mp.undo()


def _score(env, panel=None, cfg=None, model=None, **kw):
    sig, _ = score_panel(panel or env["panel"], model or env["model"], cfg or env["cfg"],
                         model_id="m", **kw)
    return sig


def _keys(df):
    return set(map(tuple, df[KEY].astype(str).to_numpy()))


# ------------------------------------------------------------------------------------ selection


def test_live_scores_exactly_the_divergences_open_at_the_last_bar(env):
    """Open = entered within the horizon and no barrier touched; a stale 'open' row is not."""
    cfg, panel = env["cfg"], env["panel"]
    # a delisted leg: its pairs' last episodes stay unresolved forever in the episode table
    j = panel.assets.index("CCC/USDT")
    close = panel.close.copy(order="F")
    close[-200:, j] = np.nan
    stale = replace(panel, close=close)
    eps = build_episodes(stale, cfg)
    last, horizon = stale.times[-1], cfg.label.horizon
    old_open = eps["label"].isna() & (eps["entry_time"] <= last - horizon * stale.freq)
    assert old_open.sum() >= 1, "the fixture must contain an unresolved episode past the horizon"
    expected = eps[eps["label"].isna() & (eps["entry_time"] > last - horizon * stale.freq)]
    assert len(expected) >= 3

    sig = _score(env, panel=stale)
    assert _keys(sig) == _keys(expected)
    assert not _keys(sig) & _keys(eps[old_open])
    assert sig["label"].isna().all() and (sig["exit_reason"] == "open").all()
    assert list(sig.columns) == OUTPUT_COLUMNS
    # rule changed on purpose (issue 19): the book is filled by the lower bound of the expected
    # net return (it was the expected return, before that the probability)
    assert (np.diff(sig["expected_return_lower"].to_numpy()) <= 0).all(), "live rows by lower"
    # the selection rule on its own: nothing resolved, nothing older than the horizon
    sel = select_open(eps, last, horizon, stale.freq)
    assert _keys(sel) == _keys(expected)


def test_historical_range_is_inclusive_and_keeps_every_label(env):
    eps = env["history"]
    since, until = eps["entry_time"].iloc[200], eps["entry_time"].iloc[500]
    sig = _score(env, since=since, until=until)
    inside = eps[(eps["entry_time"] >= since) & (eps["entry_time"] <= until)]
    assert _keys(sig) == _keys(inside)
    assert sig["entry_time"].min() == since and sig["entry_time"].max() == until
    assert set(sig["label"].dropna().unique()) == {0.0, 1.0}
    assert sig["entry_time"].is_monotonic_increasing
    # rows the model was trained on are counted (the summary warns about them)
    _, info = score_panel(env["panel"], env["model"], env["cfg"], model_id="m", since=since,
                          until=until)
    holdout = pd.Timestamp(env["model"].meta["holdout_start"])
    assert info["in_sample"] == (sig["entry_time"] < holdout).sum() > 0
    # only `since`: runs to the last bar, open episodes included
    tail = _score(env, since=eps["entry_time"].iloc[-20])
    assert tail["label"].isna().sum() == eps["label"].isna().sum() >= 1
    with pytest.raises(RevertibleError, match="`since <= until` must hold"):
        _score(env, since=until, until=since)
    with pytest.raises(RevertibleError, match="is not a time"):
        _score(env, since="yesterday-ish")
    with pytest.raises(RevertibleError, match="`capital > 0` must hold"):
        _score(env, capital=0.0)


# --------------------------------------------------------------------------- train/serve skew


def test_scoring_features_and_probabilities_equal_the_training_table(env):
    cfg, panel, model = env["cfg"], env["panel"], env["model"]
    eps, feats = prepare_dataset(cfg, panel)
    n = len(eps)
    rows = {
        "open": eps.index[eps["label"].isna()],
        "range": eps.index[n // 3 : n // 3 + 150],
    }
    for what, idx in rows.items():
        got = episode_features(panel, eps.loc[idx], cfg, history=eps)
        pd.testing.assert_frame_equal(got, feats.loc[idx], check_exact=True, obj=what)
    until = eps["entry_time"].iloc[n // 3 + 149]
    sig = _score(env, since=eps["entry_time"].iloc[n // 3], until=until)
    merged = sig.merge(eps.reset_index()[[*KEY, "index"]], on=KEY, validate="1:1")
    want = model.predict_proba(feats.loc[merged["index"]])
    np.testing.assert_array_equal(merged["probability"].to_numpy(), want)
    live = _score(env).merge(eps.reset_index()[[*KEY, "index"]], on=KEY, validate="1:1")
    np.testing.assert_array_equal(
        live["probability"].to_numpy(), model.predict_proba(feats.loc[live["index"]])
    )


def test_point_in_time_probability_and_size(env):
    """Data cut at T: every divergence entered by T gets the same probability and the same size."""
    panel, eps = env["panel"], env["history"]
    cut_at = eps["entry_time"].iloc[int(len(eps) * 0.6)]
    since = eps["entry_time"].iloc[int(len(eps) * 0.45)]
    past = panel.cut(cut_at)
    # the full run goes on past T: later signals must not change earlier rows (e.g. by taking
    # room in a shared book)
    full = _score(env, since=since)
    cut = _score(env, panel=past, since=since)
    assert full["entry_time"].max() > cut_at == cut["entry_time"].max()
    full = full[full["entry_time"] <= cut_at].reset_index(drop=True)
    assert len(full) > 100 and (full["leg_a_notional"] > 0).sum() >= 5
    assert (full.groupby("entry_time").size() > 1).any(), "books of several signals are tested"
    cols = [c for c in OUTPUT_COLUMNS if c not in ("label", "exit_reason")]
    # expected returns, direction and size are among the compared columns
    assert {"expected_return", "direction", "revert_expected", "continue_expected", "bet_size",
            "leg_a_notional", "leg_b_qty"} <= set(cols)  # fmt: skip
    pd.testing.assert_frame_equal(full[cols], cut[cols], check_exact=True)
    assert full["direction"].nunique() >= 2, "more than one direction is decided"
    assert cut["label"].isna().sum() > full["label"].isna().sum(), "outcomes differ, inputs not"
    # live on the cut data: the divergences open at T share one book and are re-measured at T
    # (rule changed on purpose, issue 9): the probability is the entry's; prices are T's closes;
    # z' uses T's closes with the entry's frozen parameters; each direction's expected return is
    # the entry's minus what that direction already earned since entry (a loss is not credited)
    live = _score(env, panel=past)
    both = live.merge(full, on=KEY, suffixes=("_live", "_full"), validate="1:1")
    assert len(both) == len(live) >= 1
    np.testing.assert_array_equal(both["probability_live"], both["probability_full"])
    assert (both["priced_at_live"] == past.times[-1]).all()
    ia = [past.assets.index(a) for a in both["asset_a"]]
    ib = [past.assets.index(b) for b in both["asset_b"]]
    np.testing.assert_array_equal(both["leg_a_price_live"], past.close[-1, ia])
    np.testing.assert_array_equal(both["leg_b_price_live"], past.close[-1, ib])
    logc = past.log_close()[-1]
    want_z = np.sign(both["z_entry_full"]) * (logc[ia] - both["beta_full"] * logc[ib]
                                         - both["spread_mean_full"]) / both["spread_std_full"]
    np.testing.assert_allclose(both["z_prime_now_live"], want_z, rtol=1e-12)
    # z_now is the same z in z_entry's raw convention
    np.testing.assert_allclose(both["z_now_live"], np.sign(both["z_entry_full"]) * want_z,
                               rtol=1e-12)  # fmt: skip
    realised = (both["z_entry_full"].abs() - both["z_prime_now_live"]) * both[
        "spread_std_full"] / (
        1 + both["beta_full"].abs())
    np.testing.assert_allclose(both["revert_expected_live"],
                               both["revert_expected_full"] - np.maximum(realised, 0),
                               rtol=1e-9, atol=1e-15)  # fmt: skip
    np.testing.assert_allclose(both["continue_expected_live"],
                               both["continue_expected_full"] - np.maximum(-realised, 0),
                               rtol=1e-9, atol=1e-15)  # fmt: skip
    # a live divergence's decision rests on its re-measured lower bounds: the gain removed from
    # the mean moves the lower bound by the same amount, the standard error is the entry bin's
    np.testing.assert_allclose(both["revert_lower_live"] - both["revert_lower_full"],
                               both["revert_expected_live"] - both["revert_expected_full"],
                               rtol=1e-9, atol=1e-12)  # fmt: skip
    edge = env["cfg"].sizing.min_edge
    for d in ("revert", "continue"):
        took = both["direction_live"] == d
        assert (both.loc[took, f"{d}_lower_live"] > edge).all()
    none = both["direction_live"] == "none"
    assert (both.loc[none, ["revert_lower_live", "continue_lower_live"]].fillna(-1) <= edge
            ).all().all()
    # leg vols for vol-parity sizing are trailing too
    np.testing.assert_array_equal(leg_vols(past), leg_vols(panel)[: past.n_bars])


def test_books_sized_in_worker_processes_equal_the_serial_loop(env, monkeypatch):
    eps = env["history"]
    since = eps["entry_time"].iloc[len(eps) * 3 // 4]
    serial = _score(env, cfg=_cfg(env["root"], "compute.threads=1"), since=since)
    monkeypatch.setattr("revertible.scoring._score.PARALLEL_MIN_ROWS", 0)
    parallel = _score(env, cfg=_cfg(env["root"], "compute.threads=2"), since=since)
    assert serial["entry_time"].nunique() > 50 and (serial["leg_a_notional"] > 0).any()
    pd.testing.assert_frame_equal(serial, parallel, check_exact=True)


def test_compiled_trees_score_exactly_as_lightgbm(env, monkeypatch):
    """The compiled tree walk (many rows) gives the same signals as LightGBM, bit for bit."""
    import revertible.scoring._score as score_mod
    from revertible.scoring import compiled_trees

    eps = env["history"]
    since = eps["entry_time"].iloc[len(eps) // 4]
    monkeypatch.setattr(score_mod, "COMPILED_MIN_ROWS", 10**9)
    plain = _score(env, since=since)
    made = []
    monkeypatch.setattr(score_mod, "COMPILED_MIN_ROWS", 0)
    monkeypatch.setattr(score_mod, "compiled_trees",
                        lambda m: made.append(compiled_trees(m)) or made[-1])  # fmt: skip
    fast = _score(env, since=since)
    assert len(plain) > 500 and plain["probability"].nunique() >= 10
    pd.testing.assert_frame_equal(plain, fast, check_exact=True)
    trees = [v for v in vars(made[0].classifier).values() if hasattr(v, "used")]
    assert len(trees) == 1 and all(t.used >= 1 and t.fallbacks == 0 for t in trees)


def test_vol_parity_split_uses_point_in_time_leg_vols(env):
    cfg = _cfg(env["root"], "sizing.split=vol_parity")
    eps = env["history"]
    sig = _score(env, cfg=cfg, since=eps["entry_time"].iloc[300], until=eps["entry_time"].iloc[900])
    traded = sig[sig["leg_a_notional"] > 0]
    assert len(traded) >= 3
    vols = leg_vols(env["panel"])
    t = env["panel"].times.get_indexer(traded["entry_time"])
    ia = [env["panel"].assets.index(a) for a in traded["asset_a"]]
    ib = [env["panel"].assets.index(b) for b in traded["asset_b"]]
    # notional_a * vol_a == notional_b * vol_b, up to quantity rounding
    np.testing.assert_allclose(traded["leg_a_notional"] * vols[t, ia],
                               traded["leg_b_notional"] * vols[t, ib], rtol=1e-9)


# ------------------------------------------------------------------------------ model checks


def test_missing_feature_is_a_model_error(env):
    # the model records its feature settings: a config without funding features is refused
    cfg = _cfg(env["root"], "features.use_funding=false")
    with pytest.raises(ModelError, match=r"features\.use_funding=True .*use_funding=False"):
        _score(env, cfg=cfg)
    with pytest.raises(ModelError, match=r"features\.use_funding"):
        score_command(cfg, f"models:/{NAME}@champion")  # live: checked once the model is in
    # and a feature table lacking columns is refused by name
    m = env["model"]
    no_meta = CalibratedReversionModel(m.classifier, m.calibrator, m.features, {})
    with pytest.raises(ModelError, match=r"lacks 3 feature\(s\).*funding_diff"):
        no_meta.check_input(pd.DataFrame(columns=[f for f in m.features
                                                  if not f.startswith("funding")]))


def test_model_trained_with_funding_needs_funding_data(env):
    m = env["model"]
    needs = CalibratedReversionModel(m.classifier, m.calibrator, m.features,
                                     {**m.meta, "requires_funding": True}, outcomes=m.outcomes)
    assert env["panel"].funding is None
    with pytest.raises(ModelError, match="trained with perpetual funding.*data.funding_path"):
        _score(env, model=needs)


def test_label_or_spread_settings_differ_from_training(env):
    with pytest.raises(ModelError, match=r"label\.horizon=48 .* label\.horizon=24"):
        _score(env, cfg=_cfg(env["root"], "label.horizon=24"))
    with pytest.raises(ModelError, match=r"spread\.z_window"):
        _score(env, cfg=_cfg(env["root"], "spread.z_window=48"))


def test_another_bar_size_is_refused_and_unseen_assets_are_noted(env):
    """Windows given in bars mean other durations on other bars: refused before any work."""
    from revertible.scoring import assets_note, check_model

    m, cfg = env["model"], env["cfg"]
    assert m.meta["bar"] == "1h"
    two = cfg.model_copy(update={"data": cfg.data.model_copy(update={"resample": "2h"})})
    with pytest.raises(ModelError, match=r"^the model was trained on 1h bars but this config "
                                         r"makes 2h bars .*use 1h bars or retrain$"):
        check_model(m, two, False)
    check_model(m, cfg, False)  # the training config passes
    old = CalibratedReversionModel(m.classifier, m.calibrator, m.features,
                                   {k: v for k, v in m.meta.items() if k != "bar"},
                                   outcomes=m.outcomes)  # fmt: skip
    check_model(old, two, False)  # a model that did not record its bar is not checked
    seen = list(m.meta["assets"])
    assert assets_note(m, seen) == "" and assets_note(m, seen + ["NEW/USDT"]) == ""
    note = assets_note(m, ["X/USDT", "Y/USDT", seen[0]])
    assert note.startswith("note: 2 of the 3 assets here were not in the model's training data")


# ------------------------------------------------------------------- registry and the command


def test_champion_alias_scores_and_pins_the_version(env, tmp_path):
    cfg, eps = env["cfg"], env["history"]
    since, until = eps["entry_time"].iloc[600], eps["entry_time"].iloc[700]
    by_alias = score_command(cfg, f"models:/{NAME}@champion", since=since, until=until)
    by_run = score_command(cfg, env["run"]["model_uri"], since=since, until=until)
    version = env["run"]["registered_version"]
    assert (by_alias["model"] == f"models:/{NAME}/{version}").all()
    assert (by_run["model"] == env["run"]["model_uri"]).all()
    cols = [c for c in OUTPUT_COLUMNS if c != "model"]
    pd.testing.assert_frame_equal(by_alias[cols], by_run[cols], check_exact=True)
    with pytest.raises(ModelError, match="alias 'nope'"):
        score_command(cfg, f"models:/{NAME}@nope", since=since, until=until)


def test_output_is_atomic_with_the_design_columns(env, tmp_path, capsys):
    from rich.console import Console

    cfg, eps = env["cfg"], env["history"]
    since, until = eps["entry_time"].iloc[400], eps["entry_time"].iloc[600]
    console = Console(file=None, width=200)
    for ext in ("parquet", "csv"):
        dest = tmp_path / f"signals.{ext}"
        sig = score_command(cfg, f"models:/{NAME}@champion", since=since, until=until,
                            capital=50_000, out=dest, console=console)
        back = read_table(dest)
        assert list(back.columns) == OUTPUT_COLUMNS
        assert OUTPUT_COLUMNS[: len(SIGNAL_COLUMNS)] == SIGNAL_COLUMNS
        assert len(back) == len(sig) > 50
        values = back[NUMERIC].to_numpy(dtype=float)
        assert np.isfinite(values).all()
        traded = back["leg_a_notional"] > 0
        assert traded.any() and (~traded).any()
        assert (back.loc[~traded, "reason"].astype(str).str.len() > 0).all()
        assert (back.loc[~traded, ["leg_a_notional", "leg_b_notional"]] == 0).all().all()
        assert set(back.loc[traded, "leg_a_side"]) <= {"long", "short"}
        assert (back.loc[traded, "leg_a_side"] != back.loc[traded, "leg_b_side"]).any()
        # gross leverage is against the --capital given
        lev = (back["leg_a_notional"] + back["leg_b_notional"]) / 50_000
        np.testing.assert_allclose(back["gross_leverage"], lev, rtol=1e-12)
    assert "wrote" in capsys.readouterr().out
    # a failing run leaves the previous file as it was and no temporary file behind
    dest = tmp_path / "signals.parquet"
    before = dest.read_bytes()
    with pytest.raises(ModelError):
        score_command(cfg, f"models:/{NAME}@missing", out=dest)
    assert dest.read_bytes() == before
    assert not list(tmp_path.glob(".*tmp"))
    with pytest.raises(RevertibleError, match="unknown extension"):
        score_command(cfg, f"models:/{NAME}@champion", out=tmp_path / "signals.xlsx")
    assert not (tmp_path / "signals.xlsx").exists()


def test_live_command_end_to_end(env, tmp_path):
    dest = tmp_path / "live.csv"
    sig = score_command(env["cfg"], f"models:/{NAME}@champion", out=dest)
    # the command computes live features while the model loads: same rows as the library call
    ref = _score(env)
    cols = [c for c in OUTPUT_COLUMNS if c != "model"]
    pd.testing.assert_frame_equal(sig[cols], ref[cols], check_exact=True)
    back = read_table(dest)
    assert len(back) == len(sig) >= 1
    assert back["exit_reason"].eq("open").all()
    assert (pd.to_datetime(back["time_stop"], utc=True)
            == pd.to_datetime(back["entry_time"], utc=True) + pd.Timedelta(hours=48)).all()
    loaded = load_model(env["run"]["model_uri"], env["cfg"].tracking.uri)
    assert loaded.features == env["model"].features


# ----------------------------------------------------------------- return heads, costs, live


def test_model_without_a_calibrator_is_refused_with_the_fix(env):
    m = env["raw_model"]
    old = CalibratedReversionModel(m.classifier, m.calibrator, m.features, m.meta)
    del old.outcomes  # a pickle of an earlier version has no such attribute
    assert not has_calibrator(old)
    with pytest.raises(ModelError, match=r"no return calibrator.*retrain it with `revertible"):
        _score(env, model=old)


def test_costs_differing_from_the_model_are_reported(env):
    from revertible.scoring._command import _summary

    model = env["model"]
    trained = {**env["cfg"].costs.model_dump(mode="json"), "taker_fee": 0.0005}
    m = CalibratedReversionModel(model.classifier, model.calibrator, model.features,
                                 {**model.meta, "costs": trained}, outcomes=model.outcomes)
    eps = env["history"]
    sig, info = score_panel(env["panel"], m, env["cfg"], model_id="m",
                            since=eps["entry_time"].iloc[300], until=eps["entry_time"].iloc[320])
    lines = _summary(sig, info)
    assert any("trained with costs taker_fee=0.0005 but this config has taker_fee=0.001" in line
               for line in lines), lines  # fmt: skip
    assert any(line.startswith("decision: ") and "clear costs" in line for line in lines)
    _, same = score_panel(env["panel"], model, env["cfg"], model_id="m",
                          since=eps["entry_time"].iloc[300], until=eps["entry_time"].iloc[320])
    assert same["costs_note"] == ""


def test_live_path_and_touched_barriers():
    """z' path on closes with frozen parameters; a trade whose barrier was touched is over."""
    from revertible.data import Panel  # noqa: F401 - the panel type the helpers take

    path = np.array([[2.1, 1.0, 0.4, np.nan], [2.5, 3.0, 4.2, 0.3], [2.2, 2.0, 1.9, 2.4],
                     [2.2, 4.1, 0.2, np.nan]])  # fmt: skip
    bars = {"revert": Barriers(0.5, 4.0, 4), "continue": Barriers(4.0, 0.5, 4)}
    got = touched_reasons(path, np.array(["revert", "revert", "continue", "continue"]), bars)
    assert got.tolist() == ["revert take-profit already touched since entry",
                            "revert stop already touched since entry", "",
                            "continue take-profit already touched since entry"]  # fmt: skip


def test_live_path_matches_hand_computed_z(env):
    panel, eps = env["panel"], env["history"]
    rows = eps.iloc[[100, 200]].reset_index(drop=True)
    path = live_path(panel, rows, 48)
    for i, r in rows.iterrows():
        t = panel.times.get_loc(r["entry_time"])
        a, b = panel.assets.index(r["asset_a"]), panel.assets.index(r["asset_b"])
        logc = panel.log_close()
        win = slice(t + 1, t + 49)
        want = np.sign(r["z_entry"]) * (logc[win, a] - r["beta"] * logc[win, b]
                                        - r["spread_mean"]) / r["spread_std"]
        np.testing.assert_allclose(path[i], want, rtol=1e-12)


class _Outcomes:
    """``model`` with fixed outcome moments: revert -0.5, ``continue_mean``, both s.e. 1e-4."""

    def __init__(self, model, continue_mean):
        self._model, self._continue = model, continue_mean

    def __getattr__(self, name):
        return getattr(self.__dict__["_model"], name)

    def predict_outcomes(self, X):
        return self._model.predict_outcomes(X).assign(
            revert_mean=-0.5, continue_mean=self._continue, revert_se=1e-4, continue_se=1e-4)


def test_live_rows_with_a_touched_barrier_keep_their_row_with_zero_size(env, monkeypatch):
    """With continuation barriers tighter than the label's, open rows can be over already."""
    import revertible.scoring._score as core

    tight = Barriers(2.05, 1.95, 48)
    monkeypatch.setattr(core, "continuation_barriers", lambda cfg: {
        "revert": Barriers(0.5, 4.0, 48), "continue": tight})  # fmt: skip
    sig = _score(env, model=_Outcomes(env["raw_model"], continue_mean=0.5))  # "continue"
    assert (sig["direction"] == "continue").all() and len(sig) >= 3
    over = sig["reason"].str.contains("continue (?:take-profit|stop) already touched since entry")
    assert over.sum() >= 1
    assert (sig.loc[over, ["leg_a_notional", "leg_b_notional"]] == 0).all().all()
    assert ((sig["take_profit_z"] == 2.05) & (sig["stop_z"] == 1.95)).all()


def test_a_none_row_whose_legs_if_taken_are_over_sizes_nothing_if_taken(env, monkeypatch):
    """A 'none' row is checked on its direction if taken: a trade already over has no legs."""
    import revertible.scoring._score as core

    tight = Barriers(2.05, 1.95, 48)
    monkeypatch.setattr(core, "continuation_barriers", lambda cfg: {
        "revert": Barriers(0.5, 4.0, 48), "continue": tight})  # fmt: skip
    # nothing clears costs; the continuation has the better lower bound
    sig = _score(env, model=_Outcomes(env["raw_model"], continue_mean=-0.0001))
    assert (sig["direction"] == "none").all() and (sig["direction_if_taken"] == "continue").all()
    over = sig["reason"].str.contains("continue (?:take-profit|stop) already touched since entry")
    assert over.sum() >= 1
    assert (sig.loc[over, ["leg_a_notional_if_taken", "leg_b_notional_if_taken"]] == 0).all().all()
    assert (sig.loc[~over, "reason"].str.startswith("no direction clears costs")).all()


def test_an_old_model_is_warned_about_once(env, caplog, capsys, monkeypatch):
    import copy
    import logging

    from rich.console import Console

    import revertible.scoring._command as command

    real = command.load_pinned

    def trained_a_day_before(uri, store):  # the env's model was trained on this very data
        pinned, model = real(uri, store)
        model = copy.copy(model)
        end = pd.Timestamp(model.meta["data_until"]) - pd.Timedelta(days=1)
        model.meta = {**model.meta, "data_until": str(end)}
        return pinned, model

    monkeypatch.setattr(command, "load_pinned", trained_a_day_before)
    cfg, eps = env["cfg"], env["history"]
    old = cfg.model_copy(update={"scoring": cfg.scoring.model_copy(
        update={"max_model_age_days": 1e-3})})
    since, until = eps["entry_time"].iloc[400], eps["entry_time"].iloc[600]
    with caplog.at_level(logging.WARNING, logger="revertible.freshness"):
        score_command(old, f"models:/{NAME}@champion", since=since, until=until,
                      console=Console(file=None, width=200))
    said = [r.getMessage() for r in caplog.records if "training data ends" in r.getMessage()]
    assert len(said) == 1 and "retrain" in said[0]
    # the command does not print it a second time beside the log (the CLI prints the log)
    assert "training data ends" not in capsys.readouterr().out


def test_signal_columns_are_the_contract_s():
    """The score file's columns, in order, are docs/design.md's (pinned in contract_support)."""
    assert SIGNAL_COLUMNS == SIGNAL_FILE_COLUMNS
    assert EXTRA_COLUMNS == SIGNAL_EXTRA_COLUMNS
    assert OUTPUT_COLUMNS == SIGNAL_FILE_COLUMNS + SIGNAL_EXTRA_COLUMNS
    # the paragraph names leg B's columns as "the same four (three) for `leg_b`"
    implied = {"leg_b_side", "leg_b_notional", "leg_b_qty", "leg_b_price", "leg_b_side_if_taken",
               "leg_b_notional_if_taken", "leg_b_qty_if_taken"}
    assert_documented_in_order(SIGNAL_FILE_COLUMNS + SIGNAL_EXTRA_COLUMNS, "Signals", implied)
