"""Benchmark the review queue on a log of 100,000 realistic decisions.

    python bench/review.py [--rows 100000] [--keep DIR]

Fills a fresh store (rules and the real policy decide each synthetic comment; ~30% are
flagged, hidden or shadow hits), gives moderators' verdicts to a share of the queue, then
times the queue's first page and every filter, as a query and as a whole HTTP request of
the review page (render included). The acceptance bar is 200 ms for each.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from bot.review import queries  # noqa: E402
from bot.review.testing import (  # noqa: E402
    FAST_HASHER,
    Browserless,
    add_moderator,
    bulk_insert,
    review_settings,
    sample_rules,
    synthetic_records,
)
from bot.review.web import build_review_app  # noqa: E402
from bot.store import AsyncStore, Store  # noqa: E402

LIMIT_MS = 200.0
FILTERS: list[tuple[str, dict[str, str]]] = [
    ("first page (pending)", {}),
    ("state=all", {"state": "all"}),
    ("state=confirmed", {"state": "confirmed"}),
    ("state=restored", {"state": "restored"}),
    ("state=dismissed", {"state": "dismissed"}),
    ("site=forum", {"site": "forum"}),
    ("site=news-archive (10%)", {"site": "news-archive", "state": "all"}),
    ("rule=insult.direct", {"rule": "insult.direct", "state": "all"}),
    ("rule=threat.violence", {"rule": "threat.violence"}),
    ("rule=insult.clown (shadow)", {"rule": "insult.clown", "state": "all"}),
    ("rule=no.such.rule (empty)", {"rule": "no.such.rule", "state": "all"}),
    ("label=threat", {"label": "threat", "state": "all"}),
    ("kind=shadow", {"kind": "shadow", "state": "all"}),
    ("score 0.9..1 (top label)", {"min_score": "0.9", "state": "all"}),
    (
        "label=toxicity score 0.8..0.85",
        {"label": "toxicity", "min_score": "0.8", "max_score": "0.85"},
    ),
    ("one day", {"since": "DAY", "until": "DAY", "state": "all"}),
    (
        "combined: site+rule+restored+dates",
        {
            "site": "news",
            "rule": "insult.direct",
            "state": "restored",
            "since": "DAY0",
            "until": "DAY",
        },
    ),
]


def fill(path: Path, rows: int, rules_dir: Path) -> None:
    rules = sample_rules(rules_dir)
    started = time.perf_counter()
    bulk_insert(path, synthetic_records(rows, rules))
    store = Store(path)
    ids = [r[0] for r in store.query("SELECT decision_id FROM review_queue")]
    rng = random.Random(3)
    reviewed = rng.sample(ids, k=len(ids) * 2 // 5)
    store.query("BEGIN")
    for decision_id in reviewed:
        verdict = rng.choices(["confirm", "restore", "dismiss"], weights=[6, 3, 1])[0]
        store.query(
            "INSERT INTO verdicts(site, comment_id, version, decision_id, verdict, moderator, "
            "created_at) SELECT site, comment_id, version, id, ?, ?, ? FROM decisions WHERE id = ?",
            (verdict, rng.choice(["alice", "bob", "carol"]), time.time(), decision_id),
        )
    store.query("COMMIT")
    add_moderator(store, "alice")
    counts = store.query("SELECT COUNT(*) FROM decisions")[0][0]
    queue = queries.state_counts(store)
    store.close()
    print(f"filled {counts} decisions in {time.perf_counter() - started:.1f}s; queue: {queue}")


def timed(fn: Callable[[], Any], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def resolve(params: dict[str, str], day: str, day0: str) -> dict[str, str]:
    return {k: v.replace("DAY0", day0).replace("DAY", day) for k, v in params.items()}


async def http_timings(
    store: AsyncStore, cases: list[tuple[str, dict[str, str]]]
) -> dict[str, float]:
    app = build_review_app(store, {}, review_settings(), FAST_HASHER)
    out = {}
    async with TestClient(TestServer(app)) as client:
        review = Browserless(client)
        await review.login()
        for name, params in cases:
            query = "&".join(f"{k}={v}" for k, v in params.items())
            samples = []
            for _ in range(5):
                started = time.perf_counter()
                response = await client.get(f"/queue?{query}")
                await response.read()
                assert response.status == 200, (name, response.status)
                samples.append((time.perf_counter() - started) * 1000)
            out[name] = statistics.median(samples)
        started = time.perf_counter()
        await (await client.get("/stats")).read()
        out["stats page (30 days)"] = (time.perf_counter() - started) * 1000
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="build the store here and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="modbot-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "review-bench.db"
    if not path.exists():
        fill(path, args.rows, folder / "rules")
    store = Store(path)
    newest = store.query("SELECT MAX(decided_at), MIN(decided_at) FROM decisions")[0]
    day = time.strftime("%Y-%m-%d", time.gmtime(newest[0] - 86_400 * 10))
    day0 = time.strftime("%Y-%m-%d", time.gmtime(newest[1] + 86_400 * 5))
    cases = [(name, resolve(params, day, day0)) for name, params in FILTERS]
    deep = queries.queue_page(store, queries.QueueFilter(state=None), None, 25)
    cursor = deep.next
    for _ in range(400):  # a cursor 10,000 entries deep
        page = queries.queue_page(store, queries.QueueFilter(state=None), cursor, 25)
        cursor = page.next or cursor
    assert cursor is not None
    cases.append(("page 401 (10,000 entries deep)", {"state": "all", "after": cursor.encode()}))
    print(f"\n{'query':<40} {'rows':>5} {'query ms':>9} {'HTTP ms':>9}")
    results = {}
    for name, params in cases:
        flt = queries.QueueFilter.from_query(params)
        after = queries.Cursor.decode(params["after"]) if "after" in params else None
        found = len(queries.queue_page(store, flt, after, 25).rows)
        results[name] = (found, timed(lambda f=flt, a=after: queries.queue_page(store, f, a, 25)))
    astore = AsyncStore(store)
    http = asyncio.run(http_timings(astore, cases))
    worst = 0.0
    for name, (found, query_ms) in results.items():
        worst = max(worst, query_ms, http[name])
        print(f"{name:<40} {found:>5} {query_ms:>9.1f} {http[name]:>9.1f}")
    print(f"{'stats page (30 days)':<40} {'':>5} {'':>9} {http['stats page (30 days)']:>9.1f}")
    asyncio.run(astore.close())
    verdict = "OK" if worst < LIMIT_MS else "OVER"
    print(f"\nslowest queue answer: {worst:.1f} ms ({verdict}: limit {LIMIT_MS:.0f} ms)")
    return 0 if worst < LIMIT_MS else 1


if __name__ == "__main__":
    sys.exit(main())
