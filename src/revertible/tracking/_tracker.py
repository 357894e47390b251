"""MLflow tracking and registry, behind a small :class:`Tracker` that is passed in (no globals).

The embedded default is ``sqlite:///experiments/mlflow.db`` with artifacts under
``experiments/artifacts``; ``MLFLOW_TRACKING_URI``, when set, overrides ``tracking.uri``
(:func:`~revertible.tracking.store_uri`, the one rule every command uses). An
unreachable server fails fast with one line instead of MLflow's minutes of retries.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd  # noqa: TC002 - MLflow reads ReversionPyfunc.predict's hints at class creation

from .. import __version__
from ..errors import ModelError, TrackingError
from ._naming import EXPERIMENT_KIND, dataset_summary, experiment_for, headline_metrics
from ._registry import compare_to_champion, describe_version, is_problem_key
from ._store import quiet_mlflow, store_uri, use_store

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..config import TrackingConfig
    from ..model import CalibratedReversionModel

__all__ = ["Tracker", "ReversionPyfunc", "load_model", "git_commit", "check_store"]


def git_commit(cwd: str | Path | None = None) -> str:
    """Current git commit (with ``-dirty`` if the tree has changes), or ``unknown``."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=cwd, capture_output=True, text=True, timeout=5).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _pyfunc_base():
    import mlflow.pyfunc

    return mlflow.pyfunc.PythonModel


class ReversionPyfunc(_pyfunc_base()):
    """MLflow pyfunc wrapper: calibrated reversion probabilities and calibrated outcomes.

    ``predict`` returns, for a model with a return calibrator, a frame with ``probability`` and
    the outcome columns (:meth:`CalibratedReversionModel.predict_outcomes`); for an older model,
    the probability per row.
    """

    def __init__(self, model: CalibratedReversionModel):
        self.model = model

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None):
        """Calibrated probability (and the outcome columns) for each row of features."""
        if getattr(self.model, "outcomes", None) is None:
            return self.model.predict_proba(model_input)
        return self.model.predict_outcomes(model_input)


class Tracker:
    """Thin wrapper over the MLflow client for one tracking URI and experiment.

    :meth:`connect` checks the store and selects (or creates) the experiment. With
    ``create_on_connect = False`` (what the command line sets) an embedded SQLite store is only
    created on first use, so a command failing on its input leaves no ``mlflow.db`` behind;
    library callers keep the eager default (e.g. to create a store before several workers
    share it).
    """

    #: Create an embedded SQLite store (and the experiment) in :meth:`connect`, not on first use.
    create_on_connect = True

    def __init__(self, cfg: TrackingConfig, uri: str | None = None):
        quiet_mlflow()
        self.cfg = cfg
        # precedence: explicit argument > MLFLOW_TRACKING_URI > tracking.uri (store_uri)
        self.uri = uri if uri is not None else store_uri(cfg)
        self._experiment_id: str | None = None
        # what the current run logged: registered versions and --promote read it
        self._run_metrics: dict[str, float] = {}
        self._run_tags: dict[str, str] = {}
        self._run_labels: dict[str, str] = {}
        self._run_name = ""
        # when the work began: the first top-level run starts here, so its duration is true
        # even when the command logs it only at the end (a 13-minute training showed 23 s)
        self._started: float | None = None

    # ---- connection -------------------------------------------------------------------------
    def connect(self) -> Tracker:
        """Check the store is reachable and select (or create) the experiment."""
        check_store(self.uri)
        use_store(self.uri)
        if self._started is None:
            self._started = time.time()
        if self.create_on_connect or not self.uri.startswith("sqlite:///"):
            self._open()  # a server or another database: any problem shows now
        # else an embedded SQLite store is created on first use (the first run), so a command
        # that fails on its input before logging anything leaves no mlflow.db behind
        return self

    def _open(self) -> None:

        if self.uri.startswith("sqlite:///"):
            Path(self.uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        use_store(self.uri)
        try:
            self._experiment_id = self._ensure_experiment(self.cfg.experiment)
        except TrackingError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise TrackingError(
                f"tracking store {self.uri}: {str(exc).splitlines()[0][:200]}; check tracking.uri"
            ) from None

    def _ensure_experiment(self, name: str) -> str:
        """Id of experiment ``name``, created if missing, tagged for the MLflow 3 runs view."""
        import mlflow

        exp = mlflow.get_experiment_by_name(name)
        if exp is None:
            loc = self.cfg.artifact_location
            if loc is None and not self.uri.startswith(("http://", "https://")):
                loc = Path("experiments/artifacts").resolve().as_uri()
            elif loc is not None and name != self.cfg.experiment:
                loc = loc.rstrip("/") + "/" + name
            try:
                exp_id = mlflow.create_experiment(name, loc, tags=dict([EXPERIMENT_KIND]))
            except Exception:
                # another process (a second tune worker on a new store) created it between
                # the look-up and the create: use theirs
                exp = mlflow.get_experiment_by_name(name)
                if exp is None:
                    raise
                exp_id = exp.experiment_id
        else:
            exp_id = exp.experiment_id
            if exp.tags.get(EXPERIMENT_KIND[0]) != EXPERIMENT_KIND[1]:
                mlflow.MlflowClient(self.uri).set_experiment_tag(exp_id, *EXPERIMENT_KIND)
        return exp_id

    @property
    def experiment_id(self) -> str:
        """The selected experiment's id (after :meth:`connect`)."""
        if self._experiment_id is None:
            self._open()
        assert self._experiment_id is not None
        return self._experiment_id

    # ---- runs -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def run(self, run_name: str | None = None, tags: dict[str, str] | None = None,
            nested: bool = False, parent_run_id: str | None = None) -> Iterator[Any]:
        """Start a run (optionally a child of ``parent_run_id``) and yield it.

        A ``kind`` tag of ``backtest`` sends the run to ``<experiment>-backtest``
        (:func:`~revertible.tracking.experiment_for`); every other run goes to the experiment.
        """
        import mlflow

        all_tags = {"revertible.version": __version__, "git_commit": git_commit()}
        all_tags.update(tags or {})
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        exp_id = self.experiment_id
        target = experiment_for(self.cfg.experiment, all_tags.get("kind"))
        if target != self.cfg.experiment:
            exp_id = self._ensure_experiment(target)
        self._run_metrics = {}
        self._run_labels: dict[str, str] = {}
        self._run_tags = dict(all_tags)
        self._run_name = run_name or ""
        started, self._started = self._started, None
        if started is not None and not nested and not parent_run_id \
                and mlflow.active_run() is None:
            # backdated to connect(): the run's duration covers the work done before logging
            created = mlflow.MlflowClient(self.uri).create_run(
                exp_id, start_time=int(started * 1000), tags=all_tags, run_name=run_name)
            ctx = mlflow.start_run(run_id=created.info.run_id)
        else:
            ctx = mlflow.start_run(experiment_id=exp_id, run_name=run_name, tags=all_tags,
                                   nested=nested)
        with ctx as run:
            yield run

    def log_params(self, params: dict[str, Any]) -> None:
        """Log parameters in batches (MLflow caps each batch and value length)."""
        import mlflow

        items = [(k, str(v)[:6000]) for k, v in params.items()]
        self._run_labels.update({k: v for k, v in items if is_problem_key(k)})
        for i in range(0, len(items), 90):
            mlflow.log_params(dict(items[i:i + 90]))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Log finite metrics (NaN/inf are skipped: MLflow cannot compare them).

        Headline metrics (:data:`~revertible.tracking.HEADLINE`) are also logged under their
        ``0_`` names, so they sort first in the UI.
        """
        import mlflow

        clean = {k: float(v) for k, v in metrics.items()
                 if v is not None and np.isfinite(float(v))}
        if step is None:
            # headline first: the run page lists metrics in the order they were logged
            clean = {**headline_metrics(clean), **clean}
            self._run_metrics.update(clean)
        items = list(clean.items())
        for i in range(0, len(items), 500):
            mlflow.log_metrics(dict(items[i:i + 500]), step=step)

    @staticmethod
    def log_text(text: str, path: str) -> None:
        """Log a text artifact."""
        import mlflow

        mlflow.log_text(text, path)

    @staticmethod
    def log_figure(fig: Any, path: str) -> None:
        """Log a matplotlib figure as an artifact and close it."""
        import matplotlib.pyplot as plt
        import mlflow

        mlflow.log_figure(fig, path)
        plt.close(fig)

    @staticmethod
    def log_table(df: pd.DataFrame, path: str) -> None:
        """Log a small DataFrame as a CSV artifact."""
        import mlflow

        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / Path(path).name
            df.to_csv(p, index=False)
            mlflow.log_artifact(str(p), str(Path(path).parent) if "/" in path else None)

    def log_model(self, model: CalibratedReversionModel, example: pd.DataFrame,
                  register: bool = True) -> Any:
        """Log the model (signature + input example) and register it; returns MLflow ModelInfo."""
        import mlflow
        from mlflow.models import infer_signature

        example = example[list(model.features)].head(5)
        signature = infer_signature(example, ReversionPyfunc(model).predict(None, example))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=ReversionPyfunc(model),
            signature=signature,
            input_example=example,
            registered_model_name=self.cfg.registered_model if register else None,
            pip_requirements=[f"revertible=={__version__}", "lightgbm", "scikit-learn", "pandas"],
        )
        version = getattr(info, "registered_model_version", None)
        if register and version is not None:
            from mlflow import MlflowClient

            describe_version(MlflowClient(self.uri), self.cfg.registered_model, str(version),
                             self._run_name, self._run_metrics,
                             self._run_tags)
        return info

    def log_dataset(self, panel: Any, context: str = "training") -> None:
        """Log the panel as an MLflow dataset: per-asset rows, fingerprint, range and assets."""
        import mlflow

        rows, tags = dataset_summary(panel)
        name = f"{Path(str(panel.source)).name or 'panel'} {tags['range']}"
        with warnings.catch_warnings():  # source-kind and integer-schema hints: not for users
            warnings.simplefilter("ignore")
            ds = mlflow.data.from_pandas(rows, source=str(panel.source) or None, name=name,
                                         digest=tags["fingerprint"][:36])
            mlflow.log_input(ds, context=context,
                             tags={k: v for k, v in tags.items() if k != "asset_list"})
        mlflow.set_tags({"data_range": tags["range"], "data_assets": tags["assets"]})
        self._run_tags.update(data_range=tags["range"],
                                              data_assets=tags["assets"])

    def promote(self, version: str | int, alias: str = "champion") -> str:
        """Point ``alias`` of the registered model at ``version``; say how it compares.

        Returns one line comparing this run's holdout metrics with the previous ``alias``
        (:func:`~revertible.tracking.compare_to_champion`); the alias moves either way (the
        user asked for it), the line says whether that was an improvement.
        """
        from mlflow import MlflowClient

        client = MlflowClient(self.uri)
        tags = self._run_tags
        verdict = compare_to_champion(client, self.cfg.registered_model,
                                      self._run_metrics,
                                      tags.get("data_fingerprint", ""),
                                      tags.get("holdout_start", ""), alias,
                                      labels=self._run_labels)
        client.set_registered_model_alias(self.cfg.registered_model, alias, str(version))
        return f"{alias} -> v{version}: {verdict}"


def _check_writable_sqlite(uri: str, db: Path) -> None:
    """Refuse an SQLite store that cannot be written, before any work.

    MLflow fails only when it first logs: after the whole training, and after minutes of retries.
    """
    if db.exists():
        ok, where = db.is_file() and os.access(db, os.W_OK), db
    else:
        where = db.parent
        while not where.exists() and where != where.parent:
            where = where.parent
        ok = where.is_dir() and os.access(where, os.W_OK)
    if not ok:
        raise TrackingError(
            f"tracking store {uri}: {where} is not a writable "
            f"{'file' if where == db else 'folder'}; point tracking.uri (or MLFLOW_TRACKING_URI) "
            "at a folder you can write, e.g. sqlite:///experiments/mlflow.db"
        )


def check_store(uri: str, *, need_existing: bool = False, what: str = "") -> None:
    """Fail fast, in one line, if the tracking store ``uri`` cannot serve a request.

    A server must answer ``/health`` within 5 s (not MLflow's minutes of retries). With
    ``need_existing`` (reading a registered model or a run), an SQLite store must already exist:
    reading would otherwise create an empty database and report "alias not found".
    """
    if uri.startswith(("http://", "https://")):
        import urllib.request

        try:
            urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5)
        except Exception as exc:  # noqa: BLE001 - any failure means unreachable
            need = f" to load {what}" if what else ""
            raise TrackingError(
                f"tracking server {uri} is unreachable{need} ({type(exc).__name__}); start it, "
                "or set tracking.uri / MLFLOW_TRACKING_URI to a reachable store "
                "(default sqlite:///experiments/mlflow.db)"
            ) from None
    elif uri.startswith("sqlite:///") and not need_existing:
        _check_writable_sqlite(uri, Path(uri[len("sqlite:///"):]))
    elif uri.startswith("sqlite:///") and need_existing:
        db = Path(uri[len("sqlite:///"):])
        if not db.is_file():
            need = f" {what}" if what else ""
            raise TrackingError(
                f"tracking store {uri}: no database at {db}, so it holds no model{need}; train "
                "one first (revertible train CONFIG --promote) or point tracking.uri / "
                "MLFLOW_TRACKING_URI at the store that has it"
            )


def load_model(uri: str, tracking_uri: str | None = None) -> CalibratedReversionModel:
    """Load a model from ``runs:/``, ``models:/name/version``, ``models:/name@alias`` or a path."""
    import mlflow

    quiet_mlflow()
    if tracking_uri:
        if uri.startswith(("runs:/", "models:/")):
            check_store(tracking_uri, need_existing=True, what=uri)
        use_store(tracking_uri)
    local = Path(uri)
    is_uri = "://" in uri or uri.startswith(("runs:/", "models:/"))
    if not is_uri and not local.exists():
        raise ModelError(f"model {uri}: no such folder; pass runs:/<id>/model, "
                         "models:/<name>@champion, models:/<name>/<version> or a model folder")
    rest = uri[len("models:/"):] if uri.startswith("models:/") else ""
    if uri.startswith("models:/") and "@" not in rest and "/" not in rest.strip("/"):
        name = rest.strip("/") or "<name>"
        raise ModelError(f"model {uri}: name a version or an alias of the registered model "
                         f"(models:/{name}/<version> or models:/{name}@champion)")
    try:
        loaded = mlflow.pyfunc.load_model(uri, suppress_warnings=True)
    except Exception as exc:  # noqa: BLE001
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if isinstance(exc, ModuleNotFoundError) and "revertible." in str(exc):
            raise ModelError(
                f"model {uri} was saved by an earlier revertible version ({first}): its return "
                "heads carried no held-out evidence and this version decides on a return "
                "calibrator; retrain it with `revertible train CONFIG` and use the new URI"
            ) from None
        raise ModelError(f"model {uri} cannot be loaded: {first}; check the URI and the "
                         "tracking store (tracking.uri / MLFLOW_TRACKING_URI)") from None
    try:  # a model of another flavour (sklearn, a foreign pyfunc) has no python model
        inner = loaded.unwrap_python_model()
    except Exception:  # noqa: BLE001
        inner = None
    if not isinstance(inner, ReversionPyfunc):
        flavor = getattr(getattr(loaded, "metadata", None), "flavors", {}) or {}
        kind = ", ".join(k for k in flavor if k != "python_function") or "pyfunc"
        raise ModelError(f"model {uri} is not a revertible model (an MLflow {kind} model); "
                         "pass one logged by `revertible train`, e.g. "
                         "models:/revertible-reversion@champion")
    return inner.model
