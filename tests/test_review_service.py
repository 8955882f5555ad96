"""The review page beside a running service: restores reach the platform (the demo forum),
and modbot never fights a human (restored versions stay; platform-side decisions stand)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from conftest import MakeService, wait_decided, wait_for

from bot.app import Service
from bot.demo.forum import DemoForum
from bot.models import Comment
from bot.platforms.base import RetryableError
from bot.review.humans import DemoForumHumanState, HumanState, human_override
from bot.review.testing import CSRF_RE, FAST_HASHER, PASSWORD, add_moderator, review_settings
from bot.review.web import ReviewServer, start_review_server


async def start_review(service: Service) -> ReviewServer:
    """The review server on its own port and store connection, as `modbot run` starts it."""
    settings = service.settings.model_copy(update={"review": review_settings()})
    add_moderator(service.store.sync, "alice")
    server = await start_review_server(settings, service.platforms, hasher=FAST_HASHER)
    assert server is not None
    return server


@pytest.fixture(name="http")
async def _http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def login(http: aiohttp.ClientSession, url: str) -> str:
    """Log in as alice; the CSRF token of the session."""
    page = await (await http.get(f"{url}/login")).text()
    token = CSRF_RE.search(page)
    assert token is not None
    data = {"name": "alice", "password": PASSWORD, "csrf_token": token.group(1)}
    async with http.post(f"{url}/login", data=data) as response:
        queue = await response.text()
    found = CSRF_RE.search(queue)
    assert found is not None
    return found.group(1)


async def test_restore_from_the_page_reaches_the_platform_and_is_never_fought(
    forum: DemoForum, make_service: MakeService, http: aiohttp.ClientSession
) -> None:
    """Restore calls the forum's restore once, is audited, and the same version is not
    hidden again on a rescan; an edit is judged anew."""
    service = await make_service(forum)
    server = await start_review(service)
    try:
        comment = await forum.add_comment("go home wetback", deliver_webhook=False)
        cid = str(comment["id"])
        decision_id = (await wait_decided(service, cid, "hide"))["id"]
        assert forum.comment(cid).state == "hidden"
        csrf = await login(http, server.url)
        data = {"action": "restore", "note": "reclaimed usage", "csrf_token": csrf}
        async with http.post(f"{server.url}/entry/{decision_id}/verdict", data=data) as r:
            assert r.status == 200
        assert forum.comment(cid).state == "visible"
        assert [c.action for c in forum.calls_for(cid)] == ["hide", "restore"]
        rows = service.store.sync.query(
            "SELECT verdict, moderator, note, action_status FROM verdicts"
        )
        assert [tuple(r) for r in rows] == [("restore", "alice", "reclaimed usage", "done")]

        store = service.store.sync
        store.query("DELETE FROM intake")  # the same version comes again, as a rescan would
        store.enqueue([Comment(site="demo", id=cid, text="go home wetback")], "scan")
        service.worker.wake()
        await wait_for(lambda: store.counts().get("done") == 1)
        assert store.latest_decision("demo", cid)["action_status"] == "human_override"
        assert forum.comment(cid).state == "visible"
        state = store.query("SELECT state FROM review_queue WHERE decision_id = ?", (decision_id,))
        assert state[0][0] == "restored"  # the re-decision kept the moderator's verdict

        await forum.edit_comment(cid, "go home wetback, I said", deliver_webhook=False)
        await wait_for(lambda: forum.comment(cid).state == "hidden")
    finally:
        await server.close()


async def test_review_server_is_off_unless_enabled(
    forum: DemoForum, make_service: MakeService
) -> None:
    """review.enabled defaults to false: no listener is opened."""
    service = await make_service(forum)
    assert await start_review_server(service.settings, service.platforms) is None


# -- a comment a moderator acted on directly on the platform --------------------------------


async def test_human_state_hook_reports_a_moderators_own_decision(forum: DemoForum) -> None:
    """The demo forum's hook says a human hid comment 1 and nothing about comment 2."""
    by_human = await forum.add_comment("spam spam", state="hidden", deliver_webhook=False)
    untouched = await forum.add_comment("fine", deliver_webhook=False)
    platform = DemoForumHumanState(object(), forum)
    detail = await human_override(platform, str(by_human["id"]))
    assert "set hidden by forum moderator on the platform" in detail
    assert await human_override(platform, str(untouched["id"])) == ""
    assert await human_override(object(), "1") == ""  # adapters without the hook


async def test_human_state_hook_errors_do_not_stop_moderation() -> None:
    """A platform that cannot answer the hook is treated as 'no human decision'."""

    class Down:
        async def human_state(self, comment_id: str) -> HumanState | None:
            raise RetryableError("503")

    assert await human_override(Down(), "7") == ""
