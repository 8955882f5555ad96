"""Property tests over the shipped rules, whatever they contain: every term still matches when
spaced (one or two spaces apart), stacked one letter a line, split by a symbol, dotted,
repeated, written with homoglyphs, split by invisible characters, in leetspeak, hidden by
markup the platform renders (character references, inline tags), or with a letter masked,
with the span as written; innocent words that contain a term never match."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Comment, Verdict
from bot.normalize import _NOT_LEET, fold, normalize
from bot.rules.engine import Found, RuleSet
from bot.rules.loader import ParsedFile, literal_terms, load_rules, parse_file, rule_files
from bot.rules.matchers import TermIndex, compile_term
from bot.rules.spelling import variants

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = load_rules([ROOT / "rules"])
PREFIX, SUFFIX = "so ", " ok"

_LOOKALIKES = {
    "a": "аα", "c": "с", "e": "е", "i": "іι", "j": "ј", "o": "оο", "p": "рρ", "s": "ѕ",
    "x": "хχ", "y": "у", "h": "һ", "d": "ԁ", "k": "κ", "b": "в", "t": "τ", "m": "м",
}  # fmt: skip
HOMOGLYPHS = {k: "".join(c for c in v if fold(c)[0] == k) for k, v in _LOOKALIKES.items()}
LEET = {"a": "4@", "e": "3", "i": "1", "o": "0", "s": "5$", "t": "7", "l": "1", "g": "9"}
INVISIBLE = "\u200b\u200c\u200d\u2060\u00ad\ufeff"


@dataclass(frozen=True)
class ShippedTerm:
    rule: str
    term: str
    leet: str  # the rule's leet setting


def _direct_terms(files: list[ParsedFile]) -> list[ShippedTerm]:
    """Terms a rule matches on their own (its words, and the lists it matches whole)."""
    lists = {name: terms for f in files for name, terms in f.model.lists.items()}
    out = []
    for file in files:
        for rule in file.model.rules:
            if not rule.enabled:
                continue
            for matcher in rule.matchers():
                terms = matcher.words or matcher.terms or lists.get(matcher.list_ or "", ())
                out.extend(ShippedTerm(rule.id, t, rule.leet) for t in terms if _plain_word(t))
    return out


def _plain_word(term: str) -> bool:
    """Letters, spaces and apostrophes, at least three letters: what evasions apply to."""
    letters = [c for c in term if c.isalpha()]
    return (
        len(letters) >= 3
        and all(c.isalpha() or c in " '" for c in term)
        and term.isascii()
        and "*" not in term
    )


def _rule_hits(rules: RuleSet, rule: str, text: str) -> list[tuple[str, Verdict, Found]]:
    comment = Comment(site="t", id="1", text=text)
    result = rules.evaluate(comment, normalize(comment))
    return [(h.matched, h.action, f) for h, f in result.hits if h.rule_id == rule]


def _baseline() -> list[ShippedTerm]:
    """The terms that match as plainly written (some only match in context: skipped)."""
    terms = _direct_terms([parse_file(p) for p in rule_files([ROOT / "rules"])])
    return [
        t
        for t in terms
        if any(m == t.term for m, _, _ in _rule_hits(SHIPPED, t.rule, PREFIX + t.term + SUFFIX))
    ]


TERMS = _baseline()


def _words(term: str, shape: Callable[[str], str], between: str = " ") -> str:
    return between.join(shape(word) for word in term.split(" "))


def spaced(term: str, rng: random.Random) -> str:
    """ "i d i o t": letters one space apart; words three spaces apart."""
    return _words(term, lambda w: " ".join(w) if "'" not in w else w, between="   ")


def wide(term: str, rng: random.Random) -> str:
    """ "i  d  i  o  t": letters two spaces apart; words four spaces apart."""
    return _words(term, lambda w: "  ".join(w) if "'" not in w else w, between="    ")


def symbols(term: str, rng: random.Random) -> str:
    """One symbol or emoji between the letters of each word of 3+ letters: "i🔥d🔥i🔥o🔥t",
    "i/d/i/o/t"; words three spaces apart."""
    sep = rng.choice(["🔥", "💀", "/", ",", ":", "♥"])
    return _words(term, lambda w: sep.join(w) if len(w) >= 3 and w.isalpha() else w, "   ")


def stacked(term: str, rng: random.Random) -> str:
    """One letter a line, a blank line between words: text stacked vertically."""
    return _words(term, lambda w: "\n".join(w) if "'" not in w else w, between="\n\n")


def dotted(term: str, rng: random.Random) -> str:
    """ "i.d.i.o.t", "i-d-i-o-t", "i_d_i_o_t" within each word."""
    sep = rng.choice(".-_*")
    return _words(term, lambda w: _between_letters(w, lambda: sep))


def invisible(term: str, rng: random.Random) -> str:
    """Zero-width and other invisible characters between letters."""
    return _words(term, lambda w: _between_letters(w, lambda: rng.choice(INVISIBLE)))


def _between_letters(word: str, sep: Callable[[str], str] | Callable[[], str]) -> str:
    out = word[:1]
    for prev, char in itertools.pairwise(word):
        out += (sep() if prev.isalnum() and char.isalnum() else "") + char  # type: ignore[call-arg]
    return out


def repeated(term: str, rng: random.Random) -> str:
    """Some letters written two to five times: "idiooot", "iddiot"."""
    picks = {i for i, c in enumerate(term) if c.isalpha() and rng.random() < 0.4} or {0}
    return "".join(c * rng.randint(2, 5) if i in picks else c for i, c in enumerate(term))


def homoglyph(term: str, rng: random.Random) -> str:
    """Some letters replaced by Cyrillic or Greek look-alikes."""
    return "".join(
        rng.choice(HOMOGLYPHS[c]) if HOMOGLYPHS.get(c) and rng.random() < 0.5 else c for c in term
    )


def leet(term: str, rng: random.Random) -> str:
    """Some letters as digits or symbols, each word keeping a letter: "m0r0n", "@ss"."""

    def word(w: str) -> str:
        if len(w) < 2:
            return w
        spots = [i for i, c in enumerate(w) if c in LEET and i < len(w) - 1]
        if not spots:
            return w
        picks = {rng.choice(spots)} | {i for i in spots if rng.random() < 0.3}
        out = "".join(rng.choice(LEET[c]) if i in picks else c for i, c in enumerate(w))
        return out if any(c.isalpha() for c in out) and not _NOT_LEET.fullmatch(out) else w

    return _words(term, word)


def entities(term: str, rng: random.Random) -> str:
    """Some letters as HTML character references, which platforms render: "id&#105;ot"."""
    forms = ("&#{};".format, "&#x{:x};".format, "&#X{:04X};".format)
    picks = {i for i, c in enumerate(term) if c.isalpha() and rng.random() < 0.3}
    picks = picks or {next(i for i, c in enumerate(term) if c.isalpha())}
    return "".join(rng.choice(forms)(ord(c)) if i in picks else c for i, c in enumerate(term))


TAGS = ("<b></b>", "<!-- -->", "<i>", "</em>", '<span class="x">', "<wbr>", "<!---->")


def markup(term: str, rng: random.Random) -> str:
    """Inline HTML tags and comments inside words, or a letter in Markdown bold: "id<b></b>iot",
    "idi**o**t". Readers see the word."""

    def word(w: str) -> str:
        inner = [i for i in range(1, len(w)) if w[i - 1].isalpha() and w[i].isalpha()]
        if not inner:
            return w
        if rng.random() < 0.3 and len(w) >= 3:  # one inner letter in bold
            at = rng.randrange(1, len(w) - 1)
            return w[:at] + "**" + w[at] + "**" + w[at + 1 :]
        cuts = {rng.choice(inner)} | {i for i in inner if rng.random() < 0.2}
        return "".join((rng.choice(TAGS) if i in cuts else "") + c for i, c in enumerate(w))

    return _words(term, word)


def masked(term: str, rng: random.Random) -> str:
    """One inner letter of a word of four or more masked, as authors self-censor: "f*ggot",
    "c#nt", "r_tard". The rule set reads it back from its own words, when they leave it few
    readings ("li#e" could be too many words, and is left alone)."""
    words = term.split(" ")
    spots = [
        (i, at)
        for i, w in enumerate(words)
        if len(w) >= 4 and w.isalpha()
        for at in range(1, len(w) - 1)
        if SHIPPED.masked.readings(w[:at] + "*" + w[at + 1 :])
    ]
    if not spots:
        return term
    pick, at = rng.choice(spots)
    words[pick] = words[pick][:at] + rng.choice("*#_") + words[pick][at + 1 :]
    return " ".join(words)


SPACING = (spaced, wide, stacked, symbols, dotted, invisible)
LETTERS = (repeated, homoglyph, leet, entities, markup, masked)
GUESSED = ("leet", "masked")  # readings capped at flag (`leet: flag`), ignored with `leet: off`
EVASIONS = {f.__name__: f for f in (*SPACING, *LETTERS)}


def check(term: ShippedTerm, evasion: str, seed: int) -> str | None:
    """None when the evaded term matches its rule with the right span (and leet cap)."""
    written = EVASIONS[evasion](term.term, random.Random(seed))
    hits = _rule_hits(SHIPPED, term.rule, PREFIX + written + SUFFIX)
    spans = [m for m, _, _ in hits]
    if evasion in GUESSED and term.leet == "off":
        return None
    if written not in spans and not (evasion in GUESSED and _plain_part(hits, written)):
        return f"{term.rule}: {term.term!r} as {written!r}: matched {spans}"
    capped = evasion in GUESSED and term.leet == "flag"
    for matched, action, found in hits:
        if capped and matched == written and found.view in GUESSED and action > Verdict.FLAG:
            return f"{term.rule}: {evasion}-only {written!r} is {action.word}, not capped at flag"
    return None


def _plain_part(hits: list[tuple[str, Verdict, Found]], written: str) -> bool:
    """Whether the rule matched a plainly written part of `written` ("go die" in "go die in a
    h_le"): the engine keeps such a hit rather than a guessed reading of the whole."""
    return bool(hits) and all(f.view not in GUESSED and m in written for m, _, f in hits)


def misspelled(term: str, rng: random.Random) -> str:
    """One word of a phrase with a letter missing or two neighbours swapped ("i hate
    mslims"), as the rule set reads it back; the term as written when none of its words has
    a misspelling the rule set reads."""
    words = term.split(" ")
    readings = SHIPPED.terms.misspelled.readings
    spots = [
        (i, variant)
        for i, w in enumerate(words)
        for variant in sorted(variants(w.lower()))
        if readings.get(variant) == w.lower()  # squeezed already: repeats are `repeated`'s
    ]
    if not spots:
        return term
    pick, variant = rng.choice(spots)
    words[pick] = variant
    return " ".join(words)


PHRASES = [t for t in TERMS if " " in t.term and misspelled(t.term, random.Random(0)) != t.term]


@pytest.mark.parametrize("seed", range(3))
def test_every_shipped_phrase_survives_a_misspelled_word(seed: int) -> None:
    """A phrase a rule matches on its own, one word misspelled: still its rule's hit, with
    the span as written, capped at flag as a guess (a lone misspelled word is not read)."""
    failures = []
    for number, term in enumerate(PHRASES):
        if term.leet == "off":
            continue
        written = misspelled(term.term, random.Random(seed * 10_000 + number))
        hits = _rule_hits(SHIPPED, term.rule, PREFIX + written + SUFFIX)
        if written not in [m for m, _, _ in hits] and not _plain_part(hits, written):
            failures.append(f"{term.rule}: {term.term!r} as {written!r}: matched {hits}")
        for _, action, found in hits:
            if found.view == "spelling" and term.leet == "flag" and action > Verdict.FLAG:
                failures.append(f"{term.rule}: {written!r} is {action.word}, not capped")
    assert len(PHRASES) > 50
    assert not failures, "\n".join(failures[:20])


def test_the_shipped_rules_have_terms_to_test() -> None:
    """The property tests below cover the shipped words and lists."""
    assert len(TERMS) > 50


@pytest.mark.parametrize("evasion", sorted(EVASIONS))
def test_every_shipped_term_survives_each_evasion(evasion: str) -> None:
    """Every shipped term, obfuscated one way, still matches its rule with the span as written."""
    failures = [f for i, t in enumerate(TERMS) if (f := check(t, evasion, i)) is not None]
    assert not failures, "\n".join(failures[:20])


@settings(max_examples=300, deadline=None)
@given(
    index=st.integers(min_value=0), evasion=st.sampled_from(sorted(EVASIONS)), seed=st.integers()
)
def test_random_evasions_of_random_terms(index: int, evasion: str, seed: int) -> None:
    """Any term, any evasion, any random choice of letters: still a hit, span as written."""
    term = TERMS[index % len(TERMS)]
    assert check(term, evasion, seed) is None


INNOCENT = [
    "Scunthorpe", "classic", "assassin", "assassinated", "cockpit", "Shiitake", "shitake",
    "grass", "therapist", "Penistone", "Sussex", "cumulative", "document", "analysis",
    "spicy", "raccoon", "niggardly", "snigger", "Nigeria", "Hancock", "Dickens", "cocktail",
    "Arsenal", "passage", "bass", "titanic", "homogenous", "specialist", "pussywillow",
    "kumquat", "scrapbook", "Matsushita", "Cockburn", "butterfly", "Sextant", "Essex",
    "cucumber", "Assange", "Lebanon", "Mississippi", "ambassador",
]  # fmt: skip


@pytest.mark.parametrize("word", INNOCENT)
def test_innocent_words_containing_a_term_never_match(word: str) -> None:
    """Word boundaries, repeated-letter rules and the allow-list keep look-alikes innocent."""
    text = f"We talked about {word} at the meeting yesterday."
    comment = Comment(site="t", id="1", text=text)
    assert [h.matched for h in SHIPPED.match(comment, normalize(comment))] == []


def _all_terms() -> list[str]:
    """Every word term of every list, rule, pattern step and exception in the shipped files."""
    return sorted(t for t in literal_terms([ROOT / "rules"]) if _plain_word(t))


ALL_TERMS = _all_terms()


def term_spans(term: str, text: str) -> list[str]:
    """Where the matcher finds `term` in `text` (any view), as the original text it spans."""
    found = []
    for view in SHIPPED.views(normalize(Comment(site="t", id="1", text=text))):
        compiled = compile_term(term, leet=view.name == "leet")
        key = f" {compiled.key} "
        at = view.padded.find(key)
        while at >= 0:
            span = (at, at + compiled.size)
            if TermIndex._accept(view, compiled, (span,), span):
                start, end = view.original_span(*span)
                found.append(text[start:end])
            at = view.padded.find(key, at + 1)
    return found


@pytest.mark.parametrize("evasion", sorted(EVASIONS))
def test_every_list_and_pattern_term_survives_each_evasion(evasion: str) -> None:
    """Terms used inside patterns and exceptions are found through every evasion as well."""
    failures = []
    for seed, term in enumerate(ALL_TERMS):
        written = EVASIONS[evasion](term, random.Random(seed))
        if written not in term_spans(term, PREFIX + written + SUFFIX):
            failures.append(f"{term!r} as {written!r}")
    assert len(ALL_TERMS) > 500
    assert not failures, "\n".join(failures[:20])
