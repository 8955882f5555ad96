"""The rule engine: the YAML rule language, its loader, matchers, tooling and hot reload.

Kept import-light: `bot.normalize` imports `bot.rules.folding` and `bot.rules.quotes`.
"""
