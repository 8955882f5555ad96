"""A JSON HTTP client that retries the way platform APIs need.

5xx answers and network errors are retried with exponential backoff and full jitter; a 429 is
retried after its Retry-After; any other 4xx is a PermanentError at once.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

from bot import __version__
from bot.platforms.base import PermanentError, RetryableError

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not (0 < self.base_s <= self.max_s) or self.factor < 1:
            raise ValueError("backoff needs 0 < base_s <= max_s and factor >= 1")

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [base/2, min(max, base*factor**attempt)]."""
        ceiling = min(self.max_s, self.base_s * self.factor ** min(attempt, 64))
        return random.uniform(min(self.base_s / 2, ceiling), ceiling)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: Any
    headers: Mapping[str, str]


class JsonClient:
    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
        max_retries: int = 5,
        max_retry_after_s: float = 300.0,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"User-Agent": f"modbot/{__version__}", **(headers or {})}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.max_retries = max_retries
        self.max_retry_after_s = max_retry_after_s
        self.backoff = backoff or Backoff()
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, **kwargs: Any) -> Response:
        """Send with retries; returns a 2xx Response or raises Retryable/PermanentError."""
        last: RetryableError | None = None
        for attempt in range(self.max_retries + 1):
            if last is not None:
                delay = self._delay(last, attempt - 1)
                log.warning(
                    "platform_retry",
                    path=path,
                    attempt=attempt,
                    delay_s=round(delay, 2),
                    error=str(last),
                )
                await self._sleep(delay)
            try:
                return await self._once(method, path, **kwargs)
            except RetryableError as exc:
                last = exc
        assert last is not None
        raise last

    def _delay(self, error: RetryableError, attempt: int) -> float:
        if error.retry_after_s is not None:  # 0 means: at once
            return min(error.retry_after_s, self.max_retry_after_s)
        return self.backoff.delay(attempt)

    async def _once(self, method: str, path: str, **kwargs: Any) -> Response:
        await self.start()
        assert self._session is not None
        url = f"{self.base_url}{path}"
        try:
            async with self._session.request(method, url, **kwargs) as resp:
                text = await resp.text()
                return _classify(resp.status, text, resp.headers, f"{method} {path}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RetryableError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc


def _classify(status: int, text: str, headers: Mapping[str, str], what: str) -> Response:
    if 200 <= status < 300:
        return Response(status, _json_or_text(text), dict(headers))
    snippet = text[:300].replace("\n", " ")
    if status == 429:
        wait = parse_retry_after(headers.get("Retry-After"))
        raise RetryableError(f"{what}: 429 rate limited", retry_after_s=wait)
    if status >= 500 or status == 408:
        raise RetryableError(f"{what}: {status} {snippet}")
    raise PermanentError(f"{what}: {status} {snippet}", status=status)


def _json_or_text(text: str) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def client_for(settings: Any, headers: Mapping[str, str]) -> JsonClient:
    """The JsonClient a platform's settings ask for (base_url, timeout and retry limits)."""
    return JsonClient(
        settings.base_url,
        headers=headers,
        timeout_s=settings.timeout_s,
        max_retries=settings.max_retries,
        max_retry_after_s=settings.max_retry_after_s,
    )
