"""Character folding tables: what a character means for matching, one character at a time.

`FOLD` is a translation table for `str.translate`: NFKC, case folding, invisible characters
removed, homoglyphs folded to the Latin letter they imitate, diacritics stripped. It is filled
lazily, one code point the first time it is seen, so translating a comment runs in C.

Homoglyphs come from Unicode's confusables data (UTS #39) as shipped by the
`confusable-homoglyphs` package. Only look-alikes from the scripts that are used to imitate
Latin letters are folded (Latin variants, Greek, Cyrillic, Armenian, Cherokee, mathematical
and letter-like symbols...); letters of Arabic, Hebrew, Indic and East Asian scripts are left
alone, so text in those languages never turns into Latin gibberish that could match a term.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from importlib import resources

# Scripts (first word of the Unicode name) whose confusables are folded to Latin.
_SCRIPT_NAMES = """LATIN GREEK CYRILLIC ARMENIAN CHEROKEE COPTIC LISU MODIFIER SCRIPT
BLACK-LETTER DOUBLE-STRUCK ROMAN SMALL MATHEMATICAL FULLWIDTH CIRCLED PARENTHESIZED SUBSCRIPT
SUPERSCRIPT OSAGE DESERET GOTHIC OLD RUNIC TIFINAGH CANADIAN GEORGIAN"""
_HOMOGLYPH_SCRIPTS = frozenset(_SCRIPT_NAMES.split())
# Characters the confusables data maps to two Latin letters: the likelier reading wins.
_HOMOGLYPH_CHOICE = {"σ": "o", "ɩ": "i", "ι": "i", "і": "i", "ӏ": "l", "ν": "v", "υ": "u"}
# Letters with no decomposition that still read as a plain Latin letter.
_EXTRA = {
    "ø": "o", "ł": "l", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t", "ı": "i", "ŀ": "l",
    "æ": "ae", "œ": "oe", "þ": "th", "ƒ": "f", "ɨ": "i", "ʉ": "u", "ƶ": "z",
    "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
}  # fmt: skip
# Invisible characters that are not in category Cf (format), which is removed wholesale.
_INVISIBLE = frozenset(
    ["\u034f", "\u115f", "\u1160", "\u17b4", "\u17b5", "\u2800", "\u3164", "\uffa0"]
    + [chr(c) for c in range(0xFE00, 0xFE10)]  # variation selectors
    + [chr(c) for c in range(0x180B, 0x1810)]  # Mongolian variation selectors and separator
    + [chr(c) for c in range(0xE0100, 0xE01F0)]  # variation selectors supplement
)

# Leetspeak: digits and symbols standing for letters. "1", "|" and "!" stand for "i" or "l",
# so leet views are matched with "l" read as "i" in text and terms alike ("1oser", "k1ll",
# "11ve" all find their word): `I_FOR_L`.
LEET = {"4": "a", "@": "a", "8": "b", "3": "e", "6": "g", "9": "g", "1": "i", "!": "i",
        "|": "i", "0": "o", "5": "s", "$": "s", "7": "t", "+": "t"}  # fmt: skip
LEET_TABLE = str.maketrans(LEET)
I_FOR_L = str.maketrans("l", "i")


@functools.cache
def homoglyphs() -> dict[str, str]:
    """Every folded look-alike character mapped to the lower-case Latin letter it imitates."""
    raw = resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8")
    data: dict[str, list[dict[str, str]]] = json.loads(raw)
    found: dict[str, set[str]] = {}
    for lower_pass in (True, False):  # a lower-case look-alike's own reading wins
        new: dict[str, set[str]] = {}
        for key, glyphs in data.items():
            if not (len(key) == 1 and key.isascii() and key.isalpha()):
                continue
            for glyph in glyphs:
                char = glyph["c"].replace("\u200e", "")
                if glyph["n"].split()[0] not in _HOMOGLYPH_SCRIPTS or len(char) != 1:
                    continue
                if (char == char.casefold()) != lower_pass:
                    continue
                folded = unicodedata.normalize(
                    "NFKC", unicodedata.normalize("NFKC", char).casefold()
                )
                if len(folded) == 1 and not folded.isascii() and folded not in found:
                    new.setdefault(folded, set()).add(key.lower())
        found.update(new)
    table = {char: min(letters) for char, letters in found.items()}
    table.update(_HOMOGLYPH_CHOICE)
    return table


def fold_char(char: str) -> str:
    """What one character means for matching: "" for invisible ones, else 1+ characters."""
    category = unicodedata.category(char)
    if category in ("Cf", "Mn", "Me") or char in _INVISIBLE:
        return ""
    if char in _NEGATED:
        return _NEGATED[char]
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", char).casefold())
    if text.isascii():
        return text
    glyphs = homoglyphs()
    out = []
    for part in text:
        part = glyphs.get(part) or _latin_by_name(part)
        for base in unicodedata.normalize("NFD", part):
            if not unicodedata.combining(base) and base not in _INVISIBLE:
                out.append(_EXTRA.get(base, base))
    return "".join(out)


# Negated relations keep their negation: decomposed, "≠" is "=" with a combining stroke that
# folding drops, which would turn "♿ ≠ 💩" into "♿ = 💩". Read as the ASCII "/=", "/<", "/>".
_NEGATED = {"\u2260": "/=", "\u226e": "/<", "\u226f": "/>"}


# "LATIN SMALL LETTER B WITH STROKE", "LATIN LETTER SMALL CAPITAL D": read as b, d. Emoji
# letters too: "NEGATIVE SQUARED LATIN CAPITAL LETTER A" (🅰) reads a, so "f🅰g" is "fag".
_LATIN_NAME = re.compile(
    r"(?:NEGATIVE (?:SQUARED |CIRCLED )|SQUARED |CIRCLED )?"
    r"LATIN (?:SMALL |CAPITAL )?LETTER (?:SMALL CAPITAL )?([A-Z])(?: WITH .*)?"
)


def _latin_by_name(char: str) -> str:
    match = _LATIN_NAME.fullmatch(unicodedata.name(char, ""))
    return match.group(1).lower() if match else char


class _FoldTable(dict[int, str]):
    """`str.translate` table that computes and remembers each code point's fold."""

    def __missing__(self, code: int) -> str:
        folded = fold_char(chr(code))
        if len(folded) != 1:
            NON_UNIT.add(chr(code))
        self[code] = folded
        return folded


FOLD = _FoldTable()
# Characters whose fold is not exactly one character (removed or expanded); filled by FOLD.
NON_UNIT: set[str] = set()


def _canon_char(code: int) -> str:
    """Punctuation, spaces and controls read as a space; everything else stays."""
    char = chr(code)
    category = unicodedata.category(char)
    if (category[0] in "PZC" and category != "Pc") or char in "^`~":
        return " "
    return char


class _CanonTable(dict[int, str]):
    def __missing__(self, code: int) -> str:
        self[code] = value = _canon_char(code)
        if value != " " and is_symbol(value):
            SYMBOLS.add(value)
        return value


CANON = _CanonTable()


def is_symbol(char: str) -> bool:
    """Emoji, currency, math and other symbols: each is a token of its own."""
    return unicodedata.category(char)[0] == "S" and char not in "^`~"


class _SignatureTable(dict[int, str]):
    """Character classes for cheap checks before any regex runs: "a" letter, "1" digit or
    leet symbol (@$|+), "!" and "'" themselves, "-" in-word separator, " " anything else."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in _SIGNATURE_EXTRA:
            value = _SIGNATURE_EXTRA[char]
        elif char.isdigit():
            value = "1"
        elif char.isalnum():
            value = "a"
        else:
            value = " "
        self[code] = value
        return value


_SIGNATURE_EXTRA = {
    " ": " ", "\t": " ", "!": "!", "'": "'", **dict.fromkeys("@$|+", "1"),
    **dict.fromkeys("-._*~\u00b7\u2022", "-"),
}  # fmt: skip
SIGNATURE = _SignatureTable()
# Symbols seen so far (filled by CANON) and the ASCII ones: cheap "any symbol here?" checks.
SYMBOLS: set[str] = set("$+<=>|")
