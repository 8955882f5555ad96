"""Optional: the rule engine's hot modules compiled to C with mypyc.

    pip install "setuptools>=68" mypy
    MODBOT_COMPILE=1 pip install --no-build-isolation .

Without MODBOT_COMPILE this is a plain pure-Python install (the metadata is in
pyproject.toml). Compiled, the same code gives the same hits (a test compiles it and compares
them) at about 1.25 times the comments per second; it needs mypy and a C compiler at build
time only. Not for editable installs: a compiled module beside its source would shadow
every later edit of it. The Dockerfile builds the image this way.
"""

from __future__ import annotations

import os

from setuptools import setup

# The modules every comment passes through (bench/rules.py): normalizing, the automaton
# passes, span maps and settling hits. The rest gains little and stays pure Python.
COMPILED = [
    "bot/normalize.py",
    "bot/rules/spans.py",
    "bot/rules/matchers.py",
    "bot/rules/engine.py",
]


def ext_modules() -> list:
    if os.environ.get("MODBOT_COMPILE", "").lower() not in {"1", "true", "yes"}:
        return []
    try:
        from mypyc.build import mypycify
    except ImportError as error:
        raise SystemExit(
            "MODBOT_COMPILE=1 needs mypy in the build environment: "
            'pip install "setuptools>=68" mypy, then pip install --no-build-isolation .'
        ) from error
    return mypycify(COMPILED, opt_level="3")


setup(ext_modules=ext_modules())
