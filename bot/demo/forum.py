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
from collections import deque
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import TracebackType
from typing import Any, Self

import structlog
from aiohttp import ClientSession, ClientTimeout, web

from bot.demo.api import ForumHandlers
from bot.demo.page import render_page
from bot.demo.records import AppliedAction, Delivery, ForumComment, ModerationCall, PollCall
from bot.demo.thread import Thread
from bot.demo.webhooks import ForumWebhooks
from bot.demo.wire import (
    ACTIONS,
    DEFAULT_LIMIT,
    EVENTS,
    JSON,
    MAX_BODY_BYTES,
    MAX_KEY_LEN,
    MAX_LIMIT,
    MODERATION_FIELDS,
    REASON_FIELDS,
    REASON_KINDS,
    STATES,
    _Fault,
    _Stored,
    decode_cursor,
    encode_cursor,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_LIMIT",
    "EVENTS",
    "JSON",
    "MAX_BODY_BYTES",
    "MAX_KEY_LEN",
    "MAX_LIMIT",
    "MODERATION_FIELDS",
    "REASON_FIELDS",
    "REASON_KINDS",
    "STATES",
    "AppliedAction",
    "Delivery",
    "DemoForum",
    "ForumComment",
    "ModerationCall",
    "PollCall",
    "decode_cursor",
    "encode_cursor",
    "render_page",
    "seed",
]

log = structlog.get_logger(__name__)


class DemoForum(ForumWebhooks, ForumHandlers):
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
