"""`modbot replay`: candidate rules scored against what moderators said about the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.review import replay
from bot.review.testing import make_record, write_rules
from bot.scoring.rules import load_rules
from bot.store import Store

RULES = """\
rules:
  - id: insult.direct
    reason: Personal insult
    action: flag
    labels: [insult]
    terms: [you idiot, you moron]
  - id: overeager.stupid
    reason: Anything 'stupid'
    action: hide
    labels: [insult]
    terms: [stupid]
"""
WITHOUT_OVEREAGER = RULES.split("  - id: overeager.stupid")[0]
OVEREAGER_TEXTS = [
    "That was a stupid mistake on my part, sorry.",
    "Stupid question: when is the meeting?",
    "The stupid printer jammed again.",
]
GOOD_TEXTS = ["Shut up, you idiot.", "You moron, read it again.", "Bad take, you idiot."]


@pytest.fixture(name="log")
def _log(tmp_path: Path) -> Path:
    """A log where moderators restored every hit of overeager.stupid and confirmed the rest."""
    rules = load_rules([write_rules(tmp_path / "live", RULES)])
    store = Store(tmp_path / "m.db")
    for i, text in enumerate(OVEREAGER_TEXTS + GOOD_TEXTS + ["A perfectly fine comment."]):
        store.complete(None, make_record(text, f"c{i}", rules=rules, decided_at=1000.0 + i))
        row = store.latest_decision("demo", f"c{i}")
        if text in OVEREAGER_TEXTS:
            store.add_verdict(row, "restore", "alice", "not an insult")
        elif text in GOOD_TEXTS:
            store.add_verdict(row, "confirm", "bob", "")
    store.close()
    return tmp_path


def test_over_eager_rule_has_precision_zero_and_removing_it_fixes_its_flags(log: Path) -> None:
    """Replaying the live rules: precision 0 for the over-eager rule, 1 for the good one, and
    removing it loses exactly the three restored hides."""
    store = Store(log / "m.db")
    report = replay.run(store, load_rules([log / "live"]))
    rules = report.rules
    assert rules["overeager.stupid"].precision == 0.0
    assert (rules["overeager.stupid"].confirmed, rules["overeager.stupid"].restored) == (0, 3)
    assert rules["insult.direct"].precision == 1.0
    over = rules["overeager.stupid"]
    assert (over.removal_lost, over.removal_restored, over.removal_softened) == (3, 3, 0)
    assert report.new_flags == [] and report.lost_flags == []  # same rules, same decisions


def test_candidate_without_the_rule_lists_the_flags_it_would_lose(log: Path) -> None:
    """With the rule removed: three flags lost, all restored ones; the rule shows as removed."""
    store = Store(log / "m.db")
    candidate = load_rules([write_rules(log / "candidate", WITHOUT_OVEREAGER)])
    report = replay.run(store, candidate)
    assert sorted(c.text for c in report.lost_flags) == sorted(OVEREAGER_TEXTS)
    assert {c.state for c in report.lost_flags} == {"restored"}
    assert report.changed == [] and report.new_flags == []
    removed = report.rules["overeager.stupid"]
    assert removed.status == "removed" and removed.precision == 0.0
    assert report.before == {"none": 1, "flag": 3, "hide": 3}
    assert report.after == {"none": 4, "flag": 3, "hide": 0}


def test_replay_command_prints_precision_and_changes(
    log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`modbot replay --rules DIR --db DB` prints the table and the flags lost; --json too."""
    candidate = write_rules(log / "candidate", WITHOUT_OVEREAGER)
    code = main(["replay", "--rules", str(candidate), "--db", str(log / "m.db")])
    out = capsys.readouterr().out
    assert code == 0
    assert "flags lost: 3" in out and "overeager.stupid [removed]" in out
    assert "Stupid question" in out
    code = main(["replay", "--rules", str(log / "live"), "--db", str(log / "m.db"), "--json"])
    data = json.loads(capsys.readouterr().out)
    by_rule = {r["rule_id"]: r for r in data["rules"]}
    assert by_rule["overeager.stupid"]["precision"] == 0.0
    assert by_rule["overeager.stupid"]["removal_lost"] == 3


def test_candidate_thresholds_from_a_config_use_recorded_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A lower toxicity flag threshold in the candidate config shows up as new flags."""
    rules = load_rules([write_rules(tmp_path / "live", RULES)])
    store = Store(tmp_path / "m.db")
    store.complete(None, make_record("meh", "c1", rules=rules, scores={"toxicity": 0.5}))
    store.close()
    config = tmp_path / "candidate.yaml"
    config.write_text(
        f"store: {{path: {tmp_path / 'm.db'}}}\n"
        "policy:\n  thresholds:\n    toxicity: {flag: 0.4}\n",
        encoding="utf-8",
    )
    code = main(
        [
            "replay",
            "--rules",
            str(tmp_path / "live"),
            "--config",
            str(config),
            "--model",
            "recorded",
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["mode"] == "recorded"
    assert [(c["before"], c["after"]) for c in data["new_flags"]] == [("none", "flag")]
