"""The durable store: intake queue, poll cursors, action ledger and the flagged-comments log.

SQLite in WAL mode with synchronous=FULL: once `enqueue` returns, the comment survives a
kill -9 or a power cut. `Store` is synchronous (the CLI uses it directly); `AsyncStore` runs
the same methods on one dedicated thread so the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from bot.models import Author, Comment, Record
from bot.storage_schema import MIGRATIONS

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    queued: int
    duplicates: int
    event_duplicate: bool = False


@dataclass(frozen=True, slots=True)
class IntakeItem:
    id: int
    comment: Comment
    source: str
    received_at: float
    attempts: int


@dataclass(frozen=True, slots=True)
class ActionEntry:
    key: str
    state: str  # "started" | "done" | "failed"
    attempts: int
    detail: str


def comment_to_json(comment: Comment) -> str:
    return json.dumps(asdict(comment), ensure_ascii=False)


def comment_from_json(text: str) -> Comment:
    data = json.loads(text)
    data["author"] = Author(**data["author"])
    data["extra"] = tuple(tuple(x) for x in data.get("extra", ()))
    return Comment(**data)


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        try:
            self._check_version()
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.execute("PRAGMA foreign_keys=ON")
            self.migrate()
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open_existing(cls, path: str | Path) -> Store:
        """Open a store that must already exist (read commands never create one)."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no modbot store here (check --db or the config)")
        return cls(path)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- schema -----------------------------------------------------------------------

    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _check_version(self) -> None:
        current = self.schema_version()
        if current > len(MIGRATIONS):
            raise RuntimeError(
                f"{self.path} has schema version {current}, newer than this modbot knows "
                f"({len(MIGRATIONS)}): upgrade modbot"
            )

    def migrate(self) -> None:
        """Apply every migration newer than the file's user_version, each in a transaction."""
        current = self.schema_version()
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            with self._tx() as db:
                for statement in script:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={version}")

    # --- intake -----------------------------------------------------------------------

    def enqueue(
        self,
        comments: Iterable[Comment],
        source: str,
        event_id: str | None = None,
        cursor: tuple[str, str, str] | None = None,
    ) -> EnqueueResult:
        """Queue comments durably; one transaction with the event id and the poll cursor."""
        now = time.time()
        comments = list(comments)
        with self._tx() as db:
            if event_id is not None and comments:
                site = comments[0].site
                seen = db.execute(
                    "INSERT OR IGNORE INTO webhook_events(site, event_id, received_at) "
                    "VALUES (?, ?, ?)",
                    (site, event_id, now),
                )
                if seen.rowcount == 0:
                    return EnqueueResult(0, len(comments), event_duplicate=True)
            queued = 0
            for comment in comments:
                cur = db.execute(
                    "INSERT OR IGNORE INTO intake(site, comment_id, version, payload, source, "
                    "received_at, available_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        comment.site,
                        comment.id,
                        comment.version,
                        comment_to_json(comment),
                        source,
                        now,
                        now,
                    ),
                )
                queued += cur.rowcount
            if cursor is not None:
                db.execute(
                    "INSERT INTO cursors(site, name, value, updated_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(site, name) DO UPDATE SET value=excluded.value, "
                    "updated_at=excluded.updated_at",
                    (*cursor, now),
                )
        return EnqueueResult(queued, len(comments) - queued)

    def claim(self, owner: str, limit: int, lease_s: float) -> list[IntakeItem]:
        now = time.time()
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, payload, source, received_at, attempts FROM intake "
                "WHERE state='pending' AND available_at<=? AND (lease_until IS NULL OR "
                "lease_until<?) ORDER BY available_at, id LIMIT ?",
                (now, now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE intake SET lease_owner=?, lease_until=? WHERE id=?",
                [(owner, now + lease_s, row["id"]) for row in rows],
            )
        return [
            IntakeItem(
                row["id"],
                comment_from_json(row["payload"]),
                row["source"],
                row["received_at"],
                row["attempts"],
            )
            for row in rows
        ]

    def release_leases(self) -> int:
        """Free every lease: with SQLite one process owns the queue, so old leases are stale."""
        with self._tx() as db:
            return db.execute(
                "UPDATE intake SET lease_owner=NULL, lease_until=NULL WHERE state='pending' "
                "AND lease_owner IS NOT NULL"
            ).rowcount

    def retry_later(self, item_id: int, error: str, delay_s: float, max_attempts: int) -> str:
        """Put an item back with a delay, or mark it dead after max_attempts; returns state."""
        with self._tx() as db:
            row = db.execute("SELECT attempts FROM intake WHERE id=?", (item_id,)).fetchone()
            attempts = row["attempts"] + 1
            state = "dead" if attempts >= max_attempts else "pending"
            db.execute(
                "UPDATE intake SET attempts=?, state=?, available_at=?, last_error=?, "
                "lease_owner=NULL, lease_until=NULL WHERE id=?",
                (attempts, state, time.time() + delay_s, error[:2000], item_id),
            )
        return state

    def next_available_at(self) -> float | None:
        row = self._db.execute(
            "SELECT MIN(available_at) FROM intake WHERE state='pending'"
        ).fetchone()
        return row[0]

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT state, COUNT(*) FROM intake GROUP BY state").fetchall()
        return {row[0]: row[1] for row in rows}

    def get_cursor(self, site: str, name: str = "poll") -> str | None:
        row = self._db.execute(
            "SELECT value FROM cursors WHERE site=? AND name=?", (site, name)
        ).fetchone()
        return row["value"] if row else None

    # --- actions ledger (at-most-once per comment version) -------------------------------

    def action_get(self, key: str) -> ActionEntry | None:
        row = self._db.execute(
            "SELECT key, state, attempts, detail FROM actions WHERE key=?", (key,)
        ).fetchone()
        return (
            ActionEntry(row["key"], row["state"], row["attempts"], row["detail"]) if row else None
        )

    def action_begin(self, key: str, site: str, comment_id: str, version: str, action: str) -> None:
        """Write that we are about to call the platform, before calling it."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT INTO actions(key, site, comment_id, version, action, state, attempts, "
                "detail, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'started', 1, '', ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET attempts=attempts+1, "
                "updated_at=excluded.updated_at",
                (key, site, comment_id, version, action, now, now),
            )

    def action_finish(self, key: str, state: str, detail: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE actions SET state=?, detail=?, updated_at=? WHERE key=?",
                (state, detail[:2000], time.time(), key),
            )

    # --- the flagged-comments log ---------------------------------------------------------

    def complete(self, item_id: int | None, record: Record) -> None:
        """Write the decision and take the item off the queue, in one transaction."""
        row = record_row(record)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        updates = ", ".join(f"{c}=excluded.{c}" for c in row if c not in UNIQUE_COLUMNS)
        with self._tx() as db:
            cur = db.execute(
                f"INSERT INTO decisions({columns}) VALUES ({marks}) "  # noqa: S608 (fixed names)
                f"ON CONFLICT(site, comment_id, version) DO UPDATE SET {updates} RETURNING id",
                tuple(row.values()),
            )
            decision_id = cur.fetchone()[0]
            db.execute("DELETE FROM decision_hits WHERE decision_id=?", (decision_id,))
            db.executemany(
                "INSERT INTO decision_hits(decision_id, rule_id, start, end) VALUES (?, ?, ?, ?)",
                [(decision_id, h.rule_id, h.start, h.end) for h in record.score.hits],
            )
            if item_id is not None:
                db.execute(
                    "UPDATE intake SET state='done', lease_owner=NULL, lease_until=NULL, "
                    "attempts=attempts+1 WHERE id=?",
                    (item_id,),
                )

    # --- moderators' verdicts -------------------------------------------------------------

    def latest_decision(self, site: str, comment_id: str) -> sqlite3.Row | None:
        return self._db.execute(
            "SELECT * FROM decisions WHERE site=? AND comment_id=? ORDER BY decided_at DESC, "
            "id DESC LIMIT 1",
            (site, comment_id),
        ).fetchone()

    def add_verdict(
        self,
        decision: sqlite3.Row,
        verdict: str,
        moderator: str,
        note: str,
        action_key: str = "",
        action_status: str = "",
        action_detail: str = "",
    ) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO verdicts(site, comment_id, version, decision_id, verdict, moderator, "
                "note, created_at, action_key, action_status, action_detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    decision["site"],
                    decision["comment_id"],
                    decision["version"],
                    decision["id"],
                    verdict,
                    moderator,
                    note,
                    time.time(),
                    action_key,
                    action_status,
                    action_detail[:2000],
                ),
            )
            return int(cur.lastrowid or 0)

    def count_verdicts(self, site: str, comment_id: str, verdict: str) -> int:
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM verdicts WHERE site=? AND comment_id=? AND verdict=?",
                (site, comment_id, verdict),
            ).fetchone()[0]
        )

    def hidden_before(self, site: str, comment_id: str, version: str) -> bool:
        """modbot hid another version of this comment, and no moderator restored it since."""
        row = self._db.execute(
            "SELECT MAX(decided_at) FROM decisions WHERE site=? AND comment_id=? AND version!=? "
            "AND action='hide' AND action_status='done'",
            (site, comment_id, version),
        ).fetchone()
        if row[0] is None:
            return False
        restored = self._db.execute(
            "SELECT 1 FROM verdicts WHERE site=? AND comment_id=? AND verdict='restore' AND "
            "created_at>? LIMIT 1",
            (site, comment_id, row[0]),
        ).fetchone()
        return restored is None

    def human_restored(self, site: str, comment_id: str, version: str) -> bool:
        """A moderator restored this very version: modbot must not act on it again."""
        row = self._db.execute(
            "SELECT 1 FROM verdicts WHERE site=? AND comment_id=? AND version=? AND "
            "verdict='restore' LIMIT 1",
            (site, comment_id, version),
        ).fetchone()
        return row is not None

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._db.execute(sql, params).fetchall()


UNIQUE_COLUMNS = {"site", "comment_id", "version"}


def record_row(record: Record) -> dict[str, Any]:
    comment, decision, result = record.comment, record.decision, record.result
    model = record.score.model
    return {
        "site": comment.site,
        "comment_id": comment.id,
        "version": comment.version,
        "source": record.source,
        "text": comment.text,
        "author_id": comment.author.id,
        "author_name": comment.author.name,
        "author_role": comment.author.role,
        "url": comment.url,
        "thread_id": comment.thread_id,
        "parent_id": comment.parent_id,
        "created_at": comment.created_at,
        "received_at": record.received_at,
        "decided_at": record.decided_at,
        "verdict": decision.verdict.word,
        "would_verdict": decision.would_verdict.word,
        "dry_run": int(decision.dry_run),
        "reasons": json.dumps(
            [{**asdict(r), "verdict": r.verdict.word} for r in decision.reasons],
            ensure_ascii=False,
        ),
        "hits": json.dumps(
            [{**asdict(h), "action": h.action.word} for h in record.score.hits], ensure_ascii=False
        ),
        "scores": json.dumps(model.labels if model else {}),
        "thresholds": json.dumps({k: asdict(v) for k, v in decision.thresholds.items()}),
        "model_version": decision.model_version,
        "rules_version": decision.rules_version,
        "action": result.action.word,
        "action_status": result.status.value,
        "action_key": result.idempotency_key,
        "action_attempts": result.attempts,
        "action_detail": result.detail,
    }


class AsyncStore:
    """The Store's methods, run one at a time on a dedicated thread."""

    def __init__(self, store: Store) -> None:
        self.sync = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modbot-store")

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    async def close(self) -> None:
        await self.run(self.sync.close)
        self._executor.shutdown(wait=True)
