"""The README stays true: its test command is CI's, and its rule example works."""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT

from bot.models import Comment
from bot.normalize import normalize
from bot.scoring.rules import load_rules

README = (ROOT / "README.md").read_text()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """.ci/run ends with the README's second command, character for character."""
    first_block = README.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(first_block) == 2 and "modbot demo" in first_block[0]
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == first_block[1]


def test_readme_rule_example_loads_and_matches(tmp_path: Path) -> None:
    """The rule shown in the README loads and behaves as its own examples say."""
    start = README.index("```yaml\nlists:")
    block = README[start + len("```yaml\n") : README.index("```", start + 8)]
    (tmp_path / "r.yaml").write_text(block.replace("lists:\n", "lists:\n  groups: [immigrants]\n"))
    rules = load_rules([tmp_path])

    def hits(text: str) -> list[str]:
        comment = Comment("s", "1", text)
        return [h.matched for h in rules.match(comment, normalize(comment))]

    assert hits("Immigrants are vermin.") == ["Immigrants are vermin"]
    assert hits("The vermin control budget doubled") == []
    assert hits("Immigrants are not vermin") == []
