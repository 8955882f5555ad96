"""A client-side rate limiter that any adapter can share across all of its calls.

Discourse (and most admin APIs) count requests in a rolling window per API key and answer
429 past the limit. `RateLimiter` keeps a sliding-window log of the last `limit` requests,
so a client never sends more than `limit` in any `window_s` span; a token bucket would let a
full bucket plus a window's refill through in the first window, up to twice the limit.

Each request is logged at the moment its response came back, and counts as in the window
for as long as it is in flight. The server counts a request when it arrives, which lies
between those two moments; so however long a request spends in transit or queued in a busy
event loop, the server never sees more than `limit` in its window. (Logging at the moment of
sending, a request delayed on its way could arrive next to the ones after it.) A 429 with
Retry-After pauses the limiter, so every caller waits, not just the one that was refused.

`RateLimitedClient` is a `JsonClient` whose every HTTP attempt, retries included, holds a
slot while it runs; JsonClient itself still sleeps out Retry-After before retrying, and by
then the pause has passed, so the two waits do not add up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import structlog

from bot.platforms.base import RetryableError
from bot.platforms.http import JsonClient, Response, Sleep

log = structlog.get_logger(__name__)

Clock = Callable[[], float]


class RateLimiter:
    """At most `limit` requests in any rolling `window_s` (plus `slack_s`), FIFO.

    Args:
        limit: requests allowed per window.
        window_s: the window the server counts in (Discourse: 60 s).
        slack_s: added to the window, a margin for the server's own rounding of time.
        clock: monotonic seconds; tests pass a fake one together with a fake `sleep`.
        sleep: awaited to wait; must advance `clock`.
    """

    def __init__(
        self,
        limit: int,
        window_s: float = 60.0,
        *,
        slack_s: float = 0.5,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if limit < 1 or window_s <= 0 or slack_s < 0:
            raise ValueError("a rate limiter needs limit >= 1, window_s > 0 and slack_s >= 0")
        self.limit = limit
        self.window_s = window_s
        self.slack_s = slack_s
        self._clock = clock
        self._sleep = sleep
        self._done: deque[float] = deque()  # when each request in the window finished
        self._in_flight = 0
        self._finished = asyncio.Event()  # set when a request finishes
        self._paused_until = float("-inf")
        self._lock = asyncio.Lock()  # FIFO: the first caller to wait is the first to go
        self.waited_s = 0.0  # total time callers spent waiting here

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for one request: wait until it fits in the window, send it in the
        body; it is logged when the body ends, however it ends."""
        async with self._lock:
            while (delay := self.delay_s()) > 0 or self._in_flight >= self.limit:
                if delay > 0:
                    self.waited_s += delay
                    log.debug("rate_limit_wait", delay_s=round(delay, 3), limit=self.limit)
                    await self._sleep(delay)
                else:  # every slot is taken by a request still running: wait for one
                    self._finished.clear()
                    await self._finished.wait()
            self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1
            self._done.append(self._clock())
            self._finished.set()

    async def acquire(self) -> None:
        """Count one request sent and finished now, once it fits in the window."""
        async with self.slot():
            pass

    def delay_s(self) -> float:
        """How long the next request would have to wait for the window now (0 when it may go
        at once, or when only requests in flight hold it up)."""
        now = self._clock()
        span = self.window_s + self.slack_s
        while self._done and self._done[0] <= now - span:
            self._done.popleft()
        wait = self._paused_until - now
        # the window frees up as finished requests age out; in-flight ones stay in it
        over = len(self._done) + self._in_flight - self.limit
        if 0 <= over < len(self._done):
            wait = max(wait, self._done[over] + span - now)
        return max(wait, 0.0)

    def pause(self, delay_s: float) -> None:
        """Hold every caller for `delay_s` (the server answered 429 with Retry-After)."""
        self._paused_until = max(self._paused_until, self._clock() + delay_s)


class RateLimitedClient(JsonClient):
    """A JsonClient whose every attempt goes through `limiter`; 429s pause the limiter."""

    def __init__(self, base_url: str, *, limiter: RateLimiter, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.limiter = limiter

    async def _once(self, method: str, path: str, **kwargs: Any) -> Response:
        async with self.limiter.slot():
            try:
                return await super()._once(method, path, **kwargs)
            except RetryableError as exc:
                if exc.retry_after_s is not None:  # only a 429 carries Retry-After
                    self.limiter.pause(min(exc.retry_after_s, self.max_retry_after_s))
                raise
