"""The WordPress adapter against an in-process fake of WordPress 6.1's REST API: the id
cursor over many comments and gaps, statuses, the start-up checks, webhooks. The real
WordPress is in test_wordpress.py."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.config import ConfigError, PollSettings, Secret, WordPressPlatform
from bot.models import Reason, Verdict
from bot.platforms import signing
from bot.platforms.base import ActionRequest, PermanentError, WebhookRejected
from bot.platforms.wordpress import (
    META_KEYS,
    WordPressAdapter,
    WordPressSetupError,
    hide_status,
    parse_comment,
)
from bot.sources.poller import Poller
from bot.store import AsyncStore, Store

PASSWORD = "abcd EFGH ijkl MNOP qrst UVWX"
HOOK_SECRET = "hook-secret"
ADMIN_CAPS = {"moderate_comments": True, "edit_posts": True, "manage_options": True}


@dataclass
class FakeComment:
    id: int
    content: str = "hello"
    status: str = "approved"  # approved | hold | spam | trash, as objects report it
    author: int = 0
    ip: str = "203.0.113.7"
    agent: str = "Firefox/140"
    meta: dict[str, str] = field(default_factory=lambda: dict.fromkeys(META_KEYS, ""))
    before_trash: str | None = None  # WordPress's _wp_trash_meta_status

    def rest(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "post": 7,
            "parent": 0,
            "author": self.author,
            "author_name": "Ann",
            "author_ip": self.ip,
            "author_user_agent": self.agent,
            "date_gmt": "2026-11-25T10:00:00",
            "link": f"http://blog.test/post/#comment-{self.id}",
            "status": self.status,
            "type": "comment",
            "content": {"raw": self.content, "rendered": f"<p>{self.content}</p>"},
            "meta": dict(self.meta),
            "modbot_author": {"roles": [], "moderator": False, "registered_gmt": ""},
        }


LIST_STATUSES = {"approve": {"approved"}, "hold": {"hold"}, "spam": {"spam"}}
LIST_STATUSES |= {"trash": {"trash"}, "all": {"approved", "hold"}}
UPDATE_STATUSES = {"approved": "approved", "approve": "approved", "1": "approved"}
UPDATE_STATUSES |= {"hold": "hold", "0": "hold", "spam": "spam", "trash": "trash"}


class FakeWordPress:
    """WordPress 6.1's comment and user endpoints, strict where WordPress is.

    A wrong application password is treated as anonymous (401 rest_not_logged_in from
    /users/me, 401 rest_forbidden_context elsewhere); context=edit needs moderate_comments;
    per_page must be 1..100; `status=all` means approved and held; unknown meta keys are
    ignored, registered ones only exist with the plugin; every update overwrites the author
    IP and user agent with the caller's unless they are sent, as 6.1 does. Stricter than
    6.1: setting the status a comment already has answers 500, which WordPress does only
    when nothing but the status is sent (handle_status_param fails).
    """

    def __init__(self) -> None:
        self.comments: dict[int, FakeComment] = {}
        self.next_id = 1
        self.users = {"admin": (PASSWORD, ADMIN_CAPS, ["administrator"])}
        self.plugin = True
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    def add(self, n: int = 1, **fields: Any) -> list[FakeComment]:
        added = []
        for _ in range(n):
            comment = FakeComment(self.next_id, content=f"comment {self.next_id}", **fields)
            self.comments[comment.id] = comment
            self.next_id += 1
            added.append(comment)
        return added

    async def __aenter__(self) -> FakeWordPress:
        app = web.Application()
        base = "/wp-json/wp/v2"
        app.router.add_get(f"{base}/users/me", self.me)
        app.router.add_route("OPTIONS", f"{base}/comments", self.schema)
        app.router.add_get(f"{base}/comments", self.list)
        app.router.add_get(f"{base}/comments/{{id}}", self.get)
        app.router.add_post(f"{base}/comments/{{id}}", self.update)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def _user(self, request: web.Request) -> tuple[str, dict[str, bool], list[str]] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        name, _, password = base64.b64decode(header[6:]).decode().partition(":")
        known = self.users.get(name)
        if known is None or known[0].replace(" ", "") != password.replace(" ", ""):
            return None  # WordPress 6.1: silently anonymous
        return name, known[1], known[2]

    async def _record(self, request: web.Request) -> Any:
        body = await request.json() if request.can_read_body else None
        self.requests.append((request.method, request.path, dict(request.query), body))
        return body

    @staticmethod
    def _error(status: int, code: str) -> web.Response:
        return web.json_response({"code": code, "data": {"status": status}}, status=status)

    def _moderator(self, request: web.Request) -> web.Response | None:
        user = self._user(request)
        if user is None or not user[1].get("moderate_comments"):
            return self._error(401, "rest_forbidden_context")
        return None

    async def me(self, request: web.Request) -> web.Response:
        await self._record(request)
        user = self._user(request)
        if user is None:
            return self._error(401, "rest_not_logged_in")
        return web.json_response(
            {"id": 1, "username": user[0], "roles": user[2], "capabilities": user[1]}
        )

    async def schema(self, request: web.Request) -> web.Response:
        keys = META_KEYS if self.plugin else ()
        meta = {"type": "object", "properties": {k: {"type": "string"} for k in keys}}
        return web.json_response({"schema": {"properties": {"meta": meta}}})

    async def list(self, request: web.Request) -> web.Response:
        await self._record(request)
        if (denied := self._moderator(request)) is not None:
            return denied
        q = request.query
        per_page = int(q.get("per_page", "10"))
        if not 1 <= per_page <= 100:
            return self._error(400, "rest_invalid_param")
        statuses = LIST_STATUSES.get(q.get("status", "approve"), set())
        found = [c for c in self.comments.values() if c.status in statuses]
        if "include" in q:
            wanted = {int(x) for x in q["include"].split(",") if x}
            found = [c for c in found if c.id in wanted]
        assert q.get("orderby") == "id"
        found.sort(key=lambda c: c.id, reverse=q.get("order") == "desc")
        page = int(q.get("page", "1"))
        items = found[(page - 1) * per_page : page * per_page]
        return web.json_response([self._shown(c) for c in items])

    def _shown(self, comment: FakeComment) -> dict[str, Any]:
        data = comment.rest()
        if not self.plugin:
            data.pop("meta")
            data.pop("modbot_author")
        return data

    def _comment(self, request: web.Request) -> FakeComment | web.Response:
        comment = self.comments.get(int(request.match_info["id"]))
        return comment if comment else self._error(404, "rest_comment_invalid_id")

    async def get(self, request: web.Request) -> web.Response:
        await self._record(request)
        if (denied := self._moderator(request)) is not None:
            return denied
        comment = self._comment(request)
        if isinstance(comment, web.Response):
            return comment
        return web.json_response(self._shown(comment))

    async def update(self, request: web.Request) -> web.Response:
        body = await self._record(request)
        if (denied := self._moderator(request)) is not None:
            return denied
        comment = self._comment(request)
        if isinstance(comment, web.Response):
            return comment
        if "status" in body and UPDATE_STATUSES.get(body["status"]) == comment.status:
            return self._error(500, "rest_comment_failed_edit")
        comment.ip = body.get("author_ip") or "127.0.0.1"
        comment.agent = body.get("author_user_agent") or request.headers.get("User-Agent", "")
        if "status" in body:
            self._set_status(comment, body["status"])
        for key, value in (body.get("meta") or {}).items():
            if self.plugin and key in META_KEYS:
                comment.meta[key] = value
        return web.json_response(self._shown(comment))

    @staticmethod
    def _set_status(comment: FakeComment, word: str) -> None:
        if word in ("unspam", "untrash"):
            comment.status, comment.before_trash = comment.before_trash or "hold", None
        elif UPDATE_STATUSES[word] in ("spam", "trash"):
            comment.before_trash, comment.status = comment.status, UPDATE_STATUSES[word]
        else:
            comment.status = UPDATE_STATUSES[word]


@pytest.fixture(name="wp")
async def _wp() -> AsyncIterator[FakeWordPress]:
    async with FakeWordPress() as fake:
        yield fake


def make_adapter(
    wp: FakeWordPress, password: str = PASSWORD, user: str = "admin", **platform: Any
) -> WordPressAdapter:
    settings = WordPressPlatform(
        type="wordpress", base_url=wp.url, username=user, max_retries=0, **platform
    )
    return WordPressAdapter(
        "blog", settings, Secret(password, "$WP_PASSWORD"), Secret(HOOK_SECRET, "test")
    )


@pytest.fixture(name="adapter")
async def _adapter(wp: FakeWordPress) -> AsyncIterator[WordPressAdapter]:
    adapter = make_adapter(wp, hide_status_by_rule={"threat.violence": "spam"})
    await adapter.start()
    yield adapter
    await adapter.close()


def request(
    comment_id: int | str, action: str, *reasons: Reason, reason: str = "why"
) -> ActionRequest:
    return ActionRequest(str(comment_id), action, reason, reasons, "v1", "key")


def rule(name: str, verdict: Verdict = Verdict.HIDE, shadow: bool = False) -> Reason:
    return Reason("rule", name, verdict, "matched", shadow=shadow)


# --- start-up -----------------------------------------------------------------------------


async def test_start_accepts_an_editor_or_admin(wp: FakeWordPress) -> None:
    """Valid credentials of a user who may moderate, and the plugin active: start-up passes."""
    adapter = make_adapter(wp)
    await adapter.start()
    await adapter.close()
    assert wp.requests[0][1] == "/wp-json/wp/v2/users/me"
    assert wp.requests[0][2]["context"] == "edit"


async def test_wrong_password_fails_start_up_naming_the_site(wp: FakeWordPress) -> None:
    """WordPress answers a wrong application password as if anonymous: start-up says so."""
    adapter = make_adapter(wp, password="wrong wrong wrong wrong wron")
    with pytest.raises(WordPressSetupError) as caught:
        await adapter.start()
    await adapter.close()
    message = str(caught.value)
    assert "site 'blog'" in message and wp.url in message
    assert "refused the application password for user 'admin'" in message
    assert "$WP_PASSWORD" in message and "WP_ENVIRONMENT_TYPE" in message
    assert isinstance(caught.value, ConfigError) and isinstance(caught.value, PermanentError)


async def test_user_without_moderate_comments_fails_start_up(wp: FakeWordPress) -> None:
    """A subscriber's valid password is not enough: modbot needs moderate_comments."""
    wp.users["reader"] = (PASSWORD, {"read": True}, ["subscriber"])
    adapter = make_adapter(wp, user="reader")
    with pytest.raises(WordPressSetupError, match="lacks the capability moderate_comments"):
        await adapter.start()
    await adapter.close()


async def test_missing_plugin_fails_start_up(wp: FakeWordPress) -> None:
    """Without the mu-plugin there is nowhere to record flags: start-up says what to copy."""
    wp.plugin = False
    adapter = make_adapter(wp)
    with pytest.raises(WordPressSetupError, match=r"mu-plugin is not active.*modbot\.php"):
        await adapter.start()
    await adapter.close()


# --- polling ------------------------------------------------------------------------------


async def test_first_poll_starts_at_the_oldest_comment(
    wp: FakeWordPress, adapter: WordPressAdapter
) -> None:
    """No cursor yet: the walk starts at the oldest comment, like every adapter's."""
    wp.add(3)
    page = await adapter.fetch_since(None, 100)
    assert [c.id for c in page.comments] == ["1", "2", "3"] and page.cursor == "3"
    wp.add(1)
    page = await adapter.fetch_since(page.cursor, 100)
    assert [c.id for c in page.comments] == ["4"]


async def test_service_first_poll_starts_at_the_newest_comment(
    wp: FakeWordPress, adapter: WordPressAdapter, tmp_path: Path
) -> None:
    """The poller's first cursor on a site is its newest comment: installing modbot on a
    site with a history does not moderate the history (that is `modbot scan`)."""
    wp.add(3)
    store = AsyncStore(Store(tmp_path / "modbot.db"))
    try:
        poller = Poller(adapter, store, PollSettings())
        assert await poller.poll_once() == 0
        assert await store.run(store.sync.get_cursor, "blog") == "3"
        assert await store.run(store.sync.counts) == {}
        wp.add(2)
        assert await poller.poll_once() == 2
        assert await store.run(store.sync.counts) == {"pending": 2}
        assert await store.run(store.sync.get_cursor, "blog") == "5"
    finally:
        await store.close()


async def test_poll_walks_ids_in_pages_of_at_most_100(
    wp: FakeWordPress, adapter: WordPressAdapter
) -> None:
    """250 new comments come oldest first in pages of 100, 100 and 50, then nothing."""
    wp.add(250)
    seen, cursor, sizes = [], "0", []
    for _ in range(4):
        page = await adapter.fetch_since(cursor, 500)
        sizes.append(len(page.comments))
        seen += [int(c.id) for c in page.comments]
        cursor = page.cursor or cursor
    assert sizes == [100, 100, 50, 0]
    assert seen == list(range(1, 251))
    assert cursor == "250"
    per_page = {r[2].get("per_page") for r in wp.requests if r[1].endswith("/comments")}
    assert per_page <= {"1", "100"}


async def test_poll_skips_gaps_and_comments_out_of_view(
    wp: FakeWordPress, adapter: WordPressAdapter
) -> None:
    """Spam, trash and deleted ids are stepped over; held comments are moderated too."""
    wp.add(2)
    wp.add(1, status="spam")
    wp.add(1, status="hold")
    wp.next_id = 1800  # 1796 comments deleted for good
    wp.add(1)
    page = await adapter.fetch_since("0", 100)
    assert [c.id for c in page.comments] == ["1", "2", "4"]
    page = await adapter.fetch_since(page.cursor, 100)
    assert [c.id for c in page.comments] == ["1800"]
    page = await adapter.fetch_since(page.cursor, 100)
    assert page.comments == () and page.cursor == "1800"


async def test_comment_fields_are_mapped(wp: FakeWordPress, adapter: WordPressAdapter) -> None:
    """content.raw is the text; post, link, date and author become the Comment's fields."""
    wp.add(1, author=5)
    comment = (await adapter.fetch_since("0", 10)).comments[0]
    assert comment.text == "comment 1"
    assert comment.thread_id == "7" and comment.parent_id == ""
    assert comment.url.endswith("#comment-1")
    assert comment.created_at == "2026-11-25T10:00:00Z"
    assert (comment.author.id, comment.author.name, comment.author.role) == ("5", "Ann", "member")


@pytest.mark.parametrize(
    ("author", "info", "role"),
    [
        (0, None, "anonymous"),
        (3, {"roles": ["subscriber"], "moderator": False}, "member"),
        (3, {"roles": ["editor"], "moderator": True}, "moderator"),
        (1, {"roles": ["administrator"], "moderator": True}, "admin"),
    ],
)
def test_author_roles(author: int, info: dict[str, Any] | None, role: str) -> None:
    """WordPress roles become modbot's role words, so rules can exempt staff."""
    item = FakeComment(1, author=author).rest()
    item["modbot_author"] = info
    assert parse_comment("blog", item).author.role == role


# --- actions ------------------------------------------------------------------------------


async def test_flag_keeps_the_status_and_records_the_reason(
    wp: FakeWordPress, adapter: WordPressAdapter
) -> None:
    """Flag writes modbot's meta only; the author's IP and user agent are left alone."""
    (comment,) = wp.add(1)
    detail = await adapter.flag(request(1, "flag", rule("insult.direct"), reason="x" * 5000))
    assert comment.status == "approved" and "kept" in detail
    assert comment.meta["modbot_action"] == "flag"
    assert comment.meta["modbot_reason"] == "x" * 1000
    assert (comment.ip, comment.agent) == ("203.0.113.7", "Firefox/140")


async def test_hide_holds_and_remembers_the_status_and_is_idempotent(
    wp: FakeWordPress, adapter: WordPressAdapter
) -> None:
    """Hide sets hold once; hiding again sends no status (WordPress could answer 500)."""
    (comment,) = wp.add(1)
    assert await adapter.hide(request(1, "hide", rule("slur.race"))) == "approved -> hold"
    assert (
        await adapter.hide(request(1, "hide", rule("slur.race"))) == "already hold; reason recorded"
    )
    assert comment.status == "hold"
    assert comment.meta["modbot_previous_status"] == "approved"
    updates = [r[3] for r in wp.requests if r[0] == "POST"]
    assert "status" in updates[0] and "status" not in updates[1]
    assert (comment.ip, comment.agent) == ("203.0.113.7", "Firefox/140")


async def test_hide_never_makes_a_comment_more_visible(
    wp: FakeWordPress, adapter: WordPressAdapter
) -> None:
    """A comment a moderator already spammed stays spam when modbot would only hold it."""
    (comment,) = wp.add(1, status="spam")
    assert "already spam" in await adapter.hide(request(1, "hide", rule("slur.race")))
    assert comment.status == "spam" and comment.meta["modbot_action"] == "hide"


@pytest.mark.parametrize(
    ("reasons", "status"),
    [
        ((), "hold"),
        ((rule("slur.race"),), "hold"),
        ((rule("threat.violence"),), "spam"),
        ((rule("threat.violence", Verdict.FLAG), rule("slur.race")), "hold"),
        ((rule("threat.violence", shadow=True), rule("slur.race")), "hold"),
        ((Reason("model", "threat", Verdict.HIDE, "0.99"), rule("slur.race")), "trash"),
        ((rule("threat.violence"), Reason("model", "toxicity", Verdict.HIDE, "")), "spam"),
    ],
)
def test_hide_status_is_the_strongest_configured(reasons: tuple[Reason, ...], status: str) -> None:
    """Per-rule and per-label statuses of the reasons that hide: trash > spam > hold."""
    settings = WordPressPlatform(
        type="wordpress",
        base_url="https://blog.test",
        username="modbot",
        hide_status_by_rule={"threat.violence": "spam"},
        hide_status_by_label={"threat": "trash", "toxicity": "hold"},
    )
    assert hide_status(settings, reasons) == status


@pytest.mark.parametrize("status", ["hold", "spam", "trash"])
async def test_restore_puts_back_the_earlier_status(
    wp: FakeWordPress, adapter: WordPressAdapter, status: str
) -> None:
    """From hold, spam or trash back to approved; the meta says restored, by whom."""
    (comment,) = wp.add(1)
    by_rule = {"hold": "slur.race", "spam": "threat.violence"}
    if status == "trash":
        adapter._settings = adapter._settings.model_copy(update={"hide_status": "trash"})
    await adapter.hide(request(1, "hide", rule(by_rule.get(status, "slur.race"))))
    assert comment.status == status
    detail = await adapter.restore(request(1, "restore", reason="restored by moderator alice"))
    assert detail == f"{status} -> approved"
    assert comment.status == "approved"
    assert comment.meta["modbot_action"] == "restored"
    assert comment.meta["modbot_reason"] == "restored by moderator alice"
    assert comment.meta["modbot_previous_status"] == ""
    assert (
        await adapter.restore(request(1, "restore"))
        == "status approved kept (modbot had not changed it)"
    )


async def test_restore_of_a_held_comment_modbot_only_flagged(
    wp: FakeWordPress, adapter: WordPressAdapter
) -> None:
    """WordPress itself held it and modbot only flagged it: restore leaves it held."""
    (comment,) = wp.add(1, status="hold")
    await adapter.flag(request(1, "flag", rule("insult.direct", Verdict.FLAG)))
    assert "kept" in await adapter.restore(request(1, "restore"))
    assert comment.status == "hold" and comment.meta["modbot_action"] == "restored"


async def test_acting_on_a_deleted_comment_is_permanent(adapter: WordPressAdapter) -> None:
    """A comment deleted meanwhile is a 404: a failed action, not retried."""
    with pytest.raises(PermanentError) as caught:
        await adapter.hide(request(99, "hide", rule("slur.race")))
    assert caught.value.status == 404


async def test_comment_ids_are_checked_before_any_call(adapter: WordPressAdapter) -> None:
    """Only WordPress comment ids reach a URL."""
    with pytest.raises(PermanentError, match="not a WordPress comment id"):
        await adapter.flag(request("../users/1", "flag"))


# --- webhooks -----------------------------------------------------------------------------


def webhook(event: str = "comment.created", **changes: Any) -> bytes:
    comment = FakeComment(12, content="you idiot").rest()
    comment.pop("meta")
    comment.update(changes)
    return json.dumps({"event": event, "site_url": "http://blog.test", "comment": comment}).encode()


def signed(body: bytes, secret: str = HOOK_SECRET) -> dict[str, str]:
    return {"X-Modbot-Signature": signing.sign(secret, body), "X-Modbot-Event-Id": "12.created.ab"}


async def test_webhook_signed_by_the_plugin_is_parsed(adapter: WordPressAdapter) -> None:
    """A signed new-comment event becomes the comment, with its event id for dedupe."""
    body = webhook()
    event = adapter.parse_webhook(signed(body), body)
    assert (event.kind, event.event_id) == ("created", "12.created.ab")
    assert [(c.id, c.text) for c in event.comments] == [("12", "you idiot")]
    edited = adapter.parse_webhook(signed(webhook("comment.edited")), webhook("comment.edited"))
    assert edited.kind == "edited"


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, webhook(), 401),
        (signed(webhook(), "other secret"), webhook(), 401),
        (signed(b"not json"), b"not json", 400),
        (signed(webhook("comment.deleted")), webhook("comment.deleted"), 400),
        (signed(webhook(content={})), webhook(content={}), 400),
        (signed(webhook(id="12; DROP")), webhook(id="12; DROP"), 400),
    ],
)
async def test_bad_webhooks_are_rejected(
    adapter: WordPressAdapter, headers: dict[str, str], body: bytes, status: int
) -> None:
    """Unsigned, wrongly signed, not JSON, unknown event, no raw text, bad id: rejected."""
    with pytest.raises(WebhookRejected) as caught:
        adapter.parse_webhook(headers, body)
    assert caught.value.status == status


@pytest.mark.parametrize("changes", [{"status": "spam"}, {"status": "trash"}, {"type": "pingback"}])
async def test_webhooks_for_comments_out_of_view_are_ignored(
    adapter: WordPressAdapter, changes: dict[str, str]
) -> None:
    """Spam, trash and pingbacks are not moderated: the event carries no comment."""
    body = webhook(**changes)
    assert adapter.parse_webhook(signed(body), body).comments == ()


async def test_confirm_can_escalate_to_spam_and_restore_undoes_it(
    wp: FakeWordPress, adapter: WordPressAdapter
) -> None:
    """A moderator's escalation spams a held comment; restore brings back its first status."""
    (comment,) = wp.add(1)
    await adapter.hide(request(1, "hide", rule("slur.race")))
    assert await adapter.escalate(request(1, "spam")) == "hold -> spam"
    assert comment.status == "spam"
    assert comment.meta["modbot_previous_status"] == "approved"
    await adapter.restore(request(1, "restore"))
    assert comment.status == "approved"
    with pytest.raises(PermanentError):
        await adapter.escalate(request(1, "delete"))
