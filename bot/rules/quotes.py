"""Find the quoted parts of a comment: what the author repeats is not what the author says.

Quotes are HTML `<blockquote>` elements, BBCode `[quote]...[/quote]` (also Discourse's
`[quote="name, post:1"]`), and Markdown/e-mail quote lines starting with `>` (or `&gt;` when a
platform sends escaped text). Nesting is tracked with a depth counter, never recursion, so
10,000 nested quotes cost no more than 10,000 words. An unclosed quote runs to the end.
"""

from __future__ import annotations

import re
from bisect import bisect_right

_QUOTE_LINE = re.compile(r"^[ \t]*(?:>|&gt;)[^\n]*", re.MULTILINE)
_BBCODE = re.compile(r"\[(/?)quote(?:[= ][^\]\n]{0,300})?\]", re.IGNORECASE)
_HTML = re.compile(r"<(/?)blockquote\b[^>]{0,500}>", re.IGNORECASE)


def quoted_ranges(text: str) -> tuple[tuple[int, int], ...]:
    """Sorted, disjoint [start, end) spans of `text` that lie inside a quote."""
    ranges: list[tuple[int, int]] = []
    if ">" in text or "&gt;" in text:
        ranges.extend(m.span() for m in _QUOTE_LINE.finditer(text))
    if "[" in text and "quote" in text.lower():
        ranges.extend(_nested(_BBCODE, text))
    if "<" in text:
        ranges.extend(_nested(_HTML, text))
    return _merge(ranges)


def _nested(tags: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    """Outermost open...close spans of a tag pair, by depth counting."""
    out: list[tuple[int, int]] = []
    depth = start = 0
    for match in tags.finditer(text):
        if not match.group(1):
            if depth == 0:
                start = match.start()
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                out.append((start, match.end()))
    if depth > 0:
        out.append((start, len(text)))
    return out


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    if not ranges:
        return ()
    ranges.sort()
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end + 1:  # consecutive "> " lines are one quote
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return tuple(merged)


def inside(ranges: tuple[tuple[int, int], ...], start: int, end: int) -> bool:
    """Whether [start, end) lies wholly inside one of the quoted ranges."""
    k = bisect_right(ranges, (start, float("inf"))) - 1
    return k >= 0 and ranges[k][0] <= start and end <= ranges[k][1]
