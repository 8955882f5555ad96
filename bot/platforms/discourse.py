"""The Discourse adapter: the admin API, post webhooks and /posts.json polling.

- Auth: `Api-Key` and `Api-Username` on every request; `start()` reads
  `/session/current.json` and refuses a key that is wrong or not a staff user's.
- Webhooks: `X-Discourse-Event-Signature: sha256=<hex HMAC of the raw body>`, checked in
  constant time before anything is parsed; `post_created` and `post_edited` are queued,
  `ping` and every other event answered 200 and ignored; `X-Discourse-Event-Id` becomes the
  event id the store de-duplicates on. Private messages are skipped by default.
- Polling: `GET /posts.json` (50 newest public posts; `before=<id>` pages back). The cursor
  is the highest post id seen. See `fetch_since` for how a backlog is paged.
- Flag: `POST /post_actions` with the configured flag type, and for message flags
  (notify_moderators, notify_user, illegal) a message holding the reasons.
- Hide: a staff flag with `take_action=true`, or a flag then the review queue's
  `agree_and_hide` with the item's `version`. Restore: `PUT /posts/{id}/unhide`.
- Idempotency: Discourse has no Idempotency-Key, so a repeated call is recognised by its
  answer ("already" flagged, already hidden, already visible) and counted as done.
- Every request, retries included, goes through one RateLimiter (`requests_per_minute`,
  60 by default: the admin API's limit), and a 429 pauses it for its Retry-After.
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog

from bot.config import DiscoursePlatform, Secret
from bot.models import Author, Comment
from bot.platforms import signing
from bot.platforms.base import (
    ActionRequest,
    Page,
    PermanentError,
    RetryableError,
    WebhookEvent,
    WebhookRejected,
    storable,
    text_field,
)
from bot.platforms.http import JsonClient
from bot.platforms.ratelimit import RateLimitedClient, RateLimiter

log = structlog.get_logger(__name__)

FLAG_TYPES = {
    "off_topic": 3,
    "inappropriate": 4,
    "notify_user": 6,
    "notify_moderators": 7,
    "spam": 8,
    "illegal": 10,
}
MESSAGE_FLAGS = frozenset({6, 7, 10})  # these carry a message; the others take none
# notify_moderators is a message to staff, not a flag staff can act on at once: a
# take_action hide uses "inappropriate" instead.
TAKE_ACTION_FLAGS = frozenset({"off_topic", "inappropriate", "spam", "illegal"})
QUEUED_EVENTS = {"post_created": "created", "post_edited": "edited"}
SIGNATURE_HEADER = "X-Discourse-Event-Signature"
EVENT_HEADER = "X-Discourse-Event"
EVENT_ID_HEADER = "X-Discourse-Event-Id"
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
POST_ID_RE = re.compile(r"^[0-9]{1,18}$")
PAGE_SPAN = 50  # /posts.json serves at most 50 posts, all with ids in (before - 50, before]
MAX_FORWARD_PAGES = 20  # per fetch_since call; the poller comes straight back for more
MESSAGE_MAX_CHARS = 2000
REGULAR_POST = 1  # post_type: 2 moderator action, 3 small action, 4 whisper
WINDOW_S = 60.0  # Discourse counts admin API requests per rolling minute


class DiscourseAdapter:
    def __init__(
        self,
        site: str,
        settings: DiscoursePlatform,
        token: Secret | None,
        webhook_secret: Secret | None,
        client: JsonClient | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.site = site
        self._settings = settings
        self._base = settings.base_url.rstrip("/")
        self._token = token
        self._webhook_secret = webhook_secret
        self.limiter = limiter or RateLimiter(settings.requests_per_minute, WINDOW_S)
        headers = {"Api-Username": settings.api_username, "Accept": "application/json"}
        if token is not None:
            headers["Api-Key"] = token.reveal()
        self._client = client or RateLimitedClient(
            self._base,
            limiter=self.limiter,
            headers=headers,
            timeout_s=settings.timeout_s,
            max_retries=settings.max_retries,
            max_retry_after_s=settings.max_retry_after_s,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the key: it must be accepted and act as a staff user.

        A refused key stops start-up. An unreachable Discourse does not: one site being down
        must not keep the others from being moderated; polls and actions retry later.
        """
        if self._token is None:
            raise PermanentError(f"site {self.site}: no Discourse API key (set api_key_env)")
        await self._client.start()
        try:
            user = await self._current_user()
        except RetryableError as exc:
            log.warning("discourse_unreachable", site=self.site, error=str(exc))
            return
        except BaseException:
            await self._client.close()
            raise
        log.info(
            "discourse_connected",
            site=self.site,
            username=user.get("username"),
            admin=bool(user.get("admin")),
        )

    async def _current_user(self) -> dict[str, Any]:
        who = f"Discourse at {self._base} (api_username {self._settings.api_username!r})"
        try:
            response = await self._client.request("GET", "/session/current.json")
        except PermanentError as exc:
            raise PermanentError(
                f"{who} refused the API key with {exc.status}: check api_key_env/api_key_file "
                "and api_username; modbot needs an admin API key (Admin > API > New key, "
                "user level 'All users' or that user)",
                status=exc.status,
            ) from None
        user = response.body.get("current_user") if isinstance(response.body, dict) else None
        if not isinstance(user, dict):
            raise PermanentError(f"{who}: /session/current.json has no current_user")
        if not (user.get("admin") or user.get("moderator") or user.get("staff")):
            raise PermanentError(
                f"{who}: user {user.get('username')!r} is not staff; hiding posts needs a "
                "moderator or an admin (use api_username: system)"
            )
        return user

    async def close(self) -> None:
        await self._client.close()

    # -- polling -----------------------------------------------------------------------------

    async def fetch_since(self, cursor: str | None, limit: int) -> Page:
        """Posts with ids above `cursor`, oldest first; the new cursor is the highest id covered.

        The newest page comes first: when it reaches back to the cursor it holds everything
        new (the usual case, one request). Otherwise there is a backlog, paged forward from
        the cursor with `before=cursor+50`, keeping ids in (cursor, cursor+49]: that span is
        complete whether Discourse reads `before` as an id window or as "the 50 newest up
        to", inclusive or not, until the pages meet the newest one. With no cursor yet,
        modbot starts with the newest page.
        """
        after = _parse_cursor(cursor)
        head = {_id(p): p for p in await self._latest(None)}
        recheck = self._recheck(head, after)
        if not head or (after is not None and after >= max(head)):
            return Page((), None, recheck)
        if after is None:
            posts, covered = list(head.values()), max(head)
        else:
            posts, covered = await self._page_forward(after, head, limit)
        unique = sorted({_id(p): p for p in posts}.items())
        if len(unique) > limit:
            unique = unique[:limit]
            covered = unique[-1][0]
        comments = []
        for post_id, post in unique:
            comment = await self._polled_comment(post_id, post)
            if comment is not None:
                comments.append(comment)
        new_cursor = str(covered) if after is None or covered > after else None
        return Page(tuple(comments), new_cursor, recheck)

    def _recheck(self, head: dict[int, dict[str, Any]], after: int | None) -> tuple[Comment, ...]:
        """The newest page's posts that were covered before, as they read now: an edit of a
        recent post is caught by polling too. Only when the listing carries `raw` (no extra
        request); unchanged posts are the same version, which the store ignores."""
        if after is None:
            return ()
        out = []
        for post_id, post in sorted(head.items()):
            if post_id <= after and isinstance(post.get("raw"), str):
                with contextlib.suppress(ValueError):
                    comment = self._comment(post)
                    if comment is not None:
                        out.append(comment)
        return tuple(out)

    async def _page_forward(
        self, after: int, head: dict[int, dict[str, Any]], limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Pages from `after` up to where the newest page `head` begins, then `head` itself."""
        found: list[dict[str, Any]] = []
        covered = after
        for _ in range(MAX_FORWARD_PAGES):
            if min(head) <= covered + 1:  # the newest page reaches back to here
                return found + [p for i, p in head.items() if i > covered], max(head)
            if len(found) >= limit:
                break
            top = covered + PAGE_SPAN
            found += [p for p in await self._latest(top) if covered < _id(p) < top]
            covered = top - 1
        return found, covered

    async def scan_cursor(self, since: float) -> str:
        """A cursor for `modbot scan --since`: below the first post created at `since` or later.

        A binary search over post ids (about log2(posts / 50) requests) instead of reading
        the forum from its first post. The cursor only rises on evidence (a page of posts all
        older than `since`), so an uneven id space costs requests, never posts.
        """
        head = await self._latest(None)
        lo, hi = 0, max((_id(p) for p in head), default=0)
        for _ in range(64):
            if hi - lo <= PAGE_SPAN:
                break
            mid = (lo + hi) // 2
            dated = [(_id(p), _timestamp(p)) for p in await self._latest(mid) if _id(p) <= mid]
            newer = [i for i, when in dated if when is None or when >= since]
            if not dated:
                hi = mid  # an empty stretch of ids says nothing: look lower, to be safe
            elif not newer:
                lo = mid - 1  # every listed post up to here is older
            else:
                hi = min(newer)
                lo = max([lo] + [i for i, when in dated if i < hi and when is not None])
        return str(lo)

    async def _latest(self, before: int | None) -> list[dict[str, Any]]:
        params = {"before": str(before)} if before is not None else None
        response = await self._client.request("GET", "/posts.json", params=params)
        posts = response.body.get("latest_posts") if isinstance(response.body, dict) else None
        if not isinstance(posts, list):
            raise PermanentError("GET /posts.json: answer has no latest_posts list")
        return [p for p in posts if isinstance(p, dict) and _int(p.get("id")) is not None]

    async def _polled_comment(self, post_id: int, post: dict[str, Any]) -> Comment | None:
        if not isinstance(post.get("raw"), str) and self._wanted(post):
            full = await self._post(post_id, missing_ok=True)
            if full is None:  # deleted since it was listed
                return None
            post = {**post, "raw": full.get("raw")}
        try:
            return self._comment(post)
        except ValueError as exc:
            log.warning("discourse_post_skipped", site=self.site, post_id=post_id, why=str(exc))
            return None

    async def _post(self, post_id: int, missing_ok: bool = False) -> dict[str, Any] | None:
        try:
            response = await self._client.request("GET", f"/posts/{post_id}.json")
        except PermanentError as exc:
            if missing_ok and exc.status in (403, 404):
                return None
            raise
        if not isinstance(response.body, dict):
            raise PermanentError(f"GET /posts/{post_id}.json: answer is not a post")
        return response.body

    # -- webhooks ----------------------------------------------------------------------------

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        signing.require(self._webhook_secret, body, headers, SIGNATURE_HEADER)
        event_id = headers.get(EVENT_ID_HEADER) or None
        if event_id is not None and not EVENT_ID_RE.match(event_id):
            raise WebhookRejected(400, f"{EVENT_ID_HEADER} has characters outside [A-Za-z0-9_.:-]")
        data = _decode(headers.get("Content-Type", ""), body)
        event = headers.get(EVENT_HEADER) or ("ping" if "ping" in data else "")
        if event == "ping":
            return WebhookEvent(event_id, "ping", ())
        if not event:
            raise WebhookRejected(400, f"missing {EVENT_HEADER} header")
        if event not in QUEUED_EVENTS:
            return WebhookEvent(event_id, event, ())
        post = data.get("post")
        if not isinstance(post, dict):
            raise WebhookRejected(400, f"{event}: body must be {{'post': {{...}}}}")
        try:
            comment = self._comment(post)
        except ValueError as exc:
            raise WebhookRejected(400, f"{event}: post: {exc}") from None
        if comment is None:
            kind = "private_message" if _is_private(post) else "skipped"
            log.info("discourse_webhook_skipped", site=self.site, post_id=post.get("id"), kind=kind)
            return WebhookEvent(event_id, kind, ())
        return WebhookEvent(event_id, QUEUED_EVENTS[event], (comment,))

    def _wanted(self, post: dict[str, Any]) -> bool:
        """False for what modbot leaves alone: PMs (by default), deleted and non-user posts."""
        if self._settings.skip_private_messages and _is_private(post):
            return False
        if post.get("deleted_at"):
            return False
        return post.get("post_type", REGULAR_POST) == REGULAR_POST

    def _comment(self, post: dict[str, Any]) -> Comment | None:
        """A Discourse post (webhook or API shape) to a Comment; None when skipped."""
        post_id, topic_id = _int(post.get("id")), _int(post.get("topic_id"))
        if post_id is None or topic_id is None:
            raise ValueError("'id' and 'topic_id' must be integers")
        if not self._wanted(post):
            return None
        raw = post.get("raw")
        if not isinstance(raw, str):
            raise ValueError("'raw' must be a string")
        number = _int(post.get("post_number"))
        # a topic's first post is judged with its title, as Discourse's own toxicity check
        # did: "title + raw for first posts" (the listing's title is kept when raw is fetched)
        title = text_field(post.get("topic_title")).strip() if number == 1 else ""
        slug = text_field(post.get("topic_slug")) or str(topic_id)
        url = f"{self._base}/t/{urllib.parse.quote(slug)}/{topic_id}"
        section = text_field(post.get("category_slug")) or text_field(post.get("category_id"))
        extra = [("post_number", str(number))] if number is not None else []
        reply_to = _int(post.get("reply_to_post_number"))
        if reply_to is not None:
            extra.append(("reply_to_post_number", str(reply_to)))
        return Comment(
            site=self.site,
            id=str(post_id),
            text=storable(f"{title}\n\n{raw}" if title else raw),
            author=Author(
                id=text_field(post.get("user_id")),
                name=text_field(post.get("username")),
                role=_role(post),
            ),
            thread_id=str(topic_id),
            url=f"{url}/{number}" if number is not None else url,
            created_at=text_field(post.get("created_at")),
            section=section,
            extra=tuple(extra),
        )

    # -- actions -----------------------------------------------------------------------------

    async def flag(self, request: ActionRequest) -> str:
        post_id = _post_id(request)
        flag_type = self._settings.flag_type
        done, _ = await self._post_action(post_id, flag_type, request, take_action=False)
        return f"flagged {flag_type}" if done else "already flagged"

    async def hide(self, request: ActionRequest) -> str:
        post_id = _post_id(request)
        if self._settings.hide_with == "take_action":
            flag_type = self._settings.flag_type
            if flag_type not in TAKE_ACTION_FLAGS:
                flag_type = "inappropriate"
            done, _ = await self._post_action(post_id, flag_type, request, take_action=True)
            if done:
                return f"hidden: staff flag {flag_type} with take_action"
            reviewable_id = None  # flagged before (an earlier verdict): agree with that flag
        else:
            done, body = await self._post_action(
                post_id, self._settings.flag_type, request, take_action=False
            )
            reviewable_id = _int(body.get("reviewable_id")) if isinstance(body, dict) else None
        return await self._agree_and_hide(post_id, reviewable_id)

    async def restore(self, request: ActionRequest) -> str:
        post_id = _post_id(request)
        try:
            await self._client.request("PUT", f"/posts/{post_id}/unhide")
        except PermanentError as exc:
            if exc.status == 403 and not await self._is_hidden(post_id):
                return "already visible"
            raise
        return "unhidden"

    async def _post_action(
        self, post_id: int, flag_type: str, request: ActionRequest, take_action: bool
    ) -> tuple[bool, Any]:
        """Flag once; (False, None) when this user had already flagged the post."""
        type_id = FLAG_TYPES[flag_type]
        payload: dict[str, Any] = {"id": post_id, "post_action_type_id": type_id}
        payload["flag_topic"] = False
        if type_id in MESSAGE_FLAGS:
            payload["message"] = flag_message(request)
        if take_action:
            payload["take_action"] = True
        try:
            response = await self._client.request("POST", "/post_actions", json=payload)
        except PermanentError as exc:
            if exc.status in (403, 422) and await self._already_flagged(post_id, exc):
                log.info("discourse_already_flagged", site=self.site, post_id=post_id)
                return False, None
            raise
        return True, response.body

    async def _already_flagged(self, post_id: int, error: PermanentError) -> bool:
        if "already" in str(error).lower():
            return True
        post = await self._post(post_id, missing_ok=True)
        summary = post.get("actions_summary") if post else None
        flag_ids = set(FLAG_TYPES.values())
        return isinstance(summary, list) and any(
            isinstance(a, dict) and a.get("id") in flag_ids and a.get("acted") is True
            for a in summary
        )

    async def _agree_and_hide(self, post_id: int, reviewable_id: int | None) -> str:
        for attempt in range(2):  # a 409 means the item changed meanwhile: reread, once
            item = await self._reviewable(post_id, reviewable_id)
            if item is None:
                if await self._is_hidden(post_id):
                    return "already hidden"
                raise PermanentError(f"post {post_id}: no pending review item to agree_and_hide")
            path = f"/review/{item['id']}/perform/agree_and_hide"
            try:
                await self._client.request("PUT", path, params={"version": str(item["version"])})
            except PermanentError as exc:
                if exc.status in (403, 422) and await self._is_hidden(post_id):
                    return "already hidden"
                if exc.status != 409 or attempt:
                    raise
                reviewable_id = item["id"]
                continue
            return f"hidden: review item {item['id']} agree_and_hide"
        raise AssertionError("unreachable")  # pragma: no cover

    async def _reviewable(self, post_id: int, reviewable_id: int | None) -> dict[str, Any] | None:
        """The pending flag review item for a post, with its current version."""
        if reviewable_id is None:
            post = await self._post(post_id)
            reviewable_id = _int(post.get("reviewable_id")) if post else None
        if reviewable_id is not None:
            response = await self._client.request("GET", f"/review/{reviewable_id}.json")
            item = response.body.get("reviewable") if isinstance(response.body, dict) else None
            return item if _pending_item(item) else None
        params = {"type": "ReviewableFlaggedPost", "status": "pending"}
        response = await self._client.request("GET", "/review.json", params=params)
        items = response.body.get("reviewables") if isinstance(response.body, dict) else None
        for item in items if isinstance(items, list) else []:
            if _pending_item(item) and _int(item.get("target_id")) == post_id:
                return item
        return None

    async def _is_hidden(self, post_id: int) -> bool:
        post = await self._post(post_id)
        return bool(post and post.get("hidden") is True)


def flag_message(request: ActionRequest) -> str:
    """The flag's message to moderators: modbot's summary and each reason."""
    lines = [f"modbot: {request.reason}"]
    lines += [f"- {r.kind} {r.name}: {r.detail}" for r in request.reasons if not r.shadow]
    return "\n".join(lines)[:MESSAGE_MAX_CHARS]


def _decode(content_type: str, body: bytes) -> dict[str, Any]:
    """A webhook body: JSON, or (content type form-urlencoded) JSON in its `payload` field."""
    try:
        text = body.decode("utf-8")
        if content_type.startswith("application/x-www-form-urlencoded"):
            text = urllib.parse.parse_qs(text, strict_parsing=True)["payload"][0]
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError, KeyError) as exc:
        raise WebhookRejected(400, f"body is not a JSON webhook payload: {exc}") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "body must be a JSON object")
    return data


def _pending_item(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and _int(item.get("id")) is not None
        and _int(item.get("version")) is not None
        and item.get("status") in (0, "pending")
    )


def _is_private(post: Mapping[str, Any]) -> bool:
    return post.get("topic_archetype") == "private_message" or post.get("private_message") is True


def _role(post: Mapping[str, Any]) -> str:
    for role in ("admin", "moderator", "staff"):
        if post.get(role) is True:
            return role
    return "member"


def _post_id(request: ActionRequest) -> int:
    if not POST_ID_RE.match(request.comment_id):
        raise PermanentError(f"comment id {request.comment_id!r} is not a Discourse post id")
    return int(request.comment_id)


def _parse_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    if not POST_ID_RE.match(cursor):
        raise PermanentError(f"poll cursor {cursor[:40]!r} is not a Discourse post id")
    return int(cursor)


def _timestamp(post: Mapping[str, Any]) -> float | None:
    try:
        return datetime.fromisoformat(str(post.get("created_at"))).timestamp()
    except ValueError:
        return None


def _id(post: Mapping[str, Any]) -> int:
    return _int(post.get("id")) or 0


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and POST_ID_RE.match(value):
        return int(value)
    return None
