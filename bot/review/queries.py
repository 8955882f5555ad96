"""Queries over the review queue (tables of migration 3, kept current by triggers).

Paging is keyset paging on (decided_at, decision_id), newest first: every page is an index
range scan, however deep, so it stays fast on 100,000 logged comments.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from bot.store import Store

STATES = ("pending", "confirmed", "restored", "dismissed")
KINDS = ("hide", "flag", "shadow")
VERDICT_OF_ACTION = {"confirm": "confirmed", "restore": "restored", "dismiss": "dismissed"}
NAME_RE = re.compile(r"^[\w.:@-]{1,128}$")
CURSOR_RE = re.compile(r"^(\d{1,12}(?:\.\d{1,20})?)_(\d{1,18})$")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ends: the last row's (decided_at, decision_id)."""

    decided_at: float
    decision_id: int

    def encode(self) -> str:
        return f"{self.decided_at!r}_{self.decision_id}"  # repr: the exact float back

    @classmethod
    def decode(cls, text: str) -> Cursor:
        match = CURSOR_RE.match(text)
        if match is None:
            raise ValueError(f"{text[:40]!r} is not a page cursor")
        return cls(float(match.group(1)), int(match.group(2)))


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What the queue shows; every field is optional. `state=None` shows every state."""

    state: str | None = "pending"
    site: str | None = None
    rule: str | None = None
    label: str | None = None
    kind: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    since: float | None = None
    until: float | None = None

    def __post_init__(self) -> None:
        if self.state is not None and self.state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)} or all")
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        for name in ("site", "rule", "label"):
            value = getattr(self, name)
            if value is not None and not NAME_RE.match(value):
                raise ValueError(f"{name} {value[:40]!r} has unexpected characters")
        for name in ("min_score", "max_score"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a number from 0 to 1")

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> QueueFilter:
        """From URL query parameters (or CLI options); ValueError names the bad one."""
        values: dict[str, Any] = {}
        state = query.get("state", "pending") or "pending"
        values["state"] = None if state == "all" else state
        for name in ("site", "rule", "label", "kind"):
            values[name] = (query.get(name) or "").strip() or None
        for name in ("min_score", "max_score"):
            text = (query.get(name) or "").strip()
            values[name] = _number(name, text) if text else None
        since, until = (query.get("since") or "").strip(), (query.get("until") or "").strip()
        values["since"] = parse_day(since) if since else None
        values["until"] = parse_day(until, end=True) if until else None
        return cls(**values)

    def to_query(self) -> dict[str, str]:
        """The URL query that gives this filter back (empty fields left out)."""
        out: dict[str, str] = {"state": self.state or "all"}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "state" or value is None:
                continue
            if f.name in ("since", "until"):
                day = dt.datetime.fromtimestamp(value, dt.UTC).date()
                value = day - dt.timedelta(days=1) if f.name == "until" else day
            out[f.name] = str(value)
        return out

    def with_state(self, state: str | None) -> QueueFilter:
        return replace(self, state=state)

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("state", "site", "kind"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"q.{column} = ?")
                params.append(value)
        if self.rule is not None:
            clauses.append(
                "q.decision_id IN (SELECT decision_id FROM decision_hits WHERE rule_id = ?)"
            )
            params.append(self.rule)
        if self.label is not None:
            clauses.append(
                "q.decision_id IN (SELECT decision_id FROM review_labels WHERE label = ?)"
            )
            params.append(self.label)
        self._score_clauses(clauses, params)
        if self.since is not None:
            clauses.append("q.decided_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("q.decided_at < ?")
            params.append(self.until)
        return " AND ".join(clauses) or "1", params

    def _score_clauses(self, clauses: list[str], params: list[Any]) -> None:
        if self.min_score is None and self.max_score is None:
            return
        low = 0.0 if self.min_score is None else self.min_score
        high = 1.0 if self.max_score is None else self.max_score
        if self.label is not None:
            # the score of that label, through its (label, score) index
            clauses.append(
                "q.decision_id IN (SELECT decision_id FROM review_scores "
                "WHERE label = ? AND score BETWEEN ? AND ?)"
            )
            params.extend((self.label, low, high))
        else:
            clauses.append("q.max_score BETWEEN ? AND ?")
            params.extend((low, high))


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number from 0 to 1") from None


def parse_day(text: str, end: bool = False) -> float:
    """YYYY-MM-DD (UTC) as a timestamp; `end`: the end of that day."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date (YYYY-MM-DD)") from None
    moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return (moment + dt.timedelta(days=1 if end else 0)).timestamp()


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[dict[str, Any]]  # decisions rows + state, kind, history
    next: Cursor | None  # None: this is the last page


def queue_page(
    store: Store, flt: QueueFilter, after: Cursor | None = None, limit: int = 25
) -> Page:
    """One page of the queue, newest first, each row a decision with state and history."""
    where, params = flt.where()
    if after is not None:
        where += " AND (q.decided_at, q.decision_id) < (?, ?)"
        params.extend((after.decided_at, after.decision_id))
    ids = store.query(
        f"SELECT q.decision_id, q.decided_at FROM review_queue q WHERE {where} "  # noqa: S608
        "ORDER BY q.decided_at DESC, q.decision_id DESC LIMIT ?",
        (*params, limit + 1),
    )
    more = len(ids) > limit
    ids = ids[:limit]
    rows = load_entries(store, [row[0] for row in ids])
    cursor = Cursor(ids[-1][1], ids[-1][0]) if more and ids else None
    return Page(rows, cursor)


def load_entries(store: Store, ids: list[int]) -> list[dict[str, Any]]:
    """Decision rows by id (in the order given), with queue state and verdict history."""
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    rows = store.query(
        "SELECT d.*, COALESCE(q.state, 'pending') AS state, "  # noqa: S608 (marks only)
        "COALESCE(q.kind, 'none') AS kind FROM decisions d "
        f"LEFT JOIN review_queue q ON q.decision_id = d.id WHERE d.id IN ({marks})",
        tuple(ids),
    )
    history: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for v in store.query(
        f"SELECT * FROM verdicts WHERE decision_id IN ({marks}) ORDER BY id",  # noqa: S608
        tuple(ids),
    ):
        history[v["decision_id"]].append(dict(v))
    by_id = {row["id"]: decode_row(dict(row)) for row in rows}
    latest = _latest_versions(store, {(r["site"], r["comment_id"]) for r in by_id.values()})
    out = []
    for i in ids:
        if i in by_id:
            row = by_id[i]
            row["history"] = history[i]
            newest = latest.get((row["site"], row["comment_id"]))
            row["newer"] = dict(newest) if newest is not None and newest["id"] != i else None
            out.append(row)
    return out


_KEYS_PER_QUERY = 400  # two parameters each, far below SQLite's limit


def _latest_versions(store: Store, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The newest decided version of each (site, comment id): an entry whose comment was
    edited and decided again is no longer what the platform shows."""
    latest = {}
    pending = sorted(keys)
    for start in range(0, len(pending), _KEYS_PER_QUERY):
        chunk = pending[start : start + _KEYS_PER_QUERY]
        values = ", ".join("(?, ?)" for _ in chunk)
        rows = store.query(
            "SELECT site, comment_id, id, verdict, decided_at FROM ("  # noqa: S608 (marks only)
            "SELECT site, comment_id, id, verdict, decided_at, ROW_NUMBER() OVER ("
            "PARTITION BY site, comment_id ORDER BY decided_at DESC, id DESC) AS newest "
            f"FROM decisions WHERE (site, comment_id) IN (VALUES {values})) WHERE newest = 1",
            tuple(part for key in chunk for part in key),
        )
        for row in rows:
            latest[(row["site"], row["comment_id"])] = row
    return latest


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("reasons", "hits", "scores", "thresholds"):
        try:
            row[key] = json.loads(row[key])
        except (TypeError, ValueError):
            row[key] = {} if key in ("scores", "thresholds") else []
    row["dry_run"] = bool(row["dry_run"])
    return row


def state_counts(store: Store) -> dict[str, int]:
    rows = store.query("SELECT state, COUNT(*) FROM review_queue GROUP BY state")
    counts = {state: 0 for state in STATES}
    counts.update({row[0]: row[1] for row in rows})
    return counts


def choices(store: Store) -> dict[str, list[str]]:
    """Values the filter menus offer: sites, rules and labels seen in the queue."""
    return {
        "sites": [r[0] for r in store.query("SELECT DISTINCT site FROM review_queue ORDER BY 1")],
        "rules": [
            r[0] for r in store.query("SELECT DISTINCT rule_id FROM decision_hits ORDER BY 1")
        ],
        "labels": [
            r[0] for r in store.query("SELECT DISTINCT label FROM review_labels ORDER BY 1")
        ],
    }


def decision(store: Store, decision_id: int) -> Any:
    """The raw decisions row (what Actor.restore takes), or None."""
    rows = store.query("SELECT * FROM decisions WHERE id = ?", (decision_id,))
    return rows[0] if rows else None


def resolve_id(store: Store, ref: str) -> int | None:
    """A decision id from `42` or `site:comment_id` (that comment's latest decision)."""
    if ref.isdigit():
        return int(ref)
    site, sep, comment_id = ref.partition(":")
    if not sep:
        return None
    row = store.latest_decision(site, comment_id)
    return int(row["id"]) if row else None


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[dict[str, Any]]
    next: int | None  # verdict id to continue below


def audit_page(
    store: Store, moderator: str | None = None, before: int | None = None, limit: int = 50
) -> AuditPage:
    """Every verdict, newest first: who, when, what, and what the platform answered."""
    clauses: list[str] = []
    params: list[Any] = []
    if moderator:
        clauses.append("v.moderator = ?")
        params.append(moderator)
    if before is not None:
        clauses.append("v.id < ?")
        params.append(before)
    where = " AND ".join(clauses) or "1"
    rows = store.query(
        "SELECT v.*, d.text AS text, d.url AS url FROM verdicts v "  # noqa: S608
        f"LEFT JOIN decisions d ON d.id = v.decision_id WHERE {where} "
        "ORDER BY v.id DESC LIMIT ?",
        (*params, limit + 1),
    )
    out = [dict(r) for r in rows[:limit]]
    return AuditPage(out, out[-1]["id"] if len(rows) > limit else None)


def latest_states(store: Store) -> dict[int, str]:
    """decision id -> review state, for every decision a moderator gave a verdict on."""
    rows = store.query(
        "SELECT decision_id, verdict FROM verdicts WHERE decision_id IS NOT NULL "
        "AND action_status != 'failed' ORDER BY id"
    )
    return {row[0]: VERDICT_OF_ACTION[row[1]] for row in rows}
