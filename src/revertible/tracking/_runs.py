"""The experiment's runs as tables: ``revertible runs`` lists them and compares two."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..errors import TrackingError
from ._naming import HEADLINE, OWN_EXPERIMENT, experiment_for
from ._registry import comparability_warning, model_differences

__all__ = ["list_runs", "compare_runs", "resolve_run"]

#: Headline metrics where lower is better (sorting puts the best first).
LOWER_IS_BETTER = {"0_holdout_ece", "0_max_drawdown"}


def _client(tracker: Any):
    """A client that only reads: a read-only store serves, and nothing is created.

    An SQLite store that does not exist yet is None (MLflow would create an empty database to
    answer "no runs"); a server must answer its health check.
    """
    from pathlib import Path

    from mlflow import MlflowClient

    from ._tracker import check_store

    uri = tracker.uri
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).is_file():
        return None
    if uri.startswith(("http://", "https://")):
        check_store(uri, what="runs")  # a server answers its health check within 5 s
    try:
        client = MlflowClient(uri, registry_uri=uri)
        client.search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - not a database, an old schema: one line
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise TrackingError(f"tracking store {uri} cannot be read ({first}); point "
                            "tracking.uri / MLFLOW_TRACKING_URI at an MLflow store") from None
    return client


def _versions(client: Any, name: str) -> dict[str, tuple[str, str]]:
    """Map run id -> (version, aliases) of the registered model ``name``."""
    out: dict[str, tuple[str, str]] = {}
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except Exception:  # noqa: BLE001 - no registered model yet
        return out
    aliases: dict[str, list[str]] = {}
    try:
        for alias, v in (client.get_registered_model(name).aliases or {}).items():
            aliases.setdefault(str(v), []).append(alias)
    except Exception:  # noqa: BLE001
        pass
    for v in versions:
        out[v.run_id] = (str(v.version), ",".join(sorted(aliases.get(str(v.version), []))))
    return out


def list_runs(tracker: Any, *, kind: str = "train", sort: str | None = None,
              limit: int = 50) -> pd.DataFrame:
    """One row per run of ``kind`` (``train``, ``backtest`` or ``all``), best first.

    Columns: ``run_id``, ``name``, ``kind``, ``start`` (UTC), ``data_range`` (the data the run
    read), ``range`` (a backtest's replay range), each when some run has it, the headline
    metrics (``0_`` prefix dropped), ``version`` and ``alias``. ``sort`` is a headline name
    (``holdout_auc``) or any metric name; the default is ``holdout_auc`` for training,
    ``sharpe`` for backtests.
    """
    client = _client(tracker)
    if client is None:  # no store yet: no runs
        return pd.DataFrame(columns=["run_id", "name", "start"])
    names = [experiment_for(tracker.cfg.experiment, k) for k in
             (("train", *OWN_EXPERIMENT) if kind == "all" else (kind,))]
    exps = [e.experiment_id for n in names if (e := client.get_experiment_by_name(n))]
    if not exps:
        return pd.DataFrame(columns=["run_id", "name", "start"])
    experiment_ids = list(exps)
    runs = client.search_runs(exps, max_results=max(limit * 4, 200),
                              order_by=["attributes.start_time DESC"])
    versions = _versions(client, tracker.cfg.registered_model)
    sort_key = sort or ("sharpe" if kind == "backtest" else "holdout_auc")
    sort_metric = sort_key if sort_key in HEADLINE else (
        "0_" + sort_key if "0_" + sort_key in HEADLINE else sort_key)
    rows = []
    for r in runs:
        tags = r.data.tags
        if tags.get("tune.role") == "trial":
            continue
        row: dict[str, Any] = {
            "run_id": r.info.run_id,
            "name": r.info.run_name,
            "kind": tags.get("kind", "tune" if "tune.role" in tags else ""),
            "start": pd.Timestamp(r.info.start_time, unit="ms", tz="UTC"),
            "status": r.info.status,
            "data_range": tags.get("data_range", ""),
            # a backtest's own replay range (its data range is the whole panel)
            "range": (f"{tags['range_start'][:16]}..{tags.get('range_end', '')[:16]}"
                      if "range_start" in tags else ""),
        }
        for h in HEADLINE:
            row[h.removeprefix("0_")] = r.data.metrics.get(h, math.nan)
        if sort_metric not in HEADLINE:
            row[sort_metric] = r.data.metrics.get(sort_metric, math.nan)
        v, alias = versions.get(r.info.run_id, ("", ""))
        row["version"], row["alias"] = v, alias
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    col = sort_metric.removeprefix("0_") if sort_metric in HEADLINE else sort_metric
    if sort is not None and df[col].isna().all():
        heads = ", ".join(h.removeprefix("0_") for h in HEADLINE)
        raise TrackingError(f"--sort {sort}: no {kind} run here logged a metric of that name; "
                            f"use a headline metric ({heads}) or a metric name shown by "
                            "`revertible runs --compare`")
    asc = sort_metric in LOWER_IS_BETTER
    df = df.sort_values(col, ascending=asc, na_position="last", kind="stable").head(limit)
    # drop headline columns no run has (e.g. backtest metrics in a training table)
    empty = [h.removeprefix("0_") for h in HEADLINE
             if h.removeprefix("0_") != col and df[h.removeprefix("0_")].isna().all()]
    empty += [c for c in ("data_range", "range") if (df[c] == "").all()]
    df = df.drop(columns=empty).reset_index(drop=True)
    df.attrs["experiment_ids"] = experiment_ids  # what was read (the UI link's target)
    return df


def resolve_run(client: Any, exps: list[str], ref: str) -> Any:
    """A run from its id, a unique id prefix or its exact name."""
    try:
        return client.get_run(ref)
    except Exception:  # noqa: BLE001 - not a full id
        pass
    runs = client.search_runs(exps, max_results=5000)
    hits = [r for r in runs if r.info.run_id.startswith(ref) or r.info.run_name == ref]
    if len(hits) != 1:
        what = "no run" if not hits else f"{len(hits)} runs"
        raise TrackingError(f"--compare {ref}: {what} with that id, id prefix or name in "
                            "this experiment; pass a run id from `revertible runs`")
    return hits[0]


def compare_runs(tracker: Any, a: str, b: str, *, show_all: bool = False) -> pd.DataFrame:
    """Params, tags and metrics of two runs side by side (only those that differ by default)."""
    client = _client(tracker)
    if client is None:
        raise TrackingError(f"--compare: tracking store {tracker.uri} has no database yet, so "
                            "it holds no runs; point tracking.uri / MLFLOW_TRACKING_URI at the "
                            "store that has them")
    exps = [e.experiment_id for n in (tracker.cfg.experiment,
                                      *(experiment_for(tracker.cfg.experiment, k)
                                        for k in OWN_EXPERIMENT))
            if (e := client.get_experiment_by_name(n))]
    ra, rb = resolve_run(client, exps, a), resolve_run(client, exps, b)
    rows = []
    for section, da, db in (
        ("param", ra.data.params, rb.data.params),
        ("metric", ra.data.metrics, rb.data.metrics),
        ("tag", {k: v for k, v in ra.data.tags.items() if not k.startswith("mlflow.")},
         {k: v for k, v in rb.data.tags.items() if not k.startswith("mlflow.")}),
    ):
        for key in sorted(set(da) | set(db)):
            va, vb = da.get(key), db.get(key)
            same = va == vb or (isinstance(va, float) and isinstance(vb, float)
                                and math.isclose(va, vb, rel_tol=1e-12, abs_tol=1e-15))
            if same and not show_all:
                continue
            rows.append({"section": section, "key": key, "a": va, "b": vb})
    df = pd.DataFrame(rows)
    if len(df):
        order = {"metric": 0, "param": 1, "tag": 2}
        df = df.assign(_o=df["section"].map(order),
                       _h=~df["key"].str.startswith("0_")).sort_values(
            ["_o", "_h", "key"], kind="stable").drop(columns=["_o", "_h"])
    df.attrs["runs"] = ((ra.info.run_id, ra.info.run_name), (rb.info.run_id, rb.info.run_name))
    # two training runs: say so when they solve different problems (assets, timeframe, labels)
    if all(r.data.tags.get("kind", "train") in ("train", "tune") for r in (ra, rb)):
        diffs = model_differences(ra.data.params, ra.data.tags, rb.data.params, rb.data.tags)
        df.attrs["warning"] = comparability_warning(diffs)
    return df.reset_index(drop=True)
