"""Reading the flagged-comments log: filters, JSONL/CSV export and `modbot log`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.logview import EXPORT_COLUMNS, LogFilter, iter_records, parse_when, write_csv, write_jsonl
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
from bot.store import Store

DAY = 86_400.0
T0 = dt.datetime(2026, 11, 24, tzinfo=dt.UTC).timestamp()  # midnight UTC, 24 Nov 2026
THRESHOLDS = {"toxicity": Threshold(0.8, 0.97), "insult": Threshold(0.6, None)}


def make_record(
    cid: str,
    verdict: Verdict,
    decided_at: float,
    site: str = "forum",
    rules: tuple[str, ...] = (),
    labels: dict[str, float] | None = None,
    text: str = "",
) -> Record:
    """A logged decision: `rules` hit the text, `labels` over threshold became model reasons."""
    text = text or f"comment {cid}"
    hits = tuple(RuleHit(r, verdict, 0, 7, text[:7]) for r in rules)
    reasons = [Reason("rule", r, verdict, f"matched {text[:7]!r} at 0-7") for r in rules]
    reasons += [
        Reason("model", label, verdict, f"{value:.2f} >= flag 0.6")
        for label, value in (labels or {}).items()
    ]
    comment = Comment(site=site, id=cid, text=text, author=Author(id="u1", name="alice"))
    status = ActionStatus.NOT_NEEDED if verdict is Verdict.NONE else ActionStatus.DONE
    return Record(
        comment=comment,
        score=Score(hits=hits, model=ModelScore("detoxify:test", labels or {}), rules_version="r1"),
        decision=Decision(
            verdict=verdict,
            would_verdict=verdict,
            reasons=tuple(reasons),
            dry_run=False,
            thresholds=THRESHOLDS,
            model_version="detoxify:test",
            rules_version="r1",
        ),
        result=ActionResult(verdict, status),
        received_at=decided_at - 1,
        decided_at=decided_at,
        source="poll",
    )


RECORDS = [
    make_record("h1", Verdict.HIDE, T0 + 3600, rules=("slur.race",)),  # 24 Nov
    make_record("f1", Verdict.FLAG, T0 + DAY + 3600, labels={"insult": 0.7}),  # 25 Nov
    make_record("n1", Verdict.NONE, T0 + 2 * DAY + 3600, site="blog"),  # 26 Nov
    make_record("h2", Verdict.HIDE, T0 + DAY + 7200, site="blog", labels={"toxicity": 0.99}),
    make_record("f2", Verdict.FLAG, T0 + 2 * DAY + 7200, rules=("insult.direct", "slur.race")),
]


@pytest.fixture(name="db_path")
def _db_path(tmp_path: Path) -> Path:
    """A store file holding the five RECORDS, closed again."""
    path = tmp_path / "modbot.db"
    store = Store(path)
    try:
        for record in RECORDS:
            store.complete(None, record)
    finally:
        store.close()
    return path


@pytest.fixture(name="store")
def _store(db_path: Path) -> Iterator[Store]:
    """The store with the five RECORDS, open for reading."""
    store = Store(db_path)
    yield store
    store.close()


def ids(store: Store, flt: LogFilter) -> list[str]:
    return [r["comment_id"] for r in iter_records(store, flt)]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        pytest.param(LogFilter(), ["f2", "n1", "h2", "f1", "h1"], id="all-newest-first"),
        pytest.param(LogFilter(decisions=("hide",)), ["h2", "h1"], id="hides"),
        pytest.param(LogFilter(decisions=("flag", "hide")), ["f2", "h2", "f1", "h1"], id="acted"),
        pytest.param(LogFilter(decisions=("none",)), ["n1"], id="none"),
        pytest.param(LogFilter(rule="slur.race"), ["f2", "h1"], id="rule"),
        pytest.param(LogFilter(rule="insult.direct"), ["f2"], id="rule-second-hit"),
        pytest.param(LogFilter(rule="no.such"), [], id="unknown-rule"),
        pytest.param(LogFilter(label="insult"), ["f1"], id="label"),
        pytest.param(LogFilter(label="toxicity"), ["h2"], id="label-2"),
        pytest.param(LogFilter(site="blog"), ["n1", "h2"], id="site"),
        pytest.param(LogFilter(since=T0 + DAY), ["f2", "n1", "h2", "f1"], id="since"),
        pytest.param(LogFilter(until=T0 + DAY), ["h1"], id="until-is-exclusive"),
        pytest.param(LogFilter(since=T0 + DAY, until=T0 + 2 * DAY), ["h2", "f1"], id="one-day"),
        pytest.param(LogFilter(decisions=("hide",), site="forum"), ["h1"], id="decision-and-site"),
        pytest.param(LogFilter(limit=2), ["f2", "n1"], id="limit"),
        pytest.param(LogFilter(limit=None), ["f2", "n1", "h2", "f1", "h1"], id="no-limit"),
    ],
)
def test_log_filter(store: Store, flt: LogFilter, expected: list[str]) -> None:
    """Each filter keeps exactly the matching decisions, newest first."""
    assert ids(store, flt) == expected


def test_label_filter_ignores_rules_with_the_same_name(tmp_path: Path) -> None:
    """--label matches model reasons only, not a rule that happens to share the name."""
    store = Store(tmp_path / "x.db")
    try:
        store.complete(None, make_record("r", Verdict.FLAG, T0, rules=("insult",)))
        assert ids(store, LogFilter(label="insult")) == []
    finally:
        store.close()


def test_records_decode_json_columns(store: Store) -> None:
    """A record has its JSON columns decoded, the rule ids listed and an ISO time."""
    [rec] = iter_records(store, LogFilter(rule="insult.direct"))
    assert rec["rules"] == ["insult.direct", "slur.race"]
    assert [r["name"] for r in rec["reasons"]] == ["insult.direct", "slur.race"]
    assert rec["thresholds"]["insult"] == {"flag": 0.6, "hide": None}
    assert rec["dry_run"] is False
    assert rec["decided_at_iso"] == "2026-11-26T02:00:00+00:00"


# --- export -------------------------------------------------------------------------------


def test_write_jsonl_round_trips(store: Store) -> None:
    """Each JSONL line parses back to the record it was written from."""
    records = list(iter_records(store, LogFilter(limit=None)))
    out = io.StringIO()
    assert write_jsonl(iter(records), out) == 5
    lines = out.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == records


def test_write_jsonl_keeps_non_ascii_text(tmp_path: Path) -> None:
    """Non-ASCII comment text is written as-is and survives the round trip."""
    store = Store(tmp_path / "x.db")
    try:
        store.complete(None, make_record("u", Verdict.FLAG, T0, text="Ｉｄｉｏｔ — ça va 💥"))
        out = io.StringIO()
        write_jsonl(iter_records(store, LogFilter()), out)
    finally:
        store.close()
    assert "ça va 💥" in out.getvalue()
    assert json.loads(out.getvalue())["text"] == "Ｉｄｉｏｔ — ça va 💥"


def test_write_csv_has_header_and_rows(store: Store) -> None:
    """CSV export: the documented header, then one row per record with readable cells."""
    out = io.StringIO()
    assert write_csv(iter_records(store, LogFilter(decisions=("hide",))), out) == 2
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert len(rows) == 3
    first = dict(zip(EXPORT_COLUMNS, rows[1], strict=True))
    second = dict(zip(EXPORT_COLUMNS, rows[2], strict=True))
    assert (first["comment_id"], first["site"], first["verdict"]) == ("h2", "blog", "hide")
    assert first["decided_at"] == "2026-11-25T02:00:00+00:00"
    assert json.loads(first["scores"]) == {"toxicity": 0.99}
    assert json.loads(second["rules"]) == ["slur.race"]
    assert second["text"] == "comment h1"


def test_write_csv_of_nothing_is_just_the_header() -> None:
    """An empty export still has its header line."""
    out = io.StringIO()
    assert write_csv(iter([]), out) == 0
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [list(EXPORT_COLUMNS)]


# --- modbot log ---------------------------------------------------------------------------


def cli_jsonl(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    assert main(["log", *argv, "--format", "jsonl"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_cli_log_prints_only_hides(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`modbot log --db X --format jsonl --decision hide` prints the hides, nothing else."""
    records = cli_jsonl(capsys, "--db", str(db_path), "--decision", "hide")
    assert [r["comment_id"] for r in records] == ["h2", "h1"]
    assert {r["verdict"] for r in records} == {"hide"}


def test_cli_log_until_date_is_inclusive(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--since/--until take dates, and --until includes that whole day."""
    records = cli_jsonl(
        capsys, "--db", str(db_path), "--since", "2026-11-25", "--until", "2026-11-25"
    )
    assert [r["comment_id"] for r in records] == ["h2", "f1"]


def test_cli_log_writes_csv_to_a_file(db_path: Path, tmp_path: Path) -> None:
    """-o writes the export to a file."""
    out = tmp_path / "export.csv"
    assert (
        main(["log", "--db", str(db_path), "--format", "csv", "-o", str(out), "--limit", "0"]) == 0
    )
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 6
    assert tuple(rows[0]) == EXPORT_COLUMNS


def test_cli_log_bad_date_is_a_usage_error(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --since that is not a date exits 2 and says what was wrong."""
    assert main(["log", "--db", str(db_path), "--since", "yesterday"]) == 2
    assert "yesterday" in capsys.readouterr().err


# --- parse_when ---------------------------------------------------------------------------

NOV25 = dt.datetime(2026, 11, 25, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        pytest.param("2026-11-25", False, NOV25, id="date"),
        pytest.param("2026-11-25", True, NOV25 + DAY, id="date-end-is-next-midnight"),
        pytest.param("2026-11-25T10:00:00", False, NOV25 + 36_000, id="naive-is-utc"),
        pytest.param("2026-11-25T10:00:00Z", False, NOV25 + 36_000, id="zulu"),
        pytest.param("2026-11-25T10:00:00+02:00", False, NOV25 + 28_800, id="offset"),
        pytest.param("2026-11-25T10:00:00", True, NOV25 + 36_000, id="datetime-end-unchanged"),
        pytest.param("2026-11-25 10:00", False, NOV25 + 36_000, id="space-separator"),
    ],
)
def test_parse_when(text: str, end: bool, expected: float) -> None:
    """Dates are UTC midnights (the next one for an end); datetimes default to UTC."""
    assert parse_when(text, end=end) == expected


@pytest.mark.parametrize(
    "text", ["yesterday", "2026-13-01", "2026-02-30", "", "25/11/2026", "17000"]
)
def test_parse_when_rejects_bad_input(text: str) -> None:
    """Anything that is not a date or ISO datetime is a ValueError quoting the input."""
    with pytest.raises(ValueError, match="is not a date"):
        parse_when(text)
