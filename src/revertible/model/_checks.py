"""A model against the config it is used with: checks before any work, and notes.

A model is refused (one :class:`~revertible.errors.ModelError` line naming the fix) when it has no
return calibrator (an older registered version: its return estimates carried no held-out
evidence, so it cannot decide a direction), needs a data source the
data lacks, was trained on another bar size or under label / spread / feature / universe settings
that differ from the config, or lacks a feature column. Costs are not a refusal: expected returns
are net of the *using* config's venue, and a difference from the training costs is reported
(:func:`costs_note`), as is data most of whose assets the model never saw (:func:`assets_note`).
Used by ``score``, ``backtest --model``, ``paper`` and ``monitor``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ..costs import effective_costs
from ..errors import ModelError

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["check_model", "has_calibrator", "costs_note", "assets_note", "check_out_of_sample"]


def has_calibrator(model: Any) -> bool:
    """True when ``model.predict_outcomes`` exists and its return calibrator is set.

    The calibrator is checked on this package's model (a pickle of an earlier version has none).
    """
    from ._estimator import CalibratedReversionModel

    if not callable(getattr(model, "predict_outcomes", None)):
        return False
    if isinstance(model, CalibratedReversionModel):
        return getattr(model, "outcomes", None) is not None
    return True


def check_model(
    model: Any, cfg: Config, has_funding: bool, features: pd.DataFrame | None = None
) -> None:
    """Refuse to score when the model cannot use this input (one :class:`ModelError` line).

    Checks, in order: the return calibrator (:func:`has_calibrator`), the data sources (a model
    trained with funding features needs ``data.funding_path``), the settings recorded in
    ``model.meta`` (``label``, ``spread``, and ``features`` / ``universe`` when recorded) against
    ``cfg``, since episodes and features depend on them, and the feature columns: those of
    ``features``, or before any work the columns :func:`revertible.features.feature_names`
    gives under ``cfg``.
    """
    from ..config import override_text
    from ..features import feature_names

    if not has_calibrator(model):
        raise ModelError(
            "the model has no return calibrator: it was trained by an earlier revertible version "
            "and cannot decide revert / continue / none on held-out evidence; retrain it with "
            "`revertible train CONFIG` (optionally --promote) and score with the new version"
        )
    model.check_sources(has_funding)
    meta = getattr(model, "meta", {}) or {}
    _check_bar(meta.get("bar"), cfg.data.resample or cfg.data.timeframe)
    for section in ("label", "spread", "features", "universe"):
        trained = meta.get(section)
        if not isinstance(trained, dict):
            continue
        now = getattr(cfg, section).model_dump()
        diff = [k for k, v in trained.items() if k in now and not _same(now[k], v)]
        if diff:
            k = diff[0]
            raise ModelError(
                f"the model was trained with {section}.{k}={trained[k]!r} but this config "
                f"has {section}.{k}={now[k]!r}; use the training config "
                f"({override_text(f'{section}.{k}', trained[k])}) or retrain"
            )
    if features is None:
        features = pd.DataFrame(columns=feature_names(cfg))
    model.check_input(features)


def _check_bar(trained: Any, now: str) -> None:
    """Refuse a model trained on another bar size: its windows and horizon count other bars.

    ``trained`` is ``meta["bar"]`` (``data.resample`` or else ``data.timeframe`` at training);
    models trained before it was recorded are not checked.
    """
    from ..config import duration  # the parser the config validates data.resample with

    if not isinstance(trained, str):
        return
    try:
        same = duration(trained) == duration(now)
    except Exception:  # noqa: BLE001 - an unreadable recorded value is no refusal
        return
    if not same:
        raise ModelError(
            f"the model was trained on {trained} bars but this config makes {now} bars "
            f"(data.timeframe, data.resample); use {trained} bars or retrain"
        )


def assets_note(model: Any, assets: Any) -> str:
    """A summary line when most of the scored assets were not in the model's training data."""
    trained = (getattr(model, "meta", {}) or {}).get("assets")
    if not isinstance(trained, list | tuple) or not trained:
        return ""
    now, seen = list(assets), set(trained)
    new = [a for a in now if a not in seen]
    if len(new) * 2 <= len(now):
        return ""
    return (
        f"note: {len(new)} of the {len(now)} assets here were not in the model's training data "
        f"({len(trained)} assets, e.g. {', '.join(map(str, trained[:3]))}): its probabilities "
        "for their pairs are extrapolations; train on this data for a model of these assets"
    )


def costs_note(model: Any, cfg: Config) -> str:
    """A summary line when the config's costs (venue) differ from the model's; else empty."""
    trained = (getattr(model, "meta", {}) or {}).get("costs")
    if not isinstance(trained, dict):
        return ""
    now = {**cfg.costs.model_dump(mode="json"), **effective_costs(cfg.costs)}
    diff = [k for k, v in trained.items() if k in now and not _same(now[k], v)]
    if not diff:
        return ""
    was = ", ".join(f"{k}={trained[k]!r}" for k in diff)
    has = ", ".join(f"{k}={now[k]!r}" for k in diff)
    return (
        f"note: the model was trained with costs {was} but this config has {has}; expected "
        "returns and directions here are net of this config's costs"
    )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def forward_start(meta: dict[str, Any] | None) -> pd.Timestamp | None:
    """The first bar a forward record of the model (``paper``, ``monitor``) may start at.

    Where the labels the model saw stop: ``meta["label_cutoff"]`` (a walk-forward block's
    latest label end) or ``meta["holdout_start"]`` (a trained model's development labels all
    end before it; the divergences entered between its last one, ``trained_until``, and the
    holdout start were purged because their labels straddle it, and the model saw the prices of
    their first hours through the other labels). ``backtest --model`` starts there too. None
    for a model that stores neither.
    """
    for key in ("label_cutoff", "holdout_start"):
        value = (meta or {}).get(key)
        if value not in (None, "", "NaT"):
            t = pd.Timestamp(value)
            return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return None


def check_out_of_sample(start: pd.Timestamp | None, meta: dict[str, Any] | None, option: str,
                        bar: pd.Timedelta) -> None:
    """Refuse a forward record (``paper``, ``monitor``) that starts inside the training data.

    The model was fitted on labels that end before :func:`forward_start` (and its return
    calibrator on their outcomes): a ledger or a live record that starts earlier reports
    in-sample results as if they were a forward test (the demo's paper ledger over 11 such days
    earned +131 bp a trade against -24 out of sample). A model that stores no holdout start is
    checked against ``meta["trained_until"]`` (its last fitted entry). ``start`` None (the
    default start) or a model with neither is not checked.
    """
    from ..errors import RevertibleError

    if start is None:
        return
    first = forward_start(meta)
    if first is None:  # a model that stores no holdout start: its last fitted entry
        end = (meta or {}).get("trained_until")
        if end in (None, "", "NaT"):
            return
        end = pd.Timestamp(end)
        end = end.tz_localize("UTC") if end.tzinfo is None else end
        if start <= end:
            raise RevertibleError(
                f"{option} {start:%Y-%m-%d %H:%M}: the model was trained on the divergences "
                f"entered up to {end:%Y-%m-%d %H:%M} UTC, so a record from there is in sample, "
                f"not a forward test; start after it ({option} {end + bar:%Y-%m-%d %H:%M}) or "
                "use a model trained on earlier data")
        return
    if start < first:
        raise RevertibleError(
            f"{option} {start:%Y-%m-%d %H:%M}: the model saw labels (and the prices in them) up "
            f"to {first:%Y-%m-%d %H:%M} UTC, so a record from there is in sample, not a forward "
            f"test; start at or after it ({option} {first:%Y-%m-%d %H:%M}) or use a model "
            "trained on earlier data")
