"""Run every rule's examples: `match` examples must hit (at the expected span), `no_match`
examples must not. What `modbot rules test` and CI run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.models import Author, Comment
from bot.normalize import normalize
from bot.rules.engine import CompiledRule, RuleSet
from bot.rules.language import Example


@dataclass(frozen=True, slots=True)
class Failure:
    rule: CompiledRule
    kind: str  # match | no_match
    text: str
    expected: str | None  # the expected span, for match examples that give one
    found: tuple[str, ...]  # what the rule matched instead

    def describe(self) -> str:
        where = f"{self.rule.source}:{self.rule.line}: rule {self.rule.id}"
        if self.kind == "no_match":
            return f"{where}: should not match {self.text!r}, but matched {list(self.found)!r}"
        if self.expected is not None and self.found:
            return (
                f"{where}: {self.text!r}: expected span {self.expected!r}, "
                f"matched {list(self.found)!r}"
            )
        return f"{where}: should match {self.text!r}, but did not"


@dataclass(frozen=True, slots=True)
class Report:
    rules: int
    examples: int
    failures: tuple[Failure, ...]


def example_comment(example: str | Example) -> tuple[Comment, str]:
    """The comment an example describes (author role, account age, section, site) and its
    platform."""
    if isinstance(example, str):
        return Comment(site="example", id="example", text=example), ""
    now = datetime.now(UTC)
    created = ""
    if example.account_age_days is not None:
        created = (now - timedelta(days=example.account_age_days)).isoformat()
    author = Author(id="example", role=example.author_role, account_created_at=created)
    comment = Comment(
        site=example.site or "example",
        id="example",
        text=example.text,
        author=author,
        created_at=now.isoformat(),
        section=example.section,
    )
    return comment, example.platform


def check_rule(rules: RuleSet, rule: CompiledRule) -> tuple[int, list[Failure]]:
    """Run one rule's examples against the whole rule set; (examples run, failures)."""
    failures: list[Failure] = []
    examples = rule.spec.examples
    for kind, items in (("match", examples.match), ("no_match", examples.no_match)):
        for example in items:
            comment, platform = example_comment(example)
            hits = [
                h
                for h in rules.match(comment, normalize(comment, platform))
                if h.rule_id == rule.id
            ]
            found = tuple(h.matched for h in hits)
            expected = example.span if isinstance(example, Example) else None
            if kind == "no_match" and hits:
                failures.append(Failure(rule, kind, comment.text, None, found))
            elif kind == "match" and (not hits or (expected is not None and expected not in found)):
                failures.append(Failure(rule, kind, comment.text, expected, found))
    return len(examples.match) + len(examples.no_match), failures


def run_examples(rules: RuleSet) -> Report:
    """Every example of every rule (disabled ones too when the set includes them)."""
    count, failures = 0, []
    for rule in rules.rules:
        ran, failed = check_rule(rules, rule)
        count += ran
        failures.extend(failed)
    return Report(len(rules.rules), count, tuple(failures))
