"""`modbot replay`: backtest a candidate rule set (and thresholds) on the logged comments.

Every logged comment is scored again with the candidate rules, decided with the candidate
policy, and compared with what modbot decided then and what moderators said since:
new flags, flags lost, and per rule the estimated precision, confirmed / (confirmed +
restored) over the comments that rule would hit, plus what removing the rule would change.

Model scores: `recorded` reuses the scores modbot logged (no model is loaded), `off`
scores with rules only, `rerun` runs the model of the config again. Thresholds come from
the config's policy when one is given, else from each decision's recorded thresholds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.models import Author, Comment, Decision, ModelScore, Score, Threshold, Verdict
from bot.normalize import normalize
from bot.policy import Policy, decide
from bot.review import queries
from bot.scoring.base import RuleScorer
from bot.store import Store

BATCH = 1000
MODES = ("recorded", "off", "rerun")


@dataclass(frozen=True, slots=True)
class Change:
    decision_id: int
    site: str
    comment_id: str
    before: str
    after: str
    state: str  # the moderators' verdict on it: pending | confirmed | restored | dismissed
    rules_before: tuple[str, ...]
    rules_after: tuple[str, ...]
    text: str


@dataclass(slots=True)
class RuleReport:
    rule_id: str
    status: str  # candidate | removed (logged hits, absent from the candidate set)
    shadow: bool = False
    hits: int = 0
    confirmed: int = 0
    restored: int = 0
    dismissed: int = 0
    pending: int = 0
    # what removing this rule (alone) from the candidate set would change
    removal_lost: int = 0  # comments no longer flagged or hidden at all
    removal_softened: int = 0  # hidden -> flagged
    removal_restored: int = 0  # of those, moderators had restored (false positives gone)
    removal_confirmed: int = 0  # of those, moderators had confirmed (true positives lost)

    @property
    def precision(self) -> float | None:
        seen = self.confirmed + self.restored
        return self.confirmed / seen if seen else None

    def count(self, state: str) -> None:
        self.hits += 1
        if state in ("confirmed", "restored", "dismissed", "pending"):
            setattr(self, state, getattr(self, state) + 1)


@dataclass(slots=True)
class ReplayReport:
    mode: str
    replayed: int = 0
    before: dict[str, int] = field(default_factory=lambda: {"none": 0, "flag": 0, "hide": 0})
    after: dict[str, int] = field(default_factory=lambda: {"none": 0, "flag": 0, "hide": 0})
    new_flags: list[Change] = field(default_factory=list)
    lost_flags: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)  # flag <-> hide
    rules: dict[str, RuleReport] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        rules = []
        for r in self.sorted_rules():
            rules.append({**asdict(r), "precision": r.precision})
        return {
            "mode": self.mode,
            "replayed": self.replayed,
            "before": self.before,
            "after": self.after,
            "new_flags": [asdict(c) for c in self.new_flags],
            "lost_flags": [asdict(c) for c in self.lost_flags],
            "changed": [asdict(c) for c in self.changed],
            "rules": rules,
        }

    def sorted_rules(self) -> list[RuleReport]:
        return sorted(
            self.rules.values(), key=lambda r: (r.status != "candidate", -r.hits, r.rule_id)
        )


def recorded_policy(row: Mapping[str, Any]) -> Policy:
    thresholds = {
        label: Threshold(flag=t.get("flag"), hide=t.get("hide"))
        for label, t in row["thresholds"].items()
        if isinstance(t, dict)
    }
    return Policy(thresholds=thresholds)


def comment_of(row: Mapping[str, Any]) -> Comment:
    return Comment(
        site=row["site"],
        id=row["comment_id"],
        text=row["text"],
        author=Author(row["author_id"], row["author_name"], row["author_role"]),
        thread_id=row["thread_id"],
        parent_id=row["parent_id"],
        url=row["url"],
        created_at=row["created_at"],
    )


def iter_rows(
    store: Store, since: float | None = None, limit: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """The log in batches, oldest first (keyset on id)."""
    last, left = 0, limit
    while left is None or left > 0:
        size = BATCH if left is None else min(BATCH, left)
        rows = store.query(
            "SELECT * FROM decisions WHERE id > ? AND decided_at >= ? ORDER BY id LIMIT ?",
            (last, since or 0.0, size),
        )
        if not rows:
            return
        batch = [queries.decode_row(dict(r)) for r in rows]
        yield batch
        last = batch[-1]["id"]
        if left is not None:
            left -= len(batch)


class Replayer:
    """Feed it logged rows (with the model scores to use); read `report` at the end."""

    def __init__(
        self,
        rules: RuleScorer,
        states: Mapping[int, str],
        mode: str = "recorded",
        policy_for: Callable[[str], Policy | None] = lambda site: None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.rules = rules
        self.states = states
        self.policy_for = policy_for
        self.report = ReplayReport(mode)

    def feed(self, row: dict[str, Any], model: ModelScore | None = None) -> None:
        comment = comment_of(row)
        if self.report.mode == "recorded" and row["scores"]:
            model = ModelScore(row["model_version"], dict(row["scores"]))
        hits = self.rules.match(comment, normalize(comment))
        policy = self.policy_for(comment.site) or recorded_policy(row)
        decision = decide(Score(hits=hits, model=model, rules_version=self.rules.version), policy)
        state = self.states.get(row["id"], "pending")
        self._count(row, decision, state, hits)

    def _count(self, row: dict[str, Any], decision: Decision, state: str, hits: Any) -> None:
        report = self.report
        report.replayed += 1
        before, after = row["verdict"], decision.verdict.word
        report.before[before] = report.before.get(before, 0) + 1
        report.after[after] = report.after.get(after, 0) + 1
        new_rules = tuple(sorted({h.rule_id for h in hits}))
        for rule_id in new_rules:
            rule = report.rules.setdefault(rule_id, RuleReport(rule_id, "candidate"))
            rule.shadow = any(h.shadow for h in hits if h.rule_id == rule_id)
            rule.count(state)
        old_rules = tuple(
            sorted({h.get("rule_id", "") for h in row["hits"] if isinstance(h, dict)})
        )
        if before != after:
            change = Change(
                row["id"],
                row["site"],
                row["comment_id"],
                before,
                after,
                state,
                old_rules,
                new_rules,
                row["text"][:200],
            )
            if before == "none":
                report.new_flags.append(change)
            elif after == "none":
                report.lost_flags.append(change)
            else:
                report.changed.append(change)
        self._removal(decision, state)

    def _removal(self, decision: Decision, state: str) -> None:
        """For each rule driving this verdict: the verdict without it."""
        live = [r for r in decision.reasons if not r.shadow and r.verdict > Verdict.NONE]
        for name in {r.name for r in live if r.kind == "rule"}:
            rest = max(
                (r.verdict for r in live if not (r.kind == "rule" and r.name == name)),
                default=Verdict.NONE,
            )
            if rest >= decision.verdict:
                continue
            rule = self.report.rules[name]
            if rest is Verdict.NONE:
                rule.removal_lost += 1
            else:
                rule.removal_softened += 1
            if state == "restored":
                rule.removal_restored += 1
            elif state == "confirmed":
                rule.removal_confirmed += 1

    def finish(self, store: Store, since: float | None = None) -> ReplayReport:
        """Add rules that hit logged comments but are not in the candidate set."""
        known = set(self.report.rules)
        rows = store.query(
            "SELECT DISTINCT h.rule_id, h.decision_id FROM decision_hits h "
            "JOIN decisions d ON d.id = h.decision_id WHERE d.decided_at >= ?",
            (since or 0.0,),
        )
        for rule_id, decision_id in rows:
            if rule_id in known:
                continue
            rule = self.report.rules.setdefault(rule_id, RuleReport(rule_id, "removed"))
            rule.count(self.states.get(decision_id, "pending"))
        return self.report


def run(
    store: Store,
    rules: RuleScorer,
    mode: str = "recorded",
    policy_for: Callable[[str], Policy | None] = lambda site: None,
    since: float | None = None,
    limit: int | None = None,
) -> ReplayReport:
    """Replay without running a model (modes recorded and off)."""
    replayer = Replayer(rules, queries.latest_states(store), mode, policy_for)
    for batch in iter_rows(store, since, limit):
        for row in batch:
            replayer.feed(row)
    return replayer.finish(store, since)
