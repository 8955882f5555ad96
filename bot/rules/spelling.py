"""Misspelled words: "mslims", "wmoen", "disgsuting", "raipst": a term word with one letter
missing or two neighbouring letters swapped, read as that term word.

Which words count as misspellings is settled when the rules load: every such variant of every
word of the terms rules match (exceptions and the allow-list are read only as written: a guess
may make a hit, never excuse one), its first letter kept (people seldom mistype it, and
changing it reads names and foreign words: "inga", "hinky"), five letters or more ("wmen" would
also make "samo" and "fois" term words), and neither an English word ("niger", "fagot",
"cricket" are never read as "nigger", "faggot", "crickets"), nor a term's own word, nor a
misspelling of two term words ("ater": "after", "eater" or "matter"). The English words are
pyspellchecker's frequency dictionary (160,000 words), squeezed as canonical text is.

The misspellings are keys of the automaton that looks for anchor terms in every comment
(`bot.rules.matchers.TermIndex`), so finding them costs no pass of its own. A hit found only
in the view that reads them is a guess, capped like a leet-only one, and must span more than
the misspelled word: "I hate mslims" is read, a lone "Polak" or "Kraus" is a name, not a slur.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from spellchecker import SpellChecker

from bot.normalize import View, fold
from bot.rules import spans

Span = tuple[int, int]

SHORTEST = 5  # letters: a shorter misspelling could be too many things ("wmen", "samo")
_LETTERS = re.compile(r"[a-z]+")
_REPEATS = re.compile(r"(.)\1+")


def squeeze(word: str) -> str:
    """A word as canonical text has it: each run of a repeated letter read as one."""
    return _REPEATS.sub(r"\1", word)


@functools.cache
def english() -> frozenset[str]:
    """The English words, squeezed: none of them is ever read as a misspelling."""
    words = SpellChecker(language="en").word_frequency.dictionary  # 0.15 s: once a process
    return frozenset(squeeze(word) for word in words)


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


class Misspellings:
    """The misspellings of a rule set's term words (canonical) and the words they read as."""

    def __init__(self, words: Iterable[str], known: frozenset[str] | None = None) -> None:
        words = {w for w in words if len(squeeze(w)) >= SHORTEST}
        taken = (english() if known is None else known) | {squeeze(w) for w in words}
        readings: dict[str, set[str]] = {}
        for word in words:
            for variant in map(squeeze, variants(word)):
                if len(variant) >= SHORTEST and variant not in taken:
                    readings.setdefault(variant, set()).add(word)
        # "ater" could be "after", "eater" or "matter": a misspelling with two readings is none
        self.readings = {k: next(iter(v)) for k, v in readings.items() if len(v) == 1}

    @classmethod
    def of_terms(cls, texts: Iterable[str], known: frozenset[str] | None = None) -> Misspellings:
        """Of the words of the term texts, folded (wildcard terms left out)."""
        return cls(
            (w for text in texts if "*" not in text for w in _LETTERS.findall(fold(text)[0])),
            known,
        )

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
