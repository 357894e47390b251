"""The README's live loop as cron runs it: set-up once, then ``download && paper && monitor``.

The one-time set-up and the crontab line are read from README.md ("Running it live") and run
against the local fake venue (``FakeVenue``, its clock ``now`` moved hour by hour) with a local
webhook for ``--notify``. The commands' own clock is moved with time-machine to a few minutes past
each hour, as cron starts them. Every hour runs the crontab's three commands in process through
the CLI, stopping at the first non-zero exit as ``sh``'s ``&&`` does (fast: the imports are paid
once); one hour runs the crontab line itself through ``sh`` and ``flock`` in a subprocess, with
``.venv/bin/revertible`` a shim that sets the clock and calls the real entry point.

The only changes to the README's lines: the folder (``cd``, the lock file), the venue
(``--archive-url``/``--api-url`` pointed at the fake venue, ``--rate 1000``), five perpetuals
instead of three (three pairs decide no trade in these weeks), and the config edits a user makes
after ``cp`` (the data folder; maker fills and a looser gate, as in
``tests/workflows/test_paper_live.py``, so the weeks trade).

Timeline (UTC; the set-up on 2024-08-10, the machine then off for a week, back for a few hours):
the first cron run starts the ledger; the run after the week catches up; a second run in the same
hour changes nothing; a decision at a close is notified, booked the next hour; the venue is
unreachable for one hour (download exits 2, paper and monitor do not run); the next hour catches
up; a tightened monitor threshold breaches (exit 3) in the hour run through ``sh``, where one asset
is also delisted (download notifies it as left behind).
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import time_machine
from typer.testing import CliRunner

from revertible.backtest import TRADE_COLUMNS
from revertible.cli import app
from revertible.workflows import read_ledger

from .live_fake_venue import FakeVenue
from .live_webhook import Receiver

pytestmark = [pytest.mark.realdata, pytest.mark.slow]  # a model is trained (about 10 s)

REPO = Path(__file__).resolve().parents[2]
ASSETS = ("BTC", "ETH", "SOL", "DOGE", "XRP")
SETUP = pd.Timestamp("2024-08-10 00:07", tz="UTC")
FIRST = pd.Timestamp("2024-08-10 01:07", tz="UTC")  # the first cron run: the ledger's start
HOURS = pd.date_range("2024-08-17 16:07", periods=4, freq="h", tz="UTC")  # after a week off
DOWN = pd.Timestamp("2024-08-17 20:07", tz="UTC")  # the venue does not answer
CATCH_UP = pd.Timestamp("2024-08-17 21:07", tz="UTC")
SHELL = pd.Timestamp("2024-08-17 22:07", tz="UTC")  # the crontab line through sh: a breach
DEAD = "http://127.0.0.1:9"
# the edits a user makes to the copied config (besides the data folder)
LOOSE = ("decision:\n  confidence: 0.51\n  drift_days: null\n  shrinkage: 0\n"
         "  min_bin_trades: 2\n")


def _readme_lines() -> tuple[list[str], str]:
    """The set-up block's lines and the crontab line, as README.md gives them."""
    text = (REPO / "README.md").read_text()
    setup = next(b for b in re.findall(r"```bash\n(.*?)```", text, re.S)
                 if "--promote" in b and "download" in b)
    cron = re.search(r"```cron\n(.*?)```", text, re.S).group(1).strip()
    lines = [re.sub(r"\s+#.*", "", ln).strip() for ln in setup.splitlines()]
    return [ln for ln in lines if ln], cron


def _commands(cron: str) -> list[list[str]]:
    """The crontab's ``sh -c '...'`` body split into its ``&&``-chained commands."""
    body = re.search(r"sh -c '(.*)'", cron).group(1)
    cmds = [shlex.split(part) for part in body.split(" && ")]
    assert all(c[0] == ".venv/bin/revertible" for c in cmds), cmds
    return [c[1:] for c in cmds]


def _six(src: Path | bytes) -> pd.DataFrame:
    """A data file's six standard columns (from its path or its bytes)."""
    df = pd.read_feather(io.BytesIO(src) if isinstance(src, bytes) else src)
    df = df[["date", "open", "high", "low", "close", "volume"]]
    df["date"] = df["date"].dt.as_unit("ns")
    return df


class Cron:
    """The project folder a user set up, the venue, the webhook, and every hour's record."""

    def __init__(self, root: Path, shared: Path, venue: FakeVenue, rec: Receiver) -> None:
        self.home, self.shared, self.venue, self.rec = root, shared, venue, rec
        self.proj = root / "revertible"
        self.setup_lines, self.cron = _readme_lines()
        self.chain = _commands(self.cron)
        self.hours: dict[pd.Timestamp, dict] = {}

    def venue_opts(self, url: str | None = None) -> list[str]:
        url = url or self.venue.url
        return ["--archive-url", url, "--api-url", url, "--rate", "1000"]

    def cli(self, args: list[str], now: pd.Timestamp):
        with time_machine.travel(now.to_pydatetime(), tick=True):
            return CliRunner().invoke(app, args)

    def run_hour(self, now: pd.Timestamp, *, url: str | None = None, extra: tuple = ()) -> dict:
        """The crontab's chain at ``now``: each command in turn while the last exited 0."""
        self.venue.now = now
        sent = len(self.rec.got)
        codes, out = [], []
        for args in self.chain:
            args = [self.rec.url if a == "$NOTIFY" else a for a in args]
            if args[0] == "download":
                args += [*self.venue_opts(url), *extra]
            res = self.cli(args, now)
            codes.append(res.exit_code)
            out.append(res.output)
            if res.exit_code == 1:  # an uncaught exception: keep its traceback for the report
                out.append("".join(traceback.format_exception(res.exception)))
            if res.exit_code != 0:
                break
        rec = {"codes": codes, "output": out, "sent": self.rec.got[sent:], **self.state()}
        self.hours.setdefault(now, rec)
        return rec

    def state(self) -> dict:
        """The data files' bytes, the ledger's bytes and runs, the monitor page's JSON."""
        data = self.proj / "data" / "perp"
        path = self.proj / "live" / "ledger.sqlite"
        ledger = read_ledger(path)
        page = self.proj / "live" / "monitor" / "monitor.json"
        return {"files": {p.name: p.read_bytes() for p in sorted(data.glob("*.feather"))},
                "ledger": None if ledger is None else path.read_bytes(),
                "runs": None if ledger is None else ledger.runs,
                "page": page.read_text() if page.exists() else None}


@pytest.fixture
def cron(shared_data, tmp_path, monkeypatch):
    """The set-up and every hour of the timeline, run once (one test: one run under xdist)."""
    rec = Receiver()
    with FakeVenue(shared_data, now=SETUP, symbols=ASSETS) as venue:
        c = Cron(tmp_path, shared_data, venue, rec)
        c.proj.mkdir()
        monkeypatch.chdir(c.proj)
        c.setup_out = _setup(c)
        for now in [FIRST, *HOURS]:
            c.run_hour(now)
            if now == HOURS[0]:  # a second run in the same hour (a manual run, a late timer)
                c.again = c.run_hour(now + pd.Timedelta(minutes=30))
        c.run_hour(DOWN, url=DEAD, extra=("--retries", "0"))
        c.run_hour(CATCH_UP)
        (c.home / "hourly.sqlite").write_bytes(c.hours[CATCH_UP]["ledger"])  # for comparison
        c.oneshot = c.cli(["paper", "live.yaml", "--model", _model_uri(c), "--ledger",
                           "live/oneshot.sqlite", "--since", str(_last_bar(FIRST))], CATCH_UP)
        _shell_hour(c)
        yield c
    rec.close()


def _model_uri(c: Cron) -> str:
    return c.chain[1][c.chain[1].index("--model") + 1]


def _setup(c: Cron) -> list:
    """The README's set-up lines after ``make install``, in the project folder."""
    results = []
    for line in c.setup_lines:
        if line.startswith(("git clone", "make install")) or " make install" in line:
            continue
        if line.startswith("cp "):
            src, dst = shlex.split(line)[1:3]
            text = (REPO / src).read_text()
            text = re.sub(r"(path|funding_path): .*binance-futures-1h-2024",
                          r"\1: data/perp", text)
            assert text.count("data/perp") == 2, "data.path and funding_path point at the folder"
            (c.proj / dst).write_text(text.replace("fill: taker", "fill: maker") + LOOSE)
            continue
        if line.startswith("mkdir"):
            subprocess.run(line, shell=True, cwd=c.proj, check=True)
            continue
        args = shlex.split(line)
        assert args[0] == ".venv/bin/revertible", line
        args = args[1:]
        if args[0] == "download":
            args[args.index("--assets") + 1] = ",".join(ASSETS)
            args += c.venue_opts()
        res = c.cli(args, SETUP)
        assert res.exit_code == 0, (line, res.output)
        results.append(res)
    return results


def _shell_hour(c: Cron) -> None:
    """The crontab line itself: sh, flock, ``&&`` and the log, with a tightened monitor."""
    venv = c.proj / ".venv" / "bin"
    venv.mkdir(parents=True)
    shim = venv / "revertible"
    shim.write_text(f"#!{sys.executable}\n"
                    "import os, sys\nimport time_machine\n"
                    "time_machine.travel(float(os.environ['CRON_TEST_NOW']), tick=True).start()\n"
                    "from revertible.cli import main\nsys.exit(main())\n")
    shim.chmod(0o755)
    cfg = c.proj / "live.yaml"
    cfg.write_text(cfg.read_text() + "monitor:\n  max_ece: 0.01\n")  # a threshold now breached
    line = c.cron.split(" ", 5)[5]  # after the five schedule fields
    for was, now in (("cd $HOME/revertible", f"cd {shlex.quote(str(c.proj))}"),
                     ("/tmp/revertible.lock", str(c.home / "revertible.lock")),
                     ("download live.yaml", "download live.yaml " + " ".join(c.venue_opts()))):
        assert line.count(was) == 1, f"the crontab line no longer has {was!r}: {line}"
        line = line.replace(was, now)  # (never the real venue: the test stays offline)
    env = {"PATH": os.environ["PATH"], "HOME": str(c.home), "NOTIFY": c.rec.url,
           "PYTHONPATH": str(REPO / "src"), "CRON_TEST_NOW": str(SHELL.timestamp()),
           **{k: v for k, v in os.environ.items() if k.startswith(("NUMBA", "REVERTIBLE"))}}
    c.venue.now = SHELL
    c.venue.delisted = {"XRP"}  # REST no longer lists it: the archive only, behind the others
    sent = len(c.rec.got)
    log = c.proj / "live" / "cron.log"
    before = log.read_text() if log.exists() else ""
    proc = subprocess.run(["sh", "-c", line], env=env, capture_output=True, text=True,
                          timeout=300)
    c.shell = {"rc": proc.returncode, "stdout": proc.stdout + proc.stderr,
               "log": log.read_text()[len(before):], "sent": c.rec.got[sent:], **c.state()}
    # a second start while the first holds the lock: flock -n gives up at once, nothing runs
    with open(c.home / "revertible.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        again = subprocess.run(["sh", "-c", line], env=env, capture_output=True, text=True,
                               timeout=60)
    c.locked = {"rc": again.returncode, "log": log.read_text(), "sent": c.rec.got[sent:]}


# ------------------------------------------------------------------ the set-up


def _the_setup_gives_the_cron_line_its_model_folders_and_config(cron: Cron) -> None:
    proj = cron.proj
    assert (proj / "live").is_dir() and (proj / "live.yaml").is_file()
    for a in ASSETS:  # the perpetuals with funding and mark prices, up to the setup's last bar
        for suffix in ("-1h-futures", "-8h-funding_rate", "-8h-mark"):
            assert (proj / "data" / "perp" / f"{a}_USDT_USDT{suffix}.feather").is_file()
    first = cron.hours[FIRST]
    assert first["codes"] == [0, 0, 0], first["output"]
    # the alias the cron line names was made by `train --promote`
    assert "champion" in cron.setup_out[-1].output
    assert f"monitor {_model_uri(cron).rsplit('@', 1)[0]}/1" in first["output"][2]


# ------------------------------------------------------------------ hour by hour


def _last_bar(now: pd.Timestamp) -> pd.Timestamp:
    return now.floor("h") - pd.Timedelta(hours=1)


def _each_hour_extends_the_data_the_ledger_and_the_page(cron: Cron) -> None:
    prev = None
    for now in [FIRST, *HOURS, CATCH_UP]:
        h = cron.hours[now]
        assert h["codes"] == [0, 0, 0], (now, h["output"])
        last = _last_bar(now)
        for name, blob in h["files"].items():
            if "-1h-futures" in name:  # every closed bar, none still forming
                assert _six(blob)["date"].iloc[-1] == last, (now, name)
        assert h["runs"]["last_bar"].iloc[-1] == last.isoformat()
        page = json.loads(h["page"])
        assert pd.Timestamp(page["at"]) == last
        if prev is not None:
            assert len(h["runs"]) == len(prev["runs"]) + 1
            assert h["files"] != prev["files"] and h["ledger"] != prev["ledger"]
        prev = h
    # the files equal the venue's data (the archive's days, then REST) to the last closed bar
    # (funding: the last event; mark prices: the last 8h bar closed, none still forming)
    for a in ASSETS:
        for kind, known in (("1h-futures", CATCH_UP - pd.Timedelta(hours=1)),
                            ("8h-funding_rate", CATCH_UP), ("8h-mark", CATCH_UP - pd.Timedelta(
                                hours=8))):
            name = f"{a}_USDT_USDT-{kind}.feather"
            want = _six(cron.shared / "binance-futures-1h-2024" / name)
            want = want[(want["date"] >= pd.Timestamp("2024-01-01", tz="UTC"))
                        & (want["date"] <= known)].reset_index(drop=True)
            got = _six(cron.hours[CATCH_UP]["files"][name])
            pd.testing.assert_frame_equal(got, want, check_exact=True, obj=name)


def _a_second_run_in_the_same_hour_changes_nothing(cron: Cron) -> None:
    first, again = cron.hours[HOURS[0]], cron.again
    assert again["codes"] == [0, 0, 0], again["output"]
    assert again["files"] == first["files"] and again["ledger"] == first["ledger"]
    assert again["page"] == first["page"]
    assert "up to date" in again["output"][0] and "nothing changed" in again["output"][1]
    assert not [m for m in again["sent"] if "paper" in m["title"]]  # nothing new to announce


def _hour_by_hour_equals_one_run_over_the_whole_span(cron: Cron) -> None:
    assert cron.oneshot.exit_code == 0, cron.oneshot.output
    key = ["entry_time", "asset_a", "asset_b"]
    live = read_ledger(cron.home / "hourly.sqlite")  # as it was after the same hour
    one = read_ledger(cron.proj / "live" / "oneshot.sqlite")
    got = live.trades.sort_values(key).reset_index(drop=True)
    want = one.trades.sort_values(key).reset_index(drop=True)
    assert len(got) >= 3 and (got["status"] == "closed").any() and (got["status"] == "open").any()
    assert len(got) == len(want)
    for col in [*TRADE_COLUMNS, "status"]:
        x, y = got[col], want[col]
        if pd.api.types.is_float_dtype(x):
            np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=1e-9,
                                       atol=1e-9, err_msg=col)
        else:
            assert list(x.astype(str)) == list(y.astype(str)), col
    con = [sqlite3.connect(f) for f in (cron.home / "hourly.sqlite",
                                        cron.proj / "live" / "oneshot.sqlite")]
    try:
        marks = [c.execute("SELECT time, equity FROM marks ORDER BY time").fetchall()
                 for c in con]
    finally:
        for c in con:
            c.close()
    assert [t for t, _ in marks[0]] == [t for t, _ in marks[1]]
    np.testing.assert_allclose([e for _, e in marks[0]], [e for _, e in marks[1]], rtol=1e-12)


def _decisions_are_notified_then_booked_the_next_hour(cron: Cron) -> None:
    announced = booked = 0
    for prev, now in zip(HOURS[:-1], HOURS[1:], strict=True):
        said = [m for m in cron.hours[prev]["sent"] if m["title"] == "revertible paper: "
                "new decisions" and "decided at the last close" in m["message"]]
        pending = {p for m in said for p in re.findall(r"(\S+~\S+) \(z", m["message"])}
        announced += len(pending)
        runs = cron.hours[now]["runs"]
        new = read_ledger(cron.proj / "live" / "ledger.sqlite").trades
        new = new[new["opened_run"] == runs["run"].iloc[-1]]
        booked_now = {f"{a}~{b}" for a, b in zip(new["asset_a"], new["asset_b"], strict=True)}
        assert pending <= booked_now, (prev, pending, booked_now)
        booked += len(pending)
        if booked_now:
            msg = [m for m in cron.hours[now]["sent"] if "new decisions" in m["title"]]
            assert msg and "new trade(s)" in msg[0]["message"]
    assert announced >= 1 and booked == announced


def _no_stale_model_warning_after_the_setup(cron: Cron) -> None:
    for now in [FIRST, *HOURS]:
        stale = [m for m in cron.hours[now]["sent"] if "stale" in m["title"]]
        assert stale == [], (now, stale)
        assert "training data ends" not in cron.hours[now]["output"][1]


def _a_failed_download_stops_the_chain_and_is_notified(cron: Cron) -> None:
    down, before = cron.hours[DOWN], cron.hours[HOURS[-1]]
    assert down["codes"] == [2]  # paper and monitor did not run
    assert down["files"] == before["files"] and down["ledger"] == before["ledger"]
    assert down["page"] == before["page"]
    assert [m["type"] for m in down["sent"]] == ["failure"]
    assert "download failed" in down["sent"][0]["message"]
    # the next hour catches up both bars; the ledger's runs go on from where they stopped
    up = cron.hours[CATCH_UP]
    assert up["codes"] == [0, 0, 0]
    assert list(up["runs"]["last_bar"].iloc[-2:]) == [_last_bar(HOURS[-1]).isoformat(),
                                                      _last_bar(CATCH_UP).isoformat()]


def _the_crontab_line_through_sh_exits_3_on_a_breach_and_notifies(cron: Cron) -> None:
    sh = cron.shell
    assert sh["rc"] == 3, sh["log"]
    assert sh["stdout"] == ""  # everything goes to live/cron.log
    # download ran (a bar added), paper ran (a run for the new bar), monitor ran and alerted
    assert "ok: " in sh["log"] and "new bar(s) processed" in sh["log"]
    assert "ALERT:" in sh["log"] and "alert: " in sh["log"] and "ece" in sh["log"].lower()
    assert sh["runs"]["last_bar"].iloc[-1] == _last_bar(SHELL).isoformat()
    titles = [m["title"] for m in sh["sent"]]
    assert "revertible monitor alert" in titles
    # XRP no longer listed: the download names it as left behind
    stale = [m for m in sh["sent"] if m["title"] == "revertible: stale data"]
    assert stale and "XRP/USDT perp: last bar" in stale[0]["message"]
    # while another run holds the lock, a start gives up at once: nothing runs, nothing sent
    assert cron.locked["rc"] == 1
    assert cron.locked["log"] == (cron.proj / "live" / "cron.log").read_text()
    assert cron.locked["sent"] == sh["sent"]



# ------------------------------------------------------------------ the test


def test_the_readme_live_loop_hour_by_hour_as_cron_runs_it(cron):
    _the_setup_gives_the_cron_line_its_model_folders_and_config(cron)
    _each_hour_extends_the_data_the_ledger_and_the_page(cron)
    _a_second_run_in_the_same_hour_changes_nothing(cron)
    _hour_by_hour_equals_one_run_over_the_whole_span(cron)
    _decisions_are_notified_then_booked_the_next_hour(cron)
    _no_stale_model_warning_after_the_setup(cron)
    _a_failed_download_stops_the_chain_and_is_notified(cron)
    _the_crontab_line_through_sh_exits_3_on_a_breach_and_notifies(cron)
