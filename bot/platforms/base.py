"""The platform seam: what every adapter (generic, WordPress, Discourse, ...) provides.

A new platform is one module: a class implementing `Platform`, registered by type in
`bot.app.ADAPTERS`. Optional hooks, found with getattr where they are used:

- `async start_cursor() -> str`: where the very first poll of a site starts when the walk
  would otherwise begin at its oldest comment (`bot.sources.poller`; WordPress);
- `async scan_cursor(since: float) -> str`: where `modbot scan --since` starts (Discourse);
- `async human_state(comment_id) -> HumanState | None`: a moderator's own decision on the
  platform, which modbot never overrides (`bot.review.humans`);
- `add_routes(app)`: extra HTTP routes on the service's server (Coral's moderation phase).

`fetch_since` may return `Page.recheck`: comments seen before, listed again as they read
now, so an edit whose webhook was lost is still judged (Discourse).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bot.models import Comment, Reason


def storable(text: str) -> str:
    """Platform JSON may carry lone surrogates (\\ud800) that no UTF-8 store can hold:
    replace them, so a hostile comment can never make the queue or the log fail."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def text_field(value: Any, limit: int = 500) -> str:
    """A short text field (author name, url, ...) from platform JSON: str, bounded, storable."""
    return "" if value is None else storable(str(value)[:limit])


def comment_id(item: Any, pattern: re.Pattern[str], kind: str, invalid: str) -> str:
    """The `id` of a platform's comment object as a string, checked against `pattern` before
    it can reach an API path. ValueError: `kind` says what the id must be, `invalid` why a
    string id is refused."""
    if not isinstance(item, dict):
        raise ValueError("must be an object")
    value = item.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"'id' must be {kind}")
    text = str(value)
    if not pattern.match(text):
        raise ValueError(f"'id' {text[:40]!r} {invalid}")
    return text


class PlatformError(Exception):
    """Base of every error an adapter raises."""


class RetryableError(PlatformError):
    """The platform may accept the same call later (5xx, 429, network)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermanentError(PlatformError):
    """The platform refused the call for good (4xx other than 429)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WebhookRejected(Exception):
    """A webhook request we will not accept; `status` is the HTTP answer (400, 401, ...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Page:
    comments: tuple[Comment, ...]
    cursor: str | None  # what to pass next time; None keeps the old cursor
    # comments seen before, listed again with their current text: queued too, and the
    # store keeps only those whose text changed (an edit the webhook did not bring)
    recheck: tuple[Comment, ...] = ()


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    event_id: str | None
    kind: str  # "created", "edited", "ping", ...
    comments: tuple[Comment, ...]


@dataclass(frozen=True, slots=True)
class ActionRequest:
    comment_id: str
    action: str  # "flag" | "hide" | "restore"
    reason: str
    reasons: tuple[Reason, ...]
    version: str
    idempotency_key: str
    notice: str = ""  # for the comment's author, from the deciding rule's `notice` template


@runtime_checkable
class Platform(Protocol):
    """One site's API. Adapters raise RetryableError or PermanentError, nothing else."""

    site: str

    async def start(self) -> None:
        """Open connections and check credentials."""
        ...

    async def close(self) -> None: ...

    async def fetch_since(self, cursor: str | None, limit: int) -> Page:
        """Comments newer than `cursor`, oldest first."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        """Verify and parse a webhook; raise WebhookRejected(401/400, why)."""
        ...

    async def flag(self, request: ActionRequest) -> str:
        """Put the comment in front of moderators; returns a short outcome detail."""
        ...

    async def hide(self, request: ActionRequest) -> str: ...

    async def restore(self, request: ActionRequest) -> str: ...
