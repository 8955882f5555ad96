"""Helpers for tests of rules: build a RuleSet from YAML text and match a text against it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from bot.models import Author, Comment, RuleHit
from bot.normalize import normalize
from bot.rules.engine import Evaluation, RuleSet
from bot.rules.loader import build_ruleset, parse_text


def rules_from_yaml(*texts: str, include_disabled: bool = False) -> RuleSet:
    """A RuleSet from one or more rule files given as (dedented) YAML text."""
    files = [parse_text(Path(f"test{i}.yaml"), textwrap.dedent(t)) for i, t in enumerate(texts)]
    return build_ruleset(files, include_disabled=include_disabled)


def comment(
    text: str, role: str = "", section: str = "", site: str = "test", account_created_at: str = ""
) -> Comment:
    """A comment with the fields rule conditions look at."""
    author = Author(id="a", role=role, account_created_at=account_created_at)
    return Comment(site=site, id="1", text=text, author=author, section=section)


def match(rules: RuleSet, text: str, platform: str = "", **fields: str) -> tuple[RuleHit, ...]:
    """The rule hits of `text` (comment fields such as role= or section= as keywords)."""
    one = comment(text, **fields)
    return rules.match(one, normalize(one, platform))


def evaluate(rules: RuleSet, text: str, platform: str = "", **fields: str) -> Evaluation:
    one = comment(text, **fields)
    return rules.evaluate(one, normalize(one, platform))


def spans(rules: RuleSet, text: str, **fields: str) -> list[str]:
    """The original text of every hit, in order."""
    return [text[h.start : h.end] for h in match(rules, text, **fields)]
