"""Throughput and latency of the whole pipeline, against the in-process demo forum.

    python bench/pipeline.py [--comments 2000] [--checkpoint F --hf-config D]

Runs the real service (webhook intake, durable queue, rules, optional model, policy,
platform calls, log) and prints comments per second and the p50/p99 latency from arrival
(webhook accepted) to decision (logged). Without --checkpoint it also builds the tests'
tiny model to measure the model path with no download.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_service  # noqa: E402
from bot.config import Secret, Secrets, Settings  # noqa: E402
from bot.demo.forum import DemoForum  # noqa: E402
from bot.demo.thread import load_thread  # noqa: E402

SECRET = "bench-secret"  # noqa: S105 (a local benchmark)


def comments(n: int) -> list[str]:
    """Realistic text: the demo thread's comments, shuffled, numbered to be distinct."""
    pool = [c.text for c in load_thread().comments]
    rng = random.Random(1)
    return [f"{rng.choice(pool)} ({i})" for i in range(n)]


def settings(db: Path, forum: DemoForum, model: dict) -> Settings:
    return Settings.model_validate(
        {
            "store": {"path": str(db)},
            "logging": {"level": "warning"},
            "server": {"port": 0},
            "model": model,
            "rules": {"paths": [str(ROOT / "rules")]},
            "workers": {"concurrency": 32},
            "sites": [
                {
                    "name": "bench",
                    "platform": {
                        "type": "generic",
                        "base_url": forum.base_url,
                        "api_token_env": "X",
                    },
                    "webhook": {"enabled": True, "secret_env": "X"},
                    "poll": {"enabled": False},
                }
            ],
        }
    )


async def run(label: str, texts: list[str], model: dict, rate: float | None = None) -> float:
    """Post every text by webhook (at `rate` per second, or as fast as possible)."""
    with tempfile.TemporaryDirectory() as tmp:
        async with DemoForum(SECRET, webhook_secret=SECRET) as forum:
            secrets = Secrets()
            secrets.api_tokens["bench"] = Secret(SECRET, "bench")
            secrets.webhook_secrets["bench"] = Secret(SECRET, "bench")
            async with build_service(settings(Path(tmp) / "b.db", forum, model), secrets) as svc:
                forum.webhook_url = f"http://127.0.0.1:{svc.port}/webhooks/bench"
                task = asyncio.create_task(svc.run())
                started = time.perf_counter()
                for i, text in enumerate(texts):
                    await forum.add_comment(text)
                    if rate:
                        await asyncio.sleep(
                            max(0.0, started + (i + 1) / rate - time.perf_counter())
                        )
                while svc.store.sync.query("SELECT COUNT(*) FROM decisions")[0][0] < len(texts):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
                elapsed = time.perf_counter() - started
                rows = svc.store.sync.query("SELECT decided_at - received_at FROM decisions")
                svc.stop.set()
                await task
    latencies = sorted(r[0] * 1000 for r in rows)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    mode = f"paced at {rate:.0f}/s" if rate else "saturated"
    print(
        f"{label:<26} {mode:<16} {len(texts) / elapsed:8.1f} comments/s   "
        f"p50 {statistics.median(latencies):7.1f} ms   p99 {p99:7.1f} ms   (n={len(texts)})"
    )
    return len(texts) / elapsed


def both(label: str, texts: list[str], model: dict) -> None:
    """Saturated throughput, then latency at half that rate (no queueing delay)."""
    throughput = asyncio.run(run(label, texts, model))
    asyncio.run(run(label, texts[:300], model, rate=throughput / 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=2000)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--hf-config", type=Path)
    args = parser.parse_args()
    texts = comments(args.comments)
    print("webhook -> queue -> rules/model -> policy -> platform call -> log, one process")
    both("rules only", texts, {"enabled": False})
    if args.checkpoint:
        model = {"checkpoint": str(args.checkpoint), "hf_config": str(args.hf_config)}
        both(f"rules + {args.checkpoint.name}", texts, model)
    else:
        sys.path.insert(0, str(ROOT / "tests"))
        from tinymodel import build_tiny_checkpoint

        with tempfile.TemporaryDirectory() as tmp:
            ckpt, hf = build_tiny_checkpoint(Path(tmp))
            model = {"checkpoint": str(ckpt), "hf_config": str(hf)}
            both("rules + tiny test model", texts, model)


if __name__ == "__main__":
    main()
