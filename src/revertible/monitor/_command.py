"""``revertible monitor``: the model's live record against its training reference.

The live record is every divergence entered since ``--since`` (default: where the labels the
model saw stop, :func:`revertible.model.forward_start`: its holdout start), scored exactly as
``score`` scores it (the project's episodes, features and model); labels count once resolved.
The reference is the sketch stored with the model (``meta["quantile_sketch"]``) when there is
one; otherwise it is recomputed from the model's development period (labels resolved before
``holdout_start``) on the same data, and the report says so.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import RevertibleError
from ..io import atomic_path, strict_json
from ._core import NOT_SKETCHED, Reference, design_effect, evaluate, make_reference

if TYPE_CHECKING:
    import os
    from collections.abc import Callable

    from ..config import Config

__all__ = ["monitor_command", "live_record", "reference_of"]


def _ts(value: Any) -> pd.Timestamp | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def live_record(panel: Any, history: pd.DataFrame, model: Any, cfg: Config,
                since: pd.Timestamp | None, until: pd.Timestamp | None = None,
                progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Scored divergences entered in ``[since, until]``: record columns plus the features.

    ``progress(done, total)`` is told the pairs whose features are built.
    """
    from ..costs import round_trip_cost
    from ..model import label_end
    from ..scoring import episode_features, has_calibrator, select_range

    rows = select_range(history, since, until).reset_index(drop=True)
    if len(rows) == 0:
        return pd.DataFrame(columns=["entry_time", "resolved_at", "label", "probability"])
    feats = episode_features(panel, rows, cfg, history=history, progress=progress)
    p = np.asarray(model.predict_proba(feats), dtype=float)
    resolved = label_end(rows, cfg.label.horizon, panel.freq)
    resolved = resolved.where(rows["label"].notna())  # open: not resolved yet
    record = pd.DataFrame({"entry_time": rows["entry_time"], "resolved_at": resolved,
                           "label": rows["label"].astype(float), "probability": p})
    if has_calibrator(model):  # the reversion trade, net of the venue's fees and slippage
        rt = round_trip_cost(cfg.costs)
        record["expected_revert"] = model.predict_outcomes(feats)["revert_mean"].to_numpy() - rt
        record["realised_revert"] = rows["revert_return"].to_numpy(dtype=float) - rt
    cols = [c for c in model.features if c in feats.columns]
    return pd.concat([record, feats[cols].reset_index(drop=True)], axis=1)


def reference_of(model: Any, panel: Any, history: pd.DataFrame, cfg: Config) -> Reference:
    """The model's training reference: stored with it, else recomputed (see module docstring).

    The labels' design effect is stored with models trained since it was introduced; for an
    older model it is measured on its development period on this data, and the source says so.
    """
    meta = getattr(model, "meta", {}) or {}
    stored = meta.get("quantile_sketch")
    design = meta.get("design_effect")
    has_sketch = isinstance(stored, dict) and "columns" in stored
    if has_sketch and _valid_design(design):
        return _stored_reference(meta, design, "stored with the model")
    start = _ts(meta.get("holdout_start"))
    rec = live_record(panel, history, model, cfg, None, start - panel.freq if start else None)
    # training's development labels: resolved before the holdout (later ones open the live record)
    rec = rec[rec["label"].notna() & ((rec["resolved_at"] < start) if start else True)]
    if len(rec) == 0:
        raise RevertibleError("the model's training period has no labelled divergence on this "
                              "data (holdout_start "
                              f"{meta.get('holdout_start')}); monitor with the training data")
    period = f"the model's development period ({len(rec)} labels resolved before " \
             f"{start:%Y-%m-%d %H:%M}) on this data, with its own in-sample probabilities"
    if has_sketch:
        d = design_effect(rec["label"].to_numpy(), rec["probability"].to_numpy(),
                          rec["resolved_at"])
        return _stored_reference(meta, d, f"stored with the model; the labels' design effect "
                                 f"measured on {period}: " + (
                                     "the model predates it" if design is None else
                                     f"the stored one ({design!r:.60}) is not usable"))
    cols = ["probability", *[c for c in rec.columns if c not in NOT_SKETCHED]]
    return make_reference(rec["label"].to_numpy(), rec[cols], bins=cfg.monitor.sketch_bins,
                          source=f"recomputed from {period}: no sketch is stored with the model",
                          resolved_at=rec["resolved_at"])


def _stored_reference(meta: dict[str, Any], design: dict[str, Any], source: str) -> Reference:
    """The reference of the sketch stored with the model, with the labels' ``design``."""
    sketch = meta["quantile_sketch"]
    return Reference(base_rate=float(meta.get("base_rate", np.nan)),
                     median_probability=float(meta.get("median_probability", 0.5)),
                     n=int(sketch.get("n", 0)), sketch=sketch, source=source,
                     design_effect=float(design["design_effect"]), design=design,
                     rho=float(design["rho"]))


def _valid_design(design: Any) -> bool:
    """A stored design effect the checks can use (else it is measured on the development labels).

    A number >= 1 and a within-day correlation ``rho`` >= 0; the first models that stored a
    design effect stored no ``rho``.
    """
    try:
        return (isinstance(design, dict) and float(design["design_effect"]) >= 1
                and float(design["rho"]) >= 0)
    except (KeyError, TypeError, ValueError):
        return False


def _experiment_of(uri: str, store: str) -> str | None:
    """The experiment id of the run that logged the model (None for a plain folder)."""
    try:
        from mlflow import MlflowClient

        client = MlflowClient(store, registry_uri=store)
        if uri.startswith("runs:/"):
            run_id = uri[len("runs:/"):].split("/")[0]
        elif uri.startswith("models:/"):
            name, _, version = uri[len("models:/"):].partition("/")
            run_id = client.get_model_version(name, version).run_id
        else:
            return None
        return client.get_run(run_id).info.experiment_id
    except Exception:  # noqa: BLE001 - no run to attach to: the config's experiment is used
        return None


def _bp(x: float | None) -> str:
    return f"{x:+.1f}" if x is not None and math.isfinite(x) else "-"


def _ledger_line(lg: dict[str, Any]) -> str:
    """The paper ledger's P&L in one line; "-" where nothing closed yet (not "+nan")."""
    from ..backtest import ci_text

    band = ci_text(lg["realised_net_bp_ci_low"], lg["realised_net_bp_ci_high"],
                   "every closed trade exited on one day")
    realised = (f"{lg['trades_closed']} trades closed, realised net "
                f"{_bp(lg['realised_net_bp'])} bp/trade {band}" if lg["trades_closed"] else
                "no closed trade yet")  # as paper says it
    return (f"ledger {lg['path']}: {realised}; {lg['open_positions']} open position(s) as of "
            f"{lg['last_bar']}")


def _check_start(start: pd.Timestamp | None, last: pd.Timestamp, path: Any) -> None:
    if start is not None and start > last:
        raise RevertibleError(f"--since {start:%Y-%m-%d %H:%M} is after the last bar "
                              f"{last:%Y-%m-%d %H:%M} UTC of {path}; pick an earlier --since "
                              "or download newer data")


def monitor_command(cfg: Config, model_uri: str, *, since: str | None = None,
                    out_dir: str | os.PathLike[str] | None = None,
                    notify_urls: list[str] | None = None, log: Any = print,
                    ledger: dict[str, Any] | None = None,
                    progress: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Everything ``revertible monitor`` does; returns the state (``alerts`` non-empty: breach).

    Writes ``monitor.html`` (and ``monitor.json``) to ``out_dir`` when given, logs an MLflow run
    (tag ``kind=monitor``) in the model's experiment, and sends the alerts to ``notify_urls``.
    ``ledger`` is a paper ledger's P&L (:func:`revertible.workflows.ledger_pnl`, which reads and
    checks it before anything is written): it joins the page, the run and the JSON.
    ``progress(description)`` is a context giving an ``update(done, total)`` (the CLI's bar).
    """
    import json

    from ..data import load_panel
    from ..episodes import build_episodes
    from ..live import notify
    from ..model import check_out_of_sample, forward_start
    from ..scoring import check_model, resolve_model_uri, tracking_uri
    from ..tracking import Tracker, load_model
    from ._report import flat_metrics, html_page, ledger_json, log_run, power_note

    store = tracking_uri(cfg)
    pinned = resolve_model_uri(model_uri, store)
    panel = load_panel(cfg.data)
    last = pd.Timestamp(panel.times[-1])
    before = _last_run(out_dir)
    start = _ts(since)  # checked before the model loads (its warnings printed before a refusal)
    if since is not None and start is None:
        raise RevertibleError(f"--since {since}: not a time; use e.g. 2024-06-01 (UTC)")
    _check_start(start, last, cfg.data.path)
    model = load_model(pinned, store)
    meta = getattr(model, "meta", {}) or {}
    check_out_of_sample(start, meta, "--since", panel.freq)  # None (the default): after it
    if since is None:  # default: the first bar after the labels the model saw
        start = forward_start(meta)
        if start is None:  # a model that stores no holdout start: after its last fitted entry
            start = _ts(meta.get("trained_until"))
            start = None if start is None else start + panel.freq
        _check_start(start, last, cfg.data.path)
    check_model(model, cfg, panel.funding is not None)
    bar = progress or (lambda _d: contextlib.nullcontext(lambda *_: None))
    with bar("episodes (pairs)") as update:
        history = build_episodes(panel, cfg, progress=update)
    ref = reference_of(model, panel, history, cfg)
    with bar("features of the live record (pairs)") as update:
        record = live_record(panel, history, model, cfg, start, progress=update)
    state = evaluate(record, ref, cfg.monitor, last)
    state["model"], state["since"] = pinned, start
    state["ledger"] = ledger
    log(f"monitor {pinned}: {state['n_scored']} divergences since "
        f"{'the start' if start is None else f'{start:%Y-%m-%d %H:%M}'}, {state['n_resolved']} "
        f"resolved; reference {ref.source}"
        + (f"; the training labels' design effect {ref.design_effect:.1f} (within-day "
           f"correlation {ref.rho:.4f})" if ref.rho > 0 else ""))
    if power_note(state):
        log(power_note(state))
    if state["ledger"] is not None:
        log(_ledger_line(state["ledger"]))
    for a in state["alerts"]:
        log(f"alert: {a}")
    book = None if ledger is None else json.loads(json.dumps(ledger_json(ledger), default=str))
    inputs = _inputs(pinned, meta, panel, start, cfg, book, notify_urls)
    if before is not None and before.get("inputs") == inputs:
        # the same bar checked again with the same model, data, thresholds, ledger and targets
        # (cron twice in an hour): the page, the run and what was sent stand
        state["run_id"] = before.get("run_id")
        log(f"no new bar since the last check of {pinned} at {last:%Y-%m-%d %H:%M} UTC: "
            f"{out_dir}/monitor.html and MLflow run {state['run_id']} stand, nothing sent again")
        return state
    page = html_page(state, record, title=f"revertible monitor: {pinned}")
    exp = _experiment_of(pinned, store)
    if exp is None:
        tracker = Tracker(cfg.tracking).connect()
        exp = tracker.experiment_id
    state["run_id"] = log_run(store, exp, state, page, {
        "kind": "monitor", "model_uri": pinned, "run_name": f"{cfg.name} monitor",
        "reference": ref.source[:250], "alerts": str(len(state["alerts"]))})
    same_model = before is not None and (before.get("inputs") or {}).get("model") == \
        inputs["model"]
    send, notified = _to_send(state, before if same_model else None, last,
                              cfg.monitor.repeat_alert_hours)
    held = len(state["alerts"]) - len(send)
    if held and notify_urls:
        log(f"{held} alert(s) already sent within monitor.repeat_alert_hours="
            f"{cfg.monitor.repeat_alert_hours:g}: not sent again")
    if send:
        texts = [state["alerts"][i] for i in send]
        delivered = notify(notify_urls, f"monitor {pinned} as of {last:%Y-%m-%d %H:%M} UTC:\n"
                           + "\n".join(texts), title="revertible monitor alert",
                           level="warning")
        if notify_urls and delivered:  # only what reached its targets counts as sent
            notified.update({state["alert_kinds"][i]: str(last) for i in send})
    if out_dir is not None:
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in (("monitor.html", page), ("monitor.json", json.dumps(strict_json(
                {"model": pinned, "at": str(last), "alerts": state["alerts"],
                 "reference": ref.source, "metrics": flat_metrics(state),
                 "ledger": book, "run_id": state["run_id"], "notified": notified,
                 "inputs": inputs}),
                default=str, allow_nan=False))):
            with atomic_path(folder / name) as tmp:  # an error leaves the old page, no part
                tmp.write_text(text)
    return state


def _inputs(pinned: str, meta: dict[str, Any], panel: Any, start: pd.Timestamp | None,
            cfg: Config, book: Any, urls: list[str] | None) -> dict[str, Any]:
    """What a check depends on, as monitor.json stores it: a rerun with the same is the same.

    The model (its URI and a hash of its metadata: a model retrained in place differs), the
    data (its last bar and fingerprint: a backfill differs), the record's start, the
    thresholds, the ledger's summary and the notification targets (hashed: URLs hold tokens).
    """
    import json

    from ..io import short_hash

    return {"model": f"{pinned} {short_hash(meta)}", "at": str(panel.times[-1]),
            "data": panel.fingerprint(), "since": str(start),
            "checks": json.loads(json.dumps(cfg.monitor.model_dump())), "ledger": book,
            "notify": short_hash(sorted(urls or []))}


def _last_run(out_dir: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """The last run's ``monitor.json`` in ``out_dir`` (None: none, or not one we can read)."""
    import json

    if out_dir is None:
        return None
    try:
        got = json.loads((Path(out_dir) / "monitor.json").read_text())
    except (OSError, ValueError):
        return None
    return got if isinstance(got, dict) else None


def _to_send(state: dict[str, Any], before: dict[str, Any] | None, last: pd.Timestamp,
             repeat_hours: float | None) -> tuple[list[int], dict[str, str]]:
    """Which alerts to send now (their positions), and when the held ones were last sent.

    A check whose alert reached its targets less than ``repeat_hours`` of bars ago
    (``before["notified"]``) is held and keeps that time; a check that cleared is forgotten, so
    its next alert is sent at once. The caller adds the sent ones once they are delivered.
    """
    sent = (before or {}).get("notified") or {}
    send, notified = [], {}
    for i, kind in enumerate(state.get("alert_kinds", [])):
        at = pd.Timestamp(sent[kind]) if isinstance(sent.get(kind), str) else None
        if repeat_hours and at is not None and last - at < pd.Timedelta(hours=repeat_hours):
            notified[kind] = sent[kind]
        else:
            send.append(i)
    return send, notified
