"""The demo forum's outgoing side: signed webhook pushes, mixed into DemoForum."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import ClientError, ClientSession

from bot.demo.records import Delivery
from bot.demo.wire import EVENTS, JSON

log = structlog.get_logger(__name__)


class ForumWebhooks:
    """Push `comment.created`/`comment.edited` to `webhook_url`, signed with HMAC-SHA256."""

    webhook_url: str | None
    webhook_secret: str | bytes | None
    deliveries: list[Delivery]
    _session: ClientSession | None

    if TYPE_CHECKING:  # defined by DemoForum

        def wire(self, comment_id: int | str) -> dict[str, Any]: ...

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
