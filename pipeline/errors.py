"""Outcomes of a stage that are not a plain success: every one newsflow raises on purpose.

    NewsflowError
    ├── TransientError          retry with backoff: timeouts, 5xx, 429, a busy search cluster
    │   ├── ServerBusy          the server answered 429, 408 or 5xx (maybe with Retry-After)
    │   └── HostBusy            politeness: the host may not be asked now; defer, spend no retry
    ├── PermanentError          dead-letter with the error: not HTML, unparseable, refused
    │   ├── HTTPStatusError     a 4xx answer that will not change on retry (404, 403, 410...)
    │   ├── TooLarge            the answer is over the byte limit (declared, or once decoded)
    │   ├── AddressRefused      the address guard refused the target before any request
    │   ├── InvalidURL          not an absolute http(s) URL (also a ValueError, as callers catch it)
    │   └── DeadlineExceeded    no complete answer within the whole-request deadline
    ├── Dropped                 not an error: ack, count under `dropped{reason}`, move on
    │   └── RobotsDisallowed    robots.txt disallows the URL for our user agent
    ├── RawStoreMisconfigured   the raw store cannot be used as set (no such bucket): stop at start-up
    └── FeedsFileError          a feeds file that is no feeds file (also a ValueError): a setting to fix

Every message says what failed, for which input, and what happens next. Callers tell outcomes
apart by class (and attributes such as `status`), never by the text of a message.
"""

from __future__ import annotations


class NewsflowError(Exception):
    """Base of every error newsflow raises on purpose."""


class TransientError(NewsflowError):
    """May succeed later; `retry_after` (seconds) is a hint from the server, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerBusy(TransientError):
    """The server answered 429, 408 or 5xx: try again later (after `retry_after`, when given)."""

    def __init__(self, message: str, status: int, retry_after: float | None = None, url: str | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status
        self.url = url  # the address that answered (after redirects), when known


class HostBusy(TransientError):
    """The host may not be asked now (back-off, rate or concurrency): come back after `retry_after`.

    Not a failure of the item: a task defers itself without spending a retry.
    """

    def __init__(self, message: str, retry_after: float, reason: str) -> None:
        super().__init__(message, retry_after=retry_after)
        self.reason = reason


class PermanentError(NewsflowError):
    """Will fail again the same way: keep it as a dead letter for an operator."""


class HTTPStatusError(PermanentError):
    """The server answered with a 4xx status that will not change on retry (404, 403, 410...)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class TooLarge(PermanentError):
    """The answer is larger than `limit` bytes: declared so, or found so while reading or inflating."""

    def __init__(self, url: str, limit: int, declared: int | None = None) -> None:
        if declared is not None:
            message = f"fetch {url}: {declared} bytes declared, over the {limit}-byte limit; not fetched"
        else:
            message = f"fetch {url}: body over the {limit}-byte limit; not kept"
        super().__init__(message)
        self.url = url
        self.limit = limit
        self.declared = declared


class AddressRefused(PermanentError):
    """The target resolves to an address outside what the operator allows."""


class InvalidURL(PermanentError, ValueError):
    """Not an absolute http(s) URL that can be fetched: no such scheme, no host, a bad port or address."""


class DeadlineExceeded(PermanentError):
    """A fetch got no complete answer (redirects, headers and body) within the total deadline.

    Permanent, not transient: a server that drips its answer would hold a worker for the whole
    deadline at every retry, so the task is dead-lettered at once, where an operator sees it.
    """

    def __init__(self, url: str, seconds: float) -> None:
        super().__init__(f"fetch {url}: no complete answer within {seconds:g} s (total deadline); dead-lettered")
        self.url = url
        self.seconds = seconds


class Dropped(NewsflowError):
    """The item is deliberately not carried further (duplicate, not an article, ...)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class RobotsDisallowed(Dropped):
    """robots.txt of the host disallows this URL for our user agent."""

    def __init__(self, url: str) -> None:
        super().__init__("robots", f"{url} is disallowed by robots.txt; not fetched")
        self.url = url


class RawStoreMisconfigured(NewsflowError):
    """The raw store cannot be used as configured (no such bucket, credentials refused): fix the
    settings. Raised at start-up; the CLI exits 2 with the message."""

    exit_code = 2


class FeedsFileError(NewsflowError, ValueError):
    """A feeds file that cannot be read as one (unreadable, not YAML, a bad or unknown entry): a
    setting to fix. The CLI exits 2 with the message, which names the file and the entry."""

    exit_code = 2
