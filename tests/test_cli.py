"""The `modbot` command as users run it: check, run, models pull, demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, TinyModel

from bot.cli import main


def modbot(*args: str, env: dict[str, str] | None = None, timeout: float = 120):  # type: ignore[no-untyped-def]
    """Run `python -m bot ARGS` in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def offline_env(tmp_path: Path) -> dict[str, str]:
    """No cached weights and no network: the named model cannot be loaded."""
    return {
        "TORCH_HOME": str(tmp_path / "torch"),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
    }


def test_check_json_explains_spans(capsys: pytest.CaptureFixture[str]) -> None:
    """`check --json` gives the verdict, each hit's span in the original text, the versions."""
    text = "Well, ｓｈｕｔ up idiot — and go home, wet\u200bback."
    assert main(["check", "--rules-only", "--json", text]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "hide"
    spans = {h["rule_id"]: text[h["start"] : h["end"]] for h in out["hits"]}
    assert spans == {"insult.direct": "ｓｈｕｔ up idiot", "slur.race": "wet\u200bback"}
    assert out["scores"] is None and out["rules_version"]


def test_check_human_output_names_rule_and_reason(capsys: pytest.CaptureFixture[str]) -> None:
    """The human output shows the verdict, the rule and its reason."""
    assert main(["check", "--rules-only", "I know where you live"]) == 0
    out = capsys.readouterr().out
    assert "HIDE" in out and "threat.violence" in out and "Threat of violence" in out


def test_check_with_tiny_model_shows_every_label(
    capsys: pytest.CaptureFixture[str], tiny_model: TinyModel
) -> None:
    """With a model, every label's score and the thresholds in force are reported."""
    code = main(
        [
            "check",
            "--json",
            "--checkpoint",
            str(tiny_model.checkpoint),
            "--hf-config",
            str(tiny_model.hf_config),
            "a nice friend",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["scores"]) == {
        "toxicity",
        "severe_toxicity",
        "obscene",
        "threat",
        "insult",
        "identity_attack",
    }
    assert out["thresholds"]["toxicity"] == {"flag": 0.8, "hide": 0.97}
    assert out["model_version"].startswith("checkpoint:tiny.ckpt@")


def test_run_without_weights_exits_3_saying_how_to_fix(tmp_path: Path) -> None:
    """`modbot run` with a named model and no weights exits 3 and names `models pull`."""
    config = tmp_path / "c.yaml"
    config.write_text(
        f"store: {{path: {tmp_path / 'm.db'}}}\nrules: {{paths: [{ROOT / 'rules'}]}}\n"
        "server: {port: 0}\n"
    )
    result = modbot("run", "-c", str(config), env=offline_env(tmp_path))
    assert result.returncode == 3, result.stderr
    assert "modbot models pull" in result.stderr
    assert "model.enabled: false" in result.stderr


def test_run_with_broken_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    """A typo in the config stops `modbot run` with exit 2, file, line and key path."""
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  enabled: false\nworkers:\n  concurency: 4\n")
    result = modbot("run", "-c", str(config))
    assert result.returncode == 2
    assert f"{config}:4: workers.concurency: unknown key" in result.stderr


def test_models_pull_offline_fails_clearly(tmp_path: Path) -> None:
    """`models pull` without network exits 3 and says what to do instead."""
    result = modbot("models", "pull", "--model", "original", env=offline_env(tmp_path))
    assert result.returncode == 3
    assert "original" in result.stderr and "network" in result.stderr


def test_demo_rules_only_moderates_the_thread(tmp_path: Path) -> None:
    """The demo posts the thread, hides slurs and threats, flags insults, and explains why."""
    db = tmp_path / "demo.db"
    result = modbot("demo", "--rules-only", "--db", str(db))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "What modbot decided, and why" in out
    assert "slur.race" in out and "threat.violence" in out and "insult.direct" in out
    assert "forum now shows it as hidden" in out
    listed = main(["log", "--db", str(db), "--format", "jsonl", "--limit", "0"])
    assert listed == 0


def test_demo_without_weights_says_so_and_runs_rules_only(tmp_path: Path) -> None:
    """No network: the demo says the model is unavailable and still moderates on rules."""
    result = modbot("demo", env=offline_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "Model weights unavailable" in result.stdout
    assert "Running rules-only" in result.stdout
    assert "hidden" in result.stdout
