"""Act: carry a decision out on the platform, at most once per comment version.

Before calling the platform the action is written to the ledger as `started`; after, as
`done` or `failed`. A crash in between leads to the same call again with the same
Idempotency-Key, which the platform treats as a repeat. A permanent 4xx is recorded as a
failed action and not retried; a retryable error propagates so the comment stays queued.
"""

from __future__ import annotations

import hashlib
from typing import Any

import structlog

from bot.models import ActionResult, ActionStatus, Comment, Decision, Verdict
from bot.platforms.base import ActionRequest, PermanentError, Platform
from bot.platforms.humans import human_override
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

    async def act(self, comment: Comment, decision: Decision, notice: str = "") -> ActionResult:
        """Carry out the decision on the platform, at most once per comment version;
        `notice` is the message for the author that the platform may pass on."""
        verdict = decision.verdict
        if verdict is Verdict.NONE:
            return ActionResult(Verdict.NONE, ActionStatus.NOT_NEEDED)
        key = idempotency_key(comment, verdict.word)
        if decision.dry_run:
            return ActionResult(verdict, ActionStatus.DRY_RUN, key, detail="dry run: not sent")
        ledger = self._store.sync
        if await self._store.run(ledger.human_restored, comment.site, comment.id, comment.version):
            return ActionResult(
                verdict,
                ActionStatus.HUMAN_OVERRIDE,
                key,
                detail="a moderator restored this version; not acting again",
            )
        entry = await self._store.run(ledger.action_get, key)
        if entry is not None and entry.state != "started":
            status = ActionStatus.DONE if entry.state == "done" else ActionStatus.FAILED
            return ActionResult(verdict, status, key, entry.attempts, entry.detail)
        # a half-done call of ours (entry "started") is finished, never second-guessed
        override = "" if entry else await human_override(self._platforms[comment.site], comment.id)
        if override:
            return ActionResult(verdict, ActionStatus.HUMAN_OVERRIDE, key, detail=override)
        await self._store.run(
            ledger.action_begin, key, comment.site, comment.id, comment.version, verdict.word
        )
        attempts = entry.attempts + 1 if entry else 1
        request = ActionRequest(
            comment.id,
            verdict.word,
            summarize(decision),
            decision.reasons,
            comment.version,
            key,
            notice,
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

    async def restore(self, decision: Any, moderator: str, note: str) -> ActionResult:
        """Undo modbot's action on a logged decision, for a moderator; records the verdict.

        `decision` is a row of the log (Store.latest_decision). The restore has its own
        idempotency key per restore of this comment, so restoring again later is possible.
        """
        site, comment_id, version = decision["site"], decision["comment_id"], decision["version"]
        ledger = self._store.sync
        nth = await self._store.run(ledger.count_verdicts, site, comment_id, "restore")
        raw = f"{site}\0{comment_id}\0{version}\0restore\0{nth}"
        key = hashlib.sha256(raw.encode()).hexdigest()[:32]
        reason = f"restored by moderator {moderator}" + (f": {note}" if note else "")
        request = ActionRequest(comment_id, "restore", reason, (), version, key)
        await self._store.run(ledger.action_begin, key, site, comment_id, version, "restore")
        try:
            detail = await self._platforms[site].restore(request)
            status = ActionStatus.DONE
        except PermanentError as exc:
            detail, status = str(exc), ActionStatus.FAILED
        await self._store.run(ledger.action_finish, key, status.value, detail)
        await self._store.run(
            ledger.add_verdict, decision, "restore", moderator, note, key, status.value, detail
        )
        log.info(
            "comment_restored",
            site=site,
            comment_id=comment_id,
            moderator=moderator,
            status=status.value,
        )
        return ActionResult(Verdict.NONE, status, key, 1, detail)

    @staticmethod
    async def _call(platform: Platform, request: ActionRequest) -> str:
        if request.action == "hide":
            return await platform.hide(request)
        if request.action == "flag":
            return await platform.flag(request)
        return await platform.restore(request)
