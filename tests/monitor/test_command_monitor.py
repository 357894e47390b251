"""``revertible monitor`` end to end on a generated market with a small trained model."""

from __future__ import annotations

import json
import re

import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from revertible.cli import app
from revertible.config import load_config
from revertible.data import load_panel
from revertible.synthetic import generate_market, write_market
from revertible.workflows import train

pytestmark = pytest.mark.slow
NAME = "monitor-test"


def _sets(root):
    return [f"tracking.uri=sqlite:///{root}/mlflow.db",
            f"tracking.artifact_location={(root / 'artifacts').as_uri()}",
            f"tracking.registered_model={NAME}", "model.n_estimators=40", "cv.n_folds=3",
            "model.calibration=sigmoid"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("monitor")
    market, truth = generate_market(n_assets=10, n_bars=24 * 160, seed=11)
    write_market(root / "data", market, truth)
    cfg = load_config("configs/demo.yaml", _sets(root), data=str(root / "data"))
    res = train(cfg, panel=load_panel(cfg.data), promote=True)
    return {"root": root, "cfg": cfg, "run": res}


def _run(env, *args):
    sets = [x for s in _sets(env["root"]) for x in ("--set", s)]
    return CliRunner().invoke(app, ["monitor", "configs/demo.yaml", *sets, "--data",
                                    str(env["root"] / "data"), *map(str, args)])


def test_monitor_reports_html_json_and_an_mlflow_run(env, tmp_path):
    res = _run(env, "--model", f"models:/{NAME}@champion", "--out", tmp_path / "mon", "--json",
               "--since", "2024-05-15")
    assert res.exit_code in (0, 3), res.output
    payload = json.loads(res.output.strip().splitlines()[-1])
    m = payload["metrics"]
    assert m["n_resolved"] > 30 and 0 <= m["live.roc_auc"] <= 1 and "psi.probability" in m
    # training stores the monitor's quantile sketch with the model: that is the reference
    assert payload["reference"] == "stored with the model"
    # docs/design.md: --json gives at least run_id, model_uri (where a model exists), metrics
    assert payload["model_uri"] == payload["model"] and payload["model_uri"].endswith("/1")
    assert m["base_rate_reference"] == env["run"]["model"].meta["base_rate"]
    # and the labels' design effect, measured on the out-of-fold record by day of resolution
    design = env["run"]["model"].meta["design_effect"]
    assert design["block"] == "1D" and design["blocks"] > 30 and design["labels"] > 100
    assert design["design_effect"] >= 1 and design["rho"] >= 0
    # applied at the live record's labels a day: above 1 exactly when training found rho > 0
    assert m["design_effect"] >= 1 and (m["design_effect"] > 1) == (design["rho"] > 0)
    page = (tmp_path / "mon" / "monitor.html").read_text()
    assert "data:image/png;base64," in page and "Reliability" in page
    assert "alt='calibration over time'" in page and page.count("data:image/png;base64,") == 2
    # what the window can see at this record's size, on the page, the terminal and the run
    # (here 52 labels, design effect 3.3: too few to see even a fall to 0 4 times in 5)
    assert "The last 7 days resolved 52 labels" in page and "the window check" in page
    assert "too few for the window check" in res.output and m["detectable_drop"] > 0.5
    assert "by decile" in page and -1 <= m["live.returns.rank_ic"] <= 1
    assert json.loads((tmp_path / "mon" / "monitor.json").read_text())["model"].endswith("/1")
    client = mlflow.MlflowClient(env["cfg"].tracking.uri)
    run = client.get_run(payload["run_id"])
    model_run = client.get_run(env["run"]["run_id"])
    assert run.info.experiment_id == model_run.info.experiment_id
    assert run.data.tags["kind"] == "monitor"
    assert run.data.metrics["n_resolved"] == m["n_resolved"]


def _payload_without(env, monkeypatch, key):
    """``monitor --json`` of the champion without ``meta[key]`` (trained before it was stored)."""
    import revertible.tracking

    load = revertible.tracking.load_model

    def predating(*args, **kwargs):
        model = load(*args, **kwargs)
        del model.meta[key]
        return model

    monkeypatch.setattr(revertible.tracking, "load_model", predating)
    res = _run(env, "--model", f"models:/{NAME}@champion", "--json", "--since", "2024-05-15")
    assert res.exit_code in (0, 3), res.output
    return json.loads(res.output.strip().splitlines()[-1])


def test_a_model_without_a_stored_sketch_gets_a_recomputed_reference(env, monkeypatch):
    payload = _payload_without(env, monkeypatch, "quantile_sketch")
    assert "recomputed from the model's development period" in payload["reference"]
    assert "no sketch is stored with the model" in payload["reference"]
    m = payload["metrics"]
    assert m["n_resolved"] > 30 and 0 <= m["base_rate_reference"] <= 1
    assert "psi.probability" in m


def test_a_model_without_a_stored_design_effect_gets_it_measured(env, monkeypatch):
    payload = _payload_without(env, monkeypatch, "design_effect")
    assert payload["reference"].startswith("stored with the model; the labels' design effect "
                                           "measured on the model's development period")
    assert payload["reference"].endswith("the model predates it")
    assert payload["metrics"]["design_effect"] >= 1


def test_breached_threshold_exits_3_and_notifies(env, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "live"))
    from live_webhook import Receiver

    rec = Receiver()
    try:
        res = _run(env, "--model", f"models:/{NAME}@champion", "--since", "2024-05-15",
                   "--set", "monitor.min_auc=0.99", "--set", "monitor.min_labels=5",
                   "--notify", rec.url)
    finally:
        rec.close()
    assert res.exit_code == 3, res.output
    assert "alert: roc_auc" in res.output and "ALERT" in res.output
    assert len(rec.got) == 1 and "roc_auc" in rec.got[0]["message"]
    # each sequential figure next to the level that would alert (a bare "CUSUM 1.5" said
    # nothing about how near the alarm it is)
    flat = " ".join(res.output.split())
    # the level is drawn for the model's label flow (cusum_threshold auto) and says so
    assert re.search(r"\(alert at \d+(\.\d+)?, drawn for [\d,]+ independent labels a month\), "
                     "probability PSI", flat), flat
    # the PSI's level as the check applies it: 0.25 or, over few divergences, its noise level
    # (here above 0.25: "alert at 0.25" named a level that did not apply)
    psi_at = re.search(r"probability PSI [0-9.]+ \(alert (at|above) ([0-9.]+)", flat)
    assert psi_at and float(psi_at.group(2)) >= 0.25, flat
    assert (psi_at.group(1) == "at") == (float(psi_at.group(2)) == 0.25), flat


def test_an_hourly_cron_sends_an_alert_once_a_day_and_a_new_check_at_once(env, tmp_path):
    # every run logged an MLflow run and re-sent every alert, also a second run for the same bar:
    # 24 messages a day for one breach
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "live"))
    from live_webhook import Receiver

    panel = load_panel(env["cfg"].data)
    earlier = tmp_path / "earlier"  # the market one bar before the fixture's last
    write_market(earlier, panel.cut(panel.times[-2]))
    client = mlflow.MlflowClient(env["cfg"].tracking.uri)
    exp = client.get_run(env["run"]["run_id"]).info.experiment_id

    def runs():
        return len(client.search_runs([exp], "tags.kind = 'monitor'"))

    rec = Receiver()
    try:
        def check(data, *sets):
            got, n = len(rec.got), runs()
            res = _run(env, "--model", f"models:/{NAME}@champion", "--since", "2024-05-15",
                       "--out", tmp_path / "mon", "--notify", rec.url, "--set",
                       "monitor.min_auc=0.99", "--set", "monitor.min_labels=5",
                       *[x for s in sets for x in ("--set", s)], "--data", data)
            assert res.exit_code == 3, res.output  # breached on every run: cron can act
            return res, [m["message"] for m in rec.got[got:]], runs() - n

        # a run by hand without --notify sends nothing, so it marks nothing as sent: the
        # hourly run of the same bar (with its target) sends the alert
        quiet = _run(env, "--model", f"models:/{NAME}@champion", "--since", "2024-05-15",
                     "--out", tmp_path / "mon", "--set", "monitor.min_auc=0.99", "--set",
                     "monitor.min_labels=5", "--data", earlier)
        assert quiet.exit_code == 3 and rec.got == []
        assert json.loads((tmp_path / "mon" / "monitor.json").read_text())["notified"] == {}
        res, sent, new_runs = check(earlier)
        assert len(sent) == 1 and "roc_auc" in sent[0] and new_runs == 1
        page = (tmp_path / "mon" / "monitor.html").read_bytes()
        res, sent, new_runs = check(earlier)  # the same bar again
        assert sent == [] and new_runs == 0 and "no new bar since the last check" in res.output
        assert (tmp_path / "mon" / "monitor.html").read_bytes() == page
        # the next bar: the same breach is held (sent an hour ago), a new check's is sent
        res, sent, new_runs = check(env["root"] / "data", "monitor.max_ece=0.001")
        assert len(sent) == 1 and "ece" in sent[0] and "roc_auc" not in sent[0], sent
        assert new_runs == 1 and "alert(s) already sent" in " ".join(res.output.split()), res.output
        saved = json.loads((tmp_path / "mon" / "monitor.json").read_text())["notified"]
        # (the probability's drift alert of the first bar is held too)
        assert saved["roc_auc"] == str(panel.times[-2]) and saved["ece"] == str(panel.times[-1])
        # the same bar with other thresholds is checked again: the page shows the new ones
        res, sent, new_runs = check(env["root"] / "data", "monitor.max_ece=0.001",
                                    "monitor.max_psi=0.9")
        assert new_runs == 1 and "no new bar" not in res.output and sent == []
    finally:
        rec.close()


def test_what_is_sent_again_follows_repeat_alert_hours():
    from revertible.monitor._command import _to_send

    t = pd.Timestamp("2024-08-17 10:00", tz="UTC")
    state = {"alerts": ["a text", "b text"], "alert_kinds": ["a", "b"]}
    before = {"notified": {"a": str(t - pd.Timedelta(hours=23)),
                           "c": str(t - pd.Timedelta(hours=1))}}  # c cleared: forgotten
    # a is held with its time; b is to be sent (recorded by the caller once delivered)
    assert _to_send(state, before, t, 24) == ([1], {"a": before["notified"]["a"]})
    assert _to_send(state, before, t + pd.Timedelta(hours=1), 24)[0] == [0, 1]
    assert _to_send(state, before, t, None)[0] == [0, 1]  # every run
    assert _to_send(state, None, t, 24)[0] == [0, 1]  # no memory (no --out)


def _strict_json(text):
    def refuse(c):
        raise ValueError(f"{c} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_ledger_without_closed_trades_writes_strict_json(env, tmp_path):
    # a gate that takes nothing (as on the shared data): no closed trade, so no realised mean
    # or interval; monitor.json had NaN there (json.dumps' default), which strict parsers
    # refuse, where --json has null
    path = tmp_path / "paper.sqlite"
    none = ("--set", "sizing.min_edge=1")
    paper = CliRunner().invoke(app, ["paper", "configs/demo.yaml", *none, *[
        x for s in _sets(env["root"]) for x in ("--set", s)], "--data", str(env["root"] / "data"),
        "--model", f"models:/{NAME}@champion", "--ledger", str(path), "--since", "2024-05-15"])
    assert paper.exit_code == 0, paper.output
    res = _run(env, *none, "--model", f"models:/{NAME}@champion", "--since", "2024-05-15",
               "--ledger", path, "--out", tmp_path / "mon", "--json")
    assert res.exit_code in (0, 3), res.output
    payload = _strict_json(res.output.strip().splitlines()[-1])
    saved = _strict_json((tmp_path / "mon" / "monitor.json").read_text())
    assert saved["ledger"]["trades_closed"] == payload["ledger"]["trades_closed"] == 0
    assert saved["ledger"]["realised_net_bp"] is None
    assert saved["ledger"] == payload["ledger"]


def test_a_short_record_names_the_level_its_checks_apply(env):
    # 3 labels, 8 divergences: the CUSUM needs 20 labels, the PSI 100 divergences and, over
    # few, more than its noise level. On the shared perpetuals since 2024-09-06 the line said
    # "probability PSI 0.398 (alert at 0.25); 0 alert(s)": a figure above its level, no alert
    res = _run(env, "--model", f"models:/{NAME}@champion", "--since", "2024-06-07")
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "(no alert under 20 labels), probability PSI" in flat, flat
    assert "(no alert under 100 divergences); 0 alert(s)" in flat, flat
    res = _run(env, "--model", f"models:/{NAME}@champion", "--since", "2024-06-01",
               "--set", "monitor.min_rows=10", "--json")
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    m = json.loads(res.output.strip().splitlines()[-1])["metrics"]
    at = re.search(r"\(alert above ([0-9.]+), the noise level of (\d+) divergences\); 0 alert",
                   flat)
    assert at and float(at.group(1)) > max(0.25, m["psi.probability"]), flat
    assert int(at.group(2)) == m["n_scored"] >= 10


def test_undefined_figures_say_why_not_nan(env, tmp_path):
    # the market's last hours: divergences scored, none resolved; on the shared perpetuals
    # since 2024-09-06 12:00 (4 labels, none reverted) the line printed "AUC nan"
    res = _run(env, "--model", f"models:/{NAME}@champion", "--since", "2024-06-08 20:00",
               "--json", "--out", tmp_path / "mon")
    assert res.exit_code == 0, res.output
    *lines, last = res.output.strip().splitlines()
    m = json.loads(last)["metrics"]
    flat = " ".join(" ".join(lines).split())
    assert m["n_resolved"] == 0 and m["n_scored"] > 0, flat
    assert "live base rate n/a (reference" in flat and "AUC n/a (no label), Brier skill n/a " \
        "(no label), ECE n/a (no label)," in flat, flat
    assert "nan" not in flat.lower(), flat
    page = (tmp_path / "mon" / "monitor.html").read_text()  # the page's numbers table too
    assert "NaN" not in page and "<td>n/a</td>" in page


def test_a_record_over_the_model_s_training_data_is_refused(env, tmp_path):
    # the tests here checked a record from 2024-04-01, inside the training period (its labels
    # in sample); the default start is the end of the training data
    # the boundary is where the labels the model saw stop (its holdout start), not its last
    # fitted entry (the divergences between were purged: their labels straddle it)
    first = pd.Timestamp(env["run"]["model"].meta["holdout_start"])
    trained = pd.Timestamp(env["run"]["model"].meta["trained_until"])
    assert trained < first
    for since in ("2024-04-01", f"{trained + pd.Timedelta(hours=1):%Y-%m-%d %H:%M}"):
        res = _run(env, "--model", f"models:/{NAME}@champion", "--since", since,
                   "--out", tmp_path / "mon")
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        line = " ".join(res.output.strip().splitlines()[-1].split())
        assert line.startswith(f"error: --since {pd.Timestamp(since):%Y-%m-%d %H:%M}: the model "
                               f"saw labels (and the prices in them) up to "
                               f"{first:%Y-%m-%d %H:%M} UTC"), line
        assert not (tmp_path / "mon").exists()
    # the default record starts at the holdout start (it started one bar after the last
    # training divergence, inside the purged gap)
    res = _run(env, "--model", f"models:/{NAME}@champion")
    assert res.exit_code in (0, 3), res.output
    assert f"resolved since {first}" in res.output, res.output


def test_since_after_the_last_bar_is_one_line(env):
    res = _run(env, "--model", f"models:/{NAME}@champion", "--since", "2030-01-01")
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "is after the last bar" in lines[0]


def test_since_after_the_last_bar_is_refused_before_the_model_loads(env, tmp_path,
                                                                     monkeypatch):
    """The model's load (and its warnings) comes after the --since check, not before it."""
    import revertible.tracking

    def no_load(*_a, **_k):
        raise AssertionError("the model was loaded before --since was checked")

    monkeypatch.setattr(revertible.tracking, "load_model", no_load)
    res = _run(env, "--model", f"models:/{NAME}@champion", "--since", "2030-01-01", "--out",
               tmp_path / "mon")
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "--since 2030-01-01 00:00 is after the last bar" in lines[0]
    assert not list(tmp_path.iterdir())


def test_unknown_model_is_one_line(env):
    res = _run(env, "--model", f"models:/{NAME}/99")
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1


# ------------------------------------------------------------ --ledger: the paper ledger's P&L

# a gate that trades on this market (as in tests/workflows/test_paper_live.py): settings that
# decide trades, so the ledger and the monitor run with them both
TRADES = ["costs.venue=perp", "costs.fill=maker", "decision.confidence=0.6"]


def _trading(env, command, *args, sets=()):
    opts = [x for s in [*_sets(env["root"]), *TRADES, *sets] for x in ("--set", s)]
    return CliRunner().invoke(app, [command, "configs/demo.yaml", *opts, "--data",
                                    str(env["root"] / "data"), *map(str, args)])


@pytest.fixture(scope="module")
def ledger(env, tmp_path_factory):
    """A ledger `revertible paper` started 24 days before the market's end, run once."""
    path = tmp_path_factory.mktemp("ledger") / "paper.sqlite"
    res = _trading(env, "paper", "--model", f"models:/{NAME}@champion", "--ledger", path,
                   "--since", "2024-05-15")
    assert res.exit_code == 0, res.output
    return path


def _monitor_runs(env) -> int:
    client = mlflow.MlflowClient(env["cfg"].tracking.uri)
    exps = [e.experiment_id for e in client.search_experiments()]
    return len(client.search_runs(exps, filter_string="tags.kind = 'monitor'"))


def test_monitor_with_a_ledger_reports_its_pnl(env, ledger, tmp_path):
    import numpy as np

    from revertible.workflows import read_ledger

    before = ledger.read_bytes()
    res = _trading(env, "monitor", "--model", f"models:/{NAME}@champion", "--since",
                   "2024-05-15", "--ledger", ledger, "--out", tmp_path / "mon", "--json")
    assert res.exit_code in (0, 3), res.output
    assert ledger.read_bytes() == before  # read only
    book = read_ledger(ledger).trades
    closed, opened = book[book["status"] == "closed"], book[book["status"] == "open"]
    assert len(closed) >= 10, "the ledger must have closed trades to report"
    payload = json.loads(res.output.strip().splitlines()[-1])
    lg, m = payload["ledger"], payload["metrics"]
    assert lg["trades_closed"] == len(closed) == m["ledger.trades_closed"]
    assert lg["open_positions"] == len(opened) == len(lg["open"])
    assert lg["realised_net_bp"] == pytest.approx(closed["net_bp"].mean(), rel=1e-12)
    assert lg["realised_net_bp_ci_low"] < lg["realised_net_bp"] < lg["realised_net_bp_ci_high"]
    assert lg["realised_pnl"] == pytest.approx(closed["pnl"].sum(), rel=1e-12)
    assert lg["open_pnl"] == pytest.approx(opened["pnl"].sum(), rel=1e-12, abs=1e-12)
    assert np.isfinite(m["ledger.equity"]) and lg["start"].startswith("2024-05-15")
    assert f"{len(closed)} trades closed" in res.output
    page = (tmp_path / "mon" / "monitor.html").read_text()
    assert "Paper ledger" in page and page.count("data:image/png;base64,") == 3  # + over time
    assert "Open positions" in page
    saved = json.loads((tmp_path / "mon" / "monitor.json").read_text())
    assert saved["ledger"]["trades_closed"] == len(closed)
    client = mlflow.MlflowClient(env["cfg"].tracking.uri)
    run = client.get_run(payload["run_id"])
    assert run.data.metrics["ledger.trades_closed"] == len(closed)
    assert run.data.metrics["ledger.realised_net_bp"] == pytest.approx(lg["realised_net_bp"])
    arts = [a.path for a in client.list_artifacts(payload["run_id"], "monitor")]
    assert "monitor/ledger.json" in arts


def _refused(env, ledger, tmp_path, *args, sets=(), needles=()):
    from conftest import one_line_error

    before, runs = ledger.read_bytes(), _monitor_runs(env)
    res = _trading(env, "monitor", *args, "--since", "2024-05-15", "--ledger", ledger,
                   "--out", tmp_path / "mon", sets=sets)
    one_line_error(res, *needles)
    assert ledger.read_bytes() == before
    assert not (tmp_path / "mon").exists() and _monitor_runs(env) == runs  # nothing written


def test_a_ledger_of_another_config_is_refused(env, ledger, tmp_path):
    _refused(env, ledger, tmp_path, "--model", f"models:/{NAME}@champion",
             sets=["decision.confidence=0.7"],
             needles=["--ledger", "another config", "decision.confidence was 0.6, now 0.7"])


def test_a_ledger_of_another_model_is_refused(env, ledger, tmp_path):
    cfg = load_config("configs/demo.yaml", [*_sets(env["root"]), "model.n_estimators=5"],
                      data=str(env["root"] / "data"))
    other = train(cfg, panel=load_panel(cfg.data), promote=False)
    _refused(env, ledger, tmp_path, "--model", other["model_uri"],
             needles=["was written for model", f"models:/{NAME}/1"])


def test_a_missing_ledger_is_one_line(env, tmp_path):
    from conftest import one_line_error

    res = _trading(env, "monitor", "--model", f"models:/{NAME}@champion", "--ledger",
                   tmp_path / "none.sqlite", "--out", tmp_path / "mon")
    one_line_error(res, "no such ledger", "revertible paper")
    assert not (tmp_path / "mon").exists() and not (tmp_path / "none.sqlite").exists()


def test_the_long_steps_report_progress_by_name(env):
    # on spot the monitor sat 9 s in "working (starting)": no step named itself
    import contextlib

    from revertible.monitor import monitor_command

    seen: dict[str, int] = {}

    @contextlib.contextmanager
    def progress(description):
        seen[description] = 0

        def update(done, total):
            seen[description] = max(seen[description], done)
        yield update

    monitor_command(env["cfg"], f"models:/{NAME}@champion", since="2024-05-15",
                    log=lambda _line: None, progress=progress)
    assert list(seen) == ["episodes (pairs)", "features of the live record (pairs)"]
    assert all(v > 0 for v in seen.values()), seen
