"""WordPress: the REST API with an Application Password, plus modbot's mu-plugin.

The mu-plugin (integrations/wordpress/modbot.php) sends signed webhooks for new and edited
comments and registers the comment meta in which modbot records what it did and why; see
docs/platforms/wordpress.md. Comments have no modified time, so polling walks comment ids.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import time
from collections.abc import Mapping
from typing import Any

import structlog

from bot.config import ConfigError, Secret, WordPressPlatform
from bot.models import Author, Comment, Reason, Verdict
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
from bot.platforms.base import (
    comment_id as checked_id,
)
from bot.platforms.http import JsonClient, client_for

log = structlog.get_logger(__name__)

API = "/wp-json/wp/v2"
ID_RE = re.compile(r"^[1-9][0-9]{0,19}$")
EVENTS = {"comment.created": "created", "comment.edited": "edited"}
SIGNATURE_HEADER = "X-Modbot-Signature"
EVENT_ID_HEADER = "X-Modbot-Event-Id"
# Comments in these statuses are moderated; spam and trash are out of view already.
MODERATED = frozenset({"approved", "hold"})
# How far a hide goes: a comment is never made more visible by a hide.
STRENGTH = {"approved": 0, "hold": 1, "spam": 2, "trash": 3}
META_KEYS = ("modbot_action", "modbot_reason", "modbot_previous_status", "modbot_updated_gmt")
COMMENT_FIELDS = "id,post,parent,author,author_name,date_gmt,link,status,type,content,modbot_author"
ACT_FIELDS = "id,status,meta,author_ip,author_user_agent"
PRESERVED = ("author_ip", "author_user_agent")  # see WordPressAdapter._update
NEEDED_CAPABILITIES = ("moderate_comments", "edit_posts")
ID_WINDOW = 500  # comment ids asked for per listing (include=...), about 4 KB of URL
MAX_WINDOWS = 20  # windows one poll walks over a gap of deleted or spam comments
MAX_REASON_CHARS = 1000  # the plugin caps meta at 2000
AUTHOR_FIELDS = {f.name for f in dataclasses.fields(Author)}


class WordPressSetupError(PermanentError, ConfigError):
    """WordPress refused modbot's credentials, or the site is not set up for modbot.

    A ConfigError too: `modbot run` reports it as a configuration problem (exit 2)."""


class WordPressAdapter:
    def __init__(
        self,
        site: str,
        settings: WordPressPlatform,
        token: Secret | None,
        webhook_secret: Secret | None,
        client: JsonClient | None = None,
    ) -> None:
        self.site = site
        self._settings = settings
        self._token = token
        headers = {"Accept": "application/json"}
        if token is not None:
            pair = f"{settings.username}:{token.reveal()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        self._client = client or client_for(settings, headers)
        self._webhook_secret = webhook_secret

    # --- start-up -------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the Application Password and the mu-plugin; fail start-up clearly if not."""
        await self._client.start()
        if self._token is None:
            raise self._setup_error(
                "no application password configured: set platform.app_password_env or "
                "platform.app_password_file"
            )
        user = await self._current_user()
        await self._check_plugin()
        log.info(
            "wordpress_connected",
            site=self.site,
            user=user.get("username") or self._settings.username,
            roles=user.get("roles"),
        )

    async def _current_user(self) -> dict[str, Any]:
        # WordPress 6.1 treats a wrong application password as an anonymous visitor instead
        # of answering 401 incorrect_password: only /users/me tells the two apart.
        try:
            response = await self._call(
                "GET",
                "/users/me",
                params={"context": "edit", "_fields": "id,username,roles,capabilities"},
            )
        except PermanentError as exc:
            if exc.status in (401, 403):
                raise self._setup_error(self._refused(exc)) from None
            if exc.status == 404:
                raise self._setup_error(
                    f"{self._url('/users/me')} answered 404: base_url must be the WordPress "
                    "site's address, with the REST API reachable under /wp-json/"
                ) from None
            raise
        user = response.body
        if not isinstance(user, dict) or "id" not in user:
            raise self._setup_error(f"{self._url('/users/me')} did not answer with a user")
        caps = user.get("capabilities")
        if isinstance(caps, dict):
            missing = [cap for cap in NEEDED_CAPABILITIES if not caps.get(cap)]
            if missing:
                raise self._setup_error(
                    f"WordPress user {user.get('username') or self._settings.username!r} "
                    f"(roles: {', '.join(user.get('roles') or []) or 'none'}) lacks the "
                    f"capability {' and '.join(missing)}: give modbot an Editor or "
                    "Administrator account"
                )
        return user

    def _refused(self, exc: PermanentError) -> str:
        origin = self._token.origin if self._token else "the config"
        return (
            f"WordPress refused the application password for user "
            f"{self._settings.username!r} ({exc.status} from /users/me; WordPress also "
            "answers like this when it silently treats a wrong application password as an "
            f"anonymous visitor). Check platform.username and the password in {origin}: "
            "create one under Users > Profile > Application Passwords. Over plain http, "
            "WordPress ignores application passwords unless WP_ENVIRONMENT_TYPE is 'local'."
        )

    async def _check_plugin(self) -> None:
        response = await self._call("OPTIONS", "/comments")
        body = response.body if isinstance(response.body, dict) else {}
        meta = body.get("schema", {}).get("properties", {}).get("meta", {})
        registered = set(meta.get("properties", {}))
        if not set(META_KEYS) <= registered:
            raise self._setup_error(
                "the modbot mu-plugin is not active (comment meta modbot_action is not "
                "registered): copy integrations/wordpress/modbot.php into "
                "wp-content/mu-plugins/"
            )

    def _setup_error(self, message: str) -> WordPressSetupError:
        return WordPressSetupError(
            f"site {self.site!r} ({self._settings.base_url}): {message}", status=None
        )

    async def close(self) -> None:
        await self._client.close()

    # --- intake -----------------------------------------------------------------------------

    async def fetch_since(self, cursor: str | None, limit: int) -> Page:
        """Comments with ids above `cursor`, oldest first; the cursor is the last id seen.

        WordPress cannot filter by id range, so each listing asks for a window of ids with
        `include=`. A window with nothing in it but newer comments beyond it is a gap
        (deleted, spam or trashed comments): the walk goes on to the next window. With no
        cursor the walk starts at the oldest comment (`modbot scan` relies on it); the
        poller's first cursor comes from `start_cursor`.
        """
        cursor = cursor or "0"
        if not cursor.isdigit():
            raise PermanentError(f"poll cursor {cursor!r} is not a comment id")
        after = int(cursor)
        per_page = max(1, min(limit, 100))
        for _ in range(MAX_WINDOWS):
            items = await self._list_window(after, per_page)
            if items:
                comments = tuple(self._parse_listed(item) for item in items)
                return Page(comments, str(max(int(c.id) for c in comments)))
            newest = await self._newest_id()
            if newest <= after + ID_WINDOW:
                return Page((), str(after))
            after += ID_WINDOW
        return Page((), str(after))

    async def start_cursor(self) -> str:
        """The first poll's cursor: the newest comment now, so polling moderates what is
        posted from here on and `modbot scan` the backlog."""
        return str(await self._newest_id())

    async def _list_window(self, after: int, per_page: int) -> list[Any]:
        ids = ",".join(str(i) for i in range(after + 1, after + ID_WINDOW + 1))
        response = await self._call(
            "GET",
            "/comments",
            params={
                "include": ids,
                "status": "all",  # approved and held
                "orderby": "id",
                "order": "asc",
                "per_page": str(per_page),
                "context": "edit",
                "_fields": COMMENT_FIELDS,
            },
        )
        if not isinstance(response.body, list):
            raise RetryableError("GET /comments: the answer is not a list of comments")
        return response.body

    async def _newest_id(self) -> int:
        response = await self._call(
            "GET",
            "/comments",
            params={
                "status": "all",
                "orderby": "id",
                "order": "desc",
                "per_page": "1",
                "context": "edit",
                "_fields": "id",
            },
        )
        body = response.body
        if not isinstance(body, list):
            raise RetryableError("GET /comments: the answer is not a list of comments")
        return int(body[0]["id"]) if body and isinstance(body[0], dict) else 0

    def _parse_listed(self, item: Any) -> Comment:
        try:
            return parse_comment(self.site, item)
        except ValueError as exc:
            raise RetryableError(f"GET /comments: bad comment in page: {exc}") from exc

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent:
        signing.require(self._webhook_secret, body, headers, SIGNATURE_HEADER)
        data = signing.json_body(body)
        if not isinstance(data, dict) or data.get("event") not in EVENTS:
            raise WebhookRejected(400, f"'event' must be one of {sorted(EVENTS)}")
        item = data.get("comment")
        try:
            comment = parse_comment(self.site, item)
        except ValueError as exc:
            raise WebhookRejected(400, f"comment: {exc}") from None
        assert isinstance(item, dict)  # parse_comment checked it
        event_id = headers.get(EVENT_ID_HEADER)
        kind = EVENTS[data["event"]]
        if item.get("status") not in MODERATED or item.get("type", "comment") != "comment":
            return WebhookEvent(event_id=event_id, kind=kind, comments=())
        return WebhookEvent(event_id=event_id, kind=kind, comments=(comment,))

    # --- actions ----------------------------------------------------------------------------

    async def flag(self, request: ActionRequest) -> str:
        """Keep the status; record the flag and the reason for moderators."""
        current = await self._get(request.comment_id)
        await self._update(current, meta=self._meta("flag", request.reason))
        return f"flagged in meta; status {current['status']} kept"

    async def hide(self, request: ActionRequest) -> str:
        """Set hold, spam or trash (as configured); remember the status to restore."""
        target = hide_status(self._settings, request.reasons)
        current = await self._get(request.comment_id)
        status = current["status"]
        previous = current["meta"].get("modbot_previous_status") or status
        meta = self._meta("hide", request.reason, previous_status=previous)
        if STRENGTH.get(status, 0) >= STRENGTH[target]:
            await self._update(current, meta=meta)
            return f"already {status}; reason recorded"
        await self._update(current, status=target, meta=meta)
        return f"{status} -> {target}"

    # a moderator confirming a hide may send the comment further: review page and CLI offer these
    escalations = ("spam", "trash")

    async def escalate(self, request: ActionRequest) -> str:
        """Confirm-and-escalate: spam or trash the comment, keeping what restore needs."""
        if request.action not in self.escalations:
            raise PermanentError(f"WordPress cannot escalate to {request.action!r}")
        current = await self._get(request.comment_id)
        status = current["status"]
        previous = current["meta"].get("modbot_previous_status") or status
        meta = self._meta(request.action, request.reason, previous_status=previous)
        if status == request.action:
            await self._update(current, meta=meta)
            return f"already {status}"
        await self._update(current, status=request.action, meta=meta)
        return f"{status} -> {request.action}"

    async def restore(self, request: ActionRequest) -> str:
        """Back to the status the comment had before modbot hid it; mark it restored."""
        current = await self._get(request.comment_id)
        status = current["status"]
        previous = current["meta"].get("modbot_previous_status") or ""
        meta = self._meta("restored", request.reason, previous_status="")
        if not previous or previous == status:
            await self._update(current, meta=meta)
            return f"status {status} kept" + ("" if previous else " (modbot had not changed it)")
        if status in ("spam", "trash"):  # let WordPress undo its own spam/trash bookkeeping
            current = await self._update(
                current, status="unspam" if status == "spam" else "untrash"
            )
        await self._update(
            current, status=None if current["status"] == previous else previous, meta=meta
        )
        return f"{status} -> {previous}"

    def _meta(self, action: str, reason: str, previous_status: str | None = None) -> dict[str, str]:
        meta = {
            "modbot_action": action,
            "modbot_reason": reason[:MAX_REASON_CHARS],
            "modbot_updated_gmt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        if previous_status is not None:
            meta["modbot_previous_status"] = previous_status
        return meta

    async def _get(self, comment_id: str) -> dict[str, Any]:
        _check_id(comment_id)
        response = await self._call(
            "GET", f"/comments/{comment_id}", params={"context": "edit", "_fields": ACT_FIELDS}
        )
        return self._moderation_view(response.body, comment_id)

    async def _update(
        self, current: dict[str, Any], status: str | None = None, meta: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Change what differs. WordPress 6.1 overwrites a comment's author IP and user agent
        with the caller's on every update, so the comment's own are sent back with it."""
        comment_id = str(current["id"])
        payload: dict[str, Any] = {
            key: current[key]
            for key in PRESERVED
            if isinstance(current.get(key), str) and current[key]
        }
        if status is not None:
            payload["status"] = status
        if meta is not None:
            payload["meta"] = meta
        response = await self._call(
            "POST",
            f"/comments/{comment_id}",
            params={"context": "edit", "_fields": ACT_FIELDS},
            json=payload,
        )
        return self._moderation_view(response.body, comment_id)

    def _moderation_view(self, body: Any, comment_id: str) -> dict[str, Any]:
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("status"), str)
            or str(body.get("id")) != comment_id
        ):
            raise RetryableError(f"comment {comment_id}: the answer has no status")
        meta = body.get("meta")
        if not isinstance(meta, dict) or "modbot_action" not in meta:
            raise PermanentError(
                f"comment {comment_id}: no modbot meta in the answer: is the modbot "
                "mu-plugin active on the site?"
            )
        return body

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self._client.request(method, API + path, **kwargs)

    def _url(self, path: str) -> str:
        return self._settings.base_url.rstrip("/") + API + path


def hide_status(settings: WordPressPlatform, reasons: tuple[Reason, ...]) -> str:
    """The status a hide sets: the strongest (trash > spam > hold) that the configured
    rules and labels of the hide's own reasons ask for; else `hide_status`."""
    wanted = []
    for reason in reasons:
        if reason.shadow or reason.verdict < Verdict.HIDE:
            continue
        if reason.kind == "rule" and reason.name in settings.hide_status_by_rule:
            wanted.append(settings.hide_status_by_rule[reason.name])
        # a model reason is named after its label; rule reasons may carry their rule's labels
        labels = (reason.name,) if reason.kind == "model" else getattr(reason, "labels", ())
        wanted += [
            settings.hide_status_by_label[x] for x in labels if x in settings.hide_status_by_label
        ]
    return max(wanted, key=STRENGTH.__getitem__) if wanted else settings.hide_status


def parse_comment(site: str, item: Any) -> Comment:
    """A REST comment (context=edit) or the plugin's webhook comment; ValueError if bad."""
    comment_id = checked_id(item, ID_RE, "an integer", "is not a WordPress comment id")
    content = item.get("content")
    text = content.get("raw") if isinstance(content, dict) else None
    if not isinstance(text, str):
        raise ValueError("'content.raw' must be a string (is the request's context=edit?)")
    date = text_field(item.get("date_gmt"))
    return Comment(
        site=site,
        id=comment_id,
        text=storable(text),
        author=_author(item),
        thread_id=text_field(item.get("post")),
        parent_id=text_field(item.get("parent") or None),
        url=text_field(item.get("link")),
        created_at=date + "Z" if date and not date.endswith("Z") else date,
    )


def _author(item: dict[str, Any]) -> Author:
    author_id = item.get("author") or 0
    fields: dict[str, str] = {
        "id": str(author_id) if author_id else "",
        "name": text_field(item.get("author_name")),
        "role": author_role(item),
    }
    info = item.get("modbot_author")
    registered = info.get("registered_gmt") if isinstance(info, dict) else None
    if registered and "account_created_at" in AUTHOR_FIELDS:
        fields["account_created_at"] = text_field(registered)
    return Author(**fields)


def author_role(item: dict[str, Any]) -> str:
    """modbot's role words (admin, moderator, member, anonymous) from WordPress roles."""
    info = item.get("modbot_author")
    info = info if isinstance(info, dict) else {}
    roles = info.get("roles")
    if isinstance(roles, list) and "administrator" in roles:
        return "admin"
    if info.get("moderator") is True:
        return "moderator"
    return "member" if item.get("author") else "anonymous"


def _check_id(comment_id: str) -> None:
    if not ID_RE.match(comment_id):
        raise PermanentError(f"comment id {comment_id!r} is not a WordPress comment id")
