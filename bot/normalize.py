"""Normalize a comment for matching while remembering where every character came from.

The comment is read as rendered (character references decoded, inline HTML tags removed; see
`bot.rules.markup`), folded once (NFKC, case folding, invisible characters removed, homoglyphs
folded to Latin, diacritics stripped; see `bot.rules.folding`) and then read in views:

- `plain`: the folded text;
- `joined`: separators inside words removed ("i d i o t", "i.d.i.o.t", "id-iot",
  "idi**o**t" -> "idiot"), only when the comment has any; a second joined view keeps a
  leading "a"/"i" as its own word ("is a f a g" -> "is a fag");
- `leet`: digits and symbols inside words read as letters ("m0r0n", "$hit"), only when the
  comment has any. Its canonical form also reads "l" as "i", as the terms it is matched
  against do, since "1" and "|" stand for either. Hits that exist only in the leet view are
  "leet-only", which rules cap.

Each view has its text (what regular expressions run on) and a canonical form that word terms
are matched against, computed on first use: punctuation and spaces read as one space, each
symbol (emoji, "=") is a word of its own, and every run of a repeated letter is squeezed to
one letter whose run length is kept ("idiooot" is "idiot" with o x3). Every view keeps an
offset map back to the original, so a hit's span is exactly what the author typed, separators
and invisible characters included.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

from bot.models import Comment, NormalizedText
from bot.rules import spans
from bot.rules.folding import CANON, FOLD, I_FOR_L, LEET_TABLE, NON_UNIT, SIGNATURE, SYMBOLS
from bot.rules.markup import unmarkup
from bot.rules.quotes import quoted_ranges

# ASCII punctuation, spaces and controls read as a space; $ + < = > | are symbols. Every
# ASCII character has an entry: str.translate's fast path raises and catches a LookupError
# for each character missing from a table, which made a partial table 2-3 times slower.
_ASCII_CANON = str.maketrans(
    {c: c if c.isalnum() or c in "_$+<=>|" else " " for c in map(chr, range(128))}
)
_ASCII_SYMBOL = re.compile(r"[$+<=>|]")
_ASCII_SYMBOLS = frozenset("$+<=>|")
# Runs of a repeated Latin letter or space (folding has made look-alikes Latin already).
_SQUEEZE = re.compile(r"(?<=([a-z ]))\1+")  # the repeats after a letter or space
# On the signature (bot.rules.folding.SIGNATURE): two or more single letters or digits, each
# after one space ("i d i o t"); a separator between letters ("id-iot": checked before it).
_SPACED = re.compile(r"(?<![a1'])(?<![a1]-)[a1](?: [a1])+(?![a1']|-[a1])")
_BLANKS = frozenset(" \t\n")
_TWO_SINGLES = re.compile(r" [a1] [a1] ")  # on " " + signature + " ": "a b", "i d i o t"
# Two or more single letters or digits, each two spaces apart ("i  d  i  o  t").
_SPACED_WIDE = re.compile(
    r"(?<![a1'])(?<![a1]-)[a1](?:  [a1](?![a1']))++(?![a1']|-[a1]| [a1](?![a1']))"
)
_TWO_WIDE = re.compile(r"(?<![a1'])[a1]  [a1](?![a1'])")
_CUT = re.compile(r"-(?=[a1])")  # a separator before a letter or digit; checked before it
_REGION = re.compile(r"[a1-]*")  # a word with its in-word separators, on the signature
_NO_SEPARATORS = str.maketrans(  # complete for ASCII, like _ASCII_CANON
    {c: None if c in "-._*~" else c for c in map(chr, range(128))}
    | {"\u00b7": None, "\u2022": None}
)
_LEET_HINT = re.compile(r"a1|1a|a!a|1'a|a'1")
_LEET_TOKEN = re.compile(r"[a1!']+")
# "3rd", "10am", "5k", "90s": numbers with a unit, not leetspeak
_NOT_LEET = re.compile(r"\d+(?:st|nd|rd|th|s|am|pm|k|m|x|h|d|km|kg|mb|gb|ms|yo|ish)")


class View:
    """One reading of the comment: `text` for regexes, `padded` for word terms."""

    __slots__ = ("_canonical", "name", "text", "to_original", "words")

    def __init__(
        self, name: str, text: str, to_original: spans.SpanMap, words: tuple[str, ...] = ()
    ) -> None:
        self.name = name  # plain | joined | leet
        self.text = text
        self.to_original = to_original  # text -> original
        self.words = words  # the words this view reads differently from the plain view
        self._canonical: _Canonical | None = None

    def __repr__(self) -> str:
        return f"View({self.name!r}, {self.text!r})"

    @property
    def canonical(self) -> _Canonical:
        if self._canonical is None:
            text = self.text.translate(I_FOR_L) if self.name == "leet" else self.text
            self._canonical = _Canonical(text)
        return self._canonical

    @property
    def padded(self) -> str:
        """ " " + the canonical squeezed text + " "."""
        return self.canonical.padded

    def run(self, index: int) -> int:
        """How many times the canonical character at `index` was repeated in the text."""
        return self.canonical.run(index)

    def text_span(self, start: int, end: int) -> tuple[int, int]:
        """A canonical span as a span of `text`."""
        return self.canonical.to_text(start, end)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """A canonical span as a span of the original comment."""
        return self.to_original.span(*self.canonical.to_text(start, end))


class _Canonical:
    """Words separated by one space, symbols standing alone (a space on each side), repeated
    letters squeezed. The string is built with C-speed string operations; its offset maps,
    needed only to report a hit, are built on first use."""

    __slots__ = ("_maps", "_spaces", "_words", "padded", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.padded = f" {squeezed_canonical(text)} "
        self._maps: tuple[spans.SpanMap, spans.SpanMap] | None = None
        self._words: list[str] | None = None  # the words before squeezing, for `run`
        self._spaces = (0, 0)  # (padded position, spaces before it): `run` counts onwards

    def _build_maps(self) -> tuple[spans.SpanMap, spans.SpanMap]:
        """(squeezed -> spaced, spaced -> text), the same string built step by step."""
        if self._maps is None:
            spaced, to_text = spaced_text(self.text)
            # the repeats after each run's first character
            extras = [m.span() for m in _SQUEEZE.finditer(spaced)]
            runs = [(start - 1, end - start + 1) for start, end in extras]
            self._maps = (spans.squeeze_map(runs), to_text)
        return self._maps

    def run(self, index: int) -> int:
        """The run length of the letter at canonical `index`, read from its word alone: a
        term's repeated-letter checks need only that, and the whole text's maps cost far more
        (they are built when a hit is reported, for far fewer comments)."""
        padded = self.padded
        at = index + 1  # padded position
        if self._maps is None and 0 < at < len(padded) - 1 and padded[at] != " ":
            start = padded.rfind(" ", 0, at) + 1
            # squeezing keeps every word, so the k-th squeezed word is the k-th word before;
            # hits come in text order, so the spaces are counted on from the last one asked
            at_before, before = self._spaces if self._spaces[0] <= start else (0, 0)
            before += padded.count(" ", at_before, start)
            self._spaces = (start, before)
            ordinal = before - (2 if padded.startswith("  ") else 1)
            if self._words is None:
                self._words = _unsqueezed(self.text).split()
            word = self._words[ordinal]
            widths = _widths(word) if len(word) <= _CACHED_WORD_MAX else _widths.__wrapped__(word)
            return widths[at - start]
        squeezed = self._build_maps()[0]
        return squeezed.width_at(index) if isinstance(squeezed, spans.SparseMap) else 1

    def to_text(self, start: int, end: int) -> tuple[int, int]:
        squeezed, to_text = self._build_maps()
        return to_text.span(*squeezed.span(start, end))


def _unsqueezed(text: str) -> str:
    """The canonical characters of `text` before squeezing (`spaced_text` without its map)."""
    return _ascii_canon(text) if text.isascii() else _non_ascii_canon(text)


def _ascii_canon(text: str) -> str:
    """The canonical characters of an ASCII text: punctuation read as spaces, symbols spaced."""
    canon = text.translate(_ASCII_CANON)
    if not _ASCII_SYMBOLS.isdisjoint(canon):
        canon = _ASCII_SYMBOL.sub(r" \g<0> ", canon)
    return canon


@functools.lru_cache(maxsize=4096)
def _widths(word: str) -> tuple[int, ...]:
    """How many characters of the unsqueezed `word` each squeezed character stands for."""
    widths: list[int] = []
    previous = ""
    for char in word:
        if char == previous and "a" <= char <= "z":
            widths[-1] += 1
        else:
            widths.append(1)
        previous = char
    return tuple(widths)


# The canonical pieces of words as split on whitespace ("world," -> "world", "(honestly)" ->
# "honestly", "--" -> "", "x=1" -> "x = 1"), by word: comments reuse a small vocabulary
# (Zipf), so building a comment's canonical text from pieces canonicalized, symbol-spaced and
# squeezed once per distinct word is several times faster than three passes over its text.
# Bounded: cleared when full.
_PIECES: dict[str, str] = {}
_PIECES_MAX = 65_536
_CACHED_WORD_MAX = 64  # longer "words" (a URL, a 1 MB run of letters) are not kept


def squeezed_canonical(text: str) -> str:
    """`_SQUEEZE.sub("", spaced_text(text)[0])`: the canonical characters, runs of a letter or
    of spaces squeezed to one, built from cached pieces. Every character that `str.split`
    treats as whitespace reads as a space in the canonical text, so pieces never merge."""
    get = _PIECES.get
    pieces = [p if (p := get(word)) is not None else _piece(word) for word in text.split()]
    out = " ".join(filter(None, pieces))
    if not out:
        return " " if text else ""
    # a first or last character that reads as a space or a symbol leaves one space
    if _unsqueezed(text[0])[0] == " ":
        out = " " + out
    if _unsqueezed(text[-1])[-1] == " ":
        out += " "
    return out


def _piece(word: str) -> str:
    piece = " ".join(_SQUEEZE.sub("", _unsqueezed(word)).split())
    if len(word) > _CACHED_WORD_MAX:
        return piece
    if len(_PIECES) >= _PIECES_MAX:
        _PIECES.clear()
    _PIECES[word] = piece
    return piece


def spaced_text(text: str) -> tuple[str, spans.SpanMap]:
    """The canonical text before squeezing, built step by step, and its map to `text`."""
    if text.isascii():
        canon = text.translate(_ASCII_CANON)
        symbols = [m.start() for m in _ASCII_SYMBOL.finditer(canon)]
    else:
        canon = text.translate(CANON)
        symbols = [m.start() for m in _ASCII_SYMBOL.finditer(canon)]
        symbols += [m.start() for m in _NON_ASCII.finditer(canon) if m.group() in SYMBOLS]
        symbols.sort()
    return spans.pad(canon, symbols) if symbols else (canon, spans.IDENTITY)


def _non_ascii_canon(text: str) -> str:
    """The canonical characters of a text with some non-ASCII ones: ASCII stretches through
    the fast table, each other character through the cached one."""
    pieces = _NON_ASCII_SPLIT.split(text)
    for i in range(0, len(pieces), 2):
        pieces[i] = _ascii_canon(pieces[i])
    for i in range(1, len(pieces), 2):
        char = CANON[ord(pieces[i])]
        pieces[i] = f" {char} " if char in SYMBOLS else char
    return "".join(pieces)


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_NON_ASCII_SPLIT = re.compile(r"([^\x00-\x7f])")


@functools.lru_cache(maxsize=8192)
def canonical_words(word: str, leet: bool = False) -> tuple[str, ...]:
    """The canonical tokens of a folded word or phrase (as a leet view reads it)."""
    return tuple(View("leet" if leet else "word", word, spans.IDENTITY).padded.split())


def normalize(comment: Comment, platform: str = "") -> NormalizedText:
    """The comment's text in every view; `platform` is the site's platform type, for rules."""
    return normalize_text(comment.text, platform)


def normalize_text(original: str, platform: str = "") -> NormalizedText:
    rendered, to_typed = unmarkup(original)
    folded, to_original = fold(rendered)
    if to_typed is not spans.IDENTITY:
        to_original = spans.chain(to_original, to_typed)
    offsets: Sequence[int]  # one for one (a range) unless folding added or dropped some
    if isinstance(to_original, spans.ArrayMap):
        offsets = tuple(to_original.starts)
    elif to_original is spans.IDENTITY:
        offsets = range(len(folded))
    else:
        offsets = tuple(to_original.span(i, i + 1)[0] for i in range(len(folded)))
    return NormalizedText(
        original=original,
        text=folded,
        offsets=offsets,
        views=tuple(build_views(folded, to_original)),
        quotes=quoted_ranges(original),
        platform=platform,
    )


def fold(original: str) -> tuple[str, spans.SpanMap]:
    """The folded text and its map back to `original`."""
    if original.isascii():
        return original.lower(), spans.IDENTITY
    odd = set(_NON_ASCII.findall(original))
    contextual = not _CONTEXTUAL.isdisjoint(odd)
    if not contextual and NON_UNIT.isdisjoint(odd) and all(len(FOLD[ord(c)]) == 1 for c in odd):
        # one character for one: fold the few non-ASCII ones, then lower-case the rest
        # (folded characters are lower case already), with no per-character Python work
        return _NON_ASCII.sub(_fold_match, original).lower(), spans.IDENTITY
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    base = ""  # the last visible character, for skin-tone modifiers
    for index, char in enumerate(original):
        part = FOLD[ord(char)]
        if contextual and char in _CONTEXTUAL:
            if char in SKIN_TONES and base in _NOT_A_PERSON and ends:
                ends[-1] = index + 1  # "👊🏾" is the fist: the tone belongs to it
                continue
            if char in CLAPS:
                part = " "  # "I 👏 think 👏 that": a separator
        if part:
            base = char
            out.append(part)
            starts.extend([index] * len(part))
            ends.extend([index + 1] * len(part))
        elif ends and ends[-1] == index and unicodedata.category(char) in ("Mn", "Me"):
            ends[-1] = index + 1  # an accent or variation selector belongs to what it follows
    return "".join(out), spans.ArrayMap(starts, ends)


# Emoji skin-tone modifiers. After a person emoji a tone is a word of its own ("👨🏿" reads
# "👨 🏿": a dark-skinned man, which rules may use as a group signal); after a hand or another
# body part it belongs to that emoji and is dropped ("👊🏾" is the fist, "👏🏾" a clap).
SKIN_TONES = frozenset(chr(c) for c in range(0x1F3FB, 0x1F400))
# Clapping hands between words ("I 👏 think 👏 that") are separators: read as a space.
CLAPS = frozenset("\U0001f44f")
_NOT_A_PERSON = frozenset(
    "\U0001f44a\u270a\U0001f91c\U0001f91b\U0001f44f\U0001f44d\U0001f44e\U0001f4aa"
    "\U0001f64f\U0001f44b\U0001f91a\u270b\U0001f590\U0001f596\U0001f44c\U0001f90f"
    "\U0001f90c\u270c\U0001f91e\U0001f91f\U0001f918\U0001f919\U0001f448\U0001f449"
    "\U0001f446\U0001f447\u261d\U0001f595\u270d\U0001f485\U0001f933\U0001f9b5"
    "\U0001f9b6\U0001f442\U0001f443\U0001f9bb\U0001faf0\U0001faf1\U0001faf2\U0001faf3"
    "\U0001faf4\U0001faf5\U0001faf6\U0001faf7\U0001faf8\U0001f932\U0001f450\U0001f64c"
    "\U0001f91d"
)
_CONTEXTUAL = SKIN_TONES | CLAPS
# What may follow the last character of an emoji and still belong to it: skin tones,
# variation selectors, keycaps, tags, and zero-width-joined parts ("👳🏽‍♂️").
_EMOJI_TAIL = re.compile(
    "(?:[\U0001f3fb-\U0001f3ff\ufe00-\ufe0f\u20e3\U000e0020-\U000e007f]|\u200d[^\\s\u200d])*"
)


_EMOJI_CATEGORIES = frozenset(["So", "Sk", "Mn"])  # emoji, modifiers, variation selectors


def emoji_end(original: str, end: int) -> int:
    """Where a hit ending at `end` really ends: past the skin tone, variation selector and
    zero-width-joined parts of an emoji it ends on."""
    if (
        0 < end < len(original)
        and not original[end].isascii()
        and unicodedata.category(original[end - 1]) in _EMOJI_CATEGORIES
    ):
        match = _EMOJI_TAIL.match(original, end)
        if match is not None and match.end() > end:
            return match.end()
    return end


def _fold_match(match: re.Match[str]) -> str:
    return FOLD[ord(match.group())]


def _signature_match(match: re.Match[str]) -> str:
    return SIGNATURE[ord(match.group())]


def signature_of(text: str) -> str:
    """The text's character classes (bot.rules.folding.SIGNATURE), one for one."""
    if not text.isascii():
        text = _NON_ASCII.sub(_signature_match, text)
    return text.translate(SIGNATURE)


def build_views(folded: str, to_original: spans.SpanMap) -> list[View]:
    """The plain view, and the joined and leet views when the text has anything for them."""
    views = [View("plain", folded, to_original)]
    signature = signature_of(folded)
    for text, to_folded, words in _joined(folded, signature):
        views.append(View("joined", text, spans.chain(to_folded, to_original), words))
    seen = {views[0].text}
    plain_leet = _leet(folded, signature)
    for base in views[:2]:  # leetspeak in the plain text, and in the first joined one
        if base is views[0]:
            readings = plain_leet
        elif plain_leet or _leetish(base.words):
            readings = _leet(base.text, signature_of(base.text))
        else:
            # Joining merges words only inside the joined words; when they hold no digit or
            # leet symbol and the plain text has no leet word, the joined text has none.
            continue
        for text, words in readings:
            if text not in seen:
                seen.add(text)
                views.append(View("leet", text, base.to_original, words))
    return views


def _leetish(words: tuple[str, ...]) -> bool:
    """Whether any of the words holds a digit, a leet symbol or "!" (signature "1" or "!")."""
    shape = signature_of("".join(words))
    return "1" in shape or "!" in shape


def _joined(folded: str, signature: str) -> list[tuple[str, spans.SpanMap, tuple[str, ...]]]:
    """Readings with separators dropped: inside words only ("id-iot"); with spelled-out
    letters joined too ("i d i o t"), and then once more keeping a leading "a"/"i" apart."""
    inword: list[int] = []
    words: list[str] = []
    # (substring tests on a signature, mostly "a"s, are slow: look for the rare "-" first,
    # and for two one-letter words with one regex rather than four tests)
    if "-" in signature and (
        "a-a" in signature
        or "a-1" in signature
        or "1-a" in signature
        or "1-1" in signature
        or "**" in folded
    ):
        _inword(folded, signature, inword, words)
    spaced: list[int] = []
    article: list[int] = []  # "a f a g": the "a" may be a word of its own
    if _TWO_SINGLES.search(f" {signature} "):
        for match in _SPACED.finditer(signature):
            start, end = match.span()
            between = {folded[i] for i in range(start + 1, end, 2)}
            if not between <= _BLANKS and (len(between) > 1 or end - start < 5):
                continue  # "a,b", "x/y", "a/b,c": punctuation, not spelling out; one
                # symbol repeated between 3+ letters spells a word ("i🔥d🔥i🔥o🔥t")
            spaced.extend(range(start + 1, end, 2))
            words.append(folded[start:end:2])
            if end - start >= 7 and folded[start] in "ai":
                article.append(start + 1)
                words.append(folded[start + 2 : end : 2])
    if "  " in folded and _TWO_WIDE.search(signature):
        for match in _SPACED_WIDE.finditer(signature):
            start, end = match.span()
            gaps = [i for gap in range(start + 1, end, 3) for i in (gap, gap + 1)]
            if any(folded[i] not in " \t" for i in gaps):
                continue
            spaced.extend(gaps)
            words.append(folded[start:end:3])
    readings = []
    if inword:
        readings.append(inword)
    if spaced:
        readings.append(sorted(inword + spaced))
    if article:
        readings.append(sorted(set(inword + spaced) - set(article)))
    return [(*spans.delete(folded, drops), tuple(words)) for drops in readings]


def _inword(folded: str, signature: str, drops: list[int], words: list[str]) -> None:
    """Separators between two letters or digits ("id-iot"), and the words they split."""
    end = 0
    reverse = ""
    for match in _CUT.finditer(signature, 1):
        cut = match.start()
        if cut < end or (
            signature[cut - 1] not in "a1" and not _emphasis_ends_at(folded, signature, cut)
        ):
            continue
        reverse = reverse or signature[::-1]
        start = len(signature) - _REGION.match(reverse, len(signature) - cut).end()  # type: ignore[union-attr]
        end = _REGION.match(signature, cut).end()  # type: ignore[union-attr]
        region = signature[start:end]
        if "a" not in region:
            continue  # "5-4", "3.5": numbers, not words
        at = region.find("-", 1)
        while at != -1:  # the separators with a letter or digit on each side
            run = 1
            while at + run < len(region) and region[at + run] == "-":
                run += 1
            if (
                region[at - 1] != "-"
                and at + run < len(region)
                and (run == 1 or _emphasis(folded, start + at, run, end))
            ):
                drops.extend(range(start + at, start + at + run))
            at = region.find("-", at + run)
        words.append(folded[start:end].translate(_NO_SEPARATORS))


# Markdown emphasis inside a word: "idi**o**t" renders as "idiot" with a bold "o". Only
# paired: a lone "**" is masking ("nig**s"), not emphasis.
_EMPHASIS = frozenset(["**", "***"])
_STARS = re.compile(r"\*{2,3}")


def _emphasis(folded: str, at: int, run: int, word_end: int) -> bool:
    """Whether the `run` separators at `at` open or close bold in a word ending at `word_end`."""
    mark = folded[at : at + run]
    if mark not in _EMPHASIS:
        return False
    word_start = folded.rfind(" ", 0, at) + 1
    return len(_STARS.findall(folded, word_start, word_end)) >= 2


def _emphasis_ends_at(folded: str, signature: str, cut: int) -> bool:
    """Whether the separators ending at `cut` are "**" or "***" after a letter or digit."""
    first = cut
    while first > max(cut - 3, 0) and signature[first - 1] == "-":
        first -= 1
    return first > 0 and signature[first - 1] in "a1" and folded[first : cut + 1] in _EMPHASIS


def _leet(text: str, signature: str) -> list[tuple[str, tuple[str, ...]]]:
    """Readings with digits and symbols as letters inside words that have letters."""
    if ("1" not in signature and "!" not in signature) or not (
        "a1" in signature
        or "1a" in signature
        or "a!a" in signature
        or "1'a" in signature
        or "a'1" in signature
    ):
        return []
    tokens = []
    end = 0
    for hint in _LEET_HINT.finditer(signature):
        if hint.start() < end:
            continue  # this word is done
        start = hint.start()
        while start > 0 and signature[start - 1] in "a1!'":
            start -= 1
        match = _LEET_TOKEN.match(signature, start)
        assert match is not None
        end = match.end()
        while signature[start] == "'":
            start += 1
        token = text[start:end].rstrip("!+'")  # "wow!", "c++": punctuation, not letters
        shape = signature[start : start + len(token)]
        if "a" in shape and ("1" in shape or "!" in shape) and not _NOT_LEET.fullmatch(token):
            tokens.append((start, token))
    if not tokens:
        return []
    pieces: list[str] = []
    words: list[str] = []
    prev = 0
    for start, token in tokens:
        pieces.append(text[prev:start])
        words.append(token.translate(LEET_TABLE))
        pieces.append(words[-1])
        prev = start + len(token)
    pieces.append(text[prev:])
    return [("".join(pieces), tuple(words))]
