"""The platform HTTP layer: retrying JSON client, webhook signatures, generic webhook parsing."""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from bot import __version__
from bot.config import GenericPlatform, Secret
from bot.models import Author
from bot.platforms import signing
from bot.platforms.base import PermanentError, RetryableError, WebhookRejected
from bot.platforms.generic import EVENT_ID_HEADER, SIGNATURE_HEADER, GenericAdapter
from bot.platforms.http import Backoff, JsonClient, parse_retry_after

# --- a scripted in-process server and a sleep that only records ----------------------------


@dataclass
class Scripted:
    """Answers requests with scripted (status, headers, body) in order, repeating the last."""

    script: list[tuple[int, dict[str, str], str]]
    requests: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path_qs,
                "headers": dict(request.headers),
                "body": await request.text(),
            }
        )
        status, headers, body = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return web.Response(status=status, headers=headers, text=body)


Serve = Callable[..., Awaitable[Scripted]]


@pytest.fixture(name="serve")
async def _serve() -> AsyncIterator[Serve]:
    """Start real aiohttp servers on 127.0.0.1 answering a script; all closed at teardown."""
    servers: list[TestServer] = []

    async def serve(*script: tuple[int, dict[str, str], str] | int) -> Scripted:
        steps = [s if isinstance(s, tuple) else (s, {}, "") for s in script]
        scripted = Scripted(steps)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", scripted.handle)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        scripted.base_url = str(server.make_url(""))
        return scripted

    yield serve
    for server in servers:
        await server.close()


@dataclass
class FakeSleep:
    """Records the delays the client asked for instead of sleeping."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, delay_s: float) -> None:
        self.delays.append(delay_s)


@pytest.fixture(name="sleep")
def _sleep() -> FakeSleep:
    """A sleep that records and returns at once."""
    return FakeSleep()


MakeClient = Callable[..., JsonClient]


@pytest.fixture(name="make_client")
async def _make_client(sleep: FakeSleep) -> AsyncIterator[MakeClient]:
    """JsonClients with the recording sleep and a small backoff; closed at teardown."""
    clients: list[JsonClient] = []

    def make(base_url: str, **kwargs: Any) -> JsonClient:
        kwargs.setdefault("backoff", Backoff(base_s=0.5, max_s=4.0))
        client = JsonClient(base_url, sleep=sleep, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


OK = (200, {"Content-Type": "application/json"}, '{"ok": true}')


# --- JsonClient ----------------------------------------------------------------------------


async def test_5xx_is_retried_until_success(
    serve: Serve, make_client: MakeClient, sleep: FakeSleep
) -> None:
    """503, 503, 503 then 200: one success after four requests and three backoff sleeps."""
    server = await serve(503, 503, 503, OK)
    client = make_client(server.base_url, max_retries=5)
    response = await client.request("GET", "/comments")
    assert response.status == 200
    assert response.body == {"ok": True}
    assert len(server.requests) == 4
    assert len(sleep.delays) == 3


async def test_requests_carry_user_agent_and_headers(serve: Serve, make_client: MakeClient) -> None:
    """Every request sends User-Agent modbot/<version> and the client's headers."""
    server = await serve(OK)
    client = make_client(server.base_url, headers={"Authorization": "Bearer t0k"})
    await client.request("POST", "/comments/1/moderation", json={"action": "flag"})
    [sent] = server.requests
    assert sent["headers"]["User-Agent"] == f"modbot/{__version__}"
    assert sent["headers"]["Authorization"] == "Bearer t0k"
    assert (sent["method"], sent["path"]) == ("POST", "/comments/1/moderation")
    assert json.loads(sent["body"]) == {"action": "flag"}


async def test_non_json_2xx_body_is_returned_as_text(serve: Serve, make_client: MakeClient) -> None:
    """A 2xx answer that is not JSON comes back as text; an empty one as None."""
    server = await serve((200, {}, "plain words"), (204, {}, ""))
    client = make_client(server.base_url)
    assert (await client.request("GET", "/a")).body == "plain words"
    assert (await client.request("GET", "/b")).body is None


async def test_429_waits_retry_after_seconds(
    serve: Serve, make_client: MakeClient, sleep: FakeSleep
) -> None:
    """429 with Retry-After: 2 waits exactly 2 s, then succeeds."""
    server = await serve((429, {"Retry-After": "2"}, ""), OK)
    client = make_client(server.base_url)
    response = await client.request("GET", "/comments")
    assert response.status == 200
    assert sleep.delays == [2.0]
    assert len(server.requests) == 2


async def test_429_retry_after_http_date(
    serve: Serve, make_client: MakeClient, sleep: FakeSleep
) -> None:
    """Retry-After as an HTTP date waits until that moment."""
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    server = await serve((429, {"Retry-After": when}, ""), OK)
    client = make_client(server.base_url)
    await client.request("GET", "/comments")
    [delay] = sleep.delays
    assert 28.0 <= delay <= 30.0


async def test_retry_after_is_capped(
    serve: Serve, make_client: MakeClient, sleep: FakeSleep
) -> None:
    """A Retry-After longer than max_retry_after_s waits only the maximum."""
    server = await serve((429, {"Retry-After": "86400"}, ""), OK)
    client = make_client(server.base_url, max_retry_after_s=60)
    await client.request("GET", "/comments")
    assert sleep.delays == [60.0]


async def test_429_without_retry_after_uses_backoff(
    serve: Serve, make_client: MakeClient, sleep: FakeSleep
) -> None:
    """A bare 429 is retried after a backoff delay."""
    server = await serve(429, OK)
    client = make_client(server.base_url)
    await client.request("GET", "/comments")
    [delay] = sleep.delays
    assert 0.25 <= delay <= 0.5


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_4xx_is_permanent_at_once(
    serve: Serve, make_client: MakeClient, sleep: FakeSleep, status: int
) -> None:
    """A 4xx other than 408/429 raises PermanentError after one request, with the body."""
    server = await serve((status, {}, "comment is gone"))
    client = make_client(server.base_url, max_retries=5)
    with pytest.raises(PermanentError) as excinfo:
        await client.request("POST", "/comments/9/moderation")
    assert excinfo.value.status == status
    assert "comment is gone" in str(excinfo.value)
    assert len(server.requests) == 1
    assert sleep.delays == []


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_retryable_forever_gives_up_after_max_retries(
    serve: Serve, make_client: MakeClient, sleep: FakeSleep, status: int
) -> None:
    """A server that always fails gets max_retries+1 requests, then RetryableError."""
    server = await serve(status)
    client = make_client(server.base_url, max_retries=3)
    with pytest.raises(RetryableError, match=str(status)):
        await client.request("GET", "/comments")
    assert len(server.requests) == 4
    assert len(sleep.delays) == 3


async def test_zero_retries_means_one_request(serve: Serve, make_client: MakeClient) -> None:
    """max_retries=0 sends exactly one request."""
    server = await serve(503)
    client = make_client(server.base_url, max_retries=0)
    with pytest.raises(RetryableError):
        await client.request("GET", "/comments")
    assert len(server.requests) == 1


@pytest.fixture(name="closed_port")
def _closed_port() -> Iterator[int]:
    """A localhost port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port


async def test_connection_refused_is_retryable(
    make_client: MakeClient, sleep: FakeSleep, closed_port: int
) -> None:
    """Nothing listening: every try fails to connect, then RetryableError."""
    client = make_client(f"http://127.0.0.1:{closed_port}", max_retries=2)
    with pytest.raises(RetryableError):
        await client.request("GET", "/comments")
    assert len(sleep.delays) == 2


async def test_backoff_delays_between_retries_grow(
    serve: Serve, make_client: MakeClient, sleep: FakeSleep
) -> None:
    """Each retry's delay stays under that attempt's ceiling (base*2**n, at most max)."""
    server = await serve(503)
    client = make_client(server.base_url, max_retries=6, backoff=Backoff(base_s=0.5, max_s=4.0))
    with pytest.raises(RetryableError):
        await client.request("GET", "/comments")
    ceilings = [min(4.0, 0.5 * 2**n) for n in range(6)]
    assert len(sleep.delays) == 6
    for delay, ceiling in zip(sleep.delays, ceilings, strict=True):
        assert 0.25 <= delay <= ceiling


# --- Backoff -------------------------------------------------------------------------------


def test_backoff_stays_within_bounds() -> None:
    """Every delay is between base/2 and min(max, base*factor**attempt)."""
    backoff = Backoff(base_s=0.5, max_s=30.0)
    for attempt in range(15):
        ceiling = min(30.0, 0.5 * 2**attempt)
        for _ in range(100):
            assert 0.25 <= backoff.delay(attempt) <= ceiling


def test_backoff_grows_with_attempts() -> None:
    """Later attempts reach delays the first attempts never can."""
    backoff = Backoff(base_s=0.5, max_s=30.0)
    early = max(backoff.delay(0) for _ in range(200))
    late = max(backoff.delay(8) for _ in range(200))
    assert early <= 0.5
    assert late > 10.0


def test_backoff_survives_huge_attempt_numbers() -> None:
    """After thousands of failures (a long outage) the delay is still capped at max_s."""
    backoff = Backoff(base_s=1.0, max_s=300.0)
    assert backoff.delay(5000) <= 300.0


@pytest.mark.parametrize(
    ("base_s", "max_s", "factor"), [(0, 1, 2), (-1, 1, 2), (2, 1, 2), (0.5, 1, 0.5)]
)
def test_backoff_rejects_nonsense(base_s: float, max_s: float, factor: float) -> None:
    """Backoff validates its settings when built."""
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base_s=base_s, max_s=max_s, factor=factor)


# --- parse_retry_after ---------------------------------------------------------------------

NOW = float(calendar.timegm((2015, 10, 21, 7, 27, 50)))  # 10 s before the dates below


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, None),
        ("", None),
        ("2", 2.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("120", 120.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 10.0),  # IMF-fixdate
        ("Wednesday, 21-Oct-15 07:28:00 GMT", 10.0),  # RFC 850
        ("Wed Oct 21 07:28:00 2015", 10.0),  # asctime
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("-1", None),
        ("1.5", None),
        ("²", None),  # a Unicode digit that float() refuses
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    """Delta-seconds and all three HTTP date forms parse; anything else is None, never a crash."""
    assert parse_retry_after(value, now=NOW) == seconds


# --- signing.verify ------------------------------------------------------------------------

SECRET = "webhook-secret"
BODY = b'{"event": "comment.created", "comment": {"id": "1", "body": "hi"}}'
GOOD = "sha256=" + hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
WRONG = signing.sign("other-secret", BODY)


def test_sign_is_hmac_sha256_hex_of_the_raw_body() -> None:
    """sign() produces the documented `sha256=<hex>` over the exact bytes."""
    assert signing.sign(SECRET, BODY) == GOOD


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        pytest.param(GOOD, True, id="correct"),
        pytest.param(f"  {GOOD}  ", True, id="surrounding-space"),
        pytest.param(WRONG, False, id="wrong-secret"),
        pytest.param(None, False, id="missing"),
        pytest.param("", False, id="empty"),
        pytest.param(GOOD.removeprefix("sha256="), False, id="no-prefix"),
        pytest.param(GOOD.upper(), False, id="mangled-case"),
        pytest.param(f"{WRONG},{GOOD}", True, id="rotation-good-second"),
        pytest.param(f"{GOOD}, {WRONG}", True, id="rotation-good-first"),
        pytest.param(f"{WRONG}, {WRONG}", False, id="several-all-wrong"),
        pytest.param(",", False, id="only-commas"),
        pytest.param("sha256=é", False, id="non-ascii"),
    ],
)
def test_verify(header: str | None, ok: bool) -> None:
    """verify() accepts a correct signature among comma-separated values and nothing else."""
    assert signing.verify(SECRET, BODY, header) is ok


def test_verify_rejects_a_tampered_body() -> None:
    """A signature for the original body does not verify a changed body."""
    assert not signing.verify(SECRET, BODY.replace(b"hi", b"ho"), GOOD)
    assert not signing.verify(SECRET, BODY + b" ", GOOD)


# --- GenericAdapter.parse_webhook ----------------------------------------------------------


@pytest.fixture(name="adapter")
def _adapter() -> GenericAdapter:
    """A generic adapter with a webhook secret (its HTTP client is never started)."""
    settings = GenericPlatform(type="generic", base_url="http://127.0.0.1:9")
    return GenericAdapter("forum", settings, token=None, webhook_secret=Secret(SECRET, "test"))


def signed(payload: Any, secret: str = SECRET, **headers: str) -> tuple[dict[str, str], bytes]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return {SIGNATURE_HEADER: signing.sign(secret, body), **headers}, body


FULL_COMMENT = {
    "id": "4711",
    "body": "The comment's text",
    "author": {"id": "u-17", "name": "alice", "role": "member"},
    "thread_id": "t-3",
    "parent_id": "4702",
    "url": "https://forum.example.com/t/3#c4711",
    "created_at": "2026-11-25T10:00:00Z",
    "section": "politics",
    "unknown": "ignored",
}


def test_good_webhook_parses_into_a_comment(adapter: GenericAdapter) -> None:
    """A signed comment.created payload becomes one Comment with every contract field."""
    headers, body = signed(
        {"event": "comment.created", "comment": FULL_COMMENT}, **{EVENT_ID_HEADER: "evt-1"}
    )
    event = adapter.parse_webhook(headers, body)
    assert (event.event_id, event.kind) == ("evt-1", "created")
    [c] = event.comments
    assert (c.site, c.id, c.text) == ("forum", "4711", "The comment's text")
    assert c.author == Author(id="u-17", name="alice", role="member")
    assert (c.thread_id, c.parent_id, c.section) == ("t-3", "4702", "politics")
    assert (c.url, c.created_at) == ("https://forum.example.com/t/3#c4711", "2026-11-25T10:00:00Z")


def test_edited_event_with_integer_id_and_no_optional_fields(adapter: GenericAdapter) -> None:
    """comment.edited parses; an integer id becomes a string; missing optionals are empty."""
    headers, body = signed({"event": "comment.edited", "comment": {"id": 42, "body": "x"}})
    event = adapter.parse_webhook(headers, body)
    assert (event.event_id, event.kind) == (None, "edited")
    [c] = event.comments
    assert (c.id, c.text, c.author, c.url) == ("42", "x", Author(), "")


def test_header_names_are_case_insensitive_with_aiohttp_headers(adapter: GenericAdapter) -> None:
    """With aiohttp's case-insensitive headers, lower-case header names are accepted."""
    _, body = signed({"event": "comment.created", "comment": {"id": "1", "body": "x"}})
    headers = CIMultiDict(
        {"x-modbot-signature": signing.sign(SECRET, body), "x-modbot-event-id": "e9"}
    )
    assert adapter.parse_webhook(headers, body).event_id == "e9"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({SIGNATURE_HEADER: ""}, id="empty"),
        pytest.param({SIGNATURE_HEADER: signing.sign("other", b"{}")}, id="wrong"),
    ],
)
def test_bad_signature_is_401(adapter: GenericAdapter, headers: dict[str, str]) -> None:
    """A missing or wrong signature is rejected with 401 before the body is read."""
    with pytest.raises(WebhookRejected) as excinfo:
        adapter.parse_webhook(headers, b"{}")
    assert excinfo.value.status == 401


def test_signature_for_another_body_is_401(adapter: GenericAdapter) -> None:
    """A valid signature of a different body is rejected."""
    headers, _ = signed({"event": "comment.created", "comment": {"id": "1", "body": "a"}})
    _, other = signed({"event": "comment.created", "comment": {"id": "1", "body": "b"}})
    with pytest.raises(WebhookRejected) as excinfo:
        adapter.parse_webhook(headers, other)
    assert excinfo.value.status == 401


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        pytest.param(b"not json", "not JSON", id="not-json"),
        pytest.param(b"\xff\xfe\x00garbage", "not JSON", id="not-utf8"),
        pytest.param([1, 2], "'event'", id="a-list"),
        pytest.param({"comment": {"id": "1", "body": "x"}}, "'event'", id="no-event"),
        pytest.param({"event": "comment.deleted", "comment": {}}, "'event'", id="unknown-event"),
        pytest.param({"event": "comment.created"}, "comment", id="no-comment"),
        pytest.param({"event": "comment.created", "comment": "hi"}, "object", id="comment-str"),
        pytest.param({"event": "comment.created", "comment": {"id": "1"}}, "'body'", id="no-body"),
        pytest.param(
            {"event": "comment.created", "comment": {"id": "1", "body": 5}}, "'body'", id="int-body"
        ),
        pytest.param({"event": "comment.created", "comment": {"body": "x"}}, "'id'", id="no-id"),
        pytest.param(
            {"event": "comment.created", "comment": {"id": True, "body": "x"}}, "'id'", id="bool-id"
        ),
        pytest.param(
            {"event": "comment.created", "comment": {"id": "1", "body": "x", "author": "bob"}},
            "'author'",
            id="author-str",
        ),
    ],
)
def test_bad_payload_is_400(adapter: GenericAdapter, payload: Any, words: str) -> None:
    """A signed body that is not JSON or not the contract's shape is a 400 saying why."""
    headers, body = signed(payload)
    with pytest.raises(WebhookRejected) as excinfo:
        adapter.parse_webhook(headers, body)
    assert excinfo.value.status == 400
    assert words in str(excinfo.value)


@pytest.mark.parametrize(
    "comment_id", ["../../admin", "a b", "4711?x=1", "id/with/slash", "", "x" * 129, "ünïcode"]
)
def test_bad_id_characters_are_400(adapter: GenericAdapter, comment_id: str) -> None:
    """Ids that could escape the action URL path are refused before they reach an API call."""
    headers, body = signed({"event": "comment.created", "comment": {"id": comment_id, "body": "x"}})
    with pytest.raises(WebhookRejected) as excinfo:
        adapter.parse_webhook(headers, body)
    assert excinfo.value.status == 400
    assert "'id'" in str(excinfo.value)


def test_lone_surrogate_escape_never_yields_an_unstorable_comment(adapter: GenericAdapter) -> None:
    """A body with a "\\ud800" escape is refused (400) or yields UTF-8-encodable text."""
    body = b'{"event": "comment.created", "comment": {"id": "1", "body": "bad \\ud800 text"}}'
    headers, _ = signed(body)
    try:
        event = adapter.parse_webhook(headers, body)
    except WebhookRejected as exc:
        assert exc.status == 400
        return
    [c] = event.comments
    c.text.encode("utf-8")  # the store and the model both need valid UTF-8


def test_webhook_without_a_secret_is_404() -> None:
    """A site with webhooks off answers 404 to a webhook."""
    settings = GenericPlatform(type="generic", base_url="http://127.0.0.1:9")
    adapter = GenericAdapter("forum", settings, token=None, webhook_secret=None)
    headers, body = signed({"event": "comment.created", "comment": {"id": "1", "body": "x"}})
    with pytest.raises(WebhookRejected) as excinfo:
        adapter.parse_webhook(headers, body)
    assert excinfo.value.status == 404
