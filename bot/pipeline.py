"""The only module that chains the stages: normalize -> score -> decide -> act -> record."""

from __future__ import annotations

import time
from collections.abc import Mapping

import structlog

from bot.actions import Actor
from bot.models import Comment, Decision, Record, Score
from bot.normalize import normalize
from bot.policy import Policy, decide
from bot.scoring.base import ModelScorer, RuleScorer
from bot.store import AsyncStore, IntakeItem

log = structlog.get_logger(__name__)


class Pipeline:
    def __init__(
        self,
        rules: RuleScorer,
        model: ModelScorer | None,
        policy: Policy,
        actor: Actor | None = None,
        store: AsyncStore | None = None,
        platform_types: Mapping[str, str] | None = None,
        site_policies: Mapping[str, Policy] | None = None,
    ) -> None:
        self.rules = rules  # swapped atomically when rule files reload
        self.model = model
        self.policy = policy
        self._actor = actor
        self._store = store
        self._platform_types = dict(platform_types or {})
        self.site_policies = dict(site_policies or {})  # sites with a policy of their own

    async def evaluate(
        self, comment: Comment, hidden_before: bool = False
    ) -> tuple[Score, Decision]:
        """Score and decide without acting or recording (`modbot check`, eval)."""
        rules = self.rules
        text = normalize(comment, self._platform_types.get(comment.site, ""))
        hits = rules.match(comment, text)
        model_score = await self.model.score(comment.text) if self.model else None
        score = Score(hits=hits, model=model_score, rules_version=rules.version)
        policy = self.site_policies.get(comment.site, self.policy)
        return score, decide(score, policy, hidden_before)

    def notice(self, score: Score, decision: Decision) -> str:
        """The author notice of the first live rule that decided the verdict, or ""."""
        deciding = {
            r.name
            for r in decision.reasons
            if r.kind == "rule" and not r.shadow and r.verdict is decision.verdict
        }
        for hit in score.hits:
            if hit.rule_id in deciding:
                notice = self.rules.notice(hit)
                if notice:
                    return notice
        return ""

    async def process(self, item: IntakeItem) -> Record:
        """Run one queued comment through every stage; raises RetryableError to requeue."""
        assert self._actor is not None and self._store is not None
        comment = item.comment
        platform = self._platform_types.get(comment.site, "")
        with structlog.contextvars.bound_contextvars(
            comment_id=comment.id, site=comment.site, platform=platform
        ):
            log.debug("comment_text", text=comment.text)
            store = self._store.sync
            hidden_before = await self._store.run(
                store.hidden_before, comment.site, comment.id, comment.version
            )
            score, decision = await self.evaluate(comment, hidden_before)
            result = await self._actor.act(comment, decision, self.notice(score, decision))
            record = Record(
                comment, score, decision, result, item.received_at, time.time(), item.source
            )
            await self.record(record, item.id)
        return record

    async def record(self, record: Record, item_id: int | None = None) -> None:
        """Write a decision to the log (taking its queue item off the queue) and log it."""
        assert self._store is not None
        await self._store.run(self._store.sync.complete, item_id, record)
        log.info(
            "comment_decided",
            verdict=record.decision.verdict.word,
            would=record.decision.would_verdict.word,
            action=record.result.status.value,
            rules=[h.rule_id for h in record.score.hits],
            latency_ms=round((record.decided_at - record.received_at) * 1000, 1),
        )
