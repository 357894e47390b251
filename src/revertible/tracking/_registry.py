"""Registered versions a person can compare: description, headline tags, champion comparison."""

from __future__ import annotations

import math
from typing import Any

from ._naming import headline_metrics

__all__ = ["describe_version", "compare_to_champion", "PROMOTE_METRIC", "MODEL_SETTINGS",
           "PROBLEM_SECTIONS", "is_problem_key", "model_differences", "comparability_warning"]

#: The holdout metric ``--promote`` compares (higher is better), then the tie-breaker.
PROMOTE_METRIC = ("holdout.roc_auc", "holdout.brier_skill")


#: Params that define the problem a model solves (with every param of
#: :data:`PROBLEM_SECTIONS`): two models that differ in one of them answer different questions,
#: so their holdout metrics do not compare.
MODEL_SETTINGS = ("data.path", "data.assets", "data.timeframe", "data.resample")

#: Config sections whose every param decides which divergences are in the problem and what they
#: are labelled: the universe (eligible pairs), the spread (hedge ratio, z, entries) and the label.
PROBLEM_SECTIONS = ("label.", "universe.", "spread.")


def is_problem_key(key: str) -> bool:
    """Whether the flattened config key ``key`` defines the problem (see :data:`MODEL_SETTINGS`)."""
    return key in MODEL_SETTINGS or key.startswith(PROBLEM_SECTIONS)


def _problem_keys(params: dict[str, str]) -> list[str]:
    return [*MODEL_SETTINGS, *sorted(k for k in params if k.startswith(PROBLEM_SECTIONS))]


def _same_data(tags_a: dict[str, str], tags_b: dict[str, str]) -> bool:
    fa, fb = tags_a.get("data_fingerprint"), tags_b.get("data_fingerprint")
    return bool(fa) and fa == fb


def model_differences(params_a: dict[str, str], tags_a: dict[str, str],
                      params_b: dict[str, str], tags_b: dict[str, str]) -> list[str]:
    """What differs between two training runs' problems: assets, timeframe, horizon, labels.

    Compares the :data:`MODEL_SETTINGS` params, every param of :data:`PROBLEM_SECTIONS` and the
    ``data_assets`` (asset count) and ``data_range`` tags; returns ``"key a vs b"`` items (empty:
    the same). A key missing from one side is not a difference (older runs log fewer params), nor
    is ``data.path`` when both runs' ``data_fingerprint`` tags are equal (the same files named
    relative to one folder and absolute in the other).
    """
    out = []
    for key in dict.fromkeys(_problem_keys(params_a) + _problem_keys(params_b)):
        if key == "data.path" and _same_data(tags_a, tags_b):
            continue
        va, vb = params_a.get(key), params_b.get(key)
        if va is not None and vb is not None and va != vb:
            out.append(f"{key} {va} vs {vb}")
    for key, name in (("data_assets", "assets"), ("data_range", "data range")):
        va, vb = tags_a.get(key), tags_b.get(key)
        if va is not None and vb is not None and va != vb:
            out.append(f"{name} {va} vs {vb}")
    return out


def comparability_warning(diffs: list[str], what: str = "the two models") -> str:
    """One warning line for :func:`model_differences`' items ('' when there are none)."""
    if not diffs:
        return ""
    return (f"warning: {what} differ in {'; '.join(diffs)}: they answer different questions, "
            "so their metrics are not comparable (a higher AUC may be an easier problem)")


def _fmt(v: float | None) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.4f}"


def describe_version(client: Any, name: str, version: str, run_name: str,
                     metrics: dict[str, float], tags: dict[str, str]) -> None:
    """Give a registered version a one-paragraph description and its headline metrics as tags."""
    head = headline_metrics(metrics)
    desc = (
        f"Run '{run_name}'. Data {tags.get('data_range', '?')} "
        f"({tags.get('data_assets', '?')} assets, fingerprint "
        f"{tags.get('data_fingerprint', '?')}); "
        f"holdout from {tags.get('holdout_start', '?')}. "
        + "; ".join(f"{k.removeprefix('0_')} {_fmt(v)}" for k, v in head.items())
    )
    client.update_model_version(name, version, description=desc[:4900])
    vtags = {k.removeprefix("0_"): _fmt(v) for k, v in head.items()}
    for key in ("data_range", "data_fingerprint", "holdout_start", "config_name"):
        if key in tags:
            vtags[key] = tags[key]
    for k, v in vtags.items():
        client.set_model_version_tag(name, version, k, v)


def compare_to_champion(client: Any, name: str, metrics: dict[str, float],
                        data_fingerprint: str, holdout_start: str,
                        alias: str = "champion", labels: dict[str, str] | None = None) -> str:
    """One line saying whether the new model beats the current champion on the holdout."""
    try:
        champ = client.get_model_version_by_alias(name, alias)
    except Exception:  # noqa: BLE001 - no champion yet
        return f"no previous {alias}: this version becomes the first {alias}"
    try:
        run = client.get_run(champ.run_id)
    except Exception:  # noqa: BLE001
        return f"previous {alias} v{champ.version}: its run is gone, cannot compare"
    old = run.data.metrics
    key = PROMOTE_METRIC[0]
    new_v, old_v = metrics.get(key), old.get(key)
    new_tags = {"data_fingerprint": data_fingerprint}
    diffs = model_differences(labels or {}, new_tags, run.data.params, run.data.tags)
    same = (run.data.tags.get("data_fingerprint") == data_fingerprint
            and run.data.tags.get("holdout_start") == holdout_start and not diffs)
    caveat = "" if same else (" (different data, holdout period or labels: the numbers are "
                              "not directly comparable)")
    if diffs:
        caveat += "; " + comparability_warning(diffs, f"this model and the {alias}")
    if new_v is None or old_v is None or not (math.isfinite(new_v) and math.isfinite(old_v)):
        return f"previous {alias} v{champ.version}: {key} missing, cannot compare{caveat}"
    tie = PROMOTE_METRIC[1]
    if abs(new_v - old_v) < 1e-12:
        verdict = "as good as"
        nb, ob = metrics.get(tie), old.get(tie)
        if nb is not None and ob is not None and math.isfinite(nb) and math.isfinite(ob):
            verdict = ("better than" if nb > ob else "worse than" if nb < ob else verdict)
    else:
        verdict = "better than" if new_v > old_v else "worse than"
    return (f"new model is {verdict} the previous {alias} v{champ.version} on the holdout: "
            f"{key} {_fmt(new_v)} vs {_fmt(old_v)}, {tie} {_fmt(metrics.get(tie))} vs "
            f"{_fmt(old.get(tie))}{_auc_noise(key, new_v, metrics)}{caveat}")


def _auc_noise(key: str, auc: float, metrics: dict[str, float]) -> str:
    """``; one holdout AUC's standard error is about s (n episodes ...)`` or ''.

    Hanley & McNeil (1982) from the holdout's size and base rate: the scale a difference of
    AUCs is read against (two seeds of one config on the shared perpetuals' 533 holdout
    episodes: 0.5259 vs 0.5505, "worse than", against a standard error of about 0.025). The
    episodes are not independent, so the real noise is larger; the two models' AUCs on one
    holdout are correlated, so their difference's may be smaller.
    """
    n, rate = metrics.get("holdout.n"), metrics.get("holdout.positive_rate")
    if key != "holdout.roc_auc" or n is None or rate is None or not (
            math.isfinite(n) and math.isfinite(rate) and math.isfinite(auc)):
        return ""
    n1 = round(n * rate)
    n2 = round(n) - n1
    if n1 < 1 or n2 < 1:
        return ""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    se = math.sqrt((auc * (1 - auc) + (n1 - 1) * (q1 - auc * auc)
                    + (n2 - 1) * (q2 - auc * auc)) / (n1 * n2))
    return (f"; one holdout AUC's standard error is about {se:.3f} ({round(n)} episodes taken "
            "as independent; more, as they are not)")
