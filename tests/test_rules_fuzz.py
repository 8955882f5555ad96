"""The engine never crashes and never stalls: random Unicode, a 1 MB comment, 10,000 nested
quotes, inputs that make backtracking regexes explode."""

from __future__ import annotations

import random
import re
import string
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import Comment, RuleHit
from bot.normalize import normalize, normalize_text
from bot.rules.loader import load_rules
from bot.rules.spelling import squeeze
from bot.rules.testing import match, rules_from_yaml

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = load_rules([ROOT / "rules"])
PIECES = [
    "idiot", "i d i o t", "m0r0n", "you", "are", "vermin", "immigrants", "kill", "k1ll",
    "> ", "\n", "[quote]", "[/quote]", "<blockquote>", "</blockquote>", "\u200b", "ё", "🐀",
    "=", "$", "!", "-", ".", "'", "ⓘ", "ﬁ", "ß", "e\u0301", "\ufe0f", "\u202e", " ",
    "f*ggot", "wh*re", "c#nt", "*", "#", "_", "k_ll", "mslims", "vermn", "i hate", "them",
    "disgsuting", ". ", "they are",
]  # fmt: skip


MISSPELLED = ["mslims", "Muslims", "vermn", "vermin", "wmoen", "disgsuting", "i hate", "are",
              "them", "they are", ". ", " ", "\u200b", "ё", "m0slims"]  # fmt: skip


def check_hits(text: str, hits: tuple[RuleHit, ...]) -> None:
    for hit in hits:
        assert 0 <= hit.start < hit.end <= len(text)
        assert hit.matched == text[hit.start : hit.end]


def shipped_hits(text: str) -> tuple[RuleHit, ...]:
    comment = Comment(site="fuzz", id="1", text=text)
    return SHIPPED.match(comment, normalize(comment))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(st.characters(codec=None, exclude_categories=["Cs"]), max_size=300))
def test_random_unicode_never_crashes(text: str) -> None:
    """Any Unicode text gives hits whose spans lie in the text and slice what they matched."""
    check_hits(text, shipped_hits(text))


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=40))
def test_random_mixes_of_terms_and_markup_never_crash(parts: list[str]) -> None:
    """Terms, evasions, quotes markup and odd characters in any order: valid hits."""
    text = "".join(parts)
    check_hits(text, shipped_hits(text))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200), data=st.data())
def test_every_view_maps_any_span_into_the_text(text: str, data: st.DataObject) -> None:
    """Offset maps of every view turn any canonical span into a span of the original."""
    for view in normalize_text(text).views:
        size = len(view.padded) - 2
        if size <= 0:
            continue
        start = data.draw(st.integers(0, size - 1))
        end = data.draw(st.integers(start + 1, size))
        first, last = view.original_span(start, end)
        assert 0 <= first <= last <= len(text)


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.sampled_from(MISSPELLED) | st.text(string.ascii_lowercase + " .", max_size=8))
)
def test_spelling_views_map_each_misspelling_back_to_what_was_typed(parts: list[str]) -> None:
    """Each term word the spelling view reads maps back to exactly a word as typed: the
    misspelling it stands for, or the word itself where it was typed right."""
    text = "".join(parts)
    plain = normalize_text(text).views[0]
    misread = SHIPPED.terms.scan(plain).misread
    view = SHIPPED.terms.misspelled.view(plain, misread) if misread else None
    if view is None:
        return
    readings = SHIPPED.terms.misspelled.readings
    for word in view.words:
        for found in re.finditer(rf"\b{word}\b", view.text):
            start, end = view.to_original.span(*found.span())
            typed = text[start:end].lower()
            assert typed == word or readings.get(squeeze(typed)) == word, (typed, word)
    check_hits(text, shipped_hits(text))


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(PIECES) | st.text(string.ascii_lowercase + "*#_ ", max_size=8), max_size=30
    )
)
def test_masked_views_keep_the_plain_views_offsets(parts: list[str]) -> None:
    """A masked view swaps one letter for one mask, so the plain view's offsets serve it."""
    assert SHIPPED.masked.views(normalize_text("you f*ggot").views[0])  # the views are made
    text = "".join(parts)
    plain = normalize_text(text).views[0]
    for view in SHIPPED.masked.views(plain):
        assert len(view.text) == len(plain.text) and view.to_original is plain.to_original
        changed = [a for a, b in zip(plain.text, view.text, strict=True) if a != b]
        assert set(changed) <= set("*#_")


def big_comment(size: int) -> str:
    rng = random.Random(3)
    words = ["the", "council", "vote", "idiot", "m0ron", "i d i o t", "vermin", "are", "🐀",
             "immigrants", "\u200b", "café", "> quote\n", "kill", "you"]  # fmt: skip
    out: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(words)
        out.append(word)
        length += len(word) + 1
    return " ".join(out)[:size]


def test_a_1mb_comment_finishes_in_seconds() -> None:
    """A megabyte of text full of terms is matched in a few seconds, hits bounded."""
    text = big_comment(1_000_000)
    start = time.process_time()
    hits = shipped_hits(text)
    elapsed = time.process_time() - start
    check_hits(text, hits)
    assert hits and elapsed < 10, elapsed


def test_a_1mb_comment_of_one_letter_finishes_in_seconds() -> None:
    """One huge run of a repeated letter (one giant word) costs no more than its length."""
    for text in ("a" * 1_000_000, "i" * 500_000 + "diot", "fa" + "g" * 999_000):
        start = time.process_time()
        check_hits(text, shipped_hits(text))
        assert time.process_time() - start < 10


def test_a_1mb_comment_of_one_repeated_term_finishes_in_seconds() -> None:
    """A slur repeated a hundred thousand times, plain, masked or misspelled, and a flood of
    distinct masked words: each occurrence costs no more than the text up to it."""
    rng = random.Random(5)
    letters = string.ascii_lowercase
    masked = " ".join(
        rng.choice(letters) + "*" + "".join(rng.choices(letters, k=rng.randint(1, 5)))
        for _ in range(150_000)
    )
    repeated = ("faggot ", "f*ggot ", "f*gg0t ", "wh*re ", "i hate mslims ")
    for text in (*(word * 150_000 for word in repeated), masked):
        start = time.process_time()
        hits = shipped_hits(text)
        assert time.process_time() - start < 10
        check_hits(text, hits)


def test_deeply_nested_quotes_finish_and_cap() -> None:
    """10,000 nested [quote] levels and 10,000 ">" are tracked by counting, not recursion."""
    rules = rules_from_yaml("rules:\n  - id: q.rule\n    action: hide\n    terms: [zorp]\n")
    for text in (
        "[quote]" * 10_000 + "zorp" + "[/quote]" * 10_000 + " zorp",
        ">" * 10_000 + " zorp\nzorp",
        "<blockquote>" * 10_000 + "zorp" + "</blockquote>" * 10_000 + " zorp",
        "[quote=" * 10_000 + " zorp",
    ):
        start = time.process_time()
        hits = match(rules, text)
        assert time.process_time() - start < 5
        assert [h.action.word for h in hits][-1] == "hide"  # the one outside the quotes


def test_pathological_regex_inputs_stay_linear() -> None:
    """Regexes that backtrack exponentially elsewhere run in linear time on RE2."""
    rules = rules_from_yaml(
        "rules:\n  - id: re.evil\n    match:\n"
        "      - regex: '(a+)+b'\n      - regex: '(x|x)*y'\n      - regex: '(\\w+\\s?)*$!'\n"
    )
    for text in ("a" * 100_000, "x" * 100_000, "word " * 20_000):
        start = time.process_time()
        assert match(rules, text) == ()
        assert time.process_time() - start < 5
    assert shipped_hits("n" + "-" * 50_000 + "gger " * 1000) is not None
