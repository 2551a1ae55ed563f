"""Outcomes of a stage that are not a plain success.

    NewsflowError
    ├── TransientError   retry with backoff: timeouts, 5xx, 429, a busy search cluster
    ├── PermanentError   dead-letter with the error: not HTML, too large, unparseable, refused
    │   ├── AddressRefused     the address guard refused the target before any request
    │   └── DeadlineExceeded   no complete answer within the whole-request deadline
    └── Dropped          not an error: ack, count under `dropped{reason}`, move on

Every message says what failed, for which input, and what happens next.
"""

from __future__ import annotations


class NewsflowError(Exception):
    """Base of every error newsflow raises on purpose."""


class TransientError(NewsflowError):
    """May succeed later; `retry_after` (seconds) is a hint from the server, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(NewsflowError):
    """Will fail again the same way: keep it as a dead letter for an operator."""


class AddressRefused(PermanentError):
    """The target resolves to an address outside what the operator allows."""


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
