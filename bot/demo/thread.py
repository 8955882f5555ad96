"""The seeded discussion `modbot demo` posts into the demo forum (thread.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from bot.models import Author

KINDS = frozenset(
    {
        "civil",
        "sarcasm",
        "criticism",
        "insult",
        "slur",
        "dehumanizing",
        "threat",
        "obfuscated",
        "lookalike",
        "quote",
    }
)
ROLES = frozenset({"member", "moderator", "staff", "admin"})

_ARTICLE_KEYS = frozenset({"title", "url", "section"})
_COMMENT_KEYS = frozenset({"ref", "author", "parent", "kind", "text"})
_AUTHOR_KEYS = frozenset({"name", "role"})


@dataclass(frozen=True, slots=True)
class Article:
    title: str
    url: str
    section: str

    @property
    def slug(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class ThreadComment:
    ref: str  # stable handle that replies name as their `parent`
    author: Author
    parent: str | None
    kind: str  # one of KINDS: what the comment is, for the demo and the tests
    text: str


@dataclass(frozen=True, slots=True)
class Thread:
    article: Article
    comments: tuple[ThreadComment, ...]

    def of_kind(self, kind: str) -> tuple[ThreadComment, ...]:
        return tuple(c for c in self.comments if c.kind == kind)

    @property
    def authors(self) -> tuple[Author, ...]:
        """Distinct authors in order of first appearance."""
        return tuple(dict.fromkeys(c.author for c in self.comments))


def load_thread(name: str = "thread.yaml") -> Thread:
    """Read and validate a thread shipped in the `bot.demo` package."""
    text = resources.files("bot.demo").joinpath(name).read_text(encoding="utf-8")
    return parse_thread(yaml.safe_load(text))


def parse_thread(data: Any) -> Thread:
    """Build a Thread from parsed YAML; ValueError names the key path of the first problem."""
    _check_keys(data, frozenset({"article", "comments"}), "")
    article = _parse_article(data["article"])
    raw = data["comments"]
    if not isinstance(raw, list) or not raw:
        raise ValueError("comments: must be a non-empty list")
    seen: set[str] = set()
    comments = []
    for i, item in enumerate(raw):
        comment = _parse_comment(item, f"comments[{i}]", seen)
        seen.add(comment.ref)
        comments.append(comment)
    return Thread(article=article, comments=tuple(comments))


def _parse_article(data: Any) -> Article:
    _check_keys(data, _ARTICLE_KEYS, "article")
    return Article(**{k: _text(data, k, "article") for k in sorted(_ARTICLE_KEYS)})


def _parse_comment(data: Any, path: str, earlier_refs: set[str]) -> ThreadComment:
    _check_keys(data, _COMMENT_KEYS, path)
    ref = _text(data, "ref", path)
    if ref in earlier_refs:
        raise ValueError(f"{path}.ref: duplicate ref {ref!r}")
    parent = data["parent"]
    if parent is not None and parent not in earlier_refs:
        raise ValueError(f"{path}.parent: {parent!r} is not the ref of an earlier comment")
    kind = _text(data, "kind", path)
    if kind not in KINDS:
        raise ValueError(f"{path}.kind: {kind!r} is not one of {sorted(KINDS)}")
    return ThreadComment(
        ref=ref,
        author=_parse_author(data["author"], f"{path}.author"),
        parent=parent,
        kind=kind,
        text=_text(data, "text", path),
    )


def _parse_author(data: Any, path: str) -> Author:
    _check_keys(data, _AUTHOR_KEYS, path)
    role = _text(data, "role", path)
    if role not in ROLES:
        raise ValueError(f"{path}.role: {role!r} is not one of {sorted(ROLES)}")
    return Author(name=_text(data, "name", path), role=role)


def _check_keys(data: Any, keys: frozenset[str], path: str) -> None:
    where = f"{path}: " if path else ""
    if not isinstance(data, dict):
        raise ValueError(f"{where}must be a mapping")
    unknown = sorted(set(data) - keys)
    missing = sorted(keys - set(data))
    if unknown:
        raise ValueError(f"{where}unknown keys {unknown}")
    if missing:
        raise ValueError(f"{where}missing keys {missing}")


def _text(data: dict[str, Any], key: str, path: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{path}.{key}: must be a non-empty string")
    return value
