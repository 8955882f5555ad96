"""The rule language: pydantic models of a rule file, the single source of its JSON Schema.

A file may hold `lists` (named term lists, global across files), `exceptions` (named sets of
exception matchers, global across files, used from a rule's `unless` with `use`), `allow` (a
global allow-list) and `rules`. docs/rules.md documents every key; `python -m
bot.rules.schema` regenerates docs/rules.schema.json from these models.
"""

from __future__ import annotations

import itertools
import re
import string
from typing import Annotated, Any, Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RULE_ID = r"^[a-z0-9][a-z0-9_.-]*$"
LIST_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
NOTICE_FIELDS = frozenset({"reason", "rule", "matched"})
MAX_GAP = 20
MAX_SENTENCES = 3  # sentence ends a gap may cross: a pronoun's antecedent is near
_GAP = re.compile(r"(\d+)(?:\s*-\s*(\d+))?")

Term = Annotated[str, Field(min_length=1, description="a word or phrase; * is a wildcard")]
Terms = Annotated[tuple[Term, ...], Field(min_length=1)]


def re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    return options


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PatternStep(_Model):
    """One step of a pattern: terms (a list, or words inline) or a gap of other words."""

    list_: str | None = Field(None, alias="list", pattern=LIST_NAME, description="a named list")
    words: Terms | None = None
    terms: Terms | None = Field(None, description="same as words")
    gap: str | int | None = Field(
        None, description='"MIN-MAX" (or MAX) other words in between; default 0-0'
    )
    sentences: int | None = Field(
        None,
        ge=1,
        le=MAX_SENTENCES,
        description="with gap: sentence ends the gap may cross (default none)",
    )
    optional: bool | None = Field(
        None, description="with list or words: the step may be absent (not first or last)"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> PatternStep:
        given = [k for k, v in self._keys().items() if v is not None]
        if len(given) != 1:
            raise ValueError(f"a pattern step is one of list, words, gap (got {given or 'none'})")
        if self.gap is not None:
            self.gap_range()
            if self.optional is not None:
                raise ValueError("optional: goes with list or words, not a gap (write gap: 0-N)")
        elif self.sentences is not None:
            raise ValueError("sentences: goes with a gap, e.g. {gap: 0-8, sentences: 1}")
        return self

    def _keys(self) -> dict[str, Any]:
        return {"list": self.list_, "words": self.words, "terms": self.terms, "gap": self.gap}

    def gap_range(self) -> tuple[int, int]:
        """(least, most) words a gap allows; raises ValueError for a malformed gap."""
        if isinstance(self.gap, int):
            low, high = 0, self.gap
        else:
            match = _GAP.fullmatch(str(self.gap).strip())
            if not match:
                raise ValueError(f"gap {self.gap!r}: write MIN-MAX, e.g. 0-3")
            low = int(match.group(1))
            high = int(match.group(2)) if match.group(2) is not None else low
        if not 0 <= low <= high <= MAX_GAP:
            raise ValueError(f"gap {self.gap!r}: need 0 <= MIN <= MAX <= {MAX_GAP}")
        return low, high


class Matcher(_Model):
    """What a rule matches: words, a named list, a regular expression, or a pattern."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    words: Terms | None = Field(None, description="words and phrases on word boundaries")
    terms: Terms | None = Field(None, description="same as words")
    list_: str | None = Field(None, alias="list", pattern=LIST_NAME, description="a named list")
    regex: str | None = Field(None, min_length=1, description="RE2 syntax, on the folded text")
    pattern: tuple[PatternStep, ...] | None = Field(None, min_length=1)
    use: str | None = Field(
        None, pattern=LIST_NAME, description="a named exception set (in unless only)"
    )

    @field_validator("regex")
    @classmethod
    def _re2_accepts(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re2.compile(value, options=re2_options())
            except re2.error as exc:
                raise ValueError(f"RE2 rejects this regex: {_decode(exc)}") from None
        return value

    @field_validator("pattern")
    @classmethod
    def _steps_alternate(cls, value: tuple[PatternStep, ...] | None) -> Any:
        if value is None:
            return value
        kinds = ["gap" if s.gap is not None else "terms" for s in value]
        if kinds[0] == "gap" or kinds[-1] == "gap":
            raise ValueError("a pattern starts and ends with terms, not a gap")
        if any(a == b == "gap" for a, b in itertools.pairwise(kinds)):
            raise ValueError("two gaps in a row")
        if value[0].optional or value[-1].optional:
            raise ValueError("a pattern's first and last steps cannot be optional")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Matcher:
        keys: dict[str, object] = {"words": self.words, "terms": self.terms, "list": self.list_}
        keys |= {"regex": self.regex, "pattern": self.pattern, "use": self.use}
        given = [k for k, v in keys.items() if v is not None]
        if len(given) != 1:
            raise ValueError(
                f"a matcher is one of words, list, regex, pattern, use (got {given or 'none'})"
            )
        return self


def _decode(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else exc
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


class TextSet(_Model):
    """`in`: the value must be one of these; `not`: it must be none of these."""

    in_: tuple[str, ...] | None = Field(None, alias="in")
    not_: tuple[str, ...] | None = Field(None, alias="not")


TextCondition = tuple[str, ...] | TextSet


class NumberCondition(_Model):
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None


class When(_Model):
    """Conditions on the comment; a rule applies only when all of them hold."""

    author_role: TextCondition | None = None
    account_age_days: NumberCondition | None = Field(
        None, description="needs the platform to send the author's account creation date"
    )
    platform: TextCondition | None = Field(None, description="the site's platform type")
    section: TextCondition | None = None
    site: TextCondition | None = Field(None, description="the site name in the config")

    @field_validator("author_role", "platform", "section", "site", mode="before")
    @classmethod
    def _plain_string(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Example(_Model):
    text: str
    span: str | None = Field(None, description="the expected matched text, as written")
    author_role: str = ""
    account_age_days: float | None = None
    platform: str = ""
    section: str = ""
    site: str = ""


class Examples(_Model):
    match: tuple[str | Example, ...] = ()
    no_match: tuple[str | Example, ...] = ()


Matchers = tuple[Matcher, ...]


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class Rule(_Model):
    id: str = Field(pattern=RULE_ID)
    description: str = ""
    reason: str = Field("", description="shown to moderators")
    notice: str = Field("", description="for the author; {reason}, {rule} and {matched}")
    action: Literal["flag", "hide", "score"] = "flag"
    severity: int = Field(1, ge=1, le=5)
    labels: tuple[str, ...] = ()
    enabled: bool = True
    shadow: bool = Field(False, description='recorded as "would have", never acted on')
    leet: Literal["flag", "full", "off"] = Field(
        "flag", description="cap for hits found only by guessing: leetspeak, masks, misspellings"
    )
    quotes: Literal["flag", "none", "full"] = Field("flag", description="cap for quoted hits")
    match: Matchers = Field((), description="one matcher or a list: any of them")
    terms: Terms | None = Field(None, description="old spelling of match: {words: [...]}")
    unless: Matchers = Field((), description="exceptions: a hit they overlap is dropped")
    when: When | None = None
    examples: Examples = Examples()

    @field_validator("match", "unless", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _listify(value)

    @field_validator("notice")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"notice template: {exc}") from None
        unknown = names - NOTICE_FIELDS
        if unknown:
            raise ValueError(f"notice template: unknown {sorted(unknown)}; use {{reason}}, ...")
        return value

    @model_validator(mode="after")
    def _matches_something(self) -> Rule:
        if not self.match and not self.terms:
            raise ValueError("nothing to match: add match (or the old terms)")
        if any(m.use is not None for m in self.match):
            raise ValueError("match: `use` names an exception set: it belongs in unless")
        return self

    def matchers(self) -> tuple[Matcher, ...]:
        """`match`, with the old `terms` as one more words matcher."""
        extra = (Matcher.model_validate({"words": self.terms}),) if self.terms else ()
        return self.match + extra


class RuleFile(_Model):
    """A rule file: named lists, a global allow-list, rules; each part optional."""

    model_config = ConfigDict(title="modbot rule file")

    lists: dict[Annotated[str, Field(pattern=LIST_NAME)], Terms] = Field(
        default_factory=dict, description="named term lists, usable from any rule file"
    )
    exceptions: dict[Annotated[str, Field(pattern=LIST_NAME)], Matchers] = Field(
        default_factory=dict,
        description="named sets of exceptions, usable from any rule's unless: {use: NAME}",
    )
    allow: tuple[Term, ...] = Field((), description="words and phrases no hit may lie inside")
    rules: tuple[Rule, ...] = ()

    @field_validator("exceptions", mode="before")
    @classmethod
    def _sets_one_or_many(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {name: _listify(matchers) for name, matchers in value.items()}
        return value
