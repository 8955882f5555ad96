"""Turn decision rows into what the page shows. Comment text is attacker-controlled:
everything here returns `Markup` built with escaping, never raw strings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

from markupsafe import Markup, escape

BAR_W = 120


@dataclass(frozen=True, slots=True)
class ScoreBar:
    label: str
    score: float
    flag: float | None
    hide: float | None
    level: str  # hide | flag | below
    svg: Markup


@dataclass(frozen=True, slots=True)
class RuleView:
    rule_id: str
    verdict: str
    shadow: bool
    detail: str


@dataclass(slots=True)
class EntryView:
    id: int
    site: str
    comment_id: str
    version: str
    text: Markup
    author: str
    author_role: str
    url: str  # "" when not a safe http(s) link
    raw_url: str
    decided_at: str
    kind: str
    state: str
    verdict: str
    would_verdict: str
    action: str
    action_status: str
    action_detail: str
    dry_run: bool
    rules: list[RuleView] = field(default_factory=list)
    model_reasons: list[RuleView] = field(default_factory=list)
    bars: list[ScoreBar] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    escalations: tuple[str, ...] = ()
    newer_id: int | None = None  # the comment was edited since: its newest decided version
    newer_verdict: str = ""

    @property
    def undoable(self) -> bool:
        return self.action in ("flag", "hide") and self.action_status == "done"


def iso(ts: float | None) -> str:
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def safe_url(url: str) -> str:
    """Only absolute http(s) links are linked; anything else (javascript:, data:) is not."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme in ("http", "https") and parts.netloc:
        return url.strip()
    return ""


def highlight(text: str, spans: list[tuple[int, int, str]]) -> Markup:
    """The original text with each [start, end) span in <mark>, escaped piece by piece.

    Spans are offsets into the original text; overlapping spans split into segments, each
    marked with every rule that covers it. Out-of-range offsets are clamped, never trusted.
    """
    n = len(text)
    clean = []
    for start, end, name in spans:
        start, end = max(0, min(n, int(start))), max(0, min(n, int(end)))
        if start < end:
            clean.append((start, end, name))
    cuts = sorted({0, n, *(s for s, _, _ in clean), *(e for _, e, _ in clean)})
    out: list[Markup] = []
    for a, b in pairwise(cuts):
        piece = text[a:b]
        names = sorted({name for s, e, name in clean if s <= a and b <= e})
        if names:
            out.append(
                Markup('<mark class="hit" title="{}">{}</mark>').format(", ".join(names), piece)
            )
        else:
            out.append(escape(piece))
    return Markup("").join(out)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def score_bar(label: str, score: float, flag: float | None, hide: float | None) -> ScoreBar:
    """A small SVG bar: the score, with ticks at the decision's flag and hide thresholds."""
    level = "below"
    if hide is not None and score >= hide:
        level = "hide"
    elif flag is not None and score >= flag:
        level = "flag"
    width = max(0.0, min(1.0, score)) * BAR_W
    ticks = []
    for name, at in (("flag", flag), ("hide", hide)):
        if at is not None:
            x = round(max(0.0, min(1.0, at)) * BAR_W, 1)
            ticks.append(
                Markup('<line class="tick-{}" x1="{}" x2="{}" y1="0" y2="12"/>').format(name, x, x)
            )
    desc = f"{label} {score:.3f}" + (f", flag at {flag:.2f}" if flag is not None else "")
    desc += f", hide at {hide:.2f}" if hide is not None else ""
    svg = Markup(
        '<svg class="bar" width="{w}" height="12" viewBox="0 0 {w} 12" role="img" '
        'aria-label="{desc}"><title>{desc}</title>'
        '<rect class="track" x="0" y="2" width="{w}" height="8"/>'
        '<rect class="fill {level}" x="0" y="2" width="{fw}" height="8"/>{ticks}</svg>'
    ).format(w=BAR_W, desc=desc, level=level, fw=round(width, 1), ticks=Markup("").join(ticks))
    return ScoreBar(label, score, flag, hide, level, svg)


def bars(scores: dict[str, Any], thresholds: dict[str, Any]) -> list[ScoreBar]:
    out = []
    for label, value in scores.items():
        score = _num(value)
        if score is None:
            continue
        limits = thresholds.get(label) if isinstance(thresholds, dict) else None
        limits = limits if isinstance(limits, dict) else {}
        out.append(score_bar(str(label), score, _num(limits.get("flag")), _num(limits.get("hide"))))
    out.sort(key=lambda b: -b.score)
    return out


def entry_view(row: dict[str, Any], escalations: tuple[str, ...] = ()) -> EntryView:
    hits = [h for h in row["hits"] if isinstance(h, dict)]
    spans = [(h.get("start", 0), h.get("end", 0), str(h.get("rule_id", ""))) for h in hits]
    rules: list[RuleView] = []
    model: list[RuleView] = []
    for r in row["reasons"]:
        if not isinstance(r, dict):
            continue
        view = RuleView(
            str(r.get("name", "")),
            str(r.get("verdict", "")),
            bool(r.get("shadow")),
            str(r.get("detail", "")),
        )
        (rules if r.get("kind") != "model" else model).append(view)
    newer = row.get("newer") or {}  # the comment's newest decided version, if edited since
    return EntryView(
        id=row["id"],
        site=row["site"],
        comment_id=row["comment_id"],
        version=row["version"],
        text=highlight(row["text"], spans),
        author=row["author_name"] or row["author_id"] or "(unknown)",
        author_role=row["author_role"],
        url=safe_url(row["url"]),
        raw_url=row["url"],
        decided_at=iso(row["decided_at"]),
        kind=row.get("kind", "none"),
        state=row.get("state", "pending"),
        verdict=row["verdict"],
        would_verdict=row["would_verdict"],
        action=row["action"],
        action_status=row["action_status"],
        action_detail=row["action_detail"],
        dry_run=row["dry_run"],
        rules=rules,
        model_reasons=model,
        bars=bars(row["scores"], row["thresholds"]),
        history=[{**v, "when": iso(v["created_at"])} for v in row.get("history", [])],
        escalations=escalations,
        newer_id=newer.get("id"),
        newer_verdict=str(newer.get("verdict", "")),
    )
