"""`modbot scan`: the backlog of an existing site is moderated once, newest-first dates honoured."""

from __future__ import annotations

from pathlib import Path

from conftest import forum_secrets, service_settings

from bot.demo.forum import DemoForum
from bot.scan import _scan
from bot.store import Store


async def test_scan_moderates_backlog_once(forum: DemoForum, tmp_path: Path) -> None:
    """Comments that existed before modbot are decided; a second scan acts on nothing new."""
    texts = ["go home wetback", "you idiot", "a fine point, well made", "thanks for this"] * 30
    for text in texts:
        await forum.add_comment(text, deliver_webhook=False)
    db = tmp_path / "scan.db"
    settings = service_settings(forum, db)
    assert await _scan(settings, forum_secrets(forum), ["demo"], since=0.0) == 0
    store = Store(db)
    assert store.query("SELECT COUNT(*) FROM decisions")[0][0] == len(texts)
    assert {r[0] for r in store.query("SELECT DISTINCT source FROM decisions")} == {"scan"}
    hidden = [c for c in forum.comments if c.state == "hidden"]
    assert len(hidden) == 30 and len(forum.applied) == 60
    assert await _scan(settings, forum_secrets(forum), ["demo"], since=0.0) == 0
    assert len(forum.applied) == 60  # nothing acted on twice


async def test_scan_skips_comments_older_than_since(forum: DemoForum, tmp_path: Path) -> None:
    """--since in the future skips every comment and touches nothing."""
    await forum.add_comment("go home wetback", deliver_webhook=False)
    settings = service_settings(forum, tmp_path / "scan.db")
    assert await _scan(settings, forum_secrets(forum), ["demo"], since=4102444800.0) == 0
    assert forum.applied == []
