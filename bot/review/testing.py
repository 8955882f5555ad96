"""Realistic logged decisions for tests and the benchmark: real rules, the real policy,
records written through the same row mapping as the pipeline's."""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from bot.config import ReviewSettings
from bot.models import (
    ActionResult,
    ActionStatus,
    Author,
    Comment,
    ModelScore,
    Record,
    Score,
    Threshold,
    Verdict,
)
from bot.normalize import normalize
from bot.policy import Policy, decide
from bot.review.auth import Auth
from bot.scoring.rules import RuleSet, load_rules
from bot.store import Store, record_row

THRESHOLDS = {
    "toxicity": Threshold(flag=0.8, hide=0.97),
    "insult": Threshold(flag=0.6),
    "threat": Threshold(flag=0.6, hide=0.95),
    "identity_attack": Threshold(flag=0.6, hide=0.95),
}
CLEAN = [
    "I think the council got this one right, honestly.",
    "Does anyone have the link to the full report?",
    "Thanks for writing this up, very clear.",
    "The bus schedule changed again, has anyone noticed?",
    "I disagree, but I see where you are coming from.",
    "That argument is idiotic, but the data in paragraph two is good.",
]
NASTY = [
    "Shut up, idiot. Nobody asked you.",
    "You are a moron and everyone knows it",
    "go home wetback",
    "I know where you live.",
    "Immigrants are vermin and you know it",
    "what a retard, seriously",
    "Typical clown take, you idiot, read the article",
    "you pathetic loser, go away",
    "What a bunch of clowns, all of them.",
]


RULES_YAML = """\
rules:
  - id: insult.direct
    reason: Personal insult aimed at another participant
    action: flag
    labels: [insult]
    terms: [you idiot, you moron, shut up idiot, "shut up, idiot", you are a moron,
            you pathetic loser, what a retard]
  - id: slur.race
    reason: Slur aimed at an ethnic or racial group
    action: hide
    labels: [identity_attack]
    terms: [wetback, wetbacks]
  - id: threat.violence
    reason: Threat of violence
    action: hide
    labels: [threat]
    terms: [i know where you live, i will kill you]
  - id: dehumanizing.predicate
    reason: Dehumanizing language about a group
    action: flag
    labels: [identity_attack]
    terms: [are vermin, are parasites]
  - id: insult.clown
    reason: Calling someone a clown (trial)
    action: flag
    shadow: true
    labels: [insult]
    terms: [clown, clowns]
"""


def write_rules(folder: Path, text: str = RULES_YAML, name: str = "rules.yaml") -> Path:
    """A rule folder for tests and the benchmark (independent of the shipped rules/)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def sample_rules(folder: Path) -> RuleSet:
    return load_rules([write_rules(folder)])


def make_record(
    text: str,
    comment_id: str,
    *,
    rules: RuleSet,
    site: str = "demo",
    scores: Mapping[str, float] | None = None,
    thresholds: Mapping[str, Threshold] | None = None,
    decided_at: float | None = None,
    author: str = "guest",
    url: str | None = None,
    dry_run: bool = False,
    status: ActionStatus | None = None,
) -> Record:
    """One record as the pipeline would log it (the platform call's outcome is given)."""
    comment = Comment(
        site=site,
        id=comment_id,
        text=text,
        author=Author(id=f"u-{author}", name=author, role="member"),
        thread_id="t-1",
        url=f"https://forum.example/t/1#c{comment_id}" if url is None else url,
        created_at="2026-01-01T00:00:00Z",
    )
    hits = rules.match(comment, normalize(comment))
    model = ModelScore("detoxify:test", dict(scores)) if scores is not None else None
    score = Score(hits=hits, model=model, rules_version=rules.version)
    policy = Policy(thresholds=dict(THRESHOLDS if thresholds is None else thresholds))
    decision = decide(score, policy)
    if dry_run:
        decision = type(decision)(**{**_fields(decision), "dry_run": True})
    verdict = decision.verdict
    if status is None:
        if verdict is Verdict.NONE:
            status = ActionStatus.NOT_NEEDED
        else:
            status = ActionStatus.DRY_RUN if dry_run else ActionStatus.DONE
    result = ActionResult(verdict, status, f"key-{site}-{comment_id}", 1, "200")
    at = time.time() if decided_at is None else decided_at
    return Record(comment, score, decision, result, at - 0.5, at, "webhook")


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def random_scores(rng: random.Random, nasty: bool) -> dict[str, float]:
    base = rng.betavariate(5, 2) if nasty else rng.betavariate(1.2, 8)
    return {
        "toxicity": round(base, 4),
        "insult": round(min(1.0, base * rng.uniform(0.5, 1.1)), 4),
        "threat": round(base * rng.uniform(0.0, 0.6), 4),
        "identity_attack": round(base * rng.uniform(0.0, 0.9), 4),
    }


def synthetic_records(
    n: int,
    rules: RuleSet,
    *,
    seed: int = 7,
    sites: tuple[str, ...] = ("news", "forum"),
    start: float | None = None,
    span_s: float = 60 * 86_400,
) -> Iterable[Record]:
    """`n` records over `span_s` seconds: mostly clean, a share flagged/hidden by rules or
    the model, in time order."""
    rng = random.Random(seed)
    start = time.time() - span_s if start is None else start
    step = span_s / max(n, 1)
    pool: dict[str, Any] = {}
    for i in range(n):
        nasty = rng.random() < 0.3
        text = rng.choice(NASTY if nasty else CLEAN)
        text = f"{text} #{i % 97}" if rng.random() < 0.5 else text
        scores = random_scores(rng, nasty)
        record = make_record(
            text,
            str(100_000 + i),
            rules=rules,
            site=sites[i % len(sites)] if rng.random() < 0.9 else f"{sites[0]}-archive",
            scores=scores,
            decided_at=start + i * step,
            author=f"user{rng.randrange(500)}",
        )
        pool.setdefault(text, None)
        yield record


def bulk_insert(path: Path | str, records: Iterable[Record], batch: int = 5000) -> int:
    """Write many records fast (one transaction per batch, no fsync): benchmark fills only.
    The store's triggers keep the review tables current, as for the pipeline's writes."""
    Store(path).close()  # create and migrate
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA foreign_keys=ON")
    count = 0
    rows: list[Record] = []
    for record in records:
        rows.append(record)
        if len(rows) >= batch:
            count += _write(db, rows)
            rows = []
    count += _write(db, rows)
    db.close()
    return count


def _write(db: sqlite3.Connection, records: list[Record]) -> int:
    if not records:
        return 0
    with db:
        for record in records:
            row = record_row(record)
            cur = db.execute(
                f"INSERT INTO decisions({', '.join(row)}) "  # noqa: S608 (fixed names)
                f"VALUES ({', '.join('?' for _ in row)}) RETURNING id",
                tuple(row.values()),
            )
            decision_id = cur.fetchone()[0]
            db.executemany(
                "INSERT INTO decision_hits(decision_id, rule_id, start, end) VALUES (?, ?, ?, ?)",
                [(decision_id, h.rule_id, h.start, h.end) for h in record.score.hits],
            )
    return len(records)


# -- the review page in tests ---------------------------------------------------------------

# cheap parameters: tests log in often; production uses argon2-cffi's defaults
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
PASSWORD = "correct horse battery"  # noqa: S105 (a test account)
XSS = "<script>alert(1)</script><img src=x onerror=alert(1)>"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]*)"')


def review_settings(**overrides: Any) -> ReviewSettings:
    values: dict[str, Any] = {"enabled": True, "cookie_secure": False, "port": 0}
    return ReviewSettings(**{**values, **overrides})


def add_moderator(
    store: Store, name: str = "alice", settings: ReviewSettings | None = None
) -> None:
    Auth(store, settings or review_settings(), FAST_HASHER).add_moderator(name, PASSWORD)


@dataclass
class Seeded:
    """Decision ids by name, in the store."""

    ids: dict[str, int]
    rules: RuleSet


def seed(store: Store, folder: Path, now: float = 1_800_000_000.0) -> Seeded:
    """A small log: flags, hides, a shadow-only hit, a clean comment and a hostile one."""
    rules = sample_rules(folder)
    specs: list[tuple[str, str, dict[str, Any]]] = [
        (
            "insult",
            "Shut up, idiot. Nobody asked you.",
            {"scores": {"toxicity": 0.85, "insult": 0.9}},
        ),
        ("slur", "go home wetback", {"site": "news", "scores": {"toxicity": 0.99}}),
        ("threat", "I know where you live.", {"scores": {"toxicity": 0.7, "threat": 0.97}}),
        ("shadow", "What a bunch of clowns, all of them.", {"scores": {"toxicity": 0.2}}),
        ("clean", "Thanks for writing this up.", {"scores": {"toxicity": 0.01}}),
        (
            "model",
            "Honestly this is the worst take.",
            {"scores": {"toxicity": 0.91, "insult": 0.3}},
        ),
        ("xss", XSS + " you idiot", {"url": "javascript:alert(1)", "author": "<b>mallory</b>"}),
        ("moron", "You are a moron and everyone knows it", {"site": "news"}),
    ]
    ids = {}
    for i, (name, text, extra) in enumerate(specs):
        record = make_record(
            text, f"c{i + 1}", rules=rules, decided_at=now - 3600 * (len(specs) - i), **extra
        )
        store.complete(None, record)
        row = store.latest_decision(record.comment.site, record.comment.id)
        assert row is not None
        ids[name] = int(row["id"])
    return Seeded(ids, rules)


class Browserless:
    """An aiohttp test client that logs in and posts with the CSRF token."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.csrf = ""

    async def login(
        self, name: str = "alice", password: str = PASSWORD, **extra: str
    ) -> ClientResponse:
        page = await self.client.get("/login")
        token = CSRF_RE.search(await page.text())
        data = {"name": name, "password": password, "csrf_token": token.group(1) if token else ""}
        response = await self.client.post("/login", data={**data, **extra}, allow_redirects=False)
        if response.status == 303:
            queue = await self.client.get("/queue?state=all")
            found = CSRF_RE.search(await queue.text())
            self.csrf = found.group(1) if found else ""
        return response

    async def post(
        self, path: str, data: Mapping[str, Any] | list[tuple[str, str]]
    ) -> ClientResponse:
        items = list(data.items()) if isinstance(data, Mapping) else list(data)
        return await self.client.post(
            path, data=[*items, ("csrf_token", self.csrf)], allow_redirects=False
        )

    async def text(self, path: str) -> str:
        response = await self.client.get(path)
        assert response.status == 200, (path, response.status)
        return await response.text()
