"""`modbot run` as a real process, killed with SIGKILL at random points and restarted:
no acknowledged comment is lost and none is acted on twice. Also: no secret in any log."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sqlite3
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import yaml
from conftest import RULES, TinyModel
from e2e_corpus import expected_verdict, make_corpus, split_thresholds

from bot.config import ModelSettings
from bot.demo.forum import DemoForum
from bot.scoring.model import load_model

pytestmark = pytest.mark.slow
N = 200
KILLS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def decided(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # schema not created yet


def write_config(tmp: Path, forum: DemoForum, tiny: TinyModel, port: int, thresholds: dict) -> Path:
    config = {
        "store": {"path": str(tmp / "modbot.db")},
        "logging": {"format": "json", "level": "debug"},
        "server": {"host": "127.0.0.1", "port": port},
        "model": {
            "checkpoint": str(tiny.checkpoint),
            "hf_config": str(tiny.hf_config),
            "batch_size": 8,
            "batch_wait_ms": 5,
        },
        "rules": {"paths": [str(RULES)]},
        "policy": {"thresholds": thresholds},
        "workers": {"concurrency": 8, "retry_max_delay_s": 1, "lease_s": 30},
        "sites": [
            {
                "name": "demo",
                "platform": {
                    "type": "generic",
                    "base_url": forum.base_url,
                    "api_token_env": "CRASH_TOKEN",
                },
                "webhook": {"enabled": True, "secret_env": "CRASH_HOOK_SECRET"},
                "poll": {"enabled": True, "interval_s": 0.3, "max_backoff_s": 1},
            }
        ],
    }
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


async def start(config: Path, log: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "-c", str(config), stdout=out, stderr=out, env=env
        )


async def wait_healthy(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("modbot did not become healthy")


async def feed(forum: DemoForum, corpus: list, pace_s: float) -> None:
    for i, case in enumerate(corpus):
        await forum.add_comment(case.text, author=f"user{i % 13}", deliver_webhook=i % 2 == 0)
        await asyncio.sleep(pace_s)


async def test_sigkill_at_random_points_loses_nothing_and_acts_once(
    forum: DemoForum, tiny_model: TinyModel, tmp_path: Path
) -> None:
    """Killed 4 times mid-run and restarted: all 200 decided, each condemned one acted on once."""
    loaded = load_model(
        ModelSettings(checkpoint=tiny_model.checkpoint, hf_config=tiny_model.hf_config)
    )
    corpus = make_corpus(N, seed=11)
    scores = [loaded.detox.predict(c.text)["toxicity"] for c in corpus]
    flag_at, hide_at = split_thresholds(scores)
    port = free_port()
    forum.webhook_url = f"http://127.0.0.1:{port}/webhooks/demo"
    config = write_config(
        tmp_path, forum, tiny_model, port, {"toxicity": {"flag": flag_at, "hide": hide_at}}
    )
    token, hook_secret = forum._token, str(forum.webhook_secret)
    env = {
        **os.environ,
        "CRASH_TOKEN": token,
        "CRASH_HOOK_SECRET": hook_secret,
        "HF_HUB_OFFLINE": "1",
    }
    log = tmp_path / "modbot.log"
    db = tmp_path / "modbot.db"
    rng = random.Random()
    feeder = asyncio.create_task(feed(forum, corpus, pace_s=0.08))
    for _ in range(KILLS):
        proc = await start(config, log, env)
        await asyncio.sleep(rng.uniform(2.5, 5.0))  # startup takes ~2-3 s: some kills land early
        proc.send_signal(signal.SIGKILL)
        assert await proc.wait() == -signal.SIGKILL
    proc = await start(config, log, env)
    await wait_healthy(port)
    await feeder
    deadline = time.monotonic() + 90
    while decided(db) < N and time.monotonic() < deadline:  # noqa: ASYNC110 (another process)
        await asyncio.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0  # graceful stop on SIGTERM

    with sqlite3.connect(db) as conn:
        rows = {r[0]: r[1] for r in conn.execute("SELECT comment_id, verdict FROM decisions")}
        dead = conn.execute("SELECT COUNT(*) FROM intake WHERE state != 'done'").fetchone()[0]
    assert len(rows) == N, f"{N - len(rows)} comments lost"
    assert dead == 0
    for i, case in enumerate(corpus):
        want = expected_verdict(case, scores[i], flag_at, hide_at)
        applied = [a.action for a in forum.applied_for(str(i + 1))]
        assert rows[str(i + 1)] == want
        assert applied == ([] if want == "none" else [want]), (i + 1, applied)
    text = log.read_text()
    assert text.count("service_started") >= 1
    for secret in (token, hook_secret):
        assert secret not in text, "a secret reached the log"
