"""Labelled CSVs as a stream of rows: each row's gold class, split and group values.

Files are read lazily, one row at a time, so a file of any size needs constant memory.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

POSITIVE, NEGATIVE, SKIPPED = "positive", "negative", "skipped"
DEV, HOLDOUT = "dev", "holdout"
SPLITS = (DEV, HOLDOUT, "all")
EMPTY_GROUP = "(empty)"
_FIELD_LIMIT = 2**31 - 1  # one comment may be megabytes; csv's default stops at 128 KiB


class DataError(Exception):
    """The input cannot be evaluated as asked: a missing file or column, an unreadable CSV."""


@dataclass(frozen=True, slots=True)
class DataSpec:
    """What to read and how to label it. Label values match after trimming, ignoring case."""

    files: tuple[Path, ...]
    text_column: str
    label_column: str
    positive: tuple[str, ...]
    negative: tuple[str, ...] = ()  # empty: every row that is not positive is negative
    group_columns: tuple[str, ...] = ()
    split: str = "all"
    limit: int | None = None  # read at most this many rows of the split (all files together)
    encoding: str = "utf-8-sig"

    def classify(self, value: str) -> str:
        """POSITIVE, NEGATIVE or SKIPPED (neither, when negative values are given)."""
        key = _label_key(value)
        if key in _keys(self.positive):
            return POSITIVE
        if not self.negative or key in _keys(self.negative):
            return NEGATIVE
        return SKIPPED


def _label_key(value: str) -> str:
    return value.strip().casefold()


def _keys(values: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_label_key(v) for v in values)


@dataclass(slots=True)
class Row:
    """One input row, as read (`fields`), with what evaluation needs pulled out."""

    file: Path
    number: int  # 1-based data row in its file, the header not counted
    fields: dict[str, str]
    text: str
    label: str
    gold: str  # POSITIVE, NEGATIVE or SKIPPED
    split: str  # DEV or HOLDOUT


@dataclass(slots=True)
class ReadStats:
    """Counts kept while reading; `position()` is bytes read so far, for a progress bar."""

    total_bytes: int = 0
    rows_read: int = 0  # rows of the chosen split, up to --limit
    outside_split: int = 0
    skipped_labels: dict[str, int] = field(default_factory=dict)
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # file -> header
    _done_bytes: int = 0
    _handle: io.BufferedReader | None = None

    def position(self) -> int:
        current = self._handle.tell() if self._handle and not self._handle.closed else 0
        return min(self._done_bytes + current, self.total_bytes)


def split_of(text: str) -> str:
    """DEV or HOLDOUT from a stable hash of the text: same text, same split, on any machine.
    Duplicated texts therefore never straddle the two splits."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return DEV if digest[0] % 2 == 0 else HOLDOUT


def group_values(cell: str | None) -> tuple[str, ...]:
    """The group(s) one cell puts a row in. A list literal (`["African", "None"]`, `['bla']`)
    puts the row in each of its elements; anything else is one group."""
    value = (cell or "").strip()
    if not value:
        return (EMPTY_GROUP,)
    if value.startswith("[") and value.endswith("]"):
        parsed = _parse_list(value)
        if parsed is not None:
            items = tuple(dict.fromkeys(str(v).strip() or EMPTY_GROUP for v in parsed))
            return items or (EMPTY_GROUP,)
    return (value,)


def _parse_list(value: str) -> list[object] | None:
    for parse in (json.loads, ast.literal_eval):
        try:
            parsed = parse(value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(parsed, list | tuple):
            return list(parsed)
    return None


def check_files(spec: DataSpec) -> dict[str, tuple[str, ...]]:
    """Read each file's header and check every named column is there, before any scoring."""
    headers: dict[str, tuple[str, ...]] = {}
    for path in spec.files:
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        with _open(path, spec.encoding) as (_, text):
            headers[str(path)] = _header(path, csv.reader(text), spec)
    return headers


def _header(path: Path, reader: Iterator[list[str]], spec: DataSpec) -> tuple[str, ...]:
    try:
        header = tuple(next(reader))
    except StopIteration:
        raise DataError(f"{path}: empty file, no header row") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the header row: {exc}") from None
    wanted = [
        ("--text-column", spec.text_column),
        ("--label-column", spec.label_column),
        *(("--group-column", g) for g in spec.group_columns),
    ]
    for option, name in wanted:
        if name not in header:
            present = ", ".join(repr(c) for c in header)
            raise DataError(f"{path}: no column {name!r} ({option}); the columns are: {present}")
    return header


class _open:
    """Open a CSV for streaming: the binary handle (for progress) and a text view of it."""

    def __init__(self, path: Path, encoding: str) -> None:
        self.path = path
        self.encoding = encoding

    def __enter__(self) -> tuple[io.BufferedReader, io.TextIOWrapper]:
        self.raw = self.path.open("rb")
        self.text = io.TextIOWrapper(self.raw, encoding=self.encoding, newline="")
        return self.raw, self.text

    def __exit__(self, *exc: object) -> None:
        self.text.close()


def read_rows(spec: DataSpec, stats: ReadStats) -> Iterator[Row]:
    """Every row of the chosen split, in file order, up to `spec.limit`. Label-skipped rows
    are yielded too (gold SKIPPED) and counted in `stats.skipped_labels`."""
    csv.field_size_limit(_FIELD_LIMIT)
    stats.columns = check_files(spec)
    stats.total_bytes = sum(p.stat().st_size for p in spec.files)
    for path in spec.files:
        if spec.limit is not None and stats.rows_read >= spec.limit:
            return
        with _open(path, spec.encoding) as (raw, text):
            stats._handle = raw
            yield from _file_rows(spec, stats, path, text)
            stats._done_bytes += path.stat().st_size
            stats._handle = None


def _file_rows(
    spec: DataSpec, stats: ReadStats, path: Path, text: io.TextIOWrapper
) -> Iterator[Row]:
    reader = csv.DictReader(text, restval="")
    number = 0
    try:
        for record in reader:
            number += 1
            record.pop(None, None)  # type: ignore[arg-type,unused-ignore]  # cells past the header
            row = _row(spec, stats, path, number, record)
            if row is None:
                continue
            yield row
            if spec.limit is not None and stats.rows_read >= spec.limit:
                return
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not {spec.encoding} text after data row {number}: {exc.reason}; "
            "give --encoding (e.g. latin-1)"
        ) from None
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None


def _row(
    spec: DataSpec, stats: ReadStats, path: Path, number: int, record: dict[str, str]
) -> Row | None:
    text = record.get(spec.text_column) or ""
    split = split_of(text)
    if spec.split != "all" and split != spec.split:
        stats.outside_split += 1
        return None
    stats.rows_read += 1
    label = record.get(spec.label_column) or ""
    gold = spec.classify(label)
    if gold == SKIPPED:
        key = label.strip()
        stats.skipped_labels[key] = stats.skipped_labels.get(key, 0) + 1
    return Row(path, number, record, text, label, gold, split)
