"""Masked letters: "f*ggot", "c#nt", "nig**s", "r_tard", where each mask character stands
for one letter the author left out. Which letters is a guess that only the rule set's own
words can settle, so the masked view is built by the rule set, not by normalization: a
masked word reads as each term word it could be, letter for letter, and a hit found only in
that view is a guessed reading, capped like leetspeak.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.normalize import View

MASKS = "*#_"
# A word of letters with masks inside it: letters first and last ("f***" and "***k" could be
# anything), not part of a longer run of word characters or masks.
_TOKEN = re.compile(r"(?<![\w*#])[a-z]+(?:[*#_]+[a-z]+)+(?![\w*#])")
_MASK = re.compile(r"[*#_]")
_LETTERS = re.compile(r"[a-z]{3,}")
READINGS_MAX = 3  # a masked word with more readings than this could be anything
LOOKUPS_MAX = 1000  # distinct masked words looked up in one comment; the rest are left as typed


class MaskedWords:
    """The term words a masked word could stand for, one mask character a letter."""

    def __init__(self, words: Iterable[str]) -> None:
        by_length: dict[int, set[str]] = {}
        for word in words:
            by_length.setdefault(len(word), set()).add(word)
        # one line a word: a masked word is looked up with one regex over its length's lines
        self._lines = {size: "\n".join(sorted(found)) for size, found in by_length.items()}

    @classmethod
    def of_terms(cls, texts: Iterable[str]) -> MaskedWords:
        """The words of the term texts, as folded ASCII letters (wildcard terms left out)."""
        return cls(w for text in texts if "*" not in text for w in _LETTERS.findall(text.lower()))

    def readings(self, token: str) -> list[str]:
        """The term words `token` may stand for; none when it shows fewer letters than it
        hides, or could be too many words."""
        masks = len(_MASK.findall(token))
        letters = len(token) - masks
        lines = self._lines.get(len(token))
        if lines is None or letters < 2 or masks > letters:
            return []  # "p***y" could be "pikey" as well as what its author meant
        shape = "".join("[a-z]" if c in MASKS else c for c in token)
        found = re.findall(f"^{shape}$", lines, re.MULTILINE)
        return found if len(found) <= READINGS_MAX else []

    def views(self, base: View) -> list[View]:
        """The view (plain or leet) with its masked words read as term words: one view for
        each reading of the most ambiguous word (at most READINGS_MAX)."""
        text = base.text
        if "*" not in text and "#" not in text and "_" not in text:
            return []
        tokens = []
        known: dict[str, list[str]] = {}  # a comment repeating a masked word looks it up once
        for match in _TOKEN.finditer(text):
            token = match.group()
            readings = known.get(token)
            if readings is None:
                if len(known) >= LOOKUPS_MAX:
                    continue  # a flood of masked words costs a bounded number of lookups
                readings = known[token] = self.readings(token)
            if readings:
                tokens.append((match.start(), match.end(), readings))
        views = []
        for number in range(max((len(r) for _, _, r in tokens), default=0)):
            pieces, words, prev = [], [], 0
            for start, end, readings in tokens:
                word = readings[min(number, len(readings) - 1)]
                pieces += [text[prev:start], word]
                words.append(word)
                prev = end
            pieces.append(text[prev:])
            # one letter for one mask: offsets are the base view's
            views.append(View("masked", "".join(pieces), base.to_original, tuple(words)))
        return views
