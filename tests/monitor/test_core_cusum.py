"""The sequential calibration test (Bernoulli likelihood-ratio CUSUM): known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from revertible.config import MonitorConfig
from revertible.monitor import (
    Reference,
    calibration_cusum,
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


def test_false_alarms_and_detection_on_drawn_labels():
    """A month of labels (215, as the generated markets resolve): calibrated vs broken."""
    mcfg = MonitorConfig()
    r, h = mcfg.cusum_odds_ratio, mcfg.cusum_threshold
    rng = np.random.default_rng(5)
    alarms, delay = 0, []
    for _ in range(2000):
        p = rng.uniform(0.6, 0.8, 215)
        alarms += calibration_cusum((rng.random(215) < p).astype(float), p, r).max() >= h
        hit = np.nonzero(calibration_cusum((rng.random(215) < 0.4).astype(float), p, r) >= h)[0]
        delay.append(hit[0] + 1 if len(hit) else np.inf)
    assert alarms / 2000 < 0.04  # 2.5% expected (binomial labels, no label overlap)
    assert np.percentile(delay, 90) <= 56  # reversion 70% -> 40%: about a week of labels


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
    assert state["levels"]["cusum"] == "alert at 6.5"  # 40 labels, at least 20
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


def test_evaluate_says_what_its_window_can_see():
    from revertible.monitor._report import power_note

    ref = Reference(base_rate=0.75, median_probability=0.75, n=1000,
                    sketch={"columns": {}, "bins": 10, "n": 1000}, source="test")
    rec = _record([1, 1, 1, 0] * 10, np.full(40, 0.75))  # 40 labels 3 h apart: all in 7 days
    state = evaluate(rec, ref, MonitorConfig(), rec["resolved_at"].iloc[-1])
    assert state["window"]["all"]["n"] == 40
    assert state["detectable_drop"] == pytest.approx(detectable_drop(40, 0.75, 1.0, 3.5))
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
