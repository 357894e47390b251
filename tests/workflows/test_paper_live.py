"""``revertible paper``: the ledger kept run by run equals one backtest of the same period."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from revertible.backtest import TRADE_COLUMNS, run_backtest
from revertible.cli import app
from revertible.config import load_config
from revertible.data import load_panel
from revertible.synthetic import generate_market, write_market
from revertible.tracking import load_model
from revertible.workflows import ENTRY_COLUMNS, paper_run, read_ledger, train

pytestmark = pytest.mark.slow  # a model is trained (about 6 s)
NAME = "paper-test"
# a market that trades: perpetual maker fills and a lower confidence let the gate take ~50+
# divergences a month on this generated market (measured: 150-180)
TRADES = ["costs.venue=perp", "costs.fill=maker", "decision.confidence=0.6"]


def _sets(root):
    return [f"tracking.uri=sqlite:///{root}/mlflow.db",
            f"tracking.artifact_location={(root / 'artifacts').as_uri()}",
            f"tracking.registered_model={NAME}", "model.n_estimators=20", "cv.n_folds=3",
            "model.calibration=sigmoid", *TRADES]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper")
    market, truth = generate_market(n_assets=10, n_bars=24 * 90, seed=11)
    write_market(root / "data", market, truth)
    cfg = load_config("configs/demo.yaml", _sets(root), data=str(root / "data"))
    panel = load_panel(cfg.data)
    end = panel.times[-1] - pd.Timedelta(days=4)  # later bars close the month's last trades
    start = end - pd.Timedelta(days=30)
    # the model knows the market up to the month only: a ledger over its training divergences
    # would be in sample (paper refuses it)
    res = train(cfg, panel=panel.cut(start - panel.freq), promote=True)
    model = load_model(res["model_uri"], cfg.tracking.uri)
    assert pd.Timestamp(model.meta["trained_until"]) < start
    return {"root": root, "cfg": cfg, "panel": panel, "model": model, "truth": truth,
            "uri": res["model_uri"], "start": start, "end": end}


def _table(path, name):
    con = sqlite3.connect(path)
    try:
        return pd.read_sql_query(f"SELECT * FROM {name}", con)
    finally:
        con.close()


def _same(a: pd.DataFrame, b: pd.DataFrame, cols) -> None:
    assert len(a) == len(b)
    for c in cols:
        x, y = a[c], b[c]
        if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=1e-9,
                                       atol=1e-9, err_msg=c)
        else:
            assert list(x.astype(str)) == list(y.astype(str)), c


@pytest.mark.slow
def test_paper_run_by_run_equals_the_backtest_of_the_month(env, tmp_path):
    cfg, panel, model = env["cfg"], env["panel"], env["model"]
    start, end = env["start"], env["end"]
    ledger = tmp_path / "ledger.sqlite"
    # 22 runs over the month, each seeing the data cut at a later bar (steps of 35 hours, so
    # runs fall at every hour of the day), the last one at the month's end
    cuts = list(pd.date_range(start, end, freq="35h")) + [end]
    seen_new, announced, booked = 0, 0, 0
    pending: set = set()
    for i, t in enumerate(cuts):
        rep = paper_run(cfg, ledger, model=model, model_uri=env["uri"], panel=panel.cut(t),
                        since=start if i == 0 else None)
        assert rep.last_bar == t and rep.changed
        seen_new += len(rep.new)
        # a trade signalled at the previous run's last bar was announced there as pending
        late = rep.new[rep.new["signal_time"] == (rep.previous_bar or start - pd.Timedelta(1))]
        assert set(zip(late["asset_a"], late["asset_b"], strict=True)) <= pending
        booked += len(late)
        pending = set(zip(rep.pending["asset_a"], rep.pending["asset_b"], strict=True))
        assert (rep.pending["entry_time"] == t).all() and (rep.pending["direction"] != "none").all()
        announced += len(pending)
    assert announced > 0 and booked > 0
    ref = run_backtest(cfg, panel.cut(end), model=model, since=start, until=end,
                       strategies=("model",))
    want = ref.trades[ref.trades["strategy"] == "model"].sort_values(
        ["entry_time", "asset_a", "asset_b"]).reset_index(drop=True)
    got = read_ledger(ledger).trades.sort_values(
        ["entry_time", "asset_a", "asset_b"]).reset_index(drop=True)
    assert len(want) >= 50, f"the month must trade: {len(want)} trades"
    assert seen_new == len(got) == len(want)
    _same(got, want, TRADE_COLUMNS)  # every column, open positions marked as the backtest's
    assert set(got["status"]) == {"open", "closed"} or (got["status"] == "closed").all()
    assert ((got["status"] == "open") == (got["exit_reason"] == "end_of_data")).all()
    for c in ("fees", "slippage", "funding", "pnl"):
        assert got[c].sum() == pytest.approx(want[c].sum(), rel=1e-9, abs=1e-9)
    # equity marks: the backtest's equity at every bar of the month
    marks = _table(ledger, "marks").set_index("time")
    eq = ref.equity["model"]
    eq = eq[eq.index <= end]
    np.testing.assert_allclose(marks.loc[[t.isoformat() for t in eq.index], "equity"],
                               eq.to_numpy(), rtol=1e-12)
    # the same trades on data that goes on after the month: closed ones final, open ones entered
    full = run_backtest(cfg, panel, model=model, since=start, until=end, strategies=("model",))
    later = full.trades[(full.trades["strategy"] == "model")
                        & (full.trades["entry_time"] <= end)].sort_values(
        ["entry_time", "asset_a", "asset_b"]).reset_index(drop=True)
    closed = got["status"] == "closed"
    _same(got[closed].reset_index(drop=True), later[closed.to_numpy()].reset_index(drop=True),
          [c for c in TRADE_COLUMNS if c != "label"])
    _same(got, later, ENTRY_COLUMNS)
    runs = _table(ledger, "runs")
    assert len(runs) == len(cuts) and runs["new_trades"].sum() == len(want)


# ------------------------------------------------------------------ the command: runs, refusals


def _cut(env, days_before_end: float) -> Path:
    """A data folder holding the market as it was known ``days_before_end`` before the end."""
    t = env["end"] - pd.Timedelta(days=days_before_end)
    folder = env["root"] / f"cut-{t:%m%d%H}"
    if not folder.exists():
        write_market(folder, env["panel"].cut(t), env["truth"])
    return folder


def _run(env, data: Path, *args, sets=()):
    opts = [x for s in [*_sets(env["root"]), *sets] for x in ("--set", s)]
    return CliRunner().invoke(app, ["paper", "configs/demo.yaml", *opts, "--data", str(data),
                                    *map(str, args)])


def _dump(path: Path) -> dict[str, list]:
    con = sqlite3.connect(path)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("meta", "runs", "trades", "marks")}
    finally:
        con.close()


def _one_line_error(res, *needles):
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines()
             if not ln.startswith(("compiling the spread kernels", "warning:"))]
    assert len(lines) == 1 and lines[0].startswith("error:"), res.output
    assert "Traceback" not in res.output
    flat = " ".join(lines[0].split())
    for n in needles:
        assert n in flat, (n, flat)


@pytest.fixture(scope="module")
def started(env, tmp_path_factory):
    """A ledger the command started 6 days before the month's end and ran once since."""
    import json

    ledger = tmp_path_factory.mktemp("ledger") / "paper.sqlite"
    first = _run(env, _cut(env, 6), "--model", f"models:/{NAME}@champion", "--ledger", ledger,
                 "--since", env["end"] - pd.Timedelta(days=10), "--json")
    assert first.exit_code == 0, first.output
    payload = json.loads(first.output.strip().splitlines()[-1])
    assert payload["new"] and payload["last_bar"] == str(env["end"] - pd.Timedelta(days=6))
    assert "realised net" in first.output and "expected" in first.output
    return ledger


def test_a_second_run_for_the_same_bar_changes_nothing(env, started):
    before = _dump(started)
    again = _run(env, _cut(env, 6), "--model", f"models:/{NAME}@champion", "--ledger", started)
    assert again.exit_code == 0, again.output
    assert "nothing changed" in again.output
    assert _dump(started) == before
    assert before["runs"] and before["trades"] and before["marks"]


def test_json_carries_the_contract_s_model_uri_and_flat_metrics(env, started, tmp_path):
    """docs/design.md: ``--json`` gives at least ``model_uri`` and ``metrics`` (a flat mapping)."""
    import json

    ledger = tmp_path / "copy.sqlite"
    ledger.write_bytes(started.read_bytes())
    uri = f"models:/{NAME}@champion"
    res = _run(env, _cut(env, 3), "--model", uri, "--ledger", ledger, "--json")
    assert res.exit_code == 0, res.output
    payload = json.loads(res.output.strip().splitlines()[-1])
    assert payload["model_uri"] == uri
    m = payload["metrics"]
    assert m and all(isinstance(v, (int, float)) or v is None for v in m.values()), m
    assert m["equity"] == payload["equity"]
    assert m["open_positions"] == len(payload["open"]) and m["new_trades"] == len(payload["new"])
    assert m["trades_closed"] == payload["closed"] > 0
    assert [m["realised_net_bp"], m["realised_net_bp_ci_low"],
            m["realised_net_bp_ci_high"]] == payload["realised_net_bp"]
    assert [m["gate_net_bp"], m["gate_net_bp_ci_low"],
            m["gate_net_bp_ci_high"]] == payload["gate_net_bp"]
    assert m["expected_net_bp"] == payload["expected_net_bp"]


def test_a_later_bar_extends_the_ledger_and_notifies_the_new_decisions(env, started, tmp_path):
    from live.live_webhook import Receiver

    ledger = tmp_path / "copy.sqlite"
    ledger.write_bytes(started.read_bytes())
    rec = Receiver()
    try:
        res = _run(env, _cut(env, 3), "--model", f"models:/{NAME}/1", "--ledger", ledger,
                   "--notify", rec.url)
    finally:
        rec.close()
    assert res.exit_code == 0, res.output
    book = read_ledger(ledger)
    assert len(book.runs) == len(read_ledger(started).runs) + 1
    new = int(book.runs["new_trades"].iloc[-1])
    assert new > 0
    sent = [m for m in rec.got if "new decisions" in m.get("title", "")]
    assert len(sent) == 1 and sent[0]["message"].count("  new ") == min(new, 20)
    assert "new trade(s)" in sent[0]["message"]


@pytest.mark.parametrize("fresh", [False, True])
def test_an_interrupted_write_leaves_the_ledger_as_it_was(env, started, tmp_path, monkeypatch,
                                                          fresh):
    import revertible.workflows._ledger_db as db

    real = db._write

    def killed(con, *args):
        real(con, *args)  # every row written inside the transaction, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(db, "_write", killed)
    ledger = tmp_path / "copy.sqlite"
    if not fresh:
        ledger.write_bytes(started.read_bytes())
    before = None if fresh else _dump(ledger)
    with pytest.raises(KeyboardInterrupt):
        paper_run(env["cfg"], ledger, model=env["model"], model_uri=f"models:/{NAME}/1",
                  identity=read_ledger(started).meta if not fresh else None,
                  panel=env["panel"].cut(env["end"]),
                  since=env["end"] - pd.Timedelta(days=10) if fresh else None)
    if fresh:
        assert not list(tmp_path.iterdir())
    else:
        assert _dump(ledger) == before
        assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.sqlite"]


def _refused(env, started, tmp_path, *args, sets=(), data_days=3, needles=()):
    ledger = tmp_path / "copy.sqlite"
    ledger.write_bytes(started.read_bytes())
    before = ledger.read_bytes()
    res = _run(env, _cut(env, data_days), *args, "--ledger", ledger, sets=sets)
    _one_line_error(res, *needles)
    assert ledger.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.sqlite"]


def test_a_ledger_of_another_config_is_refused(env, started, tmp_path):
    _refused(env, started, tmp_path, "--model", f"models:/{NAME}@champion",
             sets=["decision.confidence=0.7"],
             needles=["another config", "decision.confidence was 0.6, now 0.7"])


def test_the_fix_another_config_names_is_an_override_that_restores_the_ledger_s():
    # it printed Python's repr: --set data.assets=None, which --set refuses ("a valid tuple")
    import json
    import re

    from revertible.errors import RevertibleError
    from revertible.workflows import check_ledger, config_hash, decision_config

    pick = "data.assets=[AAA/USDT,BBB/USDT]"
    for ledger_sets, now_sets in (([], [pick]), ([pick], []), (["costs.venue=perp"], [])):
        was = decision_config(load_config("configs/demo.yaml", ledger_sets))
        meta = {"config_hash": config_hash(was), "config": json.dumps(was)}
        with pytest.raises(RevertibleError, match="another config") as exc:
            check_ledger("l.sqlite", meta, decision_config(load_config("configs/demo.yaml",
                                                                       now_sets)), {})
        fix = re.search(r"\(--set (\S+)\)", str(exc.value)).group(1)
        assert decision_config(load_config("configs/demo.yaml", [*now_sets, fix])) == was, fix


def test_settings_that_do_not_decide_trades_keep_the_ledger(env, started, tmp_path):
    ledger = tmp_path / "copy.sqlite"
    ledger.write_bytes(started.read_bytes())
    res = _run(env, _cut(env, 6), "--model", f"models:/{NAME}@champion", "--ledger", ledger,
               sets=["scoring.max_stale_bars=5", "backtest.cost_multipliers=[1.0,3.0]"])
    assert res.exit_code == 0 and "nothing changed" in res.output, res.output


@pytest.fixture(scope="module")
def other(env):
    """Another model of the same config (a retrain)."""
    cfg = load_config("configs/demo.yaml", [*_sets(env["root"]), "model.n_estimators=5"],
                      data=str(env["root"] / "data"))
    return train(cfg, panel=env["panel"], promote=False)


def test_a_ledger_of_another_model_is_refused(env, started, tmp_path, other):
    _refused(env, started, tmp_path, "--model", other["model_uri"],
             needles=["was written for model", f"models:/{NAME}/1"])


def test_rotate_moves_another_model_s_ledger_aside_and_starts_a_new_one(env, started, tmp_path,
                                                                         other):
    # a retrain moved @champion: without --rotate the hourly chain failed until the ledger was
    # moved by hand
    ledger = tmp_path / "copy.sqlite"
    ledger.write_bytes(started.read_bytes())
    before = ledger.read_bytes()
    # another config is still refused, --rotate or not, and nothing moves
    res = _run(env, _cut(env, 3), "--model", other["model_uri"], "--ledger", ledger, "--rotate",
               sets=["decision.confidence=0.7"])
    _one_line_error(res, "another config")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.sqlite"]
    # a new ledger the later checks refuse (here in sample for the new model) moves nothing
    res = _run(env, _cut(env, 3), "--model", other["model_uri"], "--ledger", ledger, "--rotate",
               "--since", env["end"] - pd.Timedelta(days=10))
    _one_line_error(res, "in sample, not a forward test")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.sqlite"]
    assert ledger.read_bytes() == before
    res = _run(env, _cut(env, 3), "--model", other["model_uri"], "--ledger", ledger, "--rotate")
    assert res.exit_code == 0, res.output
    kept = [p for p in tmp_path.iterdir() if p.name != "copy.sqlite"]
    assert len(kept) == 1 and kept[0].read_bytes() == before  # the old ledger, whole
    run1 = read_ledger(kept[0]).meta["model_run_id"]
    assert kept[0].name == f"copy-{run1[:8]}.sqlite"
    assert f"moved to {kept[0]}" in " ".join(res.output.split())
    new = read_ledger(ledger)
    assert new.meta["model_uri"] == other["model_uri"] and len(new.runs) == 1
    assert pd.Timestamp(new.meta["start"]) == env["end"] - pd.Timedelta(days=3)  # last bar


def test_a_model_without_a_return_calibrator_is_refused(env, started, tmp_path, monkeypatch):
    import revertible.tracking

    real = revertible.tracking.load_model

    def old_model(uri, store=None):
        m = real(uri, store)
        del m.outcomes  # a pickle of an earlier version has no return calibrator
        return m

    monkeypatch.setattr(revertible.tracking, "load_model", old_model)
    _refused(env, started, tmp_path, "--model", f"models:/{NAME}@champion",
             needles=["no return calibrator", "retrain"])


def test_a_ledger_in_a_read_only_folder_is_refused(env, started, tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ledger = ro / "paper.sqlite"
    ledger.write_bytes(started.read_bytes())
    before = ledger.read_bytes()
    ro.chmod(0o500)
    real = os.access  # root writes anyway: make the folder read-only to the check too
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == ro and
                        mode & os.W_OK else real(p, mode, **kw))
    try:
        res = _run(env, _cut(env, 3), "--model", f"models:/{NAME}@champion", "--ledger", ledger)
        _one_line_error(res, "--ledger", "not writable")
        assert ledger.read_bytes() == before and sorted(os.listdir(ro)) == ["paper.sqlite"]
    finally:
        ro.chmod(0o700)


def test_a_file_that_is_not_a_ledger_and_a_start_after_the_data_are_refused(env, tmp_path):
    other = tmp_path / "notes.sqlite"
    other.write_bytes(b"not a database, just text" * 40)
    before = other.read_bytes()
    res = _run(env, _cut(env, 3), "--model", f"models:/{NAME}@champion", "--ledger", other)
    _one_line_error(res, "--ledger", "not a paper ledger")
    assert other.read_bytes() == before
    late = env["end"] - pd.Timedelta(days=1)  # the data is cut 3 days before the end
    res = _run(env, _cut(env, 3), "--model", f"models:/{NAME}@champion", "--ledger",
               tmp_path / "new.sqlite", "--since", late)
    _one_line_error(res, "--since", "outside the data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sqlite"]


def test_a_ledger_over_the_model_s_training_data_is_refused(env, tmp_path):
    # a ledger started inside the training period booked in-sample trades as a forward test:
    # the demo's paper month, 11 days of it in the model's development data, "earned" +131 bp
    # a trade against -24 out of sample
    # the boundary is where the labels the model saw stop (its holdout start), not its last
    # fitted entry: the divergences between were purged because their labels straddle it
    trained = pd.Timestamp(env["model"].meta["trained_until"])
    first = pd.Timestamp(env["model"].meta["holdout_start"])
    assert trained < first
    for since in (trained - pd.Timedelta(days=2), trained + pd.Timedelta(hours=1)):
        res = _run(env, _cut(env, 3), "--model", f"models:/{NAME}@champion", "--ledger",
                   tmp_path / "new.sqlite", "--since", since)
        _one_line_error(res, "--since", f"saw labels (and the prices in them) up to "
                        f"{first:%Y-%m-%d %H:%M} UTC", "in sample, not a forward test",
                        f"--since {first:%Y-%m-%d %H:%M}")
        assert list(tmp_path.iterdir()) == []  # nothing written
    # without --since a new ledger starts at the last closed bar: data that ends before the
    # holdout start (a replay of old data) is refused too
    days = (env["end"] - first) / pd.Timedelta(days=1) + 1
    res = _run(env, _cut(env, days), "--model", f"models:/{NAME}@champion", "--ledger",
               tmp_path / "new.sqlite", sets=["scoring.on_stale=warn",
                                              "scoring.max_model_age_days=100000"])
    _one_line_error(res, "the new ledger's first bar (the last closed one)",
                    "in sample, not a forward test", f"{first:%Y-%m-%d %H:%M}")
    assert list(tmp_path.iterdir()) == []


def test_since_and_data_are_refused_before_the_model_loads(env, started, tmp_path, monkeypatch):
    """The model's load (and its warnings) comes after the --since and data checks."""
    from dataclasses import replace

    import revertible.tracking

    def no_load(*_a, **_k):
        raise AssertionError("the model was loaded before --since and the data were checked")

    monkeypatch.setattr(revertible.tracking, "load_model", no_load)
    res = _run(env, _cut(env, 3), "--model", f"models:/{NAME}@champion", "--ledger",
               tmp_path / "new.sqlite", "--since", env["end"] - pd.Timedelta(days=1))
    _one_line_error(res, "--since", "outside the data")
    assert "warning:" not in res.output and not list(tmp_path.iterdir())
    _refused(env, started, tmp_path, "--model", f"models:/{NAME}@champion", "--since",
             env["end"] - pd.Timedelta(days=9), needles=["--since", "drop --since"])
    # data that ends before the ledger's last processed bar; data revised before its start
    _refused(env, started, tmp_path, "--model", f"models:/{NAME}@champion", data_days=8,
             needles=["before the ledger's last processed bar"])
    revised = env["root"] / "revised"
    if not revised.exists():
        panel = env["panel"].cut(env["end"] - pd.Timedelta(days=3))
        close = panel.close.copy(order="F")
        close[0, 0] *= 1.01
        write_market(revised, replace(panel, close=close), env["truth"])
    ledger = tmp_path / "copy.sqlite"
    before = ledger.read_bytes()
    res = _run(env, revised, "--model", f"models:/{NAME}@champion", "--ledger", ledger)
    _one_line_error(res, "--ledger", "the data up to its start", "has changed")
    assert ledger.read_bytes() == before


def test_revised_data_before_the_last_processed_bar_is_an_error_naming_the_trade(env, started,
                                                                                 tmp_path):
    from dataclasses import replace

    from revertible.errors import RevertibleError

    ledger = tmp_path / "copy.sqlite"
    ledger.write_bytes(started.read_bytes())
    book = read_ledger(ledger)
    before = _dump(ledger)
    trade = book.trades[book.trades["status"] == "closed"].iloc[0]
    panel = env["panel"].cut(env["end"] - pd.Timedelta(days=3))
    opn = panel.open.copy(order="F")
    t, a = panel.times.get_loc(trade["entry_time"]), panel.assets.index(trade["asset_a"])
    opn[t, a] *= 1.01  # the exchange revised the open the trade filled at
    tid = rf"{trade['trade_id']} changed on replay \(entry_price_a was"
    with pytest.raises(RevertibleError, match=tid.replace("/", ".")):
        paper_run(env["cfg"], ledger, model=env["model"], model_uri=f"models:/{NAME}/1",
                  identity=book.meta, panel=replace(panel, open=opn))
    assert _dump(ledger) == before


# a gate loose enough to trade on the shared perpetuals (the default one abstains there)
LOOSE = ["costs.fill=maker", "decision.confidence=0.51", "decision.drift_days=null",
         "decision.shrinkage=0", "decision.min_bin_trades=2"]


@pytest.mark.slow
def test_paper_day_by_day_equals_the_backtest_on_a_month_of_the_shared_perpetuals(
        futures_dir, tmp_path):
    sets = [f"tracking.uri=sqlite:///{tmp_path}/mlflow.db",
            f"tracking.artifact_location={(tmp_path / 'artifacts').as_uri()}",
            "tracking.registered_model=paper-shared", *LOOSE]
    cfg = load_config("configs/binance-perp-1h.yaml", sets, data=str(futures_dir))
    panel = load_panel(cfg.data)
    res = train(cfg, panel=panel, promote=False)
    model = load_model(res["model_uri"], cfg.tracking.uri)
    start = pd.Timestamp("2024-08-08", tz="UTC")  # after the model's holdout start
    end = start + pd.Timedelta(days=30) - pd.Timedelta(hours=1)
    assert pd.Timestamp(model.meta["holdout_start"]) < start
    ledger = tmp_path / "ledger.sqlite"
    cuts = list(pd.date_range(start, end, freq="23h")) + [end]
    for i, t in enumerate(cuts):
        paper_run(cfg, ledger, model=model, model_uri=res["model_uri"], panel=panel.cut(t),
                  since=start if i == 0 else None)
    ref = run_backtest(cfg, panel.cut(end), model=model, since=start, until=end,
                       strategies=("model",))
    key = ["entry_time", "asset_a", "asset_b"]
    want = ref.trades[ref.trades["strategy"] == "model"].sort_values(key).reset_index(drop=True)
    got = read_ledger(ledger).trades.sort_values(key).reset_index(drop=True)
    assert len(want) >= 50, f"the month must trade: {len(want)} trades"
    _same(got, want, TRADE_COLUMNS)
    assert got["funding"].abs().sum() > 0  # perpetual legs paid or received funding


def test_summary_of_trades_closed_on_one_day_has_no_interval():
    # a ledger's first closed trades, all exited on one day: the day-block bootstrap has one
    # block; paper printed "realised net +12.0 bp/trade [90% CI +12.0, +12.0]"
    from revertible.backtest import bootstrap_mean_ci
    from revertible.workflows._paper import PaperReport, paper_summary

    realised = bootstrap_mean_ci(np.array([30.0, -6.0]), np.array([19970, 19970]))
    t = pd.Timestamp("2024-09-06", tz="UTC")
    empty = pd.DataFrame(columns=["trade_id", "direction", "pnl", "net_bp"])
    rep = PaperReport(ledger="l.sqlite", start=t, last_bar=t, previous_bar=None, changed=True,
                      new=empty, open=empty, closed=pd.DataFrame({"net_bp": [30.0, -6.0]}),
                      newly_closed=2, equity=100_000.0, realised_net_bp=realised,
                      expected_net_bp=5.0, gate_net_bp=(4.0, -1.0, 9.0))
    last = paper_summary(rep, 100_000.0)[-1]
    assert last.startswith("realised net +12.0 bp/trade [no 90% CI: every closed trade exited "
                           "on one day] over 2 closed trade(s)"), last
    # the gate's record of one entry day has none either; it printed "+4.0 [-, -]"
    from dataclasses import replace

    one_day = replace(rep, gate_net_bp=(4.0, np.nan, np.nan))
    assert paper_summary(one_day, 100_000.0)[-1].endswith(
        "(the gate's record at unit size: +4.0 [no 90% CI: all entered on one day])")
    # signals taken, none resolved yet: no record (it said "- [no 90% CI: all entered on one
    # day]", a reason that was not the one)
    fresh = replace(rep, gate_net_bp=(np.nan, np.nan, np.nan))
    assert paper_summary(fresh, 100_000.0)[-1].endswith(
        "expected +5.0 bp per taken signal (the gate's record at unit size: no outcome known "
        "yet)")


def test_summary_of_a_ledger_with_nothing_closed_or_taken_says_so():
    # the shared perpetuals (paper --since 2024-08-01): the gate takes nothing; it printed
    # "realised net - bp/trade [90% CI -, -] over 0 closed trade(s); the backtest of the same
    # period expected - bp per taken signal (the gate's record at unit size: - [-, -])"
    from revertible.workflows._paper import PaperReport, paper_summary

    t = pd.Timestamp("2024-09-07 01:00", tz="UTC")
    empty = pd.DataFrame(columns=["trade_id", "direction", "pnl", "net_bp"])
    nan3 = (np.nan, np.nan, np.nan)
    rep = PaperReport(ledger="l.sqlite", start=t, last_bar=t, previous_bar=None, changed=True,
                      new=empty, open=empty, closed=empty, newly_closed=0, equity=100_000.0,
                      realised_net_bp=nan3, expected_net_bp=np.nan, gate_net_bp=nan3)
    assert paper_summary(rep, 100_000.0)[-1] == (
        "realised net: no closed trade yet; the backtest of the same period has no taken "
        "signal with a known outcome")
