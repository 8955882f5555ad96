"""The review page over aiohttp's test client: auth, CSRF, escaping, filters, paging,
verdicts, bulk actions, stats and rate limits."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from bot.platforms.base import ActionRequest
from bot.review.testing import (
    CSRF_RE,
    FAST_HASHER,
    PASSWORD,
    Browserless,
    Seeded,
    add_moderator,
    make_record,
    review_settings,
    seed,
)
from bot.review.web import CSP, build_review_app
from bot.store import AsyncStore, Store

MakeReview = Callable[..., Awaitable[Browserless]]


@pytest.fixture(name="store")
def _store(tmp_path: Path) -> Store:
    return Store(tmp_path / "modbot.db")


@pytest.fixture(name="seeded")
def _seeded(store: Store, tmp_path: Path) -> Seeded:
    seeded = seed(store, tmp_path / "rules")
    add_moderator(store, "alice")
    add_moderator(store, "bob")
    return seeded


@pytest.fixture(name="make_review")
async def _make_review(store: Store) -> AsyncIterator[MakeReview]:
    """Factory: a review app over the store (settings overridable), with a test client."""
    async with AsyncExitStack() as stack:
        astore = AsyncStore(store)
        stack.push_async_callback(astore.close)

        async def make(platforms: dict[str, Any] | None = None, **settings: Any) -> Browserless:
            app = build_review_app(
                astore, platforms or {}, review_settings(**settings), FAST_HASHER
            )
            client = TestClient(TestServer(app))
            await client.start_server()
            stack.push_async_callback(client.close)
            return Browserless(client)

        yield make


@pytest.fixture(name="review")
async def _review(seeded: Seeded, make_review: MakeReview) -> Browserless:
    review = await make_review()
    assert (await review.login()).status == 303
    return review


def _ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'<article class="entry[^"]*" id="e(\d+)"', html)]


# -- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/queue", "/queue?state=all", "/stats", "/audit", "/entry/1"]
)
async def test_pages_without_a_session_redirect_to_login(
    seeded: Seeded, make_review: MakeReview, path: str
) -> None:
    """Every page but /login answers 303 to /login?next=<the page> without a session."""
    review = await make_review()
    response = await review.client.get(path, allow_redirects=False)
    assert response.status == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]


async def test_login_sets_a_secure_httponly_samesite_strict_cookie(
    seeded: Seeded, make_review: MakeReview
) -> None:
    """With cookie_secure on (the default), the session cookie is Secure, HttpOnly, Strict."""
    review = await make_review(cookie_secure=True)
    page = await review.client.get("/login")
    login_cookie = next(c for c in page.headers.getall("Set-Cookie") if "login_csrf" in c)
    assert "Secure" in login_cookie  # so a client on plain http never sends it back...
    token = CSRF_RE.search(await page.text())
    assert token is not None
    response = await review.client.post(  # ...and this test sends it by hand
        "/login",
        data={"name": "alice", "password": PASSWORD, "csrf_token": token.group(1)},
        headers={"Cookie": f"modbot_login_csrf={token.group(1)}"},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/queue"
    cookie = next(
        c for c in response.headers.getall("Set-Cookie") if c.startswith("modbot_session=")
    )
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    stored = seeded_tokens(review)
    token = cookie.split(";")[0].split("=", 1)[1]
    assert token not in stored  # only a hash of the token is in the database


def seeded_tokens(review: Browserless) -> str:
    app_store = review.client.server.app  # type: ignore[union-attr]
    from bot.review.web import CTX

    rows = app_store[CTX].store.sync.query("SELECT token_hash, csrf_token FROM review_sessions")
    return " ".join(r[0] for r in rows)


async def test_wrong_password_is_refused_and_the_page_says_so(
    review: Browserless, make_review: MakeReview
) -> None:
    """A wrong password answers 401 with the login form again and no session."""
    other = await make_review()
    response = await other.login("alice", "not the password")
    assert response.status == 401
    assert "Wrong name or password" in await response.text()
    assert "modbot_session" not in {c.key for c in other.client.session.cookie_jar}


async def test_open_redirect_after_login_is_refused(
    seeded: Seeded, make_review: MakeReview
) -> None:
    """`next` may only be a local path: //evil.example sends the moderator to /queue."""
    review = await make_review()
    response = await review.login(next="//evil.example/x")
    assert response.headers["Location"] == "/queue"
    review2 = await make_review()
    response = await review2.login(next="/stats?days=7")
    assert response.headers["Location"] == "/stats?days=7"


async def test_logout_ends_the_session(review: Browserless) -> None:
    """After logging out the old cookie no longer opens the queue."""
    response = await review.post("/logout", {})
    assert response.status == 303
    response = await review.client.get("/queue", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"].startswith("/login")


async def test_failed_logins_are_rate_limited_per_user(
    seeded: Seeded, make_review: MakeReview
) -> None:
    """After 3 failures for one account, even the right password answers 429 for a while."""
    review = await make_review(login_max_failures_per_user=3)
    for _ in range(3):
        assert (await review.login("alice", "guess-guess-guess")).status == 401
    response = await review.login("alice", PASSWORD)
    assert response.status == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many failed logins" in await response.text()
    assert (await review.login("bob", PASSWORD)).status == 303  # other accounts are fine


async def test_failing_logins_for_an_account_does_not_lock_out_its_moderators_browser(
    seeded: Seeded, make_review: MakeReview
) -> None:
    """Someone failing logins under alice's name locks out other browsers, not the one alice
    logged in from before (its device cookie); failures from that browser count there."""
    settings = {"login_max_failures_per_user": 3, "login_max_failures_per_ip": 100}
    alice = await make_review(**settings)
    assert (await alice.login()).status == 303
    assert (await alice.post("/logout", {})).status == 303
    attacker = await make_review(**settings)  # another browser: no device cookie
    for _ in range(3):
        assert (await attacker.login("alice", "guess-guess-guess")).status == 401
    assert (await attacker.login("alice", PASSWORD)).status == 429
    thief = await make_review(**settings)  # a device cookie must be one alice logged in with
    thief.client.session.cookie_jar.update_cookies(
        {"modbot_device": "made-up-token"}, URL(str(thief.client.make_url("/login")))
    )
    assert (await thief.login("alice", PASSWORD)).status == 429
    assert (await alice.login()).status == 303  # her own browser still gets in
    assert (await alice.post("/logout", {})).status == 303
    for _ in range(3):  # her browser has its own limit
        assert (await alice.login("alice", "typo-typo-typo")).status == 401
    assert (await alice.login()).status == 429


async def test_failed_logins_are_rate_limited_per_address(
    seeded: Seeded, make_review: MakeReview
) -> None:
    """Failures over many names from one address lock that address out."""
    review = await make_review(login_max_failures_per_ip=4)
    for name in ("a1", "a2", "a3", "a4"):
        assert (await review.login(name, "guess-guess-guess")).status == 401
    assert (await review.login("bob", PASSWORD)).status == 429


async def test_an_entry_whose_comment_was_edited_since_links_to_the_newer_version(
    review: Browserless, seeded: Seeded, store: Store
) -> None:
    """A comment edited after its decision is decided again; its older entry says so and
    links to the newer one, so a moderator does not judge text the platform no longer shows."""
    old = seeded.ids["insult"]
    row = store.query("SELECT comment_id, decided_at FROM decisions WHERE id = ?", (old,))[0]
    edited = make_record(
        "Fair point, I take it back.",
        row["comment_id"],
        rules=seeded.rules,
        scores={"toxicity": 0.02},
        decided_at=row["decided_at"] + 60,
    )
    store.complete(None, edited)
    newer = store.latest_decision("demo", row["comment_id"])
    assert newer is not None and int(newer["id"]) != old
    page = await review.text(f"/entry/{old}")
    assert f'href="/entry/{newer["id"]}"' in page and "edited since" in page
    assert "edited since" in await review.text("/queue?state=all")
    assert "edited since" not in await review.text(f"/entry/{newer['id']}")
    assert "edited since" not in await review.text(f"/entry/{seeded.ids['threat']}")


# -- CSRF and headers ------------------------------------------------------------------------


async def test_post_without_a_valid_csrf_token_is_refused(
    review: Browserless, seeded: Seeded, store: Store
) -> None:
    """A verdict POST with no token or a wrong one answers 403 and records nothing."""
    target = f"/entry/{seeded.ids['insult']}/verdict"
    client = review.client
    no_token = await client.post(target, data={"action": "confirm"}, allow_redirects=False)
    wrong = await client.post(
        target, data={"action": "confirm", "csrf_token": "x" * 43}, allow_redirects=False
    )
    header = await client.post(
        target, data={"action": "confirm"}, headers={"X-CSRF-Token": "nope"}, allow_redirects=False
    )
    assert [no_token.status, wrong.status, header.status] == [403, 403, 403]
    bulk = await client.post("/bulk", data={"action": "confirm", "ids": "1"}, allow_redirects=False)
    assert bulk.status == 403
    assert store.query("SELECT COUNT(*) FROM verdicts")[0][0] == 0
    ok = await review.post(target, {"action": "confirm"})
    assert ok.status == 303
    assert store.query("SELECT COUNT(*) FROM verdicts")[0][0] == 1


async def test_login_post_without_its_token_is_refused(
    seeded: Seeded, make_review: MakeReview
) -> None:
    """The login form has a double-submit token too (no login CSRF)."""
    review = await make_review()
    response = await review.client.post(
        "/login", data={"name": "alice", "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 403


async def test_post_without_a_session_is_refused(seeded: Seeded, make_review: MakeReview) -> None:
    """A POST from someone not logged in answers 403, not a redirect."""
    review = await make_review()
    response = await review.client.post(
        f"/entry/{seeded.ids['insult']}/verdict", data={"action": "restore"}, allow_redirects=False
    )
    assert response.status == 403


async def test_every_response_carries_a_csp_without_inline_script(review: Browserless) -> None:
    """Pages, redirects, errors and static files all carry the CSP and nosniff."""
    for path in (
        "/queue",
        "/login",
        "/stats",
        "/entry/999999",
        "/static/review.css",
        "/static/review.js",
    ):
        response = await review.client.get(path, allow_redirects=False)
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    html = await review.text("/queue?state=all")
    assert "<script>" not in html and " style=" not in html  # no inline script or style


# -- what the queue shows --------------------------------------------------------------------


async def test_hostile_comment_text_is_escaped(review: Browserless, seeded: Seeded) -> None:
    """Markup in the text and author renders as text; a javascript: URL is not linked."""
    html = await review.text("/queue?state=all")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert" not in html and "<img" not in html and "<b>mallory" not in html
    assert "&lt;b&gt;mallory&lt;/b&gt;" in html
    assert 'href="javascript:' not in html
    entry = await review.text(f"/entry/{seeded.ids['xss']}")
    assert "<script>alert" not in entry and 'href="javascript:' not in entry


async def test_matched_spans_are_highlighted_in_the_original_text(
    review: Browserless, seeded: Seeded
) -> None:
    """The rule's span is wrapped in <mark> with the rule's id, the rest is untouched."""
    html = await review.text(f"/entry/{seeded.ids['moron']}")
    assert (
        '<mark class="hit" title="insult.direct">You are a moron</mark> and everyone knows it'
        in html
    )
    assert "Personal insult aimed at another participant" in html  # the rule's reason
    assert 'href="https://forum.example/t/1#cc8"' in html  # link to the comment on the platform


async def test_score_bars_show_each_label_against_its_thresholds(
    review: Browserless, seeded: Seeded
) -> None:
    """Each label has an SVG bar with ticks at the decision's stored flag/hide thresholds."""
    html = await review.text(f"/entry/{seeded.ids['slur']}")
    bar = re.search(
        r'<svg class="bar"[^>]*aria-label="toxicity 0.990, flag at 0.80, hide at 0.97".*?</svg>',
        html,
    )
    assert bar is not None
    assert 'class="fill hide"' in bar.group(0) and 'class="tick-flag" x1="96.0"' in bar.group(0)


async def test_queue_lists_flagged_hidden_and_shadow_newest_first(
    review: Browserless, seeded: Seeded
) -> None:
    """Clean comments are not in the queue; shadow hits are, as 'would have flagged'."""
    html = await review.text("/queue")
    ids = _ids(html)
    assert seeded.ids["clean"] not in ids
    assert seeded.ids["shadow"] in ids and "would have flagged" in html
    assert ids == sorted(ids, reverse=True)  # seeded in time order


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("site=news", {"slur", "moron"}),
        ("rule=insult.direct", {"insult", "xss", "moron"}),
        ("rule=insult.clown", {"shadow"}),
        ("label=threat", {"threat"}),
        ("label=toxicity", {"slur", "model", "insult"}),
        ("kind=hide", {"slur", "threat"}),
        ("kind=shadow", {"shadow"}),
        ("min_score=0.95", {"slur", "threat"}),
        ("label=toxicity&min_score=0.9&max_score=0.95", {"model"}),
        (
            "since=2027-01-15&until=2027-01-15",
            {"insult", "slur", "threat", "shadow", "model", "xss", "moron"},
        ),
        ("until=2020-01-01", set()),
    ],
)
async def test_filters(review: Browserless, seeded: Seeded, query: str, expected: set[str]) -> None:
    """Each filter (site, rule, label, kind, score range, dates) narrows the queue."""
    names = {v: k for k, v in seeded.ids.items()}
    html = await review.text(f"/queue?state=all&{query}")
    assert {names[i] for i in _ids(html)} == expected


async def test_a_bad_filter_is_a_400_that_says_why(review: Browserless) -> None:
    """min_score=2 answers 400 naming the parameter, with the unfiltered queue."""
    response = await review.client.get("/queue?min_score=2")
    assert response.status == 400
    assert "min_score must be a number from 0 to 1" in await response.text()
    response = await review.client.get("/queue?after=1;DROP")
    assert response.status == 400


async def test_keyset_paging_shows_every_entry_once(
    review: Browserless, make_review: MakeReview, seeded: Seeded, store: Store
) -> None:
    """Following 'older' links with 5 per page visits the whole queue in order, once."""
    paged = await make_review(page_size=5)
    await paged.login()
    url, seen = "/queue?state=all", []
    while url:
        html = await paged.text(url)
        seen += _ids(html)
        found = re.search(r'<a href="([^"]+)" rel="next"', html)
        url = found.group(1).replace("&amp;", "&") if found else ""
    expected = [
        r[0]
        for r in store.query(
            "SELECT decision_id FROM review_queue ORDER BY decided_at DESC, decision_id DESC"
        )
    ]
    assert seen == expected and len(seen) == 7


# -- verdicts --------------------------------------------------------------------------------


async def test_verdicts_are_stored_with_who_and_when_and_move_the_entry(
    review: Browserless, seeded: Seeded, store: Store
) -> None:
    """confirm and dismiss record the moderator; the entry leaves 'pending'; the audit lists it."""
    first, second = seeded.ids["insult"], seeded.ids["model"]
    response = await review.post(
        f"/entry/{first}/verdict", {"action": "confirm", "note": "clear insult", "next": "/queue"}
    )
    assert response.status == 303 and response.headers["Location"] == f"/queue#e{first}"
    await review.post(f"/entry/{second}/verdict", {"action": "dismiss"})
    rows = store.query(
        "SELECT decision_id, verdict, moderator, note, created_at FROM verdicts ORDER BY id"
    )
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (first, "confirm", "alice", "clear insult"),
        (second, "dismiss", "alice", ""),
    ]
    assert all(r[4] > 0 for r in rows)
    pending = _ids(await review.text("/queue"))
    assert first not in pending and second not in pending
    assert first in _ids(await review.text("/queue?state=confirmed"))
    assert second in _ids(await review.text("/queue?state=dismissed"))
    audit = await review.text("/audit")
    assert "clear insult" in audit and "alice" in audit and f"/entry/{first}" in audit
    again = await review.post(f"/entry/{first}/verdict", {"action": "confirm"})
    assert "already confirmed" in again.cookies["modbot_flash"].value.replace("%20", " ")


async def test_restore_of_a_comment_modbot_never_touched_records_only(
    review: Browserless, seeded: Seeded, store: Store
) -> None:
    """A shadow hit restored: the verdict is kept, no platform is needed or called."""
    response = await review.post(f"/entry/{seeded.ids['shadow']}/verdict", {"action": "restore"})
    assert response.status == 303
    row = store.query("SELECT verdict, action_status, action_detail FROM verdicts")[0]
    assert tuple(row)[:2] == ("restore", "not_needed") and "nothing to undo" in row[2]
    assert seeded.ids["shadow"] in _ids(await review.text("/queue?state=restored"))


async def test_bulk_verdicts_on_a_selection(
    review: Browserless, seeded: Seeded, store: Store
) -> None:
    """Three selected entries confirmed at once; an unknown id is reported, not fatal."""
    chosen = [seeded.ids[n] for n in ("insult", "slur", "threat")]
    response = await review.post(
        "/bulk", [("action", "confirm"), *[("ids", str(i)) for i in chosen], ("ids", "999999")]
    )
    assert response.status == 303
    states = dict(store.query("SELECT decision_id, state FROM review_queue"))
    assert [states[i] for i in chosen] == ["confirmed"] * 3
    flash = response.cookies["modbot_flash"].value
    assert "3 of 4 done" in flash.replace("%20", " ")


class EscalatingPlatform:
    """A platform double that offers escalation to spam and records the calls."""

    site = "demo"
    escalations = ("spam", "trash")

    def __init__(self) -> None:
        self.calls: list[ActionRequest] = []

    async def escalate(self, request: ActionRequest) -> str:
        self.calls.append(request)
        return "200"


async def test_confirm_can_escalate_where_the_platform_offers_it(
    seeded: Seeded, make_review: MakeReview, store: Store
) -> None:
    """'Confirm as spam' calls the platform's escalate and records a confirm with the outcome."""
    platform = EscalatingPlatform()
    review = await make_review(platforms={"demo": platform})
    await review.login()
    html = await review.text(f"/entry/{seeded.ids['insult']}")
    assert 'name="escalate" value="spam"' in html
    await review.post(f"/entry/{seeded.ids['insult']}/verdict", {"escalate": "spam"})
    assert [(c.action, c.comment_id) for c in platform.calls] == [("spam", "c1")]
    row = store.query("SELECT verdict, action_status, action_detail FROM verdicts")[0]
    assert tuple(row) == ("confirm", "done", "spam: 200")
    news = await review.text(f"/entry/{seeded.ids['slur']}")  # site without a platform here
    assert 'name="escalate"' not in news


class RestoringPlatform:
    """A platform double that accepts restores."""

    site = "news"

    async def restore(self, request: ActionRequest) -> str:
        return "200"


async def test_stats_page_draws_svg_charts(seeded: Seeded, make_review: MakeReview) -> None:
    """Per-day, per-rule (hits, precision) and per-label histogram charts are inline SVG."""
    review = await make_review(platforms={"news": RestoringPlatform()})
    await review.login()
    await review.post(f"/entry/{seeded.ids['insult']}/verdict", {"action": "confirm"})
    await review.post(f"/entry/{seeded.ids['moron']}/verdict", {"action": "restore"})
    html = await review.text("/stats?days=3650")
    for chart in ("chart-per-day", "chart-rule-hits", "chart-rule-precision", "chart-histogram"):
        assert f'<svg class="chart {chart}"' in html, chart
    assert "insult.clown</a> <em>shadow: would have flagged</em>" in html
    row = re.search(r"insult\.direct</a>.*?</tr>", html, re.S)
    assert row is not None and "50%" in row.group(0)  # 1 confirmed, 1 restored
