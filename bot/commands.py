"""What each `modbot` subcommand does; argument parsing lives in cli.py."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import TextIO

from rich.console import Console

from bot import logs
from bot.config import ConfigError, Secrets, Settings, load_config
from bot.logview import LogFilter, iter_records, parse_when, write_csv, write_jsonl
from bot.models import Comment

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG, EXIT_MODEL = 0, 1, 2, 3


def check_config(path) -> int:  # type: ignore[no-untyped-def]
    settings, secrets = load_config(path)
    console = Console()
    console.print(f"{path}: OK", highlight=False)
    console.print(f"  sites: {', '.join(s.name for s in settings.sites) or '(none)'}")
    model = (
        "off (rules only)"
        if not settings.model.enabled
        else (str(settings.model.checkpoint) if settings.model.checkpoint else settings.model.name)
    )
    console.print(f"  model: {model}", highlight=False)
    console.print(f"  store: {settings.store.path}", highlight=False)
    secret_list = [f"{site}: api token {s!r}" for site, s in secrets.api_tokens.items()]
    secret_list += [f"{site}: webhook secret {s!r}" for site, s in secrets.webhook_secrets.items()]
    for line in secret_list:
        console.print(f"  {line}", highlight=False)
    return EXIT_OK


def run_service(settings: Settings, secrets: Secrets) -> int:
    from bot.app import serve
    from bot.platforms.base import PlatformError
    from bot.scoring.model import ModelLoadError

    try:
        asyncio.run(serve(settings, secrets))
    except ModelLoadError as exc:
        print(f"modbot: model error\n{exc}", file=sys.stderr)
        return EXIT_MODEL
    except PlatformError as exc:  # e.g. the platform unreachable at start-up
        if isinstance(exc, ConfigError):
            raise  # a setup problem the operator fixes in the config: exit 2
        print(f"modbot: platform error\n{exc}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def check(args: argparse.Namespace) -> int:
    from bot.cli import settings_for

    settings = settings_for(args)
    logs.configure("console", "warning")
    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        comment, score, decision = asyncio.run(_check(settings, text))
    except Exception as exc:
        return _model_failure(exc)
    from bot.render import explain_json, print_explanation

    if args.json:
        print(explain_json(comment, score, decision))
    else:
        print_explanation(Console(), comment, score, decision)
    return EXIT_OK


async def _check(settings: Settings, text: str):  # type: ignore[no-untyped-def]
    from bot.app import build_model, build_policy
    from bot.pipeline import Pipeline
    from bot.scoring.rules import load_rules

    model = await build_model(settings)
    try:
        pipeline = Pipeline(load_rules(settings.rules.paths), model, build_policy(settings))
        comment = Comment(site="cli", id="check", text=text)
        score, decision = await pipeline.evaluate(comment)
    finally:
        if model is not None:
            await model.close()
    return comment, score, decision


def _model_failure(exc: Exception) -> int:
    from bot.scoring.model import ModelLoadError

    if isinstance(exc, ModelLoadError):
        print(f"modbot: model error\n{exc}", file=sys.stderr)
        return EXIT_MODEL
    raise exc


def show_log(args: argparse.Namespace) -> int:
    from bot.render import log_table
    from bot.store import Store

    if args.config:
        settings, _ = load_config(args.config)
        db_path = settings.store.path
    else:
        db_path = args.db or Path("modbot.db")
    try:
        flt = LogFilter(
            decisions=tuple(args.decision or ()),
            rule=args.rule,
            label=args.label,
            site=args.site,
            since=parse_when(args.since) if args.since else None,
            until=parse_when(args.until, end=True) if args.until else None,
            limit=args.limit or None,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        store = Store.open_existing(db_path)
    except FileNotFoundError as exc:
        print(f"modbot: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        records = iter_records(store, flt)
        if args.format == "table":
            Console().print(log_table(list(records)))
            return EXIT_OK
        out_ctx = (
            args.output.open("w", encoding="utf-8", newline="")
            if args.output
            else (nullcontext(sys.stdout))
        )
        with out_ctx as out:
            count = _export(records, args.format, out)
        if args.output:
            Console(stderr=True).print(f"wrote {count} records to {args.output}")
    finally:
        store.close()
    return EXIT_OK


def _export(records, fmt: str, out: TextIO) -> int:  # type: ignore[no-untyped-def]
    return write_jsonl(records, out) if fmt == "jsonl" else write_csv(records, out)


def models_pull(name: str) -> int:
    from bot.scoring.model import ModelLoadError, pull

    console = Console(stderr=True)
    try:
        where = pull(name, progress=lambda msg: console.print(msg, highlight=False))
    except ModelLoadError as exc:
        print(f"modbot: model error\n{exc}", file=sys.stderr)
        return EXIT_MODEL
    console.print(f"model {name!r} is ready: {where}", highlight=False)
    return EXIT_OK


def restore(args: argparse.Namespace) -> int:
    """`modbot restore`: put a comment back as it was before modbot acted, and log who did."""
    settings, secrets = load_config(args.config)
    logs.configure(settings.logging.format, "warning")
    return asyncio.run(_restore(settings, secrets, args.site, args.comment_id, args.by, args.note))


async def _restore(
    settings: Settings, secrets: Secrets, site: str, comment_id: str, by: str, note: str
) -> int:
    from bot.actions import Actor
    from bot.app import build_platform
    from bot.platforms.base import PlatformError
    from bot.store import AsyncStore, Store

    try:
        site_settings = settings.site(site)
    except KeyError:
        raise ConfigError(f"no site named {site!r} in the config") from None
    store = AsyncStore(Store(settings.store.path))
    platform = build_platform(site_settings, secrets)
    try:
        decision = await store.run(store.sync.latest_decision, site, comment_id)
        if decision is None:
            print(f"modbot: comment {comment_id} of {site} is not in the log", file=sys.stderr)
            return EXIT_FAILURE
        await platform.start()
        try:
            result = await Actor({site: platform}, store).restore(decision, by, note)
        except PlatformError as exc:
            print(f"modbot: the platform did not answer, try again later: {exc}", file=sys.stderr)
            return EXIT_FAILURE
    finally:
        await platform.close()
        await store.close()
    print(f"{site} comment {comment_id}: restore {result.status.value} ({result.detail})")
    return EXIT_OK if result.status.value == "done" else EXIT_FAILURE


def demo(args: argparse.Namespace) -> int:
    from bot.demo.run import run_demo

    return asyncio.run(run_demo(args))


def dump(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)
