"""Normalize a comment for matching while remembering where every character came from.

The folded text is what rules match against; `NormalizedText.original_span` maps a match
back to the exact characters the author wrote.
"""

from __future__ import annotations

import unicodedata

from bot.models import Comment, NormalizedText


def normalize(comment: Comment) -> NormalizedText:
    return normalize_text(comment.text)


def normalize_text(original: str) -> NormalizedText:
    """NFKC, case folding, and removal of invisible format characters (zero-width etc.)."""
    chars: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(original):
        if unicodedata.category(char) == "Cf":
            continue  # zero-width joiners, soft hyphens, bidi marks: invisible to readers
        folded = unicodedata.normalize("NFKC", char).casefold()
        for out in folded:
            chars.append(out)
            offsets.append(index)
    return NormalizedText(original=original, text="".join(chars), offsets=tuple(offsets))
