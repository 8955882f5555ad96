"""The basic YAML rule matcher: word and phrase lists matched on word boundaries.

A rule file holds a list of rules; each rule lists terms. Matching runs on the normalized
text (case-folded, NFKC, invisible characters removed) and every hit carries its span in the
original text. Errors name the file, the line and the rule.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.models import Comment, NormalizedText, RuleHit, Verdict


class RuleLoadError(Exception):
    """A rule file that cannot be used; names file, line and rule id."""


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str = ""
    terms: tuple[str, ...] = Field(min_length=1)
    action: Literal["flag", "hide", "score"] = "flag"
    severity: int = Field(1, ge=1, le=5)
    labels: tuple[str, ...] = ()
    reason: str = ""
    enabled: bool = True
    shadow: bool = False
    examples: dict[Literal["match", "no_match"], tuple[str, ...]] = Field(default_factory=dict)


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[RuleSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class CompiledRule:
    spec: RuleSpec
    pattern: re.Pattern[str]
    source: str

    @property
    def verdict(self) -> Verdict:
        return Verdict.NONE if self.spec.action == "score" else Verdict.parse(self.spec.action)


def _term_pattern(term: str) -> str:
    words = term.casefold().split()
    return r"\s+".join(re.escape(w) for w in words)


def compile_rule(spec: RuleSpec, source: str) -> CompiledRule:
    alternatives = "|".join(sorted((_term_pattern(t) for t in spec.terms), key=len, reverse=True))
    # \w is Unicode-aware in Python: "class" never matches the "ass" rule.
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")
    return CompiledRule(spec=spec, pattern=pattern, source=source)


class RuleSet:
    """All enabled rules from a set of files; implements the RuleScorer protocol."""

    def __init__(self, rules: tuple[CompiledRule, ...], version: str) -> None:
        self.rules = rules
        self.version = version

    def match(self, comment: Comment, text: NormalizedText) -> tuple[RuleHit, ...]:
        hits: list[RuleHit] = []
        for rule in self.rules:
            for m in rule.pattern.finditer(text.text):
                start, end = text.original_span(m.start(), m.end())
                hits.append(_hit(rule, start, end, text.original[start:end]))
        return tuple(sorted(hits, key=lambda h: (h.start, h.rule_id)))


def _hit(rule: CompiledRule, start: int, end: int, matched: str) -> RuleHit:
    spec = rule.spec
    return RuleHit(
        rule_id=spec.id,
        action=rule.verdict,
        start=start,
        end=end,
        matched=matched,
        labels=spec.labels,
        severity=spec.severity,
        reason=spec.reason or spec.description,
        shadow=spec.shadow,
        source=rule.source,
    )


def rule_files(paths: tuple[Path, ...] | list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.y*ml") if p.suffix in {".yaml", ".yml"}))
        elif path.exists():
            files.append(path)
        else:
            raise RuleLoadError(f"{path}: no such rule file or folder")
    return files


def load_rules(paths: tuple[Path, ...] | list[Path]) -> RuleSet:
    """Load every rule file under `paths`, or raise RuleLoadError for the first bad one."""
    compiled: list[CompiledRule] = []
    seen: dict[str, str] = {}
    digest = hashlib.sha256()
    for file in rule_files(paths):
        text = file.read_text(encoding="utf-8")
        digest.update(file.name.encode() + b"\0" + text.encode())
        for i, spec in enumerate(_parse_file(file, text)):
            line = _line(yaml.compose(text, Loader=yaml.SafeLoader), ("rules", i, "id"))
            if spec.id in seen:
                raise RuleLoadError(
                    f"{file}:{line}: rule {spec.id}: id already used at {seen[spec.id]}"
                )
            seen[spec.id] = f"{file}:{line}"
            if spec.enabled:
                compiled.append(compile_rule(spec, str(file)))
    return RuleSet(tuple(compiled), digest.hexdigest()[:12])


def _parse_file(file: Path, text: str) -> tuple[RuleSpec, ...]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise RuleLoadError(f"{file}:{line}: not valid YAML: {exc}") from None
    try:
        return RuleFile.model_validate(data).rules
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        raise RuleLoadError(_describe(file, node, data, loc, error["msg"])) from None


def _describe(file: Path, node: Any, data: Any, loc: tuple[Any, ...], msg: str) -> str:
    line = _line(node, loc)
    rule = ""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        try:
            rule = f" rule {data['rules'][loc[1]].get('id', '#' + str(loc[1] + 1))}:"
        except (AttributeError, IndexError, KeyError, TypeError):
            rule = f" rule #{loc[1] + 1}:"
    key = ".".join(str(p) for p in loc[2:]) or ".".join(str(p) for p in loc)
    return f"{file}:{line}:{rule} {key}: {msg}"


def _line(node: Any, loc: tuple[Any, ...]) -> int:
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line
