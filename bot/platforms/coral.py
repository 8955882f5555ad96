"""Coral's External Moderation Phase: Coral asks modbot about a comment before publishing it.

Coral POSTs `{action, comment: {body, parentID}, author, story, site, tenantID}` to
`/coral/<site>` and waits at most the phase's timeout; an answer that comes later is skipped.
modbot scores the comment within `answer_within_ms` and answers:

- hide  -> 200 `{status: REJECTED, actions: [FLAG with a reason]}`
- flag  -> 200 `{actions: [FLAG with a reason]}`: published and in Coral's Reported queue
- none, dry run, or not scored in time -> 204: no opinion, Coral's own phases decide

modbot never answers APPROVED: it would skip Coral's later phases. A comment that cannot be
scored in time is queued durably and decided by the worker; the log shows that decision,
but Coral has moved on, so the adapter's flag/hide fail with a detail saying a moderator
must act in Coral. Coral is push-only: there is nothing to poll.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from bot.actions import idempotency_key
from bot.config import CoralPlatform, Secret
from bot.models import ActionResult, ActionStatus, Author, Comment, Decision, Record, Score, Verdict
from bot.platforms import signing
from bot.platforms.base import (
    ActionRequest,
    Page,
    PermanentError,
    WebhookEvent,
    WebhookRejected,
    storable,
)
from bot.sources import webhook

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Coral-Signature"
SOURCE = "coral"
ACTIONS = ("NEW", "EDIT")
REASON_TOXIC = "COMMENT_DETECTED_TOXIC"
REASON_SPAM = "COMMENT_DETECTED_SPAM"
ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# Scoring gets answer_within_ms minus this reserve, kept for the log write and the network.
RESERVE_SHARE = 0.25
RESERVE_MAX_S = 0.2
NOT_IN_CORAL = (
    "not applied in Coral: Coral only takes modbot's answer while the comment is in its "
    "moderation phase, and this {what} came after it"
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What modbot tells Coral: 204 (no opinion) or 200 with a JSON body."""

    http_status: int
    body: dict[str, Any] | None = None

    def response(self) -> web.Response:
        if self.body is None:
            return web.Response(status=204)
        return web.json_response(self.body, status=self.http_status)

    def describe(self) -> str:
        if self.body is None:
            return "204 (no opinion)"
        actions = ",".join(f"{a['actionType']}/{a['reason']}" for a in self.body.get("actions", []))
        return f"200 status={self.body.get('status', '-')} actions={actions or '-'}"


NO_OPINION = Answer(204)


def scoring_budget_s(answer_within_ms: int) -> float:
    """How long scoring may take so that the whole answer fits in answer_within_ms."""
    total = answer_within_ms / 1000
    return total - min(total * RESERVE_SHARE, RESERVE_MAX_S)


def answer_for(score: Score, decision: Decision, flag_status: str | None = None) -> Answer:
    """Coral's answer for a decision; `flag_status` (e.g. PREMOD) also holds flagged ones."""
    verdict = decision.verdict
    if verdict is Verdict.NONE or decision.dry_run:
        return NO_OPINION
    actions = [{"actionType": "FLAG", "reason": reason_code(score, decision)}]
    if verdict is Verdict.HIDE:
        return Answer(200, {"status": "REJECTED", "actions": actions})
    if flag_status and flag_status != "NONE":
        return Answer(200, {"status": flag_status, "actions": actions})
    return Answer(200, {"actions": actions})


def reason_code(score: Score, decision: Decision) -> str:
    """SPAM when every reason that drove the verdict is about spam, else TOXIC."""
    labels = {hit.rule_id: set(hit.labels) for hit in score.hits}
    driving = [r for r in decision.reasons if r.verdict > Verdict.NONE and not r.shadow]
    spam = [r for r in driving if r.name == "spam" or "spam" in labels.get(r.name, ())]
    return REASON_SPAM if driving and len(spam) == len(driving) else REASON_TOXIC


# --- the request ---------------------------------------------------------------------------


def parse_request(site: str, body: bytes) -> Comment:
    """Coral's request body to a Comment; WebhookRejected(400) says what is wrong."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(400, f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "the body must be a JSON object")
    action = data.get("action")
    if action not in ACTIONS:
        raise WebhookRejected(400, f"'action' must be one of {list(ACTIONS)}")
    comment, author, story = (_object(data, key) for key in ("comment", "author", "story"))
    text = comment.get("body")
    if not isinstance(text, str):
        raise WebhookRejected(400, "'comment.body' must be a string")
    return Comment(
        site=site,
        id=_comment_id(comment.get("id"), action),
        text=storable(text),
        author=Author(
            id=_string(author, "id", "author.id", required=True),
            role=_string(author, "role", "author.role").lower(),
        ),
        thread_id=_string(story, "id", "story.id", required=True),
        parent_id=_string(comment, "parentID", "comment.parentID"),
        url=_string(story, "url", "story.url"),
        extra=(
            ("coral_action", action),
            ("coral_site", _site_id(data.get("site"))),
            ("coral_tenant", _string(data, "tenantID", "tenantID")),
        ),
    )


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise WebhookRejected(400, f"'{key}' must be an object")
    return value


def _string(data: Any, key: str, path: str = "", required: bool = False) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise WebhookRejected(400, f"'{path or key}' must be a non-empty string")
    return storable(value[:500])


def _site_id(value: Any) -> str:
    """Coral's docs show `site` as `{id}`; a bare string is taken as the id too."""
    if isinstance(value, dict):
        return _string(value, "id", "site.id")
    if value is None or isinstance(value, str):
        return storable((value or "")[:500])
    raise WebhookRejected(400, "'site' must be an object {id}")


def _comment_id(value: Any, action: str) -> str:
    """Coral's comment id when it sends one; else a fresh id for this request (a NEW comment
    has no id before Coral stores it), so every request is its own line in the log."""
    if value is None:
        return f"{action.lower()}-{uuid.uuid4().hex}"
    if not isinstance(value, str) or not ID_RE.match(value):
        raise WebhookRejected(400, "'comment.id' must be a string of [A-Za-z0-9_.:-]")
    return value


# --- the adapter ---------------------------------------------------------------------------


class CoralAdapter:
    """One Coral site. Coral calls us (add_routes); there is no API for modbot to call."""

    can_poll = False  # push-only: the poller has nothing to fetch

    def __init__(
        self,
        site: str,
        settings: CoralPlatform,
        token: Secret | None = None,
        webhook_secret: Secret | None = None,
    ) -> None:
        self.site = site
        self._settings = settings
        self._secret = webhook_secret
        self._budget_s = scoring_budget_s(settings.answer_within_ms)
        # PREMOD / SYSTEM_WITHHELD to hold flagged comments too; not a config key yet
        flag_status = getattr(settings, "flag_status", None)
        self._flag_status = str(flag_status).upper() if flag_status else None

    @property
    def path(self) -> str:
        return f"/coral/{self.site}"

    async def start(self) -> None:
        if self._secret is None:
            log.warning(
                "coral_unsigned",
                site=self.site,
                why="no webhook secret configured: requests are not verified",
            )

    async def close(self) -> None:
        return None

    async def fetch_since(self, cursor: str | None, limit: int) -> Page:
        return Page((), None)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        raise WebhookRejected(404, f"Coral calls POST {self.path}, not /webhooks/{self.site}")

    async def flag(self, request: ActionRequest) -> str:
        raise PermanentError(NOT_IN_CORAL.format(what="flag") + "; review it in Coral")

    async def hide(self, request: ActionRequest) -> str:
        raise PermanentError(NOT_IN_CORAL.format(what="hide") + "; reject it in Coral")

    async def restore(self, request: ActionRequest) -> str:
        raise PermanentError(
            "Coral has no API modbot calls: approve the comment in Coral's Rejected queue"
        )

    # --- the moderation phase ----------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(self.path, self.moderate)

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise WebhookRejected(401) unless the body is signed with the site's secret."""
        if self._secret is None:
            return
        if not signing.verify(self._secret.reveal(), body, headers.get(SIGNATURE_HEADER)):
            raise WebhookRejected(401, f"missing or wrong {SIGNATURE_HEADER}")

    async def moderate(self, request: web.Request) -> web.Response:
        """POST /coral/<site>: verify, parse, score within the budget, record, answer."""
        started = time.monotonic()
        received_at = time.time()
        body = await request.read()
        try:
            self.verify(request.headers, body)
            comment = parse_request(self.site, body)
        except WebhookRejected as exc:
            log.warning(
                "coral_rejected",
                site=self.site,
                status=exc.status,
                why=str(exc),
                bytes=len(body),
                remote=request.remote,
            )
            return web.json_response({"error": str(exc)}, status=exc.status)
        with structlog.contextvars.bound_contextvars(
            comment_id=comment.id, site=self.site, platform="coral"
        ):
            answer = await self._answer(request.app, comment, started, received_at)
            elapsed_ms = round((time.monotonic() - started) * 1000, 1)
            late = elapsed_ms > self._settings.answer_within_ms
            (log.warning if late else log.info)(
                "coral_answered", answer=answer.describe(), elapsed_ms=elapsed_ms, late=late
            )
        return answer.response()

    async def _answer(
        self, app: web.Application, comment: Comment, started: float, received_at: float
    ) -> Answer:
        store = app[webhook.STORE_KEY]
        timeout_s = self._budget_s - (time.monotonic() - started)
        try:
            score, decision = await asyncio.wait_for(_evaluate(app, comment), timeout_s)
        except Exception as exc:  # too slow or failed: the worker decides it later
            why = "timeout" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            await store.run(store.sync.enqueue, [comment], SOURCE)
            app[webhook.ON_QUEUED_KEY]()
            log.info("coral_deferred", why=why, budget_ms=round(self._budget_s * 1000))
            return NO_OPINION
        answer = answer_for(score, decision, self._flag_status)
        result = _result(comment, decision, answer)
        record = Record(comment, score, decision, result, received_at, time.time(), SOURCE)
        await app[webhook.PIPELINE_KEY].record(record)
        return answer


async def _evaluate(app: web.Application, comment: Comment) -> tuple[Score, Decision]:
    """Score and decide as the worker would: an edit of a comment modbot hid is checked."""
    hidden_before = False
    if dict(comment.extra).get("coral_action") == "EDIT":
        store = app[webhook.STORE_KEY]
        hidden_before = await store.run(
            store.sync.hidden_before, comment.site, comment.id, comment.version
        )
    return await app[webhook.PIPELINE_KEY].evaluate(comment, hidden_before)


def _result(comment: Comment, decision: Decision, answer: Answer) -> ActionResult:
    """The action a synchronous answer carries out: Coral applies it when it gets it."""
    verdict = decision.verdict
    if verdict is Verdict.NONE:
        return ActionResult(Verdict.NONE, ActionStatus.NOT_NEEDED)
    key = idempotency_key(comment, verdict.word)
    if decision.dry_run:
        return ActionResult(
            verdict, ActionStatus.DRY_RUN, key, detail="dry run: answered Coral 204 (no opinion)"
        )
    return ActionResult(verdict, ActionStatus.DONE, key, 1, f"answered Coral {answer.describe()}")
