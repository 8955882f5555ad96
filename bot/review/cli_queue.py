"""`modbot review list`, `review show` and `review export`: reading the review queue."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.config import ConfigError
from bot.review import queries
from bot.review.cli_common import EXIT_FAILURE, EXIT_OK, _open, _snippet
from bot.review.present import iso
from bot.store import Store

EXPORT_COLUMNS = (
    "id",
    "decided_at",
    "site",
    "comment_id",
    "version",
    "kind",
    "state",
    "verdict",
    "would_verdict",
    "action",
    "action_status",
    "author_name",
    "url",
    "text",
    "rules",
    "scores",
    "reviewed_by",
    "reviewed_at",
    "review_note",
)


def _filter(args: argparse.Namespace) -> queries.QueueFilter:
    query = {
        "state": args.state,
        "site": args.site or "",
        "rule": args.rule or "",
        "label": args.label or "",
        "kind": args.kind or "",
        "min_score": "" if args.min_score is None else str(args.min_score),
        "max_score": "" if args.max_score is None else str(args.max_score),
        "since": args.since or "",
        "until": args.until or "",
    }
    try:
        return queries.QueueFilter.from_query(query)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


# -- review list / show ----------------------------------------------------------------------


def list_queue(args: argparse.Namespace) -> int:
    flt = _filter(args)
    store = _open(args)
    try:
        after = queries.Cursor.decode(args.after) if args.after else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        page = queries.queue_page(store, flt, after, max(1, min(args.limit, 1000)))
    finally:
        store.close()
    if args.json:
        for row in page.rows:
            print(json.dumps(_public(row), ensure_ascii=False))
    else:
        table = Table(show_lines=False)
        for column in (
            "id",
            "when (UTC)",
            "site",
            "comment",
            "kind",
            "state",
            "rules/labels",
            "text",
        ):
            table.add_column(column, overflow="fold")
        for row in page.rows:
            why = sorted({h["rule_id"] for h in row["hits"]}) + [
                r["name"] for r in row["reasons"] if r.get("kind") == "model"
            ]
            table.add_row(
                str(row["id"]),
                iso(row["decided_at"]).replace(" UTC", ""),
                row["site"],
                row["comment_id"],
                row["kind"],
                row["state"],
                ", ".join(why) or "-",
                Text(_snippet(row["text"])),
            )
        Console().print(table)
    if page.next is not None:
        print(f"more: --after {page.next.encode()}", file=sys.stderr)
    return EXIT_OK


def _public(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("action_key",)}
    out["decided_at_iso"] = iso(row["decided_at"])
    out["rules"] = sorted({h["rule_id"] for h in row["hits"] if isinstance(h, dict)})
    return out


def show(args: argparse.Namespace) -> int:
    store = _open(args)
    try:
        decision_id = queries.resolve_id(store, args.id)
        rows = queries.load_entries(store, [decision_id]) if decision_id is not None else []
    finally:
        store.close()
    if not rows:
        print(f"modbot: no decision {args.id!r} in the log", file=sys.stderr)
        return EXIT_FAILURE
    row = rows[0]
    if args.json:
        print(json.dumps(_public(row), ensure_ascii=False, indent=2))
        return EXIT_OK
    _print_entry(Console(), row)
    return EXIT_OK


def _print_entry(console: Console, row: dict[str, Any]) -> None:
    from bot.render import highlighted, scores_table
    from bot.review.replay import recorded_policy

    console.print(
        f"#{row['id']}  {row['site']}:{row['comment_id']}  {row['kind']}  state: {row['state']}"
        f"  by {row['author_name'] or row['author_id']}  {iso(row['decided_at'])}",
        highlight=False,
        markup=False,
    )
    if row["url"]:
        console.print(f"  {row['url']}", highlight=False, markup=False)
    if row.get("newer"):
        newer = row["newer"]
        console.print(
            f"  edited since: the platform shows a newer version, #{newer['id']} "
            f"({newer['verdict']})",
            highlight=False,
            markup=False,
        )
    spans = [(h["start"], h["end"]) for h in row["hits"] if isinstance(h, dict)]
    console.print(highlighted(row["text"], spans))
    for r in row["reasons"]:
        tag = " [shadow]" if r.get("shadow") else ""
        console.print(
            f"  - {r.get('kind')} {r.get('name')}: {r.get('verdict')}{tag}: {r.get('detail')}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    if row["scores"]:
        from bot.models import Decision, Verdict

        policy = recorded_policy(row)
        decision = Decision(Verdict.NONE, Verdict.NONE, (), False, policy.thresholds, "", "")
        console.print(scores_table(row["scores"], decision))
    status = row["action_status"] + (" (dry run)" if row["dry_run"] else "")
    console.print(
        f"  modbot did: {row['action']} -> {status} {row['action_detail']}",
        highlight=False,
        markup=False,
    )
    for v in row["history"]:
        console.print(
            f"  {iso(v['created_at'])}  {v['moderator']} {v['verdict']} ({v['action_status']})"
            + (f": {v['note']}" if v["note"] else ""),
            highlight=False,
            markup=False,
        )


# -- export ----------------------------------------------------------------------------------


def export(args: argparse.Namespace) -> int:
    flt = _filter(args)
    store = _open(args)
    out_ctx = (
        args.output.open("w", encoding="utf-8", newline="")
        if args.output
        else nullcontext(sys.stdout)
    )
    try:
        with out_ctx as out:
            count = _write(iter_export(store, flt), args.format, out)
    finally:
        store.close()
    if args.output:
        Console(stderr=True).print(f"wrote {count} decisions to {args.output}", highlight=False)
    return EXIT_OK


def iter_export(store: Store, flt: queries.QueueFilter) -> Iterator[dict[str, Any]]:
    after = None
    while True:
        page = queries.queue_page(store, flt, after, 500)
        for row in page.rows:
            last = row["history"][-1] if row["history"] else None
            row = _public(row)
            row["reviewed_by"] = last["moderator"] if last else ""
            row["reviewed_at"] = iso(last["created_at"]) if last else ""
            row["review_note"] = last["note"] if last else ""
            yield row
        if page.next is None:
            return
        after = page.next


def _write(rows: Iterator[dict[str, Any]], fmt: str, out: TextIO) -> int:
    count = 0
    writer = None
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        if writer is None:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            flat = dict(row, decided_at=row["decided_at_iso"])
            for key in ("rules", "scores"):
                flat[key] = json.dumps(flat[key], ensure_ascii=False)
            writer.writerow([flat.get(c, "") for c in EXPORT_COLUMNS])
        count += 1
    return count
