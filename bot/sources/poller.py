"""Poll a platform for new comments; the cursor lives in the store, next to the queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from bot.config import PollSettings
from bot.platforms.base import Platform, PlatformError
from bot.platforms.http import Backoff
from bot.store import AsyncStore

log = structlog.get_logger(__name__)


class Poller:
    def __init__(
        self,
        platform: Platform,
        store: AsyncStore,
        settings: PollSettings,
        on_queued: Callable[[], None] = lambda: None,
    ) -> None:
        self.platform = platform
        self._store = store
        self._settings = settings
        self._on_queued = on_queued
        self._backoff = Backoff(base_s=1.0, max_s=settings.max_backoff_s)
        self.failures = 0

    async def poll_once(self) -> int:
        """Fetch one page and queue it with the new cursor in one transaction."""
        site = self.platform.site
        cursor = await self._store.run(self._store.sync.get_cursor, site)
        if cursor is None:
            cursor = await self._first_cursor(site)
        page = await self.platform.fetch_since(cursor, self._settings.batch_size)
        new_cursor = (site, "poll", page.cursor) if page.cursor is not None else None
        result = await self._store.run(
            self._store.sync.enqueue, page.comments + page.recheck, "poll", cursor=new_cursor
        )
        if result.queued:
            log.info("poll_queued", site=site, queued=result.queued, duplicates=result.duplicates)
            self._on_queued()
        return len(page.comments)

    async def _first_cursor(self, site: str) -> str | None:
        """Where the very first poll of a site starts. An adapter whose walk would otherwise
        begin at the site's oldest comment (WordPress) says where "now" is, so installing
        modbot on a busy site does not moderate years of old comments: that backlog is for
        `modbot scan --since DATE`. The cursor is stored before anything is fetched."""
        start = getattr(self.platform, "start_cursor", None)
        if start is None:
            return None
        cursor: str = await start()
        await self._store.run(self._store.sync.enqueue, (), "poll", cursor=(site, "poll", cursor))
        log.info(
            "poll_first_cursor",
            site=site,
            cursor=cursor,
            hint="comments posted before this are moderated by `modbot scan --since DATE`",
        )
        return cursor

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; back off with jitter on errors, reset on success."""
        while not stop.is_set():
            try:
                fetched = await self.poll_once()
            except Exception as exc:  # a failed poll is retried later, never fatal
                self.failures += 1
                delay = self._backoff.delay(self.failures)
                log_fn = log.warning if isinstance(exc, PlatformError) else log.exception
                log_fn(
                    "poll_failed",
                    site=self.platform.site,
                    error=str(exc),
                    failures=self.failures,
                    retry_in_s=round(delay, 2),
                )
            else:
                self.failures = 0
                full_page = fetched >= self._settings.batch_size
                delay = 0.0 if full_page else self._settings.interval_s
            await _sleep_until(stop, delay)


async def _sleep_until(stop: asyncio.Event, delay_s: float) -> None:
    if delay_s <= 0:
        await asyncio.sleep(0)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay_s)
