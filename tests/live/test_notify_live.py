"""Notifications: a local webhook receiver gets the message through apprise's json:// target."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from revertible.cli import app
from revertible.errors import RevertibleError
from revertible.live import check_notify_urls, notify

from .live_fake_venue import FakeVenue
from .live_webhook import Receiver


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_notify_reaches_a_webhook(receiver):
    msg = "new decisions: BTC/ETH revert, legs +1,000 / -1,020 USDT"
    assert notify([receiver.url, receiver.url], msg, title="revertible paper", level="warning")
    assert len(receiver.got) == 2
    body = receiver.got[0]
    assert body["path"] == "/hook" and body["message"] == msg
    assert body["title"] == "revertible paper" and body["type"] == "warning"


def test_nothing_sent_without_targets_and_bad_urls_fail_early(receiver):
    assert notify(None, "x") and notify([], "x")
    assert receiver.got == []
    with pytest.raises(RevertibleError, match="not a notification URL"):
        check_notify_urls(["nosuchscheme://x"])


@pytest.mark.parametrize("url", ["", "  "])
def test_empty_url_is_named_as_empty(url):
    # the README's crontab passes --notify "$NOTIFY"; unset, it was "--notify ://...: not a
    # notification URL", which hides the cause
    with pytest.raises(RevertibleError, match=r"--notify is empty .*\$NOTIFY"):
        check_notify_urls([url])


def test_undeliverable_is_a_warning_not_a_failure(caplog):
    dead = Receiver()
    url = dead.url
    dead.close()
    assert notify([url], "hello") is False


@pytest.mark.realdata
def test_download_failure_is_notified(shared_data, tmp_path, receiver):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"name: live\ndata:\n  path: {tmp_path / 'spot'}\n")
    with FakeVenue(shared_data, corrupt=("BTCUSDT-1h-2024-01.zip",)) as v:
        res = CliRunner().invoke(app, [
            "download", str(cfg), "--assets", "BTC", "--since", "2024-01-01", "--until",
            "2024-01-03", "--archive-url", v.url, "--api-url", v.url, "--rate", "500",
            "--notify", receiver.url])
    assert res.exit_code == 2
    assert len(receiver.got) == 1 and receiver.got[0]["type"] == "failure"
    assert "checksum mismatch" in receiver.got[0]["message"]


@pytest.mark.realdata
def test_download_notifies_a_stale_asset(shared_data, tmp_path, receiver):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"name: live\ndata:\n  path: {tmp_path / 'spot'}\n")
    # ETH is delisted on the venue: the archive's months only, so it ends behind BTC, whose
    # last bar is the last of the --until day
    with FakeVenue(shared_data, symbols=("BTC", "ETH"), delisted=("ETH",),
                   archive_end="2024-02-01") as v:
        res = CliRunner().invoke(app, [
            "download", str(cfg), "--assets", "BTC,ETH", "--since", "2024-01-01", "--until",
            "2024-02-02", "--archive-url", v.url, "--api-url", v.url, "--rate", "500",
            "--notify", receiver.url])
    assert res.exit_code == 0, res.output
    assert len(receiver.got) == 1 and receiver.got[0]["type"] == "warning"
    text = receiver.got[0]["message"]
    assert "ETH/USDT spot: last bar 2024-01-31 23:00 UTC, behind 2024-02-02 23:00" in text
    assert pd.read_feather(tmp_path / "spot" / "BTC_USDT-1h.feather")["date"].iloc[-1] == \
        pd.Timestamp("2024-02-02 23:00", tz="UTC")
