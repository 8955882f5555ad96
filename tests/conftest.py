"""Shared fixtures: the demo forum as the fake platform, the tiny model, a service factory."""

from __future__ import annotations

import ast
import asyncio
import os
import random
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import structlog
from conftest_model import TinyModel, tiny_model_fixture  # noqa: F401 (fixture)

from bot.app import Service, build_service
from bot.config import Secret, Secrets, Settings
from bot.demo.forum import DemoForum

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
MINILM = SHARED / "models" / "minilm-tox"
# The rule files the service tests run with (override to try a candidate rule set).
RULES = Path(os.environ.get("MODBOT_TEST_RULES", ROOT / "rules"))

# No test may reach the network: model code must fail fast instead of trying hubs.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def unavailable(tests: str, why: str) -> None:
    """Skip when something the tests need is missing here; fail under CI, whose setup
    (.ci/run) installs it, so a missing piece there is a broken setup, not a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{tests} cannot run in CI: {why}")
    pytest.skip(why)


def compiled_modules() -> list[str]:
    """The modules setup.py compiles with MODBOT_COMPILE=1 (its COMPILED), as paths."""
    tree = ast.parse((ROOT / "setup.py").read_text(encoding="utf-8"))
    [value] = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "COMPILED" for t in node.targets)
    ]
    return list(ast.literal_eval(value))


@pytest.fixture(autouse=True)
def _reset_structlog() -> None:
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture(name="forum")
async def _forum() -> AsyncIterator[DemoForum]:
    """A running demo forum speaking the generic contract, with a webhook secret."""
    async with DemoForum(
        secrets.token_urlsafe(12), webhook_secret=secrets.token_urlsafe(12)
    ) as forum:
        yield forum


def site_config(forum: DemoForum, name: str = "demo", **overrides: Any) -> dict[str, Any]:
    site: dict[str, Any] = {
        "name": name,
        "platform": {
            "type": "generic",
            "base_url": forum.base_url,
            "api_token_env": "MODBOT_TEST_TOKEN",
            "max_retry_after_s": 5,
        },
        "webhook": {"enabled": True, "secret_env": "MODBOT_TEST_WEBHOOK_SECRET"},
        "poll": {"enabled": True, "interval_s": 0.2, "max_backoff_s": 1},
    }
    for key, value in overrides.items():
        site[key] = {**site[key], **value}
    return site


def forum_secrets(forum: DemoForum, name: str = "demo") -> Secrets:
    out = Secrets()
    out.api_tokens[name] = Secret(forum._token, "test")
    out.webhook_secrets[name] = Secret(str(forum.webhook_secret), "test")
    return out


def model_config(tiny: TinyModel | None, **extra: Any) -> dict[str, Any]:
    if tiny is None:
        return {"enabled": False}
    return {
        "checkpoint": str(tiny.checkpoint),
        "hf_config": str(tiny.hf_config),
        "batch_size": 8,
        "batch_wait_ms": 5,
        **extra,
    }


MakeService = Callable[..., Awaitable[Service]]


def service_settings(
    forum: DemoForum,
    db: Path,
    tiny: TinyModel | None = None,
    *,
    policy: dict[str, Any] | None = None,
    site: dict[str, Any] | None = None,
) -> Settings:
    """Settings for a service moderating the demo forum, with a fresh store at `db`."""
    return Settings.model_validate(
        {
            "store": {"path": str(db)},
            "server": {"host": "127.0.0.1", "port": 0},
            "model": model_config(tiny),
            "rules": {"paths": [str(RULES)]},
            "policy": policy or {},
            "workers": {"concurrency": 8, "retry_max_delay_s": 2},
            "sites": [site or site_config(forum)],
        }
    )


@pytest.fixture(name="make_service")
async def _make_service(tmp_path: Path) -> AsyncIterator[MakeService]:
    """Factory: build and start a real service against a forum; stopped at teardown."""
    async with AsyncExitStack() as stack:
        runs: list[Any] = []

        async def make(
            forum: DemoForum,
            tiny: TinyModel | None = None,
            *,
            policy: dict[str, Any] | None = None,
            site: dict[str, Any] | None = None,
            db: Path | None = None,
        ) -> Service:
            import asyncio

            db = db or tmp_path / f"modbot-{random.random():.6f}.db"
            settings = service_settings(forum, db, tiny, policy=policy, site=site)
            service = await stack.enter_async_context(build_service(settings, forum_secrets(forum)))
            forum.webhook_url = f"http://127.0.0.1:{service.port}/webhooks/demo"
            task = asyncio.create_task(service.run())
            runs.append((service, task))

            async def stop() -> None:
                service.stop.set()
                await task

            stack.push_async_callback(stop)
            return service

        yield make


async def wait_for(predicate: Callable[[], Any], timeout_s: float = 60.0) -> None:
    """Poll `predicate` until it holds; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


async def wait_decided(service: Service, comment_id: object, verdict: str) -> sqlite3.Row:
    """Wait until the comment's latest decision is recorded with this verdict.

    The service records a decision only after its action lands, so the forum's state
    changes first: a test that reads the log must wait for the log, not for the forum.
    """
    store = service.store.sync

    def latest() -> sqlite3.Row | None:
        return store.latest_decision("demo", str(comment_id))

    await wait_for(lambda: (row := latest()) is not None and row["verdict"] == verdict)
    row = latest()
    assert row is not None
    return row
