"""Model monitoring: the live record of a model against its training reference (issue 21).

Modules: ``_reference`` (the training reference), ``_drift`` (quantile sketch, PSI), ``_core``
(metrics, calibration windows, alerts at a point in time), ``_sequential`` (the sequential
calibration test and its level), ``_report`` (reliability figure, HTML page, MLflow run, the
paper ledger's P&L), ``_command`` (the ``monitor`` command), ``_scenario`` (known-answer
generated markets).
"""

from __future__ import annotations

from ._command import live_record, monitor_command, reference_of
from ._core import (
    NOT_SKETCHED,
    RECORD_COLUMNS,
    Reference,
    calibration_cusum,
    design_effect,
    detectable_drop,
    evaluate,
    make_reference,
    psi_noise,
    return_deciles,
    scan,
    weekly_calibration,
)
from ._drift import SKETCH_VERSION, psi, quantile_sketch
from ._report import flat_metrics, ledger_json
from ._scenario import planted_scenario
from ._sequential import FALLBACK_LIMIT, calibration_error, cusum_limit

__all__ = ["quantile_sketch", "psi", "SKETCH_VERSION", "Reference", "make_reference",
           "evaluate", "scan", "psi_noise", "RECORD_COLUMNS", "monitor_command", "live_record",
           "reference_of", "planted_scenario", "flat_metrics", "return_deciles", "NOT_SKETCHED",
           "ledger_json", "calibration_cusum", "design_effect", "weekly_calibration",
           "detectable_drop", "cusum_limit", "FALLBACK_LIMIT", "calibration_error"]
