"""Decide: turn rule hits and model scores into a verdict, with every reason kept. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import Decision, Reason, RuleHit, Score, Threshold, Verdict


@dataclass(frozen=True, slots=True)
class Policy:
    thresholds: dict[str, Threshold]
    dry_run: bool = False
    max_rule_action: Verdict = Verdict.HIDE


EDITED_AFTER_HIDE = Reason(
    "history",
    "edited_after_hide",
    Verdict.FLAG,
    "edited after modbot hid an earlier version; the new text passes: review it to restore",
)


def decide(score: Score, policy: Policy, hidden_before: bool = False) -> Decision:
    """The verdict for one comment. `hidden_before`: modbot hid an earlier version of it."""
    reasons = [_rule_reason(hit, policy) for hit in score.hits]
    if score.model is not None:
        reasons.extend(_model_reasons(score.model.labels, policy.thresholds))
    reasons = [r for r in reasons if r.verdict > Verdict.NONE or r.kind == "rule"]
    if hidden_before and not any(r.verdict > Verdict.NONE and not r.shadow for r in reasons):
        # a cleaned-up edit stays hidden on the platform; put it in front of a moderator
        reasons.append(EDITED_AFTER_HIDE)
    live = [r.verdict for r in reasons if not r.shadow]
    every = [r.verdict for r in reasons]
    return Decision(
        verdict=max(live, default=Verdict.NONE),
        would_verdict=max(every, default=Verdict.NONE),
        reasons=tuple(reasons),
        dry_run=policy.dry_run,
        thresholds=dict(policy.thresholds),
        model_version=score.model.model if score.model else "",
        rules_version=score.rules_version,
    )


def _rule_reason(hit: RuleHit, policy: Policy) -> Reason:
    verdict = min(hit.action, policy.max_rule_action)
    detail = f"matched {hit.matched!r} at {hit.start}-{hit.end}"
    if hit.reason:
        detail = f"{hit.reason}: {detail}"
    return Reason("rule", hit.rule_id, verdict, detail, shadow=hit.shadow)


def _model_reasons(labels: dict[str, float], thresholds: dict[str, Threshold]) -> list[Reason]:
    reasons = []
    for label, value in sorted(labels.items()):
        threshold = thresholds.get(label)
        if threshold is None:
            continue
        if threshold.hide is not None and value >= threshold.hide:
            reasons.append(
                Reason("model", label, Verdict.HIDE, f"{value:.3f} >= hide {threshold.hide}")
            )
        elif threshold.flag is not None and value >= threshold.flag:
            reasons.append(
                Reason("model", label, Verdict.FLAG, f"{value:.3f} >= flag {threshold.flag}")
            )
    return reasons


def summarize(decision: Decision) -> str:
    """One line for a moderator: the reasons that drove the verdict."""
    driving = [r for r in decision.reasons if r.verdict > Verdict.NONE and not r.shadow]
    return "; ".join(f"{r.name}: {r.detail}" for r in driving) or "no reason"
