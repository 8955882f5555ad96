"""The rule engine: the YAML rule language, its loader, matchers, tooling and hot reload.

Kept import-light: `bot.normalize` imports `bot.rules.folding` and `bot.rules.quotes`.
"""

from __future__ import annotations


def engine_build() -> str:
    """Which build of the engine's hot modules runs: "compiled with mypyc" (setup.py,
    MODBOT_COMPILE=1) or "pure Python"."""
    from bot.rules import matchers

    return "pure Python" if matchers.__file__.endswith(".py") else "compiled with mypyc"
