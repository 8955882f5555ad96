"""Drain the durable intake: claim queued comments and run each through the pipeline.

At-least-once: a comment leaves the queue only in the transaction that records its
decision. A failure on one comment is logged once and retried later with backoff; it never
stops the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import structlog

from bot.config import WorkerSettings
from bot.pipeline import Pipeline
from bot.platforms.base import RetryableError
from bot.platforms.http import Backoff
from bot.store import AsyncStore, IntakeItem

log = structlog.get_logger(__name__)

IDLE_CHECK_S = 1.0  # also picks up items whose retry delay has passed


class Worker:
    def __init__(self, pipeline: Pipeline, store: AsyncStore, settings: WorkerSettings) -> None:
        self._pipeline = pipeline
        self._store = store
        self._settings = settings
        self._owner = uuid.uuid4().hex
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._backoff = Backoff(base_s=1.0, max_s=settings.retry_max_delay_s)
        self.processed = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            free = self._settings.concurrency - len(self._tasks)
            self._wake.clear()  # before claiming, so a wake during the claim is not lost
            items = []
            if free > 0:
                items = await self._store.run(
                    self._store.sync.claim, self._owner, free, self._settings.lease_s
                )
            for item in items:
                await self._slots.acquire()
                task = asyncio.create_task(self._handle(item))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if not items or free <= len(items):
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self._wake.wait()),
            asyncio.ensure_future(stop.wait()),
        ]
        if self._tasks:  # a finished comment frees a slot
            waiters.append(
                asyncio.ensure_future(asyncio.wait(set(self._tasks), return_when="FIRST_COMPLETED"))
            )
        _, pending = await asyncio.wait(
            waiters, timeout=IDLE_CHECK_S, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()

    async def _handle(self, item: IntakeItem) -> None:
        try:
            await self._pipeline.process(item)
            self.processed += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one bad comment must never stop the loop
            await self._retry(item, exc)
        finally:
            self._slots.release()

    async def _retry(self, item: IntakeItem, exc: Exception) -> None:
        delay = (
            exc.retry_after_s
            if isinstance(exc, RetryableError) and exc.retry_after_s is not None
            else self._backoff.delay(item.attempts)
        )
        state = await self._store.run(
            self._store.sync.retry_later,
            item.id,
            f"{type(exc).__name__}: {exc}",
            delay,
            self._settings.max_attempts,
        )
        event = "comment_retry_scheduled" if state == "pending" else "comment_gave_up"
        log_fn = log.warning if isinstance(exc, RetryableError) else log.exception
        log_fn(
            event,
            comment_id=item.comment.id,
            site=item.comment.site,
            attempts=item.attempts + 1,
            retry_in_s=round(delay, 1),
            error=str(exc),
        )

    async def drain(self, deadline_s: float) -> None:
        """Give in-flight comments until the deadline, then cancel them (they stay queued)."""
        if not self._tasks:
            return
        end = time.monotonic() + deadline_s
        _, pending = await asyncio.wait(set(self._tasks), timeout=max(0.0, end - time.monotonic()))
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
