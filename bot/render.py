"""Human and JSON output of decisions, for `modbot check`, `modbot log` and the demo."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.models import Comment, Decision, Score, Verdict

VERDICT_STYLE = {"none": "green", "flag": "yellow", "hide": "bold red"}


def explain_dict(comment: Comment, score: Score, decision: Decision) -> dict[str, Any]:
    """Everything behind a decision, JSON-ready."""
    return {
        "text": comment.text,
        "verdict": decision.verdict.word,
        "would_verdict": decision.would_verdict.word,
        "dry_run": decision.dry_run,
        "reasons": [{**asdict(r), "verdict": r.verdict.word} for r in decision.reasons],
        "hits": [{**asdict(h), "action": h.action.word} for h in score.hits],
        "scores": score.model.labels if score.model else None,
        "windows": score.model.windows if score.model else None,
        "thresholds": {k: asdict(v) for k, v in decision.thresholds.items()},
        "model_version": decision.model_version or None,
        "rules_version": decision.rules_version,
    }


def explain_json(comment: Comment, score: Score, decision: Decision) -> str:
    return json.dumps(explain_dict(comment, score, decision), ensure_ascii=False, indent=2)


def highlighted(text: str, spans: list[tuple[int, int]]) -> Text:
    out = Text(text)
    for start, end in spans:
        out.stylize("bold reverse red", start, end)
    return out


def print_explanation(console: Console, comment: Comment, score: Score, decision: Decision) -> None:
    verdict = decision.verdict.word
    console.print(Text.assemble("verdict: ", (verdict.upper(), VERDICT_STYLE[verdict])), end="")
    if decision.would_verdict > decision.verdict:
        console.print(f"  (shadow rules would {decision.would_verdict.word})", end="")
    console.print()
    console.print(highlighted(comment.text, [(h.start, h.end) for h in score.hits]))
    for reason in decision.reasons:
        tag = " [shadow]" if reason.shadow else ""
        console.print(
            f"  - {reason.kind} {reason.name}: {reason.verdict.word}{tag}: {reason.detail}",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
    if score.model is not None:
        console.print(scores_table(score.model.labels, decision))
    else:
        console.print("  model: off (rules only)")
    console.print(f"  rules {decision.rules_version}  model {decision.model_version or '-'}")


def scores_table(labels: dict[str, float], decision: Decision) -> Table:
    table = Table(box=None, padding=(0, 2), show_header=True)
    for column in ("label", "score", "flag at", "hide at", ""):
        table.add_column(column)
    for label, value in sorted(labels.items(), key=lambda kv: -kv[1]):
        threshold = decision.thresholds.get(label)
        flag = threshold.flag if threshold else None
        hide = threshold.hide if threshold else None
        bar = "#" * round(value * 20)
        style = _score_style(value, flag, hide)
        table.add_row(
            label, Text(f"{value:.3f}", style=style), _fmt(flag), _fmt(hide), Text(bar, style=style)
        )
    return table


def _score_style(value: float, flag: float | None, hide: float | None) -> str:
    if hide is not None and value >= hide:
        return VERDICT_STYLE["hide"]
    if flag is not None and value >= flag:
        return VERDICT_STYLE["flag"]
    return "dim"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def log_table(records: list[dict[str, Any]]) -> Table:
    table = Table(show_lines=False)
    for column in ("when (UTC)", "site", "comment", "decision", "action", "rules / labels", "text"):
        table.add_column(column, overflow="fold")
    for r in records:
        labels = [x["name"] for x in r["reasons"] if x["kind"] == "model"]
        why = ", ".join(r["rules"] + labels) or "-"
        decision = r["verdict"]
        if r["would_verdict"] != decision:
            decision += f" (would {r['would_verdict']})"
        table.add_row(
            r["decided_at_iso"].replace("+00:00", ""),
            r["site"],
            r["comment_id"],
            Text(decision, style=VERDICT_STYLE.get(r["verdict"], "")),
            r["action_status"],
            why,
            _snippet(r["text"]),
        )
    return table


def _snippet(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def verdict_counts(verdicts: list[Verdict]) -> dict[str, int]:
    return {v.word: verdicts.count(v) for v in Verdict}
