"""Act: carry a decision out on the platform, at most once per comment version.

Before calling the platform the action is written to the ledger as `started`; after, as
`done` or `failed`. A crash in between leads to the same call again with the same
Idempotency-Key, which the platform treats as a repeat. A permanent 4xx is recorded as a
failed action and not retried; a retryable error propagates so the comment stays queued.
"""

from __future__ import annotations

import hashlib

import structlog

from bot.models import ActionResult, ActionStatus, Comment, Decision, Verdict
from bot.platforms.base import ActionRequest, PermanentError, Platform
from bot.policy import summarize
from bot.store import AsyncStore

log = structlog.get_logger(__name__)


def idempotency_key(comment: Comment, action: str) -> str:
    raw = f"{comment.site}\0{comment.id}\0{comment.version}\0{action}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class Actor:
    def __init__(self, platforms: dict[str, Platform], store: AsyncStore) -> None:
        self._platforms = platforms
        self._store = store

    async def act(self, comment: Comment, decision: Decision) -> ActionResult:
        verdict = decision.verdict
        if verdict is Verdict.NONE:
            return ActionResult(Verdict.NONE, ActionStatus.NOT_NEEDED)
        key = idempotency_key(comment, verdict.word)
        if decision.dry_run:
            return ActionResult(verdict, ActionStatus.DRY_RUN, key, detail="dry run: not sent")
        ledger = self._store.sync
        entry = await self._store.run(ledger.action_get, key)
        if entry is not None and entry.state != "started":
            status = ActionStatus.DONE if entry.state == "done" else ActionStatus.FAILED
            return ActionResult(verdict, status, key, entry.attempts, entry.detail)
        await self._store.run(
            ledger.action_begin, key, comment.site, comment.id, comment.version, verdict.word
        )
        attempts = entry.attempts + 1 if entry else 1
        request = ActionRequest(
            comment.id, verdict.word, summarize(decision), decision.reasons, comment.version, key
        )
        try:
            detail = await self._call(self._platforms[comment.site], request)
        except PermanentError as exc:
            await self._store.run(ledger.action_finish, key, "failed", str(exc))
            log.warning("action_failed", action=verdict.word, error=str(exc))
            return ActionResult(verdict, ActionStatus.FAILED, key, attempts, str(exc))
        await self._store.run(ledger.action_finish, key, "done", detail)
        log.info("action_done", action=verdict.word, detail=detail)
        return ActionResult(verdict, ActionStatus.DONE, key, attempts, detail)

    @staticmethod
    async def _call(platform: Platform, request: ActionRequest) -> str:
        if request.action == "hide":
            return await platform.hide(request)
        if request.action == "flag":
            return await platform.flag(request)
        return await platform.restore(request)
