"""Loading rule files: every kind of mistake names its file, line and rule; the schema is
published and current."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from bot.rules.loader import RuleLoadError, load_rules
from bot.rules.schema import rules_schema, schema_text
from bot.rules.testing import evaluate, match, rules_from_yaml

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(*paths: Path) -> str:
    with pytest.raises(RuleLoadError) as excinfo:
        load_rules(list(paths))
    return str(excinfo.value)


def test_bad_action_names_file_line_and_rule(tmp_path: Path) -> None:
    """An unknown action is reported at its line with the rule's id."""
    path = write(
        tmp_path,
        """\
        rules:
          - id: ok.rule
            terms: [x]
          - id: bad.rule
            action: delete
            terms: [y]
        """,
    )
    message = load_error(path)
    assert message.startswith(f"{path}:5: rule bad.rule: action: ")
    assert "'flag', 'hide' or 'score'" in message


def test_rule_with_nothing_to_match_is_an_error(tmp_path: Path) -> None:
    """A rule without match (or the old terms) is reported at the rule."""
    path = write(tmp_path, "rules:\n  - id: no.terms\n    description: nothing to match\n")
    assert (
        load_error(path)
        == f"{path}:2: rule no.terms: nothing to match: add match (or the old terms)"
    )


def test_empty_terms_are_rejected(tmp_path: Path) -> None:
    """`terms: []` is as useless as no terms."""
    path = write(tmp_path, "rules:\n  - id: no.terms\n    terms: []\n")
    assert load_error(path).startswith(f"{path}:3: rule no.terms: terms: ")


def test_bad_id_is_rejected(tmp_path: Path) -> None:
    """Rule ids are lower-case slugs."""
    path = write(tmp_path, "rules:\n  - id: Bad Id\n    terms: [x]\n")
    assert load_error(path).startswith(f"{path}:2: rule Bad Id: id: ")


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    """A misspelt key in a rule is an error naming the key, not silently ignored."""
    path = write(tmp_path, "rules:\n  - id: typo.rule\n    terms: [x]\n    tems: [y]\n")
    message = load_error(path)
    assert message.startswith(f"{path}:4: rule typo.rule: tems: ")
    assert "Extra inputs are not permitted" in message


def test_unknown_top_level_key_is_rejected(tmp_path: Path) -> None:
    """A file with `rule:` instead of `rules:` is an error naming the key."""
    path = write(tmp_path, "rule:\n  - id: a\n    terms: [x]\n")
    assert load_error(path).startswith(f"{path}:1: rule: Extra inputs are not permitted")


def test_duplicate_id_across_files_names_both_files(tmp_path: Path) -> None:
    """The same id in two files is an error at the second file's rule, naming the first."""
    first = write(tmp_path, "rules:\n  - id: dup.rule\n    terms: [x]\n", name="a.yaml")
    second = write(
        tmp_path,
        "# more\nrules:\n  - id: other\n    terms: [y]\n  - id: dup.rule\n    terms: [z]\n",
        name="b.yaml",
    )
    message = load_error(first, second)
    assert re.match(rf"{re.escape(str(second))}:5: rule dup\.rule: id already used at ", message)
    assert f"{first}:2" in message


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    """A YAML syntax error names the file and the line."""
    path = write(tmp_path, "rules:\n  - id: a\n    terms: [x]\n\t- id: b\n")
    assert load_error(path).startswith(f"{path}:4: not valid YAML")


def test_duplicate_yaml_keys_are_an_error(tmp_path: Path) -> None:
    """Two `match:` keys in one rule would silently drop one: it is an error at the second."""
    path = write(tmp_path, "rules:\n  - id: a\n    terms: [x]\n    terms: [y]\n")
    message = load_error(path)
    assert message.startswith(f"{path}:4: not valid YAML: duplicate key 'terms' (first at line 3)")


def test_missing_rule_path_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist is named in the error."""
    missing = tmp_path / "nope.yaml"
    assert str(missing) in load_error(missing)


def test_regex_rejected_by_re2_is_a_load_error(tmp_path: Path) -> None:
    """Backreferences (and anything else RE2 cannot run in linear time) fail at the regex."""
    path = write(
        tmp_path,
        """\
        rules:
          - id: re.bad
            match:
              - words: [x]
              - regex: '(a+)\\1'
        """,
    )
    message = load_error(path)
    assert message.startswith(f"{path}:5: rule re.bad: match.1.regex: RE2 rejects this regex")
    assert "\\1" in message


def test_unknown_list_is_a_load_error(tmp_path: Path) -> None:
    """A pattern naming a list no file defines fails at that step, listing the known ones."""
    path = write(
        tmp_path,
        """\
        lists:
          groups: [martians]
        rules:
          - id: pat.rule
            match:
              pattern:
                - list: groups
                - list: vermim
        """,
    )
    message = load_error(path)
    assert message == (
        f"{path}:8: rule pat.rule: match.0.pattern.1.list: unknown list 'vermim' (known: groups)"
    )


def test_duplicate_list_across_files_is_a_load_error(tmp_path: Path) -> None:
    """List names are global: a second definition names the first."""
    first = write(tmp_path, "lists:\n  groups: [a]\n", name="a.yaml")
    second = write(tmp_path, "lists:\n  other: [b]\n  groups: [c]\n", name="b.yaml")
    message = load_error(first, second)
    assert message == f"{second}:3: list groups: already defined at {first}:2"


def test_lists_are_shared_across_files(tmp_path: Path) -> None:
    """A list defined in one file is used by a rule in another."""
    write(tmp_path, "lists:\n  groups: [martians]\n", name="lists.yaml")
    write(tmp_path, "rules:\n  - id: l.rule\n    match: {list: groups}\n", name="rules.yaml")
    assert [h.rule_id for h in match(load_rules([tmp_path]), "Martians!")] == ["l.rule"]


SETS = """\
exceptions:
  reported:
    - regex: 'said "[^"]*"'
    - pattern: [{words: [not]}, {gap: 0-1}, {list: vermin}]
lists:
  vermin: [vermin, rats]
"""


def test_exception_sets_are_shared_across_files(tmp_path: Path) -> None:
    """An exception set written once is used by rules in other files, with what it holds."""
    write(tmp_path, SETS, name="shared.yaml")
    write(
        tmp_path,
        """\
        rules:
          - id: a.rule
            match: {list: vermin}
            unless: [{use: reported}, {words: [rat poison]}]
          - id: b.rule
            match: {words: [martians]}
            unless: {use: reported}
        """,
        name="rules.yaml",
    )
    rules = load_rules([tmp_path])
    assert [h.rule_id for h in match(rules, "they are vermin")] == ["a.rule"]
    assert match(rules, 'he said "they are vermin" and I left') == ()
    assert match(rules, "they are not vermin") == ()
    assert match(rules, 'she said "martians" twice') == ()
    assert [h.rule_id for h in match(rules, "martians are vermin")] == ["b.rule", "a.rule"]
    dropped = evaluate(rules, 'he said "they are vermin"').dropped
    assert [why for _, why in dropped] == ["exception (unless) matched 'said \"they are vermin\"'"]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            "rules:\n  - id: r.x\n    match: {words: [x]}\n    unless: {use: reportd}\n",
            "{path}:4: rule r.x: unless.0.use: unknown exception set 'reportd' (reported)",
        ),
        (
            "rules:\n  - id: r.x\n    match: [{words: [x]}, {use: reported}]\n",
            "{path}:2: rule r.x: match: `use` names an exception set: it belongs in unless",
        ),
        (
            "exceptions:\n  again: {use: reported}\n",
            "{path}:2: exceptions again: 0.use: a set cannot `use` another set",
        ),
        (
            "exceptions:\n  reported: {words: [x]}\n",
            "{path}:2: exceptions reported: already defined at {shared}:2",
        ),
        (
            "exceptions:\n  other: {list: nope}\n",
            "{path}:2: exceptions other: 0.list: unknown list 'nope' (known: vermin)",
        ),
    ],
)
def test_exception_set_mistakes_name_file_line_and_owner(
    tmp_path: Path, rules: str, message: str
) -> None:
    shared = write(tmp_path, SETS, name="a.yaml")
    path = write(tmp_path, rules, name="b.yaml")
    assert load_error(shared, path) == message.format(path=path, shared=shared)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("gap: 3-1", "gap '3-1': need 0 <= MIN <= MAX <= 20"),
        ("gap: lots", "gap 'lots': write MIN-MAX, e.g. 0-3"),
        ("gap: 0-50", "need 0 <= MIN <= MAX <= 20"),
        ("{gap: 0-5, sentences: 4}", ".sentences: Input should be less than or equal to 3"),
        ("{words: [c], sentences: 1}", "sentences: goes with a gap"),
        ("{gap: 0-2, optional: true}", "optional: goes with list or words"),
    ],
)
def test_bad_gaps_are_load_errors(tmp_path: Path, step: str, message: str) -> None:
    """A gap is MIN-MAX words, at most 20."""
    path = write(
        tmp_path,
        f"rules:\n  - id: g.rule\n    match:\n      pattern:\n        - words: [a]\n"
        f"        - {step}\n        - words: [b]\n",
    )
    error = load_error(path)
    assert error.startswith(f"{path}:6: rule g.rule: match.0.pattern.1")
    assert message in error


def test_pattern_may_not_start_with_a_gap(tmp_path: Path) -> None:
    """Gaps go between terms."""
    path = write(
        tmp_path, "rules:\n  - id: g.rule\n    match:\n      pattern: [{gap: 1}, {words: [a]}]\n"
    )
    assert "starts and ends with terms" in load_error(path)


@pytest.mark.parametrize(
    "pattern",
    [
        "[{words: [a], optional: true}, {words: [b]}]",
        "[{words: [a]}, {words: [b], optional: true}]",
    ],
)
def test_an_optional_step_goes_between_two_others(tmp_path: Path, pattern: str) -> None:
    """A pattern's ends are what its hit spans: they cannot be optional."""
    path = write(tmp_path, f"rules:\n  - id: o.rule\n    match:\n      pattern: {pattern}\n")
    error = load_error(path)
    assert error.startswith(f"{path}:4: rule o.rule: match.0.pattern")
    assert "first and last steps cannot be optional" in error


def test_matcher_needs_exactly_one_kind(tmp_path: Path) -> None:
    """A matcher with both words and regex is ambiguous: an error naming both."""
    path = write(tmp_path, "rules:\n  - id: m.rule\n    match: {words: [a], regex: b}\n")
    message = load_error(path)
    assert message.startswith(f"{path}:3: rule m.rule: match.0: a matcher is one of")
    assert "['words', 'regex']" in message


def test_term_with_nothing_left_is_an_error(tmp_path: Path) -> None:
    """A term of punctuation only can never match: an error at the term."""
    path = write(
        tmp_path,
        "rules:\n  - id: t.rule\n    match:\n      words:\n        - ok\n        - '!!!'\n",
    )
    assert load_error(path) == (
        f"{path}:6: rule t.rule: term '!!!' has nothing to match after normalization"
    )


def test_notice_with_unknown_field_is_an_error(tmp_path: Path) -> None:
    """Notice templates may use {reason}, {rule} and {matched} only."""
    path = write(tmp_path, "rules:\n  - id: n.rule\n    terms: [x]\n    notice: 'Bye {user}'\n")
    assert load_error(path).startswith(f"{path}:4: rule n.rule: notice: notice template: unknown")


def test_yaml_words_like_no_and_off_stay_words() -> None:
    """`no`, `on` and `off` are terms and settings, not booleans (YAML 1.2 reading)."""
    rules = rules_from_yaml("rules:\n  - id: w.rule\n    leet: off\n    match: {words: [no, on]}\n")
    assert [h.matched for h in match(rules, "no means no, on and on")] == ["no", "no", "on", "on"]
    [rule] = rules.rules
    assert rule.spec.leet == "off"


def test_old_terms_key_still_loads() -> None:
    """`terms:` at the rule level means `match: {words: [...]}`."""
    rules = rules_from_yaml("rules:\n  - id: old.rule\n    terms: [you idiot]\n")
    assert [h.matched for h in match(rules, "shut up, you idiot")] == ["you idiot"]


def test_committed_schema_is_up_to_date() -> None:
    """docs/rules.schema.json is what `modbot rules schema` generates from the models."""
    committed = (ROOT / "docs" / "rules.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), "run: python -m bot.rules.schema > docs/rules.schema.json"


def test_schema_describes_rules_and_takes_one_matcher_or_many() -> None:
    """The schema requires rule ids, forbids unknown keys, and accepts match: {...} or [...]."""
    schema = rules_schema()
    rule = schema["$defs"]["Rule"]
    assert rule["required"] == ["id"] and rule["additionalProperties"] is False
    assert {"$ref": "#/$defs/Matcher"} in rule["properties"]["match"]["anyOf"]
    json.dumps(schema)


def test_shipped_rule_files_declare_nothing_the_schema_refuses() -> None:
    """Every shipped rule file loads (the schema's models validate them)."""
    assert load_rules([ROOT / "rules"]).rules
