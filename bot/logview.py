"""Read the flagged-comments log: filter it, and export it as JSONL or CSV."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from bot.store import Store

EXPORT_COLUMNS = (
    "decided_at",
    "site",
    "comment_id",
    "version",
    "verdict",
    "would_verdict",
    "dry_run",
    "action",
    "action_status",
    "action_detail",
    "author_name",
    "author_id",
    "url",
    "text",
    "rules",
    "scores",
    "reasons",
    "model_version",
    "rules_version",
    "source",
)


@dataclass(frozen=True, slots=True)
class LogFilter:
    decisions: tuple[str, ...] = ()  # none / flag / hide
    rule: str | None = None
    label: str | None = None  # a model label that drove a flag or hide
    site: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int | None = 50

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.decisions:
            clauses.append(f"verdict IN ({', '.join('?' for _ in self.decisions)})")
            params.extend(self.decisions)
        if self.rule:
            clauses.append("id IN (SELECT decision_id FROM decision_hits WHERE rule_id=?)")
            params.append(self.rule)
        if self.label:
            clauses.append(
                "EXISTS (SELECT 1 FROM json_each(decisions.reasons) WHERE "
                "json_extract(value, '$.kind')='model' AND json_extract(value, '$.name')=?)"
            )
            params.append(self.label)
        if self.site:
            clauses.append("site=?")
            params.append(self.site)
        if self.since is not None:
            clauses.append("decided_at>=?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("decided_at<?")
            params.append(self.until)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def parse_when(text: str, end: bool = False) -> float:
    """A date (2026-11-25) or an ISO datetime, as a UTC timestamp; `end` = day's end."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            return (moment + dt.timedelta(days=1 if end else 0)).timestamp()
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or ISO datetime") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def iter_records(store: Store, flt: LogFilter) -> Iterator[dict[str, Any]]:
    where, params = flt.where()
    sql = f"SELECT * FROM decisions{where} ORDER BY decided_at DESC, id DESC"  # noqa: S608
    if flt.limit is not None:
        sql += " LIMIT ?"
        params.append(flt.limit)
    for row in store.query(sql, tuple(params)):
        yield to_record(dict(row))


def to_record(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("reasons", "hits", "scores", "thresholds"):
        row[key] = json.loads(row[key])
    row["dry_run"] = bool(row["dry_run"])
    row["rules"] = sorted({h["rule_id"] for h in row["hits"]})
    row["decided_at_iso"] = iso(row["decided_at"])
    return row


def iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds")


def write_jsonl(records: Iterator[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(records: Iterator[dict[str, Any]], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for record in records:
        row = dict(record, decided_at=record["decided_at_iso"])
        for key in ("rules", "scores", "reasons"):
            row[key] = json.dumps(row[key], ensure_ascii=False)
        writer.writerow([row.get(c, "") for c in EXPORT_COLUMNS])
        count += 1
    return count
