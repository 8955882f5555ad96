"""The values that flow through the pipeline, one stage to the next.

Comment -> NormalizedText -> Score -> Decision -> ActionResult -> Record.
Every type is frozen; no module here does I/O.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


class Verdict(enum.IntEnum):
    """What the policy says should happen to a comment, ordered by severity."""

    NONE = 0
    FLAG = 1
    HIDE = 2

    @property
    def word(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, word: str) -> Verdict:
        return cls[word.upper()]


@dataclass(frozen=True, slots=True)
class Author:
    id: str = ""
    name: str = ""
    role: str = ""  # e.g. "moderator", "staff", "member", "anonymous"
    account_created_at: str = ""  # ISO 8601 when the platform says; rules' account_age_days


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment as the platform gave it to us; `text` is never modified."""

    site: str
    id: str
    text: str
    author: Author = field(default_factory=Author)
    thread_id: str = ""
    parent_id: str = ""
    url: str = ""
    created_at: str = ""  # ISO 8601 as the platform sent it
    section: str = ""
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def version(self) -> str:
        """A content hash: a new version of a comment is a new unit of work."""
        return content_hash(self.text)

    @property
    def key(self) -> str:
        return f"{self.site}:{self.id}:{self.version}"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """Text folded for matching, with a map from each folded char to the original."""

    original: str
    text: str
    # offsets[i] is the index in `original` of the character that produced text[i]
    offsets: Sequence[int]
    # the rule engine's readings of the text (bot.normalize.View: plain, joined, leet)
    views: tuple[Any, ...] = ()
    # [start, end) spans of `original` inside quotes (blockquote, [quote], "> " lines)
    quotes: tuple[tuple[int, int], ...] = ()
    platform: str = ""  # the site's platform type ("discourse", ...), for rule conditions

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span in `text` back to a span in `original`."""
        if start >= end or not self.offsets:
            return (0, 0)
        first = self.offsets[start]
        last = self.offsets[end - 1]
        return (first, _char_end(self.original, last))


def _char_end(original: str, index: int) -> int:
    return min(index + 1, len(original))


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule matching one span of the original text."""

    rule_id: str
    action: Verdict
    start: int
    end: int
    matched: str  # the original text of the span
    labels: tuple[str, ...] = ()
    severity: int = 1
    reason: str = ""
    shadow: bool = False
    source: str = ""  # rule file


@dataclass(frozen=True, slots=True)
class ModelScore:
    """Every label's probability from the toxicity model."""

    model: str  # model name and version, e.g. "detoxify:original@c1212f89"
    labels: dict[str, float]
    windows: int = 1  # how many 512-token windows the comment needed


@dataclass(frozen=True, slots=True)
class Score:
    """What all scorers found for one comment."""

    hits: tuple[RuleHit, ...] = ()
    model: ModelScore | None = None
    rules_version: str = ""


@dataclass(frozen=True, slots=True)
class Threshold:
    flag: float | None = None
    hide: float | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """Why the policy decided what it did; `kind` is "rule" or "model"."""

    kind: str
    name: str  # rule id or label
    verdict: Verdict
    detail: str
    shadow: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict  # what modbot does (shadow reasons excluded)
    would_verdict: Verdict  # what it would do if every shadow rule were live
    reasons: tuple[Reason, ...]
    dry_run: bool
    thresholds: dict[str, Threshold]
    model_version: str
    rules_version: str


class ActionStatus(enum.StrEnum):
    NOT_NEEDED = "not_needed"  # verdict none
    DRY_RUN = "dry_run"  # shadow/dry-run: recorded, platform not called
    DONE = "done"
    FAILED = "failed"  # permanent error from the platform
    HUMAN_OVERRIDE = "human_override"  # a moderator restored this version: never fight a human


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: Verdict
    status: ActionStatus
    idempotency_key: str = ""
    attempts: int = 0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Record:
    """One line of the flagged-comments log."""

    comment: Comment
    score: Score
    decision: Decision
    result: ActionResult
    received_at: float
    decided_at: float
    source: str = ""  # "webhook", "poll", "scan", "check"

    def summary(self) -> dict[str, Any]:
        return {
            "site": self.comment.site,
            "comment_id": self.comment.id,
            "decision": self.decision.verdict.word,
            "action": self.result.status.value,
        }
