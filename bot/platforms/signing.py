"""HMAC-SHA256 webhook signatures, verified over the raw body in constant time."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any, Protocol

from bot.platforms.base import WebhookRejected


class _Revealable(Protocol):
    def reveal(self) -> str: ...


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` (one or more comma-separated `sha256=<hex>`) signs `body`."""
    if not header:
        return False
    expected = sign(secret, body).encode()
    # Several values can arrive while a secret is being rotated; check all, each in constant time.
    results = [
        hmac.compare_digest(expected, value.strip().encode("utf-8", "surrogateescape"))
        for value in header.split(",")
    ]
    return any(results)


def require(
    secret: _Revealable | None, body: bytes, headers: Mapping[str, str], header: str
) -> None:
    """Refuse a webhook unless `header` signs `body`: 404 with webhooks off, 401 if unsigned."""
    if secret is None:
        raise WebhookRejected(404, "webhooks are not enabled for this site")
    if not verify(secret.reveal(), body, headers.get(header)):
        raise WebhookRejected(401, f"missing or wrong {header}")


def json_body(body: bytes) -> Any:
    """A verified webhook's JSON, or WebhookRejected(400) saying why it is not JSON."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(400, f"body is not JSON: {exc}") from None
