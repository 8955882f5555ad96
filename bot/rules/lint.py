"""`modbot rules lint`: problems a rule file can load with, and the ones it cannot.

Errors (exit 1): anything the loader refuses (schema, duplicate ids or lists, unknown lists,
regexes RE2 rejects). Warnings (exit 0): unused lists, a term already matched by another rule
with an action at least as strong, a term its own rule's exceptions always drop, a pattern
anchored on a frequent word, slow regexes (over 50 ms on a 100 KB adversarial text), match
regexes with a long counted repetition (`{2,150}`), duplicate terms, wildcards with too little
literal text, rules without examples.
"""

from __future__ import annotations

import random
import re
import string
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import re2

from bot.models import Comment
from bot.normalize import canonical_words, normalize_text
from bot.rules.engine import CompiledRule, RuleSet
from bot.rules.language import Matcher, PatternStep, Rule, re2_options
from bot.rules.loader import (
    ParsedFile,
    RuleLoadError,
    build_ruleset,
    parse_file,
    rule_files,
    used_lists,
    used_sets,
)
from bot.rules.matchers import COMMON_CANONICAL, MAX_HITS, Term, compile_term

SLOW_REGEX_MS = 50.0
TIMING_RUNS = 3
ADVERSARIAL_BYTES = 100_000
# RE2 copies a counted piece once per count, so `[^.]{2,150}` is 150 copies; in the set of
# match regexes, which every comment passes through, one such regex slowed every comment by
# 5-8% on the shipped rules. `+` or `*`, bounded by the class itself, costs almost nothing.
COUNTED_REPEAT_MAX = 50
_COUNTED = re.compile(r"(?<!\\)\{(\d+)(?:,(\d*))?\}")


@dataclass(frozen=True, slots=True)
class Issue:
    level: str  # error | warning
    where: str  # FILE:LINE
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.level}: {self.message}"


def lint(paths: Iterable[Path]) -> list[Issue]:
    """Every problem in the rule files under `paths`, errors first."""
    issues: list[Issue] = []
    files: list[ParsedFile] = []
    try:
        names = rule_files(paths)
    except RuleLoadError as exc:
        return [_error(str(exc))]
    for name in names:
        try:
            files.append(parse_file(name))
        except RuleLoadError as exc:
            issues.append(_error(str(exc)))
    if issues:
        return issues
    try:
        rules = build_ruleset(files, include_disabled=True)
    except RuleLoadError as exc:
        return [_error(str(exc))]
    issues += _unused(files, "lists", "list", used_lists(files))
    issues += _unused(files, "exceptions", "exceptions", used_sets(files))
    issues += _duplicates_and_wildcards(files)
    issues += _no_examples(rules)
    issues += _shadowed(files, rules)
    issues += _swallowed(files, rules)
    issues += _common_anchors(files, rules)
    issues += _slow_regexes(files)
    issues += _counted_repeats(files)
    return issues


def _error(message: str) -> Issue:
    where, _, rest = message.partition(": ")
    if ":" in where and where.rsplit(":", 1)[1].isdigit():
        return Issue("error", where, rest)
    return Issue("error", message.split(":", 1)[0], message)


def _unused(files: Sequence[ParsedFile], key: str, owner: str, used: set[str]) -> list[Issue]:
    """Named lists or exception sets (`key`) that no rule uses."""
    return [
        Issue("warning", file.where(key, name), f"{owner} {name}: not used by any rule")
        for file in files
        for name in getattr(file.model, key)
        if name not in used
    ]


def _term_sets(file: ParsedFile) -> Iterable[tuple[str, tuple[str | int, ...], tuple[str, ...]]]:
    """(owner, YAML location, terms) for every list and words matcher in the file."""
    for name, terms in file.model.lists.items():
        yield f"list {name}", ("lists", name), terms
    for index, rule in enumerate(file.model.rules):
        for number, matcher in enumerate((*rule.match, *rule.unless)):
            key = "match" if number < len(rule.match) else "unless"
            at = number if key == "match" else number - len(rule.match)
            words = matcher.words or matcher.terms
            if words:
                kind = "words" if matcher.words else "terms"
                yield f"rule {rule.id}", ("rules", index, key, at, kind), words
        if rule.terms:
            yield f"rule {rule.id}", ("rules", index, "terms"), rule.terms
    for name, matchers in file.model.exceptions.items():
        for number, matcher in enumerate(matchers):
            words = matcher.words or matcher.terms
            if words:
                kind = "words" if matcher.words else "terms"
                yield f"exceptions {name}", ("exceptions", name, number, kind), words


def _duplicates_and_wildcards(files: Sequence[ParsedFile]) -> list[Issue]:
    issues = []
    for file in files:
        for owner, loc, terms in _term_sets(file):
            compiled = [compile_term(t) for t in terms]
            for number, (term, this) in enumerate(zip(terms, compiled, strict=True)):
                where = file.where(*loc, number)
                for other, that in zip(terms[:number], compiled[:number], strict=True):
                    if _covers(that, this):
                        extra = "" if other == term else " (extra repeated letters match anyway)"
                        message = f"{owner}: {term!r} adds nothing to {other!r}{extra}"
                        issues.append(Issue("warning", where, message))
                        break
                if "*" in term and len(this.anchor.replace(" ", "")) < 3:
                    message = f"{owner}: wildcard {term!r} has under 3 letters to look for"
                    issues.append(Issue("warning", where, message))
    return issues


def _covers(general: Term, specific: Term) -> bool:
    """Whether every text `specific` matches is matched by `general` too."""
    if [p.key for p in general.pieces] != [p.key for p in specific.pieces]:
        return False
    for mine, theirs in zip(general.pieces, specific.pieces, strict=True):
        needs = dict(theirs.runs)
        if any(needs.get(offset, 1) < need for offset, need in mine.runs):
            return False
    return True


def _no_examples(rules: RuleSet) -> list[Issue]:
    return [
        Issue("warning", f"{r.source}:{r.line}", f"rule {r.id}: no match examples")
        for r in rules.all_rules
        if not r.spec.examples.match
    ]


def _shadowed(files: Sequence[ParsedFile], rules: RuleSet) -> list[Issue]:
    """Terms of a rule's words/list matchers that another rule, at least as strong, already
    matches whole."""
    issues = []
    for where, rule, _, term in _rule_terms(files, rules):
        other = _shadowing_rule(rules, rule, term)
        if other is not None:
            message = (
                f"rule {rule.id}: term {term!r} is already matched by rule {other.id} "
                f"({other.spec.action})"
            )
            issues.append(Issue("warning", where, message))
    return issues


def _swallowed(files: Sequence[ParsedFile], rules: RuleSet) -> list[Issue]:
    """Terms a rule matches (alone or as a pattern step) that its own exceptions match
    inside: every hit with that term is dropped ("the gas" inside "in the gas chambers")."""
    issues = []
    for where, rule, source, term in _rule_terms(files, rules, steps=True):
        if not rule.unless or "*" in term:
            continue
        spans = rules.exception_spans(rule, term)
        if spans:
            start, end = spans[0]
            message = (
                f"rule {rule.id}: term {term!r}{source} is always dropped by the "
                f"rule's own exception, which matches {term[start:end]!r} inside it"
            )
            issues.append(Issue("warning", where, message))
    return issues


def _common_anchors(files: Sequence[ParsedFile], rules: RuleSet) -> list[Issue]:
    """Patterns anchored on a step holding a frequent word or two ("people", "are not"): the
    engine runs them on every comment that has it. The engine anchors on the step with the
    fewest terms of frequent words; writing them within longer phrases ("are not people") or
    giving another step rarer terms fixes it."""
    issues = []
    terms = rules.terms
    for file in files:
        for index, spec in enumerate(file.model.rules):
            rule = rules.rule(spec.id)
            assert rule is not None
            for number, matcher in enumerate(rule.matchers):
                if matcher.pattern is None:
                    continue
                anchor = matcher.pattern.anchor
                common = sorted(
                    term.text
                    for term, groups in zip(terms.terms, terms.term_groups, strict=True)
                    if anchor in groups and _frequent(term)
                )
                if common:
                    message = (
                        f"rule {rule.id}: {matcher.label} is anchored on the frequent "
                        f"{common[0]!r} and runs on every comment that has it; write it within "
                        "longer phrases or give another step rarer terms"
                    )
                    where = file.where("rules", index, "match", number)
                    issues.append(Issue("warning", where, message))
    return issues


# Words in nearly every comment: two of them together ("are not", "you are") are as frequent.
_FUNCTION_WORDS = frozenset(
    w
    for word in """a an the and or but of to in on at by for with from is are was were be been
    am not no it its i you he she we they me him her us them my your his our their this that
    these those there here do does did have has had will would can could should s t ll d ve m
    re""".split()  # noqa: SIM905
    for w in canonical_words(word)
)


def _frequent(term: Term) -> bool:
    """A frequent word ("people"), or two function words ("are not"): longer phrases of
    them, and pairs with a content word ("find you"), are rare enough."""
    words = term.pieces[0].key.split() if term.wild is None else []
    if len(words) == 1:
        return words[0] in COMMON_CANONICAL
    return len(words) == 2 and set(words) <= _FUNCTION_WORDS


def _rule_terms(
    files: Sequence[ParsedFile], rules: RuleSet, steps: bool = False
) -> Iterable[tuple[str, CompiledRule, str, str]]:
    """(FILE:LINE, rule, " (list NAME)" or "", term) for every term of every rule's match,
    and with `steps` of its patterns' steps too."""
    lists = {name: terms for file in files for name, terms in file.model.lists.items()}
    for file in files:
        for index, spec in enumerate(file.model.rules):
            rule = rules.rule(spec.id)
            assert rule is not None
            for loc, source, term in _matched_terms(spec, index, lists, steps):
                yield file.where(*loc), rule, source, term


def _matched_terms(
    rule: Rule, index: int, lists: dict[str, tuple[str, ...]], steps: bool
) -> Iterable[tuple[tuple[str | int, ...], str, str]]:
    """(YAML location, " (list NAME)" or "", term) for every term of the rule's match, and
    with `steps` of its patterns' steps too."""
    for number, matcher in enumerate(rule.match):
        at: tuple[str | int, ...] = ("rules", index, "match", number)
        parts: list[tuple[tuple[str | int, ...], Matcher | PatternStep]] = [(at, matcher)]
        if matcher.pattern and steps:
            parts = [((*at, "pattern", n), step) for n, step in enumerate(matcher.pattern)]
        for here, part in parts:
            for k, term in enumerate(part.words or part.terms or ()):
                yield (*here, "words" if part.words else "terms", k), "", term
            for term in lists.get(part.list_ or "", ()):
                yield (*here, "list"), f" (list {part.list_})", term
    for k, term in enumerate(rule.terms or ()):
        yield ("rules", index, "terms", k), "", term


def _shadowing_rule(rules: RuleSet, rule: CompiledRule, term: str) -> CompiledRule | None:
    if "*" in term:
        return None
    comment = Comment(site="lint", id="lint", text=term)
    for hit in rules.match(comment, normalize_text(term)):
        other = rules.rule(hit.rule_id)
        if (
            other is not None
            and other is not rule
            and other.spec.enabled
            and (hit.start, hit.end) == (0, len(term))
            and other.verdict >= rule.verdict
        ):
            return other
    return None


def adversarial_texts(pattern: str) -> list[str]:
    """100 KB inputs that make backtracking engines (and careless patterns) slow."""
    size = ADVERSARIAL_BYTES
    letters = "".join(c for c in pattern if c.isalnum()) or "a"
    rng = random.Random(0)
    noise = "".join(rng.choice(string.printable) for _ in range(size))
    return [
        "a" * size,
        (letters * (size // len(letters) + 1))[:size],
        ("a " * (size // 2))[:size],
        noise,
        ("x" * (size - 1)) + "!",
    ]


def regex_ms(pattern: str) -> float:
    """The slowest scan of the adversarial texts, in milliseconds, as the engine scans a
    comment: the set search that tells which match regexes occur, then the regex's matches
    up to the engine's cap (`MAX_HITS`). Each text's figure is the best of `TIMING_RUNS`, so
    a moment's load on the machine does not count."""
    compiled = re2.compile(pattern, options=re2_options())
    bank = re2.Set.SearchSet(re2_options())
    bank.Add(pattern)
    bank.Compile()
    worst = 0.0
    for text in adversarial_texts(pattern):
        best = float("inf")
        for _ in range(TIMING_RUNS):
            start = time.perf_counter()
            bank.Match(text)
            for count, _ in enumerate(compiled.finditer(text), 1):
                if count >= MAX_HITS:
                    break
            best = min(best, (time.perf_counter() - start) * 1000)
        worst = max(worst, best)
    return worst


def _slow_regexes(files: Sequence[ParsedFile]) -> list[Issue]:
    issues = []
    for file, owner, loc, regex in _regexes(files):
        ms = regex_ms(regex)
        if ms > SLOW_REGEX_MS:
            message = (
                f"{owner}: regex takes {ms:.0f} ms on a 100 KB adversarial "
                f"text (limit {SLOW_REGEX_MS:.0f} ms)"
            )
            issues.append(Issue("warning", file.where(*loc), message))
    return issues


def counted_repeat(pattern: str) -> int:
    """The largest bound of a counted repetition (`{n}`, `{n,m}`) in the pattern; 0 if none."""
    bounds = [int(high or low) for low, high in _COUNTED.findall(pattern)]
    return max(bounds, default=0)


def _counted_repeats(files: Sequence[ParsedFile]) -> list[Issue]:
    """Match regexes (the ones every comment passes through) with a long counted repetition;
    `unless` regexes run only for a comment some rule hits, and are left alone."""
    issues = []
    for file, owner, loc, regex in _regexes(files, unless=False):
        bound = counted_repeat(regex)
        if bound > COUNTED_REPEAT_MAX:
            message = (
                f"{owner}: regex repeats a piece up to {bound} times; RE2 copies it "
                "once per count, which slows every comment: use + or * where the "
                "character class already ends the run"
            )
            issues.append(Issue("warning", file.where(*loc), message))
    return issues


def _regexes(
    files: Sequence[ParsedFile], unless: bool = True
) -> Iterator[tuple[ParsedFile, str, tuple[str | int, ...], str]]:
    """(file, owner, YAML location, regex) for each regex matcher; with `unless=False`, only
    those in a rule's `match`."""
    for file in files:
        for owner, loc, matchers in _matcher_lists(file):
            if not unless and loc[-1] != "match":
                continue
            for number, matcher in enumerate(matchers):
                if matcher.regex is not None:
                    yield file, owner, (*loc, number, "regex"), matcher.regex


def _matcher_lists(
    file: ParsedFile,
) -> Iterable[tuple[str, tuple[str | int, ...], tuple[Matcher, ...]]]:
    """(owner, YAML location, matchers) for each rule's match and unless and each set."""
    for index, rule in enumerate(file.model.rules):
        yield f"rule {rule.id}", ("rules", index, "match"), rule.match
        yield f"rule {rule.id}", ("rules", index, "unless"), rule.unless
    for name, matchers in file.model.exceptions.items():
        yield f"exceptions {name}", ("exceptions", name), matchers
