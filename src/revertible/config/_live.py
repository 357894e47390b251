"""The live loop's config sections: ``scoring`` (model age, stale data) and ``monitor``.

``monitor`` holds the thresholds of ``revertible monitor``: a check is off when its threshold is
null. Every check needs ``min_labels`` resolved labels (or ``min_rows`` scored divergences for
drift) before it can fire, so a fresh model is not flagged on noise.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["ScoringConfig", "MonitorConfig"]


class ScoringConfig(BaseModel):
    """Model age and data freshness checks of ``score`` and ``paper``."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    max_model_age_days: float | None = Field(
        30.0, gt=0, description="Warn (or refuse) when the data the model was trained on (its "
        "holdout included) ends more than this many days before the last bar; null: no check.")
    max_stale_bars: int = Field(
        2, ge=1, description="A leg whose last bar is more than this many bars before the last "
        "bar (or data ending this many bars before now) is stale.")
    on_stale: Literal["warn", "refuse"] = Field(
        "warn", description="What an old model or stale data does: a warning, or a refusal "
        "(exit 2).")


class MonitorConfig(BaseModel):
    """Thresholds of ``revertible monitor`` (exit code 3 when one is breached)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    window_days: float = Field(7.0, gt=0, description="Labels resolved in this many last days "
                               "make the calibration window.")
    min_labels: int = Field(20, ge=5, description="Resolved labels a label check needs.")
    min_rows: int = Field(100, ge=10, description="Scored divergences a drift check needs.")
    calibration_z: float | None = Field(
        3.5, gt=0, description="Alert when |sum(y - p)| / sqrt(sum p(1-p)) over the window's "
        "labels reaches this (calibration in the large; 3.5 measured by "
        "research/monitor_known_answers.py).")
    cusum_odds_ratio: float = Field(
        0.33, gt=0, lt=1, description="The sequential calibration test's alternative: the odds "
        "of reverting fall to this multiple of the model's (0.33: a 73% probability becomes "
        "47%).")
    cusum_threshold: Annotated[float, Field(gt=0)] | Literal["auto"] | None = Field(
        "auto", description="Alert when the CUSUM of the labels' log-likelihood ratios "
        "(model against the odds ratio above, in the order they resolved) reaches this; null: "
        "off. auto: the level that cusum_false_alarms of 30-day periods of a calibrated model "
        "cross at the training record's label flow (its labels a day over their design "
        "effect), drawn once per model: a fixed level alarms more often the more labels a "
        "month resolve (6.5 holds 2.5% at 215 labels a month, which auto gives there).")
    cusum_false_alarms: float = Field(
        0.025, ge=0.005, lt=0.5, description="With cusum_threshold auto: the share of 30-day "
        "periods in which the sequential test alerts on a calibrated model (0.025 matches the "
        "level 6.5 chosen on research/monitor_known_answers.py seeds 100-139).")
    @field_validator("cusum_threshold", mode="before")
    @classmethod
    def _level_or_auto(cls, v: object) -> object:
        """One message for a bad level (a union's would name each of its members)."""
        if v is None or v == "auto":
            return v
        try:
            if isinstance(v, bool):
                raise ValueError
            x = float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            x = float("nan")
        if not (math.isfinite(x) and x > 0):
            raise ValueError("must be a number above 0, auto (drawn for the model's label "
                             "flow) or null (off)")
        return x

    max_ece: float | None = Field(None, gt=0, lt=1, description="Alert above this ECE (live).")
    min_auc: float | None = Field(None, gt=0, lt=1, description="Alert below this AUC (live).")
    min_brier_skill: float | None = Field(
        None, lt=1, description="Alert below this Brier skill (against the training base rate).")
    max_psi: float | None = Field(0.25, gt=0, description="Alert when the probability's PSI "
                                  "against the training reference exceeds this.")
    max_feature_psi: float | None = Field(
        None, gt=0, description="Alert when a feature's PSI exceeds this (many features: keep "
        "it high or null).")
    sketch_bins: int = Field(10, ge=4, le=100, description="Quantile bins of the sketch.")
    repeat_alert_hours: float | None = Field(
        24.0, ge=0, description="With --out (where the last run's monitor.json remembers what "
        "was sent): an alert still raised by the same check is sent again only after this many "
        "hours of bars; a new check's alert is sent at once; null or 0: every run. The exit "
        "code is 3 on every run while a check is breached.")
