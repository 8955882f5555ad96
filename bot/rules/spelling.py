"""Misspelled words: "mslims", "wmoen", "disgsuting", "imigrants": a term word with one letter
missing, two neighbouring letters swapped or a repeated letter typed once, read as that term
word. A four-letter word is read with two letters swapped only ("haet", "sucm").

Which words count as misspellings is settled when the rules load: every such variant of every
word of the terms rules match (exceptions and the allow-list are read only as written: a guess
may make a hit, never excuse one), its first letter kept (people seldom mistype it, and
changing it reads names and foreign words: "inga", "hinky"), five letters or more ("wmen" would
also make "samo" and "fois" term words), and neither an English word ("niger", "fagot",
"cricket" are never read as "nigger", "faggot", "crickets"), nor a term's own word, nor a
misspelling of two term words ("ater": "after", "eater" or "matter"). The English words are
pyspellchecker's frequency dictionary (160,000 words), squeezed as canonical text is.

Two neighbouring words typed as one ("gaypeople", "killall", "ihate") are read as the two
words, when the join has five letters or more and is not an English word ("everyone", "into"):
two words of a phrase, or the last word of a term and the first of a term in the next step of
a pattern that may follow it with no word between ("hategay": "i hate" + "gay people"). The
view maps each letter back to itself, so a hit may start at the second word.

Two more spellings are read whatever their length: texting shorthand (`SHORTHAND`: "ppl" for
"people") and a plural's final "s" typed as "z" ("jewz", "gayz"), each only for a term word
and when it is not an English word itself ("quiz" stays a quiz).

A repeated letter typed once ("imigrants", "gased") is the term's own canonical text, whose
repeat check fails: it is read when no English word is spelled that way ("fagot" and "niger"
are, so they stay words), except for the 5,000 most frequent English words ("realy" is left
to the model; checking "really" each time it is typed right would cost time).

The misspellings are keys of the automaton that looks for anchor terms in every comment
(`bot.rules.matchers.TermIndex`), so finding them costs no pass of its own. A hit found only
in the view that reads them is a guess, capped like a leet-only one, and must span more than
the misspelled word: "I hate mslims" is read, a lone "Polak" or "Kraus" is a name, not a slur.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterable

from spellchecker import SpellChecker

from bot.normalize import View, fold
from bot.rules import spans
from bot.rules.spans import Span

SHORTEST = 5  # letters: a shorter misspelling could be too many things ("wmen", "samo")
# ... except two neighbours swapped in a four-letter word ("haet", "sucm", "klil"): it keeps
# every letter, so it is seldom a misspelling of another word
SHORTEST_SWAP = 4
# Texting shorthand read as the word it stands for, when that word is a term word: "black
# ppl are animals". Each is checked against the dictionary like any misspelling.
SHORTHAND = {"ppl": "people", "shud": "should", "shld": "should", "wud": "would"}
Z_PLURAL = 4  # letters: "jewz", "gayz" for "jews", "gays" (a plural "s" typed as "z")
# The most frequent English words ("really", "better", "killed"): their repeated letters
# typed once are ordinary typos, and checking each time they are typed right costs time.
FREQUENT = 5000
_LETTERS = re.compile(r"[a-z]+")
_REPEATS = re.compile(r"(.)\1+")
_RUN = re.compile(r"(.)\1*")


def squeeze(word: str) -> str:
    """A word as canonical text has it: each run of a repeated letter read as one."""
    return _REPEATS.sub(r"\1", word)


@functools.cache
def _dictionary() -> tuple[frozenset[str], frozenset[str]]:
    """(every English word, the FREQUENT most frequent): 0.15 s, once a process."""
    counts = SpellChecker(language="en").word_frequency.dictionary
    top = sorted(counts, key=counts.__getitem__, reverse=True)[:FREQUENT]
    return frozenset(counts), frozenset(top)


@functools.cache
def _squeezed(words: frozenset[str]) -> frozenset[str]:
    return frozenset(map(squeeze, words))


def runs(word: str) -> tuple[tuple[int, int], ...]:
    """(offset in the squeezed word, length) of each run of a repeated letter."""
    pieces = (len(m.group()) for m in _RUN.finditer(word))
    return tuple((at, length) for at, length in enumerate(pieces) if length > 1)


def shortened(word: str) -> set[str]:
    """The word with one or more of its repeated letters typed fewer times ("imigrants",
    "fagot"), at most 64 spellings."""
    pieces = [m.group() for m in _RUN.finditer(word)]
    choices = [[p[0] * n for n in range(1, len(p) + 1)] for p in pieces]
    if math.prod(map(len, choices)) > 64:
        return set()
    return {"".join(c) for c in itertools.product(*choices)} - {word}


def variants(word: str) -> set[str]:
    """The word with one letter missing or two neighbouring letters swapped, its first
    letter kept: people seldom mistype that, and changing it reads names and foreign words
    ("inga", "hinky", "oids") as term words."""
    out = {word[:i] + word[i + 1 :] for i in range(1, len(word))}
    out.update(
        word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        for i in range(1, len(word) - 1)
        if word[i] != word[i + 1]
    )
    return out


def _short_forms(
    words: set[str], known: frozenset[str], english: frozenset[str], own: set[str]
) -> Iterable[tuple[str, str]]:
    """(spelling, word) for the shorthand and the z-plurals ("jewz") of `words`: short, but
    only ever a spelling of the one word. A shorthand must not be an English word as typed
    (`known`: "ppl" is none, though its canonical "pl" is), a z-plural not even squeezed
    (`english`); neither may be a term word's own canonical text (`own`)."""
    for short, word in SHORTHAND.items():
        if word in words and short not in known and squeeze(short) not in own:
            yield short, word
    plurals = ((squeeze(w[:-1] + "z"), w) for w in words if w.endswith("s"))
    for plural, word in plurals:
        if len(plural) >= Z_PLURAL and plural not in english and plural not in own:
            yield plural, word


def _canonical(reading: str) -> str:
    return " ".join(map(squeeze, reading.split()))


def _joins(
    pairs: Iterable[tuple[str, str]], known: frozenset[str], english: frozenset[str], own: set[str]
) -> Iterable[tuple[str, str]]:
    """(squeezed join, the two words) for two neighbouring words typed as one: a phrase's
    ("gaypeople", "killall") or two pattern steps' ("hategay"); five letters or more,
    neither an English word ("everyone", "into") nor a term word's own canonical text."""
    for first, second in pairs:
        joined = squeeze(first + second)
        if len(joined) < SHORTEST or first + second in known or joined in english:
            continue
        if joined not in own:
            yield joined, f"{first} {second}"


class Misspellings:
    """The misspellings of a rule set's term words (canonical) and the words they read as."""

    def __init__(
        self,
        words: Iterable[str],
        known: frozenset[str] | None = None,
        frequent: frozenset[str] | None = None,
        pairs: Iterable[tuple[str, str]] = (),
    ) -> None:
        if known is None:
            known, frequent = _dictionary()
        every = set(words)
        words = {w for w in every if len(w) >= SHORTEST_SWAP}
        english, own = _squeezed(known), {squeeze(w) for w in every}
        readings: dict[str, set[str]] = {}
        # the repeats a shorthand is typed with, which its canonical text has lost ("ppl")
        self.typed: dict[str, tuple[tuple[int, int], ...]] = {}
        for short, word in _short_forms(every, known, english, own):
            readings.setdefault(squeeze(short), set()).add(word)
            if typed := runs(short):
                self.typed[squeeze(short)] = typed
        for joined, phrase in _joins(pairs, known, english, own):
            readings.setdefault(joined, set()).add(phrase)
        for word in words:
            shortest = SHORTEST if len(squeeze(word)) > SHORTEST_SWAP else SHORTEST_SWAP
            for variant in map(squeeze, variants(word)):
                if len(variant) >= shortest and variant not in english and variant not in own:
                    readings.setdefault(variant, set()).add(word)
        # A repeated letter typed once ("imigrants"): the term's own canonical text, whose
        # repeat check fails. Read when no English word is spelled that way ("fagot" is).
        self.short: dict[str, tuple[tuple[int, int], ...]] = {}
        for word in words - (frequent or frozenset()):
            if len(squeeze(word)) < SHORTEST:
                continue
            need = runs(word)
            if need and known.isdisjoint(shortened(word)):
                readings.setdefault(squeeze(word), set()).add(word)
                self.short[squeeze(word)] = need
        # "ater" could be "after", "eater" or "matter": a misspelling with two readings is none
        # ("will kill" and "wil kill" are one: canonical text reads them alike)
        self.readings = {
            k: min(v) for k, v in readings.items() if len({_canonical(r) for r in v}) == 1
        }
        self.short = {k: v for k, v in self.short.items() if k in self.readings}
        self.typed = {k: v for k, v in self.typed.items() if k in self.readings}

    @classmethod
    def of_terms(cls, texts: Iterable[str], across: Iterable[tuple[str, str]] = ()) -> Misspellings:
        """Of the words of the term texts, folded (wildcard terms left out), and of each two
        neighbouring words that are letters only: in a phrase, or `across` two terms that
        may follow each other (folded already)."""
        folded = [fold(text)[0] for text in texts if "*" not in text]
        words = (w for text in folded for w in _LETTERS.findall(text))
        pairs = {pair for text in folded for pair in itertools.pairwise(text.split())}
        pairs.update(across)
        letters = (pair for pair in pairs if all(_LETTERS.fullmatch(w) for w in pair))
        return cls(words, pairs=sorted(letters))

    def view(self, base: View, found: Iterable[Span]) -> View | None:
        """The view (plain) with the misspellings at canonical spans `found` read as the
        term words they stand for, each mapping back to what the author typed."""
        edits: list[tuple[int, int, str]] = []
        for start, end in sorted(set(found)):
            word = self.readings.get(base.padded[start + 1 : end + 1])
            if word is not None:
                edits.append((*base.text_span(start, end), word))
        if not edits:
            return None
        text, to_base = spans.replace(base.text, edits)
        words = tuple(dict.fromkeys(word for _, _, word in edits))
        return View("spelling", text, spans.chain(to_base, base.to_original), words)
