"""`modbot eval`: exact counts on small CSVs, breakdowns, predictions, splits, presets, model."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import MINILM, SHARED, TinyModel

from bot.cli import main
from bot.evaluation.data import DEV, HOLDOUT, group_values, split_of
from bot.evaluation.metrics import GRID, SHOWN, Sweep

DATA = SHARED / "data"

# (text, label): the shipped rules hide "wetback" (slur.race) and flag "you idiot"
# (insult.direct); the other texts match no rule.
ROWS = [
    ("go home wetback", "1"),  # TP, hide
    ("you idiot", "1"),  # TP, flag
    ("what a lovely day", "1"),  # FN
    ("shut up, you idiot", "0"),  # FP, flag
    ("thanks for the article", "0"),  # TN
    ("I like classic cars", "0"),  # TN ("ass" inside a word never matches)
]


def write_csv(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(name="small_csv")
def _small_csv(tmp_path: Path) -> Path:
    """ROWS with an id column and a group column holding list literals and plain values."""
    groups = ['["race"]', "[]", "weather", '["insult", "race"]', "", "cars"]
    rows = [(str(i), t, lab, g) for i, ((t, lab), g) in enumerate(zip(ROWS, groups, strict=True))]
    return write_csv(tmp_path / "small.csv", ["id", "body", "gold", "topic"], rows)


def run_eval(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["eval", *args])
    out, err = capsys.readouterr()
    return code, out, err


def eval_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code, out, err = run_eval(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def columns(path: Path) -> list[str]:
    return ["--text-column", "body", "--label-column", "gold", "--positive", "1", str(path)]


def read_predictions(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# --- counts and breakdowns ------------------------------------------------------------------


def test_rules_scorer_counts_are_exact(capsys: pytest.CaptureFixture[str], small_csv: Path) -> None:
    """Rules alone: tp/fp/fn/tn, precision, recall, F1 and the flag rate on negatives."""
    result = eval_json(capsys, *columns(small_csv), "--scorer", "rules")
    assert list(result["scorers"]) == ["rules"]
    rules = result["scorers"]["rules"]
    assert (rules["tp"], rules["fp"], rules["fn"], rules["tn"]) == (2, 1, 1, 2)
    assert rules["precision"] == rules["recall"] == rules["f1"] == 0.6667
    assert rules["flag_rate_negative"] == 0.3333
    assert rules["verdicts"] == {
        "positive": {"none": 1, "flag": 1, "hide": 1},
        "negative": {"none": 2, "flag": 1, "hide": 0},
    }
    assert result["rows"] | {"skipped_labels": None} == {
        "read": 6,
        "evaluated": 6,
        "positive": 3,
        "negative": 3,
        "skipped_labels": None,
        "outside_split": 0,
        "flag_everything_f1": 0.6667,
    }


def test_per_rule_breakdown(capsys: pytest.CaptureFixture[str], small_csv: Path) -> None:
    """Per rule: rows matched, their precision, share of positives, positives only it caught."""
    result = eval_json(capsys, *columns(small_csv), "--scorer", "rules")
    by_id = {r["id"]: r for r in result["rules"]}
    assert set(by_id) == {"slur.race", "insult.direct"}
    assert by_id["slur.race"] | {"id": None} == {
        "id": None,
        "action": "hide",
        "shadow": False,
        "rows": 1,
        "hits": 1,
        "tp": 1,
        "fp": 0,
        "precision": 1.0,
        "share_of_positives": 0.3333,
        "unique_tp": 1,
    }
    insult = by_id["insult.direct"]
    assert (insult["action"], insult["rows"], insult["tp"], insult["fp"]) == ("flag", 2, 1, 1)
    assert insult["precision"] == 0.5


def test_group_breakdown_expands_list_cells(
    capsys: pytest.CaptureFixture[str], small_csv: Path
) -> None:
    """--group-column counts a row under each element of a list cell, with recall per group."""
    result = eval_json(capsys, *columns(small_csv), "--rules-only", "--group-column", "topic")
    topic = result["groups"]["topic"]
    assert set(topic) == {"race", "insult", "weather", "cars", "(empty)"}
    race = topic["race"]
    assert (race["rows"], race["positive"], race["negative"]) == (2, 1, 1)
    assert race["scorers"]["rules"]["recall"] == 1.0
    assert race["scorers"]["rules"]["flag_rate_negative"] == 1.0
    assert topic["weather"]["scorers"]["rules"]["recall"] == 0.0
    assert topic["(empty)"]["rows"] == 2  # "[]" and ""
    assert topic["cars"]["scorers"]["policy"]["flag_rate_negative"] == 0.0


def test_negative_values_skip_other_labels(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With --negative, rows labelled neither way are skipped and counted by label."""
    path = write_csv(
        tmp_path / "three.csv",
        ["text", "label"],
        [
            ("go home wetback", "hatespeech"),
            ("you idiot", "offensive"),
            ("you idiot", "offensive"),
            ("nice day", "normal"),
            ("no label here", ""),
        ],
    )
    args = ["--text-column", "text", "--label-column", "label", "--positive", "HateSpeech"]
    result = eval_json(capsys, *args, "--negative", "normal", "--scorer", "rules", str(path))
    assert result["rows"]["evaluated"] == 2
    assert result["rows"]["skipped_labels"] == {"": 1, "offensive": 2}
    rules = result["scorers"]["rules"]
    assert (rules["tp"], rules["fp"], rules["fn"], rules["tn"]) == (1, 0, 0, 1)
    # without --negative everything that is not positive is negative
    result = eval_json(capsys, *args, "--scorer", "rules", str(path))
    assert result["rows"]["negative"] == 4
    assert result["scorers"]["rules"]["fp"] == 2


def test_shadow_and_score_only_rules_are_listed_but_do_not_count(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A shadow rule or a score-only rule never makes a row positive, yet shows its precision."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - id: test.shadow\n    action: hide\n    shadow: true\n    terms: [wetback]\n"
        "  - id: test.score\n    action: score\n    terms: [idiot]\n",
        encoding="utf-8",
    )
    path = write_csv(tmp_path / "s.csv", ["body", "gold"], [(t, lab) for t, lab in ROWS])
    result = eval_json(capsys, *columns(path), "--rules", str(rules), "--rules-only")
    assert result["scorers"]["rules"]["tp"] == result["scorers"]["policy"]["tp"] == 0
    by_id = {r["id"]: r for r in result["rules"]}
    assert (by_id["test.shadow"]["shadow"], by_id["test.shadow"]["precision"]) == (True, 1.0)
    assert by_id["test.score"]["action"] == "score"
    assert by_id["test.score"]["rows"] == 2


def test_site_uses_its_own_policy_and_platform_type(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--site judges as that site would: its policy (here hides capped at flag) and its
    platform type for rules' `when: platform` conditions; an unknown site exits 2."""
    monkeypatch.setenv("T", "token")
    monkeypatch.setenv("K", "key")
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n"
        "  - id: test.slur\n    action: hide\n    terms: [wetback]\n"
        "  - id: test.forum_only\n    action: flag\n    terms: [idiot]\n"
        "    when: {platform: discourse}\n",
        encoding="utf-8",
    )
    site = "    platform: {type: %s, base_url: 'http://127.0.0.1:1', %s}\n"
    config = tmp_path / "modbot.yaml"
    config.write_text(
        f"rules: {{paths: ['{rules}']}}\nmodel: {{enabled: false}}\nsites:\n"
        "  - name: blog\n"
        + site % ("generic", "api_token_env: T")
        + "  - name: forum\n"
        + site % ("discourse", "api_key_env: K, api_username: system")
        + "    policy: {max_rule_action: flag}\n",
        encoding="utf-8",
    )
    path = write_csv(tmp_path / "s.csv", ["body", "gold"], [(t, lab) for t, lab in ROWS])
    base = eval_json(capsys, *columns(path), "-c", str(config), "--site", "blog")
    forum = eval_json(capsys, *columns(path), "-c", str(config), "--site", "forum")
    assert (base["data"]["site"], forum["data"]["site"]) == ("blog", "forum")
    assert base["scorers"]["policy"]["verdicts"]["positive"]["hide"] > 0
    assert forum["scorers"]["policy"]["verdicts"]["positive"]["hide"] == 0
    assert "test.forum_only" not in {r["id"] for r in base["rules"]}
    assert "test.forum_only" in {r["id"] for r in forum["rules"]}
    code, _, err = run_eval(capsys, *columns(path), "-c", str(config), "--site", "shop")
    assert code == 2 and "--site shop: no such site" in err and "blog, forum" in err


# --- output ---------------------------------------------------------------------------------


def test_json_document_structure(capsys: pytest.CaptureFixture[str], small_csv: Path) -> None:
    """--json prints one document: data, rows, versions, thresholds, figures, timing."""
    result = eval_json(capsys, *columns(small_csv), "--rules-only")
    assert set(result) >= {
        "data",
        "rows",
        "versions",
        "thresholds",
        "scorers",
        "rules",
        "labels",
        "sweep",
        "groups",
        "timing",
    }
    assert result["scorer_names"] == ["rules", "policy"]  # the model is off
    assert result["data"]["files"] == [str(small_csv)]
    assert result["data"]["positive"] == ["1"]
    assert result["versions"]["rules"]
    assert result["thresholds"]["toxicity"] == {"flag": 0.8, "hide": 0.97}
    assert result["scorers"]["policy"] == result["scorers"]["rules"]


def test_human_output_shows_tables(capsys: pytest.CaptureFixture[str], small_csv: Path) -> None:
    """Without --json: a summary line and tables for scorers, rules and groups on stdout."""
    code, out, _ = run_eval(capsys, *columns(small_csv), "--rules-only", "--group-column", "topic")
    assert code == 0
    assert "6 evaluated (3 positive, 3 negative)" in out
    for title in ("Scorers", "Rules", "By topic", "slur.race", "insult.direct"):
        assert title in out


def test_predictions_csv_has_every_row_and_added_columns(
    capsys: pytest.CaptureFixture[str], small_csv: Path, tmp_path: Path
) -> None:
    """--predictions OUT.csv: input columns unchanged, then decision, rule ids and spans."""
    out = tmp_path / "pred.csv"
    code, _, err = run_eval(capsys, *columns(small_csv), "--rules-only", "--predictions", str(out))
    assert code == 0, err
    rows = read_predictions(out)
    assert [r["body"] for r in rows] == [t for t, _ in ROWS]
    assert list(rows[0])[:4] == ["id", "body", "gold", "topic"]
    assert "modbot_gold" in rows[0]  # the input already had a `gold` column
    assert [r["decision"] for r in rows] == ["hide", "flag", "none", "flag", "none", "none"]
    assert [r["rule_hits"] for r in rows][:3] == ["slur.race", "insult.direct", ""]
    [span] = json.loads(rows[0]["spans"])
    assert rows[0]["body"][span["start"] : span["end"]] == span["matched"] == "wetback"
    assert (span["rule"], span["action"], span["shadow"]) == ("slur.race", "hide", False)
    assert [r["modbot_gold"] for r in rows] == ["positive"] * 3 + ["negative"] * 3
    assert {r["split"] for r in rows} <= {DEV, HOLDOUT}


def test_predictions_jsonl_include_label_skipped_rows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--predictions OUT.jsonl writes skipped-label rows too, marked gold=skipped."""
    path = write_csv(
        tmp_path / "l.csv", ["text", "y"], [("you idiot", "a"), ("hello", "b"), ("x", "c")]
    )
    out = tmp_path / "p.jsonl"
    args = ["--text-column", "text", "--label-column", "y", "--positive", "a", "--negative", "b"]
    code, _, err = run_eval(capsys, *args, "--rules-only", "--predictions", str(out), str(path))
    assert code == 0, err
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["text"], r["gold"], r["decision"]) for r in lines] == [
        ("you idiot", "positive", "flag"),
        ("hello", "negative", "none"),
        ("x", "skipped", "none"),
    ]
    assert lines[0]["rule_hits"] == ["insult.direct"]
    assert lines[0]["spans"][0]["matched"] == "you idiot"
    assert lines[0]["scores"] == {}


# --- splits and limits ----------------------------------------------------------------------


def test_split_is_a_stable_hash_of_the_text() -> None:
    """The split depends on the text alone (sha256's first byte), the same on every machine."""
    assert split_of("go home wetback") == DEV
    assert split_of("thanks for the article") == HOLDOUT
    assert split_of("") == HOLDOUT
    assert all(split_of(f"comment {i}") == split_of(f"comment {i}") for i in range(50))


def test_dev_and_holdout_are_disjoint_and_cover_all(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--split dev and --split holdout partition the rows; repeated runs pick the same rows."""
    rows = [(f"comment number {i}", str(i % 2)) for i in range(60)]
    path = write_csv(tmp_path / "many.csv", ["body", "gold"], rows)

    def texts(split: str) -> list[str]:
        out = tmp_path / f"{split}.csv"
        args = [*columns(path), "--rules-only", "--split", split, "--predictions", str(out)]
        code, _, err = run_eval(capsys, *args)
        assert code == 0, err
        return [r["body"] for r in read_predictions(out)]

    dev, holdout = texts("dev"), texts("holdout")
    assert dev == texts("dev")
    assert dev and holdout
    assert not set(dev) & set(holdout)
    assert sorted(dev + holdout) == sorted(t for t, _ in rows)
    result = eval_json(capsys, *columns(path), "--rules-only", "--split", "holdout")
    assert result["rows"]["evaluated"] == len(holdout)
    assert result["rows"]["outside_split"] == len(dev)


def test_limit_reads_the_first_rows(capsys: pytest.CaptureFixture[str], small_csv: Path) -> None:
    """--limit N evaluates the first N rows only."""
    result = eval_json(capsys, *columns(small_csv), "--rules-only", "--limit", "2")
    assert result["rows"]["evaluated"] == 2
    assert result["scorers"]["rules"]["tp"] == 2


# --- errors ---------------------------------------------------------------------------------


def test_missing_column_names_it_and_lists_the_columns(
    capsys: pytest.CaptureFixture[str], small_csv: Path
) -> None:
    """A wrong column name exits 2 naming the column and every column the file has."""
    args = ["--text-column", "comment", "--label-column", "gold", "--positive", "1"]
    code, _, err = run_eval(capsys, *args, "--rules-only", str(small_csv))
    assert code == 2
    assert "no column 'comment' (--text-column)" in err
    assert "'id', 'body', 'gold', 'topic'" in err
    code, _, err = run_eval(capsys, *columns(small_csv), "--group-column", "nope")
    assert code == 2
    assert "'nope' (--group-column)" in err


def test_huge_cells_and_other_encodings(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A 300 kB comment is read whole; a file in another encoding needs --encoding."""
    huge = "word " * 60_000 + "go home wetback"
    path = write_csv(tmp_path / "huge.csv", ["body", "gold"], [(huge, "1"), ("café", "0")])
    result = eval_json(capsys, *columns(path), "--rules-only")
    assert result["scorers"]["rules"]["tp"] == 1
    latin = tmp_path / "latin.csv"
    latin.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    code, _, err = run_eval(capsys, *columns(latin), "--rules-only")
    assert code == 2
    assert "not utf-8-sig text" in err and "--encoding" in err
    result = eval_json(capsys, *columns(latin), "--rules-only", "--encoding", "latin-1")
    assert result["rows"]["evaluated"] == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scorer", "model", "--rules-only"], "--scorer model needs the model"),
        (["--preset", "davidson"], "either --preset or FILE.csv"),
        (["--negative", "1"], "both positive and negative: 1"),
        (["--predictions", "out.txt"], "give a .csv or .jsonl"),
        (["--limit", "0"], "--limit must be at least 1"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], small_csv: Path, extra: list[str], message: str
) -> None:
    """Impossible requests exit 2 with a one-line reason."""
    code, _, err = run_eval(capsys, *columns(small_csv), *extra)
    assert code == 2
    assert message in err


def test_missing_options_are_named(capsys: pytest.CaptureFixture[str], small_csv: Path) -> None:
    """Without a preset, the text and label columns and a positive value are required."""
    code, _, err = run_eval(capsys, str(small_csv))
    assert code == 2
    assert "missing --text-column, --label-column, --positive" in err


def test_preset_with_absent_data_names_the_expected_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A preset whose file is not under --data-dir exits 2 naming the file it expected."""
    code, _, err = run_eval(capsys, "--preset", "hatexplain-test", "--data-dir", str(tmp_path))
    assert code == 2
    assert "hatexplain/hatexplain_test.csv" in err


def test_preset_reads_its_file_from_the_data_dir(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A preset finds ../shared/data beside the working directory; explicit options win."""
    data = tmp_path / "shared" / "data" / "davidson"
    data.mkdir(parents=True)
    rows = [("0", "go home wetback"), ("1", "you idiot"), ("2", "nice day"), ("2", "hello")]
    write_csv(data / "data_labeled_data.csv", ["class", "tweet"], rows)
    (tmp_path / "checkout").mkdir()
    monkeypatch.chdir(tmp_path / "checkout")
    result = eval_json(capsys, "--preset", "davidson", "--rules-only")
    assert result["data"]["files"] == [str(data.resolve() / "data_labeled_data.csv")]
    assert result["rows"]["skipped_labels"] == {"1": 1}  # offensive is neither
    assert (result["rows"]["positive"], result["rows"]["negative"]) == (1, 2)
    args = ["--preset", "davidson", "--positive", "0", "--positive", "1", "--rules-only"]
    result = eval_json(capsys, *args)
    assert (result["rows"]["positive"], result["rows"]["negative"]) == (2, 2)


def test_several_files_are_one_data_set(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Several CSVs with the named columns are read in turn; predictions say which file."""
    a = write_csv(tmp_path / "a.csv", ["body", "gold", "extra"], [("you idiot", "1", "x")])
    b = write_csv(tmp_path / "b.csv", ["id", "body", "gold"], [("7", "nice", "0")])
    out = tmp_path / "p.csv"
    args = ["--text-column", "body", "--label-column", "gold", "--positive", "1", str(a), str(b)]
    code, _, err = run_eval(capsys, *args, "--rules-only", "--predictions", str(out))
    assert code == 0, err
    rows = read_predictions(out)
    assert list(rows[0])[:4] == ["body", "gold", "extra", "id"]
    assert [(r["file"], r["body"], r["extra"], r["id"]) for r in rows] == [
        (str(a), "you idiot", "x", ""),
        (str(b), "nice", "", "7"),
    ]


# --- model ----------------------------------------------------------------------------------


def test_model_run_has_sweep_labels_and_scores(
    capsys: pytest.CaptureFixture[str], small_csv: Path, tmp_path: Path, tiny_model: TinyModel
) -> None:
    """With a model: all three scorers, per-label figures, the sweep and scores per row."""
    out = tmp_path / "pred.csv"
    model = ["--checkpoint", str(tiny_model.checkpoint), "--hf-config", str(tiny_model.hf_config)]
    result = eval_json(capsys, *columns(small_csv), *model, "--predictions", str(out))
    assert list(result["scorers"]) == ["rules", "model", "policy"]
    labels = result["model_labels"]
    assert "toxicity" in labels and "identity_attack" in labels  # detoxify names
    assert result["versions"]["model"].startswith("checkpoint:tiny.ckpt")
    assert set(result["sweep"]) == {*labels, "max"}
    for sweep in result["sweep"].values():
        assert [p["threshold"] for p in sweep["points"]] == list(SHOWN)
        assert sweep["best"]["threshold"] in GRID
        positives = sweep["points"][0]["tp"] + sweep["points"][0]["fn"]
        assert positives == 3
    assert result["labels"]["toxicity"]["threshold"] == 0.8
    policy = result["scorers"]["policy"]
    assert policy["tp"] >= result["scorers"]["rules"]["tp"]  # policy = rules + model
    rows = read_predictions(out)
    for row in rows:
        for label in labels:
            assert 0.0 <= float(row[f"score_{label}"]) <= 1.0
        assert row["decision"] in {"none", "flag", "hide"}
        assert row["model_decision"] in {"none", "flag", "hide"}


def test_sweep_counts_a_score_equal_to_the_threshold_as_positive() -> None:
    """score >= threshold is positive, exactly, at every grid threshold."""
    sweep = Sweep()
    for value, positive in ((0.3, True), (0.29999, True), (0.7, False), (1.0, True), (0.0, False)):
        sweep.add(positive, value)
    at = {round(p["threshold"], 2): p for p in sweep.to_dict()["points"]}
    assert (at[0.3]["tp"], at[0.3]["fn"], at[0.3]["fp"]) == (2, 1, 1)
    assert (at[0.8]["tp"], at[0.8]["fp"]) == (1, 0)


def test_group_values_parse_list_literals() -> None:
    """JSON and Python list cells give their elements; anything else is one group."""
    assert group_values('["African", "None"]') == ("African", "None")
    assert group_values("['bla', 'mus']") == ("bla", "mus")
    assert group_values("derogation") == ("derogation",)
    assert group_values("[not a list") == ("[not a list",)
    assert group_values("") == group_values(None) == group_values("[]") == ("(empty)",)


@pytest.mark.slow
@pytest.mark.skipif(not MINILM.is_dir(), reason="needs ../shared/models/minilm-tox beside the repo")
def test_minilm_scores_hateful_text_above_clean_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With the real small model the sweep and labels carry meaningful scores."""
    rows = [("Immigrants are vermin.", "1"), ("Great article, thanks!", "0")]
    path = write_csv(tmp_path / "m.csv", ["body", "gold"], rows)
    out = tmp_path / "m.jsonl"
    model = ["--checkpoint", str(MINILM / "minilm-tox.ckpt"), "--hf-config", str(MINILM / "hf")]
    result = eval_json(capsys, *columns(path), *model, "--predictions", str(out))
    assert result["model_labels"] == ["toxicity", "insult", "threat", "identity_attack"]
    hateful, clean = (json.loads(line) for line in out.read_text(encoding="utf-8").splitlines())
    assert hateful["scores"]["toxicity"] > 0.6 > 0.2 > clean["scores"]["toxicity"]
    assert result["sweep"]["toxicity"]["best"]["f1"] == 1.0


# --- presets on the shared data -------------------------------------------------------------


@pytest.mark.skipif(
    not (DATA / "hatexplain" / "hatexplain_test.csv").is_file(),
    reason="needs ../shared/data/hatexplain beside the repo",
)
def test_preset_runs_on_shared_data(capsys: pytest.CaptureFixture[str]) -> None:
    """--preset hatexplain-test reads the shared CSV: 50 rows, offensive skipped, by target."""
    args = ["--preset", "hatexplain-test", "--data-dir", str(DATA), "--limit", "50"]
    result = eval_json(capsys, *args, "--scorer", "rules")
    assert result["data"]["preset"] == "hatexplain-test"
    assert result["data"]["text_column"] == "text"
    assert result["rows"]["read"] == 50
    assert result["rows"]["evaluated"] + sum(result["rows"]["skipped_labels"].values()) == 50
    assert set(result["rows"]["skipped_labels"]) <= {"offensive"}
    assert "targets_union" in result["groups"]
    assert list(result["scorers"]) == ["rules"]
