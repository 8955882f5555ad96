"""The rule scorer the pipeline uses; the engine lives in `bot.rules` (see docs/rules.md)."""

from __future__ import annotations

from bot.rules.engine import CompiledRule, RuleSet
from bot.rules.loader import RuleLoadError, load_rules, rule_files

__all__ = ["CompiledRule", "RuleLoadError", "RuleSet", "load_rules", "rule_files"]
