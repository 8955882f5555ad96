"""The demo forum's HTTP side: the contract's endpoints, mixed into DemoForum.

`ForumHandlers` holds no state of its own; DemoForum (bot.demo.forum) owns the attributes
declared below and registers these handlers as routes in `start`.
"""

from __future__ import annotations

import hmac
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from bot.demo.page import render_page
from bot.demo.records import (
    AppliedAction,
    ForumComment,
    ModerationCall,
    PollCall,
    _by_seq,
    _transition,
)
from bot.demo.wire import (
    MAX_LIMIT,
    _error,
    _Fault,
    _json_object,
    _Outcome,
    _parse_id,
    _parse_limit,
    _reason_triples,
    _Stored,
    _str,
    _take_fault,
    _validate_moderation,
    decode_cursor,
    encode_cursor,
)

log = structlog.get_logger(__name__)


class ForumHandlers:
    """GET /, /healthz and /api/comments; POST /api/comments/{id}/moderation."""

    title: str
    require_user_agent: bool
    calls: list[ModerationCall]
    applied: list[AppliedAction]
    polls: list[PollCall]
    _token: str
    _comments: dict[int, ForumComment]
    _answers: dict[str, _Stored]
    _action_faults: deque[_Fault]
    _poll_faults: deque[_Fault]

    if TYPE_CHECKING:  # defined by DemoForum

        def wire(self, comment_id: int | str) -> dict[str, Any]: ...

        def _wire_id(self, comment_id: int) -> int | str: ...

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
                notice=_str(fields.get("notice")),
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
