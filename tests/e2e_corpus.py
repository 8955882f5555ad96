"""Comments for the end-to-end tests, with what the shipped rules and the model should do.

Each comment is built from the tiny model's vocabulary (so its scores vary) plus, for some,
one abusive phrase whose rule action is known. The expected model verdict is computed with
Detoxify's own `predict`, one text at a time: a path independent of modbot's batching and
windowing, so the test checks the service against it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tinymodel import WORDS

# phrase -> (rule id, rule action) in the shipped rules/ folder
ABUSE = {
    "you idiot": ("insult.direct", "flag"),
    "shut up moron": ("insult.direct", "flag"),
    "go home wetback": ("slur.race", "hide"),
    "i will kill you": ("threat.violence", "hide"),
    "they are vermin": ("dehumanizing.predicate", "flag"),
}
ORDER = {"none": 0, "flag": 1, "hide": 2}


@dataclass(frozen=True)
class Case:
    text: str
    rule: str | None
    rule_action: str


def make_corpus(n: int, seed: int = 7) -> list[Case]:
    rng = random.Random(seed)
    harmless = [w for w in WORDS if w not in {"idiot", "kill", "vermin", "stupid", "hate"}]
    cases = []
    for i in range(n):
        words = " ".join(rng.choice(harmless) for _ in range(rng.randint(4, 14)))
        if i % 4 == 0:
            phrase = rng.choice(sorted(ABUSE))
            rule, action = ABUSE[phrase]
            cases.append(Case(f"{words} {phrase} {i}", rule, action))
        else:
            cases.append(Case(f"{words} {i}", None, "none"))
    return cases


def split_thresholds(scores: list[float]) -> tuple[float, float]:
    """Flag and hide thresholds between clearly separated scores (~70th / ~90th percentile)."""
    ordered = sorted(scores)

    def cut(q: float) -> float:
        i = int(len(ordered) * q)
        while i < len(ordered) - 1 and ordered[i + 1] - ordered[i] < 1e-3:
            i += 1
        return (ordered[i] + ordered[i + 1]) / 2

    return round(cut(0.7), 6), round(cut(0.9), 6)


def expected_verdict(case: Case, score: float, flag_at: float, hide_at: float) -> str:
    model = "hide" if score >= hide_at else "flag" if score >= flag_at else "none"
    return max(model, case.rule_action, key=ORDER.__getitem__)
