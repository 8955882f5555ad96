"""An in-process forum that speaks the generic HTTP JSON contract (docs/generic-adapter.md).

`modbot demo` runs the bot against it, and the tests use it as the fake platform. It checks
the wire format strictly, records every request it gets, and can be told to fail, so a test
can assert on exactly what modbot sent and how it coped.

State model: a comment is `visible`, `flagged` (visible, in the mod queue with a reason) or
`hidden`. The first modbot action on a comment remembers the state before it in
`previous_state`; `restore` goes back to that state. The newest flag/hide wins.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import html
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import TracebackType
from typing import Any, Self

import structlog
from aiohttp import ClientError, ClientSession, ClientTimeout, web

from bot.demo.thread import Thread

log = structlog.get_logger(__name__)

ACTIONS = frozenset({"flag", "hide", "restore"})
STATES = frozenset({"visible", "flagged", "hidden"})
EVENTS = frozenset({"comment.created", "comment.edited"})
REASON_KINDS = frozenset({"rule", "model", "history"})
MODERATION_FIELDS: dict[str, type] = {"action": str, "reason": str, "reasons": list, "version": str}
REASON_FIELDS = ("kind", "name", "detail")
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_KEY_LEN = 255
MAX_BODY_BYTES = 1024 * 1024
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class ForumComment:
    """One comment as the forum stores it; `seq` grows on every create and edit."""

    id: int
    seq: int
    body: str
    author_id: str
    author_name: str
    author_role: str
    thread_id: str
    parent_id: int | None
    section: str
    created_at: str
    state: str = "visible"
    previous_state: str | None = None  # state before modbot first acted; None: untouched
    mod_reason: str = ""


@dataclass(frozen=True, slots=True)
class ModerationCall:
    """One POST .../moderation the forum received, whatever it answered."""

    comment_id: str  # as written in the URL path
    action: str
    key: str
    reason: str
    version: str
    reasons: tuple[tuple[str, str, str], ...]  # (kind, name, detail)
    status: int
    at: float
    error: str = ""  # why a 4xx, or what failure was injected
    injected: bool = False
    replayed: bool = False  # answered from the Idempotency-Key store


@dataclass(frozen=True, slots=True)
class AppliedAction:
    """An action that changed a comment's state: a first-time key only."""

    comment_id: str
    action: str
    key: str
    reason: str
    version: str
    from_state: str
    to_state: str
    at: float


@dataclass(frozen=True, slots=True)
class PollCall:
    after: str | None
    limit: str | None
    status: int
    returned: tuple[str, ...]  # comment ids served
    cursor: str
    at: float
    injected: bool = False


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook POST the forum made; `status` is None when the receiver was unreachable."""

    event_id: str
    event: str
    comment_id: str
    body: bytes
    status: int | None
    response: str
    at: float


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


class DemoForum:
    """A forum on 127.0.0.1 with the generic contract's API under `base_url`.

    Args:
        token: the bearer token every /api request must carry.
        webhook_url: where comment events are pushed (modbot's /webhooks/{site}); settable later.
        webhook_secret: the HMAC-SHA256 key for X-Modbot-Signature.
        require_user_agent: answer 400 unless User-Agent starts with "modbot/".
        int_ids: serve comment ids as JSON integers instead of strings.
    """

    def __init__(
        self,
        token: str,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | bytes | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        title: str = "Demo forum",
        require_user_agent: bool = True,
        int_ids: bool = False,
        webhook_timeout_s: float = 5.0,
    ) -> None:
        if not token:
            raise ValueError("token must not be empty")
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.title = title
        self.require_user_agent = require_user_agent
        self.int_ids = int_ids
        self.calls: list[ModerationCall] = []
        self.applied: list[AppliedAction] = []
        self.polls: list[PollCall] = []
        self.deliveries: list[Delivery] = []
        self._token = token
        self._host = host
        self._port = port
        self._webhook_timeout_s = webhook_timeout_s
        self._comments: dict[int, ForumComment] = {}
        self._authors: dict[str, str] = {}
        self._next_id = 1
        self._seq = 0
        self._answers: dict[str, _Stored] = {}
        self._action_faults: deque[_Fault] = deque()
        self._poll_faults: deque[_Fault] = deque()
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._origin = ""

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.add_routes(
            [
                web.get("/", self._handle_page),
                web.get("/healthz", self._handle_health),
                web.get("/api/comments", self._handle_poll),
                web.post("/api/comments/{id}/moderation", self._handle_moderation),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        port = self._runner.addresses[0][1]
        self._origin = f"http://{self._host}:{port}"
        self._session = ClientSession(timeout=ClientTimeout(total=self._webhook_timeout_s))
        log.info("demo_forum_started", base_url=self.base_url)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def url(self) -> str:
        """The forum's origin, e.g. http://127.0.0.1:PORT (the HTML page is at `/`)."""
        if not self._origin:
            raise RuntimeError("the forum is not started")
        return self._origin

    @property
    def base_url(self) -> str:
        """What a modbot config's `platform.base_url` takes."""
        return f"{self.url}/api"

    # -- comments ----------------------------------------------------------------------------

    @property
    def comments(self) -> list[ForumComment]:
        return list(self._comments.values())

    def comment(self, comment_id: int | str) -> ForumComment:
        return self._comments[int(comment_id)]

    def wire(self, comment_id: int | str) -> dict[str, Any]:
        """The comment object as the contract sends it, in polls and webhooks."""
        c = self.comment(comment_id)
        data: dict[str, Any] = {
            "id": self._wire_id(c.id),
            "body": c.body,
            "author": {"id": c.author_id, "name": c.author_name, "role": c.author_role},
            "thread_id": c.thread_id,
            "url": f"{self._origin}/#c{c.id}",
            "created_at": c.created_at,
            "section": c.section,
        }
        if c.parent_id is not None:
            data["parent_id"] = self._wire_id(c.parent_id)
        return data

    async def add_comment(
        self,
        body: str,
        *,
        author: str = "guest",
        role: str = "member",
        parent_id: int | str | None = None,
        thread_id: str = "t-1",
        section: str = "general",
        state: str = "visible",
        deliver_webhook: bool = True,
    ) -> dict[str, Any]:
        """Post a comment; push `comment.created` when a webhook is configured and asked for.

        `state` other than visible stands for a human moderator's earlier decision.
        """
        if state not in STATES:
            raise ValueError(f"state must be one of {sorted(STATES)}")
        parent = None if parent_id is None else self.comment(parent_id).id
        comment = ForumComment(
            id=self._next_id,
            seq=self._bump_seq(),
            body=body,
            author_id=self._authors.setdefault(author, f"u-{len(self._authors) + 1}"),
            author_name=author,
            author_role=role,
            thread_id=thread_id,
            parent_id=parent,
            section=section,
            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            state=state,
        )
        self._next_id += 1
        self._comments[comment.id] = comment
        if deliver_webhook and self.webhook_url:
            await self.deliver(comment.id, "comment.created")
        return self.wire(comment.id)

    async def edit_comment(
        self, comment_id: int | str, body: str, *, deliver_webhook: bool = True
    ) -> dict[str, Any]:
        """Change a comment's text; polls serve it again and `comment.edited` is pushed."""
        comment = replace(self.comment(comment_id), body=body, seq=self._bump_seq())
        self._comments[comment.id] = comment
        if deliver_webhook and self.webhook_url:
            await self.deliver(comment.id, "comment.edited")
        return self.wire(comment.id)

    def delete_comment(self, comment_id: int | str) -> None:
        """Forget a comment: polls skip it and moderating it answers 404."""
        del self._comments[int(comment_id)]

    def _bump_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _wire_id(self, comment_id: int) -> int | str:
        return comment_id if self.int_ids else str(comment_id)

    # -- test helpers ------------------------------------------------------------------------

    def calls_for(self, comment_id: int | str) -> list[ModerationCall]:
        return [c for c in self.calls if c.comment_id == str(comment_id)]

    def applied_for(self, comment_id: int | str) -> list[AppliedAction]:
        return [a for a in self.applied if a.comment_id == str(comment_id)]

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        """Answer the next `n` moderation calls with `status`, without acting."""
        self._action_faults.extend(_Fault(status) for _ in range(n))

    def rate_limit_next(
        self, n: int = 1, retry_after_s: int = 1, *, http_date: bool = False
    ) -> None:
        """Answer the next `n` moderation calls 429 with Retry-After (seconds or HTTP date)."""
        if http_date:
            when = datetime.now(UTC) + timedelta(seconds=retry_after_s)
            value = format_datetime(when, usegmt=True)
        else:
            value = str(retry_after_s)
        self._action_faults.extend(_Fault(429, (("Retry-After", value),)) for _ in range(n))

    def slow_next(self, n: int = 1, delay_s: float = 1.0) -> None:
        """Act on the next `n` moderation calls normally, but answer only after `delay_s`."""
        self._action_faults.extend(_Fault(None, delay_s=delay_s) for _ in range(n))

    def fail_polls(self, n: int = 1, status: int = 503) -> None:
        """Answer the next `n` polls with `status`."""
        self._poll_faults.extend(_Fault(status) for _ in range(n))

    # -- webhooks ----------------------------------------------------------------------------

    async def deliver(self, comment_id: int | str, event: str = "comment.created") -> int | None:
        """Push one event for a comment; the receiver's HTTP status, or None if unreachable."""
        if event not in EVENTS:
            raise ValueError(f"event must be one of {sorted(EVENTS)}")
        payload = {"event": event, "comment": self.wire(comment_id)}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        event_id = f"evt-{uuid.uuid4().hex}"
        delivery = await self._post_event(event_id, event, str(comment_id), body)
        return delivery.status

    async def redeliver(self, event_id: str) -> int | None:
        """Send an earlier event again: same id, same bytes, same signature."""
        first = next((d for d in self.deliveries if d.event_id == event_id), None)
        if first is None:
            raise KeyError(event_id)
        delivery = await self._post_event(first.event_id, first.event, first.comment_id, first.body)
        return delivery.status

    def signature(self, body: bytes) -> str:
        if not self.webhook_secret:
            raise RuntimeError("no webhook_secret configured")
        secret = self.webhook_secret
        key = secret.encode() if isinstance(secret, str) else secret
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()

    async def _post_event(
        self, event_id: str, event: str, comment_id: str, body: bytes
    ) -> Delivery:
        if self._session is None or not self.webhook_url:
            raise RuntimeError("deliver needs a started forum and a webhook_url")
        headers = {
            "Content-Type": JSON,
            "X-Modbot-Signature": self.signature(body),
            "X-Modbot-Event-Id": event_id,
            "User-Agent": "modbot-demo-forum/1",
        }
        status: int | None = None
        text = ""
        try:
            async with self._session.post(self.webhook_url, data=body, headers=headers) as resp:
                status, text = resp.status, await resp.text()
        except (ClientError, TimeoutError, OSError) as exc:
            log.warning("webhook_unreachable", event_id=event_id, error=repr(exc))
        delivery = Delivery(event_id, event, comment_id, body, status, text, time.time())
        self.deliveries.append(delivery)
        log.debug("webhook_delivered", event_id=event_id, event_type=event, status=status)
        return delivery

    # -- HTTP handlers -----------------------------------------------------------------------

    async def _handle_health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "comments": len(self._comments)})

    async def _handle_page(self, request: web.Request) -> web.Response:
        return web.Response(
            text=render_page(self.title, self._threaded()), content_type="text/html"
        )

    async def _handle_poll(self, request: web.Request) -> web.Response:
        outcome = self._deny(request) or await _take_fault(self._poll_faults)
        if outcome is None:
            outcome = self._page(request.query.get("after"), request.query.get("limit"))
        served = outcome.body.get("comments", [])
        self.polls.append(
            PollCall(
                after=request.query.get("after"),
                limit=request.query.get("limit"),
                status=outcome.status,
                returned=tuple(str(c["id"]) for c in served),
                cursor=str(outcome.body.get("cursor", "")),
                at=time.time(),
                injected=outcome.injected,
            )
        )
        return outcome.response()

    def _page(self, after: str | None, limit_text: str | None) -> _Outcome:
        limit = _parse_limit(limit_text)
        if limit is None:
            return _error(400, f"limit must be an integer from 1 to {MAX_LIMIT}")
        after_seq = 0 if after is None else decode_cursor(after)
        if after_seq is None:
            return _error(400, "cursor is not one this forum issued")
        fresh = sorted((c for c in self._comments.values() if c.seq > after_seq), key=_by_seq)
        page = fresh[:limit]
        if page:
            cursor = encode_cursor(page[-1].seq)
        else:
            cursor = after if after is not None else encode_cursor(0)
        return _Outcome(200, {"comments": [self.wire(c.id) for c in page], "cursor": cursor})

    async def _handle_moderation(self, request: web.Request) -> web.Response:
        payload = _json_object(await request.read())
        key = request.headers.get("Idempotency-Key", "")
        outcome = await self._moderation_outcome(request, payload, key)
        self._record_call(request.match_info["id"], payload, key, outcome)
        return outcome.response()

    async def _moderation_outcome(
        self, request: web.Request, payload: dict[str, Any] | None, key: str
    ) -> _Outcome:
        denied = self._deny(request) or await _take_fault(self._action_faults)
        if denied is not None:
            return denied
        invalid = _validate_moderation(request.content_type, payload, key)
        if invalid is not None or payload is None:
            return invalid or _error(400, "body must be a JSON object")
        comment_id = _parse_id(request.match_info["id"])
        fingerprint = (comment_id or 0, payload["action"], payload["version"])
        stored = self._answers.get(key)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                return _error(422, "Idempotency-Key was already used for a different request")
            return replace(stored.outcome, replayed=True)
        if comment_id is None or comment_id not in self._comments:
            return _error(404, "no such comment")
        outcome = self._apply(self._comments[comment_id], payload, key)
        self._answers[key] = _Stored(fingerprint, outcome)
        return outcome

    def _apply(self, comment: ForumComment, payload: dict[str, Any], key: str) -> _Outcome:
        action = payload["action"]
        updated = _transition(comment, action, payload["reason"])
        if updated.state != comment.state:
            self._comments[comment.id] = updated
            self.applied.append(
                AppliedAction(
                    comment_id=str(comment.id),
                    action=action,
                    key=key,
                    reason=payload["reason"],
                    version=payload["version"],
                    from_state=comment.state,
                    to_state=updated.state,
                    at=time.time(),
                )
            )
            log.info("demo_forum_moderated", comment_id=comment.id, action=action)
        body = {
            "id": self._wire_id(comment.id),
            "action": action,
            "state": self._comments[comment.id].state,
            "changed": updated.state != comment.state,
        }
        return _Outcome(200, body)

    def _record_call(
        self, path_id: str, payload: dict[str, Any] | None, key: str, outcome: _Outcome
    ) -> None:
        fields = payload or {}
        self.calls.append(
            ModerationCall(
                comment_id=path_id,
                action=_str(fields.get("action")),
                key=key,
                reason=_str(fields.get("reason")),
                version=_str(fields.get("version")),
                reasons=_reason_triples(fields.get("reasons")),
                status=outcome.status,
                at=time.time(),
                error=_str(outcome.body.get("error")),
                injected=outcome.injected,
                replayed=outcome.replayed,
            )
        )

    def _deny(self, request: web.Request) -> _Outcome | None:
        """401 without the right bearer token; 400 for a client that isn't modbot."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        authorized = scheme.lower() == "bearer" and hmac.compare_digest(
            token.encode(), self._token.encode()
        )
        if not authorized:
            return _error(401, "missing or wrong bearer token", ("WWW-Authenticate", "Bearer"))
        agent = request.headers.get("User-Agent", "")
        if self.require_user_agent and not agent.startswith("modbot/"):
            return _error(400, "User-Agent must be modbot/<version>")
        return None

    def _threaded(self) -> list[tuple[int, ForumComment]]:
        """Comments depth-first under their parents, each with its depth."""
        children: dict[int | None, list[ForumComment]] = {}
        for c in self._comments.values():
            parent = c.parent_id if c.parent_id in self._comments else None
            children.setdefault(parent, []).append(c)
        out: list[tuple[int, ForumComment]] = []
        stack = [(0, c) for c in reversed(children.get(None, []))]
        while stack:
            depth, c = stack.pop()
            out.append((depth, c))
            stack.extend((depth + 1, child) for child in reversed(children.get(c.id, [])))
        return out


# -- seeding -------------------------------------------------------------------------------


async def seed(
    forum: DemoForum, thread: Thread, *, webhook_every: int = 1, pace_s: float = 0.0
) -> dict[str, int]:
    """Post `thread` in order, parents before children; map each ref to its forum id.

    Every `webhook_every`-th comment is pushed by webhook (0: none), so the rest is left for
    the poller to find. `pace_s` waits between comments, for a demo people watch.
    """
    forum.title = thread.article.title
    ids: dict[str, int] = {}
    for n, item in enumerate(thread.comments):
        posted = await forum.add_comment(
            item.text,
            author=item.author.name,
            role=item.author.role,
            parent_id=None if item.parent is None else ids[item.parent],
            thread_id=thread.article.slug,
            section=thread.article.section,
            deliver_webhook=webhook_every > 0 and n % webhook_every == 0,
        )
        ids[item.ref] = int(posted["id"])
        if pace_s:
            await asyncio.sleep(pace_s)
    return ids


# -- wire helpers --------------------------------------------------------------------------


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


def _by_seq(comment: ForumComment) -> int:
    return comment.seq


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
    unknown = sorted(set(payload) - MODERATION_FIELDS.keys())
    missing = sorted(MODERATION_FIELDS.keys() - set(payload))
    if unknown or missing:
        return f"unknown keys {unknown}, missing keys {missing}"
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


def _transition(comment: ForumComment, action: str, reason: str) -> ForumComment:
    if action == "restore":
        if comment.previous_state is None:
            return comment
        return replace(comment, state=comment.previous_state, previous_state=None, mod_reason="")
    before = comment.state if comment.previous_state is None else comment.previous_state
    state = "flagged" if action == "flag" else "hidden"
    if state == comment.state:
        return comment
    return replace(comment, state=state, previous_state=before, mod_reason=reason)


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


# -- HTML page -----------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>{title}</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; max-width: 52em; margin: 2em auto; }}
.c {{ border-left: 3px solid #ccc; padding: .3em .8em; margin: .5em 0; }}
.flagged {{ border-color: #e0a800; background: #fff8e1; }}
.hidden {{ border-color: #c62828; background: #fdecea; color: #777; }}
.meta {{ font-size: 85%; color: #555; }}
</style></head>
<body><h1>{title}</h1>
{rows}
</body></html>
"""


def render_page(title: str, threaded: list[tuple[int, ForumComment]]) -> str:
    """The read-only thread view: every value from a comment is escaped."""
    rows = "\n".join(_render_row(depth, c) for depth, c in threaded)
    return _PAGE.format(title=html.escape(title), rows=rows or "<p>No comments yet.</p>")


def _render_row(depth: int, c: ForumComment) -> str:
    body = html.escape(c.body).replace("\n", "<br>")
    if c.state == "hidden":
        body = f"<del>{body}</del>"
    note = f" &middot; {html.escape(c.state)}: {html.escape(c.mod_reason)}" if c.mod_reason else ""
    if c.state != "visible" and not c.mod_reason:
        note = f" &middot; {html.escape(c.state)}"
    return (
        f'<div class="c {html.escape(c.state)}" id="c{c.id}" style="margin-left:{depth * 1.5}em">'
        f'<div class="meta">#{c.id} {html.escape(c.author_name)} '
        f"({html.escape(c.author_role)}){note}</div>{body}</div>"
    )
