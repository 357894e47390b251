"""Clocks the benchmarks share: wall and CPU seconds, the load average, peak RSS.

The machine the benchmarks run on is shared: wall time moves with the load, the CPU seconds of
the process (user + system, all threads: :func:`cpu_s`) much less. Every benchmark prints both,
and the load average beside them.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager


def cpu_s() -> float:
    """User + system CPU seconds of this process so far (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def load1() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def load_text() -> str:
    """The 1-, 5- and 15-minute load averages, e.g. ``load 0.52 0.80 1.10``."""
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def wall_cpu(wall: float, cpu: float) -> str:
    """``"1.23 s wall, 1.10 s CPU"``: a stage's two clocks side by side."""
    return f"{wall:.2f} s wall, {cpu:.2f} s CPU"


class Laps:
    """Wall and CPU seconds of named stages: ``with laps("load"): ...``; ``laps[name]``."""

    def __init__(self) -> None:
        self.times: dict[str, tuple[float, float]] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name`` (a repeated name keeps its fastest wall time)."""
        t0, c0 = time.perf_counter(), cpu_s()
        yield
        lap = (time.perf_counter() - t0, cpu_s() - c0)
        if name not in self.times or lap[0] < self.times[name][0]:
            self.times[name] = lap

    def __getitem__(self, name: str) -> tuple[float, float]:
        return self.times[name]

    def text(self, name: str) -> str:
        """``wall_cpu`` of stage ``name``."""
        return wall_cpu(*self.times[name])
