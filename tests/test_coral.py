"""Coral's External Moderation Phase against a real service, driven by a fake Coral."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from fake_coral import FakeCoral, PhaseResult

from bot.app import Service, build_service
from bot.config import CoralPlatform, Secret, Secrets, Settings
from bot.models import Comment, Decision, ModelScore, Reason, RuleHit, Score, Verdict
from bot.platforms.base import ActionRequest, PermanentError, WebhookRejected
from bot.platforms.coral import (
    REASON_SPAM,
    REASON_TOXIC,
    CoralAdapter,
    answer_for,
    parse_request,
    scoring_budget_s,
)
from bot.scoring.base import ModelScorer

SECRET = "coral-phase-secret"
SLUR = "go home wetback"
INSULT = "you idiot"
CLEAN = "I think the council vote was sensible"
SPAM = "buy cheap pills now"
# The phase is tested on rules of its own: what the shipped rules catch is tested elsewhere.
RULES = """
rules:
  - {id: test.slur, action: hide, labels: [identity_attack], terms: [wetback]}
  - {id: test.insult, action: flag, labels: [insult], terms: [you idiot]}
  - {id: test.spam, action: hide, labels: [spam], terms: [cheap pills]}
"""


class FakeModel:
    """A ModelScorer: toxicity 0.9 for texts with [toxic], slow for [slow], fails once on [boom]."""

    version: str = "fake-model@1"
    labels: tuple[str, ...] = ("toxicity",)

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls: list[str] = []
        self._failed = False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def score(self, text: str) -> ModelScore:
        self.calls.append(text)
        if "[slow]" in text:
            await asyncio.sleep(self.delay_s)
        if "[boom]" in text and not self._failed:
            self._failed = True
            raise RuntimeError("model crashed")
        return ModelScore(self.version, {"toxicity": 0.9 if "[toxic]" in text else 0.01})


MakeCoral = Callable[..., Awaitable[tuple[Service, FakeCoral]]]


@pytest.fixture(name="make_coral")
async def _make_coral(tmp_path: Path) -> AsyncIterator[MakeCoral]:
    """Factory: a running service with one Coral site `news`, and a fake Coral calling it."""
    async with AsyncExitStack() as stack:

        async def make(
            *,
            answer_within_ms: int = 800,
            model: FakeModel | None = None,
            secret: str | None = SECRET,
            policy: dict[str, Any] | None = None,
        ) -> tuple[Service, FakeCoral]:
            site: dict[str, Any] = {
                "name": "news",
                "platform": {"type": "coral", "answer_within_ms": answer_within_ms},
                "poll": {"enabled": False},
            }
            secrets = Secrets()
            if secret:
                site["webhook"] = {"enabled": True, "secret_env": "NEWS_CORAL_SECRET"}
                secrets.webhook_secrets["news"] = Secret(secret, "test")
            rules = tmp_path / "rules.yaml"
            rules.write_text(RULES, encoding="utf-8")
            settings = Settings.model_validate(
                {
                    "store": {"path": str(tmp_path / "modbot.db")},
                    "server": {"host": "127.0.0.1", "port": 0},
                    "model": {"enabled": model is not None},
                    "rules": {"paths": [str(rules)]},
                    "policy": policy or {},
                    "workers": {"concurrency": 4, "retry_max_delay_s": 1},
                    "sites": [site],
                }
            )

            async def model_factory(_: Settings) -> ModelScorer | None:
                return model

            service = await stack.enter_async_context(
                build_service(settings, secrets, model_factory=model_factory)
            )
            task = asyncio.create_task(service.run())

            async def stop() -> None:
                service.stop.set()
                await task

            stack.push_async_callback(stop)
            coral = FakeCoral(
                f"http://127.0.0.1:{service.port}/coral/news",
                [secret] if secret else [],
                timeout_ms=answer_within_ms + 500,  # Coral's timeout, above modbot's budget
            )
            return service, coral

        yield make


async def _rows(service: Service) -> list[dict[str, Any]]:
    store = service.store
    return [dict(r) for r in await store.run(store.sync.query, "SELECT * FROM decisions")]


async def _wait_rows(service: Service, n: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while len(rows := await _rows(service)) < n:
        assert time.monotonic() < deadline, f"{len(rows)} of {n} decisions logged"
        await asyncio.sleep(0.05)
    return rows


# --- the phase, end to end ---------------------------------------------------------------


async def test_clean_comment_gets_no_opinion_quickly(make_coral: MakeCoral) -> None:
    """A clean comment: 204 well inside the budget, logged once with verdict none."""
    service, coral = await make_coral(model=FakeModel())
    result = await coral.moderate(CLEAN)
    assert (result.http_status, result.body) == (204, None)
    assert result.elapsed_ms < 400
    [row] = await _rows(service)
    assert (row["verdict"], row["source"], row["action_status"]) == ("none", "coral", "not_needed")
    assert (row["text"], row["thread_id"], row["author_id"]) == (CLEAN, "story-1", "user-1")
    assert row["url"] == "https://news.example.com/story-1"
    assert row["scores"] == json.dumps({"toxicity": 0.01})


async def test_slur_is_rejected_with_a_toxic_flag(make_coral: MakeCoral) -> None:
    """A comment the shipped rules hide: 200 REJECTED plus a FLAG with Coral's reason code."""
    service, coral = await make_coral()
    result = await coral.moderate(SLUR)
    assert result.http_status == 200
    assert result.body == {
        "status": "REJECTED",
        "actions": [{"actionType": "FLAG", "reason": REASON_TOXIC}],
    }
    [row] = await _rows(service)
    assert (row["verdict"], row["action"], row["action_status"]) == ("hide", "hide", "done")
    assert "REJECTED" in row["action_detail"]
    assert "test.slur" in row["hits"]


async def test_spam_rule_gives_the_spam_reason(make_coral: MakeCoral) -> None:
    """A hide driven only by a rule labelled spam is flagged COMMENT_DETECTED_SPAM."""
    _, coral = await make_coral()
    result = await coral.moderate(SPAM)
    assert (result.status, result.actions[0]["reason"]) == ("REJECTED", REASON_SPAM)


async def test_insult_is_flagged_and_left_to_coral(make_coral: MakeCoral) -> None:
    """A flag-level comment: a FLAG action with a reason and no status (Coral still decides)."""
    service, coral = await make_coral()
    result = await coral.moderate(INSULT)
    assert result.http_status == 200
    assert result.status is None
    assert result.actions == [{"actionType": "FLAG", "reason": REASON_TOXIC}]
    [row] = await _rows(service)
    assert (row["verdict"], row["action_status"]) == ("flag", "done")


async def test_model_scores_drive_the_answer(make_coral: MakeCoral) -> None:
    """A model score over the flag threshold flags, like a rule does."""
    service, coral = await make_coral(model=FakeModel())
    result = await coral.moderate("a perfectly ordinary sentence [toxic]")
    assert result.actions == [{"actionType": "FLAG", "reason": REASON_TOXIC}]
    [row] = await _rows(service)
    assert json.loads(row["reasons"])[0]["name"] == "toxicity"


async def test_bad_or_missing_signature_is_401_and_not_logged(make_coral: MakeCoral) -> None:
    """Wrong secret or no signature: 401; a rotated pair with the right secret is accepted."""
    service, coral = await make_coral()
    coral.secrets = ["not-the-secret"]
    assert (await coral.moderate(SLUR)).http_status == 401
    coral.secrets = []
    assert (await coral.moderate(SLUR)).http_status == 401
    assert await _rows(service) == []
    coral.secrets = ["old-secret", SECRET]  # Coral sends several while rotating
    assert (await coral.moderate(SLUR)).status == "REJECTED"


MALFORMED: list[tuple[str, Any]] = [
    ("not json", b"{"),
    ("not an object", [1, 2]),
    ("unknown action", {"action": "DELETE"}),
    ("no comment", {"comment": None}),
    ("body not a string", {"comment": {"body": 7, "parentID": None}}),
    ("author without id", {"author": {"role": "COMMENTER"}}),
    ("no story", {"story": "story-1"}),
    ("story id not a string", {"story": {"id": 12, "url": "u"}}),
    ("site not an object", {"site": 3}),
    ("bad comment id", {"comment": {"id": "a/b", "body": "hi", "parentID": None}}),
]


async def test_malformed_bodies_are_400_and_not_logged(make_coral: MakeCoral) -> None:
    """Every body of the wrong shape gets 400 and nothing is logged; a good one still works."""
    service, coral = await make_coral()
    for name, change in MALFORMED:
        if isinstance(change, dict):
            raw = json.dumps({**coral.request_body("hello"), **change}).encode()
        else:
            raw = change if isinstance(change, bytes) else json.dumps(change).encode()
        result = await coral.post(raw, coral.signature_headers)
        assert result.http_status == 400, name
        assert result.body and result.body["error"], name
    assert await _rows(service) == []
    assert (await coral.moderate(CLEAN)).http_status == 204


async def test_slow_scorer_answers_no_opinion_in_time_then_decides(make_coral: MakeCoral) -> None:
    """Scoring slower than answer_within_ms: 204 before it, then the worker logs the decision."""
    model = FakeModel(delay_s=1.0)
    service, coral = await make_coral(answer_within_ms=300, model=model)
    result = await coral.moderate(f"{SLUR} [slow]")
    assert not result.timed_out
    assert (result.http_status, result.body) == (204, None)
    assert result.elapsed_ms < 300 + 400  # long before the 1 s of scoring, even on a busy host
    assert await _rows(service) == []  # not decided yet: the worker is scoring it
    [row] = await _wait_rows(service, 1)
    assert (row["verdict"], row["source"]) == ("hide", "coral")
    assert row["action_status"] == "failed"  # too late for Coral: a moderator must act
    assert "not applied in Coral" in row["action_detail"]
    assert await service.store.run(service.store.sync.counts) == {"done": 1}
    await asyncio.sleep(0.3)
    assert len(await _rows(service)) == 1


async def test_failing_scorer_answers_no_opinion_and_retries(make_coral: MakeCoral) -> None:
    """A scorer error: 204 at once; the queued comment is retried and decided."""
    service, coral = await make_coral(model=FakeModel())
    result = await coral.moderate("nothing wrong here [boom]")
    assert result.http_status == 204
    [row] = await _wait_rows(service, 1)
    assert (row["verdict"], row["source"], row["action_status"]) == ("none", "coral", "not_needed")


async def test_dry_run_answers_no_opinion_and_logs_the_would_be_action(
    make_coral: MakeCoral,
) -> None:
    """Dry run: Coral gets 204 for a slur; the log keeps the hide marked dry_run."""
    service, coral = await make_coral(policy={"dry_run": True})
    assert (await coral.moderate(SLUR)).http_status == 204
    [row] = await _rows(service)
    assert (row["verdict"], row["action_status"], row["dry_run"]) == ("hide", "dry_run", 1)


async def test_every_request_is_logged_once(make_coral: MakeCoral) -> None:
    """A mix of NEW and EDIT requests, the same text twice included: one log line each."""
    service, coral = await make_coral(answer_within_ms=300, model=FakeModel(delay_s=0.6))
    texts = [CLEAN, SLUR, INSULT, CLEAN, f"{CLEAN} [slow]"]
    results = await asyncio.gather(
        *(coral.moderate(t, author_id=f"u{i}") for i, t in enumerate(texts))
    )
    edit = await coral.moderate(INSULT, "EDIT", comment_id="c-42")
    assert [r.http_status for r in results] == [204, 200, 200, 204, 204]
    assert edit.actions and not any(r.timed_out for r in results)
    rows = await _wait_rows(service, len(texts) + 1)
    await asyncio.sleep(0.3)
    rows = await _rows(service)
    assert len(rows) == len(texts) + 1
    assert len({r["comment_id"] for r in rows}) == len(rows)
    assert sorted(r["author_id"] for r in rows) == sorted([f"u{i}" for i in range(5)] + ["user-1"])
    assert [r["comment_id"] for r in rows if r["author_id"] == "user-1"] == ["c-42"]
    assert {r["source"] for r in rows} == {"coral"}


async def test_cleaned_up_edit_of_a_rejected_comment_is_flagged(make_coral: MakeCoral) -> None:
    """An EDIT that cleans up a comment modbot rejected is flagged for a moderator."""
    service, coral = await make_coral()
    assert (await coral.moderate(SLUR, "EDIT", comment_id="c-7")).status == "REJECTED"
    result = await coral.moderate(CLEAN, "EDIT", comment_id="c-7")
    assert (result.status, result.actions) == (
        None,
        [{"actionType": "FLAG", "reason": REASON_TOXIC}],
    )
    rows = await _rows(service)
    assert [(r["comment_id"], r["verdict"]) for r in rows] == [("c-7", "hide"), ("c-7", "flag")]
    assert json.loads(rows[1]["reasons"])[0]["kind"] == "history"


async def test_unsigned_requests_pass_when_no_secret_is_set(make_coral: MakeCoral) -> None:
    """Without a configured secret the phase answers unsigned requests."""
    _, coral = await make_coral(secret=None)
    assert (await coral.moderate(SLUR)).status == "REJECTED"


async def test_generic_webhook_route_refuses_coral_sites(make_coral: MakeCoral) -> None:
    """POST /webhooks/news is not how Coral talks to modbot: 404 pointing at /coral/news."""
    _, coral = await make_coral()
    other = FakeCoral(coral.url.replace("/coral/", "/webhooks/"), [SECRET])
    result: PhaseResult = await other.moderate(SLUR)
    assert result.http_status == 404
    assert result.body and "/coral/news" in result.body["error"]


# --- the pieces ----------------------------------------------------------------------------


def _decision(verdict: Verdict, *reasons: Reason, dry_run: bool = False) -> Decision:
    return Decision(verdict, verdict, reasons, dry_run, {}, "", "")


def test_answer_mapping() -> None:
    """hide -> REJECTED + FLAG, flag -> FLAG (or the configured hold status), none -> 204."""
    hide = _decision(Verdict.HIDE, Reason("rule", "slur.race", Verdict.HIDE, ""))
    flag = _decision(Verdict.FLAG, Reason("model", "insult", Verdict.FLAG, ""))
    toxic = [{"actionType": "FLAG", "reason": REASON_TOXIC}]
    assert answer_for(Score(), hide).body == {"status": "REJECTED", "actions": toxic}
    assert answer_for(Score(), flag).body == {"actions": toxic}
    assert answer_for(Score(), flag, "PREMOD").body == {"status": "PREMOD", "actions": toxic}
    assert answer_for(Score(), _decision(Verdict.NONE)).http_status == 204
    assert answer_for(Score(), _decision(Verdict.HIDE, dry_run=True)).http_status == 204


def test_spam_reason_only_when_every_driving_reason_is_spam() -> None:
    """Rules labelled spam give COMMENT_DETECTED_SPAM; mixed with abuse it stays TOXIC."""
    spam_hit = RuleHit("spam.link", Verdict.HIDE, 0, 4, "buy!", labels=("spam",))
    spam = Reason("rule", "spam.link", Verdict.HIDE, "")
    insult = Reason("model", "insult", Verdict.FLAG, "")
    shadow = Reason("rule", "x", Verdict.HIDE, "", shadow=True)
    score = Score(hits=(spam_hit,))
    reason = answer_for(score, _decision(Verdict.HIDE, spam, shadow)).body["actions"][0]["reason"]  # type: ignore[index]
    assert reason == REASON_SPAM
    mixed = answer_for(score, _decision(Verdict.HIDE, spam, insult)).body
    assert mixed and mixed["actions"][0]["reason"] == REASON_TOXIC


def test_scoring_budget_keeps_a_reserve() -> None:
    """Scoring gets 75 % of the answer time, with at most 200 ms held back."""
    assert scoring_budget_s(100) == pytest.approx(0.075)
    assert scoring_budget_s(800) == pytest.approx(0.6)
    assert scoring_budget_s(5000) == pytest.approx(4.8)


def test_parse_request_maps_coral_fields() -> None:
    """Coral's request becomes a Comment; a NEW comment gets a fresh id per request."""
    body = FakeCoral("http://x").request_body("hi", author_id="a1", role="STAFF", parent_id="p9")
    first = parse_request("news", json.dumps(body).encode())
    second = parse_request("news", json.dumps(body).encode())
    assert first.id.startswith("new-") and first.id != second.id
    assert (first.text, first.author.id, first.author.role) == ("hi", "a1", "staff")
    assert (first.thread_id, first.parent_id) == ("story-1", "p9")
    assert dict(first.extra) == {
        "coral_action": "NEW",
        "coral_site": "site-1",
        "coral_tenant": "tenant-1",
    }
    edit = parse_request("news", json.dumps({**body, "action": "EDIT", "site": "s2"}).encode())
    assert edit.id.startswith("edit-") and dict(edit.extra)["coral_site"] == "s2"
    with pytest.raises(WebhookRejected) as caught:
        parse_request("news", b'{"action": "NEW"}')
    assert caught.value.status == 400


async def test_adapter_is_push_only_and_cannot_act_later() -> None:
    """Nothing to poll; late flag/hide/restore fail with a detail that names Coral."""
    adapter = CoralAdapter("news", CoralPlatform(type="coral", answer_within_ms=800))
    page = await adapter.fetch_since(None, 100)
    assert (page.comments, page.cursor) == ((), None)
    comment = Comment(site="news", id="c1", text="x")
    request = ActionRequest(comment.id, "hide", "why", (), comment.version, "k")
    for call in (adapter.flag, adapter.hide, adapter.restore):
        with pytest.raises(PermanentError, match="Coral"):
            await call(request)
