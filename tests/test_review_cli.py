"""`modbot review` and `modbot moderators` on the command line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.review.testing import seed
from bot.store import Store


@pytest.fixture(name="db")
def _db(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    store = Store(tmp_path / "m.db")
    ids = seed(store, tmp_path / "rules").ids
    store.close()
    return tmp_path / "m.db", ids


def test_list_filters_like_the_page(
    db: tuple[Path, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    """`review list --site news --json` prints that site's pending entries, newest first."""
    path, ids = db
    assert main(["review", "list", "--db", str(path), "--site", "news", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == [ids["moron"], ids["slur"]]
    assert main(["review", "list", "--db", str(path), "--limit", "2"]) == 0
    captured = capsys.readouterr()
    assert "more: --after " in captured.err


def test_show_prints_spans_scores_and_reasons(
    db: tuple[Path, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    """`review show ID` prints the text, each reason and a score table; SITE:ID works too."""
    path, _ = db
    assert main(["review", "show", "--db", str(path), "demo:c1"]) == 0
    out = capsys.readouterr().out
    assert "Shut up, idiot." in out and "insult.direct" in out and "toxicity" in out
    assert main(["review", "show", "--db", str(path), "999"]) == 1


def test_confirm_and_dismiss_record_who(
    db: tuple[Path, dict[str, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    """confirm/dismiss take several ids and --by; restore of a hidden comment needs -c."""
    path, ids = db
    code = main(
        [
            "review",
            "confirm",
            "--db",
            str(path),
            str(ids["insult"]),
            str(ids["model"]),
            "--by",
            "carol",
            "--note",
            "ok",
        ]
    )
    assert code == 0
    assert main(["review", "dismiss", "--db", str(path), str(ids["threat"]), "--by", "carol"]) == 0
    assert main(["review", "restore", "--db", str(path), str(ids["slur"])]) == 1
    assert "pass -c CONFIG" in capsys.readouterr().err
    store = Store(path)
    rows = store.query("SELECT decision_id, verdict, moderator FROM verdicts ORDER BY id")
    assert [tuple(r) for r in rows] == [
        (ids["insult"], "confirm", "carol"),
        (ids["model"], "confirm", "carol"),
        (ids["threat"], "dismiss", "carol"),
    ]


def test_export_writes_decisions_with_verdicts(
    db: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    """CSV and JSONL exports carry each decision's state and who reviewed it."""
    path, ids = db
    main(["review", "confirm", "--db", str(path), str(ids["insult"]), "--by", "dan"])
    out = tmp_path / "x.csv"
    assert main(["review", "export", "--db", str(path), "--format", "csv", "-o", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 7
    reviewed = [r for r in rows if r["reviewed_by"]]
    assert [(r["id"], r["state"], r["reviewed_by"]) for r in reviewed] == [
        (str(ids["insult"]), "confirmed", "dan")
    ]
    out = tmp_path / "x.jsonl"
    assert (
        main(["review", "export", "--db", str(path), "--state", "confirmed", "-o", str(out)]) == 0
    )
    assert [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()] == [
        ids["insult"]
    ]


def test_moderators_add_passwd_disable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Accounts are created with a hashed password, changed, disabled and listed."""
    db = str(tmp_path / "m.db")
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["moderators", "add", "--db", db, "erin", "--password-stdin"]) == 0
    store = Store(tmp_path / "m.db")
    digest = store.query("SELECT password_hash FROM moderators")[0][0]
    assert digest.startswith("$argon2id$") and "a long enough" not in digest
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["moderators", "passwd", "--db", db, "erin", "--password-stdin"]) == 1
    assert main(["moderators", "disable", "--db", db, "erin"]) == 0
    assert main(["moderators", "list", "--db", db]) == 0
    assert "erin\tmoderator\tdisabled" in capsys.readouterr().out
