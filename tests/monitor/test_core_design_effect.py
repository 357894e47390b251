"""Dependent labels: the design effect of calibration sums, known answers on drawn markets.

Divergences of one market move revert or fail together. On the shared spot data a week's 10,800
labels vary like about 140 independent ones; a monitor that takes them as independent alarmed on
36 of 45 days of a calibrated model's live record (README "Monitor details").
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from revertible.config import MonitorConfig
from revertible.monitor import Reference, design_effect, evaluate, make_reference, scan


def _market(rng, days, per_day, shock, odds=1.0, start="2024-01-01"):
    """Labels whose log-odds share one shock per day (sd ``shock``); ``odds`` shifts them all."""
    n = days * per_day
    hours = np.sort(rng.uniform(0, days * 24, n))
    t = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(hours, unit="h")
    p = rng.uniform(0.3, 0.6, n)
    day_shock = rng.normal(0, shock, days + 1)[(hours // 24).astype(int)]
    y = (rng.random(n) < expit(logit(p) + day_shock + np.log(odds))).astype(float)
    return pd.DataFrame({"entry_time": t - pd.Timedelta(hours=12), "resolved_at": t,
                         "label": y, "probability": p})


def _reference(rec):
    return make_reference(rec["label"], rec[["probability"]], resolved_at=rec["resolved_at"])


def test_repeating_every_label_m_times_multiplies_the_estimate_by_m(rng):
    rec = _market(rng, 60, 40, 0.3)
    once = design_effect(rec["label"], rec["probability"], rec["resolved_at"])
    thrice = design_effect(np.repeat(rec["label"], 3), np.repeat(rec["probability"], 3),
                           np.repeat(rec["resolved_at"], 3))
    assert thrice["estimate"] == pytest.approx(3 * once["estimate"], rel=1e-12)
    assert thrice["blocks"] == once["blocks"] == 60 and thrice["labels"] == 3 * once["labels"]
    assert thrice["design_effect"] == thrice["estimate"] > 1


def test_independent_labels_give_one(rng):
    rec = _market(rng, 90, 40, 0.0)
    d = design_effect(rec["label"], rec["probability"], rec["resolved_at"])
    assert 0.6 < d["estimate"] < 1.4 and d["blocks"] == 90
    # not above 1 beyond chance: the checks take the labels as independent
    assert d["design_effect"] == 1.0
    few = design_effect(rec["label"][:200], rec["probability"][:200], rec["resolved_at"][:200])
    assert few["blocks"] < 10 and few["design_effect"] == 1.0  # too few days to tell


def test_a_shared_daily_shock_gives_its_known_inflation(rng):
    # var of a day's sum: sum p(1-p) + (sum p(1-p) * sd)^2 to first order; 150 labels a day
    # at p in [0.3, 0.6] (mean p(1-p) 0.2325) and sd 0.4: D = 1 + 150 * 0.2325 * 0.16 = 6.6
    ds = [_reference(_market(rng, 120, 150, 0.4)).design_effect for _ in range(8)]
    assert 5.3 < np.mean(ds) < 7.9 and min(ds) > 4


def test_dependent_labels_no_longer_alarm_and_a_break_is_still_caught(rng):
    mcfg = MonitorConfig(max_psi=None)
    fired = {"with D": 0, "as independent": 0}
    for _ in range(10):  # 10 calibrated 30-day windows, checked daily
        ref = _reference(_market(rng, 120, 150, 0.4))
        live = _market(rng, 30, 150, 0.4, start="2024-06-01")
        for name, r in (("with D", ref),
                        ("as independent",
                         dataclasses.replace(ref, design_effect=1.0, rho=0.0))):
            res = scan(live, r, mcfg, live["entry_time"].min(), live["resolved_at"].max(),
                       every="1D")
            fired[name] += bool(res["alerts"].map(len).sum())
    assert fired["with D"] <= 1 and fired["as independent"] >= 8, fired
    brk = pd.Timestamp("2024-06-16", tz="UTC")
    for _ in range(3):  # the odds of reverting fall to a third on June 16
        ref = _reference(_market(rng, 120, 150, 0.4))
        live = pd.concat([_market(rng, 15, 150, 0.4, start="2024-06-01"),
                          _market(rng, 15, 150, 0.4, odds=1 / 3, start="2024-06-16")],
                         ignore_index=True)
        res = scan(live, ref, mcfg, live["entry_time"].min(), live["resolved_at"].max(),
                   every="6h")
        first = res.loc[res["alerts"].map(len) > 0, "at"].iloc[0]
        assert brk <= first <= brk + pd.Timedelta(days=7)


def test_each_label_counts_by_its_days_design_effect():
    # 60 labels an hour apart from midnight: 24 resolve on March 1, 24 on March 2, 12 on March 3
    t = pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(np.arange(60), unit="h")
    y = np.r_[np.zeros(30), np.ones(30) * (np.arange(30) % 3 == 0)]
    rec = pd.DataFrame({"entry_time": t - pd.Timedelta(hours=5), "resolved_at": t,
                        "label": y, "probability": np.full(60, 0.6)})
    ref = Reference(base_rate=0.6, median_probability=0.6, n=1000,
                    sketch={"columns": {}, "bins": 10, "n": 1000}, source="test")
    at, mcfg, rho = t[-1], MonitorConfig(max_psi=None), 0.2
    d = np.r_[np.full(48, 1 + rho * 23), np.full(12, 1 + rho * 11)]  # 5.6 and 3.2
    one = evaluate(rec, ref, mcfg, at)
    dep = evaluate(rec, dataclasses.replace(ref, rho=rho), mcfg, at)
    err = 1 / np.sqrt(1000 * 0.24)  # the model's own calibration error (1,000 labels)
    assert dep["window"]["all"]["z"] == pytest.approx(
        np.sum(y - 0.6) / np.sqrt(np.sum(0.24 * d) + (60 * 0.24 * err) ** 2))
    w, s, path = y * np.log(0.33) - np.log(1 - 0.6 * 0.67), 0.0, []
    for wi, di in zip(w, d, strict=True):
        s = max(0.0, s + wi / di)
        path.append(s)
    assert dep["cusum"]["value"] == pytest.approx(path[-1])
    assert dep["design_effect"] == pytest.approx(d.mean())  # equal p: the plain mean
    assert one["alerts"] and not dep["alerts"]  # z -6.9 -> -3.0, CUSUM 19.8 -> 3.8
    assert "design effect" not in " ".join(one["alerts"])
    two = evaluate(rec, dataclasses.replace(ref, rho=0.02), mcfg, at)  # 1.46 and 1.22
    assert two["alerts"] and all("labels' design effect 1.4" in a for a in two["alerts"])
    # point in time: at noon on March 2 the day has 13 labels so far, each at 1 + rho 12
    noon = evaluate(rec, dataclasses.replace(ref, rho=rho), mcfg, t[36])
    assert noon["design_effect"] == pytest.approx((24 * 5.6 + 13 * 3.4) / 37)


def test_rho_applies_at_the_live_days_count(rng):
    # trained on 150 labels a day, live on 450: a constant D (6.4) let 3 times the labels
    # count as 3 times the evidence and alarmed in about a third of calibrated months
    mcfg = MonitorConfig(max_psi=None)
    fired, applied = 0, []
    for _ in range(6):
        ref = _reference(_market(rng, 120, 150, 0.4))
        live = _market(rng, 30, 450, 0.4, start="2024-06-01")
        res = scan(live, ref, mcfg, live["entry_time"].min(), live["resolved_at"].max(),
                   every="1D")
        fired += bool(res["alerts"].map(len).sum())
        state = evaluate(live, ref, mcfg, live["resolved_at"].max())
        applied.append(state["design_effect"] / (1 + ref.rho * 449))
    assert fired <= 1 and np.allclose(applied, 1, atol=0.02)  # m varies a little by day


def _predating(monkeypatch, rng, **meta):
    """A model without a stored design effect, its record: development labels, then 60 entered
    in the last 10 hours before the holdout and resolved after it (all misses at p = 0.9)."""
    from types import SimpleNamespace

    import revertible.monitor._command as command

    dev = _market(rng, 40, 20, 0.0, start="2024-01-21")  # resolved before 2024-03-01
    entry = pd.Timestamp("2024-02-29 14:00", tz="UTC") + pd.to_timedelta(np.arange(60) % 10,
                                                                         unit="h")
    late = pd.DataFrame({"entry_time": entry, "resolved_at": entry + pd.Timedelta(hours=30),
                         "label": 0.0, "probability": 0.9})
    rec = pd.concat([dev, late], ignore_index=True)
    monkeypatch.setattr(command, "live_record", lambda panel, history, model, cfg, since,
                        until: rec[rec["entry_time"] <= until] if until is not None else rec)
    model = SimpleNamespace(meta={"holdout_start": "2024-03-01 00:00", "base_rate": 0.45,
                                  "median_probability": 0.45, **meta})
    cfg = SimpleNamespace(monitor=MonitorConfig())
    return command.reference_of(model, SimpleNamespace(freq=pd.Timedelta("1h")), rec, cfg), dev


def test_an_older_model_measures_its_design_effect_on_development_labels_only(rng, monkeypatch):
    # the development set is the labels resolved before holdout_start (model.holdout_split);
    # entries before it that resolve later are the live record's first labels, not training's
    sketch = {"columns": {}, "bins": 10, "n": 800}
    ref, dev = _predating(monkeypatch, rng, quantile_sketch=sketch)
    want = design_effect(dev["label"], dev["probability"], dev["resolved_at"])
    assert ref.design == want and ref.design["labels"] == 800
    assert ref.design_effect == 1.0  # independent labels (with the 60 late misses: 8.8)
    assert "(800 labels resolved before 2024-03-01 00:00) on this data, with its own in-sample " \
        "probabilities" in ref.source
    recomputed, _ = _predating(monkeypatch, rng)  # no sketch either: recomputed on the same
    assert recomputed.n == 800 and recomputed.design["labels"] == 800


@pytest.mark.parametrize("stored", [{"design_effect": float("nan")}, {"estimate": 2.0}, 0.5,
                                    {"design_effect": None}, {"design_effect": 0.0},
                                    {"design_effect": 2.0}])  # the first stored no rho
def test_a_stored_design_effect_that_is_no_number_from_1_up_is_measured(rng, monkeypatch,
                                                                        stored):
    # divided by NaN, the window z and the CUSUM were NaN: both checks silently off
    sketch = {"columns": {}, "bins": 10, "n": 800}
    ref, _ = _predating(monkeypatch, rng, quantile_sketch=sketch, design_effect=stored)
    assert ref.design_effect == 1.0 and ref.design["labels"] == 800
    assert "is not usable" in ref.source


def test_the_page_says_how_the_labels_dependence_was_measured(rng):
    from revertible.monitor._report import html_page

    rec = _market(rng, 12, 40, 0.0)
    at, mcfg = rec["resolved_at"].max(), MonitorConfig(max_psi=None)

    def page(ref):
        return html_page(evaluate(rec, ref, mcfg, at), rec, title="t")

    measured = _reference(rec)
    assert measured.design["blocks"] == 12 and measured.design_effect == 1.0
    assert f"estimate {measured.design['estimate']:.2f} over 12 days" in page(measured)
    short = _reference(rec[rec["resolved_at"] < rec["resolved_at"].min() + pd.Timedelta(days=5)])
    assert "resolved on 5 days, too few to measure" in page(short)  # not 'no dependence'
    unmeasured = dataclasses.replace(measured, design=None)
    assert "their dependence was not measured" in page(unmeasured)
    design = {**measured.design, "design_effect": 79.0, "rho": 0.05, "labels_per_day": 1561.0}
    dep = dataclasses.replace(measured, design_effect=79.0, rho=0.05, design=design)
    text = page(dep)  # 40 labels a day live: 1 + 0.05 * 39
    assert "The labels' design effect is 3.0 over the live record" in text
    assert "design effect 79.0 at its 1561 labels a day" in text
    assert "counts each 1/(1 + 0.0500 (m - 1))" in text


def test_the_psi_noise_level_counts_the_divergences_entered_each_day(rng):
    from revertible.monitor import psi_noise

    rec = _market(rng, 6, 100, 0.0)  # entries 12 h before resolution: 50 on the first day
    ref = dataclasses.replace(_reference(rec), rho=0.01)
    at = rec["resolved_at"].max()
    day = rec["entry_time"].dt.floor("1D")
    m = day.map(day.value_counts()).to_numpy()
    state = evaluate(rec, ref, MonitorConfig(), at)
    assert state["psi_noise"] == pytest.approx(psi_noise(ref, len(rec),
                                                         deff=np.mean(1 + 0.01 * (m - 1))))
    assert state["psi_noise"] > 1.9 * psi_noise(dataclasses.replace(ref, rho=0.0), len(rec))


def test_a_half_of_the_window_counts_its_own_labels_a_day():
    # 48 labels over 2 days, p alternating 0.4 / 0.8 (median 0.6): each half holds 12 of a
    # day's 24 labels, so its sum's variance is sum p(1-p) (1 + rho (12 - 1)), not (24 - 1)
    t = pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(np.arange(48), unit="h")
    p = np.tile([0.4, 0.8], 24)
    y = np.tile([0.0, 1.0, 1.0, 0.0], 12)
    rec = pd.DataFrame({"entry_time": t - pd.Timedelta(hours=5), "resolved_at": t,
                        "label": y, "probability": p})
    ref = Reference(base_rate=0.6, median_probability=0.6, n=1000,
                    sketch={"columns": {}, "bins": 10, "n": 1000}, source="test", rho=0.1)
    state = evaluate(rec, ref, MonitorConfig(max_psi=None), t[-1])
    for name, sel in (("low", p < 0.6), ("high", p >= 0.6)):
        v = p[sel] * (1 - p[sel])
        err = 1 / np.sqrt(1000 * 0.24)  # the model's own calibration error (1,000 labels)
        want = np.sum(y[sel] - p[sel]) / np.sqrt(np.sum(v) * (1 + 0.1 * 11)
                                                 + (np.sum(v) * err) ** 2)
        assert state["window"][name]["z"] == pytest.approx(want)
        assert state["window"][name]["design_effect"] == pytest.approx(2.1)
    assert state["window"]["all"]["design_effect"] == pytest.approx(3.3)  # 1 + 0.1 * 23


def test_unequal_days_do_not_fake_dependence():
    # independent labels on 30 days of very unequal size (lognormal, sd 1.2): chi2 over k days
    # called 12.5% of them dependent at the 5% level; over the effective number of days 6.5%
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(200):
        sizes = np.maximum(1, rng.lognormal(np.log(40), 1.2, 30).astype(int))
        day = np.repeat(np.arange(30), sizes)
        t = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(day * 24 + 12, unit="h")
        p = rng.uniform(0.3, 0.6, len(day))
        hits += design_effect((rng.random(len(day)) < p).astype(float), p, t)["rho"] > 0
    assert hits / 200 < 0.09, hits


def test_rho_is_a_correlation_at_most_1():
    # 2 labels a day, both misses at p = 0.9: each day's sum is -1.8 against a variance of 0.18
    t = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        np.repeat(np.arange(20), 2) * 24 + 12, unit="h")
    d = design_effect(np.zeros(40), np.full(40, 0.9), t)
    assert d["estimate"] == pytest.approx(18.0) and d["rho"] == 1.0
