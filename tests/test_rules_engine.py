"""The engine's settling: patterns, regexes, leet and quote capping, exceptions, allow-lists
and conditions."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import pytest

from bot.models import Verdict
from bot.rules.masked import LOOKUPS_MAX
from bot.rules.matchers import MAX_HITS
from bot.rules.spans import replace
from bot.rules.spelling import Misspellings
from bot.rules.testing import evaluate, match, rules_from_yaml, spans

VERMIN = rules_from_yaml(
    """\
    lists:
      groups: [immigrants, muslims, jews, black people]
      vermin: [vermin, parasites, a disease, rats]
    allow: [rat race]
    rules:
      - id: dehumanizing.group_vermin
        action: hide
        reason: Dehumanizing language about a group
        match:
          - pattern:
              - list: groups
              - gap: 0-3
              - words: [are, are like, are nothing but]
              - gap: 0-2
              - list: vermin
        unless:
          - words: [not]
    """
)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("Immigrants are vermin.", "Immigrants are vermin"),
        (
            "muslims in this town are nothing but parasites",
            "muslims in this town are nothing but parasites",
        ),
        ("black people are like rats", "black people are like rats"),
        ("Jews are truly a disease", "Jews are truly a disease"),
        ("immigrants are v3rmin", "immigrants are v3rmin"),
    ],
)
def test_pattern_matches_groups_and_predicates_within_gaps(text: str, span: str) -> None:
    """A group, up to 3 words, a copula, up to 2 words, a predicate: one hit over all of it."""
    assert spans(VERMIN, text) == [span]


@pytest.mark.parametrize(
    "text",
    [
        "The vermin control budget doubled",
        "Immigrants are our neighbours and rats are rodents",  # 3+ words between
        "I like immigrants. Rats are vermin.",  # a sentence ends in between
        "Immigrants are not vermin",  # the exception
        "immigrants join the rat race",  # the allow-list
        "Immigrants",
    ],
)
def test_pattern_does_not_match_outside_its_shape(text: str) -> None:
    """Naming a group is never enough; gaps are bounded; sentences and exceptions stop it."""
    assert match(VERMIN, text) == ()


ACROSS = rules_from_yaml(
    """\
    rules:
      - id: t.pronoun
        match:
          pattern: [{words: [immigrants]}, {gap: 0-8, sentences: 1}, {words: [i hate them]}]
    """
)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("Immigrants keep coming and I hate them", "Immigrants keep coming and I hate them"),
        ("Immigrants keep coming. I hate them!", "Immigrants keep coming. I hate them"),
        ("Immigrants keep coming?! I hate them", "Immigrants keep coming?! I hate them"),
        ("Immigrants... I hate them", "Immigrants... I hate them"),  # one sentence end
        ("Immigrants. Ugh. I hate them", None),  # two
        ("Immigrants keep on coming here, year after year after year. I hate them", None),  # 9
    ],
)
def test_a_gap_may_cross_as_many_sentence_ends_as_it_says(text: str, span: str | None) -> None:
    """`sentences: N` on a gap lets it cross N sentence ends ("?!" and "..." are one); the
    word bound still holds."""
    assert spans(ACROSS, text) == ([span] if span else [])


def test_dropped_hits_say_why() -> None:
    """`evaluate` keeps hits an exception dropped, with the exception's text."""
    result = evaluate(VERMIN, "Immigrants are not vermin")
    [(found, why)] = result.dropped
    assert found.rule.id == "dehumanizing.group_vermin"
    assert why == "exception (unless) matched 'not'"


def test_pattern_alternatives_and_order() -> None:
    """Steps must come in order; a matcher list means any of them."""
    rules = rules_from_yaml(
        """\
        rules:
          - id: threat.exterminate
            match:
              - pattern:
                  [{words: [exterminate, get rid of]}, {gap: 0-1}, {words: [them, all of them]}]
              - words: [gas them]
        """
    )
    assert spans(rules, "we should exterminate them all") == ["exterminate them"]
    assert spans(rules, "get rid of all of them") == ["get rid of all of them"]
    assert spans(rules, "them? exterminate? no") == []
    assert spans(rules, "gas them") == ["gas them"]


OPTIONAL = rules_from_yaml(
    """\
    rules:
      - id: t.denial
        match:
          pattern:
            - words: [not, never]
            - gap: 0-1
            - {words: [going to, gonna, even], optional: true}
            - gap: 0-1
            - {words: [really], optional: true}
            - words: [hurt you]
    """
)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("I will never hurt you", "never hurt you"),
        ("I'm not going to hurt you", "not going to hurt you"),
        ("I'm not gonna really hurt you", "not gonna really hurt you"),
        ("I would never really hurt you", "never really hurt you"),
        ("not ever going to hurt you", "not ever going to hurt you"),  # a gap before the step
        ("never, ever, hurt you", "never, ever, hurt you"),  # both absent: the gaps add up
        ("not ever again hurt you", "not ever again hurt you"),  # 0-1 + 0-1: two words
        ("not ever again now hurt you", None),  # three words: more than the gaps allow
        ("I will hurt you", None),  # the first step is not optional
        ("I'm not going to", None),  # neither is the last
    ],
)
def test_an_optional_step_may_be_absent(text: str, span: str | None) -> None:
    """An optional step matches where its terms are; where they are not, the gaps on either
    side of it add up."""
    assert spans(OPTIONAL, text) == ([span] if span else [])


def test_an_optional_step_is_never_the_anchor() -> None:
    """The anchor is a step that must occur: a comment without it is not read further."""
    rules = rules_from_yaml(
        """\
        rules:
          - id: t.rare_optional
            match:
              pattern:
                - words: [you are]
                - {words: [zyzzyva], optional: true}
                - words: [a fool]
        """
    )
    [matcher] = rules.rules[0].matchers
    assert matcher.pattern is not None
    assert matcher.pattern.anchor in matcher.pattern.required()
    assert spans(rules, "you are a fool") == ["you are a fool"]
    assert spans(rules, "you are zyzzyva a fool") == ["you are zyzzyva a fool"]


def test_regexes_run_on_the_folded_text() -> None:
    """A regex sees lower-cased, homoglyph-folded text, with its punctuation."""
    rules = rules_from_yaml(
        "rules:\n  - id: re.kill\n    action: hide\n    match: {regex: '\\bk+i+l+l+\\s+yo+u+\\b'}\n"
    )
    assert spans(rules, "I will KILLL YOUUU") == ["KILLL YOUUU"]
    assert spans(rules, "I will кill you") == ["кill you"]  # Cyrillic к
    assert spans(rules, "skill your") == []


LEET = """\
rules:
  - id: leet.{mode}
    action: hide
    leet: {mode}
    match: {{words: [moron]}}
"""


def test_leet_only_hits_are_capped_at_flag() -> None:
    """ "m0ron" is a hit, but one that exists only after leet folding is at most a flag."""
    rules = rules_from_yaml(LEET.format(mode="flag"))
    [hit] = match(rules, "you m0r0n")
    assert (hit.matched, hit.action) == ("m0r0n", Verdict.FLAG)
    assert "leetspeak only" in hit.reason
    [plain] = match(rules, "you moron")
    assert plain.action == Verdict.HIDE


def test_leet_reads_one_as_i_or_l() -> None:
    """ "1oser", "k1ll", "11ve" and "|ame" find loser, kill, live and lame."""
    rules = rules_from_yaml(
        "rules:\n  - id: l.rule\n    match: {words: [loser, kill, live, lame, idiot]}\n"
    )
    assert spans(rules, "1oser k1ll 11ve |ame 1d1ot kil") == [
        "1oser",
        "k1ll",
        "11ve",
        "|ame",
        "1d1ot",
    ]


def test_leet_full_and_off() -> None:
    """`leet: full` acts on leet hits as on any; `leet: off` ignores them (and says so)."""
    [hit] = match(rules_from_yaml(LEET.format(mode="full")), "you m0r0n")
    assert hit.action == Verdict.HIDE
    rules = rules_from_yaml(LEET.format(mode="off"))
    result = evaluate(rules, "you m0r0n")
    assert result.hits == []
    assert [why for _, why in result.dropped] == ["leetspeak only, and the rule has leet: off"]


def test_leet_does_not_create_hits_from_numbers() -> None:
    """Plain numbers and numbers with units are never read as letters."""
    rules = rules_from_yaml("rules:\n  - id: t.fag\n    match: {words: [fag, ass]}\n")
    assert match(rules, "the 4 55 in 2024, the 3rd, $455") == ()


MASKED = """\
rules:
  - id: masked.{mode}
    action: hide
    leet: {mode}
    match: {{words: [faggot, cunt, kill all, whore]}}
  - id: masked.common
    action: score
    match: {{words: [where are you, can't stop]}}
"""


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("you f*ggot", "f*ggot"),
        ("what a c#nt", "c#nt"),
        ("k_ll all of them", "k_ll all"),
        ("you wh*re", "wh*re"),  # "where" is a term word too: each reading is tried
        ("you F*GG*T", "F*GG*T"),
        ("you f*gg0t", "f*gg0t"),  # masks read after leet folding
    ],
)
def test_masked_letters_read_as_the_term_words_they_fit(text: str, span: str) -> None:
    """One mask character a letter: a hit found only that way is capped at flag."""
    [hit] = match(rules_from_yaml(MASKED.format(mode="flag")), text)
    assert (text[hit.start : hit.end], hit.action) == (span, Verdict.FLAG)
    assert "masked letters only" in hit.reason


@pytest.mark.parametrize(
    "text",
    [
        "f***t and f*t",  # more hidden than shown, or nothing after the mask
        "*aggot, faggo*",  # a mask at either end of the word
        "f*ggit and f*got",  # other letters; one letter short of "faggot"
        "my_var = x*y; see note*",
    ],
)
def test_masked_words_that_do_not_fit_a_term_are_left_alone(text: str) -> None:
    """Masks at a word's edge, more masks than letters, or letters that differ: no reading."""
    assert match(rules_from_yaml(MASKED.format(mode="flag")), text) == ()


def test_masked_readings_follow_the_leet_setting() -> None:
    """`leet: full` acts on masked hits as on any; `leet: off` drops them and says why."""
    [hit] = match(rules_from_yaml(MASKED.format(mode="full")), "you f*ggot")
    assert hit.action == Verdict.HIDE
    result = evaluate(rules_from_yaml(MASKED.format(mode="off")), "you f*ggot")
    assert result.hits == []
    assert [why for _, why in result.dropped] == ["masked letters only, and the rule has leet: off"]


def test_masked_views_show_every_reading() -> None:
    """`explain` shows each reading of an ambiguous masked word as a view of its own."""
    result = evaluate(rules_from_yaml(MASKED.format(mode="flag")), "wh*re are you")
    masked = [(v.text, v.words) for v in result.views if v.name == "masked"]
    assert masked == [("where are you", ("where",)), ("whore are you", ("whore",))]
    assert [(h.rule_id, h.action) for h, _ in result.hits] == [
        ("masked.common", Verdict.NONE),
        ("masked.flag", Verdict.FLAG),
    ]


def test_a_flood_of_masked_words_is_looked_up_a_bounded_number_of_times() -> None:
    """Repeats of a masked word are read from its first lookup; past LOOKUPS_MAX distinct
    masked words a comment's further ones are left as typed."""
    rules = rules_from_yaml(MASKED.format(mode="flag"))
    repeated = match(rules, "you f*ggot " * 5_000)
    assert {h.rule_id for h in repeated} == {"masked.flag"} and len(repeated) == MAX_HITS
    letters = string.ascii_lowercase
    words = [f"q*{a}{b}{c}" for a in letters for b in letters for c in letters]
    flood = " ".join(words[:LOOKUPS_MAX])
    [hit] = match(rules, f"you f*ggot {flood}")
    assert hit.matched == "f*ggot"
    assert match(rules, f"{flood} you f*ggot") == ()
    below = " ".join(words[: LOOKUPS_MAX - 1])
    assert [h.matched for h in match(rules, f"{below} you f*ggot")] == ["f*ggot"]


SPELLING = """\
lists:
  groups: [women, muslims, immigrants]
  vile: [vermin, disgusting, parasites]
rules:
  - id: spelling.{mode}
    action: hide
    leet: {mode}
    match:
      - pattern: [{{list: groups}}, {{gap: 3}}, {{list: vile}}]
      - words: [i hate women, faggot]
"""


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("mslims are vermin", "mslims are vermin"),  # a letter missing
        ("Muslims are disgsuting", "Muslims are disgsuting"),  # two letters swapped
        ("immigrnats are parasites!", "immigrnats are parasites"),
        ("wmoen are vermn", "wmoen are vermn"),  # two misspelled words
        ("I hate wmoen.", "I hate wmoen"),  # in a phrase
        ("I haet women", "I haet women"),  # two letters swapped in a four-letter word
        ("I hate womenn", "I hate womenn"),  # a repeated letter is no misspelling at all
        ("imigrants are parasites", "imigrants are parasites"),  # a repeated letter typed once
    ],
)
def test_misspelled_words_read_as_the_term_words_they_stand_for(text: str, span: str) -> None:
    """A term word with one letter missing or two neighbours swapped is read as that word;
    a hit found only that way is capped at flag, its span the misspelling as typed."""
    [hit] = match(rules_from_yaml(SPELLING.format(mode="flag")), text)
    assert text[hit.start : hit.end] == span
    if "womenn" not in text:
        assert (hit.action, "misspelled word only" in hit.reason) == (Verdict.FLAG, True)
    else:
        assert hit.action == Verdict.HIDE


@pytest.mark.parametrize(
    "text",
    [
        "wmen are vermin",  # four letters: too short to tell from other words
        "I hte women",  # a letter missing from a four-letter word: too short as well
        "omen: muslims are vermin",  # ... but the real words are matched
        "ummigrants are parasites",  # the first letter is never read as mistyped
        "fgagot and fagot",  # alone, a misspelling is not read; "fagot" is a word
        "immigrantss are hard workers",
        "mslimsare vermin",  # no run-together words
    ],
)
def test_misspellings_that_are_words_too_short_or_alone_are_left_alone(text: str) -> None:
    hits = match(rules_from_yaml(SPELLING.format(mode="flag")), text)
    assert [(h.matched, h.reason.endswith("only: at most flag)")) for h in hits] == (
        [("muslims are vermin", False)] if text.startswith("omen") else []
    )


def test_shorthand_and_z_plurals_are_read_for_term_words_only() -> None:
    """ "ppl" reads "people" and "jewz" reads "jews" whatever their length, but only for a
    term word, only typed that way ("pl" is not "ppl"), and never when English ("quiz")."""
    found = Misspellings(["people", "jews", "quis", "would"], known=frozenset({"quiz", "pl"}))
    short = {k: v for k, v in found.readings.items() if k in ("pl", "jewz", "wud", "quiz")}
    assert short == {"pl": "people", "jewz": "jews", "wud": "would"}  # not "quiz"
    assert found.typed == {"pl": ((0, 2),)}
    assert Misspellings(["gays"], known=frozenset()).readings.get("gayz") == "gays"
    rules = rules_from_yaml(
        """\
        lists:
          groups: [black people, jews]
        rules:
          - id: t.vermin
            action: hide
            match: {pattern: [{list: groups}, {words: [are vermin]}]}
        """
    )
    hits = [(h.matched, h.action) for h in match(rules, "Black ppl are vermin. jewz are vermin")]
    assert hits == [("Black ppl are vermin", Verdict.FLAG), ("jewz are vermin", Verdict.FLAG)]
    hits = match(rules, "black pl are vermin, ppl are vermin, jews are vermin")
    assert [(h.matched, h.action) for h in hits] == [("jews are vermin", Verdict.HIDE)]


def test_two_words_of_a_term_typed_as_one_are_read_as_two() -> None:
    """ "gaypeople", "killall": two neighbouring words of a term, joined, are read apart in
    the spelling view (a guess: flag at most; never alone), unless the join is English."""
    rules = rules_from_yaml(
        """\
        lists:
          groups: [gay people, muslims]
        rules:
          - id: t.kill
            action: hide
            match:
              - pattern: [{words: [kill all]}, {list: groups}]
              - pattern: [{list: groups}, {words: [are vermin]}]
              - words: [every one of them]
        """
    )
    text = "killall muslims! and Gaypeople are vermin"
    hits = [(text[h.start : h.end], h.action) for h in match(rules, text)]
    assert hits == [("killall muslims", Verdict.FLAG), ("Gaypeople are vermin", Verdict.FLAG)]
    assert match(rules, "killall") == ()  # alone: a Unix command, or a name
    assert match(rules, "everyone of them") == ()  # "everyone" is English
    assert match(rules, "kill all gay people")[0].action == Verdict.HIDE
    # across two steps that may be adjacent: "allmuslims", "muslimsare"
    text = "kill allmuslims, and muslimsare vermin"
    hits = [(text[h.start : h.end], h.action) for h in match(rules, text)]
    assert hits == [("kill allmuslims", Verdict.FLAG), ("muslimsare vermin", Verdict.FLAG)]
    spaced = rules_from_yaml(
        """\
        rules:
          - id: t.gap
            action: hide
            match: {pattern: [{words: [burn]}, {gap: 1-2}, {words: [mosques]}]}
        """
    )
    assert match(spaced, "burn the mosques")  # a step pair never adjacent is never joined
    assert match(spaced, "burnmosques now") == ()


def test_spaces_read_into_a_word_map_each_letter_back_to_itself() -> None:
    text, back = replace("xx gaypeople yy", [(3, 12, "gay people")])
    assert text == "xx gay people yy"
    for start, end, typed in [
        (3, 6, "gay"),
        (7, 13, "people"),
        (3, 13, "gaypeople"),
        (7, 16, "people yy"),
    ]:
        first, last = back.span(start, end)
        assert "xx gaypeople yy"[first:last] == typed
    text, back = replace("gaaypeople", [(0, 10, "gay people")])  # not letter for letter
    assert back.span(0, 10) == (0, 10)


def test_english_words_are_never_misspellings() -> None:
    """A variant that is an English word is the word it is: "niger" is a country, "back" is
    not "black"; two term words sharing a variant make it neither."""
    rules = rules_from_yaml(
        """\
        rules:
          - id: t.slur
            action: hide
            match: {words: [niggers are, black people, faggot you]}
        """
    )
    assert [h.matched for h in match(rules, "niggres are crazy, black poeple rock")] == [
        "niggres are",
        "black poeple",
    ]
    assert match(rules, "the niger are crazy, back people rock, fagot you") == ()


def test_misspelled_readings_follow_the_leet_setting_and_say_why() -> None:
    """`leet: full` acts on misspelled hits as on any; `leet: off` drops them; a lone
    misspelled word is dropped, and `explain` shows the view that read it."""
    [hit] = match(rules_from_yaml(SPELLING.format(mode="full")), "mslims are vermin")
    assert hit.action == Verdict.HIDE
    result = evaluate(rules_from_yaml(SPELLING.format(mode="off")), "mslims are vermin")
    assert result.hits == []
    assert [why for _, why in result.dropped] == [
        "misspelled word only, and the rule has leet: off"
    ]
    result = evaluate(rules_from_yaml(SPELLING.format(mode="flag")), "fgagot")
    assert [(f.view, why) for f, why in result.dropped] == [("spelling", "a misspelled word alone")]
    views = [(v.name, v.text, v.words) for v in result.views]
    assert views[-1] == ("spelling", "faggot", ("faggot",))


QUOTES = """\
rules:
  - id: slur.q
    action: hide
    quotes: {mode}
    match: {{words: [zorp]}}
"""


@pytest.mark.parametrize(
    "text",
    [
        "> you zorp\n\nThis kind of comment breaks our rules.",
        "[quote=troll]you zorp[/quote] Not OK.",
        "<blockquote>you zorp</blockquote> Not OK.",
        "[quote]" * 3 + "zorp" + "[/quote]" * 3,
    ],
)
def test_quoted_hits_are_capped_at_flag(text: str) -> None:
    """A slur inside a quote (counter-speech) is flagged for review, not hidden."""
    [hit] = match(rules_from_yaml(QUOTES.format(mode="flag")), text)
    assert hit.action == Verdict.FLAG
    assert "only inside a quote" in hit.reason


def test_quote_settings_none_and_full() -> None:
    """`quotes: none` drops quoted hits; `quotes: full` acts on them; unquoted hits are full."""
    text = "> zorp\nyou zorp"
    hidden = [h.action for h in match(rules_from_yaml(QUOTES.format(mode="none")), text)]
    assert hidden == [Verdict.HIDE]
    full = [h.action for h in match(rules_from_yaml(QUOTES.format(mode="full")), text)]
    assert full == [Verdict.HIDE, Verdict.HIDE]


def test_allow_list_drops_hits_inside_allowed_phrases() -> None:
    """A global allow phrase protects what lies inside it, and only that."""
    rules = rules_from_yaml(
        "allow: [Maine Coon, cocktail*]\n",
        "rules:\n  - id: s.coon\n    match: {words: [coon, cock*]}\n",
    )
    assert spans(rules, "my Maine Coon, a cocktail, and a coon") == ["coon"]
    result = evaluate(rules, "Maine Coon")
    assert [why for _, why in result.dropped] == ["allow-list: inside 'Maine Coon'"]


CONDITIONS = """\
rules:
  - id: c.rule
    match: {words: [zorp]}
    when:
      author_role: {not: [moderator, admin, staff]}
      section: [politics, news]
      platform: [discourse]
"""


def test_conditions_exempt_moderators() -> None:
    """A moderator quoting abuse is exempt; a member is not."""
    rules = rules_from_yaml(CONDITIONS)
    member = match(rules, "zorp", platform="discourse", role="member", section="politics")
    assert len(member) == 1
    assert match(rules, "zorp", platform="discourse", role="Moderator", section="politics") == ()
    result = evaluate(rules, "zorp", platform="discourse", role="moderator", section="politics")
    assert result.dropped[0][1].startswith("condition: author_role is 'moderator'")


def test_conditions_on_section_and_platform() -> None:
    """Every condition must hold."""
    rules = rules_from_yaml(CONDITIONS)
    assert match(rules, "zorp", platform="discourse", section="sports") == ()
    assert match(rules, "zorp", platform="wordpress", section="news") == ()
    assert len(match(rules, "zorp", platform="discourse", section="news")) == 1


def test_account_age_condition() -> None:
    """`account_age_days: {lt: 7}` applies to new accounts; unknown ages do not count."""
    rules = rules_from_yaml(
        "rules:\n  - id: new.rule\n    match: {words: [zorp]}\n"
        "    when: {account_age_days: {lt: 7}}\n"
    )
    now = datetime.now(UTC)
    young = (now - timedelta(days=2)).isoformat()
    old = (now - timedelta(days=30)).isoformat()
    assert len(match(rules, "zorp", account_created_at=young)) == 1
    assert match(rules, "zorp", account_created_at=old) == ()
    assert match(rules, "zorp") == ()


def test_shadow_rules_are_marked() -> None:
    """A shadow rule's hit says so; the policy records it as "would have"."""
    rules = rules_from_yaml("rules:\n  - id: s.rule\n    shadow: true\n    terms: [zorp]\n")
    [hit] = match(rules, "zorp")
    assert hit.shadow


def test_overlapping_hits_of_one_rule_become_one() -> None:
    """Two matchers of one rule finding overlapping spans give the leftmost, longest hit."""
    rules = rules_from_yaml(
        "rules:\n  - id: o.rule\n    match:\n      - words: [you idiot]\n"
        "      - words: [idiot]\n      - regex: 'idiot box'\n"
    )
    assert spans(rules, "you idiot box") == ["you idiot"]


def test_hits_per_rule_are_bounded() -> None:
    """A comment repeating a term thousands of times gives a bounded number of hits."""
    rules = rules_from_yaml("rules:\n  - id: b.rule\n    terms: [zorp]\n")
    assert len(match(rules, "zorp " * 5000)) == 50


REGEX_UNLESS = rules_from_yaml(
    """\
    allow: [killing floor]
    rules:
      - id: t.regex_unless
        match:
          - regex: 'kill\\w*'
        unless:
          - words: [killing it]
          - pattern:
              - words: [not]
              - gap: 0-1
              - words: [killers]
    """
)


@pytest.mark.parametrize(
    "text", ["killing it on stage", "they are not real killers", "the killing floor"]
)
def test_word_exceptions_and_allow_list_apply_to_regex_hits(text: str) -> None:
    """An `unless` of words or patterns, and the allow-list, drop a hit found by a regex
    alone, though none of the rule's own word terms occurs."""
    assert spans(REGEX_UNLESS, text) == []


def test_regex_hits_without_exceptions_still_match() -> None:
    assert spans(REGEX_UNLESS, "kill them") == ["kill"]


REGEX_EXCEPTIONS = rules_from_yaml(
    """\
    rules:
      - id: t.first
        terms: [zorp]
        unless:
          - regex: 'said\\s+"[^"]*"'
      - id: t.second
        match:
          - regex: 'bl[a4]rg'
        unless:
          - regex: 'no bl[a4]rg'
    """
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('he said "zorp" to me', []),
        ("zorp, and blarg", ["zorp", "blarg"]),
        ("no blarg here, but zorp", ["zorp"]),
        ('no bl4rg, he said "zorp"', []),
        ("bl4rg", ["bl4rg"]),
    ],
)
def test_exception_regexes_run_only_when_needed_and_still_apply(
    text: str, expected: list[str]
) -> None:
    """Exceptions' regexes are not in the trigger set (a comment no rule hits never runs
    them) yet drop the hits they cover; trigger regexes keep their own numbers."""
    bank = REGEX_EXCEPTIONS.regexes
    assert bank.triggers == [False, True, False]
    assert bank.matching("blarg and no blarg") == {1}
    assert spans(REGEX_EXCEPTIONS, text) == expected


EMOJI = rules_from_yaml(
    """\
    lists:
      target: ["👳", "👨"]
      tone: ["🏿"]
    rules:
      - id: t.emoji_target
        match:
          - pattern:
              - words: [beat]
              - gap: 0-2
              - list: target
      - id: t.tone_then_ape
        match:
          - pattern:
              - list: tone
              - words: ["🐒"]
      - id: t.clap
        match: {words: [i think that]}
    """
)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("let's beat these 👳🏽", "beat these 👳🏽"),
        ("let's beat these 👳🏽‍♂️ now", "beat these 👳🏽‍♂️"),
        ("beat a 👨🏿‍🦲!", "beat a 👨🏿‍🦲"),
        ("beat a 👳", "beat a 👳"),
    ],
)
def test_a_hit_ending_on_an_emoji_covers_its_modifier_and_joined_parts(
    text: str, span: str
) -> None:
    assert spans(EMOJI, text) == [span]


def test_skin_tone_belongs_to_a_hand_not_to_a_person() -> None:
    """After a person emoji a tone is a word of its own (a group signal); after a fist or
    another hand it is part of that emoji."""
    assert spans(EMOJI, "👨🏿🐒") == ["🏿🐒"]
    assert spans(EMOJI, "👊🏿🐒") == []
    assert spans(EMOJI, "👏🏿🐒") == []


@pytest.mark.parametrize("text", ["I 👏 think 👏 that", "I👏think👏that", "i 👏🏾 think 👏🏾 that"])
def test_clap_emoji_are_separators(text: str) -> None:
    assert len(spans(EMOJI, text)) == 1


def test_a_pattern_is_anchored_on_its_rare_step_even_past_doubled_letters() -> None:
    """Frequent words are compared as terms store them (squeezed: "will" is "wil"), so a
    step of frequent words with doubled letters is not taken for the rare one."""
    rules = rules_from_yaml(
        """\
        rules:
          - id: t.anchor
            match:
              - pattern:
                  - words: [will, all, pull, see]
                  - gap: 0-1
                  - words: [zorps, zorpen, zorpish, zorpy, zorpo]
        """
    )
    pattern = rules.rule("t.anchor").matchers[0].pattern  # type: ignore[union-attr]
    assert pattern is not None
    assert pattern.anchor == pattern.steps[1]
    assert spans(rules, "you will see zorps") == ["will see zorps"]
