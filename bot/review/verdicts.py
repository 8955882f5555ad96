"""Moderators' verdicts on logged decisions: confirm, restore, dismiss (web and CLI alike).

- confirm: modbot was right; nothing changes on the platform, unless the moderator
  escalates (spam, trash, ...) on a platform whose adapter offers it (see `escalate`).
- restore: modbot was wrong; undo its action on the platform through `Actor.restore`
  (its own idempotency key, verdict recorded). When modbot never acted on the platform
  (shadow rule, dry run, failed action) only the verdict is recorded: a restore call
  there could undo a human moderator's own decision.
- dismiss: neither: the flag needs no verdict (it counts in no precision figure).

The optional adapter extension for escalation, beside bot.platforms.base.Platform:

    escalations: tuple[str, ...]          # e.g. ("spam", "trash") for WordPress
    async def escalate(self, request: ActionRequest) -> str
        # request.action is one of `escalations`; the same errors as flag/hide
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from bot.actions import Actor
from bot.models import ActionStatus
from bot.platforms.base import ActionRequest, PermanentError, Platform, PlatformError
from bot.review import queries
from bot.store import AsyncStore

log = structlog.get_logger(__name__)

ACTIONS = ("confirm", "restore", "dismiss")
UNDOABLE = ("flag", "hide")


class VerdictError(Exception):
    """A verdict that cannot be carried out; the message is for the moderator."""


@dataclass(frozen=True, slots=True)
class Outcome:
    decision_id: int
    action: str
    status: str  # done | failed | not_needed | unchanged
    detail: str

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def line(self) -> str:
        return f"#{self.decision_id} {self.action}: {self.status}" + (
            f" ({self.detail})" if self.detail else ""
        )


def escalations(platform: Platform | None) -> tuple[str, ...]:
    """What a platform can escalate a confirmed comment to (empty: no escalation)."""
    if platform is None or not callable(getattr(platform, "escalate", None)):
        return ()
    return tuple(getattr(platform, "escalations", ()))


class Verdicts:
    def __init__(self, store: AsyncStore, platforms: Mapping[str, Platform]) -> None:
        self.store = store
        self.platforms = dict(platforms)
        self.actor = Actor(self.platforms, store)

    async def apply(
        self,
        decision_id: int,
        action: str,
        moderator: str,
        note: str = "",
        escalate: str | None = None,
    ) -> Outcome:
        """Record one moderator's verdict and carry it out; raises VerdictError."""
        if action not in ACTIONS:
            raise VerdictError(f"unknown verdict {action!r}")
        if escalate and action != "confirm":
            raise VerdictError("only a confirmed comment can be escalated")
        note = note.strip()[:2000]
        row = await self.store.run(queries.decision, self.store.sync, decision_id)
        if row is None:
            raise VerdictError(f"no decision #{decision_id} in the log")
        latest = await self.store.run(_latest_verdict, self.store.sync, decision_id)
        if latest == action and not escalate:
            state = queries.VERDICT_OF_ACTION[action]
            return Outcome(decision_id, action, "unchanged", f"already {state}")
        if action == "restore":
            return await self._restore(row, moderator, note)
        if escalate:
            return await self._escalate(row, moderator, note, escalate)
        await self._record(row, action, moderator, note, status="not_needed")
        return Outcome(decision_id, action, "done", "")

    async def _restore(self, row: Any, moderator: str, note: str) -> Outcome:
        decision_id = int(row["id"])
        if row["action"] not in UNDOABLE or row["action_status"] != ActionStatus.DONE.value:
            detail = f"modbot did not act on the platform ({row['action_status']}): nothing to undo"
            await self._record(row, "restore", moderator, note, "not_needed", detail)
            return Outcome(decision_id, "restore", "done", detail)
        if row["site"] not in self.platforms:
            raise VerdictError(f"no platform configured for site {row['site']!r}")
        try:
            result = await self.actor.restore(row, moderator, note)
        except PlatformError as exc:
            raise VerdictError(f"the platform did not answer, try again later: {exc}") from None
        return Outcome(decision_id, "restore", result.status.value, result.detail)

    async def _escalate(self, row: Any, moderator: str, note: str, to: str) -> Outcome:
        platform = self.platforms.get(row["site"])
        if to not in escalations(platform):
            raise VerdictError(f"site {row['site']!r} cannot escalate to {to!r}")
        assert platform is not None
        site, comment_id, version = row["site"], row["comment_id"], row["version"]
        nth = await self.store.run(self.store.sync.count_verdicts, site, comment_id, "confirm")
        raw = f"{site}\0{comment_id}\0{version}\0{to}\0{nth}"
        key = hashlib.sha256(raw.encode()).hexdigest()[:32]
        reason = f"confirmed by moderator {moderator}" + (f": {note}" if note else "")
        request = ActionRequest(comment_id, to, reason, (), version, key)
        ledger = self.store.sync
        await self.store.run(ledger.action_begin, key, site, comment_id, version, to)
        try:
            detail = await platform.escalate(request)  # type: ignore[attr-defined]
            status = ActionStatus.DONE.value
        except PermanentError as exc:
            detail, status = str(exc), ActionStatus.FAILED.value
        except PlatformError as exc:
            raise VerdictError(f"the platform did not answer, try again later: {exc}") from None
        await self.store.run(ledger.action_finish, key, status, detail)
        await self._record(row, "confirm", moderator, note, status, f"{to}: {detail}", key)
        log.info("comment_escalated", site=site, comment_id=comment_id, to=to, status=status)
        return Outcome(int(row["id"]), "confirm", status, f"{to}: {detail}")

    async def _record(
        self,
        row: Any,
        action: str,
        moderator: str,
        note: str,
        status: str,
        detail: str = "",
        key: str = "",
    ) -> None:
        await self.store.run(
            self.store.sync.add_verdict, row, action, moderator, note, key, status, detail
        )
        log.info(
            "verdict_recorded",
            site=row["site"],
            comment_id=row["comment_id"],
            verdict=action,
            moderator=moderator,
        )

    async def apply_many(
        self, ids: list[int], action: str, moderator: str, note: str = ""
    ) -> list[Outcome]:
        """Bulk verdicts, one after another; a failure on one does not stop the rest."""
        outcomes = []
        for decision_id in ids:
            try:
                outcomes.append(await self.apply(decision_id, action, moderator, note))
            except VerdictError as exc:
                outcomes.append(Outcome(decision_id, action, "failed", str(exc)))
        return outcomes


def _latest_verdict(store: Any, decision_id: int) -> str | None:
    rows = store.query(
        "SELECT verdict FROM verdicts WHERE decision_id = ? AND action_status != 'failed' "
        "ORDER BY id DESC LIMIT 1",
        (decision_id,),
    )
    return rows[0][0] if rows else None
