"""The evaluation loop: read rows in chunks, score them, count, write predictions.

Rules run per row; the model runs once per chunk through `DetoxifyScorer.score_texts`, which
sorts each chunk's windows by length and batches them. Each scorer's verdict comes from the
real policy (`bot.policy.decide`) applied to what that scorer found, so the figures are the
ones the service would produce with the same config.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.evaluation.data import (
    POSITIVE,
    SKIPPED,
    DataSpec,
    ReadStats,
    Row,
    group_values,
    read_rows,
)
from bot.evaluation.metrics import Metrics, f1_score
from bot.evaluation.predictions import Prediction, PredictionWriter
from bot.models import Comment, ModelScore, RuleHit, Score, Verdict
from bot.normalize import normalize
from bot.policy import Policy, decide

if TYPE_CHECKING:
    from bot.scoring.rules import RuleSet

CHUNK_ROWS = 256


class TextScorer(Protocol):
    """What the loop needs from the model: DetoxifyScorer, already loaded."""

    version: str
    labels: tuple[str, ...]

    def score_texts(self, texts: Sequence[str]) -> list[ModelScore]: ...


@dataclass(slots=True)
class Timing:
    rules_s: float = 0.0
    model_s: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def to_dict(self, rows: int) -> dict[str, Any]:
        total = time.perf_counter() - self.started
        return {
            "total_s": round(total, 3),
            "rules_s": round(self.rules_s, 3),
            "model_s": round(self.model_s, 3),
            "rows_per_s": round(rows / total, 1) if total > 0 else None,
        }


def flag_thresholds(policy: Policy) -> dict[str, float]:
    """Each label's lowest acting threshold: where the policy starts to flag on it."""
    out: dict[str, float] = {}
    for label, threshold in policy.thresholds.items():
        value = threshold.flag if threshold.flag is not None else threshold.hide
        if value is not None:
            out[label] = value
    return out


def chunked(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Evaluator:
    """One evaluation run. `rules` is needed for the rules and policy scorers, `model` for
    the model scorer (the policy uses it when given)."""

    def __init__(
        self,
        spec: DataSpec,
        scorers: Sequence[str],
        policy: Policy,
        rules: RuleSet | None,
        model: TextScorer | None,
        writer: PredictionWriter | None = None,
        chunk_rows: int = CHUNK_ROWS,
        platform: str = "",
    ) -> None:
        self.platform = platform  # the platform type rules' `when: platform` conditions see
        self.spec = spec
        self.scorers = tuple(scorers)
        self.policy = policy
        self.rules = rules
        self.model = model
        self.writer = writer
        self.chunk_rows = chunk_rows
        self.stats = ReadStats()
        self.metrics = Metrics(self.scorers, flag_thresholds(policy))
        self.timing = Timing()

    def run(self, progress: Callable[[ReadStats], None] | None = None) -> dict[str, Any]:
        """Score every row; returns the counts and figures (see `result`)."""
        for chunk in chunked(self._read(), self.chunk_rows):
            self._score_chunk(chunk)
            if progress is not None:
                progress(self.stats)
        return self.result()

    def _read(self) -> Iterator[Row]:
        # label-skipped rows are scored only when they are written back
        for row in read_rows(self.spec, self.stats):
            if row.gold != SKIPPED or self.writer is not None:
                yield row

    def _score_chunk(self, rows: list[Row]) -> None:
        hits = self._match(rows)
        scores = self._model_scores(rows)
        for row, row_hits, model_score in zip(rows, hits, scores, strict=True):
            verdicts = self._verdicts(row_hits, model_score)
            if row.gold != SKIPPED:
                groups = {c: group_values(row.fields.get(c)) for c in self.spec.group_columns}
                labels = model_score.labels if model_score else None
                self.metrics.add(row.gold == POSITIVE, verdicts, row_hits, labels, groups)
            if self.writer is not None:
                self._write(row, row_hits, model_score, verdicts)

    def _match(self, rows: list[Row]) -> list[tuple[RuleHit, ...]]:
        if self.rules is None:
            return [()] * len(rows)
        started = time.perf_counter()
        out = []
        for row in rows:
            comment = Comment(site="eval", id=f"{row.file.name}:{row.number}", text=row.text)
            out.append(self.rules.match(comment, normalize(comment, self.platform)))
        self.timing.rules_s += time.perf_counter() - started
        return out

    def _model_scores(self, rows: list[Row]) -> Sequence[ModelScore | None]:
        if self.model is None:
            return [None] * len(rows)
        started = time.perf_counter()
        scores = self.model.score_texts([row.text for row in rows])
        self.timing.model_s += time.perf_counter() - started
        return scores

    def _verdicts(
        self, hits: tuple[RuleHit, ...], model_score: ModelScore | None
    ) -> dict[str, Verdict]:
        out: dict[str, Verdict] = {}
        if "rules" in self.scorers:
            out["rules"] = decide(Score(hits=hits), self.policy).verdict
        if "model" in self.scorers:
            out["model"] = decide(Score(model=model_score), self.policy).verdict
        if "policy" in self.scorers:
            out["policy"] = decide(Score(hits=hits, model=model_score), self.policy).verdict
        return out

    def _write(
        self,
        row: Row,
        hits: tuple[RuleHit, ...],
        model_score: ModelScore | None,
        verdicts: dict[str, Verdict],
    ) -> None:
        assert self.writer is not None
        version = self.rules.version if self.rules else ""
        decision = decide(Score(hits=hits, model=model_score, rules_version=version), self.policy)
        self.writer.write(
            Prediction(
                fields=row.fields,
                file=str(row.file),
                gold=row.gold,
                split=row.split,
                decision=decision,
                verdicts=verdicts,
                hits=hits,
                model=model_score,
            )
        )

    def result(self) -> dict[str, Any]:
        """The document `--json` prints: inputs, row counts, versions, figures, timing."""
        spec, stats, metrics = self.spec, self.stats, self.metrics
        evaluated = metrics.positives + metrics.negatives
        return {
            "data": {
                "files": [str(p) for p in spec.files],
                "text_column": spec.text_column,
                "label_column": spec.label_column,
                "positive": list(spec.positive),
                "negative": list(spec.negative),
                "group_columns": list(spec.group_columns),
                "split": spec.split,
                "limit": spec.limit,
            },
            "rows": {
                "read": stats.rows_read,
                "evaluated": evaluated,
                "positive": metrics.positives,
                "negative": metrics.negatives,
                "skipped_labels": dict(sorted(stats.skipped_labels.items())),
                "outside_split": stats.outside_split,
                # the F1 of flagging every row: the floor any useful scorer must beat
                "flag_everything_f1": f1_score(metrics.positives, metrics.negatives, 0),
            },
            "versions": {
                "rules": self.rules.version if self.rules else None,
                "model": self.model.version if self.model else None,
            },
            "thresholds": {
                label: {"flag": t.flag, "hide": t.hide}
                for label, t in sorted(self.policy.thresholds.items())
            },
            **metrics.to_dict(),
            "timing": self.timing.to_dict(evaluated),
        }
