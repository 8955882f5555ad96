"""Logging: JSON lines in production, comment context on every event, text only at debug."""

from __future__ import annotations

import asyncio
import io
import json

from conftest import MakeService

from bot import logs
from bot.demo.forum import DemoForum


async def _moderate_one(
    forum: DemoForum, make_service: MakeService, text: str, stream: io.StringIO
) -> None:
    """Moderate one comment and wait for its last log event (written after the log row)."""
    await make_service(forum)
    await forum.add_comment(text)
    for _ in range(500):
        if "comment_decided" in stream.getvalue():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("comment_decided was never logged")


async def test_json_lines_carry_comment_context_and_no_text_at_info(
    forum: DemoForum, make_service: MakeService
) -> None:
    """At info, every event of a comment has comment_id and site, and its text never appears."""
    stream = io.StringIO()
    logs.configure("json", "info", stream=stream)
    text = "go home wetback, signed Quentin Zebulon"
    await _moderate_one(forum, make_service, text, stream)
    events = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    per_comment = [e for e in events if e["event"] in {"comment_decided", "action_done"}]
    assert {e["event"] for e in per_comment} == {"comment_decided", "action_done"}
    assert all(
        (e["comment_id"], e["site"], e["platform"]) == ("1", "demo", "generic") for e in per_comment
    )
    assert "Quentin Zebulon" not in stream.getvalue()


async def test_debug_level_logs_the_comment_text(
    forum: DemoForum, make_service: MakeService
) -> None:
    """At debug, the comment's text is logged once, bound to its id."""
    stream = io.StringIO()
    logs.configure("json", "debug", stream=stream)
    await _moderate_one(forum, make_service, "a calm and civil remark by Quentin", stream)
    lines = [json.loads(x) for x in stream.getvalue().splitlines() if x.startswith("{")]
    text_events = [e for e in lines if e["event"] == "comment_text"]
    assert len(text_events) == 1
    assert text_events[0]["text"] == "a calm and civil remark by Quentin"
    assert text_events[0]["comment_id"] == "1"


def test_console_format_is_readable() -> None:
    """Console output is one human line per event, not JSON."""
    stream = io.StringIO()
    logs.configure("console", "info", stream=stream)
    import structlog

    structlog.get_logger().info("comment_decided", verdict="hide")
    line = stream.getvalue().strip()
    assert "comment_decided" in line and "verdict=hide" in line
    assert not line.startswith("{")
