"""Notifications through apprise: Telegram, Discord, Slack, e-mail, webhooks... one URL each.

Other commands call :func:`notify` with a short message (new decisions with their sizes, monitor
alerts, stale data or a stale model). The URLs are checked before a command does any work
(:func:`check_notify_urls`, a bad one is a one-line error); a delivery that fails later is a
warning, never a failed run: the cron job's data and ledger matter more than its messages.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import RevertibleError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["notify", "check_notify_urls"]

_log = logging.getLogger("revertible.notify")
_LEVELS = {"info", "success", "warning", "failure"}


def _apprise(urls: Sequence[str]):
    import apprise

    app = apprise.Apprise()
    for url in urls:
        if not url.strip():  # cron's --notify "$NOTIFY" with NOTIFY unset
            raise RevertibleError(
                "--notify is empty (an unset variable such as $NOTIFY?); set it to an apprise "
                "URL, e.g. NOTIFY=tgram://TOKEN/CHAT at the top of the crontab, or leave "
                "--notify out")
        if not app.add(url):
            scheme = url.split("://", 1)[0] if "://" in url else url
            raise RevertibleError(
                f"--notify {scheme}://...: not a notification URL apprise understands; use e.g. "
                "tgram://TOKEN/CHAT, discord://ID/TOKEN, slack://..., mailto://..., or "
                "json://host/path for a webhook")
    return app


def check_notify_urls(urls: Sequence[str] | None) -> None:
    """Fail early (one line, exit 2) if a ``--notify`` URL is not one apprise understands."""
    if urls:
        _apprise(urls)


def notify(urls: Sequence[str] | None, message: str, *, title: str = "revertible",
           level: str = "info") -> bool:
    """Send ``message`` to every URL; return whether all deliveries succeeded.

    Parameters
    ----------
    urls : sequence of str or None
        apprise URLs (``--notify``, repeatable); nothing is sent when empty.
    message : str
        The body: plain text, a few lines.
    title : str
        The title (Telegram and e-mail show it first).
    level : {"info", "success", "warning", "failure"}
        apprise's notification type.

    Returns
    -------
    bool
        True when every target accepted the message (or there was none).

    """
    if not urls:
        return True
    if level not in _LEVELS:
        raise ValueError(f"level {level!r}: use one of {sorted(_LEVELS)}")
    import apprise

    app = _apprise(urls)
    ok = bool(app.notify(body=message, title=title, notify_type=apprise.NotifyType(level)))
    if not ok:
        _log.warning(f"notification {title!r} could not be delivered to every --notify target; "
                     "check the URLs and the network (the run itself went on)")
    return ok
