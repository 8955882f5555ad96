"""The compiled matchers: every word term of every rule in one Aho-Corasick automaton, every
regex in one RE2 set, and patterns chained over the term occurrences the automaton found.

Word terms are matched against a view's canonical text (`View.padded`): words separated by
one space, repeated letters squeezed. A term is stored padded with spaces, so the automaton
only reports whole words and phrases ("class" never contains " ass "), in one pass over the
comment, however many terms there are. A hit is then checked against the term's own repeated
letters: the text may repeat a letter more often than the term ("iddiot", "idiooot") but not
less ("fagot" is not "faggot"). A phrase may not straddle a sentence end ("Thank you. Idiots
..." is not "you idiots"). Wildcard terms put their longest literal part in the automaton and
run an RE2 regex only when it is present. Patterns are evaluated only when every step found
an occurrence.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_left
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from operator import itemgetter
from typing import NamedTuple

import ahocorasick
import re2

from bot.normalize import View, canonical_words, fold
from bot.rules import spans
from bot.rules.language import re2_options
from bot.rules.spans import Span
from bot.rules.spelling import Misspellings

MAX_HITS = 50  # per matcher and view: enough to decide, bounded on hostile input
KEPT = MAX_HITS * 4  # occurrences of a group kept per view, once checked
RECORDED = KEPT * 2  # ... recorded before their checks (some fail them)
# Frequent English words: a pattern is anchored on a step with as few of these as possible.
COMMON_WORDS = frozenset(
    """a about after all also am an and any are as at be because been but by can could did do
    does for from get go going gonna got had has have he her here him his how i if im in into is
    it its just like me more my no not now of on one only or other our out over re s said say see
    she should so some t than that the their them then there these they this those to up us very
    was we were what when which who will with would you your ll d ve m people person guy guys
    man men woman women one ones thing things all every each many most make making made take
    put pull give keep let come look want need know think find tell ask work feel try leave
    call use force great better best nice bad new old first last big little right well much
    way time day really still back always start begin""".split()  # noqa: SIM905
)
# As terms store them: squeezed ("will" is "wil"), so that the comparison sees them at all.
COMMON_CANONICAL = frozenset(w for word in COMMON_WORDS for w in canonical_words(word))
_STOP = re.compile(r"[.!?;]")
_STOPS = re.compile(r"[.!?;]+")  # "?!" and "..." end one sentence


class TermError(ValueError):
    """A term that cannot be matched (nothing left after normalization, a bare wildcard)."""

    index = 0  # which term of its group


@dataclass(frozen=True, slots=True)
class Piece:
    key: str  # canonical text of a literal part of a term
    runs: tuple[tuple[int, int], ...]  # (offset in key, how often the letter must repeat)


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # as written in the rule file
    pieces: tuple[Piece, ...]  # one, or the parts around each `*`
    phrase: bool  # several words: may not straddle a sentence end
    wild: re2._Regexp | None = None
    key: str = ""  # the canonical text (of a term without wildcards)
    size: int = 0  # len(key)
    checks: bool = False  # repeated letters or a phrase: needs _accept

    @property
    def words(self) -> set[str]:
        return set(" ".join(p.key for p in self.pieces).split())

    @property
    def anchor(self) -> str:
        return max((p.key.strip() for p in self.pieces), key=len)


def canonical(text: str, leet: bool = False) -> tuple[str, View]:
    """A term's canonical text, as the plain view reads it or as the leet view does."""
    folded, _ = fold(text)
    view = View("leet" if leet else "term", folded, spans.IDENTITY)
    return view.padded[1:-1], view


def _piece(text: str, strip_left: bool, strip_right: bool, leet: bool) -> Piece:
    key, view = canonical(text, leet)
    lead = len(key) - len(key.lstrip(" ")) if strip_left else 0
    stop = len(key.rstrip(" ")) if strip_right else len(key)
    runs = tuple(
        (i - lead, view.run(i)) for i in range(lead, stop) if key[i] != " " and view.run(i) > 1
    )
    return Piece(key[lead:stop], runs)


def compile_term(text: str, leet: bool = False) -> Term:
    """A word term ready for the automaton; raises TermError when nothing is left of it."""
    parts = text.split("*")
    last = len(parts) - 1
    pieces = tuple(_piece(part, i == 0, i == last, leet) for i, part in enumerate(parts))
    if not any(p.key.strip() for p in pieces):
        raise TermError(f"term {text!r} has nothing to match after normalization")
    phrase = " " in "".join(p.key for p in pieces).strip() and not _STOP.search(text)
    if len(pieces) == 1:
        key = pieces[0].key
        return Term(
            text, pieces, phrase, key=key, size=len(key), checks=phrase or bool(pieces[0].runs)
        )
    body = "[^ ]*".join(f"({re2.escape(p.key)})" for p in pieces)
    return Term(text, pieces, phrase, re2.compile(f" {body} ", options=re2_options()))


class Misread(NamedTuple):
    """In the anchor automaton, a misspelling of a term word: its length, and the repeated
    letters that tell it apart. For a word typed with a repeated letter once ("imigrants":
    the term's own canonical text), the repeats the term needs and the author lacked; for
    shorthand with a repeat ("ppl", canonical "pl"), the repeats the author must have typed
    (`typed`)."""

    size: int
    runs: tuple[tuple[int, int], ...] = ()
    typed: bool = False

    def span(self, view: View, end: int) -> Span | None:
        """The canonical span of the misspelling ending at padded `end`, if it is one."""
        start = end - self.size - 1
        if self.runs:
            repeated = all(view.run(start + at) >= need for at, need in self.runs)
            if repeated != self.typed:
                return None  # the word as the term spells it, or "pl" for "ppl"
        return start, end - 1


@dataclass
class TermIndex:
    """All word terms, grouped (a list, a rule's words, a pattern step, the allow-list).
    `leet`: the index for leet views, its terms read with "l" as "i" as those views are."""

    leet: bool = False

    terms: list[Term] = field(default_factory=list)
    term_groups: list[list[int]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # a label per group, for `explain`
    anchors: set[int] = field(default_factory=set)  # groups whose terms can start a hit
    matched: set[int] = field(default_factory=set)  # groups rules match (not exceptions)
    # (group, group) pattern steps that may be adjacent: "hate" + "gay people"
    adjacent: set[tuple[int, int]] = field(default_factory=set)
    _by_text: dict[str, int] = field(default_factory=dict)
    _automaton: ahocorasick.Automaton | None = None
    _anchor_automaton: ahocorasick.Automaton | None = None
    _vocabulary: set[str] = field(default_factory=set)
    _wild_anchors: list[str] = field(default_factory=list)
    _group_sets: list[frozenset[int]] = field(default_factory=list)
    _needs: list[frozenset[int]] = field(default_factory=list)
    misspelled: Misspellings = field(default_factory=lambda: Misspellings((), frozenset()))

    def add_group(self, label: str, terms: tuple[str, ...]) -> int:
        """A new group of terms; raises TermError naming the first bad term."""
        group = len(self.groups)
        self.groups.append(label)
        for number, text in enumerate(terms):
            index = self._by_text.get(text)
            if index is None:
                try:
                    term = compile_term(text, self.leet)
                except TermError as exc:
                    exc.index = number
                    raise
                index = self._by_text[text] = len(self.terms)
                self.terms.append(term)
                self.term_groups.append([])
            if group not in self.term_groups[index]:
                self.term_groups[index].append(group)
        return group

    def commonness(self, group: int) -> tuple[int, int]:
        """(terms made only of frequent words, terms): low is a good pattern anchor."""
        terms = [
            t for t, groups in zip(self.terms, self.term_groups, strict=True) if group in groups
        ]
        return sum(1 for t in terms if t.words <= COMMON_CANONICAL), len(terms)

    def _step_pairs(self) -> set[tuple[str, str]]:
        """(last word, first word) of terms of two pattern steps that may be adjacent: the
        words a join across them would be read as ("hategay" for "hate" + "gay people")."""
        edges: dict[int, tuple[set[str], set[str]]] = {}
        for term, groups in zip(self.terms, self.term_groups, strict=True):
            words = fold(term.text)[0].split()
            if term.wild is None and words:
                for group in groups:
                    lasts, firsts = edges.setdefault(group, (set(), set()))
                    lasts.add(words[-1])
                    firsts.add(words[0])
        return {
            (last, first)
            for before, after in self.adjacent
            for last in edges.get(before, ((), ()))[0]
            for first in edges.get(after, ((), ()))[1]
        }

    def relevant(self, view: View, base: View) -> bool:
        """Whether `view` reads a word differently from `base` that some term could use."""
        if view.words:
            new = {w for word in view.words for w in canonical_words(word, self.leet)}
        else:
            new = set(view.padded.split()) - set(base.padded.split())
        if new & self._vocabulary:
            return True
        return any(anchor in word for word in new for anchor in self._wild_anchors)

    def compile(self) -> None:
        """Build the automatons: every term, and the anchor terms that can start a hit,
        with (for plain views) the misspellings of the words of the terms rules match."""
        self._automaton = self._build(range(len(self.terms)))
        anchored = [i for i, groups in enumerate(self.term_groups) if self.anchors & set(groups)]
        if not self.leet:  # exceptions and the allow-list are read as written: no guesses
            matched = self.matched
            self.misspelled = Misspellings.of_terms(
                (
                    t.text
                    for t, groups in zip(self.terms, self.term_groups, strict=True)
                    if not matched.isdisjoint(groups)
                ),
                self._step_pairs(),
            )
        self._anchor_automaton = self._build(anchored, self.misspelled)
        self._vocabulary = set().union(*(t.words for t in self.terms))
        self._wild_anchors = [t.anchor for t in self.terms if t.wild is not None]
        self._group_sets = [frozenset(groups) for groups in self.term_groups]
        self.plan({group: set(range(len(self.groups))) for group in self.anchors})

    def plan(self, expand: dict[int, set[int]]) -> None:
        """For each anchor group, the groups worth recording once it occurs (the other steps
        of its patterns, its rules' exceptions, the allow-list)."""
        self._needs = [
            frozenset().union(*(expand.get(g, ()) for g in groups)) for groups in self.term_groups
        ]

    def _build(
        self, indices: Iterable[int], misspelled: Misspellings | None = None
    ) -> ahocorasick.Automaton | None:
        keys: dict[str, list[int | Misread]] = {}
        for index in indices:
            term = self.terms[index]
            key = f" {term.key} " if term.wild is None else term.anchor
            keys.setdefault(key, []).append(index if term.wild is None else ~index)
        if misspelled is not None:
            short, typed = misspelled.short, misspelled.typed
            for word in misspelled.readings:
                need = short.get(word) or typed.get(word, ())
                keys.setdefault(f" {word} ", []).append(Misread(len(word), need, word in typed))
        if not keys:
            return None
        automaton = ahocorasick.Automaton()
        for key, refs in keys.items():
            automaton.add_word(key, tuple(refs))
        automaton.make_automaton()
        return automaton

    def scan(self, view: View, base: View | None = None) -> Occurrences:
        """Every group's occurrences in the view, as spans of its squeezed canonical text;
        nothing at all when no anchor term occurs (most comments: one cheap pass), or when
        the view has no word that `base` (the plain view) lacks and a term could use. Of
        the plain view (no `base`), also the misspellings found (`Occurrences.misread`)."""
        misread: list[Span] = []
        needed = self._needed(view, base, misread)
        found = self.scan_groups(view, needed) if needed else Occurrences(self, view)
        if misread and base is None:
            found.misread = misread
        return found

    def scan_groups(self, view: View, needed: AbstractSet[int]) -> Occurrences:
        """The occurrences of the `needed` groups in the view, whatever anchors it holds."""
        found: dict[int, list[Span]] = {}
        unchecked: dict[int, list[tuple[int, int]]] = {}
        if self._automaton is None:
            return Occurrences(self, view)
        wild: set[int] = set()
        group_sets, terms = self._group_sets, self.terms
        for end, refs in self._automaton.iter(view.padded):
            for ref in refs:
                if ref < 0:
                    if not group_sets[~ref].isdisjoint(needed):
                        wild.add(~ref)
                    continue
                if group_sets[ref].isdisjoint(needed):
                    continue
                term = terms[ref]
                start = end - term.size - 1
                span = (start, start + term.size)
                self._record(found, ref, span, needed, unchecked if term.checks else None)
        for ref in sorted(wild):
            self._scan_wild(view, ref, found, needed)
        return Occurrences(self, view, found, unchecked)

    def _needed(self, view: View, base: View | None, misread: list[Span]) -> set[int]:
        """The groups worth recording: those the anchor terms present call for. The
        misspellings the same pass finds are added to `misread`."""
        needed: set[int] = set()
        anchors = self._anchor_automaton
        if anchors is None or (base is not None and not self.relevant(view, base)):
            return needed
        needs = self._needs
        for end, refs in anchors.iter(view.padded):
            for ref in refs:
                if ref.__class__ is int:
                    needed.update(needs[ref if ref >= 0 else ~ref])
                elif base is None and (span := ref.span(view, end)) is not None:
                    misread.append(span)
        return needed

    def _record(
        self,
        found: dict[int, list[Span]],
        ref: int,
        span: Span,
        needed: AbstractSet[int],
        unchecked: dict[int, list[tuple[int, int]]] | None = None,
    ) -> None:
        """Add the span to each needed group of term `ref`; with `unchecked`, also note its
        place there, for `Occurrences` to check when the group is read."""
        for group in self.term_groups[ref]:
            if group in needed:
                occurrences = found.setdefault(group, [])
                if len(occurrences) < RECORDED:
                    if unchecked is not None:
                        unchecked.setdefault(group, []).append((len(occurrences), ref))
                    occurrences.append(span)

    def _scan_wild(
        self, view: View, ref: int, found: dict[int, list[Span]], needed: AbstractSet[int]
    ) -> None:
        term = self.terms[ref]
        assert term.wild is not None
        pos, count = 0, 0
        while count < MAX_HITS and (match := term.wild.search(view.padded, pos)) is not None:
            pos = match.end() - 1  # the closing space may open the next word
            groups = range(1, len(term.pieces) + 1)
            pieces = tuple((match.start(g) - 1, match.end(g) - 1) for g in groups)
            span = (match.start(), match.end() - 2)  # padded -> canonical, spaces dropped
            if self._accept(view, term, pieces, span):
                self._record(found, ref, span, needed)
                count += 1

    @staticmethod
    def _accept(view: View, term: Term, pieces: tuple[Span, ...], span: Span) -> bool:
        """The text repeats each letter at least as often as the term; phrases stay in a
        sentence."""
        for piece, (start, _) in zip(term.pieces, pieces, strict=True):
            for offset, need in piece.runs:
                if view.run(start + offset) < need:
                    return False
        if term.phrase:
            first, last = view.text_span(*span)
            return _STOP.search(view.text, first, last) is None
        return True


class Occurrences:
    """Each term group's occurrences in one view, as spans of its canonical text, in text
    order (`get`), and of a plain view the misspellings its anchor pass found (`misread`).
    The checks of a term's occurrence (`TermIndex._accept`: its repeated letters, a phrase
    within one sentence) run when its group is first read: most groups recorded are never
    read, because the other steps of their patterns are absent."""

    __slots__ = ("_accepted", "_found", "_index", "_unchecked", "_view", "misread")

    def __init__(
        self,
        index: TermIndex,
        view: View,
        found: dict[int, list[Span]] | None = None,
        unchecked: dict[int, list[tuple[int, int]]] | None = None,  # group -> [(at, term)]
    ) -> None:
        self._index, self._view = index, view
        self._found = found or {}
        self._unchecked = unchecked or {}
        self._accepted: dict[tuple[int, Span], bool] = {}  # a term may be in several groups
        self.misread: list[Span] = []

    def __bool__(self) -> bool:
        return bool(self._found or self.misread)

    def __contains__(self, group: int) -> bool:
        """Whether the group was recorded (its occurrences may yet fail their checks)."""
        return group in self._found

    def groups(self) -> Iterable[int]:
        return self._found.keys()

    def get(self, group: int) -> list[Span]:
        unchecked = self._unchecked.pop(group, None)
        if unchecked is not None:
            self._check(group, unchecked)
        occurrences = self._found.get(group, [])
        return occurrences if len(occurrences) <= KEPT else occurrences[:KEPT]

    def _check(self, group: int, unchecked: list[tuple[int, int]]) -> None:
        occurrences = self._found[group]
        accepted, terms, view = self._accepted, self._index.terms, self._view
        failed = set()
        for at, ref in unchecked:
            span = occurrences[at]
            ok = accepted.get((ref, span))
            if ok is None:
                ok = accepted[ref, span] = TermIndex._accept(view, terms[ref], (span,), span)
            if not ok:
                failed.add(at)
        if failed:
            self._found[group] = [s for at, s in enumerate(occurrences) if at not in failed]


def sentence_ends(view: View, end: int, start: int, most: int = 0) -> int:
    """How many sentences end between canonical positions `end` and `start` ("!!!" is one),
    counted no further than `most` + 1."""
    after = view.text_span(end - 1, end)[1]
    before = view.text_span(start, start + 1)[0]
    if most == 0:
        return 0 if _STOP.search(view.text, after, before) is None else 1
    ends = itertools.islice(_STOPS.finditer(view.text, after, before), most + 1)
    return sum(1 for _ in ends)


@dataclass(frozen=True, slots=True)
class Pattern:
    """Steps of term groups, in order, with (least, most) other words between them. An
    optional step (never the first or the last) may be absent: its two gaps then add up."""

    steps: tuple[int, ...]
    gaps: tuple[tuple[int, int], ...]
    anchor: int = -1  # the step group with the rarest terms: the pattern runs when it occurs
    crossings: tuple[int, ...] = ()  # per gap, the sentence ends it may cross (none if empty)
    optional: tuple[bool, ...] = ()  # per step (none optional if empty)

    def required(self) -> tuple[int, ...]:
        """The groups of the steps that must occur."""
        if not self.optional:
            return self.steps
        return tuple(g for g, skip in zip(self.steps, self.optional, strict=True) if not skip)

    def find(self, view: View, found: Occurrences) -> list[Span]:
        optional = self.optional
        if not all(g in found for g in (self.required() if optional else self.steps)):
            return []  # before `get` checks the occurrences of any step
        # at one start the longest term first: "shot in the head" before "shot"
        if not optional:
            occurrences = [sorted(found.get(g), key=_longest_first) for g in self.steps]
            if not all(occurrences):
                return []
        else:
            occurrences = [
                sorted(found.get(g), key=_longest_first) if g in found else [] for g in self.steps
            ]
            if not all(occ or skip for occ, skip in zip(occurrences, optional, strict=True)):
                return []
        out: list[Span] = []
        failed: set[tuple[int, int, tuple[int, int, int]]] = set()
        for start, end in occurrences[0]:
            last = self._extend(view, occurrences, 1, end, failed, _NO_CARRY)
            if last is not None:
                out.append((start, last))
                if len(out) >= MAX_HITS:
                    break
        return out

    def _extend(
        self,
        view: View,
        occurrences: list[list[Span]],
        step: int,
        prev_end: int,
        failed: set[tuple[int, int, tuple[int, int, int]]],
        carry: tuple[int, int, int],  # (least, most, crossings) of the steps skipped so far
    ) -> int | None:
        if step == len(occurrences):
            return prev_end
        if (step, prev_end, carry) in failed:
            return None
        low, high = self.gaps[step - 1]
        crossing = self.crossings[step - 1] if self.crossings else 0
        if carry is not _NO_CARRY:  # the gaps around absent optional steps add up
            low, high, crossing = low + carry[0], high + carry[1], crossing + carry[2]
        candidates = occurrences[step]
        for start, end in candidates[bisect_left(candidates, prev_end + 1, key=itemgetter(0)) :]:
            words = _words_between(view.padded, prev_end + 1, start + 1, high)
            if words > high or sentence_ends(view, prev_end, start, crossing) > crossing:
                break
            if words >= low:
                last = self._extend(view, occurrences, step + 1, end, failed, _NO_CARRY)
                if last is not None:
                    return last
        if self.optional and self.optional[step]:  # or without this step
            last = self._extend(
                view, occurrences, step + 1, prev_end, failed, (low, high, crossing)
            )
            if last is not None:
                return last
        failed.add((step, prev_end, carry))
        return None


_NO_CARRY = (0, 0, 0)


def _longest_first(span: Span) -> tuple[int, int]:
    return span[0], -span[1]


def _words_between(padded: str, first: int, last: int, most: int) -> int:
    """The words between two padded positions (their spaces less one), counted no further
    than `most` + 1: the next step may lie a megabyte away."""
    pos = first
    for spaces in range(most + 2):
        pos = padded.find(" ", pos, last)
        if pos < 0:
            return spaces - 1
        pos += 1
    return most + 1


_NO_REGEXES: frozenset[int] = frozenset()


class RegexBank:
    """Every regex of every rule. Those that can trigger a rule are in one RE2 set: one pass
    per view tells which of them match at all. Exceptions' and the allow-list's regexes are
    run only for a comment some rule hits (`triggers` says which is which)."""

    def __init__(self) -> None:
        self.patterns: list[str] = []
        self.triggers: list[bool] = []
        self._compiled: list[re2._Regexp] = []
        self._set: re2.Set | None = None
        self._set_index: list[int] = []  # set index -> pattern index

    def add(self, pattern: str, trigger: bool = True) -> int:
        self.patterns.append(pattern)
        self.triggers.append(trigger)
        self._compiled.append(re2.compile(pattern, options=re2_options()))
        return len(self.patterns) - 1

    def compile(self) -> None:
        self._set_index = [i for i, trigger in enumerate(self.triggers) if trigger]
        if not self._set_index:
            return
        bank = re2.Set.SearchSet(re2_options())
        for index in self._set_index:
            bank.Add(self.patterns[index])
        bank.Compile()
        self._set = bank

    def matching(self, text: str) -> frozenset[int]:
        """The trigger regexes that match somewhere in `text`."""
        found = self._set.Match(text) if self._set is not None else None
        if not found:
            return _NO_REGEXES
        return frozenset(self._set_index[i] for i in found)

    def spans(self, index: int, text: str) -> list[Span]:
        out: list[Span] = []
        for match in self._compiled[index].finditer(text):
            if match.end() > match.start():
                out.append(match.span())
                if len(out) >= MAX_HITS:
                    break
        return out
