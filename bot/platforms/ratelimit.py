"""A client-side rate limiter that any adapter can share across all of its calls.

Discourse (and most admin APIs) count requests in a rolling window per API key and answer
429 past the limit. `RateLimiter` keeps a sliding-window log, the times of the last `limit`
requests, so a client never sends more than `limit` in any `window_s` span; a token bucket
would let a full bucket plus a window's refill through in the first window, up to twice the
limit. A 429 with Retry-After pauses the limiter, so every caller waits, not just the one
that was refused.

`RateLimitedClient` is a `JsonClient` whose every HTTP attempt, retries included, takes a
slot first; JsonClient itself still sleeps out Retry-After before retrying, and by then the
pause has passed, so the two waits do not add up.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

from bot.platforms.base import RetryableError
from bot.platforms.http import JsonClient, Response, Sleep

log = structlog.get_logger(__name__)

Clock = Callable[[], float]


class RateLimiter:
    """At most `limit` acquisitions in any rolling `window_s` (plus `slack_s`), FIFO.

    Args:
        limit: requests allowed per window.
        window_s: the window the server counts in (Discourse: 60 s).
        slack_s: added to the window so that send-time vs arrival-time jitter between client
            and server can never make the server count one request too many.
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
        self._sent: deque[float] = deque()
        self._paused_until = float("-inf")
        self._lock = asyncio.Lock()  # FIFO: the first caller to wait is the first to go
        self.waited_s = 0.0  # total time callers spent waiting here

    async def acquire(self) -> None:
        """Wait until one more request fits in the window, then count it as sent."""
        async with self._lock:
            while (delay := self.delay_s()) > 0:
                self.waited_s += delay
                log.debug("rate_limit_wait", delay_s=round(delay, 3), limit=self.limit)
                await self._sleep(delay)
            self._sent.append(self._clock())

    def delay_s(self) -> float:
        """How long the next request would have to wait now (0 when it may go at once)."""
        now = self._clock()
        span = self.window_s + self.slack_s
        while self._sent and self._sent[0] <= now - span:
            self._sent.popleft()
        wait = self._paused_until - now
        if len(self._sent) >= self.limit:
            wait = max(wait, self._sent[0] + span - now)
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
        await self.limiter.acquire()
        try:
            return await super()._once(method, path, **kwargs)
        except RetryableError as exc:
            if exc.retry_after_s is not None:  # only a 429 carries Retry-After
                self.limiter.pause(min(exc.retry_after_s, self.max_retry_after_s))
            raise
