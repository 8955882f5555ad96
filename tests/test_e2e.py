"""End to end against the demo forum: webhooks and polling, rules and the tiny model."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
from conftest import MakeService, TinyModel, site_config, wait_for
from e2e_corpus import expected_verdict, make_corpus, split_thresholds

from bot.config import ModelSettings
from bot.demo.forum import DemoForum
from bot.models import Comment
from bot.scoring.model import load_model

N = 200


@pytest.fixture(name="reference", scope="module")
def _reference(tiny_model: TinyModel) -> dict:
    """Toxicity per text from Detoxify's own predict, one at a time, and thresholds."""
    loaded = load_model(
        ModelSettings(checkpoint=tiny_model.checkpoint, hf_config=tiny_model.hf_config)
    )
    corpus = make_corpus(N)
    scores = [loaded.detox.predict(c.text)["toxicity"] for c in corpus]
    flag_at, hide_at = split_thresholds(scores)
    return {"corpus": corpus, "scores": scores, "flag": flag_at, "hide": hide_at}


def _decisions(service) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    rows = service.store.sync.query("SELECT * FROM decisions")
    return {row["comment_id"]: dict(row) for row in rows}


async def test_two_hundred_comments_by_webhook_and_poll(
    forum: DemoForum, make_service: MakeService, tiny_model: TinyModel, reference: dict
) -> None:
    """All 200 are decided once, condemned ones acted on once, the rest untouched, reasons kept."""
    thresholds = {"toxicity": {"flag": reference["flag"], "hide": reference["hide"]}}
    service = await make_service(forum, tiny_model, policy={"thresholds": thresholds})
    corpus = reference["corpus"]
    for i, case in enumerate(corpus):
        # a third arrive by webhook first; polling finds every comment, so some arrive twice
        await forum.add_comment(case.text, author=f"user{i % 17}", deliver_webhook=i % 3 == 0)
    await wait_for(lambda: len(_decisions(service)) == N)
    decisions = _decisions(service)
    assert {r["source"] for r in decisions.values()} == {"webhook", "poll"}
    wrong = []
    for i, case in enumerate(corpus):
        comment_id = str(i + 1)
        row = decisions[comment_id]
        want = expected_verdict(case, reference["scores"][i], reference["flag"], reference["hide"])
        applied = [a.action for a in forum.applied_for(comment_id)]
        if row["verdict"] != want or applied != ([] if want == "none" else [want]):
            wrong.append((comment_id, want, row["verdict"], applied))
        _check_reasons(row, case, reference["scores"][i])
    assert not wrong, wrong
    assert Counter(row["verdict"] for row in decisions.values())["none"] < N  # some condemned
    keys = Counter(call.key for call in forum.calls)
    assert all(n == 1 for n in keys.values()), "an action was sent twice"


def _check_reasons(row: dict, case, score: float) -> None:  # type: ignore[no-untyped-def]
    hits = json.loads(row["hits"])
    scores = json.loads(row["scores"])
    assert abs(scores["toxicity"] - score) < 1e-4  # batched == one at a time
    assert set(scores) == {
        "toxicity",
        "severe_toxicity",
        "obscene",
        "threat",
        "insult",
        "identity_attack",
    }
    if case.rule:
        assert case.rule in {h["rule_id"] for h in hits}
        for h in hits:
            assert row["text"][h["start"] : h["end"]] == h["matched"]
    assert json.loads(row["thresholds"])["toxicity"]["flag"] is not None
    assert row["model_version"].startswith("checkpoint:tiny.ckpt@")
    assert row["rules_version"]


async def test_platform_503_three_times_then_200(
    forum: DemoForum, make_service: MakeService
) -> None:
    """Three 503s, then success: the hide lands exactly once."""
    forum.fail_next(3, status=503)
    await make_service(forum)
    comment = await forum.add_comment("go home wetback")
    await wait_for(lambda: forum.applied_for(comment["id"]), timeout_s=30)
    calls = forum.calls_for(comment["id"])
    assert [c.status for c in calls] == [503, 503, 503, 200]
    assert len({c.key for c in calls}) == 1
    assert [a.action for a in forum.applied_for(comment["id"])] == ["hide"]


async def test_the_deciding_rules_author_notice_reaches_the_platform(
    forum: DemoForum, make_service: MakeService
) -> None:
    """A hide decided by a rule with a `notice` template sends the filled-in notice; a flag
    by a rule without one sends none."""
    await make_service(forum)
    threat = await forum.add_comment("I will kill you")
    insult = await forum.add_comment("you idiot")
    await wait_for(lambda: forum.applied_for(threat["id"]) and forum.applied_for(insult["id"]))
    [hide] = forum.calls_for(threat["id"])
    assert (hide.action, hide.notice) == ("hide", "Your comment was hidden: Threat of violence")
    [flag] = forum.calls_for(insult["id"])
    assert (flag.action, flag.notice) == ("flag", "")


async def test_platform_429_retry_after_is_honoured(
    forum: DemoForum, make_service: MakeService
) -> None:
    """A 429 with Retry-After: 2 delays the call by at least 2 s, then it lands once."""
    forum.rate_limit_next(1, retry_after_s=2)
    await make_service(forum)
    comment = await forum.add_comment("you idiot")
    await wait_for(lambda: forum.applied_for(comment["id"]), timeout_s=30)
    calls = forum.calls_for(comment["id"])
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 1.9
    assert [a.action for a in forum.applied_for(comment["id"])] == ["flag"]


async def test_permanent_4xx_is_recorded_as_failed_not_retried(
    forum: DemoForum, make_service: MakeService
) -> None:
    """A deleted comment (404) is recorded as a failed action after one call."""
    service = await make_service(
        forum,
        site=site_config(forum, poll={"enabled": False}),
    )
    comment = await forum.add_comment("i will kill you", deliver_webhook=False)
    forum.delete_comment(comment["id"])  # gone before modbot acts on it
    service.store.sync.enqueue(
        [Comment(site="demo", id=str(comment["id"]), text=comment["body"])], "webhook"
    )
    service.worker.wake()
    await wait_for(lambda: len(_decisions(service)) == 1, timeout_s=20)
    row = _decisions(service)[str(comment["id"])]
    assert row["verdict"] == "hide"
    assert row["action_status"] == "failed"
    assert "404" in row["action_detail"]
    assert len(forum.calls_for(comment["id"])) == 1


async def test_dry_run_records_without_calling_the_platform(
    forum: DemoForum, make_service: MakeService
) -> None:
    """Global dry-run: the decision and the would-be action are logged, the forum untouched."""
    service = await make_service(forum, policy={"dry_run": True})
    await forum.add_comment("go home wetback")
    await wait_for(lambda: len(_decisions(service)) == 1)
    row = next(iter(_decisions(service).values()))
    assert (row["verdict"], row["action_status"], row["dry_run"]) == ("hide", "dry_run", 1)
    assert forum.calls == []


async def test_poller_backs_off_on_outage_and_recovers(
    forum: DemoForum, make_service: MakeService
) -> None:
    """Polls failing with 503 are retried with backoff; the comments are then processed."""
    forum.fail_polls(3, status=503)
    service = await make_service(forum, site=site_config(forum, webhook={"enabled": False}))
    await forum.add_comment("you idiot", deliver_webhook=False)
    await forum.add_comment("a kind remark", deliver_webhook=False)
    await wait_for(lambda: len(_decisions(service)) == 2, timeout_s=30)
    statuses = [p.status for p in forum.polls]
    assert statuses[:3] == [503, 503, 503] and 200 in statuses[3:]
    assert service.pollers[0].failures == 0  # reset after the first success
    assert {r["source"] for r in _decisions(service).values()} == {"poll"}


async def test_two_sites_with_their_own_policies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One config, two sites: each site's own policy decides for its comments."""
    from conftest import RULES

    from bot.app import build_service
    from bot.config import Secret, Secrets, Settings

    async with DemoForum("t1", webhook_secret="s1") as live, DemoForum("t2") as shadow:
        settings = Settings.model_validate(
            {
                "store": {"path": str(tmp_path / "two.db")},
                "server": {"port": 0},
                "model": {"enabled": False},
                "rules": {"paths": [str(RULES)]},
                "sites": [
                    {
                        "name": "live",
                        "platform": {"type": "generic", "base_url": live.base_url},
                        "poll": {"interval_s": 0.1},
                    },
                    {
                        "name": "shadow",
                        "platform": {"type": "generic", "base_url": shadow.base_url},
                        "poll": {"interval_s": 0.1},
                        "policy": {"dry_run": True},
                    },
                ],
            }
        )
        secrets = Secrets()
        secrets.api_tokens.update(live=Secret("t1", "t"), shadow=Secret("t2", "t"))
        for forum in (live, shadow):
            await forum.add_comment("go home wetback", deliver_webhook=False)
        async with build_service(settings, secrets) as service:
            task = asyncio.create_task(service.run())
            count = "SELECT COUNT(*) FROM decisions"
            await wait_for(lambda: service.store.sync.query(count)[0][0] == 2)
            service.stop.set()
            await task
            rows = {r["site"]: dict(r) for r in service.store.sync.query("SELECT * FROM decisions")}
    assert rows["live"]["action_status"] == "done" and live.comment(1).state == "hidden"
    assert rows["shadow"]["action_status"] == "dry_run" and shadow.calls == []
