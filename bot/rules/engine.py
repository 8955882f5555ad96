"""The rule set: match a normalized comment against every rule, then settle each rule's hits.

Settling, in order: a hit found only in a leet view is leet-only, one found only in a masked
view ("f*ggot" read as a term word) masked-only, one found only in the spelling view ("wmen"
read as "women") a misspelling; all are guesses (dropped for `leet: off`);
overlapping hits of one rule become one; a rule whose `when` fails drops its hits; a hit an
`unless` exception overlaps is dropped; a hit inside a global `allow` phrase is dropped; a hit
wholly inside a quote is dropped (`quotes: none`) or marked. Guessed and quoted hits are
capped at flag unless the rule says `full`. `evaluate` keeps the dropped hits and why, for
`modbot rules explain`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.models import Comment, NormalizedText, RuleHit, Verdict
from bot.normalize import View, emoji_end, normalize_text
from bot.rules.conditions import failed_condition
from bot.rules.language import Rule
from bot.rules.masked import MaskedWords
from bot.rules.matchers import MAX_HITS, Occurrences, Pattern, RegexBank, Span, TermIndex
from bot.rules.quotes import inside

_NONE: frozenset[int] = frozenset()
LEET_NOTE = "leetspeak only"
MASKED_NOTE = "masked letters only"
SPELLING_NOTE = "misspelled word only"
# views that guess at letters
GUESSES = {"leet": LEET_NOTE, "masked": MASKED_NOTE, "spelling": SPELLING_NOTE}
QUOTE_NOTE = "only inside a quote"
# a misspelling is read in a phrase or a pattern only: alone it may be a name ("Kraus")
ALONE = "a misspelled word alone"
MASKABLE = ("plain", "leet")  # views whose masked words are read


@dataclass(frozen=True, slots=True)
class CompiledMatcher:
    kind: str  # words | list | regex | pattern
    label: str  # what `explain` shows: "list groups", "regex '...'", "pattern #1"
    group: int = -1
    regex: int = -1
    pattern: Pattern | None = None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    spec: Rule
    source: str  # the rule file
    line: int
    matchers: tuple[CompiledMatcher, ...]
    unless: tuple[CompiledMatcher, ...] = ()

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def verdict(self) -> Verdict:
        return Verdict.NONE if self.spec.action == "score" else Verdict.parse(self.spec.action)


@dataclass(slots=True)
class Scan:
    """One view's raw occurrences: term groups (canonical spans) and matching regexes."""

    view: View
    found: Occurrences
    regexes: frozenset[int]


@dataclass(slots=True)
class Found:
    """A rule matching one span of the original, with how it was found."""

    rule: CompiledRule
    matcher: CompiledMatcher
    view: str
    start: int
    end: int
    notes: list[str] = field(default_factory=list)

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


@dataclass(slots=True)
class Evaluation:
    views: tuple[View, ...]
    quotes: tuple[tuple[int, int], ...]
    hits: list[tuple[RuleHit, Found]] = field(default_factory=list)
    dropped: list[tuple[Found, str]] = field(default_factory=list)


def regex_spans(view: View, regex: int, bank: RegexBank) -> list[Span]:
    """The regex's matches in one view, as spans of the original text; none in a joined
    view (regexes read the separators it drops)."""
    if view.name == "joined":
        return []
    return [view.to_original.span(s, e) for s, e in bank.spans(regex, view.text)]


def matcher_spans(matcher: CompiledMatcher, scan: Scan, bank: RegexBank) -> list[Span]:
    """The matcher's hits in one view, as spans of the original text."""
    view = scan.view
    if matcher.kind == "regex":
        if bank.triggers[matcher.regex] and matcher.regex not in scan.regexes:
            return []  # the set has already said it matches nowhere in this view
        return regex_spans(view, matcher.regex, bank)
    if matcher.pattern is not None:
        canonical = matcher.pattern.find(view, scan.found)
    else:
        canonical = scan.found.get(matcher.group)
    return [view.original_span(s, e) for s, e in canonical]


class RuleSet:
    """Compiled rules; implements the RuleScorer protocol (`version`, `match`)."""

    def __init__(
        self,
        rules: tuple[CompiledRule, ...],
        terms: TermIndex,
        regexes: RegexBank,
        version: str,
        allow: tuple[CompiledMatcher, ...] = (),
        lists: dict[str, int] | None = None,
        include_disabled: bool = False,
        leet_terms: TermIndex | None = None,
    ) -> None:
        self.rules = tuple(r for r in rules if r.spec.enabled or include_disabled)
        self.all_rules = rules
        self.terms = terms
        self.leet_terms = leet_terms or terms  # leet views read "l" as "i", so do its terms
        self.regexes = regexes
        self.version = version
        self.allow = allow
        self.lists = dict(lists or {})  # list name -> term group
        self.masked = MaskedWords.of_terms(term.text for term in terms.terms)
        self._by_id = {r.id: r for r in rules}
        self._index()

    def _index(self) -> None:
        """Which (rule, matcher) pairs a term group or a regex can trigger, and which groups
        are worth recording once an anchor group occurs."""
        self._by_group: dict[int, list[tuple[int, CompiledMatcher]]] = {}
        self._by_regex: dict[int, list[tuple[int, CompiledMatcher]]] = {}
        expand: dict[int, set[int]] = {}
        allow = {m.group for m in self.allow}
        for number, rule in enumerate(self.rules):
            exceptions = {g for m in rule.unless for g in _groups(m)}
            for matcher in rule.matchers:
                if matcher.kind == "regex":
                    self._by_regex.setdefault(matcher.regex, []).append((number, matcher))
                    continue
                key = matcher.pattern.anchor if matcher.pattern else matcher.group
                self._by_group.setdefault(key, []).append((number, matcher))
                expand.setdefault(key, set()).update(_groups(matcher), exceptions, allow)
        self.terms.plan(expand)
        if self.leet_terms is not self.terms:
            self.leet_terms.plan(expand)

    def rule(self, rule_id: str) -> CompiledRule | None:
        return self._by_id.get(rule_id)

    def match(self, comment: Comment, text: NormalizedText) -> tuple[RuleHit, ...]:
        """Every rule hit in the comment, spans in the original text, in text order."""
        return tuple(hit for hit, _ in self.evaluate(comment, text).hits)

    def views(self, text: NormalizedText) -> tuple[View, ...]:
        """The normalized views, and the masked ones this rule set's words can read: of the
        plain view, and of the leet view ("f*gg0t": masks read after leet folding)."""
        masked = [m for v in text.views if v.name in MASKABLE for m in self.masked.views(v)]
        return (*text.views, *masked) if masked else text.views

    def scans(self, views: tuple[View, ...]) -> list[Scan]:
        """Each view's occurrences. Regexes run on all but the joined views: they see the
        separators a joined view drops, so a regex can target "n-i-g" spellings itself."""
        plain = views[0]
        out = []
        for view in views:
            scan = self._scan(view, None if view is plain else plain)
            if scan is not None:
                out.append(scan)
        return out

    def _scan(self, view: View, plain: View | None) -> Scan | None:
        """One view's scan; None when nothing in it can start a hit."""
        index = self.leet_terms if view.name == "leet" else self.terms
        found = index.scan(view, plain)
        regexes = self.regexes.matching(view.text) if view.name != "joined" else _NONE
        return Scan(view, found, regexes) if found or regexes else None

    def evaluate(self, comment: Comment, text: NormalizedText) -> Evaluation:
        """Hits and the hits dropped on the way, with why."""
        normalized = text if text.views else normalize_text(text.original, text.platform)
        views = self.views(normalized)
        scans = self.scans(views)
        spelling = self._spelling(views[0], scans)
        if spelling is not None:
            views += (spelling.view,)
            scans.append(spelling)
        result = Evaluation(views, normalized.quotes)
        if not scans:
            return result
        candidates: dict[int, list[Found]] = {}
        for scan in scans:
            self._collect(scan, candidates)
        settle = _Settler(self, comment, normalized, scans, result)
        for number in sorted(candidates):
            settle(self.rules[number], candidates[number])
        result.hits.sort(key=lambda pair: (pair[0].start, pair[0].rule_id))
        return result

    def _spelling(self, plain: View, scans: list[Scan]) -> Scan | None:
        """The scan of the plain view with the misspelled words its scan found read as the
        term words they stand for ("wmen" as "women"); None when it found none."""
        first = scans[0] if scans and scans[0].view is plain else None
        misread = first.found.misread if first is not None else None
        view = self.terms.misspelled.view(plain, misread) if misread else None
        return self._scan(view, plain) if view is not None else None

    def exception_spans(self, rule: CompiledRule, text: str) -> list[Span]:
        """Where the rule's own exceptions match in `text` alone, every view read in full:
        `rules lint` asks it of each term the rule matches."""
        normalized = normalize_text(text)
        out = Evaluation(self.views(normalized), normalized.quotes)
        comment = Comment(site="lint", id="lint", text=text)
        return _Settler(self, comment, normalized, [], out)._spans(rule.unless, full=True)

    def _collect(self, scan: Scan, out: dict[int, list[Found]]) -> None:
        by_group = self._by_group
        triggered = [pair for group in scan.found.groups() for pair in by_group.get(group, ())]
        triggered += [pair for index in scan.regexes for pair in self._by_regex.get(index, ())]
        for number, matcher in triggered:
            for start, end in matcher_spans(matcher, scan, self.regexes):
                found = Found(self.rules[number], matcher, scan.view.name, start, end)
                out.setdefault(number, []).append(found)

    def notice(self, hit: RuleHit) -> str:
        """The author notice of the hit's rule, filled in; "" when the rule has none."""
        rule = self._by_id.get(hit.rule_id)
        if rule is None or not rule.spec.notice:
            return ""
        return rule.spec.notice.format(reason=hit.reason, rule=hit.rule_id, matched=hit.matched)


class _Settler:
    """Turns one rule's raw candidates into hits, recording every drop in the evaluation."""

    def __init__(
        self,
        rules: RuleSet,
        comment: Comment,
        text: NormalizedText,
        scans: list[Scan],
        out: Evaluation,
    ) -> None:
        self.rules, self.comment, self.text, self.scans, self.out = rules, comment, text, scans, out
        self._allowed: list[Span] | None = None
        self._allowed_full: list[Span] | None = None
        self._full: list[Scan] | None = None

    def __call__(self, rule: CompiledRule, candidates: list[Found]) -> None:
        kept = self._merge(rule, candidates)
        why = failed_condition(rule.spec.when, self.comment, self.text.platform)
        if why:
            self._drop(kept, f"condition: {why}")
            return
        # A hit found by a regex alone did not make the automaton record the words of the
        # rule's exceptions or of the allow-list: read them in full for it.
        full = any(f.matcher.kind == "regex" for f in kept)
        exceptions = self._spans(rule.unless, full) if rule.unless and kept else []
        original = self.text.original
        for found in kept[:MAX_HITS]:
            found.end = emoji_end(original, found.end)
            reason = self._why_dropped(rule, found, exceptions, full)
            if reason:
                self.out.dropped.append((found, reason))
            else:
                self.out.hits.append((_hit(found, self.text.original), found))

    def _merge(self, rule: CompiledRule, candidates: list[Found]) -> list[Found]:
        plain = [f for f in candidates if f.view not in GUESSES]
        kept = list(plain)
        for found in candidates:
            note = GUESSES.get(found.view)
            if note is None or any(p.overlaps(found.start, found.end) for p in plain):
                continue
            if rule.spec.leet == "off":
                self.out.dropped.append((found, f"{note}, and the rule has leet: off"))
                continue
            if found.view == "spelling" and _one_word(self.text.original, found):
                self.out.dropped.append((found, ALONE))
                continue
            found.notes.append(note)
            kept.append(found)
        kept.sort(key=lambda f: (f.start, f.start - f.end, bool(f.notes)))
        merged: list[Found] = []
        for found in kept:
            if not merged or found.start >= merged[-1].end:
                merged.append(found)
        return merged

    def _why_dropped(
        self, rule: CompiledRule, found: Found, exceptions: list[Span], full: bool = False
    ) -> str:
        for start, end in exceptions:
            if found.overlaps(start, end):
                return f"exception (unless) matched {self.text.original[start:end]!r}"
        for start, end in self._allow(full):
            if start <= found.start and found.end <= end:
                return f"allow-list: inside {self.text.original[start:end]!r}"
        if inside(self.text.quotes, found.start, found.end):
            if rule.spec.quotes == "none":
                return "only inside a quote, and the rule has quotes: none"
            found.notes.append(QUOTE_NOTE)
        return ""

    def _spans(self, matchers: Iterable[CompiledMatcher], full: bool = False) -> list[Span]:
        """Where exceptions or the allow-list match: terms in the scanned views, regexes in
        every view (the scans hold only the views some term or trigger regex occurs in)."""
        bank = self.rules.regexes
        out: list[Span] = []
        for matcher in matchers:
            if matcher.kind == "regex":
                for view in self.out.views:
                    out.extend(regex_spans(view, matcher.regex, bank))
                continue
            for scan in self._full_scans() if full else self.scans:
                out.extend(matcher_spans(matcher, scan, bank))
        return out

    def _full_scans(self) -> list[Scan]:
        """Every view with every term group recorded, not only those its anchors call for."""
        if self._full is None:
            rules = self.rules
            everything = frozenset(range(len(rules.terms.groups)))
            regexes = {id(scan.view): scan.regexes for scan in self.scans}
            self._full = []
            for view in self.out.views:
                index = rules.leet_terms if view.name == "leet" else rules.terms
                found = index.scan_groups(view, everything)
                self._full.append(Scan(view, found, regexes.get(id(view), _NONE)))
        return self._full

    def _allow(self, full: bool = False) -> list[Span]:
        if full:
            if self._allowed_full is None:
                self._allowed_full = self._spans(self.rules.allow, True)
            return self._allowed_full
        if self._allowed is None:
            self._allowed = self._spans(self.rules.allow)
        return self._allowed

    def _drop(self, found: list[Found], why: str) -> None:
        self.out.dropped.extend((f, why) for f in found)


def _groups(matcher: CompiledMatcher) -> set[int]:
    if matcher.pattern is not None:
        return set(matcher.pattern.steps)
    return {matcher.group} if matcher.group >= 0 else set()


def _one_word(original: str, found: Found) -> bool:
    return len(original[found.start : found.end].split()) < 2


def _hit(found: Found, original: str) -> RuleHit:
    rule = found.rule
    spec = rule.spec
    action = rule.verdict
    guessed = any(note in found.notes for note in GUESSES.values())
    capped = (guessed and spec.leet == "flag") or (
        QUOTE_NOTE in found.notes and spec.quotes == "flag"
    )
    if capped:
        action = min(action, Verdict.FLAG)
    reason = spec.reason or spec.description
    if found.notes:
        reason = f"{reason} ({', '.join(found.notes)}{': at most flag' if capped else ''})"
    return RuleHit(
        rule_id=spec.id,
        action=action,
        start=found.start,
        end=found.end,
        matched=original[found.start : found.end],
        labels=spec.labels,
        severity=spec.severity,
        reason=reason,
        shadow=spec.shadow,
        source=rule.source,
    )
