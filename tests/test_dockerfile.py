"""Docker cannot run here: keep the Dockerfile honest by reading it."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
from conftest import compiled_modules

ROOT = Path(__file__).resolve().parent.parent


def _parse() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@pytest.fixture(name="every_stage")
def _every_stage() -> list[tuple[str, str]]:
    return _parse()


@pytest.fixture(name="instructions")
def _instructions() -> list[tuple[str, str]]:
    """The image's own stage: from the last FROM on."""
    parsed = _parse()
    last = max(i for i, (word, _) in enumerate(parsed) if word == "FROM")
    return parsed[last:]


def _sources(rest: str) -> list[str]:
    """A COPY's sources in the build context; none when it copies from another stage."""
    words = shlex.split(rest)
    if any(w.startswith("--from=") for w in words):
        return []
    return [w for w in words[:-1] if not w.startswith("--")]


@pytest.fixture(name="pyproject")
def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_copied_file_exists(every_stage: list[tuple[str, str]]) -> None:
    """Each COPY source is a real file or folder of the repository."""
    sources = [src for word, rest in every_stage if word == "COPY" for src in _sources(rest)]
    assert "bot" in sources and "rules" in sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"


def test_dockerignore_keeps_copied_files(every_stage: list[tuple[str, str]]) -> None:
    """.dockerignore does not exclude anything the Dockerfile copies."""
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for word, rest in every_stage:
        if word == "COPY":
            for source in _sources(rest):
                assert source.rstrip("/") not in ignored


def test_slim_python_bases_match_requires_python(
    every_stage: list[tuple[str, str]], pyproject: dict
) -> None:
    """Every stage's base image is the same slim Python, inside the supported range (the
    wheel built in one stage is installed in the other)."""
    bases = {rest.split()[0] for word, rest in every_stage if word == "FROM"}
    assert len(bases) == 1, bases
    match = re.fullmatch(r"python:(3\.\d+)-slim(?:-\w+)?", bases.pop())
    assert match
    minor = int(match.group(1).split(".")[1])
    spec = pyproject["project"]["requires-python"]
    low = int(re.search(r">=3\.(\d+)", spec).group(1))
    high = int(re.search(r"<3\.(\d+)", spec).group(1))
    assert low <= minor < high


def test_wheel_stage_compiles_what_setup_py_compiles(every_stage: list[tuple[str, str]]) -> None:
    """The first stage builds the wheel with MODBOT_COMPILE=1 (mypy in the build
    environment, hence no build isolation) from copied files that hold every compiled
    module; the image copies that stage's wheels."""
    stage = every_stage[: [w for w, _ in every_stage].index("FROM", 1)]
    name = stage[0][1].split()[-1]
    runs = " ".join(rest for word, rest in stage if word == "RUN")
    assert "MODBOT_COMPILE=1 pip wheel --no-build-isolation" in runs and "mypy" in runs
    copied = {src for word, rest in stage if word == "COPY" for src in _sources(rest)}
    assert {"setup.py", "pyproject.toml", "bot"} <= copied
    compiled = compiled_modules()
    assert compiled and all((ROOT / path).is_file() for path in compiled)
    copies = [rest for word, rest in every_stage if word == "COPY"]
    assert any(f"--from={name}" in rest for rest in copies)


def test_image_compiles_with_the_mypy_the_tests_compile_with(
    every_stage: list[tuple[str, str]], pyproject: dict
) -> None:
    """mypyc's output depends on its version: the wheel stage pins the mypy that the test
    extra pins, which is the one tests/test_compiled.py builds and checks under CI."""
    runs = " ".join(rest for word, rest in every_stage if word == "RUN")
    [image] = re.findall(r"mypy==([\w.]+)", runs)
    [tested] = [r for r in pyproject["project"]["optional-dependencies"]["test"] if "mypy" in r]
    assert tested == f"mypy=={image}"


def test_torch_pin_matches_pyproject(instructions: list[tuple[str, str]], pyproject: dict) -> None:
    """The image installs the CPU build of exactly the torch that pyproject pins, before
    modbot (whose own requirement would pull the CUDA build)."""
    pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("torch"))
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert pin in runs
    assert "download.pytorch.org/whl/cpu" in runs
    assert runs.index(pin) < runs.index("pip install /tmp/wheels/modbot-")


def test_runs_as_non_root(instructions: list[tuple[str, str]]) -> None:
    """The last USER is a named non-root user created in the image."""
    users = [rest for word, rest in instructions if word == "USER"]
    assert users and users[-1] not in {"root", "0"}
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert "useradd" in runs and users[-1] in runs


def test_entrypoint_is_the_console_script(
    instructions: list[tuple[str, str]], pyproject: dict
) -> None:
    """ENTRYPOINT names the console script pyproject declares, and CMD a real subcommand."""
    import json

    from bot.cli import build_parser

    entry = json.loads(next(rest for word, rest in instructions if word == "ENTRYPOINT"))
    assert entry[0] in pyproject["project"]["scripts"]
    cmd = json.loads(next(rest for word, rest in instructions if word == "CMD"))
    args = build_parser().parse_args(cmd)
    assert args.command == "run"


def test_healthcheck_hits_healthz_route(instructions: list[tuple[str, str]]) -> None:
    """HEALTHCHECK requests /healthz on the port the service exposes by default."""
    from bot.config import ServerSettings

    check = next(rest for word, rest in instructions if word == "HEALTHCHECK")
    port = ServerSettings().port
    assert f"127.0.0.1:{port}/healthz" in check
    assert any(word == "EXPOSE" and str(port) in rest.split() for word, rest in instructions)
    app_source = (ROOT / "bot" / "app.py").read_text()
    assert '"/healthz"' in app_source


def test_image_finds_its_rules_and_exposes_the_review_port(
    instructions: list[tuple[str, str]],
) -> None:
    """MODBOT_RULES_DIR points at the copied rules/, and the review page's port is exposed."""
    from bot.config import ReviewSettings

    env = " ".join(rest for word, rest in instructions if word == "ENV")
    copied = [rest.split()[-1] for word, rest in instructions if word == "COPY" and "rules" in rest]
    assert "MODBOT_RULES_DIR=/opt/modbot/rules" in env and copied == ["./rules"]
    workdir = next(rest for word, rest in instructions if word == "WORKDIR")
    assert workdir == "/opt/modbot"
    exposed = " ".join(rest for word, rest in instructions if word == "EXPOSE").split()
    assert str(ReviewSettings().port) in exposed


def test_bake_model_argument_uses_models_pull(instructions: list[tuple[str, str]]) -> None:
    """The optional BAKE_MODEL build argument pre-fetches weights with `modbot models pull`."""
    assert any(word == "ARG" and rest.startswith("BAKE_MODEL") for word, rest in instructions)
    runs = [rest for word, rest in instructions if word == "RUN"]
    bake = next(r for r in runs if "BAKE_MODEL" in r)
    assert "modbot models pull --model" in bake
