"""`modbot rules explain`: every hit of one text, how it was found, and what was dropped."""

from __future__ import annotations

from typing import Any

from bot.models import Comment, NormalizedText, RuleHit
from bot.normalize import normalize
from bot.rules.engine import Found, RuleSet


def explain(rules: RuleSet, comment: Comment, platform: str = "") -> dict[str, Any]:
    """A JSON-ready account of matching one comment."""
    text = normalize(comment, platform)
    result = rules.evaluate(comment, text)
    return {
        "text": comment.text,
        "rules_version": rules.version,
        "views": [_view(v) for v in result.views],
        "quotes": [{"start": s, "end": e, "text": comment.text[s:e]} for s, e in text.quotes],
        "hits": [_hit(hit, found) for hit, found in result.hits],
        "dropped": [_found(found, text) | {"why": why} for found, why in result.dropped],
    }


def _view(view: Any) -> dict[str, Any]:
    out = {"view": view.name, "text": view.text, "canonical": view.padded.strip()}
    if view.words:
        out["words"] = list(view.words)
    return out


def _found(found: Found, text: NormalizedText) -> dict[str, Any]:
    return {
        "rule": found.rule.id,
        "matcher": found.matcher.label,
        "view": found.view,
        "start": found.start,
        "end": found.end,
        "matched": text.original[found.start : found.end],
        "source": f"{found.rule.source}:{found.rule.line}",
    }


def _hit(hit: RuleHit, found: Found) -> dict[str, Any]:
    return {
        "rule": hit.rule_id,
        "action": hit.action.word,
        "rule_action": found.rule.spec.action,
        "matcher": found.matcher.label,
        "view": found.view,
        "start": hit.start,
        "end": hit.end,
        "matched": hit.matched,
        "notes": list(found.notes),
        "shadow": hit.shadow,
        "reason": hit.reason,
        "labels": list(hit.labels),
        "severity": hit.severity,
        "source": f"{found.rule.source}:{found.rule.line}",
    }


def render(report: dict[str, Any]) -> str:
    """The report as readable text."""
    lines = [f"text: {report['text']!r}", f"rules: {report['rules_version']}", "views:"]
    for view in report["views"]:
        words = f"  (reads {', '.join(view['words'])})" if view.get("words") else ""
        lines.append(f"  {view['view']:<8} {view['text']!r}{words}")
        lines.append(f"  {'':<8} -> {view['canonical']!r}")
    quotes = report["quotes"]
    lines.append("quotes: " + (", ".join(f"{q['start']}-{q['end']}" for q in quotes) or "none"))
    lines.append(f"hits: {len(report['hits']) or 'none'}")
    for hit in report["hits"]:
        capped = "" if hit["action"] == hit["rule_action"] else f" (rule says {hit['rule_action']})"
        shadow = " [shadow]" if hit["shadow"] else ""
        lines.append(
            f"  {hit['rule']}: {hit['action']}{capped}{shadow} {hit['start']}-{hit['end']} "
            f"{hit['matched']!r} via {hit['matcher']} in the {hit['view']} view"
        )
        for note in hit["notes"]:
            lines.append(f"      {note}")
        lines.append(f"      {hit['reason']}  [{hit['source']}]")
    if report["dropped"]:
        lines.append(f"dropped: {len(report['dropped'])}")
        for drop in report["dropped"]:
            lines.append(
                f"  {drop['rule']}: {drop['start']}-{drop['end']} {drop['matched']!r} via "
                f"{drop['matcher']} in the {drop['view']} view: {drop['why']}"
            )
    return "\n".join(lines)
