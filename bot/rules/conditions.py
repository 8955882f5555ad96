"""Rule conditions (`when:`): which comments a rule applies to at all."""

from __future__ import annotations

import operator
from datetime import UTC, datetime

from bot.models import Comment
from bot.rules.language import NumberCondition, TextCondition, TextSet, When


def failed_condition(when: When | None, comment: Comment, platform: str) -> str | None:
    """Why the rule does not apply to this comment, or None when every condition holds."""
    if when is None:
        return None
    texts = (
        ("author_role", when.author_role, comment.author.role),
        ("platform", when.platform, platform),
        ("section", when.section, comment.section),
        ("site", when.site, comment.site),
    )
    for name, condition, value in texts:
        if condition is not None and not _text_holds(condition, value):
            return f"{name} is {value!r}: not {_describe(condition)}"
    if when.account_age_days is not None:
        age = account_age_days(comment)
        if age is None:
            return "account_age_days: the author's account creation date is unknown"
        if not _number_holds(when.account_age_days, age):
            return f"account_age_days is {age:.1f}"
    return None


def _text_holds(condition: TextCondition, value: str) -> bool:
    value = value.casefold()
    if isinstance(condition, TextSet):
        if condition.in_ is not None and value not in {v.casefold() for v in condition.in_}:
            return False
        return not (condition.not_ is not None and value in {v.casefold() for v in condition.not_})
    return value in {v.casefold() for v in condition}


def _describe(condition: TextCondition) -> str:
    if isinstance(condition, TextSet):
        parts = []
        if condition.in_ is not None:
            parts.append(f"in {list(condition.in_)}")
        if condition.not_ is not None:
            parts.append(f"not in {list(condition.not_)}")
        return " and ".join(parts) or "anything"
    return f"in {list(condition)}"


def _number_holds(condition: NumberCondition, value: float) -> bool:
    checks = (
        (condition.lt, operator.lt),
        (condition.le, operator.le),
        (condition.gt, operator.gt),
        (condition.ge, operator.ge),
    )
    return all(test(value, bound) for bound, test in checks if bound is not None)


def parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def account_age_days(comment: Comment) -> float | None:
    """Days between the author's account creation and the comment (or now)."""
    created = parse_time(comment.author.account_created_at)
    if created is None:
        return None
    at = parse_time(comment.created_at) or datetime.now(UTC)
    return (at - created).total_seconds() / 86400
