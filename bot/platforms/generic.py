"""The generic HTTP JSON adapter: the contract in docs/generic-adapter.md."""

from __future__ import annotations

import json
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
)
from bot.platforms.http import JsonClient

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
        self._client = client or JsonClient(
            settings.base_url,
            headers=headers,
            timeout_s=settings.timeout_s,
            max_retries=settings.max_retries,
            max_retry_after_s=settings.max_retry_after_s,
        )
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
        if self._webhook_secret is None:
            raise WebhookRejected(404, "webhooks are not enabled for this site")
        if not signing.verify(self._webhook_secret.reveal(), body, headers.get(SIGNATURE_HEADER)):
            raise WebhookRejected(401, f"missing or wrong {SIGNATURE_HEADER}")
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise WebhookRejected(400, f"body is not JSON: {exc}") from None
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
        response = await self._client.request(
            "POST",
            f"/comments/{request.comment_id}/moderation",
            json=payload,
            headers={"Idempotency-Key": request.idempotency_key},
        )
        return f"{response.status}"


def parse_comment(site: str, item: Any) -> Comment:
    """A contract comment object to a Comment; ValueError says what is wrong."""
    if not isinstance(item, dict):
        raise ValueError("must be an object")
    comment_id = item.get("id")
    if isinstance(comment_id, bool) or not isinstance(comment_id, str | int):
        raise ValueError("'id' must be a string or an integer")
    comment_id = str(comment_id)
    if not ID_RE.match(comment_id):
        raise ValueError(f"'id' {comment_id[:40]!r} has characters outside [A-Za-z0-9_.:-]")
    body = item.get("body")
    if not isinstance(body, str):
        raise ValueError("'body' must be a string")
    body = _storable(body)
    author = item.get("author") or {}
    if not isinstance(author, dict):
        raise ValueError("'author' must be an object")
    return Comment(
        site=site,
        id=comment_id,
        text=body,
        author=Author(
            id=_text(author.get("id")),
            name=_text(author.get("name")),
            role=_text(author.get("role")),
        ),
        thread_id=_text(item.get("thread_id")),
        parent_id=_text(item.get("parent_id")),
        url=_text(item.get("url")),
        created_at=_text(item.get("created_at")),
        section=_text(item.get("section")),
    )


def _text(value: Any) -> str:
    return "" if value is None else _storable(str(value)[:500])


def _storable(text: str) -> str:
    """JSON may carry lone surrogates (\\ud800) that no UTF-8 store can hold: replace them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text
