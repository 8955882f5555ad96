"""`modbot replay`: re-run the rules (and the model) over the logged comments."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.config import ConfigError, Settings, load_config
from bot.review import queries
from bot.review.cli_common import EXIT_OK, _snippet
from bot.store import Store


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
