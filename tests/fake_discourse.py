"""An in-process Discourse that enforces the wire format modbot's adapter must speak.

What it checks, as Discourse does: `Api-Key` + `Api-Username` on every request (403
`invalid_access` otherwise); the admin API's rolling-window request limit (429 with
`Retry-After` and `Discourse-Rate-Limit-Error-Code`); `POST /post_actions` fields (known flag
type ids, a message for notify_user/notify_moderators/illegal, `take_action` for staff
only, one flag per user and post); `version` on review actions (422 without, 409 when
stale); `unhide` only for a hidden post. It serves `/posts.json` as Discourse does (public,
regular, visible posts, newest first, at most 50, ids in `(before - 50, before]`), and
sends webhooks signed as Discourse does: `X-Discourse-Event-Signature: sha256=` + hex
HMAC-SHA256 of the raw body, with `X-Discourse-Event-Id`, `-Event-Type`, `-Event` and
`-Instance`. Every request it gets is recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from aiohttp import ClientError, ClientSession, ClientTimeout, web

FLAG_TYPES = {3: "off_topic", 4: "inappropriate", 6: "notify_user", 7: "notify_moderators"}
FLAG_TYPES |= {8: "spam", 10: "illegal"}
MESSAGE_FLAGS = {6, 7, 10}
LIKE = 2
REGULAR, WHISPER = 1, 4
INVALID_KEY = (
    "You are not permitted to view the requested resource. The API username or key is invalid."
)
NOT_PERMITTED = "You are not permitted to view the requested resource."
NOT_FOUND = "The requested URL or resource could not be found."
ALREADY = "Oops! You already performed that action. Can you try something different?"


@dataclass
class User:
    id: int
    username: str
    admin: bool = False
    moderator: bool = False

    @property
    def staff(self) -> bool:
        return self.admin or self.moderator


@dataclass
class Topic:
    id: int
    title: str
    slug: str
    archetype: str = "regular"  # or "private_message"
    category_id: int | None = 1
    category_slug: str = "general"


@dataclass
class Post:
    id: int
    topic_id: int
    post_number: int
    raw: str
    user: User
    created_at: str
    post_type: int = REGULAR
    hidden: bool = False
    version: int = 1
    deleted: bool = False


@dataclass
class PostAction:
    post_id: int
    user_id: int
    type_id: int
    message: str | None
    take_action: bool


@dataclass
class Reviewable:
    id: int
    post_id: int
    topic_id: int
    status: str = "pending"
    version: int = 0
    flaggers: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    """One HTTP request the fake got, whatever it answered."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    status: int
    at: float


@dataclass(frozen=True)
class Delivery:
    """One webhook POST; `status` is None when the receiver was unreachable."""

    event_id: str
    event: str
    headers: dict[str, str]
    body: bytes
    status: int | None
    at: float


class FakeDiscourse:
    """A Discourse on 127.0.0.1.

    Args:
        api_key: the only admin API key it accepts (for any existing Api-Username).
        webhook_secret: signs webhooks; None sends them unsigned, as Discourse does.
        rate_limit, rate_window_s: admin API requests allowed per rolling window.
        posts_paging: "window" (Discourse: ids in (before-50, before]) or "latest"
            (the 50 newest posts with id <= before).
        posts_include_raw: whether /posts.json carries `raw` (then /posts/<id>.json must be read).
        clock: seconds for the rate limit and timestamps.
    """

    def __init__(
        self,
        api_key: str,
        *,
        webhook_secret: str | None = None,
        webhook_url: str | None = None,
        rate_limit: int = 60,
        rate_window_s: float = 60.0,
        posts_paging: str = "window",
        posts_include_raw: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.rate_limit = rate_limit
        self.rate_window_s = rate_window_s
        self.posts_paging = posts_paging
        self.posts_include_raw = posts_include_raw
        self.clock = clock
        self.requests: list[Request] = []
        self.deliveries: list[Delivery] = []
        self.users: dict[str, User] = {"system": User(-1, "system", admin=True)}
        self.topics: dict[int, Topic] = {}
        self.posts: dict[int, Post] = {}
        self.actions: list[PostAction] = []
        self.reviewables: dict[int, Reviewable] = {}
        self.stale_reviews = 0  # the next N review items shown carry an outdated version
        self._hits: deque[float] = deque()
        self._next = {"post": 1, "topic": 1, "user": 1, "event": 1, "reviewable": 1}
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(
            [
                web.get("/session/current.json", self._current),
                web.get("/posts.json", self._latest),
                web.get("/posts/{id}.json", self._show_post),
                web.post("/post_actions", self._post_actions),
                web.get("/review.json", self._review_list),
                web.get("/review/{id}.json", self._review_show),
                web.put("/review/{id}/perform/{action}", self._review_perform),
                web.put("/posts/{id}/unhide", self._unhide),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._session = ClientSession(timeout=ClientTimeout(total=5))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- content -----------------------------------------------------------------------------

    def user(self, username: str, *, admin: bool = False, moderator: bool = False) -> User:
        if username not in self.users:
            self.users[username] = User(self._take("user"), username, admin, moderator)
        return self.users[username]

    async def create_post(
        self,
        raw: str,
        *,
        username: str = "alice",
        topic_id: int | None = None,
        title: str = "A topic",
        private: bool = False,
        post_type: int = REGULAR,
        deliver_webhook: bool = True,
    ) -> Post:
        """A new post (and topic unless `topic_id`); sends `post_created` when a webhook is set."""
        if topic_id is None:
            topic_id = self._take("topic")
            slug = "-".join(title.lower().split())
            archetype = "private_message" if private else "regular"
            self.topics[topic_id] = Topic(topic_id, title, slug, archetype)
        number = 1 + sum(1 for p in self.posts.values() if p.topic_id == topic_id)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        post = Post(self._take("post"), topic_id, number, raw, self.user(username), now, post_type)
        self.posts[post.id] = post
        if deliver_webhook and self.webhook_url:
            await self.deliver(post.id, "post_created")
        return post

    async def edit_post(self, post_id: int, raw: str, *, deliver_webhook: bool = True) -> Post:
        post = self.posts[post_id]
        post.raw, post.version = raw, post.version + 1
        if deliver_webhook and self.webhook_url:
            await self.deliver(post_id, "post_edited")
        return post

    def skip_ids(self, n: int) -> None:
        """Burn `n` post ids, as PMs, deleted posts or other sites' posts would."""
        self._next["post"] += n

    def _take(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] += 1
        return value

    # -- test helpers ------------------------------------------------------------------------

    def calls(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def flags_on(self, post_id: int) -> list[PostAction]:
        return [a for a in self.actions if a.post_id == post_id and a.type_id in FLAG_TYPES]

    def signature(self, body: bytes, secret: str | None = None) -> str:
        key = (secret or self.webhook_secret or "").encode()
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()

    # -- webhooks ----------------------------------------------------------------------------

    async def deliver(self, post_id: int, event: str = "post_created") -> int | None:
        """Send one post event as Discourse's EmitWebHookEvent job does."""
        body = json.dumps({"post": self.webhook_post(self.posts[post_id])}).encode()
        return await self._send(str(self._take("event")), "post", event, body)

    async def ping(self) -> int | None:
        return await self._send(str(self._take("event")), "ping", "ping", b'{"ping":"OK"}')

    async def redeliver(self, event_id: str) -> int | None:
        """Admin > Webhooks > Redeliver: the same id, headers and bytes again."""
        first = next(d for d in self.deliveries if d.event_id == event_id)
        return await self._post_hook(first.event_id, first.event, first.headers, first.body)

    async def _send(self, event_id: str, group: str, event: str, body: bytes) -> int | None:
        headers = {
            "Content-Type": "application/json",
            "Host": "modbot",
            "User-Agent": "Discourse/3.4.0",
            "X-Discourse-Instance": self.url,
            "X-Discourse-Event-Id": event_id,
            "X-Discourse-Event-Type": group,
            "X-Discourse-Event": event,
        }
        if self.webhook_secret:
            headers["X-Discourse-Event-Signature"] = self.signature(body)
        return await self._post_hook(event_id, event, headers, body)

    async def _post_hook(
        self, event_id: str, event: str, headers: dict[str, str], body: bytes
    ) -> int | None:
        assert self._session is not None and self.webhook_url
        status: int | None = None
        try:
            async with self._session.post(self.webhook_url, data=body, headers=headers) as resp:
                status = resp.status
                await resp.read()
        except (ClientError, TimeoutError, OSError):
            status = None
        self.deliveries.append(Delivery(event_id, event, headers, body, status, self.clock()))
        return status

    def webhook_post(self, post: Post) -> dict[str, Any]:
        """WebHookPostSerializer's shape."""
        topic = self.topics[post.topic_id]
        data = self._post_json(post, raw=True)
        data |= {"topic_archetype": topic.archetype, "category_slug": topic.category_slug}
        data |= {"topic_posts_count": sum(p.topic_id == topic.id for p in self.posts.values())}
        return data

    def _post_json(self, post: Post, *, raw: bool, viewer: User | None = None) -> dict[str, Any]:
        topic = self.topics[post.topic_id]
        data: dict[str, Any] = {
            "id": post.id,
            "name": post.user.username.title(),
            "username": post.user.username,
            "created_at": post.created_at,
            "cooked": f"<p>{post.raw}</p>",
            "post_number": post.post_number,
            "post_type": post.post_type,
            "updated_at": post.created_at,
            "reply_to_post_number": None,
            "topic_id": topic.id,
            "topic_slug": topic.slug,
            "topic_title": topic.title,
            "category_id": topic.category_id,
            "version": post.version,
            "user_id": post.user.id,
            "hidden": post.hidden,
            "deleted_at": None,
            "admin": post.user.admin,
            "moderator": post.user.moderator,
            "staff": post.user.staff,
        }
        if raw:
            data["raw"] = post.raw
        if viewer is not None:
            acted = {
                a.type_id for a in self.actions if a.post_id == post.id and a.user_id == viewer.id
            }
            data["actions_summary"] = [{"id": t, "acted": True} for t in sorted(acted)]
            if viewer.staff:
                item = self._reviewable_for(post.id)
                data["reviewable_id"] = item.id if item else None
        return data

    # -- HTTP plumbing -----------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response = self._auth(request) or self._limit() or await handler(request)
        self.requests.append(
            Request(
                request.method,
                request.path,
                dict(request.query),
                await _body(request),
                dict(request.headers),
                response.status,
                self.clock(),
            )
        )
        return response

    def _user(self, request: web.Request) -> User:
        return self.users[request.headers["Api-Username"]]

    def _auth(self, request: web.Request) -> web.Response | None:
        key = request.headers.get("Api-Key", "")
        user = self.users.get(request.headers.get("Api-Username", ""))
        if user is None or not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return _errors(403, INVALID_KEY, "invalid_access")
        return None

    def _limit(self) -> web.Response | None:
        now = self.clock()
        while self._hits and self._hits[0] <= now - self.rate_window_s:
            self._hits.popleft()
        if len(self._hits) >= self.rate_limit:
            wait = max(1, math.ceil(self._hits[0] + self.rate_window_s - now))
            response = _errors(
                429,
                f"You’ve performed this action too many times. Please wait {wait} seconds "
                "before trying again.",
                "rate_limit",
                extras={"wait_seconds": wait, "time_left": f"{wait} seconds"},
            )
            response.headers["Retry-After"] = str(wait)
            response.headers["Discourse-Rate-Limit-Error-Code"] = "admin_api_key_rate_limit"
            return response
        self._hits.append(now)
        return None

    # -- endpoints ---------------------------------------------------------------------------

    async def _current(self, request: web.Request) -> web.Response:
        user: User = self._user(request)
        current = {"id": user.id, "username": user.username, "admin": user.admin}
        current |= {"moderator": user.moderator, "staff": user.staff}
        return web.json_response({"current_user": current})

    async def _latest(self, request: web.Request) -> web.Response:
        """PostsController#latest: public, regular, visible posts, newest first, at most 50."""
        try:
            before = int(request.query.get("before", "0"))
        except ValueError:
            before = 0
        listed = [
            p
            for p in self.posts.values()
            if self.topics[p.topic_id].archetype == "regular"
            and p.post_type == REGULAR
            and not p.hidden
            and not p.deleted
        ]
        if before <= 0:
            before = max(self.posts, default=0)
        listed = [p for p in listed if p.id <= before]
        if self.posts_paging == "window":
            listed = [p for p in listed if p.id > before - 50]
        listed.sort(key=lambda p: (p.created_at, p.id), reverse=True)
        posts = [self._post_json(p, raw=self.posts_include_raw) for p in listed[:50]]
        return web.json_response({"latest_posts": posts})

    async def _show_post(self, request: web.Request) -> web.Response:
        post = self._find(request.match_info["id"])
        if post is None:
            return _errors(404, NOT_FOUND, "not_found")
        return web.json_response(self._post_json(post, raw=True, viewer=self._user(request)))

    async def _post_actions(self, request: web.Request) -> web.Response:
        """PostActionsController#create."""
        user: User = self._user(request)
        body = await _body(request)
        if not isinstance(body, dict):
            return _errors(400, "param is missing or the value is empty: id", "invalid_parameters")
        post = self._find(body.get("id"))
        if post is None:
            return _errors(404, NOT_FOUND, "not_found")
        type_id = _to_int(body.get("post_action_type_id"))
        if type_id not in FLAG_TYPES and type_id != LIKE:
            return _invalid("post_action_type_id")
        if body.get("flag_topic") not in (None, False, "false"):
            return _invalid("flag_topic")  # this fake flags posts only
        message = body.get("message")
        if type_id in MESSAGE_FLAGS and not (isinstance(message, str) and len(message) >= 10):
            return _errors(422, "Message is too short (minimum is 10 characters)")
        take_action = body.get("take_action") in (True, "true")
        if take_action and not user.staff:
            return _errors(403, NOT_PERMITTED, "invalid_access")
        mine = [a for a in self.actions if a.post_id == post.id and a.user_id == user.id]
        if any(a.type_id == type_id for a in mine):
            return _errors(422, ALREADY)
        if type_id in FLAG_TYPES and any(a.type_id in FLAG_TYPES for a in mine):
            return _errors(403, NOT_PERMITTED, "invalid_access")  # one flag per user and post
        self.actions.append(PostAction(post.id, user.id, type_id, message, take_action))
        if type_id in FLAG_TYPES:
            item = self._reviewable_for(post.id, any_status=True)
            if item is None or item.status != "pending":
                item = Reviewable(self._take("reviewable"), post.id, post.topic_id)
                self.reviewables[item.id] = item
            item.flaggers.append(user.id)
            item.version += 1
            if take_action:
                post.hidden = True
                item.status, item.version = "approved", item.version + 1
        return web.json_response(self._post_json(post, raw=False, viewer=user))

    async def _review_list(self, request: web.Request) -> web.Response:
        if not self._user(request).staff:
            return _errors(403, NOT_PERMITTED, "invalid_access")
        status = request.query.get("status", "pending")
        items = [r for r in self.reviewables.values() if status in ("all", r.status)]
        return web.json_response(
            {
                "reviewables": [self._review_json(r) for r in items],
                "meta": {"total_rows_reviewables": len(items)},
            }
        )

    async def _review_show(self, request: web.Request) -> web.Response:
        item = self.reviewables.get(_to_int(request.match_info["id"]) or 0)
        if item is None:
            return _errors(404, NOT_FOUND, "not_found")
        shown = self._review_json(item)
        if self.stale_reviews > 0:  # a moderator acted between modbot's read and its write
            self.stale_reviews -= 1
            shown["version"] -= 1
        return web.json_response({"reviewable": shown})

    async def _review_perform(self, request: web.Request) -> web.Response:
        """ReviewablesController#perform: `version` is required and must be current."""
        item = self.reviewables.get(_to_int(request.match_info["id"]) or 0)
        if item is None:
            return _errors(404, NOT_FOUND, "not_found")
        version = _to_int(request.query.get("version"))
        if version is None:
            return _errors(422, "You supplied invalid parameters to the request: version")
        if version != item.version:
            return _errors(409, "This item has been edited by someone else. Reload and try again.")
        post = self.posts[item.post_id]
        action = request.match_info["action"]
        if item.status != "pending" or action not in {"agree_and_hide", "agree_and_keep"}:
            return _errors(403, "You are not permitted to perform that action.", "invalid_access")
        if action == "agree_and_hide":
            if post.hidden:
                return _errors(
                    403, "You are not permitted to perform that action.", "invalid_access"
                )
            post.hidden = True
        item.status, item.version = "approved", item.version + 1
        result = {"success": True, "transition_to": "approved", "version": item.version}
        return web.json_response(
            {"reviewable_perform_result": result | {"remove_reviewable_ids": [item.id]}}
        )

    async def _unhide(self, request: web.Request) -> web.Response:
        post = self._find(request.match_info["id"])
        if post is None:
            return _errors(404, NOT_FOUND, "not_found")
        if not self._user(request).staff or not post.hidden:
            return _errors(403, NOT_PERMITTED, "invalid_access")
        post.hidden = False
        return web.Response(status=200)

    # -- helpers -----------------------------------------------------------------------------

    def _find(self, value: Any) -> Post | None:
        post = self.posts.get(_to_int(value) or 0)
        return None if post is None or post.deleted else post

    def _reviewable_for(self, post_id: int, any_status: bool = False) -> Reviewable | None:
        items = [r for r in self.reviewables.values() if r.post_id == post_id]
        items = [r for r in items if any_status or r.status == "pending"]
        return items[-1] if items else None

    def _review_json(self, item: Reviewable) -> dict[str, Any]:
        return {
            "id": item.id,
            "type": "ReviewableFlaggedPost",
            "status": item.status,
            "version": item.version,
            "target_id": item.post_id,
            "topic_id": item.topic_id,
            "target_url": f"{self.url}/p/{item.post_id}",
        }


async def _body(request: web.Request) -> Any:
    """The JSON body (aiohttp caches the bytes, so this can be read more than once)."""
    if not request.body_exists:
        return None
    text = await request.text()
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


def _to_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _errors(status: int, message: str, error_type: str | None = None, **more: Any) -> web.Response:
    body: dict[str, Any] = {"errors": [message]}
    if error_type:
        body["error_type"] = error_type
    return web.json_response(body | more, status=status)


def _invalid(param: str) -> web.Response:
    return _errors(
        400, f"You supplied invalid parameters to the request: {param}", "invalid_parameters"
    )
