"""Time the gaps between the progress lines a ``revertible`` command prints (not a test).

Usage::

    python benchmarks/progress_gaps.py -- train configs/binance-spot-1h.yaml
    python benchmarks/progress_gaps.py --json -- pairs configs/binance-spot-1h.yaml

Runs ``python -m revertible <args>`` in a fresh process, stamps every line it writes on standard
error (progress, heartbeats, warnings) and standard output with the wall time since the start,
and prints the longest silence: between the start and the first line, between two lines, and
between the last line and the end. The promise is at most ``HEARTBEAT_EVERY`` (10 s) between two
lines once the command has started (the first gap also holds Python's imports).
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass, field


@dataclass
class Gaps:
    """Stamped lines of one run and the gaps between them."""

    lines: list[tuple[float, str]] = field(default_factory=list)
    end: float = 0.0
    returncode: int = 0

    @property
    def gaps(self) -> list[tuple[float, float, str]]:
        """``(seconds, at, line before)`` for start->first, line->line and last->end."""
        stamps = [0.0, *(t for t, _ in self.lines), self.end]
        texts = ["(start)", *(text for _, text in self.lines)]
        pairs = zip(stamps[:-1], stamps[1:], strict=True)
        return [(b - a, a, texts[i]) for i, (a, b) in enumerate(pairs)]

    def longest(self, skip_first: bool = True) -> tuple[float, float, str]:
        """The longest gap (without the start->first one, which holds the imports)."""
        gaps = self.gaps[1:] if skip_first and len(self.gaps) > 1 else self.gaps
        return max(gaps, key=lambda g: g[0])


def run(args: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> Gaps:
    """Run ``python -m revertible *args`` and stamp its output lines."""
    out = Gaps()
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "revertible", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, cwd=cwd)
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    for stream in (proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)
        sel.register(stream, selectors.EVENT_READ)
    buffers = {proc.stdout: b"", proc.stderr: b""}
    open_streams = 2
    while open_streams:
        for key, _ in sel.select(timeout=0.5):
            chunk = key.fileobj.read()  # type: ignore[union-attr]
            now = time.monotonic() - t0
            if not chunk:
                sel.unregister(key.fileobj)
                open_streams -= 1
                continue
            buf = buffers[key.fileobj] + chunk  # type: ignore[index]
            *done, buf = buf.split(b"\n")
            buffers[key.fileobj] = buf  # type: ignore[index]
            out.lines.extend((now, d.decode(errors="replace")) for d in done if d.strip())
    out.returncode = proc.wait()
    out.end = time.monotonic() - t0
    return out


def main() -> None:  # pragma: no cover - a script
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="-- <revertible arguments>")
    ns = parser.parse_args()
    args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
    res = run(args)
    secs, at, before = res.longest()
    if ns.json:
        print(json.dumps({"command": args, "returncode": res.returncode, "wall_s": res.end,
                          "lines": len(res.lines), "longest_gap_s": secs, "gap_at_s": at,
                          "after_line": before, "first_line_s": res.gaps[0][0]}))
        return
    for t, text in res.lines:
        print(f"{t:8.1f} s  {text}")
    print(f"exit {res.returncode} after {res.end:.1f} s; {len(res.lines)} lines; first after "
          f"{res.gaps[0][0]:.1f} s; longest gap {secs:.1f} s at {at:.1f} s after {before!r}")


if __name__ == "__main__":  # pragma: no cover
    main()
