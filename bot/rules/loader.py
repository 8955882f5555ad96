"""Load rule files into a RuleSet, or fail with `FILE:LINE: rule ID: what is wrong`.

Every file is parsed (YAML with duplicate keys refused), validated against the language
models, and then compiled together: list and exception-set names are global across files,
rule ids unique.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.rules.engine import CompiledMatcher, CompiledRule, RuleSet
from bot.rules.language import Matcher, RuleFile
from bot.rules.matchers import Pattern, RegexBank, TermError, TermIndex

Loc = tuple[str | int, ...]


class RuleLoadError(Exception):
    """A rule file that cannot be used; names file, line and rule id."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of keeping the last one, and reads
    booleans as YAML 1.2 does: only true/false, so `no`, `on` and `off` stay words."""


_BOOL = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen and key != "<<":
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return dict(loader.construct_mapping(node, deep=True))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


@dataclass(frozen=True)
class ParsedFile:
    path: Path
    text: str
    node: Any  # the composed YAML node, for line numbers
    data: Any
    model: RuleFile

    def line(self, *loc: str | int) -> int:
        return _line(self.node, loc)

    def where(self, *loc: str | int) -> str:
        return f"{self.path}:{self.line(*loc)}"


def rule_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in {".yaml", ".yml"}))
        elif path.exists():
            files.append(path)
        else:
            raise RuleLoadError(f"{path}: no such rule file or folder")
    return files


def load_rules(paths: Iterable[Path], include_disabled: bool = False) -> RuleSet:
    """Load every rule file under `paths`, or raise RuleLoadError for the first problem."""
    return build_ruleset([parse_file(f) for f in rule_files(paths)], include_disabled)


def parse_file(path: Path) -> ParsedFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleLoadError(f"{path}:1: cannot read: {exc}") from None
    return parse_text(path, text)


def parse_text(path: Path, text: str) -> ParsedFile:
    """Parse and validate one file's text; `path` is only used in messages."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader) or {}  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise RuleLoadError(f"{path}:{line}: not valid YAML: {problem}") from None
    try:
        model = RuleFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        raise RuleLoadError(_describe(path, node, data, tuple(error["loc"]), message)) from None
    return ParsedFile(path, text, node, data, model)


def _describe(path: Path, node: Any, data: Any, loc: Loc, message: str) -> str:
    line = _line(node, loc)
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rule = _rule_name(data, loc[1])
        key = ".".join(str(p) for p in loc[2:])
        return f"{path}:{line}: rule {rule}: {key + ': ' if key else ''}{message}"
    if len(loc) >= 2 and loc[0] == "lists":
        return f"{path}:{line}: list {loc[1]}: {message}"
    return f"{path}:{line}: {'.'.join(str(p) for p in loc) or 'file'}: {message}"


def _rule_name(data: Any, index: int) -> str:
    try:
        rule_id = data["rules"][index].get("id")
    except (AttributeError, IndexError, KeyError, TypeError):
        rule_id = None
    return str(rule_id) if rule_id is not None else f"#{index + 1}"


def _line(node: Any, loc: Sequence[str | int]) -> int:
    """The line of the YAML node at a validation error's location."""
    line = node.start_mark.line + 1 if node is not None else 1
    for index, part in enumerate(loc):
        child = None
        if isinstance(node, yaml.MappingNode):
            if part == 0:
                continue  # one matcher written as a mapping where a list is allowed
            pair = next(((k, v) for k, v in node.value if k.value == part), None)
            if pair is not None:
                key, child = pair
                last = index == len(loc) - 1
                if last and child.start_mark.line != key.start_mark.line:
                    child = key  # a block value: point at its key
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def build_ruleset(files: Sequence[ParsedFile], include_disabled: bool = False) -> RuleSet:
    """Compile parsed files into one RuleSet; list names and rule ids are global."""
    compiler = _Compiler(files)
    rules = compiler.rules()
    allow = compiler.allow()
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.path.name.encode() + b"\0" + file.text.encode())
    compiler.terms.compile()
    compiler.leet_terms.compile()
    compiler.regexes.compile()
    return RuleSet(
        rules,
        compiler.terms,
        compiler.regexes,
        digest.hexdigest()[:12],
        allow=allow,
        lists=compiler.lists,
        include_disabled=include_disabled,
        leet_terms=compiler.leet_terms,
    )


class _Compiler:
    def __init__(self, files: Sequence[ParsedFile]) -> None:
        self.files = files
        self.terms = TermIndex()
        self.leet_terms = TermIndex(leet=True)  # the same groups, read as leet views read
        self.regexes = RegexBank()
        self.lists: dict[str, int] = {}
        self._defined: dict[str, str] = {}
        for file in files:
            for name, terms in file.model.lists.items():
                if name in self._defined:
                    raise RuleLoadError(
                        f"{file.where('lists', name)}: list {name}: "
                        f"already defined at {self._defined[name]}"
                    )
                self._defined[name] = file.where("lists", name)
                owner = f"list {name}"
                self.lists[name] = self._group(owner, terms, file, ("lists", name), owner)
        self.sets: dict[str, tuple[CompiledMatcher, ...]] = {}
        defined: dict[str, str] = {}
        for file in files:
            for name, matchers in file.model.exceptions.items():
                where = file.where("exceptions", name)
                if name in defined:
                    raise RuleLoadError(
                        f"{where}: exceptions {name}: already defined at {defined[name]}"
                    )
                defined[name] = where
                here = Where(file, ("exceptions", name), f"exceptions {name}")
                self.sets[name] = tuple(
                    c for i, m in enumerate(matchers) for c in self._matcher(here, (i,), m)
                )

    def _group(
        self, label: str, terms: tuple[str, ...], file: ParsedFile, loc: Loc, owner: str
    ) -> int:
        try:
            group = self.terms.add_group(label, terms)
            assert self.leet_terms.add_group(label, terms) == group
            return group
        except TermError as exc:
            raise RuleLoadError(f"{file.where(*loc, exc.index)}: {owner}: {exc}") from None

    def allow(self) -> tuple[CompiledMatcher, ...]:
        out = []
        for file in self.files:
            if file.model.allow:
                group = self._group("allow", file.model.allow, file, ("allow",), "allow")
                out.append(CompiledMatcher("words", "allow", group=group))
        return tuple(out)

    def rules(self) -> tuple[CompiledRule, ...]:
        seen: dict[str, str] = {}
        out: list[CompiledRule] = []
        for file in self.files:
            for index, spec in enumerate(file.model.rules):
                where = file.where("rules", index, "id")
                if spec.id in seen:
                    raise RuleLoadError(
                        f"{where}: rule {spec.id}: id already used at {seen[spec.id]}"
                    )
                seen[spec.id] = where
                here = Where(file, ("rules", index), f"rule {spec.id}")
                matchers = tuple(
                    c for loc, m in _matchers_with_loc(spec) for c in self._matcher(here, loc, m)
                )
                unless = tuple(
                    c
                    for i, m in enumerate(spec.unless)
                    for c in self._matcher(here, ("unless", i), m, unless=True)
                )
                line = file.line("rules", index)
                out.append(CompiledRule(spec, str(file.path), line, matchers, unless))
        return tuple(out)

    def _matcher(
        self, here: Where, loc: Loc, matcher: Matcher, unless: bool = False
    ) -> tuple[CompiledMatcher, ...]:
        """The compiled matcher at `loc` under `here` (an exception set's are several);
        `unless`: an exception, which anchors nothing and triggers no regex scan."""
        unless = unless or here.loc[0] == "exceptions"
        owner = here.owner
        words = matcher.words or matcher.terms
        if words:
            key = "words" if matcher.words else "terms"
            full = (*loc, key) if loc[0] != "terms" else loc
            group = self._group(f"{owner} {key}", words, here.file, here.at(*full), owner)
            self._anchor(group, unless)
            return (CompiledMatcher("words", f"words {_short(words)}", group=group),)
        if matcher.list_ is not None:
            group = self._list(here, (*loc, "list"), matcher.list_)
            self._anchor(group, unless)
            return (CompiledMatcher("list", f"list {matcher.list_}", group=group),)
        if matcher.regex is not None:
            number = self.regexes.add(matcher.regex, trigger=not unless)
            return (CompiledMatcher("regex", f"regex {matcher.regex!r}", regex=number),)
        if matcher.use is not None:
            if here.loc[0] == "exceptions":
                raise here.error((*loc, "use"), "a set cannot `use` another set")
            if matcher.use not in self.sets:
                known = ", ".join(sorted(self.sets)) or "none defined"
                raise here.error((*loc, "use"), f"unknown exception set {matcher.use!r} ({known})")
            return self.sets[matcher.use]
        assert matcher.pattern is not None
        pattern = self._pattern(here, loc, matcher)
        if not unless:
            best = min(pattern.required(), key=self.terms.commonness)
            pattern = replace(pattern, anchor=best)
            self._anchor(best, unless)
            self.terms.matched.update(pattern.steps)
            self.terms.adjacent.update(_adjacent_steps(pattern))
        return (CompiledMatcher("pattern", f"pattern #{loc[-1]}", pattern=pattern),)

    def _anchor(self, group: int, unless: bool) -> None:
        if not unless:
            self.terms.matched.add(group)
            self.terms.anchors.add(group)
            self.leet_terms.anchors.add(group)

    def _list(self, here: Where, loc: Loc, name: str) -> int:
        if name not in self.lists:
            known = ", ".join(sorted(self.lists)) or "none defined"
            raise here.error(loc, f"unknown list {name!r} (known: {known})")
        return self.lists[name]

    def _pattern(self, here: Where, loc: Loc, matcher: Matcher) -> Pattern:
        steps: list[int] = []
        gaps: list[tuple[int, int]] = []
        crossings: list[int] = []
        optional: list[bool] = []
        gap, crossing = (0, 0), 0
        for number, step in enumerate(matcher.pattern or ()):
            at = (*loc, "pattern", number)
            if step.gap is not None:
                gap, crossing = step.gap_range(), step.sentences or 0
                continue
            if step.list_ is not None:
                group = self._list(here, (*at, "list"), step.list_)
            else:
                words = step.words or step.terms or ()
                key = "words" if step.words else "terms"
                label = f"{here.owner} step"
                group = self._group(label, words, here.file, here.at(*at, key), here.owner)
            if steps:
                gaps.append(gap)
                crossings.append(crossing)
            steps.append(group)
            optional.append(bool(step.optional))
            gap, crossing = (0, 0), 0
        return Pattern(
            tuple(steps),
            tuple(gaps),
            crossings=tuple(crossings),
            optional=tuple(optional) if any(optional) else (),
        )


def _adjacent_steps(pattern: Pattern) -> Iterator[tuple[int, int]]:
    """(group, group) of two steps that may touch: no words between them, and only absent
    optional steps."""
    optional = pattern.optional or (False,) * len(pattern.steps)
    for first in range(len(pattern.steps) - 1):
        for second in range(first + 1, len(pattern.steps)):
            if pattern.gaps[second - 1][0] > 0:
                break
            yield pattern.steps[first], pattern.steps[second]
            if not optional[second]:
                break


@dataclass(frozen=True)
class Where:
    """Where matchers are written: a rule or an exception set, for locations and errors."""

    file: ParsedFile
    loc: Loc  # ("rules", index) or ("exceptions", name)
    owner: str  # "rule ID" or "exceptions NAME"

    def at(self, *loc: str | int) -> Loc:
        return (*self.loc, *loc)

    def error(self, loc: Loc, message: str) -> RuleLoadError:
        key = ".".join(str(p) for p in loc)
        return RuleLoadError(f"{self.file.where(*self.at(*loc))}: {self.owner}: {key}: {message}")


def _matchers_with_loc(spec: Any) -> list[tuple[Loc, Matcher]]:
    out: list[tuple[Loc, Matcher]] = [(("match", i), m) for i, m in enumerate(spec.match)]
    if spec.terms:
        out.append((("terms",), Matcher.model_validate({"words": spec.terms})))
    return out


def _short(words: tuple[str, ...]) -> str:
    shown = ", ".join(words[:3])
    return f"[{shown}{', ...' if len(words) > 3 else ''}]"


def used_lists(files: Iterable[ParsedFile]) -> set[str]:
    """Every list name some rule refers to (for `rules lint`)."""
    used: set[str] = set()
    for matcher in _all_matchers(files):
        if matcher.list_:
            used.add(matcher.list_)
        used.update(s.list_ for s in matcher.pattern or () if s.list_)
    return used


def used_sets(files: Iterable[ParsedFile]) -> set[str]:
    """Every exception-set name some rule uses (for `rules lint`)."""
    return {m.use for m in _all_matchers(files) if m.use is not None}


def _all_matchers(files: Iterable[ParsedFile]) -> Iterable[Matcher]:
    """Every matcher of every rule (match, the old terms, unless) and exception set."""
    for file in files:
        for rule in file.model.rules:
            yield from (*rule.matchers(), *rule.unless)
        for matchers in file.model.exceptions.values():
            yield from matchers


def literal_terms(paths: Iterable[Path]) -> set[str]:
    """Every literal term in the rule files: lists, rule words, pattern steps, exceptions."""
    terms: set[str] = set()
    files = [parse_file(p) for p in rule_files(paths)]
    for file in files:
        for values in file.model.lists.values():
            terms.update(values)
    for matcher in _all_matchers(files):
        terms.update(matcher.words or matcher.terms or ())
        for step in matcher.pattern or ():
            terms.update(step.words or step.terms or ())
    return terms
