"""A moderator's restore undoes modbot's action, is audited, and modbot does not fight it."""

from __future__ import annotations

from conftest import MakeService, forum_secrets, wait_decided, wait_for

from bot.commands import _restore
from bot.demo.forum import DemoForum
from bot.models import Comment


async def test_restore_puts_comment_back_and_is_audited(
    forum: DemoForum, make_service: MakeService
) -> None:
    """`modbot restore` calls the platform's restore once and records who did it."""
    service = await make_service(forum)
    comment = await forum.add_comment("go home wetback", deliver_webhook=False)
    await wait_decided(service, comment["id"], "hide")
    assert forum.comment(comment["id"]).state == "hidden"
    code = await _restore(
        service.settings,
        forum_secrets(forum),
        "demo",
        str(comment["id"]),
        "alice",
        "reclaimed usage",
    )
    assert code == 0
    assert forum.comment(comment["id"]).state == "visible"
    assert [a.action for a in forum.applied_for(comment["id"])] == ["hide", "restore"]
    rows = service.store.sync.query("SELECT verdict, moderator, note, action_status FROM verdicts")
    assert [tuple(r) for r in rows] == [("restore", "alice", "reclaimed usage", "done")]


async def test_restored_version_is_never_hidden_again(
    forum: DemoForum, make_service: MakeService
) -> None:
    """After a restore, reprocessing the same version does not act; an edit is judged anew."""
    service = await make_service(forum, site=None)
    comment = await forum.add_comment("go home wetback", deliver_webhook=False)
    await wait_decided(service, comment["id"], "hide")
    await _restore(service.settings, forum_secrets(forum), "demo", str(comment["id"]), "bob", "")
    store = service.store.sync
    store.query("DELETE FROM intake")  # let the same version be queued again, as a rescan would
    store.enqueue([Comment(site="demo", id=str(comment["id"]), text="go home wetback")], "scan")
    service.worker.wake()
    await wait_for(lambda: store.counts().get("done") == 1)
    row = store.latest_decision("demo", str(comment["id"]))
    assert row["action_status"] == "human_override"
    assert forum.comment(comment["id"]).state == "visible"
    await forum.edit_comment(comment["id"], "go home wetback, I said", deliver_webhook=False)
    await wait_for(lambda: forum.comment(comment["id"]).state == "hidden")


async def test_edit_that_cleans_up_a_hidden_comment_is_flagged_for_review(
    forum: DemoForum, make_service: MakeService
) -> None:
    """A hidden comment edited into clean text is flagged so a moderator sees it."""
    service = await make_service(forum)
    comment = await forum.add_comment("go home wetback", deliver_webhook=False)
    await wait_decided(service, comment["id"], "hide")
    await forum.edit_comment(comment["id"], "I went too far, sorry.", deliver_webhook=False)
    row = await wait_decided(service, comment["id"], "flag")
    assert "edited_after_hide" in row["reasons"]
    assert [a.action for a in forum.applied_for(comment["id"])] == ["hide", "flag"]
