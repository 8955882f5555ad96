"""Offset maps: every derived string remembers which original characters each of its own came from.

A map answers `span(start, end)`: the [start, end) of a derived string as a span of the string
it was derived from. Maps chain, so a hit in the squeezed, joined, leet-folded view of a
comment comes back as the exact characters the author typed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Protocol

Span = tuple[int, int]  # [start, end) of a string


class SpanMap(Protocol):
    def span(self, start: int, end: int) -> tuple[int, int]:
        """The base span that derived characters [start, end) came from."""
        ...


class Identity:
    """Derived index i is base index i."""

    __slots__ = ()

    def span(self, start: int, end: int) -> tuple[int, int]:
        return start, end


IDENTITY = Identity()


class ArrayMap:
    """One (start, end) in the base per derived character: folding that adds or drops some."""

    __slots__ = ("ends", "starts")

    def __init__(self, starts: Sequence[int], ends: Sequence[int]) -> None:
        self.starts = starts
        self.ends = ends

    def span(self, start: int, end: int) -> tuple[int, int]:
        if start >= end:  # an empty span (an inserted space): where the next character is
            at = self.starts[start] if start < len(self.starts) else (self.ends or [0])[-1]
            return at, at
        return self.starts[start], self.ends[end - 1]


class SparseMap:
    """Mostly one to one; a few derived characters cover 0 or 2+ base characters.

    `pos[k]` is the derived index of the k-th irregular character, `base[k]` where it starts in
    the base and `width[k]` how many base characters it covers (0: an inserted space; 3: a run
    "ooo" squeezed to "o", or "d." where the separator was dropped).
    """

    __slots__ = ("base", "pos", "width")

    def __init__(self, pos: list[int], base: list[int], width: list[int]) -> None:
        self.pos = pos
        self.base = base
        self.width = width

    def start(self, index: int) -> int:
        k = bisect_right(self.pos, index) - 1
        if k < 0:
            return index
        if self.pos[k] == index:
            return self.base[k]
        return self.base[k] + self.width[k] + (index - self.pos[k] - 1)

    def width_at(self, index: int) -> int:
        k = bisect_left(self.pos, index)
        return self.width[k] if k < len(self.pos) and self.pos[k] == index else 1

    def span(self, start: int, end: int) -> tuple[int, int]:
        first = self.start(start)
        if end <= start:
            return first, first
        return first, self.start(end - 1) + self.width_at(end - 1)


class Chain:
    """Maps applied in order: the first turns view spans into spans of the next one's view."""

    __slots__ = ("maps",)

    def __init__(self, *maps: SpanMap) -> None:
        self.maps = tuple(m for m in maps if m is not IDENTITY)

    def span(self, start: int, end: int) -> tuple[int, int]:
        for one in self.maps:
            start, end = one.span(start, end)
        return start, end


def chain(*maps: SpanMap) -> SpanMap:
    kept = [m for m in maps if m is not IDENTITY]
    if not kept:
        return IDENTITY
    return kept[0] if len(kept) == 1 else Chain(*kept)


def squeeze_map(runs: Sequence[tuple[int, int]]) -> SpanMap:
    """The map of a text with runs collapsed: `runs` are the sorted (start, length) of each
    run of a repeated character in the unsqueezed text."""
    if not runs:
        return IDENTITY
    pos: list[int] = []
    base: list[int] = []
    width: list[int] = []
    removed = 0
    for start, length in runs:
        pos.append(start - removed)
        base.append(start)
        width.append(length)
        removed += length - 1
    return SparseMap(pos, base, width)


def delete(text: str, positions: Sequence[int]) -> tuple[str, SpanMap]:
    """Drop the characters at sorted `positions`; each merges into the character before it."""
    if not positions:
        return text, IDENTITY
    pieces: list[str] = []
    pos: list[int] = []
    base: list[int] = []
    width: list[int] = []
    prev = removed = i = 0
    while i < len(positions):
        j = i
        while j + 1 < len(positions) and positions[j + 1] == positions[j] + 1:
            j += 1
        first, count = positions[i], j - i + 1
        keeper = first - 1
        pieces.append(text[prev:first])
        if keeper >= 0:
            pos.append(keeper - removed)
            base.append(keeper)
            width.append(1 + count)
        removed += count
        prev = first + count
        i = j + 1
    pieces.append(text[prev:])
    return "".join(pieces), SparseMap(pos, base, width)


def pad(text: str, positions: Sequence[int]) -> tuple[str, SpanMap]:
    """Put a space on each side of the characters at sorted `positions` (also at the text's
    ends), where there is none."""
    pieces: list[str] = []
    pos: list[int] = []
    base: list[int] = []
    width: list[int] = []
    prev = added = 0
    for i in positions:
        pieces.append(text[prev:i])
        if i == 0 or text[i - 1] != " ":
            pieces.append(" ")
            pos.append(i + added)
            base.append(i)
            width.append(0)
            added += 1
        pieces.append(text[i])
        prev = i + 1
        if prev == len(text) or text[prev] != " ":
            pieces.append(" ")
            pos.append(prev + added)
            base.append(prev)
            width.append(0)
            added += 1
    pieces.append(text[prev:])
    return "".join(pieces), (SparseMap(pos, base, width) if pos else IDENTITY)


def replace(text: str, edits: Sequence[tuple[int, int, str]]) -> tuple[str, SpanMap]:
    """Put each edit's string in place of text[start:end] (sorted, not overlapping). The
    new string's characters map to the replaced ones in order, the last of them covering what
    is left, so the whole new string maps back to the whole replaced span; a new string that
    is the old one with spaces put in maps letter for letter, the spaces as inserted ones."""
    pieces: list[str] = []
    pos: list[int] = []
    base: list[int] = []
    width: list[int] = []
    prev = shift = 0
    for start, end, new in edits:
        pieces += [text[prev:start], new]
        at = start + shift  # where `new` starts in the derived text
        if " " in new and new.replace(" ", "") == text[start:end]:
            # spaces put between the letters typed ("gaypeople" read "gay people"): each
            # letter maps to itself, each space is an inserted one before the next letter
            for i, char in enumerate(new):
                if char == " ":
                    pos.append(at + i)
                    base.append(start + i - new.count(" ", 0, i))
                    width.append(0)
        else:
            for i in range(len(new)):
                first = start + min(i, end - start - 1)
                pos.append(at + i)
                base.append(first)
                width.append(1 if i < len(new) - 1 else end - first)
        shift += len(new) - (end - start)
        prev = end
    pieces.append(text[prev:])
    return "".join(pieces), SparseMap(pos, base, width)
