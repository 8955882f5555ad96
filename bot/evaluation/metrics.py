"""Counts kept while rows stream past, and the figures computed from them.

Everything here is O(1) per row and needs no stored rows: the threshold sweep keeps one
histogram per label over a fixed grid, so the sweep is exact at every grid threshold.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.models import RuleHit, Verdict

SCORERS = ("rules", "model", "policy")
GRID = tuple(k / 100 for k in range(1, 100))  # thresholds searched for the best F1
SHOWN = tuple(k / 10 for k in range(1, 10))  # thresholds listed: 0.1 .. 0.9 (all in GRID)
MAX_LABEL = "max"  # the sweep's pseudo-label: the highest score over all labels
_DIGITS = 4


def ratio(num: int, den: int) -> float | None:
    """num / den rounded for reports, or None where it is undefined (den == 0)."""
    return round(num / den, _DIGITS) if den else None


def f1_score(tp: int, fp: int, fn: int) -> float | None:
    return ratio(2 * tp, 2 * tp + fp + fn)


@dataclass(slots=True)
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, positive: bool, predicted: bool) -> None:
        if positive:
            if predicted:
                self.tp += 1
            else:
                self.fn += 1
        elif predicted:
            self.fp += 1
        else:
            self.tn += 1

    def to_dict(self) -> dict[str, Any]:
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        return {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
            "precision": ratio(tp, tp + fp),
            "recall": ratio(tp, tp + fn),
            "f1": f1_score(tp, fp, fn),
            "flag_rate_negative": ratio(fp, fp + tn),  # share of negatives acted on
        }


@dataclass(slots=True)
class ScorerStats:
    """One scorer's confusion counts plus how its verdicts split by gold class."""

    confusion: Confusion = field(default_factory=Confusion)
    verdicts: dict[str, Counter[str]] = field(
        default_factory=lambda: {"positive": Counter(), "negative": Counter()}
    )

    def add(self, positive: bool, verdict: Verdict) -> None:
        self.confusion.add(positive, verdict > Verdict.NONE)
        self.verdicts["positive" if positive else "negative"][verdict.word] += 1

    def to_dict(self) -> dict[str, Any]:
        words = [v.word for v in Verdict]
        by_class = {k: {w: c[w] for w in words} for k, c in self.verdicts.items()}
        return {**self.confusion.to_dict(), "verdicts": by_class}


@dataclass(slots=True)
class RuleStats:
    action: Verdict = Verdict.NONE  # the strongest action its hits carried
    shadow: bool = True  # every hit was a shadow hit
    rows: int = 0  # rows this rule matched at least once
    hits: int = 0  # spans it matched, over all rows
    tp: int = 0  # ... of which positive
    unique_tp: int = 0  # positives no other live rule caught

    def to_dict(self, rule_id: str, positives: int) -> dict[str, Any]:
        return {
            "id": rule_id,
            "action": "score" if self.action == Verdict.NONE else self.action.word,
            "shadow": self.shadow,
            "rows": self.rows,
            "hits": self.hits,
            "tp": self.tp,
            "fp": self.rows - self.tp,
            "precision": ratio(self.tp, self.rows),
            "share_of_positives": ratio(self.tp, positives),
            "unique_tp": self.unique_tp,
        }


def is_live(hit: RuleHit) -> bool:
    """A hit that acts on its own: flag or hide, not score-only, not shadow."""
    return hit.action > Verdict.NONE and not hit.shadow


@dataclass(slots=True)
class Sweep:
    """Histograms of one label's scores over GRID, per gold class."""

    pos: list[int] = field(default_factory=lambda: [0] * (len(GRID) + 1))
    neg: list[int] = field(default_factory=lambda: [0] * (len(GRID) + 1))

    def add(self, positive: bool, value: float) -> None:
        # bisect_right = how many grid thresholds t have t <= value, i.e. value >= t
        (self.pos if positive else self.neg)[bisect_right(GRID, value)] += 1

    def at(self, index: int) -> dict[str, Any]:
        """Counts and figures for `value >= GRID[index]`."""
        tp, fp = sum(self.pos[index + 1 :]), sum(self.neg[index + 1 :])
        fn = sum(self.pos[: index + 1])
        return {
            "threshold": GRID[index],
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": ratio(tp, tp + fp),
            "recall": ratio(tp, tp + fn),
            "f1": f1_score(tp, fp, fn),
        }

    def to_dict(self) -> dict[str, Any]:
        points = [self.at(i) for i in range(len(GRID))]
        best = max(points, key=lambda p: (p["f1"] or 0.0, p["precision"] or 0.0))
        return {"points": [p for p in points if p["threshold"] in SHOWN], "best": best}


@dataclass(slots=True)
class Group:
    rows: int = 0
    positive: int = 0
    negative: int = 0
    scorers: dict[str, Confusion] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "positive": self.positive,
            "negative": self.negative,
            "scorers": {name: c.to_dict() for name, c in self.scorers.items()},
        }


class Metrics:
    """Everything `modbot eval` reports, accumulated one scored row at a time."""

    def __init__(self, scorers: Iterable[str], flag_thresholds: Mapping[str, float]) -> None:
        self.scorers = {name: ScorerStats() for name in SCORERS if name in set(scorers)}
        self.flag_thresholds = dict(flag_thresholds)
        self.positives = 0
        self.negatives = 0
        self.rules: dict[str, RuleStats] = {}
        self.labels: dict[str, Confusion] = {}
        self.sweeps: dict[str, Sweep] = {}
        self.groups: dict[str, dict[str, Group]] = {}

    def add(
        self,
        positive: bool,
        verdicts: Mapping[str, Verdict],
        hits: tuple[RuleHit, ...],
        labels: Mapping[str, float] | None,
        groups: Mapping[str, tuple[str, ...]],
    ) -> None:
        """One evaluated row: its gold class, each scorer's verdict, the raw hits and scores,
        and the group values it belongs to (column -> values)."""
        if positive:
            self.positives += 1
        else:
            self.negatives += 1
        for name, stats in self.scorers.items():
            stats.add(positive, verdicts[name])
        if "rules" in self.scorers or "policy" in self.scorers:
            self._add_rules(positive, hits)
        if labels is not None:
            self._add_labels(positive, labels)
        for column, values in groups.items():
            for value in values:
                self._add_group(column, value, positive, verdicts)

    def _add_rules(self, positive: bool, hits: tuple[RuleHit, ...]) -> None:
        live = {h.rule_id for h in hits if is_live(h)}
        for rule_id in dict.fromkeys(h.rule_id for h in hits):
            stats = self.rules.setdefault(rule_id, RuleStats())
            mine = [h for h in hits if h.rule_id == rule_id]
            stats.action = max(stats.action, *(h.action for h in mine))
            stats.shadow = stats.shadow and all(h.shadow for h in mine)
            stats.rows += 1
            stats.hits += len(mine)
            if positive:
                stats.tp += 1
                if live == {rule_id}:
                    stats.unique_tp += 1

    def _add_labels(self, positive: bool, labels: Mapping[str, float]) -> None:
        for label, value in labels.items():
            self.sweeps.setdefault(label, Sweep()).add(positive, value)
            threshold = self.flag_thresholds.get(label)
            if threshold is not None:
                self.labels.setdefault(label, Confusion()).add(positive, value >= threshold)
        if labels:
            self.sweeps.setdefault(MAX_LABEL, Sweep()).add(positive, max(labels.values()))

    def _add_group(
        self, column: str, value: str, positive: bool, verdicts: Mapping[str, Verdict]
    ) -> None:
        group = self.groups.setdefault(column, {}).setdefault(value, Group())
        group.rows += 1
        if positive:
            group.positive += 1
        else:
            group.negative += 1
        for name in self.scorers:
            group.scorers.setdefault(name, Confusion()).add(positive, verdicts[name] > 0)

    def to_dict(self) -> dict[str, Any]:
        rules = sorted(self.rules.items(), key=lambda kv: (-kv[1].rows, kv[0]))
        groups = {
            column: {
                value: g.to_dict()
                for value, g in sorted(values.items(), key=lambda kv: (-kv[1].rows, kv[0]))
            }
            for column, values in self.groups.items()
        }
        return {
            "scorers": {name: s.to_dict() for name, s in self.scorers.items()},
            "rules": [stats.to_dict(rule_id, self.positives) for rule_id, stats in rules],
            "labels": {
                label: {"threshold": self.flag_thresholds[label], **c.to_dict()}
                for label, c in sorted(self.labels.items())
            },
            "sweep": {label: s.to_dict() for label, s in self.sweeps.items()},
            "groups": groups,
        }
