"""The generic contract's wire format as the demo forum checks it: limits, cursors, the
moderation request's shape, and the JSON error answers (docs/generic-adapter.md)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

ACTIONS = frozenset({"flag", "hide", "restore"})
STATES = frozenset({"visible", "flagged", "hidden"})
EVENTS = frozenset({"comment.created", "comment.edited"})
REASON_KINDS = frozenset({"rule", "model", "history"})
MODERATION_FIELDS: dict[str, type] = {"action": str, "reason": str, "reasons": list, "version": str}
OPTIONAL_FIELDS: dict[str, type] = {"notice": str}  # the deciding rule's message to the author
REASON_FIELDS = ("kind", "name", "detail")
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_KEY_LEN = 255
MAX_BODY_BYTES = 1024 * 1024
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()
    injected: bool = False
    replayed: bool = False

    def response(self) -> web.Response:
        headers = dict(self.headers)
        if self.replayed:
            headers["Idempotent-Replayed"] = "true"
        return web.json_response(self.body, status=self.status, headers=headers)


@dataclass(frozen=True, slots=True)
class _Fault:
    status: int | None  # None: answer normally, after `delay_s`
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class _Stored:
    fingerprint: tuple[int, str, str]  # (comment id, action, version)
    outcome: _Outcome


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    prefix, _, number = raw.decode("ascii", "replace").partition(":")
    if prefix != "seq" or not number.isdigit():
        return None
    return int(number)


def _parse_limit(text: str | None) -> int | None:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        return None
    return int(text)


def _parse_id(text: str) -> int | None:
    return int(text) if text.isdigit() and text.isascii() else None


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _validate_moderation(
    content_type: str, payload: dict[str, Any] | None, key: str
) -> _Outcome | None:
    if content_type != JSON:
        return _error(415, f"Content-Type must be {JSON}")
    if not key.strip():
        return _error(400, "missing Idempotency-Key header")
    if len(key) > MAX_KEY_LEN:
        return _error(400, f"Idempotency-Key longer than {MAX_KEY_LEN} characters")
    if payload is None:
        return _error(400, "body must be a JSON object")
    problem = _shape_problem(payload)
    return None if problem is None else _error(400, problem)


def _shape_problem(payload: dict[str, Any]) -> str | None:
    unknown = sorted(set(payload) - MODERATION_FIELDS.keys() - OPTIONAL_FIELDS.keys())
    missing = sorted(MODERATION_FIELDS.keys() - set(payload))
    if unknown or missing:
        return f"unknown keys {unknown}, missing keys {missing}"
    for name, kind in OPTIONAL_FIELDS.items():
        if name in payload and not isinstance(payload[name], kind):
            return f"{name} must be a JSON string"
    for name, kind in MODERATION_FIELDS.items():
        if not isinstance(payload[name], kind):
            return f"{name} must be a JSON {'string' if kind is str else 'array'}"
    if payload["action"] not in ACTIONS:
        return f"action must be one of {sorted(ACTIONS)}"
    if not payload["version"].strip():
        return "version must not be empty"
    if payload["action"] != "restore" and not payload["reason"].strip():
        return "reason must not be empty for flag and hide"
    return next(filter(None, map(_reason_problem, payload["reasons"])), None)


def _reason_problem(reason: Any) -> str | None:
    if not isinstance(reason, dict) or set(reason) != set(REASON_FIELDS):
        return f"each reason must be an object with exactly {list(REASON_FIELDS)}"
    if not all(isinstance(reason[k], str) for k in REASON_FIELDS):
        return "reason fields must be strings"
    if reason["kind"] not in REASON_KINDS:
        return f"reason kind must be one of {sorted(REASON_KINDS)}"
    return None


async def _take_fault(faults: deque[_Fault]) -> _Outcome | None:
    if not faults:
        return None
    fault = faults.popleft()
    if fault.delay_s:
        await asyncio.sleep(fault.delay_s)
    if fault.status is None:
        return None
    return _Outcome(
        fault.status, {"error": f"injected {fault.status}"}, fault.headers, injected=True
    )


def _error(status: int, message: str, *headers: tuple[str, str]) -> _Outcome:
    return _Outcome(status, {"error": message}, tuple(headers))


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _reason_triples(value: Any) -> tuple[tuple[str, str, str], ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        (_str(r.get("kind")), _str(r.get("name")), _str(r.get("detail")))
        for r in value
        if isinstance(r, dict)
    )
