"""The scorer seams: rules find spans, the model gives label probabilities."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.models import Comment, ModelScore, NormalizedText, RuleHit


@runtime_checkable
class RuleScorer(Protocol):
    version: str

    def match(self, comment: Comment, text: NormalizedText) -> tuple[RuleHit, ...]:
        """Every rule hit in the comment, spans in the original text."""
        ...

    def notice(self, hit: RuleHit) -> str:
        """The message for the comment's author that the hit's rule defines, or ""."""
        ...


@runtime_checkable
class ModelScorer(Protocol):
    version: str
    labels: tuple[str, ...]

    async def start(self) -> None:
        """Load and warm up; raises ModelLoadError with a fix when it cannot."""
        ...

    async def score(self, text: str) -> ModelScore:
        """Score one text; calls that arrive together are batched."""
        ...

    async def close(self) -> None: ...
