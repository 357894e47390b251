"""Registered versions: description, headline tags, ``--promote`` against the champion."""

from __future__ import annotations


def test_registered_versions_carry_description_and_headline_tags(store):
    c = store["client"]
    v = c.get_model_version("track-model", store["b"]["registered_version"])
    assert "holdout_auc" in v.description and "fingerprint" in v.description
    assert v.tags["holdout_auc"] == f"{store['b']['metrics']['holdout.roc_auc']:.4f}"
    assert v.tags["data_range"] and v.tags["holdout_start"]


def test_promote_compares_with_the_previous_champion(store):
    line = next(x for x in store["lines"] if x.startswith("champion -> v2"))
    a, b = store["a"]["metrics"]["holdout.roc_auc"], store["b"]["metrics"]["holdout.roc_auc"]
    word = "better than" if b > a else "worse than" if b < a else "as good as"
    assert f"new model is {word} the previous champion v1" in line
    assert f"{b:.4f} vs {a:.4f}" in line
    champ = store["client"].get_model_version_by_alias("track-model", "champion")
    assert str(champ.version) == "2"
