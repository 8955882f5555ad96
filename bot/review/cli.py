"""What `modbot review`, `modbot replay` and `modbot moderators` do."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.config import ConfigError, Secrets, Settings, load_config
from bot.review import queries
from bot.review.present import iso
from bot.store import Store

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2
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


def _settings(args: argparse.Namespace) -> tuple[Settings | None, Secrets | None]:
    if getattr(args, "config", None):
        return load_config(args.config)
    return None, None


def _open(args: argparse.Namespace, create: bool = False) -> Store:
    settings, _ = _settings(args)
    path = settings.store.path if settings else (args.db or Path("modbot.db"))
    if create:
        return Store(path)
    try:
        return Store.open_existing(path)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None


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


def _snippet(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


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


# -- verdicts --------------------------------------------------------------------------------


def verdict(args: argparse.Namespace) -> int:
    settings, secrets = _settings(args)
    by = args.by or f"cli:{_user()}"
    escalate = getattr(args, "escalate", None)
    return asyncio.run(_verdict(args, settings, secrets, by, escalate))


def _user() -> str:
    with contextlib.suppress(Exception):
        return getpass.getuser()
    return os.environ.get("USER", "unknown")


async def _verdict(
    args: argparse.Namespace,
    settings: Settings | None,
    secrets: Secrets | None,
    by: str,
    escalate: str | None,
) -> int:
    from bot.review.verdicts import VerdictError, Verdicts
    from bot.store import AsyncStore

    store = AsyncStore(_open(args))
    platforms = await _platforms(settings, secrets) if settings and secrets else {}
    code = EXIT_OK
    try:
        verdicts = Verdicts(store, platforms)
        for ref in args.ids:
            decision_id = await store.run(queries.resolve_id, store.sync, ref)
            if decision_id is None:
                print(f"modbot: no decision {ref!r} in the log", file=sys.stderr)
                code = EXIT_FAILURE
                continue
            try:
                outcome = await verdicts.apply(decision_id, args.verdict, by, args.note, escalate)
            except VerdictError as exc:
                hint = " (pass -c CONFIG to reach the platform)" if settings is None else ""
                print(f"modbot: #{decision_id}: {exc}{hint}", file=sys.stderr)
                code = EXIT_FAILURE
                continue
            print(outcome.line())
            if not outcome.ok:
                code = EXIT_FAILURE
    finally:
        for platform in platforms.values():
            await platform.close()
        await store.close()
    return code


async def _platforms(settings: Settings, secrets: Secrets) -> dict[str, Any]:
    from bot.app import build_platform

    platforms = {}
    for site in settings.sites:
        platform = build_platform(site, secrets)
        await platform.start()
        platforms[site.name] = platform
    return platforms


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


# -- serve -----------------------------------------------------------------------------------


def serve(args: argparse.Namespace) -> int:
    from bot import logs

    settings, secrets = load_config(args.config)
    update: dict[str, Any] = {"enabled": True}
    if args.host:
        update["host"] = args.host
    if args.port is not None:
        update["port"] = args.port
    settings = settings.model_copy(update={"review": settings.review.model_copy(update=update)})
    logs.configure(settings.logging.format, settings.logging.level)
    asyncio.run(_serve(settings, secrets))
    return EXIT_OK


async def _serve(settings: Settings, secrets: Secrets) -> None:
    from bot.app import install_signal_handlers
    from bot.review.web import start_review_server

    platforms = await _platforms(settings, secrets)
    stop = asyncio.Event()
    install_signal_handlers(stop)
    server = await start_review_server(settings, platforms)
    try:
        if server is not None:
            print(f"review page on {server.url}", file=sys.stderr)
        await stop.wait()
    finally:
        if server is not None:
            await server.close()
        for platform in platforms.values():
            await platform.close()


# -- replay ----------------------------------------------------------------------------------


def replay(args: argparse.Namespace) -> int:
    from bot.scoring.rules import load_rules

    settings, _ = load_config(args.config) if args.config else (None, None)
    db = args.db or (settings.store.path if settings else Path("modbot.db"))
    rules = load_rules(list(args.rules))
    mode = _replay_mode(args.model, settings)
    try:
        since = queries.parse_day(args.since) if args.since else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        store = Store.open_existing(db)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    try:
        report = asyncio.run(_replay(store, rules, mode, settings, since, args.limit))
    finally:
        store.close()
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        print_report(Console(width=None if sys.stdout.isatty() else 160), report, args.show)
    return EXIT_OK


def _replay_mode(choice: str, settings: Settings | None) -> str:
    if choice != "auto":
        if choice == "rerun" and (settings is None or not settings.model.enabled):
            raise ConfigError("--model rerun needs a --config whose model is enabled")
        return choice
    if settings is None:
        return "recorded"
    return "rerun" if settings.model.enabled else "off"


async def _replay(
    store: Store,
    rules: Any,
    mode: str,
    settings: Settings | None,
    since: float | None,
    limit: int | None,
) -> Any:
    from bot.review.replay import Replayer, iter_rows

    policy_for = _policies(settings)
    replayer = Replayer(rules, queries.latest_states(store), mode, policy_for)
    model = None
    if mode == "rerun" and settings is not None:
        from bot.app import build_model

        model = await build_model(settings)
    try:
        for batch in iter_rows(store, since, limit):
            scores: list[Any] = [None] * len(batch)
            if model is not None:
                scores = list(await asyncio.gather(*(model.score(r["text"]) for r in batch)))
            for row, score in zip(batch, scores, strict=True):
                replayer.feed(row, score)
    finally:
        if model is not None:
            await model.close()
    return replayer.finish(store, since)


def _policies(settings: Settings | None) -> Any:
    if settings is None:
        return lambda site: None
    from bot.app import build_policy, site_policies

    default = build_policy(settings)
    per_site = site_policies(settings)
    return lambda site: per_site.get(site, default)


def print_report(console: Console, report: Any, show: int = 20) -> None:
    from bot.review.stats import precision

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    before, after = report.before, report.after
    console.print(
        f"replayed {report.replayed} logged comments (model scores: {report.mode})\n"
        f"  flagged: {before.get('flag', 0)} -> {after.get('flag', 0)}   "
        f"hidden: {before.get('hide', 0)} -> {after.get('hide', 0)}\n"
        f"  new flags: {len(report.new_flags)}   flags lost: {len(report.lost_flags)}   "
        f"flag<->hide: {len(report.changed)}",
        highlight=False,
        markup=False,
    )
    table = Table(title="per rule (precision = confirmed / (confirmed + restored))")
    table.add_column("rule", no_wrap=True)
    for column in ("hits", "confirmed", "restored", "pending", "precision"):
        table.add_column(column, justify="right")
    table.add_column("if this rule were removed", overflow="fold")
    for r in report.sorted_rules():
        name = r.rule_id + (" (shadow)" if r.shadow else "")
        name += " [removed]" if r.status == "removed" else ""
        removal = "-"
        if r.removal_lost or r.removal_softened:
            gone = precision(r.removal_confirmed, r.removal_restored)
            removal = (
                f"{r.removal_lost} flags lost, {r.removal_softened} hide->flag: "
                f"{r.removal_restored} restored, {r.removal_confirmed} confirmed "
                f"(precision {pct(gone)})"
            )
        cells = (name, r.hits, r.confirmed, r.restored, r.pending, pct(r.precision), removal)
        table.add_row(*(Text(str(c)) for c in cells))
    console.print(table)
    for title, changes in (
        ("new flags", report.new_flags),
        ("flags lost", report.lost_flags),
        ("flag <-> hide", report.changed),
    ):
        if not changes:
            continue
        console.print(f"{title} ({len(changes)}):", highlight=False, markup=False)
        for c in changes[:show]:
            console.print(
                f"  #{c.decision_id} {c.site}:{c.comment_id} {c.before} -> {c.after} "
                f"[{c.state}] rules {', '.join(c.rules_before) or '-'} -> "
                f"{', '.join(c.rules_after) or '-'}: {_snippet(c.text, 60)}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        if len(changes) > show:
            console.print(
                f"  ... {len(changes) - show} more (--show N, or --json)", highlight=False
            )


# -- moderators ------------------------------------------------------------------------------


def moderators(args: argparse.Namespace) -> int:
    from bot.review.auth import AccountError, Auth

    settings, _ = _settings(args)
    store = _open(args, create=True)
    try:
        auth = Auth(store, settings.review if settings else Settings().review)
        command = args.moderators_command
        try:
            if command == "list":
                for m in auth.moderators():
                    state = "disabled" if m["disabled"] else "active"
                    last = iso(m["last_login"]) if m["last_login"] else "never"  # type: ignore[arg-type]
                    print(f"{m['name']}\t{m['role']}\t{state}\tlast login: {last}")
            elif command == "add":
                auth.add_moderator(args.name, _password(args), args.role)
                print(f"moderator {args.name} added")
            elif command == "passwd":
                auth.set_password(args.name, _password(args))
                print(f"password of {args.name} changed; their sessions ended")
            else:
                auth.set_disabled(args.name, command == "disable")
                print(f"{args.name} {command}d")
        except AccountError as exc:
            print(f"modbot: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    finally:
        store.close()
    return EXIT_OK


def _password(args: argparse.Namespace) -> str:
    from bot.review.auth import AccountError

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the passwords differ")
    return first
