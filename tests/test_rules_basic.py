"""Word and phrase matching: word boundaries, folding, spans back to the original, hit fields."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Verdict
from bot.rules.loader import load_rules
from bot.rules.testing import match, rules_from_yaml, spans


def words_rule(*terms: str, rule_id: str = "t.rule", **fields: str) -> str:
    extra = "".join(f"\n    {k}: {v}" for k, v in fields.items())
    quoted = ", ".join(f'"{t}"' for t in terms)
    return f"rules:\n  - id: {rule_id}\n    match: {{words: [{quoted}]}}{extra}\n"


ASS = rules_from_yaml(words_rule("ass", "cunt"))
IDIOT = rules_from_yaml(words_rule("you idiot", "idiot"))


@pytest.mark.parametrize(
    "text",
    ["class", "assess the situation", "Scunthorpe United", "passage", "ASSASSIN", "ass_hat"],
)
def test_terms_do_not_match_inside_words(text: str) -> None:
    """A term is a whole word: no "ass" in "class", no "cunt" in "Scunthorpe"."""
    assert match(ASS, text) == ()


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("you ass.", ["ass"]),
        ("ASS!", ["ASS"]),
        ("(ass)", ["ass"]),
        ("'ass' and ass", ["ass", "ass"]),
        ("ass-hat", ["ass"]),
    ],
)
def test_terms_match_as_whole_words(text: str, found: list[str]) -> None:
    """A term next to punctuation or the text's ends matches."""
    assert spans(ASS, text) == found


@pytest.mark.parametrize(
    "text", ["you   idiot", "you\tidiot", "you\n\nidiot", "you\u00a0idiot", "YOU \u3000 IDIOT"]
)
def test_phrases_match_across_extra_whitespace(text: str) -> None:
    """Any run of whitespace (including NBSP and ideographic space) separates phrase words."""
    [first] = match(IDIOT, text)
    assert text[first.start : first.end] == text == first.matched


def test_phrases_match_across_commas_but_not_sentence_ends() -> None:
    """Punctuation inside a sentence separates words; a sentence end breaks a phrase."""
    assert spans(IDIOT, "you, idiot") == ["you, idiot"]
    assert spans(IDIOT, "Thank you. Idiot politicians") == ["Idiot"]


def test_longest_term_wins_at_one_position() -> None:
    """ "you idiot" is matched as the phrase, not only "idiot"."""
    assert spans(IDIOT, "well you idiot") == ["you idiot"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("what an IDIOT", "IDIOT", id="case"),
        pytest.param("what an ｉｄｉｏｔ!", "ｉｄｉｏｔ", id="fullwidth"),
        pytest.param("an id\u200biot here", "id\u200biot", id="zero-width-space"),
        pytest.param("an i\u200dd\u200ci\u2060ot", "i\u200dd\u200ci\u2060ot", id="zwj-zwnj-wj"),
        pytest.param("an id\u00adiot", "id\u00adiot", id="soft-hyphen"),
        pytest.param("\u200bidiot\u200b", "idiot", id="invisible-around-not-in-span"),
        pytest.param("ok 𝐢𝐝𝐢𝐨𝐭 ok", "𝐢𝐝𝐢𝐨𝐭", id="math-bold"),
        pytest.param("ⓘⓓⓘⓞⓣ", "ⓘⓓⓘⓞⓣ", id="circled"),
        pytest.param("an іdіоt", "іdіоt", id="cyrillic"),
        pytest.param("an ɪᴅɪᴏᴛ", "ɪᴅɪᴏᴛ", id="small-capitals"),
        pytest.param("an ídìõt", "ídìõt", id="accents"),
        pytest.param("an i\u0301dio\u0308t", "i\u0301dio\u0308t", id="combining-accents"),
        pytest.param("an idiooot", "idiooot", id="repeated"),
        pytest.param("an iddiot", "iddiot", id="doubled"),
        pytest.param("an i d i o t", "i d i o t", id="spaced"),
        pytest.param("an i.d.i.o.t.", "i.d.i.o.t", id="dotted"),
        pytest.param("an i-d-i-o-t", "i-d-i-o-t", id="dashed"),
        pytest.param("an i_d_i_o_t", "i_d_i_o_t", id="underscored"),
        pytest.param("an id-iot", "id-iot", id="split"),
    ],
)
def test_folding_maps_hits_back_to_the_original_characters(text: str, expected: str) -> None:
    """Case, NFKC, homoglyphs, accents, repeats, separators: the span is what was written."""
    [h] = match(rules_from_yaml(words_rule("idiot")), text)
    assert (text[h.start : h.end], h.matched, h.action) == (expected, expected, Verdict.FLAG)


def test_expanding_characters_map_back_whole() -> None:
    """ß (casefold "ss") and the ﬁ ligature map back to the single original character."""
    rules = rules_from_yaml(words_rule("strasse", "fish"))
    assert spans(rules, "Die Straße, ein ﬁsh.") == ["Straße", "ﬁsh"]


def test_fewer_repeated_letters_than_the_term_do_not_match() -> None:
    """Extra repeats match ("faggggot"); missing ones do not ("fagot" is another word)."""
    rules = rules_from_yaml(words_rule("faggot"))
    assert spans(rules, "a fagot of sticks") == []
    assert spans(rules, "you faggggot") == ["faggggot"]


def test_spelled_out_words_are_not_joined_with_their_neighbours() -> None:
    """ "a b c" prose stays words; "is a f a g" reads both "afag" and "a fag"."""
    rules = rules_from_yaml(words_rule("fag", "abc"))
    assert spans(rules, "you are a f a g") == ["f a g"]
    assert spans(rules, "plan b c") == []


def test_symbols_and_emoji_are_words_of_their_own() -> None:
    """An emoji term matches with or without spaces around it."""
    rules = rules_from_yaml(words_rule("people = 🐀"))
    assert spans(rules, "those people=🐀!") == ["people=🐀"]


def test_wildcards_match_inside_a_word() -> None:
    """`idiot*` matches idiots and idiotic; `*` never crosses a space."""
    rules = rules_from_yaml(words_rule("idiot*", "f*ck"))
    assert spans(rules, "idiots, idiotic, an idiot, idiot box") == [
        "idiots",
        "idiotic",
        "idiot",
        "idiot",
    ]
    assert spans(rules, "fuck, fck, f ck") == ["fuck", "fck"]


def test_regex_characters_in_terms_are_literal() -> None:
    """A term like "a.b" matches only a literal separator, never any character."""
    rules = rules_from_yaml(words_rule("a.b", "c++"))
    assert spans(rules, "axb a.b") == ["a.b"]
    assert spans(rules, "cc c++") == ["c++"]


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FULLWIDTH = {c: chr(ord(c) - 0x21 + 0xFF01) for c in _LETTERS}
_PHRASE = rules_from_yaml(words_rule("you idiot"))


@st.composite
def written_term(draw: st.DrawFn) -> str:
    """ "you idiot" as an author might write it: case, fullwidth, invisible chars, odd spaces."""
    out = []
    term = "you idiot"
    for i, char in enumerate(term):
        if char == " ":
            out.append(draw(st.text(st.sampled_from(" \t\n\u00a0\u3000"), min_size=1, max_size=3)))
            continue
        form = draw(st.sampled_from(["lower", "upper", "fullwidth"]))
        shaped = {"lower": char, "upper": char.upper(), "fullwidth": _FULLWIDTH[char]}[form]
        out.append(shaped)
        if i < len(term) - 1 and term[i + 1] != " " and draw(st.booleans()):
            out.append(draw(st.sampled_from(["\u200b", "\u200d", "\u00ad", "\u2060"])))
    return "".join(out)


@settings(max_examples=150, deadline=None)
@given(prefix=st.text(max_size=20), term=written_term(), suffix=st.text(max_size=20))
def test_hit_span_slices_the_term_as_written(prefix: str, term: str, suffix: str) -> None:
    """For any text around a written form of a term, a hit's span is exactly that form."""
    text = f"{prefix} {term} {suffix}"
    start = len(prefix) + 1
    found = [h for h in match(_PHRASE, text) if h.start == start]
    assert found, f"no hit at {start} in {text!r}"
    assert found[0].matched == term


def test_hits_are_sorted_by_position() -> None:
    """Hits from several rules come back in text order, each repeat counted."""
    rules = rules_from_yaml(
        words_rule("alpha", rule_id="z.last") + words_rule("omega", rule_id="a.first")[7:]
    )
    hits = match(rules, "omega alpha omega")
    assert [(h.rule_id, h.start, h.end) for h in hits] == [
        ("a.first", 0, 5),
        ("z.last", 6, 11),
        ("a.first", 12, 17),
    ]


def test_hit_carries_the_rule_fields(tmp_path: Path) -> None:
    """A hit has the rule's action, labels, severity, reason, shadow flag and source file."""
    path = tmp_path / "r.yaml"
    path.write_text(
        "rules:\n  - id: slur.x\n    description: described\n    reason: Slur aimed at a group\n"
        "    action: hide\n    severity: 5\n    labels: [identity_attack]\n    shadow: true\n"
        "    terms: [zorp]\n",
        encoding="utf-8",
    )
    [h] = match(load_rules([path]), "zorp")
    assert (h.rule_id, h.action, h.severity, h.labels) == (
        "slur.x",
        Verdict.HIDE,
        5,
        ("identity_attack",),
    )
    assert (h.reason, h.shadow, h.source) == ("Slur aimed at a group", True, str(path))


def test_score_rules_hit_without_an_action() -> None:
    """An `action: score` rule matches with verdict none; the description is the reason."""
    rules = rules_from_yaml(words_rule("zorp", action="score", description="context"))
    [h] = match(rules, "zorp")
    assert (h.action, h.reason) == (Verdict.NONE, "context")


def test_disabled_rules_are_skipped() -> None:
    """A rule with enabled: false is loaded but never matches (rules test still runs it)."""
    text = (
        words_rule("zorp", rule_id="off.rule", enabled="false")
        + words_rule("zorp", rule_id="on.rule")[7:]
    )
    rules = rules_from_yaml(text)
    assert [r.id for r in rules.rules] == ["on.rule"]
    assert [h.rule_id for h in match(rules, "zorp")] == ["on.rule"]
    assert len(rules_from_yaml(text, include_disabled=True).rules) == 2


def test_rules_version_changes_when_a_file_changes(tmp_path: Path) -> None:
    """The rules version is a digest of the files: an edit gives a new version."""
    path = tmp_path / "r.yaml"
    path.write_text(words_rule("x"), encoding="utf-8")
    before = load_rules([path]).version
    path.write_text(words_rule("y"), encoding="utf-8")
    assert load_rules([path]).version != before


def test_notice_template_is_filled_in() -> None:
    """A rule's notice names the reason, rule and matched text for the author."""
    rules = rules_from_yaml(
        words_rule("zorp", reason="Rude", notice='"Hidden: {reason} ({matched})"')
    )
    [h] = match(rules, "ZORP")
    assert rules.notice(h) == "Hidden: Rude (ZORP)"
