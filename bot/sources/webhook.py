"""The webhook receiver: verify, parse, queue durably, then answer."""

from __future__ import annotations

from collections.abc import Callable

import structlog
from aiohttp import web

from bot.pipeline import Pipeline
from bot.platforms.base import Platform, WebhookRejected
from bot.store import AsyncStore

log = structlog.get_logger(__name__)

PLATFORMS_KEY = web.AppKey("platforms", dict[str, Platform])
STORE_KEY = web.AppKey("store", AsyncStore)
ON_QUEUED_KEY: web.AppKey[Callable[[], None]] = web.AppKey("on_queued")
# For handlers that decide synchronously (Coral's moderation phase), as the worker would.
PIPELINE_KEY = web.AppKey("pipeline", Pipeline)


async def receive(request: web.Request) -> web.Response:
    """POST /webhooks/{site}: 202 once durably queued, 200 for a duplicate, 4xx on bad input."""
    site = request.match_info["site"]
    platform = request.app[PLATFORMS_KEY].get(site)
    if platform is None:
        log.warning("webhook_rejected", site=site, status=404, why="unknown site")
        return _error(404, f"no site named {site!r}")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        log.warning(
            "webhook_rejected",
            site=site,
            status=413,
            why="body too large",
            content_length=request.content_length,
        )
        raise
    try:
        event = platform.parse_webhook(request.headers, body)
    except WebhookRejected as exc:
        log.warning(
            "webhook_rejected",
            site=site,
            status=exc.status,
            why=str(exc),
            bytes=len(body),
            remote=request.remote,
        )
        return _error(exc.status, str(exc))
    if not event.comments:
        return web.json_response({"status": "ignored", "event": event.kind})
    store = request.app[STORE_KEY]
    result = await store.run(store.sync.enqueue, event.comments, "webhook", event_id=event.event_id)
    if result.queued == 0:
        log.info("webhook_duplicate", site=site, event_id=event.event_id)
        return web.json_response({"status": "duplicate"}, status=200)
    request.app[ON_QUEUED_KEY]()
    log.info(
        "webhook_queued",
        site=site,
        event_id=event.event_id,
        kind=event.kind,
        comment_ids=[c.id for c in event.comments],
    )
    return web.json_response({"status": "queued"}, status=202)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/{site}", receive)
