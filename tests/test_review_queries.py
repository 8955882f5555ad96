"""The review tables: triggers keep the queue in step with the log and the verdicts;
cursors, highlighting and links are safe with any input."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.review import queries
from bot.review.present import highlight, safe_url
from bot.review.testing import make_record, sample_rules, seed
from bot.storage_schema import MIGRATIONS
from bot.store import Store, record_row


def test_queue_mirrors_flagged_hidden_and_shadow_decisions(tmp_path: Path) -> None:
    """Only flag/hide (live or shadow) decisions are queued, with their kind and top score."""
    store = Store(tmp_path / "m.db")
    ids = seed(store, tmp_path / "rules").ids
    rows = {
        r[0]: tuple(r)[1:]
        for r in store.query("SELECT decision_id, kind, state, max_score FROM review_queue")
    }
    assert ids["clean"] not in rows
    assert rows[ids["slur"]] == ("hide", "pending", 0.99)
    assert rows[ids["shadow"]][0] == "shadow"
    labels = {
        r[0]
        for r in store.query(
            "SELECT label FROM review_labels WHERE decision_id = ?", (ids["insult"],)
        )
    }
    assert labels == {"insult", "toxicity"}  # the rule's label and the model label that flagged


def test_verdicts_move_the_state_and_a_failed_restore_does_not(tmp_path: Path) -> None:
    """The newest successful verdict is the state; a failed platform call leaves it."""
    store = Store(tmp_path / "m.db")
    ids = seed(store, tmp_path / "rules").ids
    row = queries.decision(store, ids["insult"])
    store.add_verdict(row, "confirm", "alice", "")
    store.add_verdict(row, "restore", "bob", "", "k", "failed", "503")
    state = store.query("SELECT state FROM review_queue WHERE decision_id = ?", (ids["insult"],))[
        0
    ][0]
    assert state == "confirmed"
    store.add_verdict(row, "restore", "bob", "", "k2", "done", "200")
    assert queries.state_counts(store)["restored"] == 1


def test_deciding_the_same_version_again_keeps_the_moderators_verdict(tmp_path: Path) -> None:
    """The log's upsert (a rescan) updates the queue row but not its state."""
    store = Store(tmp_path / "m.db")
    rules = sample_rules(tmp_path / "rules")
    record = make_record("you idiot", "c1", rules=rules, decided_at=1000.0)
    store.complete(None, record)
    store.add_verdict(store.latest_decision("demo", "c1"), "restore", "alice", "")
    store.complete(None, make_record("you idiot", "c1", rules=rules, decided_at=2000.0))
    row = store.query("SELECT decided_at, state FROM review_queue")
    assert [tuple(r) for r in row] == [(2000.0, "restored")]


def test_migration_backfills_an_existing_log(tmp_path: Path) -> None:
    """A store logged before migration 3 gets its queue, scores, labels and states."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for version, script in enumerate(MIGRATIONS[:2], start=1):
        for statement in script:
            db.execute(statement)
        db.execute(f"PRAGMA user_version={version}")
    rules = sample_rules(tmp_path / "rules")
    row = record_row(make_record("go home wetback", "c1", rules=rules, scores={"toxicity": 0.99}))
    cur = db.execute(
        f"INSERT INTO decisions({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",  # noqa: S608
        tuple(row.values()),
    )
    db.execute(
        "INSERT INTO verdicts(site, comment_id, version, decision_id, verdict, moderator, "
        "created_at) "
        "VALUES ('demo', 'c1', 'v', ?, 'confirm', 'alice', 1)",
        (cur.lastrowid,),
    )
    db.commit()
    db.close()
    store = Store(path)
    assert store.schema_version() == len(MIGRATIONS)
    assert [tuple(r) for r in store.query("SELECT kind, state, max_score FROM review_queue")] == [
        ("hide", "confirmed", 0.99)
    ]
    assert store.query("SELECT label, score FROM review_scores")[0][0] == "toxicity"


def test_cursor_round_trips_exactly_and_rejects_junk() -> None:
    """The page cursor is the exact float and id back; anything else is a ValueError."""
    cursor = queries.Cursor(1_800_000_000.123456789, 42)
    assert queries.Cursor.decode(cursor.encode()) == cursor
    for junk in ("", "1_", "x_1", "1.5_2;DROP", "1e9_1"):
        with pytest.raises(ValueError):
            queries.Cursor.decode(junk)


def test_filter_round_trips_through_the_url() -> None:
    """from_query(to_query(f)) == f, and bad values name the parameter."""
    flt = queries.QueueFilter.from_query(
        {
            "state": "all",
            "site": "news",
            "rule": "a.b",
            "label": "toxicity",
            "kind": "hide",
            "min_score": "0.5",
            "max_score": "0.9",
            "since": "2026-01-02",
            "until": "2026-01-03",
        }
    )
    assert queries.QueueFilter.from_query(flt.to_query()) == flt
    with pytest.raises(ValueError, match="state"):
        queries.QueueFilter.from_query({"state": "weird"})
    with pytest.raises(ValueError, match="rule"):
        queries.QueueFilter.from_query({"rule": "a' OR 1=1"})


def test_highlight_marks_overlapping_spans_and_escapes_everything() -> None:
    """Overlaps split into segments naming each rule; markup in the text is escaped."""
    text = "<b>you idiot</b> & co"
    html = str(highlight(text, [(3, 12, "r1"), (7, 12, "r2"), (-5, 2, "r3"), (50, 60, "r4")]))
    assert html.startswith('<mark class="hit" title="r3">&lt;b</mark>&gt;')
    assert (
        '<mark class="hit" title="r1">you </mark><mark class="hit" title="r1, r2">idiot</mark>'
        in html
    )
    assert html.endswith("&lt;/b&gt; &amp; co")


@given(
    st.text(max_size=40), st.lists(st.tuples(st.integers(-5, 50), st.integers(-5, 50)), max_size=5)
)
def test_highlight_never_lets_markup_through(text: str, spans: list[tuple[int, int]]) -> None:
    """Whatever the text and offsets, the output has no tag but <mark> and keeps the text."""
    html = str(highlight(text, [(s, e, "<x>") for s, e in spans]))
    stripped = html.replace('<mark class="hit" title="&lt;x&gt;">', "").replace("</mark>", "")
    assert "<" not in stripped
    import html as html_lib

    assert html_lib.unescape(stripped) == text


def test_only_http_links_are_linked() -> None:
    """javascript:, data: and relative URLs are not turned into links."""
    assert safe_url("https://forum.example/t/1#c2") == "https://forum.example/t/1#c2"
    for bad in (
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,x",
        "/relative",
        "http://",
    ):
        assert safe_url(bad) == ""


def test_the_newest_version_of_each_comment_is_found_in_few_queries(tmp_path: Path) -> None:
    """`_latest_versions` answers for any number of comments (chunked by 400) with one
    query per chunk: per comment, the latest decision, the higher id on a tie."""
    store = Store(tmp_path / "m.db")
    rules = sample_rules(tmp_path / "rules")
    for n in range(450):
        store.complete(None, make_record(f"comment {n}", f"c{n}", rules=rules, decided_at=1000.0))
        if n % 3 == 0:  # edited and decided again later
            edit = make_record(f"comment {n}, edited", f"c{n}", rules=rules, decided_at=2000.0)
            store.complete(None, edit)
        if n % 5 == 0:  # a second version decided at the very same moment
            tie = make_record(f"comment {n}, tie", f"c{n}", rules=rules, decided_at=1000.0)
            store.complete(None, tie)
    store.complete(None, make_record("elsewhere", "c1", rules=rules, site="other"))
    expected = {}
    for row in store.query("SELECT site, comment_id, id, decided_at FROM decisions"):
        key = (row["site"], row["comment_id"])
        if key not in expected or (row["decided_at"], row["id"]) > expected[key]:
            expected[key] = (row["decided_at"], row["id"])
    keys = {("demo", f"c{n}") for n in range(450)} | {("other", "c1"), ("demo", "missing")}
    queries_run: list[str] = []
    original = store.query

    def counting(sql: str, params: tuple = ()) -> list:  # type: ignore[type-arg]
        queries_run.append(sql)
        return original(sql, params)

    store.query = counting  # type: ignore[method-assign]
    latest = queries._latest_versions(store, keys)
    assert len(queries_run) == 2
    assert {key: row["id"] for key, row in latest.items()} == {
        key: newest[1] for key, newest in expected.items()
    }
    assert ("demo", "missing") not in latest
