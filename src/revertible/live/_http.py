"""HTTP for the downloader: a request-rate limiter, retries with backoff, one-line errors.

Every request the downloader makes (the public archive through :func:`get`, the REST API through
ccxt) first waits on one :class:`RateLimiter`, so the requests of one run are spaced at least
``1 / rate`` seconds apart whatever the endpoint. A network failure or an HTTP 429/5xx is retried
``retries`` times, waiting ``backoff * 2**k`` seconds before retry ``k``; then it is a
:class:`DownloadError` (one line, exit code 2).
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, TypeVar

from ..errors import RevertibleError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DownloadError", "RateLimiter", "Retry", "get"]

T = TypeVar("T")
_USER_AGENT = "revertible-download/1 (+https://pypi.org/project/revertible)"


class DownloadError(RevertibleError):
    """A download failed: the server is unreachable, refused the request or sent bad data."""


class RateLimiter:
    """At most ``rate`` requests a second: each :meth:`wait` returns ``1/rate`` s after the last.

    Parameters
    ----------
    rate : float
        Requests per second (> 0).

    """

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise RevertibleError(f"--rate must be > 0 requests a second, but got {rate}")
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()
        self.count = 0

    def wait(self) -> float:
        """Block until the next request may start; return that instant (``time.monotonic()``).

        Two returned instants are at least ``1/rate`` s apart (no burst).
        """
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                time.sleep(self._next - now)
                now = time.monotonic()
            self._next = now + self.interval
            self.count += 1
            return now


class Retry:
    """Run a request under the limiter, retrying transient failures with exponential backoff.

    Parameters
    ----------
    limiter : RateLimiter
        Waited on before every attempt.
    retries : int
        Retries after the first attempt.
    backoff : float
        Seconds before the first retry; doubled for each next one.

    """

    def __init__(self, limiter: RateLimiter, retries: int = 4, backoff: float = 1.0) -> None:
        self.limiter, self.retries, self.backoff = limiter, retries, backoff

    def __call__(self, what: str, call: Callable[[], T],
                 transient: Callable[[BaseException], bool]) -> T:
        """Return ``call()``; a ``transient`` failure is retried, the last one re-raised."""
        for attempt in range(self.retries + 1):
            self.limiter.wait()
            try:
                return call()
            except Exception as exc:
                if not transient(exc) or attempt == self.retries:
                    raise
                time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code == 429 or exc.code == 418 or exc.code >= 500
    return isinstance(exc, (urllib.error.URLError, TimeoutError, ConnectionError))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def get(url: str, retry: Retry, *, timeout: float = 30.0) -> bytes | None:
    """GET ``url``; ``None`` on HTTP 404 (the archive has no such file).

    Raises
    ------
    DownloadError
        When the server cannot be reached or keeps failing after the retries.

    """
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})

    def call() -> bytes | None:
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) only
                return resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404 or exc.code == 403:  # the archive answers 404 (S3: 403) when absent
                return None
            raise

    try:
        return retry(url, call, _transient)
    except Exception as exc:  # noqa: BLE001 - any failure after the retries is one line
        raise DownloadError(
            f"cannot download {url}: {_reason(exc)} after {retry.retries + 1} attempts; check the "
            "network (or --archive-url) and rerun: what was written so far is kept"
        ) from None
