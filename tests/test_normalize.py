"""Normalization: the folded views of a comment and the offset maps back to the original."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Comment
from bot.normalize import (
    _SQUEEZE,
    _leet,
    fold,
    normalize,
    normalize_text,
    signature_of,
    spaced_text,
)
from bot.rules.quotes import inside, quoted_ranges


def views(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for view in normalize_text(text).views:
        out.setdefault(view.name, []).append(view.padded.strip())
    return out


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("HeLLo", "hello"),
        ("Ｆｕｌｌｗｉｄｔｈ", "fullwidth"),
        ("zero\u200bwidth\u2060joined\ufeff", "zerowidthjoined"),
        ("soft\u00adhyphen", "softhyphen"),
        ("Сyrillic Αlpha", "cyrillic alpha"),  # Cyrillic С, Greek Α
        ("𝔣𝔯𝔞𝔨𝔱𝔲𝔯 𝕕𝕠𝕦𝕓𝕝𝕖", "fraktur double"),
        ("café naïve Ørsted Łódź", "cafe naive orsted lodz"),
        ("Straße", "strasse"),
        ("it’s “quoted”", 'it\'s "quoted"'),
        ("ɪᴅɪᴏᴛ", "idiot"),
        ("F\U0001f170\ufe0fgs \U0001f17f\U0001f170k\u2139\ufe0f", "fags paki"),  # 🅰️ 🅿 ℹ️
        ("\U0001f150\u24c2\U0001f130", "ama"),  # negative circled, circled, squared
    ],
)
def test_fold(text: str, folded: str) -> None:
    """NFKC, case folding, invisible characters, homoglyphs and diacritics are folded."""
    assert fold(text)[0] == folded


def test_other_scripts_are_not_turned_into_latin() -> None:
    """Arabic, Hebrew and CJK letters are left alone; Cyrillic words without look-alikes too."""
    for text in ("مرحبا", "שלום", "日本語", "идиот"):
        assert not fold(text)[0].isascii()


def test_plain_view_is_words_and_single_spaces() -> None:
    """Punctuation reads as a space, runs of spaces as one, repeated letters squeezed."""
    assert views("Well,  you   IDIOOOT!!")["plain"] == ["wel you idiot"]


def test_joined_views_only_when_there_are_separators() -> None:
    """Ordinary text has a single plain view; "i d i o t" and "id-iot" add a joined one."""
    assert list(views("an ordinary sentence, nothing more.")) == ["plain"]
    assert views("a complete i d i o t")["joined"][0] == "a complete idiot"
    assert views("an id-iot")["joined"] == ["an idiot"]
    assert views("a f a g g o t")["joined"] == ["afagot", "a fagot"]


def test_numbers_are_not_joined_or_leet() -> None:
    """ "5-4", "3.5", "3rd" and "90s" are numbers, not obfuscated words."""
    assert list(views("voted 5-4, 3.5 times, the 3rd time in the 90s")) == ["plain"]


def test_leet_views_read_digits_and_symbols_as_letters() -> None:
    """ "m0r0n" and "$hit" are read as words; "1" stands for i or l, so l reads as i."""
    assert views("a m0r0n, $hit")["leet"] == ["a moron shit"]
    assert views("1diot 1oser, I'll k1ll")["leet"] == ["idiot ioser i i ki"]


def test_trailing_punctuation_is_not_leet() -> None:
    """ "idiot!" keeps its "!"; "sh!t" reads "shit"."""
    assert "leet" not in views("idiot!")
    assert views("sh!t")["leet"] == ["shit"]


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("a i.d.i.o.t here", "i.d.i.o.t"),
        ("an i d i o t here", "i d i o t"),
        ("an i  d  i  o  t  here", "i  d  i  o  t"),
        ("an\ni\nd\ni\no\nt\nhere", "i\nd\ni\no\nt"),  # stacked, one letter a line
        ("an і\u200bd\u200bі\u200bо\u200bt here", "і\u200bd\u200bі\u200bо\u200bt"),
        ("an iiiiddddiiiioooottt here", "iiiiddddiiiioooottt"),
        ("a 1d10t here", "1d10t"),
        ("an ｉｄｉｏｔ here", "ｉｄｉｏｔ"),
    ],
)
def test_every_view_maps_back_to_the_word_as_written(text: str, word: str) -> None:
    """Whatever view reads "idiot", its span in the original is the whole written word."""
    normalized = normalize_text(text)
    found = []
    for view in normalized.views:
        canonical = view.padded
        at = canonical.find(" idiot ")
        if at >= 0:
            start, end = view.original_span(at, at + 5)
            found.append(text[start:end])
    assert found and set(found) == {word}


def test_offsets_map_the_folded_text_to_the_original() -> None:
    """`offsets[i]` is where text[i] came from, for expanding and vanishing characters."""
    text = "ﬁ\u200bx"
    normalized = normalize_text(text)
    assert normalized.text == "fix"
    assert normalized.offsets == (0, 0, 2)
    assert normalized.original_span(0, 3) == (0, 3)


def test_normalize_carries_the_platform() -> None:
    """The pipeline passes the site's platform type for `when: platform` conditions."""
    assert normalize(Comment(site="s", id="1", text="x"), "discourse").platform == "discourse"


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("> quoted line\nreply", ["> quoted line"]),
        ("  >> nested\n> two\nreply", ["  >> nested\n> two"]),
        (
            "a [quote=bob]inner [QUOTE]deeper[/quote] still[/quote] out",
            ["[quote=bob]inner [QUOTE]deeper[/quote] still[/quote]"],
        ),
        (
            '[quote="alice, post:3, topic:7"]hi[/quote]',
            ['[quote="alice, post:3, topic:7"]hi[/quote]'],
        ),
        (
            "<blockquote class='x'>said <blockquote>this</blockquote></blockquote> no",
            ["<blockquote class='x'>said <blockquote>this</blockquote></blockquote>"],
        ),
        ("[quote]never closed", ["[quote]never closed"]),
        ("a > b is not a quote", []),
        ("&gt; escaped quote\nno", ["&gt; escaped quote"]),
    ],
)
def test_quotes_are_found(text: str, quoted: list[str]) -> None:
    """Blockquotes, [quote] (nested, with attributes), "> " lines; unclosed runs to the end."""
    assert [text[s:e] for s, e in quoted_ranges(text)] == quoted


def test_inside_quote_needs_the_whole_span() -> None:
    """A span is quoted only if it lies wholly inside one quote."""
    ranges = quoted_ranges("> abc\ndef")
    assert inside(ranges, 2, 5)
    assert not inside(ranges, 2, 8)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.sampled_from("ab AB,.!$=🐀\u200bé'-_1\t\n\u00a0\u2028\x1c"), max_size=40)
    | st.text(st.sampled_from("aab  ,.!$=|'-_1\t\n\x0b\x1c\x1f"), max_size=40)
    | st.text(st.characters(max_codepoint=127), max_size=40)
    | st.text(max_size=40)
)
def test_canonical_text_is_the_one_its_maps_describe(text: str) -> None:
    """The fast canonical string equals the one built step by step for the offset maps."""
    for view in normalize_text(text).views:
        spaced, _ = spaced_text(view.canonical.text)
        assert _SQUEEZE.sub("", spaced) == view.padded[1:-1]


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.sampled_from("aabbo  ,.!$=🐀\u200bé'-_1l\u00a0ⓐ"), max_size=40)
    | st.text(max_size=40)
)
def test_a_letters_run_read_from_its_word_is_the_maps_run(text: str) -> None:
    """`run` reads a letter's run length from its word; the offset maps agree everywhere."""
    for view in normalize_text(text).views:
        inside = [i for i in range(len(view.padded) - 2) if view.padded[i + 1] != " "]
        fast = [view.run(i) for i in inside]
        assert view.canonical._maps is None  # no map was needed
        view.canonical._build_maps()  # from here on, `run` reads the maps
        assert fast == [view.run(i) for i in inside]


def test_a_long_words_runs_are_read_without_caching_it() -> None:
    view = normalize_text("n" + "o" * 70 + "pe, sooo long").views[0]
    assert view.padded == " nope so long "
    assert [view.run(i) for i in (0, 1, 2, 5, 6)] == [1, 70, 1, 1, 3]


@settings(max_examples=500, deadline=None)
@given(text=st.text(st.sampled_from("abc io1 0-3.!'$@ _e"), max_size=30) | st.text(max_size=30))
def test_skipping_the_joined_texts_leet_reading_loses_no_view(text: str) -> None:
    """build_views skips the leetspeak reading of the joined text when neither the plain text
    nor the joined words have anything for it: computing it anyway adds no reading."""
    views = normalize_text(text).views
    joined = [v for v in views if v.name == "joined"]
    if not joined:
        return
    have = {v.text for v in views}
    for reading, _ in _leet(joined[0].text, signature_of(joined[0].text)):
        assert reading in have or reading == views[0].text


def test_a_negated_relation_keeps_its_negation() -> None:
    """ "≠" decomposes to "=" and a combining stroke; folding would drop the stroke and turn
    "a ≠ b" into "a = b". It reads "/=", mapped back to the one character."""
    normalized = normalize_text("♿ ≠ 💩")
    plain = normalized.views[0]
    assert plain.text == "♿ /= 💩"
    assert plain.to_original.span(2, 4) == (2, 3)
