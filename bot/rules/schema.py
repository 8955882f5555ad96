"""The JSON Schema of rule files, generated from the pydantic models in `language.py`.

    python -m bot.rules.schema > docs/rules.schema.json      (or: modbot rules schema -o ...)

Editors validate rule files as moderators type: with the YAML language server, start a rule
file with `# yaml-language-server: $schema=../docs/rules.schema.json`. A test checks that the
committed docs/rules.schema.json is what this module generates.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from bot.rules.language import RuleFile

SCHEMA_ID = "https://github.com/modbot/modbot/docs/rules.schema.json"


def rules_schema() -> dict[str, Any]:
    schema = RuleFile.model_json_schema(by_alias=True)
    # `match` and `unless` take one matcher or a list of them (the models normalize to a list)
    rule = schema["$defs"]["Rule"]["properties"]
    for key in ("match", "unless"):
        rule[key] = {
            "anyOf": [{"$ref": "#/$defs/Matcher"}, {k: v for k, v in rule[key].items()}],
            "description": rule[key].get("description", ""),
        }
    # so does each named exception set
    for name, matchers in schema["properties"]["exceptions"]["patternProperties"].items():
        one_or_many = {"anyOf": [{"$ref": "#/$defs/Matcher"}, matchers]}
        schema["properties"]["exceptions"]["patternProperties"][name] = one_or_many
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def schema_text() -> str:
    return json.dumps(rules_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(schema_text())
