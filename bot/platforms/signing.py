"""HMAC-SHA256 webhook signatures, verified over the raw body in constant time."""

from __future__ import annotations

import hashlib
import hmac


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
