"""Figures for the stats page: decisions per day, hits and reviewer precision per rule
(shadow rules as "would have flagged"), and score histograms of confirmed versus restored
comments per label. Precision = confirmed / (confirmed + restored); dismissed counts in
neither."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from bot.review import svg
from bot.store import Store

DAY_S = 86_400
BINS = 10
KIND_SERIES = (
    svg.Series("hidden", "s-hide"),
    svg.Series("flagged", "s-flag"),
    svg.Series("would have flagged (shadow)", "s-shadow"),
)
STATE_SERIES = (
    svg.Series("confirmed", "s-confirmed"),
    svg.Series("restored", "s-restored"),
    svg.Series("dismissed", "s-dismissed"),
    svg.Series("pending", "s-pending"),
)
HIST_SERIES = (svg.Series("confirmed", "s-confirmed"), svg.Series("restored", "s-restored"))


def precision(confirmed: int, restored: int) -> float | None:
    return confirmed / (confirmed + restored) if confirmed + restored else None


@dataclass(slots=True)
class RuleStats:
    rule_id: str
    shadow: bool
    hits: int = 0
    confirmed: int = 0
    restored: int = 0
    dismissed: int = 0
    pending: int = 0

    @property
    def precision(self) -> float | None:
        return precision(self.confirmed, self.restored)


@dataclass(slots=True)
class Stats:
    days: list[str]
    per_day: dict[str, list[int]]  # kind -> count per day
    logged_per_day: list[int]  # every decision, flagged or not
    rules: list[RuleStats]
    histograms: dict[str, dict[str, list[int]]]  # label -> state -> counts per bin
    charts: dict[str, Markup] = field(default_factory=dict)


def collect(store: Store, days: int = 30, now: float | None = None) -> Stats:
    now = time.time() if now is None else now
    first_day = int(now // DAY_S) - days + 1
    since = first_day * DAY_S
    day_names = [
        dt.datetime.fromtimestamp((first_day + i) * DAY_S, dt.UTC).strftime("%Y-%m-%d")
        for i in range(days)
    ]
    per_day = {kind: [0] * days for kind in ("hide", "flag", "shadow")}
    for day, kind, count in store.query(
        "SELECT CAST(decided_at / 86400 AS INTEGER), kind, COUNT(*) FROM review_queue "
        "WHERE decided_at >= ? GROUP BY 1, 2",
        (since,),
    ):
        if 0 <= day - first_day < days:
            per_day[kind][day - first_day] = count
    logged = [0] * days
    for day, count in store.query(
        "SELECT CAST(decided_at / 86400 AS INTEGER), COUNT(*) FROM decisions "
        "WHERE decided_at >= ? GROUP BY 1",
        (since,),
    ):
        if 0 <= day - first_day < days:
            logged[day - first_day] = count
    return Stats(day_names, per_day, logged, rule_stats(store, since), histograms(store, since))


def rule_stats(store: Store, since: float = 0.0) -> list[RuleStats]:
    rows = store.query(
        "SELECT r.rule_id, COUNT(*), SUM(q.state = 'confirmed'), SUM(q.state = 'restored'), "
        "SUM(q.state = 'dismissed'), SUM(q.state = 'pending') "
        "FROM (SELECT DISTINCT rule_id, decision_id FROM decision_hits) r "
        "JOIN review_queue q ON q.decision_id = r.decision_id WHERE q.decided_at >= ? "
        "GROUP BY r.rule_id ORDER BY COUNT(*) DESC",
        (since,),
    )
    shadow = shadow_rules(store, [row[0] for row in rows])
    return [RuleStats(r[0], r[0] in shadow, r[1], r[2], r[3], r[4], r[5]) for r in rows]


def shadow_rules(store: Store, rule_ids: list[str]) -> set[str]:
    """Rules whose latest hit was in shadow mode (the hit records it, the table does not)."""
    out = set()
    for rule_id in rule_ids:
        rows = store.query(
            "SELECT d.hits FROM decision_hits h JOIN decisions d ON d.id = h.decision_id "
            "WHERE h.rule_id = ? ORDER BY h.decision_id DESC LIMIT 1",
            (rule_id,),
        )
        if not rows:
            continue
        try:
            hits = json.loads(rows[0][0])
        except ValueError:
            continue
        if any(
            isinstance(h, dict) and h.get("rule_id") == rule_id and h.get("shadow") for h in hits
        ):
            out.add(rule_id)
    return out


def histograms(store: Store, since: float = 0.0) -> dict[str, dict[str, list[int]]]:
    out: dict[str, dict[str, list[int]]] = {}
    for label, bin_, state, count in store.query(
        "SELECT s.label, MIN(CAST(s.score * 10 AS INTEGER), 9), q.state, COUNT(*) "
        "FROM review_queue q JOIN review_scores s ON s.decision_id = q.decision_id "
        "WHERE q.state IN ('confirmed', 'restored') AND q.decided_at >= ? GROUP BY 1, 2, 3",
        (since,),
    ):
        per_state = out.setdefault(label, {"confirmed": [0] * BINS, "restored": [0] * BINS})
        per_state[state][max(0, bin_)] += count
    return dict(sorted(out.items()))


def render(stats: Stats) -> Stats:
    """Attach the SVG charts to the figures."""
    kinds = [stats.per_day[k] for k in ("hide", "flag", "shadow")]
    stats.charts["per_day"] = svg.stacked_columns(
        "per-day", "Flagged and hidden comments per day", stats.days, KIND_SERIES, kinds
    )
    if stats.rules:
        names = [r.rule_id + (" (shadow)" if r.shadow else "") for r in stats.rules]
        counts = [[getattr(r, s.name) for r in stats.rules] for s in STATE_SERIES]
        stats.charts["rule_hits"] = svg.hbars(
            "rule-hits", "Hits per rule by review state", names, STATE_SERIES, counts
        )
        stats.charts["rule_precision"] = svg.hbars(
            "rule-precision",
            "Reviewer precision per rule: confirmed / (confirmed + restored)",
            names,
            (svg.Series("precision", "s-precision"),),
            [[r.precision or 0.0 for r in stats.rules]],
            scale_max=1.0,
            fmt="{:.2f}",
        )
    for label, per_state in stats.histograms.items():
        stats.charts[f"hist:{label}"] = svg.grouped_histogram(
            "histogram",
            f"{label}: scores of confirmed vs restored comments",
            HIST_SERIES,
            [per_state["confirmed"], per_state["restored"]],
        )
    return stats


def as_json(stats: Stats) -> dict[str, Any]:
    return {
        "days": stats.days,
        "per_day": stats.per_day,
        "logged_per_day": stats.logged_per_day,
        "rules": [
            {
                "rule": r.rule_id,
                "shadow": r.shadow,
                "hits": r.hits,
                "confirmed": r.confirmed,
                "restored": r.restored,
                "dismissed": r.dismissed,
                "pending": r.pending,
                "precision": r.precision,
            }
            for r in stats.rules
        ],
        "histograms": stats.histograms,
    }
