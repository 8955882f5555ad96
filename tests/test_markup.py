"""Markup read as rendered (bot.rules.markup): references decoded, inline tags and comments
removed, block tags read as line breaks; well-formed markup only, with spans as typed."""

from __future__ import annotations

import pytest

from bot.models import Comment, Verdict
from bot.normalize import normalize
from bot.rules.engine import RuleSet
from bot.rules.loader import load_rules
from bot.rules.markup import unmarkup

RULES = """
rules:
  - id: insult.idiot
    match: {words: [idiot]}
    action: hide
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    path = tmp_path_factory.mktemp("rules") / "r.yaml"
    path.write_text(RULES)
    return load_rules([path])


def _matched(rules: RuleSet, text: str) -> list[tuple[str, Verdict]]:
    comment = Comment(site="t", id="1", text=text)
    return [(h.matched, h.action) for h in rules.match(comment, normalize(comment))]


@pytest.mark.parametrize(
    ("typed", "rendered"),
    [
        ("id&#105;ot", "idiot"),
        ("&#x49;diot", "Idiot"),
        ("&#X0069;diot", "idiot"),
        ("caf&eacute; idi&shy;ot", "café idi\u00adot"),
        ("&amp;#105;", "&#105;"),  # decoded once, as a browser shows it
        ("id<b></b>iot", "idiot"),
        ("id<!-- hidden -->iot", "idiot"),
        ('<a href="https://x.example/?a=1&amp;b=2">idiot</a>', "idiot"),
        ("<span class='x' data-n=3>id</span>iot", "idiot"),
        ("one<br>two<br/>three<p>four</p>", "one\ntwo\nthree\nfour\n"),
        ("<BLOCKQUOTE>quoted</BLOCKQUOTE>reply", "\nquoted\nreply"),
    ],
)
def test_markup_reads_as_rendered(typed: str, rendered: str) -> None:
    assert unmarkup(typed)[0] == rendered


@pytest.mark.parametrize(
    "text",
    [
        "I <3 you",
        "thanks <user> for the <number> links",  # placeholders, not HTML
        "id<x>iot",
        "if a < b and c > d",
        "if a<b and c>d",  # "<b and c>" has attributes without values: not a tag
        "AT&T and R&D",
        "&unknownentity; stays",
        "<!-- never closed idiot",
        "x <- y",
        "plain text",
    ],
)
def test_text_that_only_looks_like_markup_is_kept(text: str) -> None:
    assert unmarkup(text)[0] == text


def test_every_rendered_character_maps_to_what_was_typed() -> None:
    typed = "so id&#105;<b>o</b>t<!-- x -->!"
    rendered, to_typed = unmarkup(typed)
    assert rendered == "so idiot!"
    assert [typed[slice(*to_typed.span(i, i + 1))] for i in range(len(rendered))] == [
        "s", "o", " ", "i", "d", "&#105;", "o", "t", "!",
    ]  # fmt: skip
    assert typed[slice(*to_typed.span(3, 8))] == "id&#105;<b>o</b>t"


@pytest.mark.parametrize(
    "typed",
    [
        "you id&#105;ot",
        "you &#x69;&#x64;iot",
        "you id<b></b>iot",
        "you id<!-- -->iot",
        "you idi<em>o</em>t",
        "you idi**o**t",
        "you i<wbr>d<wbr>i<wbr>o<wbr>t",
        "you idi&shy;ot",
        "you idi&ZeroWidthSpace;ot",
    ],
)
def test_rules_see_through_rendered_markup(rules: RuleSet, typed: str) -> None:
    """Each is "you idiot" on the page; the hit's span is what the author typed."""
    assert _matched(rules, typed) == [(typed[4:], Verdict.HIDE)]


@pytest.mark.parametrize(
    "text",
    [
        "an id<p>iot",  # a paragraph break: two words
        "an id<br>iot",
        "an id&lt;b&gt;&lt;/b&gt;iot",  # escaped tags are text, shown as "<b></b>"
        "an idi****o****t",  # not emphasis
        "an id**iot",  # a lone "**" masks letters: it is not emphasis
        "an id&amp;#105;ot",  # shown as "id&#105;ot"
    ],
)
def test_markup_that_renders_apart_is_not_joined(rules: RuleSet, text: str) -> None:
    assert _matched(rules, text) == []


def test_quotes_in_html_still_cap_the_action(rules: RuleSet) -> None:
    text = "<blockquote>you id&#105;ot</blockquote> that was rude"
    assert _matched(rules, text) == [("id&#105;ot", Verdict.FLAG)]


HUGE = {
    "unclosed comments": "<!--" * 250_000,
    "unclosed tags": "<a x=1" * 150_000,
    "unclosed attribute quotes": '<a x="' * 150_000,
    "broken references": "&#" * 500_000,
    "references": "&amp;" * 200_000,
    "tags": "<b>" * 300_000,
}


@pytest.mark.parametrize("text", HUGE.values(), ids=HUGE.keys())
def test_huge_markup_is_read_in_one_pass(rules: RuleSet, text: str) -> None:
    """1 MB of markup openings (no closing) neither crashes nor stalls the engine."""
    rendered, to_typed = unmarkup(text)
    assert len(rendered) <= len(text)
    assert to_typed.span(0, len(rendered)) in ((0, 0), (0, len(text)), (0, len(rendered)))
    assert _matched(rules, text) == []
