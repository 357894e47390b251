"""The study's parent MLflow run: never left RUNNING by a tune that was stopped or killed.

* Ctrl-C (SIGINT) and ``kill`` (SIGTERM) raise :class:`KeyboardInterrupt` inside :func:`tune`, so
  the parent run's context ends it as FAILED (and Optuna fails the running trial).
* ``kill -9`` or a crash of the machine leaves no chance to clean up: the parent records its host
  and process id (tags ``tune.host``, ``tune.pid``), and the next start of the same study marks
  every RUNNING parent of that study whose process is gone FAILED (tag ``tune.end``). Parents
  started on other hosts cannot be checked from here and are left as they are; their own next
  start on that host fails them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["fail_orphaned_parents"]


def parent_tags() -> dict[str, str]:
    """Tags that let a later start tell whether this parent's process is still alive."""
    return {"tune.host": socket.gethostname(), "tune.pid": str(os.getpid())}


def _alive(pid: int) -> bool:
    if pid == os.getpid():  # a recycled id: the earlier owner is gone (this one has no parent yet)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def fail_orphaned_parents(tracking_uri: str, experiment_id: str, study: str) -> list[str]:
    """Mark FAILED the RUNNING parent runs of ``study`` on this host whose process is gone.

    Returns the run ids that were marked.
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri)
    name = study.replace("'", "\\'")
    runs = client.search_runs(
        [experiment_id],
        f"tags.`optuna.study` = '{name}' and tags.`tune.role` = 'study' "
        "and attributes.status = 'RUNNING'",
    )
    host = socket.gethostname()
    marked = []
    for run in runs:
        tags = run.data.tags
        pid = tags.get("tune.pid", "")
        if tags.get("tune.host") != host or not pid.isdigit() or _alive(int(pid)):
            continue
        client.set_tag(run.info.run_id, "tune.end",
                       f"process {pid} gone; marked FAILED by a later start of the study")
        client.set_terminated(run.info.run_id, "FAILED")
        marked.append(run.info.run_id)
    return marked


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (main thread only; else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):  # noqa: ARG001 - signal API
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
