"""Rules reload while the service runs: a good edit applies, a broken one keeps the old rules."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from conftest import forum_secrets, service_settings, wait_for

from bot.app import build_service
from bot.demo.forum import DemoForum

RULE = """rules:
  - id: test.word
    reason: test rule
    action: hide
    match: {{words: [{word}]}}
"""


async def test_service_picks_up_rule_edits_and_survives_broken_ones(
    forum: DemoForum, tmp_path: Path
) -> None:
    """Editing a rule file swaps the rules; a broken edit is refused and the old rules stay."""
    rules = tmp_path / "rules"
    rules.mkdir()
    path = rules / "test.yaml"
    path.write_text(RULE.format(word="zanzibar"))
    settings = service_settings(forum, tmp_path / "r.db")
    settings = settings.model_copy(
        update={"rules": settings.rules.model_copy(update={"paths": (rules,)})}
    )
    async with build_service(settings, forum_secrets(forum)) as service:
        forum.webhook_url = f"http://127.0.0.1:{service.port}/webhooks/demo"
        task = asyncio.create_task(service.run())
        first = await forum.add_comment("zanzibar")
        await wait_for(lambda: forum.comment(first["id"]).state == "hidden")
        path.write_text(RULE.format(word="quixotic"))
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
        await wait_for(
            lambda: (
                service.pipeline.rules.rule("test.word") is not None
                and "quixotic" in str(service.pipeline.rules.rule("test.word"))
            ),
            10,
        )
        second = await forum.add_comment("quixotic")
        await wait_for(lambda: forum.comment(second["id"]).state == "hidden")
        good_version = service.pipeline.rules.version
        path.write_text("rules:\n  - id: test.word\n    action: obliterate\n")
        os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 10))
        reloader = service.reloader
        assert reloader is not None
        await wait_for(lambda: "test.yaml" in str(reloader.last_error), 10)
        assert service.pipeline.rules.version == good_version
        third = await forum.add_comment("quixotic again")
        await wait_for(lambda: forum.comment(third["id"]).state == "hidden")
        service.stop.set()
        await task
