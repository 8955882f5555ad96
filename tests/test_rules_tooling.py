"""`modbot rules test | lint | explain | schema` and hot reload of rule files."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import textwrap
from pathlib import Path

import pytest
from conftest import wait_for
from structlog.testing import capture_logs

from bot.cli import bundled_rules, main
from bot.rules import lint
from bot.rules.engine import RuleSet
from bot.rules.lint import SLOW_REGEX_MS, regex_ms
from bot.rules.reload import RuleReloader

GOOD = """\
rules:
  - id: insult.t
    action: flag
    match: {words: [you idiot]}
    examples:
      match: [{text: "Shut up, you idiot.", span: "you idiot"}, "you i d i o t"]
      no_match: ["That argument is idiotic."]
"""


def write(folder: Path, text: str, name: str = "rules.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_rules_test_passes_on_the_shipped_rules(capsys: pytest.CaptureFixture[str]) -> None:
    """Every example of every shipped rule passes: CI runs this through pytest."""
    assert main(["rules", "test"]) == 0, capsys.readouterr().out
    assert "0 failed" in capsys.readouterr().out


def test_rules_test_fails_naming_file_rule_example_and_spans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong span, a missed match and an unwanted match each fail with exit 1."""
    path = write(
        tmp_path,
        """\
        rules:
          - id: insult.bad
            match: {words: [you idiot, idiotic]}
            examples:
              match: [{text: "well you idiot", span: "idiot"}, "you moron"]
              no_match: ["That argument is idiotic."]
        """,
    )
    assert main(["rules", "test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {path}:2: rule insult.bad: 'well you idiot': expected span 'idiot', " in out
    assert "matched ['you idiot']" in out
    assert f"FAIL {path}:2: rule insult.bad: should match 'you moron', but did not" in out
    assert "should not match 'That argument is idiotic.', but matched ['idiotic']" in out
    assert "1 rules, 3 examples: 0 passed, 3 failed" in out


def test_rules_test_passes_a_good_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Examples that hold give exit 0 and a summary."""
    write(tmp_path, GOOD)
    assert main(["rules", "test", str(tmp_path)]) == 0
    assert "1 rules, 3 examples: 3 passed, 0 failed" in capsys.readouterr().out


def test_rules_test_exits_2_on_a_broken_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that does not load is a rule error (exit 2) naming file and line."""
    path = write(tmp_path, "rules:\n  - id: x\n    action: nuke\n    terms: [a]\n")
    assert main(["rules", "test", str(tmp_path)]) == 2
    assert f"{path}:3: rule x: action" in capsys.readouterr().err


def test_example_conditions_are_given_per_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An example can say who wrote it, so rules with `when` are testable."""
    write(
        tmp_path,
        """\
        rules:
          - id: newbie.link
            match: {words: [zorp]}
            when: {account_age_days: {lt: 7}, author_role: {not: [moderator]}}
            examples:
              match: [{text: "zorp", account_age_days: 1}]
              no_match:
                - {text: "zorp", account_age_days: 30}
                - {text: "zorp", author_role: moderator, account_age_days: 1}
        """,
    )
    assert main(["rules", "test", str(tmp_path)]) == 0, capsys.readouterr().out


def test_lint_reports_errors_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A regex RE2 rejects is an error at its line."""
    path = write(tmp_path, "rules:\n  - id: r.x\n    match: {regex: '(?<=a)b'}\n")
    assert main(["rules", "lint", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:3: error: rule r.x: match.0.regex: RE2 rejects this regex" in out


def test_lint_warnings_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Unused lists, shadowed and repeated terms, bare wildcards, no examples: warnings."""
    path = write(
        tmp_path,
        """\
        lists:
          unused: [a]
        rules:
          - id: slur.strong
            action: hide
            match: {words: [zorp, zorps]}
            examples: {match: [zorp]}
          - id: insult.weak
            action: flag
            match: {words: [zorp, blarg, blargg, b*]}
        """,
    )
    assert main(["rules", "lint", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}:2: warning: list unused: not used by any rule" in out
    shadowed = "term 'zorp' is already matched by rule slur.strong (hide)"
    assert f"{path}:10: warning: rule insult.weak: {shadowed}" in out
    assert "'blargg' adds nothing to 'blarg'" in out
    assert "wildcard 'b*' has under 3 letters" in out
    assert "rule insult.weak: no match examples" in out
    assert "0 errors, 5 warnings" in out


def test_lint_reads_exception_sets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unused exception set, and repeated terms inside one, are warnings."""
    path = write(
        tmp_path,
        """\
        exceptions:
          unused: {words: [blarg, blargg]}
          used: {regex: 'said ".*"'}
        rules:
          - id: r.x
            match: {words: [zorp]}
            unless: {use: used}
            examples: {match: [zorp]}
        """,
    )
    assert main(["rules", "lint", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}:2: warning: exceptions unused: not used by any rule" in out
    assert f"{path}:2: warning: exceptions unused: 'blargg' adds nothing to 'blarg'" in out
    assert "0 errors, 2 warnings" in out


def test_lint_finds_terms_the_rules_own_exceptions_always_drop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An exception matching inside a term (alone or a pattern step's) drops every hit with
    it: "the gas" inside "in the gas chambers", "not" inside "will not see tomorrow"."""
    path = write(
        tmp_path,
        """\
        lists:
          places: [in the gas chambers, in the ovens]
        rules:
          - id: r.x
            match:
              - words: [zorp, will not see tomorrow]
              - pattern:
                  - words: [throw them]
                  - list: places
            unless:
              - words: [not, the gas]
            examples: {match: [zorp, throw them in the ovens]}
        """,
    )
    assert main(["rules", "lint", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    dropped = "is always dropped by the rule's own exception, which matches"
    assert f"{path}:6: warning: rule r.x: term 'will not see tomorrow' {dropped} 'not'" in out
    assert (
        f"{path}:9: warning: rule r.x: term 'in the gas chambers' (list places) {dropped} "
        "'the gas' inside it" in out
    )
    assert "'zorp'" not in out and "'in the ovens'" not in out
    assert "0 errors, 2 warnings" in out


def test_lint_finds_patterns_anchored_on_a_frequent_word(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pattern whose rarest step still holds a frequent word or two runs on every comment
    with them: [are not], [people]; the same words as one phrase step do not."""
    path = write(
        tmp_path,
        """\
        lists:
          groups: [women, men, immigrants]
        rules:
          - id: r.people
            match:
              - pattern: [{list: groups}, {gap: 0-3}, {words: [are not]}, {words: [people]}]
              - pattern: [{list: groups}, {gap: 0-3}, {words: [are not people, "aren't people"]}]
            examples: {match: [women are not people]}
        """,
    )
    assert main(["rules", "lint", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (
        f"{path}:6: warning: rule r.people: pattern #0 is anchored on the frequent "
        "'are not' and runs on every comment that has it" in out
    )
    assert "pattern #1" not in out and "0 errors, 1 warnings" in out


def test_lint_finds_long_counted_repetitions_in_match_regexes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A match regex repeating a piece over 50 times is a warning, naming its line; the same
    run written with + is not, nor is a long count in an exception regex."""
    path = write(
        tmp_path,
        """\
        rules:
          - id: r.x
            match:
              - regex: '[^,.!?]{2,150}, moron'
              - regex: '[^,.!?]+, idiot'
              - regex: 'zorp{1,50}'
            unless:
              - regex: 'said "[^"]{1,200}"'
            examples: {match: ["read it, moron", "read it, idiot", zorpp]}
        """,
    )
    assert main(["rules", "lint", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}:4: warning: rule r.x: regex repeats a piece up to 150 times" in out
    assert "up to 200" not in out and "up to 50 " not in out
    assert "0 errors, 1 warnings" in out


def test_lint_of_the_shipped_rules_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped rules lint without errors or warnings."""
    assert main(["rules", "lint"]) == 0
    assert "0 errors, 0 warnings" in capsys.readouterr().out


def test_slow_regex_measure_is_bounded() -> None:
    """RE2 keeps even a nested-quantifier regex linear on 100 KB adversarial inputs."""
    assert regex_ms("(a+)+$") < 1000


def test_slow_regex_measure_reads_matches_as_the_engine_does() -> None:
    """A regex matching its own letters ten thousand times in the adversarial text costs the
    engine its first 50 matches only: the measure reads no more (it read every match, and
    warned of plain words such as `blarg+` on a busy machine)."""
    assert regex_ms("blarg+") < 0.2 * SLOW_REGEX_MS
    # on "a a a ...": reading all 50,000 matches took seconds
    assert regex_ms(r"(\w+ ){0,20}a") < 1000


def test_lint_warns_of_slow_regexes_naming_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over the time limit (here 0 ms, so that any regex is over it), a regex is a warning
    naming its file, line, rule and time; lint still exits 0."""
    path = write(
        tmp_path,
        """\
        rules:
          - id: r.x
            match:
              - words: [moron]
              - regex: 'idi+ot'
            examples: {match: [idiot]}
        """,
    )
    monkeypatch.setattr(lint, "SLOW_REGEX_MS", 0.0)
    assert main(["rules", "lint", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}:5: warning: rule r.x: regex takes " in out
    assert "ms on a 100 KB adversarial text (limit 0 ms)" in out
    assert "0 errors, 1 warnings" in out


def test_explain_shows_views_hits_and_drops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Explain names the rule, matcher, view, span, caps, and hits dropped with why."""
    write(
        tmp_path,
        """\
        rules:
          - id: insult.t
            action: hide
            match: {words: [moron]}
            unless: {words: [not a moron]}
        """,
    )
    text = "> you m0ron\nyou are not a moron"
    assert main(["rules", "explain", text, "--rules", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    [hit] = report["hits"]
    assert (hit["rule"], hit["action"], hit["rule_action"], hit["view"]) == (
        "insult.t",
        "flag",
        "hide",
        "leet",
    )
    assert hit["matched"] == "m0ron" and hit["notes"] == ["leetspeak only", "only inside a quote"]
    [dropped] = report["dropped"]
    assert dropped["why"] == "exception (unless) matched 'not a moron'"
    assert [v["view"] for v in report["views"]] == ["plain", "leet"]
    assert main(["rules", "explain", text, "--rules", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "insult.t: flag (rule says hide) 6-11 'm0ron' via words [moron] in the leet view" in out
    assert "dropped: 1" in out


def test_schema_command_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`modbot rules schema` prints what docs/rules.schema.json holds."""
    assert main(["rules", "schema"]) == 0
    committed = (bundled_rules().parent / "docs" / "rules.schema.json").read_text(encoding="utf-8")
    assert capsys.readouterr().out == committed


@pytest.fixture(name="reloading")
async def _reloading(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A reloader over a fresh rules folder, polling every 50 ms, with its swaps recorded."""
    folder = tmp_path / "rules"
    write(folder, GOOD)
    swaps: list[RuleSet] = []
    reloader = RuleReloader([folder], swaps.append, interval_s=0.05)
    assert reloader.reload_now()
    stop = asyncio.Event()
    task = asyncio.create_task(reloader.run(stop))
    yield folder, reloader, swaps
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_editing_a_file_swaps_the_rules(reloading) -> None:  # type: ignore[no-untyped-def]
    """A saved edit is picked up by polling and handed to on_reload."""
    folder, _, swaps = reloading
    before = swaps[-1].version
    write(folder, GOOD.replace("you idiot", "you moron"))
    await wait_for(lambda: swaps[-1].version != before)
    assert swaps[-1].rules[0].spec.match[0].words == ("you moron",)
    write(folder, "rules:\n  - id: other\n    terms: [x]\n", name="more.yaml")
    await wait_for(lambda: len(swaps[-1].rules) == 2)


async def test_broken_edit_keeps_the_last_good_rules(reloading) -> None:  # type: ignore[no-untyped-def]
    """A broken edit is logged with file, line and rule id; the old rules stay in force."""
    folder, reloader, swaps = reloading
    good = reloader.rules
    with capture_logs() as logs:
        path = write(folder, GOOD.replace("action: flag", "action: explode"))
        await wait_for(lambda: reloader.last_error != "")
    assert reloader.rules is good and swaps[-1] is good
    [failed] = [e for e in logs if e["event"] == "rules_reload_failed"]
    assert failed["log_level"] == "error"
    assert (failed["file"], failed["line"], failed["rule"]) == (str(path), 3, "insult.t")
    assert failed["error"].startswith(f"{path}:3: rule insult.t: action: ")
    write(folder, GOOD)
    await wait_for(lambda: reloader.last_error == "")


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
async def test_sighup_reloads(reloading) -> None:  # type: ignore[no-untyped-def]
    """SIGHUP reloads at once, even when nothing changed on disk."""
    _, _, swaps = reloading
    count = len(swaps)
    os.kill(os.getpid(), signal.SIGHUP)
    await wait_for(lambda: len(swaps) > count)
