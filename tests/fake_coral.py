"""A fake Coral that calls modbot the way Coral's External Moderation Phase does.

It sends Coral's request shape, signs it with `X-Coral-Signature` (several values while a
secret is rotated), gives up after the phase's timeout as Coral does, and checks the answer
against the shapes Coral accepts: 204 with no body, or 200 with `{status?, actions?, tags?}`.
Anything else raises CoralProtocolError, which a test should never see.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.platforms import signing

STATUSES = {"APPROVED", "REJECTED", "PREMOD", "SYSTEM_WITHHELD", "NONE"}
REASONS = {"COMMENT_DETECTED_TOXIC", "COMMENT_DETECTED_SPAM"}
ROLES = {"COMMENTER", "STAFF", "MODERATOR", "ADMIN"}


class CoralProtocolError(AssertionError):
    """modbot answered something Coral would not accept."""


@dataclass(frozen=True)
class PhaseResult:
    """What Coral got back; `http_status` None: the timeout passed and the phase was skipped."""

    http_status: int | None
    body: dict[str, Any] | None
    elapsed_ms: float

    @property
    def timed_out(self) -> bool:
        return self.http_status is None

    @property
    def status(self) -> str | None:
        return (self.body or {}).get("status")

    @property
    def actions(self) -> list[dict[str, str]]:
        return list((self.body or {}).get("actions", []))


@dataclass
class FakeCoral:
    url: str
    secrets: list[str] = field(default_factory=list)  # empty: unsigned, like no secret set
    timeout_ms: int = 1000
    tenant_id: str = "tenant-1"
    site_id: str = "site-1"
    sent: list[dict[str, Any]] = field(default_factory=list)

    def request_body(
        self,
        text: str,
        action: str = "NEW",
        *,
        comment_id: str | None = None,
        author_id: str = "user-1",
        role: str = "COMMENTER",
        story_id: str = "story-1",
        parent_id: str | None = None,
    ) -> dict[str, Any]:
        assert action in {"NEW", "EDIT"} and role in ROLES
        comment: dict[str, Any] = {"body": text, "parentID": parent_id}
        if comment_id is not None:
            comment["id"] = comment_id
        return {
            "action": action,
            "comment": comment,
            "author": {"id": author_id, "role": role},
            "story": {"id": story_id, "url": f"https://news.example.com/{story_id}"},
            "site": {"id": self.site_id},
            "tenantID": self.tenant_id,
        }

    async def moderate(self, text: str, action: str = "NEW", **kwargs: Any) -> PhaseResult:
        """Run the phase for one comment, as Coral does before publishing it."""
        body = self.request_body(text, action, **kwargs)
        self.sent.append(body)
        return await self.post(json.dumps(body).encode(), self.signature_headers)

    def signature_headers(self, raw: bytes) -> dict[str, str]:
        if not self.secrets:
            return {}
        return {"X-Coral-Signature": ",".join(signing.sign(s, raw) for s in self.secrets)}

    async def post(self, raw: bytes, headers: Any = None) -> PhaseResult:
        """POST raw bytes; `headers` is a dict or a function of the body giving one."""
        extra = headers(raw) if callable(headers) else dict(headers or {})
        timeout = aiohttp.ClientTimeout(total=self.timeout_ms / 1000)
        started = time.monotonic()
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(
                    self.url,
                    data=raw,
                    headers={"Content-Type": "application/json", **extra},
                ) as resp,
            ):
                status, payload = resp.status, await resp.read()
        except TimeoutError:
            return PhaseResult(None, None, (time.monotonic() - started) * 1000)
        elapsed_ms = (time.monotonic() - started) * 1000
        return PhaseResult(status, check_answer(status, payload), elapsed_ms)


def check_answer(status: int, payload: bytes) -> dict[str, Any] | None:
    """The answer's JSON body, after checking it is one Coral accepts (4xx pass through)."""
    if status == 204:
        if payload:
            raise CoralProtocolError(f"204 with a body: {payload[:80]!r}")
        return None
    body = json.loads(payload) if payload else None
    if status != 200:
        return body
    if not isinstance(body, dict) or set(body) - {"status", "actions", "tags"}:
        raise CoralProtocolError(f"200 body is not {{status?, actions?, tags?}}: {body!r}")
    if "status" in body and body["status"] not in STATUSES:
        raise CoralProtocolError(f"unknown status {body['status']!r}")
    for action in body.get("actions", []):
        if action != {"actionType": "FLAG", "reason": action.get("reason")}:
            raise CoralProtocolError(f"action is not {{actionType: FLAG, reason}}: {action!r}")
        if action["reason"] not in REASONS:
            raise CoralProtocolError(f"unknown flag reason {action['reason']!r}")
    if not isinstance(body.get("tags", []), list):
        raise CoralProtocolError("tags must be a list")
    return body
