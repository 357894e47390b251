"""Strategy search on a generated market: blind to the validation period, resumable, shared.

Real Optuna storages and MLflow on temporary SQLite files; the kill and worker tests run
``revertible.tuning.tune_strategy`` in separate processes (helpers in tests/tune_support.py).
"""

from __future__ import annotations

import json
import signal
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from optuna.trial import TrialState
from tune_support import DONE, REPO, finish, load_study, parent_runs, poll, spawn, storage_url

import revertible.backtest as bt_pkg
import revertible.episodes as ep_pkg
import revertible.features as ft_pkg
from revertible.backtest import deflated_sharpe
from revertible.config import load_config
from revertible.errors import ConfigError, RevertibleError
from revertible.synthetic import generate_market
from revertible.tracking import Tracker
from revertible.tuning import (
    check_strategy_space,
    evaluate_strategy,
    prepare_strategy_data,
    search_deflated_sharpe,
    split_validation,
    tune_strategy,
)
from revertible.tuning._strategy import config_with, search_config

CONFIG = str(REPO / "configs" / "demo.yaml")
SEED = 3
BARS = 24 * 160


def _sets(ml: Path, *extra: str) -> list[str]:
    """A small, fast strategy search logging to the MLflow store in folder ``ml``."""
    return [f"tracking.uri=sqlite:///{ml}/mlflow.db",
            f"tracking.artifact_location={(ml / 'artifacts').as_uri()}",
            "model.min_child_samples=20", "cv.n_folds=3", "backtest.min_train_days=60",
            "backtest.bootstrap_samples=100", "tuning.strategy.validation_days=30",
            "tuning.strategy.n_estimators=20", "tuning.strategy.retrain_every_days=30",
            "tuning.strategy.min_trades=5",
            # the search machinery is tested, not the gate: a low bar so the model trades
            "costs.venue=perp", "costs.fill=maker", "decision.confidence=0.55",
            "decision.drift_days=null",
            "decision.min_bin_trades=20", *extra]


def _cfg(ml: Path, *extra: str):
    return load_config(CONFIG, _sets(ml, *extra), data="unused")


@pytest.fixture(scope="module")
def mlflow_dir(tmp_path_factory):
    """One MLflow store for the module, created before worker processes share it."""
    tmp = tmp_path_factory.mktemp("mlflow")
    Tracker(_cfg(tmp).tracking).connect()
    return tmp


@pytest.fixture(scope="module")
def market():
    panel, _ = generate_market(n_assets=8, n_bars=BARS, seed=SEED)
    return panel


@pytest.fixture(scope="module")
def studied(market, mlflow_dir, tmp_path_factory):
    """Three trials and one validation."""
    tmp = tmp_path_factory.mktemp("strategy")
    cfg = _cfg(mlflow_dir)
    res = tune_strategy(cfg, panel=market, trials=3, study="s", storage=storage_url(tmp),
                        validate_best=True)
    return tmp, cfg, res


# ---- config -------------------------------------------------------------------------------------
def test_space_merges_and_is_checked(mlflow_dir):
    cfg = _cfg(mlflow_dir,
               "tuning.strategy.space.label.entry={type: categorical, choices: [2.0, 3.0]}",
               "tuning.strategy.space.sizing.min_edge.high=0.05",
               "tuning.strategy.space.label.exit=null")
    space = cfg.tuning.strategy.space
    assert space["label.entry"].choices == (2.0, 3.0)
    assert space["sizing.min_edge"].high == 0.05 and space["sizing.min_edge"].low == 0.0
    assert "label.exit" not in space and "spread.z_window" in space  # the rest kept
    check_strategy_space(cfg)
    with pytest.raises(ConfigError, match="not a strategy or label setting"):
        check_strategy_space(_cfg(mlflow_dir, "tuning.strategy.space.model.num_leaves="
                                              "{type: int, low: 4, high: 8}"))
    with pytest.raises(ConfigError, match="label.horizon"):
        check_strategy_space(_cfg(mlflow_dir, "tuning.strategy.space.label.horizon="
                                              "{type: int, low: 0, high: 8}"))


def test_split_refuses_too_short_a_search(market, mlflow_dir):
    with pytest.raises(ConfigError, match="validation_days"):
        split_validation(market, _cfg(mlflow_dir, "tuning.strategy.validation_days=120"))


# ---- the validation period never reaches the objective ------------------------------------------
def _perturb_after(panel, start, seed):
    """The panel with every price and volume after ``start`` scaled by random factors."""
    rng = np.random.default_rng(seed)
    late = np.asarray(panel.times >= start)
    f = np.exp(rng.normal(0, 0.05, (int(late.sum()), panel.n_assets)))
    upd = {}
    for name in ("open", "high", "low", "close", "volume", "quote_volume"):
        a = getattr(panel, name).copy()
        a[late] *= f
        upd[name] = np.asfortranarray(a)
    return replace(panel, **upd)


def test_a_best_trial_at_the_floor_is_not_validated(market, mlflow_dir, tmp_path,
                                                    monkeypatch):
    # every trial below min_trades: the "best" is a tie at the floor (-1000, 0 trades); it was
    # validated all the same, spending the held-out period's one look on it
    cfg = _cfg(mlflow_dir, "tuning.strategy.min_trades=1000000")
    seen = []
    real = bt_pkg.run_backtest

    def spy(*a, **k):
        seen.append(k.get("since"))
        return real(*a, **k)

    monkeypatch.setattr(bt_pkg, "run_backtest", spy)
    with pytest.raises(RevertibleError, match=r"no trial made tuning.strategy.min_trades="
                                              r"1000000 trades .* held-out period stays "
                                              r"untouched"):
        tune_strategy(cfg, panel=market, trials=1, study="floor", storage=storage_url(tmp_path),
                      validate_best=True)
    _, vstart = split_validation(market, cfg)
    assert vstart not in seen, "the validation period was backtested"
    assert "revertible.validation" not in load_study(storage_url(tmp_path), "floor").user_attrs


@pytest.mark.slow
def test_validation_period_never_reaches_the_objective(market, mlflow_dir, tmp_path,
                                                       monkeypatch):
    cfg = _cfg(mlflow_dir)
    search, vstart = split_validation(market, cfg)
    assert search.times[-1] < vstart and search.n_bars < market.n_bars
    assert (market.times[-1] - vstart).days == 29  # the last 30 days, from vstart's bar on
    seen: dict[str, list] = {"episodes": [], "features": [], "backtest": []}
    for pkg, fn, kind in ((ep_pkg, "build_episodes", "episodes"),
                          (ft_pkg, "build_features", "features"),
                          (bt_pkg, "run_backtest", "backtest")):
        real = getattr(pkg, fn)

        def spy(*a, _real=real, _kind=kind, **k):
            panel = a[1] if _kind == "backtest" else a[0]  # run_backtest(cfg, panel, ...)
            seen[_kind].append((panel.times[-1], k.get("since")))
            return _real(*a, **k)

        monkeypatch.setattr(pkg, fn, spy)
    a = tune_strategy(cfg, panel=market, trials=3, study="blind", storage=storage_url(tmp_path))
    assert len(seen["backtest"]) == 3 and len(seen["episodes"]) >= 1
    assert all(end < vstart for k in seen for end, _ in seen[k])  # trials: search panel only
    # the validation run is the only one that sees it, once, from vstart on
    seen["backtest"].clear()
    v = tune_strategy(cfg, panel=market, trials=3, study="blind", storage=storage_url(tmp_path),
                      validate_best=True)
    assert v["n_trials_run"] == 0 and seen["backtest"] == [(market.times[-1], vstart)]
    assert v["validation"]["looks"] == 1 and v["validation"]["trial"] == a["best_trial"]
    # asking again reports the stored validation without another look
    seen["backtest"].clear()
    again = tune_strategy(cfg, panel=market, trials=3, study="blind",
                          storage=storage_url(tmp_path), validate_best=True)
    assert seen["backtest"] == [] and again["validation"] == v["validation"]
    # changing every price of the validation period changes nothing a trial sees
    other = _perturb_after(market, vstart, seed=1)
    assert other.fingerprint() != market.fingerprint()
    assert prepare_strategy_data(other, cfg).fingerprint == prepare_strategy_data(
        market, cfg).fingerprint
    b = tune_strategy(cfg, panel=other, trials=3, study="blind2", storage=storage_url(tmp_path))
    ta, tb = (load_study(storage_url(tmp_path), s).get_trials() for s in ("blind", "blind2"))
    assert [(t.params, t.value) for t in ta] == [(t.params, t.value) for t in tb]
    assert a["best_value"] == b["best_value"]


# ---- MLflow: each trial a child run, one validation run, figures reported -----------------------
def test_each_trial_is_a_child_run_and_the_validation_is_reported(studied):
    tmp, cfg, res = studied
    client = MlflowClient(cfg.tracking.uri)
    exp = client.get_experiment_by_name(cfg.tracking.experiment)
    kids = client.search_runs([exp.experiment_id],
                              f"tags.`mlflow.parentRunId` = '{res['run_id']}'")
    trials = [r for r in kids if r.data.tags["tune.role"] == "trial"]
    val = [r for r in kids if r.data.tags["tune.role"] == "validation"]
    study = load_study(storage_url(tmp), "s")
    done = [t for t in study.get_trials() if t.state in DONE]
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in trials) == \
        sorted(t.number for t in done)
    for r in trials:
        t = study.trials[int(r.data.tags["optuna.trial_number"])]
        assert t.user_attrs["mlflow_run_id"] == r.info.run_id
        assert r.data.params["label.entry"] == str(t.params["label.entry"])
        if t.state == TrialState.COMPLETE:
            assert r.data.metrics["objective"] == t.value
            assert r.data.metrics["search.trades"] == t.user_attrs["search"]["trades"]
    assert len(val) == 1 and val[0].data.params["backtest.n_trials"] == "3"
    assert val[0].data.metrics["search.n_trials"] == 3.0  # the backtest's deflation N
    assert val[0].data.metrics["validation.net_bp"] == res["validation"]["net_bp"]
    parent = client.get_run(res["run_id"]).data
    for k in ("search.deflated_sharpe", "best.value", "validation.trades"):
        assert k in parent.metrics, k
    assert parent.tags["validation_start"] == res["validation_start"]
    # the search's deflated Sharpe: the best trial's daily returns, N = completed trials
    best = study.best_trial
    r = np.asarray(best.user_attrs["daily_returns"])
    # trials whose daily returns have no spread (no trade: the gate stayed shut) have no Sharpe
    sr = [np.mean(x) / np.std(x, ddof=1) for x in
          (np.asarray(t.user_attrs["daily_returns"]) for t in done)
          if len(x) > 2 and np.std(x, ddof=1) > 0]
    want = deflated_sharpe(r, 3, float(np.std(sr, ddof=1)) if len(sr) >= 2 else None)
    assert res["metrics"]["search.deflated_sharpe"] == pytest.approx(want, rel=1e-12)
    assert search_deflated_sharpe(study, best)["search.deflated_sharpe"] == \
        pytest.approx(want, rel=1e-12)
    assert 0.0 <= want <= 1.0


def test_invalid_combination_is_pruned(market, mlflow_dir, tmp_path):
    # each value is valid with the config's other settings, the two together are not
    cfg = _cfg(mlflow_dir, "tuning.strategy.space={label.exit: {type: categorical, "
                           "choices: [1.5]}, label.entry: {type: categorical, choices: [1.25]}}")
    res = tune_strategy(cfg, panel=market, trials=1, study="bad", storage=storage_url(tmp_path))
    (t,) = load_study(storage_url(tmp_path), "bad").get_trials()
    assert t.state == TrialState.PRUNED and "exit < entry < stop" in t.user_attrs["invalid"]
    assert res["best_trial"] is None


def test_same_settings_reuse_cached_episodes(market, mlflow_dir, tmp_path):
    cfg = _cfg(mlflow_dir, "tuning.strategy.space={sizing.min_edge: {low: 0.0, high: 0.02}}")
    res = tune_strategy(cfg, panel=market, trials=3, study="cache", storage=storage_url(tmp_path))
    assert res["cache"] == {"hits": 2, "misses": 1}  # only sizing varies: one episode table
    assert res["prediction_cache"] == {"hits": 2, "misses": 1}  # and one set of block models


# ---- processes: kill -9 and resume, two workers -------------------------------------------------
WORKER = textwrap.dedent("""
    import json, sys, time
    import revertible.tuning._strategy_study as S
    from revertible.config import load_config
    from revertible.synthetic import generate_market
    from revertible.tuning import tune_strategy

    _evaluate = S.evaluate_strategy
    def _slow(*args, **kwargs):  # at least a second, so a poller sees a RUNNING trial
        time.sleep(1.0)
        return _evaluate(*args, **kwargs)
    S.evaluate_strategy = _slow

    a = json.loads(sys.argv[1])
    panel, _ = generate_market(n_assets=8, n_bars=a["bars"], seed=a["seed"])
    cfg = load_config(a["config"], a["sets"], data="unused")
    res = tune_strategy(cfg, panel=panel, trials=a["trials"], study=a["study"],
                        storage=a["storage"], heartbeat_interval=1, grace_period=2, poll_s=0.2)
    print(json.dumps({k: res[k] for k in ("run_id", "n_trials_run", "n_trials_done")}))
""")


def _worker(tmp: Path, ml: Path, study: str, trials: int):
    args = {"seed": SEED, "bars": BARS, "config": CONFIG, "sets": _sets(ml), "trials": trials,
            "study": study, "storage": storage_url(tmp)}
    return spawn(tmp, WORKER, args, name="strategy_worker.py")


@pytest.mark.slow
def test_kill_and_resume(tmp_path, mlflow_dir):
    n = 5
    proc = _worker(tmp_path, mlflow_dir, "resume", n)
    try:
        poll(storage_url(tmp_path), "resume",
             lambda ts: sum(t.state in DONE for t in ts) >= 2
             and any(t.state == TrialState.RUNNING for t in ts))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = load_study(storage_url(tmp_path), "resume").get_trials()
    finished = {t.number: (t.state, t.params, t.value) for t in before if t.state in DONE}
    killed = [t for t in before if t.state == TrialState.RUNNING]
    assert 2 <= len(finished) < n and killed
    res = finish(_worker(tmp_path, mlflow_dir, "resume", n))
    after = {t.number: t for t in load_study(storage_url(tmp_path), "resume").get_trials()}
    for num, (state, params, value) in finished.items():  # nothing finished lost or redone
        assert (after[num].state, after[num].params, after[num].value) == (state, params, value)
    assert sum(t.state in DONE for t in after.values()) == n == res["n_trials_done"]
    assert res["n_trials_run"] == n - len(finished)
    assert not any(t.state == TrialState.RUNNING for t in after.values())
    for k in killed:  # failed, retried once
        assert after[k.number].state == TrialState.FAIL
        retries = [t for t in after.values() if t.system_attrs.get("failed_trial") == k.number]
        assert len(retries) == 1 and retries[0].state in DONE
    client = MlflowClient(f"sqlite:///{mlflow_dir}/mlflow.db")
    parents = parent_runs(client, _cfg(mlflow_dir).tracking.experiment, "resume")
    assert {r.info.status for r in parents if r.info.run_id != res["run_id"]} == {"FAILED"}


@pytest.mark.slow
def test_two_workers_share_one_study(tmp_path, mlflow_dir):
    n = 6
    procs = [_worker(tmp_path, mlflow_dir, "shared", n) for _ in range(2)]
    results = [finish(p) for p in procs]
    trials = load_study(storage_url(tmp_path), "shared").get_trials()
    done = [t for t in trials if t.state in DONE]
    assert len(done) == n and sum(r["n_trials_run"] for r in results) == n
    assert all(r["n_trials_run"] >= 1 for r in results)
    assert all(t.user_attrs.get("surplus") and not t.params for t in trials if t not in done)
    client = MlflowClient(f"sqlite:///{mlflow_dir}/mlflow.db")
    exp = client.get_experiment_by_name(_cfg(mlflow_dir).tracking.experiment)
    runs = [r for r in client.search_runs([exp.experiment_id], "tags.`tune.role` = 'trial'")
            if r.data.tags["mlflow.parentRunId"] in {x["run_id"] for x in results}]
    assert sorted(int(r.data.tags["optuna.trial_number"]) for r in runs) == \
        sorted(t.number for t in done)  # one child run per trial, none repeated
    assert {r.data.tags["mlflow.parentRunId"] for r in runs} == {x["run_id"] for x in results}


# ---- the command line ---------------------------------------------------------------------------
def test_cli_strategy_search(market, mlflow_dir, tmp_path):
    from typer.testing import CliRunner

    from revertible.cli import app
    from revertible.synthetic import write_market

    write_market(tmp_path / "data", market, None)
    sets = [x for s in _sets(mlflow_dir, f"tuning.storage={storage_url(tmp_path)}")
            for x in ("--set", s)]
    runner = CliRunner()
    base = ["tune", CONFIG, "--data", str(tmp_path / "data"), "--trials", "2", *sets]
    bad = runner.invoke(app, [*base, "--validate-best"])
    assert bad.exit_code == 2 and "--objective strategy" in bad.output
    bad = runner.invoke(app, [*base, "--objective", "strategy", "--retrain-best"])
    assert bad.exit_code == 2 and "--validate-best" in bad.output
    ok = runner.invoke(app, [*base, "--objective", "strategy", "--validate-best", "--json"])
    assert ok.exit_code == 0, ok.output
    res = json.loads(ok.stdout)
    assert res["study"] == "demo-strategy" and res["n_trials_done"] == 2
    assert res["validation"]["n_trials"] == 2 and "net_bp" in res["search"]
    assert res["metrics"]["validation.trades"] == res["validation"]["trades"]


# ---- low fidelity: trials ranked cheaply, the best re-scored at full fidelity -----------------
def test_low_fidelity_search_reports_only_full_fidelity_figures(market, mlflow_dir, tmp_path):
    cfg = _cfg(mlflow_dir, "tuning.strategy.fidelity=low", "tuning.strategy.rescore_top=2",
               "tuning.strategy.low_n_estimators=5", "tuning.strategy.low_learning_rate=0.3")
    low = search_config(cfg, "low").model
    assert (low.n_estimators, low.learning_rate) == (5, 0.3)
    assert search_config(cfg).model.n_estimators == 20  # full: the search evaluator
    url = storage_url(tmp_path)
    res = tune_strategy(cfg, panel=market, trials=3, study="lo", storage=url)
    study = load_study(url, "lo")
    rescored = study.user_attrs["revertible.rescored"]
    done = [t for t in study.get_trials() if t.state == TrialState.COMPLETE]
    top = sorted(done, key=lambda t: (-t.value, t.number))[:2]
    assert sorted(rescored) == sorted(str(t.number) for t in top)
    # the reported best is the best full-fidelity re-score, with that evaluation's figures
    best_key = max(rescored, key=lambda k: (rescored[k]["value"], -int(k)))
    assert res["best_trial"] == int(best_key)
    assert res["best_value"] == rescored[best_key]["value"]
    assert all(rescored[k]["fidelity"] == "full" for k in rescored)
    assert all(t.user_attrs["search"]["fidelity"] == "low" for t in done)
    data = prepare_strategy_data(market, cfg)
    again = evaluate_strategy(data, config_with(cfg, study.trials[res["best_trial"]].params))
    assert again["value"] == res["best_value"]
    # N of the deflated Sharpe counts every evaluation: 3 trials + 2 re-scores
    assert res["metrics"]["search.n_trials"] == 5.0
    client = MlflowClient(cfg.tracking.uri)
    exp = client.get_experiment_by_name(cfg.tracking.experiment)
    kids = client.search_runs([exp.experiment_id],
                              f"tags.`mlflow.parentRunId` = '{res['run_id']}'")
    assert sorted(r.data.tags["optuna.trial_number"] for r in kids
                  if r.data.tags["tune.role"] == "rescore") == sorted(rescored)
    # resuming with nothing new re-scores nothing
    more = tune_strategy(cfg, panel=market, trials=3, study="lo", storage=url)
    kids = client.search_runs([exp.experiment_id],
                              f"tags.`mlflow.parentRunId` = '{more['run_id']}'")
    assert more["n_trials_run"] == 0 and kids == []
    assert more["best_value"] == res["best_value"]
