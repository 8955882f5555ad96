"""The demo forum speaks the generic contract (docs/generic-adapter.md) strictly."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from aiohttp import ClientSession, web

from bot.demo.forum import DemoForum, seed
from bot.demo.thread import load_thread, parse_thread

TOKEN = "forum-token"
SECRET = "webhook-secret"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "User-Agent": "modbot/test"}

Moderate = Callable[..., Awaitable[tuple[int, dict[str, Any], dict[str, str]]]]


@pytest.fixture(name="forum")
async def _forum() -> AsyncIterator[DemoForum]:
    async with DemoForum(TOKEN, webhook_secret=SECRET) as forum:
        yield forum


@pytest.fixture(name="http")
async def _http() -> AsyncIterator[ClientSession]:
    async with ClientSession(headers=HEADERS) as session:
        yield session


@pytest.fixture(name="moderate")
def _moderate(forum: DemoForum, http: ClientSession) -> Moderate:
    """POST a well-formed moderation call; keyword overrides change or drop (None) fields."""

    async def call(
        comment_id: Any, action: str = "hide", key: str | None = "k-1", **fields: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        payload = {
            "action": action,
            "reason": "slurs.ethnic: slur aimed at a group",
            "reasons": [{"kind": "rule", "name": "slurs.ethnic", "detail": "matched at 0-4"}],
            "version": "a3f1c2d4e5f60718",
        }
        payload.update(fields)
        payload = {k: v for k, v in payload.items() if v is not None}
        headers = {} if key is None else {"Idempotency-Key": key}
        url = f"{forum.base_url}/comments/{comment_id}/moderation"
        async with http.post(url, json=payload, headers=headers) as resp:
            return resp.status, await resp.json(), dict(resp.headers)

    return call


@pytest.fixture(name="receiver")
async def _receiver() -> AsyncIterator[list[dict[str, Any]]]:
    """A webhook receiver on 127.0.0.1 that checks the signature; yields what it got."""
    got: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(request.headers.get("X-Modbot-Signature", ""), expected)
        got.append(
            {
                "raw": raw,
                "valid": valid,
                "event_id": request.headers.get("X-Modbot-Event-Id"),
                "content_type": request.content_type,
                "json": json.loads(raw),
            }
        )
        return web.json_response({"status": "queued"}, status=202 if valid else 401)

    app = web.Application()
    app.router.add_post("/webhooks/demo", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    got.append({"url": f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/demo"})
    try:
        yield got
    finally:
        await runner.cleanup()


async def poll(http: ClientSession, forum: DemoForum, **params: Any) -> dict[str, Any]:
    async with http.get(f"{forum.base_url}/comments", params=params) as resp:
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())


# -- auth and housekeeping -------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, "Bearer wrong", f"Basic {TOKEN}", f"bearer{TOKEN}"],
)
async def test_api_rejects_missing_or_wrong_token(
    forum: DemoForum, auth: str | None, moderate: Moderate
) -> None:
    """Every /api call without the exact bearer token is 401 and changes nothing."""
    await forum.add_comment("hello")
    headers = {"User-Agent": "modbot/test"} | ({"Authorization": auth} if auth else {})
    async with ClientSession(headers=headers) as anon:
        async with anon.get(f"{forum.base_url}/comments") as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"] == "Bearer"
        url = f"{forum.base_url}/comments/1/moderation"
        body = {"action": "hide", "reason": "r", "reasons": [], "version": "v"}
        async with anon.post(url, json=body, headers={"Idempotency-Key": "k"}) as resp:
            assert resp.status == 401
    assert [c.status for c in forum.calls] == [401]
    assert forum.applied == []
    assert forum.comment(1).state == "visible"


async def test_api_requires_modbot_user_agent(forum: DemoForum) -> None:
    """A client that doesn't send User-Agent: modbot/<version> gets 400."""
    async with (
        ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as other,
        other.get(f"{forum.base_url}/comments") as resp,
    ):
        assert resp.status == 400
        assert "User-Agent" in (await resp.json())["error"]


async def test_healthz_and_page_need_no_token_and_page_escapes(forum: DemoForum) -> None:
    """/healthz and the HTML page are public; comment text is HTML-escaped."""
    await forum.add_comment("<script>alert(1)</script>", author="<b>mallory</b>")
    async with ClientSession() as anon:
        async with anon.get(f"{forum.url}/healthz") as resp:
            assert await resp.json() == {"status": "ok", "comments": 1}
        async with anon.get(f"{forum.url}/") as resp:
            page = await resp.text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>mallory" not in page and "&lt;b&gt;mallory" in page


# -- polling ---------------------------------------------------------------------------------


async def test_poll_pages_oldest_first_and_cursor_is_stable(
    forum: DemoForum, http: ClientSession
) -> None:
    """Pages come oldest first, at most `limit`; an empty page returns the same cursor."""
    for n in range(5):
        await forum.add_comment(f"comment {n}")
    seen: list[str] = []
    page = await poll(http, forum, limit=2)
    while page["comments"]:
        assert len(page["comments"]) <= 2
        seen += [c["id"] for c in page["comments"]]
        page = await poll(http, forum, after=page["cursor"], limit=2)
    assert seen == ["1", "2", "3", "4", "5"]
    again = await poll(http, forum, after=page["cursor"], limit=2)
    assert again == {"comments": [], "cursor": page["cursor"]}


async def test_poll_serves_contract_comment_object(forum: DemoForum, http: ClientSession) -> None:
    """A polled comment carries the contract's fields, parent_id as the parent's id."""
    await forum.add_comment("root", author="alice", thread_id="t-9", section="politics")
    await forum.add_comment("reply", author="bob", role="moderator", parent_id=1)
    reply = (await poll(http, forum))["comments"][1]
    assert reply["id"] == "2" and reply["body"] == "reply" and reply["parent_id"] == "1"
    assert reply["author"] == {"id": "u-2", "name": "bob", "role": "moderator"}
    assert reply["url"].startswith(forum.url) and reply["created_at"].endswith("Z")


async def test_poll_reserves_edited_comment_after_cursor(
    forum: DemoForum, http: ClientSession
) -> None:
    """Editing a comment serves it again, with the new text, after the stored cursor."""
    for n in range(3):
        await forum.add_comment(f"comment {n}")
    cursor = (await poll(http, forum))["cursor"]
    await forum.edit_comment(2, "comment 1, edited")
    page = await poll(http, forum, after=cursor)
    assert [(c["id"], c["body"]) for c in page["comments"]] == [("2", "comment 1, edited")]
    assert page["cursor"] != cursor
    assert (await poll(http, forum, after=page["cursor"]))["comments"] == []


async def test_poll_skips_deleted_and_serves_hidden(
    forum: DemoForum, http: ClientSession, moderate: Moderate
) -> None:
    """Hidden comments are still polled; deleted ones are not."""
    for n in range(3):
        await forum.add_comment(f"comment {n}")
    assert (await moderate(1, "hide"))[0] == 200
    forum.delete_comment(2)
    assert [c["id"] for c in (await poll(http, forum))["comments"]] == ["1", "3"]


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "1001"}, {"limit": "ten"}, {"limit": "-1"}, {"after": "bogus"}],
)
async def test_poll_rejects_bad_limit_or_cursor(
    forum: DemoForum, http: ClientSession, params: dict[str, str]
) -> None:
    """limit outside 1..1000 or a cursor the forum never issued is 400."""
    async with http.get(f"{forum.base_url}/comments", params=params) as resp:
        assert resp.status == 400
    assert forum.polls[-1].status == 400


async def test_fail_polls_injects_then_recovers(forum: DemoForum, http: ClientSession) -> None:
    """fail_polls(n) answers the next n polls with the status, then serves normally."""
    await forum.add_comment("hello")
    forum.fail_polls(1, status=502)
    async with http.get(f"{forum.base_url}/comments") as resp:
        assert resp.status == 502
    assert [c["id"] for c in (await poll(http, forum))["comments"]] == ["1"]
    assert [(p.status, p.injected) for p in forum.polls] == [(502, True), (200, False)]


async def test_int_ids_serves_integer_ids(http: ClientSession) -> None:
    """With int_ids=True the comment and parent ids are JSON integers."""
    async with DemoForum(TOKEN, int_ids=True) as forum:
        await forum.add_comment("root")
        await forum.add_comment("reply", parent_id=1)
        comments = (await poll(http, forum))["comments"]
    assert [c["id"] for c in comments] == [1, 2] and comments[1]["parent_id"] == 1


# -- moderation ------------------------------------------------------------------------------


async def test_moderation_repeated_key_applies_once(forum: DemoForum, moderate: Moderate) -> None:
    """The same Idempotency-Key twice is answered 200 with the same body but acts once."""
    await forum.add_comment("bad words")
    first = await moderate(1, "hide", key="site:1:v:hide")
    second = await moderate(1, "hide", key="site:1:v:hide")
    assert first[0] == second[0] == 200
    assert (
        first[1] == second[1] == {"id": "1", "action": "hide", "state": "hidden", "changed": True}
    )
    assert second[2]["Idempotent-Replayed"] == "true"
    assert [a.to_state for a in forum.applied_for(1)] == ["hidden"]
    assert [c.replayed for c in forum.calls_for(1)] == [False, True]


async def test_moderation_key_reused_for_other_request_is_422(
    forum: DemoForum, moderate: Moderate
) -> None:
    """Reusing a key for another action or version is a client bug the forum refuses."""
    await forum.add_comment("bad words")
    assert (await moderate(1, "flag", key="k"))[0] == 200
    assert (await moderate(1, "hide", key="k"))[0] == 422
    assert (await moderate(1, "flag", key="k", version="other"))[0] == 422
    assert forum.comment(1).state == "flagged"


async def test_moderation_new_key_without_change_is_not_applied(
    forum: DemoForum, moderate: Moderate
) -> None:
    """A second hide under a new key answers 200, changed false, and is not in `applied`."""
    await forum.add_comment("bad words")
    await moderate(1, "hide", key="a")
    status, body, _ = await moderate(1, "hide", key="b")
    assert status == 200 and body["changed"] is False
    assert len(forum.applied_for(1)) == 1 and len(forum.calls_for(1)) == 2


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"key": None}, "Idempotency-Key"),
        ({"action": "delete"}, "action"),
        ({"version": None}, "missing keys ['version']"),
        ({"version": ""}, "version"),
        ({"reason": ""}, "reason must not be empty"),
        ({"reason": 3}, "reason must be a JSON string"),
        ({"reasons": "slur"}, "reasons must be a JSON array"),
        ({"reasons": [{"kind": "rule"}]}, "each reason"),
        ({"reasons": [{"kind": "vibes", "name": "x", "detail": "y"}]}, "reason kind"),
        ({"extra": 1}, "unknown keys ['extra']"),
    ],
)
async def test_moderation_rejects_bad_shape_with_400(
    forum: DemoForum, moderate: Moderate, change: dict[str, Any], error: str
) -> None:
    """A malformed moderation call is 400 naming the problem, recorded, and never applied."""
    await forum.add_comment("bad words")
    status, body, _ = await moderate(1, **change)
    assert status == 400
    assert error in body["error"]
    assert forum.calls[-1].status == 400 and forum.calls[-1].error == body["error"]
    assert forum.applied == []


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'{"action": "hide"}', "text/plain", 415),
    ],
)
async def test_moderation_rejects_non_json_bodies(
    forum: DemoForum,
    http: ClientSession,
    data: bytes,
    content_type: str,
    status: int,
) -> None:
    """A body that is not a JSON object is 400; a non-JSON content type is 415."""
    await forum.add_comment("bad words")
    headers = {"Idempotency-Key": "k", "Content-Type": content_type}
    url = f"{forum.base_url}/comments/1/moderation"
    async with http.post(url, data=data, headers=headers) as resp:
        assert resp.status == status
    assert forum.calls[-1].status == status and forum.applied == []


@pytest.mark.parametrize("comment_id", ["99", "abc"])
async def test_moderation_unknown_comment_is_404(
    forum: DemoForum, moderate: Moderate, comment_id: str
) -> None:
    """Moderating a comment the forum doesn't have (or deleted) is 404."""
    await forum.add_comment("hello")
    forum.delete_comment(1)
    assert (await moderate(1))[0] == 404
    assert (await moderate(comment_id, key="k-2"))[0] == 404


async def test_restore_returns_to_state_before_modbot(forum: DemoForum, moderate: Moderate) -> None:
    """restore undoes every modbot action back to the state before the first one."""
    await forum.add_comment("visible at first")
    await forum.add_comment("a human flagged this", state="flagged")
    await moderate(1, "flag", key="1f")
    await moderate(1, "hide", key="1h")
    await moderate(2, "hide", key="2h")
    assert (forum.comment(1).state, forum.comment(2).state) == ("hidden", "hidden")
    assert (await moderate(1, "restore", key="1r", reason=""))[1]["state"] == "visible"
    assert (await moderate(2, "restore", key="2r", reason=""))[1]["state"] == "flagged"
    assert forum.comment(1).previous_state is None


async def test_restore_of_untouched_comment_changes_nothing(
    forum: DemoForum, moderate: Moderate
) -> None:
    """restore on a comment modbot never acted on answers 200, changed false."""
    await forum.add_comment("a human hid this", state="hidden")
    status, body, _ = await moderate(1, "restore", reason="")
    assert (status, body["changed"], forum.comment(1).state) == (200, False, "hidden")


async def test_fail_next_then_retry_with_same_key_applies_once(
    forum: DemoForum, moderate: Moderate
) -> None:
    """An injected 503 is recorded but not applied; the retry with the same key applies."""
    await forum.add_comment("bad words")
    forum.fail_next(2, status=503)
    assert (await moderate(1, key="k"))[0] == 503
    assert (await moderate(1, key="k"))[0] == 503
    assert forum.comment(1).state == "visible"
    assert (await moderate(1, key="k"))[0] == 200
    assert [(c.status, c.injected) for c in forum.calls_for(1)] == [
        (503, True),
        (503, True),
        (200, False),
    ]
    assert len(forum.applied_for(1)) == 1


async def test_rate_limit_carries_retry_after_seconds(forum: DemoForum, moderate: Moderate) -> None:
    """rate_limit_next answers 429 with Retry-After in seconds, then lets calls through."""
    await forum.add_comment("bad words")
    forum.rate_limit_next(1, retry_after_s=7)
    status, _, headers = await moderate(1)
    assert (status, headers["Retry-After"]) == (429, "7")
    assert (await moderate(1))[0] == 200


async def test_rate_limit_can_carry_an_http_date(forum: DemoForum, moderate: Moderate) -> None:
    """With http_date=True, Retry-After is an RFC 9110 HTTP date."""
    await forum.add_comment("bad words")
    forum.rate_limit_next(1, retry_after_s=30, http_date=True)
    status, _, headers = await moderate(1)
    assert status == 429
    assert parsedate_to_datetime(headers["Retry-After"]).tzinfo is not None


async def test_slow_next_applies_then_answers_late(forum: DemoForum, moderate: Moderate) -> None:
    """slow_next delays the answer but still acts: a timed-out caller must retry safely."""
    await forum.add_comment("bad words")
    forum.slow_next(1, delay_s=0.05)
    assert (await moderate(1, key="k"))[0] == 200
    assert (await moderate(1, key="k"))[1]["changed"] is True
    assert len(forum.applied_for(1)) == 1


# -- webhooks --------------------------------------------------------------------------------


async def test_webhook_delivery_is_signed_over_raw_body(
    forum: DemoForum, receiver: list[dict[str, Any]]
) -> None:
    """Created and edited events are POSTed as JSON, HMAC-signed, each with its own id."""
    forum.webhook_url = receiver.pop(0)["url"]
    comment = await forum.add_comment("Grüße, <b>voters</b>", author="renée")
    assert forum.deliveries[-1].status == 202
    await forum.edit_comment(comment["id"], "edited")
    assert all(r["valid"] and r["content_type"] == "application/json" for r in receiver)
    assert [r["json"]["event"] for r in receiver] == ["comment.created", "comment.edited"]
    assert receiver[0]["json"]["comment"] == comment
    assert receiver[1]["json"]["comment"]["body"] == "edited"
    assert len({r["event_id"] for r in receiver}) == 2


async def test_add_comment_without_delivery_sends_nothing(
    forum: DemoForum, receiver: list[dict[str, Any]]
) -> None:
    """deliver_webhook=False leaves the comment for the poller only."""
    forum.webhook_url = receiver.pop(0)["url"]
    await forum.add_comment("quiet", deliver_webhook=False)
    assert receiver == [] and forum.deliveries == []


async def test_redeliver_resends_identical_event(
    forum: DemoForum, receiver: list[dict[str, Any]]
) -> None:
    """redeliver sends the same event id and the same bytes again."""
    forum.webhook_url = receiver.pop(0)["url"]
    await forum.add_comment("hello")
    event_id = forum.deliveries[0].event_id
    assert await forum.redeliver(event_id) == 202
    assert receiver[0]["event_id"] == receiver[1]["event_id"] == event_id
    assert receiver[0]["raw"] == receiver[1]["raw"] and receiver[1]["valid"]


async def test_delivery_to_down_receiver_returns_none(forum: DemoForum) -> None:
    """A receiver that refuses connections gives status None; nothing raises."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    forum.webhook_url = f"http://127.0.0.1:{port}/webhooks/demo"
    await forum.add_comment("hello")
    assert forum.deliveries[0].status is None
    assert await forum.deliver(1) is None


# -- the seeded thread -----------------------------------------------------------------------


def test_thread_yaml_is_a_valid_mostly_civil_discussion() -> None:
    """thread.yaml loads, is big enough, replies name earlier comments, > 60% are civil."""
    thread = load_thread()
    refs = [c.ref for c in thread.comments]
    assert len(thread.comments) >= 50 and len(set(refs)) == len(refs)
    for n, comment in enumerate(thread.comments):
        assert comment.parent is None or comment.parent in refs[:n]
    assert len(thread.of_kind("civil")) / len(thread.comments) > 0.6
    assert 12 <= len({a.name for a in thread.authors}) <= 20
    assert 1 <= sum(a.role == "moderator" for a in thread.authors) <= 2
    for kind in ("insult", "slur", "dehumanizing", "threat", "obfuscated", "lookalike", "quote"):
        assert thread.of_kind(kind), kind


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda c: c[1].update(parent="nope"), "comments[1].parent"),
        (lambda c: c[1].update(ref="c1"), "duplicate ref"),
        (lambda c: c[0].update(kind="spicy"), "comments[0].kind"),
        (lambda c: c[0].update(mood="angry"), "unknown keys ['mood']"),
    ],
)
def test_parse_thread_names_the_bad_key(mutate: Callable[[Any], None], error: str) -> None:
    """An invalid thread is rejected with the key path of the problem."""
    comments = [
        {"ref": ref, "author": {"name": "a", "role": "member"}, "parent": None}
        | {"kind": "civil", "text": "hi"}
        for ref in ("c1", "c2")
    ]
    mutate(comments)
    article = {"title": "t", "url": "https://demo.modbot.invalid/articles/x", "section": "s"}
    with pytest.raises(ValueError, match=error.replace("[", r"\[").replace("]", r"\]")):
        parse_thread({"article": article, "comments": comments})


async def test_seed_posts_thread_in_order_with_parents_mapped(
    forum: DemoForum, receiver: list[dict[str, Any]]
) -> None:
    """seed posts every comment, maps parent refs to forum ids, and pushes every n-th one."""
    forum.webhook_url = receiver.pop(0)["url"]
    thread = load_thread()
    ids = await seed(forum, thread, webhook_every=10)
    assert len(forum.comments) == len(thread.comments) == len(ids)
    for item in thread.comments:
        posted = forum.comment(ids[item.ref])
        assert (posted.body, posted.author_name) == (item.text, item.author.name)
        assert posted.parent_id == (None if item.parent is None else ids[item.parent])
        assert posted.section == thread.article.section
    assert len(receiver) == (len(thread.comments) + 9) // 10
    assert forum.title == thread.article.title
