"""The sequential calibration test (Bernoulli likelihood-ratio CUSUM): known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.config import MonitorConfig
from revertible.monitor import (
    FALLBACK_LIMIT,
    Reference,
    calibration_cusum,
    cusum_limit,
    detectable_drop,
    evaluate,
    weekly_calibration,
)


def test_weights_and_the_page_recursion_known_answer():
    # odds ratio 1/3 at p = 0.75: a miss weighs -ln(1 - 0.75 * 2/3) = ln 2, a reversion
    # ln(1/3) + ln 2 = ln(2/3); the path never goes below 0
    p = np.full(7, 0.75)
    y = np.array([0, 0, 1, 1, 1, 1, 0], dtype=float)
    got = calibration_cusum(y, p, 1 / 3)
    ln2, ln23 = np.log(2), np.log(2 / 3)
    want = [ln2, 2 * ln2, 2 * ln2 + ln23, 2 * ln2 + 2 * ln23, 2 * ln2 + 3 * ln23, 0.0, ln2]
    assert np.allclose(got, want)
    assert len(calibration_cusum(np.array([]), np.array([]), 0.5)) == 0


def test_vectorised_path_equals_the_loop(rng):
    p = rng.uniform(0.05, 0.95, 500)
    y = (rng.random(500) < p * 0.8).astype(float)
    s, loop = 0.0, []
    for yi, pi in zip(y, p, strict=True):
        s = max(0.0, s + yi * np.log(0.4) - np.log(1 - pi * 0.6))
        loop.append(s)
    assert np.allclose(calibration_cusum(y, p, 0.4), loop)


def _flow_reference(labels_a_month: float, design_effect: float = 1.0,
                    n: int = 1000) -> Reference:
    """A reference of ``n`` labels, probabilities uniform on 0.6-0.8, resolving this many."""
    edges = list(np.linspace(0.6, 0.8, 11)[1:-1])
    sketch = {"columns": {"probability": {"edges": edges, "shares": [0.1] * 10,
                                          "missing": 0.0}}, "bins": 10, "n": 1000}
    return Reference(base_rate=0.7, median_probability=0.7, n=n, sketch=sketch,
                     source="test", design_effect=design_effect,
                     design={"labels": labels_a_month, "blocks": 30, "rho": 0.0,
                             "design_effect": design_effect})


def _false_alarms(n: int, h: float, r: float, seed: int, months: int = 2000,
                  error: float = 0.0) -> float:
    """Share of months of ``n`` labels whose CUSUM reaches ``h``: the model holds, off by a
    log-odds error of standard deviation ``error`` each month (0: exactly calibrated)."""
    rng = np.random.default_rng(seed)
    alarms = 0
    for _ in range(months):
        p = rng.uniform(0.6, 0.8, n)
        odds = p / (1 - p) * np.exp(rng.normal(0.0, error)) if error else p / (1 - p)
        y = (rng.random(n) < odds / (1 + odds)).astype(float)
        alarms += calibration_cusum(y, p, r).max() >= h
    return alarms / months


def test_false_alarms_and_detection_on_drawn_labels():
    """A month of labels (215, as the generated markets of 16 pairs resolve): calibrated vs broken.

    The default level is drawn for the reference's flow (``cusum_threshold: auto``): at 215
    labels a month it is the 6.5 chosen before the level was drawn.
    """
    mcfg = MonitorConfig()
    h, how = cusum_limit(_flow_reference(215), mcfg)
    assert how["how"] == "auto" and how["labels_per_period"] == 215.0
    assert 6.2 < h < 6.8
    r = mcfg.cusum_odds_ratio
    assert _false_alarms(215, h, r, seed=5) < 0.04  # 2.5% expected
    rng = np.random.default_rng(5)
    delay = []
    for _ in range(2000):
        p = rng.uniform(0.6, 0.8, 215)
        hit = np.nonzero(calibration_cusum((rng.random(215) < 0.4).astype(float), p, r) >= h)[0]
        delay.append(hit[0] + 1 if len(hit) else np.inf)
    assert np.percentile(delay, 90) <= 56  # reversion 70% -> 40%: about a week of labels


def test_the_drawn_level_keeps_false_alarms_at_any_label_flow():
    """A fixed level alarms more often the more labels a month resolve; the drawn one does not."""
    mcfg = MonitorConfig()
    r = mcfg.cusum_odds_ratio
    h, how = cusum_limit(_flow_reference(1000), mcfg)
    assert h > 7 and how["labels_per_period"] == 1000
    fixed = _false_alarms(1000, 6.5, r, seed=6)
    drawn = _false_alarms(1000, h, r, seed=6)
    assert fixed > 0.05 and drawn < 0.04, (fixed, drawn)
    # dependent labels count 1/D each in the CUSUM: 1,000 labels at D 4.65 draw 215's level
    # (with as many effective reference labels)
    assert cusum_limit(_flow_reference(1000, 1000 / 215, n=4651), mcfg)[0] == \
        cusum_limit(_flow_reference(215), mcfg)[0]
    # a number is used as it is, null is off, and a reference without its flow falls back
    assert cusum_limit(_flow_reference(1000), MonitorConfig(cusum_threshold=5))[0] == 5
    assert cusum_limit(_flow_reference(1000), MonitorConfig(cusum_threshold=None))[0] is None
    bare = Reference(base_rate=0.7, median_probability=0.7, n=10, sketch={}, source="test")
    assert cusum_limit(bare, mcfg) == (FALLBACK_LIMIT, {"how": "fallback",
                                                         "labels_per_period": pytest.approx(
                                                             float("nan"), nan_ok=True)})
    # a rarer alarm asks for more evidence
    assert cusum_limit(_flow_reference(1000), MonitorConfig(cusum_false_alarms=0.01))[0] > h


def test_the_level_allows_for_the_models_own_calibration_error():
    """A model calibrated on N labels is off by about 1/sqrt(N p(1-p)) in log-odds; a month of
    about as many live labels sees that as miscalibration. The level is drawn with it."""
    mcfg = MonitorConfig()
    r = mcfg.cusum_odds_ratio
    few = cusum_limit(_flow_reference(550, n=275), mcfg)  # a month: twice the reference
    many = cusum_limit(_flow_reference(550, n=10**7), mcfg)  # no error to speak of
    err = few[1]["calibration_error"]
    assert err == pytest.approx(1 / np.sqrt(275 * 0.2095), rel=0.02)
    assert many[1]["calibration_error"] < 0.002 and few[0] > many[0]
    # months of models off by that much: the exact-calibration level alarms too often, the
    # drawn one as asked (2.5%)
    assert _false_alarms(550, many[0], r, seed=7, error=err) > 0.045
    assert _false_alarms(550, few[0], r, seed=7, error=err) < 0.035


def _record(y, p, start="2024-01-01"):
    t = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.arange(len(y)) * 3, unit="h")
    return pd.DataFrame({"entry_time": t - pd.Timedelta(hours=10), "resolved_at": t,
                         "label": np.asarray(y, dtype=float), "probability": p})


def test_evaluate_alerts_on_the_cusum_alone_and_names_the_run():
    ref = Reference(base_rate=0.75, median_probability=0.75, n=1000,
                    sketch={"columns": {}, "bins": 10, "n": 1000}, source="test")
    mcfg = MonitorConfig(calibration_z=None, max_psi=None, cusum_odds_ratio=1 / 3,
                         cusum_threshold=5.5)
    y = [1, 1, 1, 0] * 10 + [0] * 8  # calibrated at 0.75 for 40 labels, then 8 misses
    rec = _record(y, np.full(len(y), 0.75))
    state = evaluate(rec, ref, mcfg, rec["resolved_at"].iloc[-1])
    # 1, 1, 1, 0 at p = 0.75 takes the CUSUM back to 0 and then to ln 2; 8 more misses
    assert state["cusum"]["value"] == pytest.approx(9 * np.log(2))
    assert len(state["alerts"]) == 1 and state["alerts"][0].startswith(
        "calibration: sequential test")
    # the run that raised it started at the block's last miss: 9 labels, none reverted
    assert state["cusum"]["realised"] == 0 and state["cusum"]["n"] == 9
    assert state["cusum"]["since"] == rec["resolved_at"].iloc[39]
    assert "9 labels resolved since" in state["alerts"][0]
    early = evaluate(rec, ref, mcfg, rec["resolved_at"].iloc[-3])  # 7 ln 2 = 4.9 < 5.5
    assert not early["alerts"] and 0 < early["cusum"]["value"] < mcfg.cusum_threshold
    off = evaluate(rec, ref, MonitorConfig(calibration_z=None, max_psi=None,
                                           cusum_threshold=None), rec["resolved_at"].iloc[-1])
    assert not off["alerts"] and np.isnan(off["cusum"]["value"])
    default = evaluate(rec, ref, MonitorConfig(calibration_z=None, max_psi=None),
                       rec["resolved_at"].iloc[-1])  # 9 misses: about 6.3, below 6.5
    assert not default["alerts"] and 0 < default["cusum"]["value"] < 6.5


def test_evaluate_states_where_each_check_alerts():
    # the CLI printed levels it worked out again from the config (cli/_live.py): now evaluate
    # says them, by the rules it applies
    ref = Reference(base_rate=0.75, median_probability=0.75, n=1000,
                    sketch={"columns": {}, "bins": 10, "n": 1000}, source="test")
    y = [1, 1, 1, 0] * 10
    rec = _record(y, np.full(len(y), 0.75))
    at = rec["resolved_at"].iloc[-1]
    state = evaluate(rec, ref, MonitorConfig(), at)
    # 40 labels, at least 20; a reference without its label flow falls back to 6.5, and says so
    assert state["levels"]["cusum"] == ("alert at 6.5, the fallback: the reference has no "
                                        "label flow")
    assert state["levels"]["psi"] == "no alert under 100 divergences"
    few = evaluate(rec, ref, MonitorConfig(), rec["resolved_at"].iloc[9])
    assert few["levels"]["cusum"] == "no alert under 20 labels"
    off = evaluate(rec, ref, MonitorConfig(cusum_threshold=None, max_psi=None), at)
    assert off["levels"] == {"cusum": "off", "psi": "off"}
    noisy = evaluate(rec, ref, MonitorConfig(min_rows=10), at)  # 40 rows: noise above 0.25
    assert noisy["levels"]["psi"].startswith("alert above ") and \
        noisy["levels"]["psi"].endswith("the noise level of 40 divergences")


def test_the_state_keeps_the_cusum_path_the_page_draws():
    ref = Reference(base_rate=0.75, median_probability=0.75, n=1000,
                    sketch={"columns": {}, "bins": 10, "n": 1000}, source="test")
    mcfg = MonitorConfig(calibration_z=None, max_psi=None, cusum_odds_ratio=1 / 3,
                         cusum_threshold=5.5)
    y = [1, 1, 1, 0] * 10 + [0] * 8
    rec = _record(y, np.full(len(y), 0.75))
    at = rec["resolved_at"].iloc[-3]  # point in time: the last two labels are not known yet
    hist = evaluate(rec, ref, mcfg, at)["history"]
    assert hist["cusum_threshold"] == 5.5
    assert list(hist["cusum"].index) == list(rec["resolved_at"].iloc[:-2])
    assert np.allclose(hist["cusum"], calibration_cusum(np.array(y[:-2], dtype=float),
                                                        np.full(len(y) - 2, 0.75), 1 / 3))


def test_weekly_calibration_known_answer():
    # Monday 2024-01-01: 3 labels on Tuesday, 1 on Sunday; the next week 2 on Monday
    t = pd.to_datetime(["2024-01-02 01:00", "2024-01-02 05:00", "2024-01-02 23:00",
                        "2024-01-07 23:59", "2024-01-08 00:00", "2024-01-08 10:00"], utc=True)
    done = pd.DataFrame({"resolved_at": t, "label": [1.0, 0, 1, 1, 0, 0],
                         "probability": [0.5, 0.5, 0.8, 0.2, 0.5, 0.9]})
    w = weekly_calibration(done)
    assert list(w["week"]) == list(pd.to_datetime(["2024-01-01", "2024-01-08"], utc=True))
    assert list(w["n"]) == [4, 2]
    assert w["realised"].tolist() == pytest.approx([0.75, 0.0])
    assert w["predicted"].tolist() == pytest.approx([0.5, 0.7])
    v1, v2 = 0.25 + 0.25 + 0.16 + 0.16, 0.25 + 0.09
    assert w["band"].tolist() == pytest.approx([2 * np.sqrt(v1) / 4, 2 * np.sqrt(v2) / 2])
    assert w["z"].tolist() == pytest.approx([1.0 / np.sqrt(v1), -1.4 / np.sqrt(v2)])
    # dependent labels: Tuesday's 3 labels have design effect 1 + 0.5 * 2 = 2, Sunday's 1
    dep = weekly_calibration(done, rho=0.5)
    v1d = 2 * (0.25 + 0.25 + 0.16) + 0.16
    v2d = 1.5 * (0.25 + 0.09)  # both on Monday the 8th: 1 + 0.5 * 1
    assert dep["band"].tolist() == pytest.approx([2 * np.sqrt(v1d) / 4, 2 * np.sqrt(v2d) / 2])
    # the model's own calibration error e (log-odds) adds (sum p(1-p) e)^2 to a week's variance
    off = weekly_calibration(done, error=0.5)
    assert off["band"].tolist() == pytest.approx([2 * np.sqrt(v1 + (v1 * 0.5) ** 2) / 4,
                                                 2 * np.sqrt(v2 + (v2 * 0.5) ** 2) / 2])
    assert weekly_calibration(done.iloc[:0]).empty


def test_the_detectable_drop_is_caught_four_times_in_five():
    from scipy.stats import norm

    n, p, z = 200, 0.7, 3.5
    drop = detectable_drop(n, p, 1.0, z)
    assert drop == pytest.approx((z + norm.ppf(0.8)) * np.sqrt(p * (1 - p) / n))
    rng = np.random.default_rng(11)
    y = rng.random((4000, n)) < p - drop  # windows whose rate fell by the detectable drop
    zs = (y.sum(axis=1) - n * p) / np.sqrt(n * p * (1 - p))
    assert 0.75 < np.mean(zs <= -z) < 0.86  # about 4 in 5 (normal approximation)
    # dependent labels need a larger drop; no labels or the check off: undefined
    assert detectable_drop(n, p, 4.0, z) == pytest.approx(2 * drop)
    assert np.isnan(detectable_drop(0, p, 1.0, z)) and np.isnan(detectable_drop(n, p, 1.0, None))
    # the model's calibration error adds (p(1-p) e)^2 to the rate's variance
    assert detectable_drop(n, p, 1.0, z, error=0.1) == pytest.approx(
        (z + 0.8416) * np.sqrt(p * (1 - p) / n + (p * (1 - p) * 0.1) ** 2), rel=1e-4)


def test_evaluate_says_what_its_window_can_see():
    from revertible.monitor._report import power_note

    ref = Reference(base_rate=0.75, median_probability=0.75, n=1000,
                    sketch={"columns": {}, "bins": 10, "n": 1000}, source="test")
    rec = _record([1, 1, 1, 0] * 10, np.full(40, 0.75))  # 40 labels 3 h apart: all in 7 days
    state = evaluate(rec, ref, MonitorConfig(), rec["resolved_at"].iloc[-1])
    assert state["window"]["all"]["n"] == 40
    # the model's own calibration error (1,000 reference labels at 0.75: 0.073 in log-odds)
    # widens what a window must see
    err = 1 / np.sqrt(1000 * 0.75 * 0.25)
    assert state["calibration_error"] == pytest.approx(err, rel=1e-3)
    assert state["detectable_drop"] == pytest.approx(
        detectable_drop(40, 0.75, 1.0, 3.5, error=err), rel=1e-3)
    assert state["detectable_drop"] > detectable_drop(40, 0.75, 1.0, 3.5)
    note = power_note(state)
    assert note.startswith("The last 7 days resolved 40 labels: the window check catches a drop "
                           "of the reversion rate from 75% to 45% (30 points)"), note
    assert power_note({**state, "calibration_z": None}) == ""  # the window check off
    # under min_labels the window check cannot alert at all; 5 labels at 0.6 said "catches a
    # drop from 60% to 0% (95 points)"
    few = evaluate(rec.iloc[:5], ref, MonitorConfig(), rec["resolved_at"].iloc[4])
    assert np.isnan(few["detectable_drop"])
    assert "fewer than the 20 the window check needs" in power_note(few)
    some = evaluate(rec.iloc[:6], ref, MonitorConfig(min_labels=5), rec["resolved_at"].iloc[5])
    assert some["detectable_drop"] > 0.75  # 6 labels at 0.75: even 0 is not caught 4 in 5
    assert "too few for the window check to catch even a fall" in power_note(some)


def test_evaluate_alerts_at_the_drawn_level_and_records_it():
    """Between the old 6.5 and the drawn level (for 1,000 labels a month): no alert; above it, one.

    The level is the reference's (point in time: nothing live moves it) and the state, the
    page's figure and the flat metrics carry it.
    """
    from revertible.monitor import flat_metrics

    ref = _flow_reference(1000, n=10**6)
    mcfg = MonitorConfig(calibration_z=None, max_psi=None, cusum_odds_ratio=1 / 3)
    level, how = cusum_limit(ref, mcfg)
    assert 7.5 < level < 9.5
    y = [1, 1, 1, 0] * 10 + [0] * 14  # calibrated at 0.75, then 14 misses: ln 2 each
    rec = _record(y, np.full(len(y), 0.75))
    k = next(i for i in range(40, len(y)) if (i - 39) * np.log(2) > 6.6)  # past 6.5
    below = evaluate(rec, ref, mcfg, rec["resolved_at"].iloc[k])
    assert 6.5 < below["cusum"]["value"] < level and not below["alerts"]
    last = evaluate(rec, ref, mcfg, rec["resolved_at"].iloc[-1])
    assert last["cusum"]["value"] >= level and len(last["alerts"]) == 1
    assert f"limit {level:.2f}" in last["alerts"][0]
    assert last["cusum"]["limit"] == level and last["history"]["cusum_threshold"] == level
    assert last["levels"]["cusum"] == (f"alert at {level:.2f}, drawn for 1,000 independent "
                                       "labels a month")
    flat = flat_metrics(last)
    assert flat["cusum.limit"] == level and flat["cusum.labels_per_period"] == 1000
    assert flat["cusum.calibration_error"] == pytest.approx(how["calibration_error"])
    off = flat_metrics(evaluate(rec, ref, MonitorConfig(cusum_threshold=None), rec[
        "resolved_at"].iloc[-1]))
    assert np.isnan(off["cusum.limit"])


def test_the_level_beyond_the_drawn_labels_and_degenerate_references():
    from revertible.monitor._sequential import MAX_DRAWN

    mcfg = MonitorConfig()
    at_cap = cusum_limit(_flow_reference(MAX_DRAWN, n=10**7), mcfg)[0]
    # 4 times the labels: ln 4 more (a crossing's chance grows about with the labels; both
    # flows rounded up to a grid 5% apart)
    assert cusum_limit(_flow_reference(4 * MAX_DRAWN, n=10**7), mcfg)[0] == pytest.approx(
        at_cap + np.log(4), abs=0.05)
    for design in ({"labels": 100, "blocks": 0}, {"labels": float("nan"), "blocks": 3}, None,
                   {"blocks": 3}):
        ref = Reference(base_rate=0.7, median_probability=0.7, n=100, sketch={}, source="t",
                        design=design)
        assert cusum_limit(ref, mcfg)[0] == FALLBACK_LIMIT
    nan_d = _flow_reference(215)
    for bad in (Reference(**{**nan_d.__dict__, "design_effect": float("nan")}),
                Reference(**{**nan_d.__dict__, "n": 0})):  # no labels: no calibration error
        assert cusum_limit(bad, mcfg)[1]["how"] == "fallback"
    # probabilities near 0 and 1 stay inside 0.01-0.99 (rounded to 0 or 1 they would add
    # nothing)
    edge = {"columns": {"probability": {"edges": [0.002, 0.5, 0.998],
                                        "shares": [0.25] * 4, "missing": 0.0}}}
    ref = Reference(**{**nan_d.__dict__, "sketch": edge})
    level, how = cusum_limit(ref, mcfg)
    assert how["how"] == "auto" and np.isfinite(level) and level > 0


@pytest.mark.parametrize(("value", "want"), [("7", 7.0), ("7.5", 7.5), ("auto", "auto"),
                                             ("null", None)])
def test_the_level_in_the_config(value, want):
    from revertible.config import load_config

    cfg = load_config("configs/demo.yaml", [f"monitor.cusum_threshold={value}"])
    assert cfg.monitor.cusum_threshold == want


@pytest.mark.parametrize("value", ["-1", "0", "Auto", ".nan", "inf", "true", "high"])
def test_a_bad_level_is_one_clear_error(value):
    from revertible.config import load_config
    from revertible.errors import RevertibleError

    with pytest.raises(RevertibleError) as e:
        load_config("configs/demo.yaml", [f"monitor.cusum_threshold={value}"])
    msg = str(e.value)
    assert msg == (f"--set monitor.cusum_threshold={value}: must be a number above 0, auto "
                   "(drawn for the model's label flow) or null (off); fix the override"), msg


def test_a_live_record_busier_than_the_training_one_is_told():
    """The drawn level holds its share at the training flow; 3 times the labels alarm more."""
    ref = _flow_reference(100, n=10**6)  # drawn for 100 labels a month
    t = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(300), unit="h")
    rec = pd.DataFrame({"entry_time": t - pd.Timedelta(hours=5), "resolved_at": t,
                        "label": np.tile([1.0, 1, 0], 100), "probability": 0.7})
    busy = evaluate(rec, ref, MonitorConfig(), t[-1])["levels"]["cusum"]
    assert busy.endswith("drawn for 100 independent labels a month; the last 30 days resolved "
                         "300: false alarms above the share asked"), busy
    calm = evaluate(rec.iloc[::3], ref, MonitorConfig(), t[-1])["levels"]["cusum"]
    assert calm.endswith("drawn for 100 independent labels a month"), calm
