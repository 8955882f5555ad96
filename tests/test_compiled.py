"""The compiled build (setup.py, MODBOT_COMPILE=1: the hot modules through mypyc) behaves as
the pure-Python code does: the same hits on thousands of comments, every shipped example.

It compiles a copy of the package (about a minute) and runs it in a subprocess. Without a
C compiler or Python's headers it is skipped, and fails under CI, whose setup installs gcc.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from bot.models import Comment
from bot.normalize import normalize
from bot.rules.loader import load_rules

ROOT = Path(__file__).resolve().parent.parent


def _bench_corpus(count: int) -> list[str]:
    """bench/rules.py's realistic comments (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_rules", ROOT / "bench" / "rules.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.corpus(count)


# Evasions and look-alikes the corpus holds few of: each view and check the compiled
# modules take part in (joined letters, leet, masks, misspellings, repeats, quotes, phrases).
EXTRA = [
    "you are an i d i o t",
    "you are an i.d.i.o.t and a m-o-r-o-n",
    "y0u 4r3 4n 1d10t",
    "shut up f*ggot",
    "imigrants are parasites",
    "> you are a moron\n\nI disagree with that quote.",
    "<blockquote>muslims are vermin</blockquote> is a vile thing to say",
    "Thank you. Idiots like this exist",
    "fagot you",
    "I will find you and I know where you live",
    "the only good jew is a dead jew",
    "gaypeople are a disease",
    "Scunthorpe classic assassin cockpit shiitake",
    "ｙｏｕ ａｒｅ ａ ｍｏｒｏｎ",
    "you\u200b are\u200b a\u200b mor\u200bon",
    "",
    "🐒🐒🐒 go back to africa",
]


def _hits(texts: list[str]) -> list[list[list[object]]]:
    rules = load_rules([ROOT / "rules"])
    out = []
    for i, text in enumerate(texts):
        comment = Comment(site="t", id=str(i), text=text)
        hits = rules.match(comment, normalize(comment))
        out.append(sorted([h.rule_id, h.action.name, h.start, h.end] for h in hits))
    return out


@pytest.fixture(scope="module", name="compiled")
def _compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package with its hot modules compiled in place."""
    # here, not at the top: the compiled copy's subprocess imports this module for `_hits`,
    # and conftest would bring the service and the model code along
    from conftest import unavailable

    if importlib.util.find_spec("mypyc") is None:
        unavailable("the compiled build's tests", "mypy (mypyc) is not installed")
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        unavailable("the compiled build's tests", f"no C compiler ({compiler})")
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        unavailable("the compiled build's tests", "no Python.h (install the Python headers)")
    tree = tmp_path_factory.mktemp("compiled")
    for name in ("bot", "rules"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    build = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace"],
        cwd=tree,
        env={**os.environ, "MODBOT_COMPILE": "1"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return tree


def _run(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # cwd first on sys.path: the copy's `bot`, not the checkout's
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_compiled_modules_are_the_ones_imported(compiled: Path) -> None:
    from conftest import compiled_modules  # see `_compiled`

    modules = [path.removesuffix(".py") for path in compiled_modules()]
    assert modules
    code = (
        "import importlib, sys; print(*(importlib.import_module(m).__file__ for m in sys.argv[1:]))"
    )
    result = _run(compiled, "-c", code, *(m.replace("/", ".") for m in modules))
    assert result.returncode == 0, result.stderr
    for module, path in zip(modules, result.stdout.split(), strict=True):
        assert Path(path).parent == (compiled / module).parent, path
        assert Path(path).suffix == ".so", f"{module} was imported from its source: {path}"
    version = _run(compiled, "-m", "bot.cli", "--version")
    assert version.stdout.strip().endswith("(rule engine: compiled with mypyc)"), version.stdout


def test_compiled_engine_gives_the_same_hits(compiled: Path, tmp_path: Path) -> None:
    texts = _bench_corpus(3000) + EXTRA
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from test_compiled import _hits; "
        "texts = json.load(open(sys.argv[2])); print(json.dumps(_hits(texts)))"
    )
    result = _run(compiled, "-c", script, str(ROOT / "tests"), str(tmp_path / "texts.json"))
    assert result.returncode == 0, result.stderr[-3000:]
    compiled_hits = json.loads(result.stdout)
    pure_hits = _hits(texts)
    assert sum(map(len, pure_hits)) > 100  # the corpus does exercise the rules
    differ = [(t, p, c) for t, p, c in zip(texts, pure_hits, compiled_hits, strict=True) if p != c]
    assert not differ, differ[:5]


def test_compiled_engine_passes_every_shipped_example(compiled: Path) -> None:
    result = _run(compiled, "-m", "bot.cli", "rules", "test")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "0 failed" in result.stdout
