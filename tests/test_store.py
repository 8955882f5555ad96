"""The SQLite store: migrations, the intake queue, cursors, the action ledger and the log."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.models import (
    ActionResult,
    ActionStatus,
    Author,
    Comment,
    Decision,
    ModelScore,
    Reason,
    Record,
    RuleHit,
    Score,
    Threshold,
    Verdict,
)
from bot.storage_schema import MIGRATIONS
from bot.store import AsyncStore, Store

OpenStore = Callable[..., Store]


@pytest.fixture(name="db_path")
def _db_path(tmp_path: Path) -> Path:
    """Where the test's SQLite file lives (its folder does not exist yet)."""
    return tmp_path / "state" / "modbot.db"


@pytest.fixture(name="open_store")
def _open_store(db_path: Path) -> Iterator[OpenStore]:
    """Open Stores on the test's file; every one still open is closed at teardown."""
    opened: list[Store] = []

    def open_(path: Path = db_path) -> Store:
        store = Store(path)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture(name="store")
def _store(open_store: OpenStore) -> Store:
    """A fresh, migrated store."""
    return open_store()


def comment(cid: str = "c1", text: str = "hello there", site: str = "forum") -> Comment:
    return Comment(
        site=site,
        id=cid,
        text=text,
        author=Author(id="u1", name="alice", role="member"),
        thread_id="t1",
        parent_id="p0",
        url=f"https://forum.example/c/{cid}",
        created_at="2026-11-25T10:00:00Z",
        section="politics",
        extra=(("lang", "en"), ("ip_hash", "ab12")),
    )


def record(c: Comment, verdict: Verdict = Verdict.HIDE, decided_at: float = 1000.0) -> Record:
    hit = RuleHit(
        rule_id="insult.direct",
        action=Verdict.FLAG,
        start=0,
        end=5,
        matched="hello",
        labels=("insult",),
        severity=2,
        reason="Personal insult",
        source="rules/insults.yaml",
    )
    shadow_hit = RuleHit("slur.test", Verdict.HIDE, 6, 11, "there", shadow=True)
    reasons = (
        Reason("rule", "insult.direct", Verdict.FLAG, "Personal insult: matched 'hello' at 0-5"),
        Reason("model", "toxicity", verdict, "0.98 >= hide 0.97"),
        Reason("rule", "slur.test", Verdict.HIDE, "matched 'there' at 6-11", shadow=True),
    )
    return Record(
        comment=c,
        score=Score(
            hits=(hit, shadow_hit),
            model=ModelScore("detoxify:original@test", {"toxicity": 0.98, "insult": 0.4}),
            rules_version="r-abc",
        ),
        decision=Decision(
            verdict=verdict,
            would_verdict=Verdict.HIDE,
            reasons=reasons,
            dry_run=False,
            thresholds={"toxicity": Threshold(0.8, 0.97), "insult": Threshold(0.6, None)},
            model_version="detoxify:original@test",
            rules_version="r-abc",
        ),
        result=ActionResult(verdict, ActionStatus.DONE, "key-1", 2, "202"),
        received_at=990.0,
        decided_at=decided_at,
        source="webhook",
    )


def intake_rows(store: Store) -> list[sqlite3.Row]:
    return store.query("SELECT * FROM intake ORDER BY id")


# --- schema ------------------------------------------------------------------------------


def test_fresh_db_is_migrated_to_the_latest_version(store: Store, db_path: Path) -> None:
    """A new file gets every migration; its folder is created on the way."""
    assert db_path.exists()
    assert store.schema_version() == len(MIGRATIONS)
    tables = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"intake", "webhook_events", "cursors", "actions", "decisions"} <= tables


def test_reopening_does_not_rerun_migrations(open_store: OpenStore) -> None:
    """Reopening a migrated file keeps its version and data (a rerun would fail on CREATE)."""
    first = open_store()
    first.enqueue([comment()], "poll")
    first.close()
    again = open_store()
    assert again.schema_version() == len(MIGRATIONS)
    assert len(intake_rows(again)) == 1


def test_newer_schema_refuses_to_open(db_path: Path) -> None:
    """A file from a newer modbot is refused with a message saying to upgrade."""
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version={len(MIGRATIONS) + 5}")
    raw.close()
    with pytest.raises(RuntimeError, match=r"schema version \d+, newer.*upgrade modbot"):
        Store(db_path)


# --- intake ------------------------------------------------------------------------------


def test_enqueue_dedupes_on_site_comment_and_version(store: Store) -> None:
    """The same comment version is queued once, whatever the source says."""
    first = store.enqueue([comment()], "poll")
    again = store.enqueue([comment()], "webhook")
    assert (first.queued, first.duplicates) == (1, 0)
    assert (again.queued, again.duplicates) == (0, 1)
    assert len(intake_rows(store)) == 1


def test_an_edit_is_a_new_item(store: Store) -> None:
    """New text for the same comment id is a new version and a new unit of work."""
    store.enqueue([comment(text="first draft")], "poll")
    result = store.enqueue([comment(text="edited text")], "poll")
    assert result.queued == 1
    rows = intake_rows(store)
    assert len(rows) == 2
    assert rows[0]["version"] != rows[1]["version"]


def test_same_comment_id_on_another_site_is_not_a_duplicate(store: Store) -> None:
    """Dedupe is per site."""
    store.enqueue([comment(site="a")], "poll")
    assert store.enqueue([comment(site="b")], "poll").queued == 1


def test_enqueue_dedupes_on_webhook_event_id(store: Store) -> None:
    """A redelivered event id queues nothing, even if its comment differs."""
    store.enqueue([comment("c1")], "webhook", event_id="evt-1")
    result = store.enqueue([comment("c2")], "webhook", event_id="evt-1")
    assert result.event_duplicate
    assert result.queued == 0
    assert [r["comment_id"] for r in intake_rows(store)] == ["c1"]


def test_event_ids_are_per_site(store: Store) -> None:
    """The same event id from another site is a different event."""
    store.enqueue([comment("c1", site="a")], "webhook", event_id="evt-1")
    result = store.enqueue([comment("c1", site="b")], "webhook", event_id="evt-1")
    assert not result.event_duplicate
    assert result.queued == 1


def test_cursor_is_stored_with_the_page(store: Store) -> None:
    """A successful enqueue stores the poll cursor; the next one moves it."""
    store.enqueue([comment("c1")], "poll", cursor=("forum", "poll", "cur-1"))
    assert store.get_cursor("forum") == "cur-1"
    store.enqueue([], "poll", cursor=("forum", "poll", "cur-2"))
    assert store.get_cursor("forum") == "cur-2"
    assert store.get_cursor("other") is None


def test_failed_enqueue_stores_neither_cursor_nor_items(store: Store) -> None:
    """A page whose second comment cannot be stored leaves the cursor and queue untouched."""
    store.enqueue([comment("c0")], "poll", cursor=("forum", "poll", "cur-1"))
    # A lone surrogate survives json.loads of a "\ud800" escape but cannot be encoded for SQLite.
    unstorable = comment("c2", text="bad \ud800 text")
    with pytest.raises(UnicodeEncodeError):
        store.enqueue([comment("c1"), unstorable], "poll", cursor=("forum", "poll", "cur-2"))
    assert store.get_cursor("forum") == "cur-1"
    assert [r["comment_id"] for r in intake_rows(store)] == ["c0"]
    # and the store is still usable afterwards (the transaction was rolled back, not left open)
    assert store.enqueue([comment("c1")], "poll").queued == 1


def test_claimed_comment_round_trips(store: Store) -> None:
    """A claimed item carries the comment exactly as queued, with source and attempts."""
    original = comment()
    store.enqueue([original], "webhook")
    [item] = store.claim("w1", limit=10, lease_s=60)
    assert item.comment == original
    assert item.source == "webhook"
    assert item.attempts == 0


def test_claim_leases_items(store: Store) -> None:
    """Claimed items are not handed out again while leased, in queue order, up to `limit`."""
    store.enqueue([comment("c1"), comment("c2"), comment("c3")], "poll")
    first = store.claim("w1", limit=2, lease_s=60)
    second = store.claim("w2", limit=10, lease_s=60)
    assert [i.comment.id for i in first] == ["c1", "c2"]
    assert [i.comment.id for i in second] == ["c3"]
    assert store.claim("w3", limit=10, lease_s=60) == []


def test_release_leases_frees_claimed_items(store: Store) -> None:
    """After release_leases() (a restart) every pending item can be claimed again."""
    store.enqueue([comment("c1"), comment("c2")], "poll")
    store.claim("w1", limit=10, lease_s=600)
    assert store.release_leases() == 2
    assert [i.comment.id for i in store.claim("w2", limit=10, lease_s=600)] == ["c1", "c2"]


def test_lease_expires(store: Store) -> None:
    """An item whose lease ran out is claimable again."""
    store.enqueue([comment()], "poll")
    assert len(store.claim("w1", limit=10, lease_s=0.5)) == 1
    assert store.claim("w2", limit=10, lease_s=0.5) == []
    time.sleep(0.55)
    assert [i.comment.id for i in store.claim("w2", limit=10, lease_s=0.5)] == ["c1"]


def test_retry_later_delays_and_counts_attempts(store: Store) -> None:
    """retry_later bumps attempts, keeps the error and hides the item until its delay ends."""
    store.enqueue([comment()], "poll")
    [item] = store.claim("w1", limit=1, lease_s=60)
    before = time.time()
    assert store.retry_later(item.id, "platform down", delay_s=300, max_attempts=5) == "pending"
    assert store.claim("w1", limit=1, lease_s=60) == []
    next_at = store.next_available_at()
    assert next_at is not None
    assert before + 299 <= next_at <= time.time() + 301
    [row] = intake_rows(store)
    assert row["attempts"] == 1
    assert row["last_error"] == "platform down"
    assert row["lease_owner"] is None


def test_retry_later_marks_dead_after_max_attempts(store: Store) -> None:
    """The max_attempts-th failure marks the item dead; dead items are never claimed."""
    store.enqueue([comment()], "poll")
    states = []
    for _ in range(3):
        [item] = store.claim("w1", limit=1, lease_s=60)
        states.append(store.retry_later(item.id, "boom", delay_s=0, max_attempts=3))
    assert states == ["pending", "pending", "dead"]
    assert store.claim("w1", limit=1, lease_s=60) == []
    assert store.counts() == {"dead": 1}
    assert intake_rows(store)[0]["attempts"] == 3


def test_retried_item_carries_its_attempts(store: Store) -> None:
    """A retried item is claimed again with its attempt count."""
    store.enqueue([comment()], "poll")
    [item] = store.claim("w1", limit=1, lease_s=60)
    store.retry_later(item.id, "boom", delay_s=0, max_attempts=9)
    [again] = store.claim("w1", limit=1, lease_s=60)
    assert again.id == item.id
    assert again.attempts == 1


# --- the log -----------------------------------------------------------------------------


def test_complete_writes_the_decision_and_finishes_the_item(store: Store) -> None:
    """complete() stores every field of the record and marks the queue item done."""
    c = comment()
    store.enqueue([c], "webhook")
    [item] = store.claim("w1", limit=1, lease_s=60)
    store.complete(item.id, record(c))
    [row] = store.query("SELECT * FROM decisions")
    assert (row["site"], row["comment_id"], row["version"]) == ("forum", "c1", c.version)
    assert row["text"] == "hello there"
    assert (row["author_id"], row["author_name"], row["author_role"]) == ("u1", "alice", "member")
    assert (row["url"], row["thread_id"], row["parent_id"]) == (c.url, "t1", "p0")
    assert row["created_at"] == "2026-11-25T10:00:00Z"
    assert (row["received_at"], row["decided_at"]) == (990.0, 1000.0)
    assert (row["verdict"], row["would_verdict"], row["dry_run"]) == ("hide", "hide", 0)
    assert (row["model_version"], row["rules_version"]) == ("detoxify:original@test", "r-abc")
    assert (row["action"], row["action_status"]) == ("hide", "done")
    assert (row["action_key"], row["action_attempts"], row["action_detail"]) == ("key-1", 2, "202")
    assert row["source"] == "webhook"
    reasons = json.loads(row["reasons"])
    assert reasons[0] == {
        "kind": "rule",
        "name": "insult.direct",
        "verdict": "flag",
        "detail": "Personal insult: matched 'hello' at 0-5",
        "shadow": False,
    }
    assert reasons[2]["shadow"] is True
    hits = json.loads(row["hits"])
    assert [(h["rule_id"], h["action"], h["start"], h["end"]) for h in hits] == [
        ("insult.direct", "flag", 0, 5),
        ("slur.test", "hide", 6, 11),
    ]
    assert hits[0]["labels"] == ["insult"]
    assert json.loads(row["scores"]) == {"toxicity": 0.98, "insult": 0.4}
    assert json.loads(row["thresholds"]) == {
        "toxicity": {"flag": 0.8, "hide": 0.97},
        "insult": {"flag": 0.6, "hide": None},
    }
    hit_rows = store.query("SELECT rule_id, start, end FROM decision_hits ORDER BY start")
    assert [tuple(r) for r in hit_rows] == [("insult.direct", 0, 5), ("slur.test", 6, 11)]
    assert store.counts() == {"done": 1}
    assert store.claim("w1", limit=1, lease_s=60) == []


def test_completing_a_version_twice_keeps_one_row(store: Store) -> None:
    """A second complete() of the same comment version updates the row in place."""
    c = comment()
    store.complete(None, record(c, Verdict.HIDE, decided_at=1000.0))
    store.complete(None, record(c, Verdict.FLAG, decided_at=2000.0))
    rows = store.query("SELECT verdict, decided_at FROM decisions")
    assert [tuple(r) for r in rows] == [("flag", 2000.0)]
    assert len(store.query("SELECT * FROM decision_hits")) == 2


def test_a_new_version_gets_its_own_decision_row(store: Store) -> None:
    """An edited comment's decision is logged beside the old one."""
    store.complete(None, record(comment(text="one")))
    store.complete(None, record(comment(text="two")))
    assert len(store.query("SELECT * FROM decisions")) == 2


def test_complete_without_model_score(store: Store) -> None:
    """A rules-only record stores empty scores."""
    base = record(comment())
    rules_only = Record(
        comment=base.comment,
        score=Score(hits=(), model=None, rules_version="r-abc"),
        decision=base.decision,
        result=base.result,
        received_at=1.0,
        decided_at=2.0,
    )
    store.complete(None, rules_only)
    [row] = store.query("SELECT scores, hits FROM decisions")
    assert (json.loads(row["scores"]), json.loads(row["hits"])) == ({}, [])


# --- action ledger -----------------------------------------------------------------------


def test_action_ledger_begin_get_finish(store: Store) -> None:
    """begin writes `started`, a second begin counts an attempt, finish records the outcome."""
    assert store.action_get("k1") is None
    store.action_begin("k1", "forum", "c1", "v1", "hide")
    entry = store.action_get("k1")
    assert entry is not None
    assert (entry.key, entry.state, entry.attempts, entry.detail) == ("k1", "started", 1, "")
    store.action_begin("k1", "forum", "c1", "v1", "hide")
    entry = store.action_get("k1")
    assert entry is not None
    assert (entry.state, entry.attempts) == ("started", 2)
    store.action_finish("k1", "done", "202 accepted")
    entry = store.action_get("k1")
    assert entry is not None
    assert (entry.state, entry.attempts, entry.detail) == ("done", 2, "202 accepted")


def test_action_finish_failed_keeps_detail(store: Store) -> None:
    """A failed action keeps the platform's answer."""
    store.action_begin("k2", "forum", "c1", "v1", "flag")
    store.action_finish("k2", "failed", "404 gone")
    entry = store.action_get("k2")
    assert entry is not None
    assert (entry.state, entry.detail) == ("failed", "404 gone")


def test_action_ledger_rejects_unknown_states(store: Store) -> None:
    """The schema only allows started, done and failed."""
    store.action_begin("k3", "forum", "c1", "v1", "flag")
    with pytest.raises(sqlite3.IntegrityError):
        store.action_finish("k3", "maybe", "")


# --- durability --------------------------------------------------------------------------


def test_data_survives_close_and_reopen(open_store: OpenStore) -> None:
    """Queue, cursor, ledger and log are all there after reopening the file."""
    first = open_store()
    c1, c2 = comment("c1"), comment("c2")
    first.enqueue([c1, c2], "poll", cursor=("forum", "poll", "cur-9"))
    first.complete(None, record(c1))
    first.action_begin("k1", "forum", "c1", c1.version, "hide")
    first.action_finish("k1", "done", "ok")
    first.close()

    again = open_store()
    assert again.get_cursor("forum") == "cur-9"
    assert [i.comment for i in again.claim("w", limit=10, lease_s=60)] == [c1, c2]
    assert [r["comment_id"] for r in again.query("SELECT comment_id FROM decisions")] == ["c1"]
    entry = again.action_get("k1")
    assert entry is not None
    assert entry.state == "done"


# --- AsyncStore --------------------------------------------------------------------------


async def test_async_store_runs_off_the_event_loop_thread(db_path: Path) -> None:
    """AsyncStore calls run on its own thread and return the method's result."""
    astore = AsyncStore(Store(db_path))
    try:
        loop_thread = threading.get_ident()
        store_thread = await astore.run(threading.get_ident)
        assert store_thread != loop_thread
        assert await astore.run(threading.get_ident) == store_thread  # one dedicated thread
        result = await astore.run(astore.sync.enqueue, [comment()], "poll", cursor=None)
        assert result.queued == 1
    finally:
        await astore.close()
