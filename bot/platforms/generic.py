"""The generic HTTP JSON adapter: the contract in docs/generic-adapter.md."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.config import GenericPlatform, Secret
from bot.models import Author, Comment
from bot.platforms import signing
from bot.platforms.base import (
    ActionRequest,
    Page,
    PermanentError,
    RetryableError,
    WebhookEvent,
    WebhookRejected,
    storable,
    text_field,
)
from bot.platforms.base import (
    comment_id as checked_id,
)
from bot.platforms.http import JsonClient, client_for

ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
EVENTS = {"comment.created": "created", "comment.edited": "edited"}
SIGNATURE_HEADER = "X-Modbot-Signature"
EVENT_ID_HEADER = "X-Modbot-Event-Id"


class GenericAdapter:
    def __init__(
        self,
        site: str,
        settings: GenericPlatform,
        token: Secret | None,
        webhook_secret: Secret | None,
        client: JsonClient | None = None,
    ) -> None:
        self.site = site
        headers = {"Authorization": f"Bearer {token.reveal()}"} if token else {}
        self._client = client or client_for(settings, headers)
        self._webhook_secret = webhook_secret

    async def start(self) -> None:
        await self._client.start()

    async def close(self) -> None:
        await self._client.close()

    async def fetch_since(self, cursor: str | None, limit: int) -> Page:
        params: dict[str, str] = {"limit": str(limit)}
        if cursor:
            params["after"] = cursor
        response = await self._client.request("GET", "/comments", params=params)
        body = response.body
        if not isinstance(body, dict) or not isinstance(body.get("comments"), list):
            raise RetryableError("GET /comments: answer is not {comments: [...], cursor}")
        comments = []
        for item in body["comments"]:
            try:
                comments.append(parse_comment(self.site, item))
            except ValueError as exc:
                raise RetryableError(f"GET /comments: bad comment in page: {exc}") from exc
        next_cursor = body.get("cursor")
        return Page(tuple(comments), str(next_cursor) if next_cursor is not None else None)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        signing.require(self._webhook_secret, body, headers, SIGNATURE_HEADER)
        data = signing.json_body(body)
        if not isinstance(data, dict) or data.get("event") not in EVENTS:
            raise WebhookRejected(400, f"'event' must be one of {sorted(EVENTS)}")
        try:
            comment = parse_comment(self.site, data.get("comment"))
        except ValueError as exc:
            raise WebhookRejected(400, f"comment: {exc}") from None
        event_id = headers.get(EVENT_ID_HEADER)
        return WebhookEvent(event_id=event_id, kind=EVENTS[data["event"]], comments=(comment,))

    async def flag(self, request: ActionRequest) -> str:
        return await self._act(request)

    async def hide(self, request: ActionRequest) -> str:
        return await self._act(request)

    async def restore(self, request: ActionRequest) -> str:
        return await self._act(request)

    async def _act(self, request: ActionRequest) -> str:
        if not ID_RE.match(request.comment_id):
            raise PermanentError(f"comment id {request.comment_id!r} is not a valid id")
        payload = {
            "action": request.action,
            "reason": request.reason,
            "reasons": [
                {"kind": r.kind, "name": r.name, "detail": r.detail} for r in request.reasons
            ],
            "version": request.version,
        }
        if request.notice:
            payload["notice"] = request.notice
        response = await self._client.request(
            "POST",
            f"/comments/{request.comment_id}/moderation",
            json=payload,
            headers={"Idempotency-Key": request.idempotency_key},
        )
        return f"{response.status}"


def parse_comment(site: str, item: Any) -> Comment:
    """A contract comment object to a Comment; ValueError says what is wrong."""
    comment_id = checked_id(
        item, ID_RE, "a string or an integer", "has characters outside [A-Za-z0-9_.:-]"
    )
    body = item.get("body")
    if not isinstance(body, str):
        raise ValueError("'body' must be a string")
    body = storable(body)
    author = item.get("author") or {}
    if not isinstance(author, dict):
        raise ValueError("'author' must be an object")
    return Comment(
        site=site,
        id=comment_id,
        text=body,
        author=Author(
            id=text_field(author.get("id")),
            name=text_field(author.get("name")),
            role=text_field(author.get("role")),
        ),
        thread_id=text_field(item.get("thread_id")),
        parent_id=text_field(item.get("parent_id")),
        url=text_field(item.get("url")),
        created_at=text_field(item.get("created_at")),
        section=text_field(item.get("section")),
    )
