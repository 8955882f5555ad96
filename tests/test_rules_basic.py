"""The basic YAML rule matcher: word boundaries, folding, spans, load errors, shipped rules."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Comment, RuleHit, Verdict
from bot.normalize import normalize_text
from bot.scoring.rules import RuleLoadError, RuleSet, RuleSpec, compile_rule, load_rules

SHIPPED_RULES = Path(__file__).resolve().parent.parent / "rules"

WriteRules = Callable[..., Path]


@pytest.fixture(name="write_rules")
def _write_rules(tmp_path: Path) -> WriteRules:
    """Write a rule file (dedented YAML) under a fresh folder and return its path."""

    def write(text: str, name: str = "rules.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def ruleset(*rules: tuple[str, list[str]]) -> RuleSet:
    """Flag rules built from (id, terms) pairs, compiled as the loader compiles them."""
    compiled = tuple(
        compile_rule(RuleSpec(id=rule_id, terms=tuple(terms)), "test") for rule_id, terms in rules
    )
    return RuleSet(compiled, "test")


def match(rules: RuleSet, text: str) -> tuple[RuleHit, ...]:
    return rules.match(Comment(site="t", id="1", text=text), normalize_text(text))


def spans(rules: RuleSet, text: str) -> list[str]:
    """The original text of every hit, in order."""
    return [text[h.start : h.end] for h in match(rules, text)]


ASS = ruleset(("test.ass", ["ass", "cunt"]))
IDIOT = ruleset(("insult.t", ["you idiot", "idiot"]))


# --- word boundaries and phrases -----------------------------------------------------------


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
    [first, *_] = match(IDIOT, text)
    assert text[first.start : first.end] == text
    assert first.matched == text


def test_longest_term_wins_at_one_position() -> None:
    """ "you idiot" is matched as the phrase, not only "idiot"."""
    assert spans(IDIOT, "well you idiot") == ["you idiot"]


# --- folding and spans ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("what an IDIOT", "IDIOT", id="case"),
        pytest.param("what an ｉｄｉｏｔ!", "ｉｄｉｏｔ", id="fullwidth"),
        pytest.param("what an ＩＤＩＯＴ", "ＩＤＩＯＴ", id="fullwidth-upper"),
        pytest.param("an id\u200biot here", "id\u200biot", id="zero-width-space"),
        pytest.param("an i\u200dd\u200ci\u2060ot", "i\u200dd\u200ci\u2060ot", id="zwj-zwnj-wj"),
        pytest.param("an id\u00adiot", "id\u00adiot", id="soft-hyphen"),
        pytest.param("\u200bidiot\u200b", "idiot", id="invisible-around-not-in-span"),
        pytest.param("ok 𝐢𝐝𝐢𝐨𝐭 ok", "𝐢𝐝𝐢𝐨𝐭", id="math-bold"),
        pytest.param("ⓘⓓⓘⓞⓣ", "ⓘⓓⓘⓞⓣ", id="circled"),
    ],
)
def test_folding_maps_hits_back_to_the_original_characters(text: str, expected: str) -> None:
    """Case, NFKC and invisible characters are folded; the span is what the author wrote."""
    [h] = match(ruleset(("t.idiot", ["idiot"])), text)
    assert text[h.start : h.end] == expected
    assert h.matched == expected


def test_expanding_characters_map_back_whole() -> None:
    """ß (casefold "ss") and the ﬁ ligature map back to the single original character."""
    rules = ruleset(("t.street", ["strasse"]), ("t.fish", ["fish"]))
    text = "Die Straße, ein ﬁsh."
    assert spans(rules, text) == ["Straße", "ﬁsh"]


FULLWIDTH = {
    c: chr(ord(c) - 0x21 + 0xFF01) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
}
TERM = "you idiot"
TERM_RULES = ruleset(("t.term", [TERM]))


@st.composite
def written_term(draw: st.DrawFn) -> str:
    """TERM as an author might write it: mixed case, fullwidth, invisible chars, odd spaces."""
    out = []
    for i, char in enumerate(TERM):
        if char == " ":
            out.append(draw(st.text(st.sampled_from(" \t\n\u00a0\u3000"), min_size=1, max_size=3)))
            continue
        form = draw(st.sampled_from(["lower", "upper", "fullwidth", "fullwidth-upper"]))
        shaped = {
            "lower": char,
            "upper": char.upper(),
            "fullwidth": FULLWIDTH[char],
            "fullwidth-upper": FULLWIDTH[char.upper()],
        }[form]
        out.append(shaped)
        if i < len(TERM) - 1 and TERM[i + 1] != " " and draw(st.booleans()):
            out.append(draw(st.sampled_from(["\u200b", "\u200d", "\u00ad", "\u2060"])))
    return "".join(out)


@settings(max_examples=150, deadline=None)
@given(prefix=st.text(max_size=20), term=written_term(), suffix=st.text(max_size=20))
def test_hit_span_slices_the_term_as_written(prefix: str, term: str, suffix: str) -> None:
    """For any text around a written form of a term, a hit's span is exactly that form."""
    text = f"{prefix} {term} {suffix}"
    start = len(prefix) + 1
    found = [h for h in match(TERM_RULES, text) if h.start == start]
    assert found, f"no hit at {start} in {text!r}"
    assert text[found[0].start : found[0].end] == term
    assert found[0].matched == term


# --- hits ----------------------------------------------------------------------------------


def test_hits_are_sorted_by_position() -> None:
    """Hits from several rules come back in text order, each repeat counted."""
    rules = ruleset(("z.last", ["alpha"]), ("a.first", ["omega"]))
    text = "omega alpha omega"
    hits = match(rules, text)
    assert [(h.rule_id, h.start, h.end) for h in hits] == [
        ("a.first", 0, 5),
        ("z.last", 6, 11),
        ("a.first", 12, 17),
    ]


def test_hit_carries_the_rule_fields(write_rules: WriteRules) -> None:
    """A hit has the rule's action, labels, severity, reason, shadow flag and source file."""
    path = write_rules(
        """\
        rules:
          - id: slur.x
            description: described
            reason: Slur aimed at a group
            action: hide
            severity: 5
            labels: [identity_attack]
            shadow: true
            terms: [zorp]
        """
    )
    [h] = match(load_rules([path]), "zorp")
    assert (h.rule_id, h.action, h.severity, h.labels) == (
        "slur.x",
        Verdict.HIDE,
        5,
        ("identity_attack",),
    )
    assert (h.reason, h.shadow, h.source) == ("Slur aimed at a group", True, str(path))


def test_score_rules_hit_without_an_action(write_rules: WriteRules) -> None:
    """An `action: score` rule matches with verdict none; the description is the reason."""
    path = write_rules(
        "rules:\n  - id: ctx.x\n    description: context\n    action: score\n    terms: [zorp]\n"
    )
    [h] = match(load_rules([path]), "zorp")
    assert (h.action, h.reason) == (Verdict.NONE, "context")


def test_disabled_rules_are_skipped(write_rules: WriteRules) -> None:
    """A rule with enabled: false is loaded but never matches."""
    path = write_rules(
        """\
        rules:
          - id: off.rule
            enabled: false
            terms: [zorp]
          - id: on.rule
            terms: [zorp]
        """
    )
    rules = load_rules([path])
    assert [r.spec.id for r in rules.rules] == ["on.rule"]
    assert [h.rule_id for h in match(rules, "zorp")] == ["on.rule"]


def test_regex_characters_in_terms_are_literal() -> None:
    """A term like "a.b" matches only a literal dot."""
    rules = ruleset(("t.dot", ["a.b", "c++"]))
    assert spans(rules, "axb a.b") == ["a.b"]
    assert match(rules, "cc") == ()


def test_rules_version_changes_when_a_file_changes(write_rules: WriteRules) -> None:
    """The rules version is a digest of the files: an edit gives a new version."""
    path = write_rules("rules:\n  - id: a\n    terms: [x]\n")
    before = load_rules([path]).version
    write_rules("rules:\n  - id: a\n    terms: [y]\n")
    assert load_rules([path]).version != before


# --- load errors ---------------------------------------------------------------------------


def load_error(path: Path, *more: Path) -> str:
    with pytest.raises(RuleLoadError) as excinfo:
        load_rules([path, *more])
    return str(excinfo.value)


def test_bad_action_names_file_line_and_rule(write_rules: WriteRules) -> None:
    """An unknown action is reported at its line with the rule's id."""
    path = write_rules(
        """\
        rules:
          - id: ok.rule
            terms: [x]
          - id: bad.rule
            action: delete
            terms: [y]
        """
    )
    message = load_error(path)
    assert message.startswith(f"{path}:5: rule bad.rule: action: ")
    assert "'flag', 'hide' or 'score'" in message


def test_missing_terms_names_file_line_and_rule(write_rules: WriteRules) -> None:
    """A rule without terms is reported at the rule with its id."""
    path = write_rules("rules:\n  - id: no.terms\n    description: nothing to match\n")
    assert load_error(path).startswith(f"{path}:2: rule no.terms: terms: ")


def test_empty_terms_are_rejected(write_rules: WriteRules) -> None:
    """`terms: []` is as useless as no terms."""
    path = write_rules("rules:\n  - id: no.terms\n    terms: []\n")
    assert load_error(path).startswith(f"{path}:3: rule no.terms: terms: ")


def test_bad_id_is_rejected(write_rules: WriteRules) -> None:
    """Rule ids are lower-case slugs."""
    path = write_rules("rules:\n  - id: Bad Id\n    terms: [x]\n")
    assert load_error(path).startswith(f"{path}:2: rule Bad Id: id: ")


def test_unknown_keys_are_rejected(write_rules: WriteRules) -> None:
    """A misspelt key in a rule is an error naming the key, not silently ignored."""
    path = write_rules("rules:\n  - id: typo.rule\n    terms: [x]\n    tems: [y]\n")
    message = load_error(path)
    assert message.startswith(f"{path}:4: rule typo.rule: tems: ")
    assert "Extra inputs are not permitted" in message


def test_unknown_top_level_key_is_rejected(write_rules: WriteRules) -> None:
    """A file with `rule:` instead of `rules:` is an error naming the key."""
    path = write_rules("rule:\n  - id: a\n    terms: [x]\n")
    message = load_error(path)
    assert message.startswith(f"{path}:")
    assert "rule: Extra inputs are not permitted" in message


def test_duplicate_id_across_files_names_both_files_line_and_rule(write_rules: WriteRules) -> None:
    """The same id in two files is an error at the second file's rule, naming the first."""
    first = write_rules("rules:\n  - id: dup.rule\n    terms: [x]\n", name="a.yaml")
    second = write_rules(
        "# more\nrules:\n  - id: other\n    terms: [y]\n  - id: dup.rule\n    terms: [z]\n",
        name="b.yaml",
    )
    message = load_error(first, second)
    assert "dup.rule" in message
    assert str(first) in message
    assert re.match(rf"{re.escape(str(second))}:5: rule dup\.rule: ", message), message


def test_invalid_yaml_names_file_and_line(write_rules: WriteRules) -> None:
    """A YAML syntax error names the file and the line."""
    path = write_rules("rules:\n  - id: a\n    terms: [x]\n\t- id: b\n")
    assert load_error(path).startswith(f"{path}:4: not valid YAML")


def test_missing_rule_path_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist is named in the error."""
    missing = tmp_path / "nope.yaml"
    assert str(missing) in load_error(missing)


# --- the shipped rules ---------------------------------------------------------------------

SHIPPED = load_rules([SHIPPED_RULES])
EXAMPLES = [
    pytest.param(rule.spec.id, kind, text, id=f"{rule.spec.id}-{kind}-{n}")
    for rule in SHIPPED.rules
    for kind in ("match", "no_match")
    for n, text in enumerate(rule.spec.examples.get(kind, ()))
]


def test_shipped_rules_load_and_have_examples() -> None:
    """rules/ loads, and every shipped rule documents what it matches and what it doesn't."""
    assert SHIPPED.rules
    for rule in SHIPPED.rules:
        assert rule.spec.examples.get("match"), rule.spec.id
        assert rule.spec.examples.get("no_match"), rule.spec.id


@pytest.mark.parametrize(("rule_id", "kind", "text"), EXAMPLES)
def test_shipped_rule_examples(rule_id: str, kind: str, text: str) -> None:
    """Each shipped rule matches its `match` examples and none of its `no_match` examples."""
    hits = [h for h in match(SHIPPED, text) if h.rule_id == rule_id]
    if kind == "match":
        assert hits, f"{rule_id} should match {text!r}"
    else:
        assert not hits, f"{rule_id} should not match {text!r}, matched {hits[0].matched!r}"
