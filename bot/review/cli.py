"""What `modbot review`, `modbot replay` and `modbot moderators` do."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
from typing import Any

from bot.config import Secrets, Settings, load_config
from bot.review import queries
from bot.review.cli_common import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, _open, _settings
from bot.review.cli_queue import EXPORT_COLUMNS, export, iter_export, list_queue, show
from bot.review.cli_replay import print_report, replay
from bot.review.present import iso

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXPORT_COLUMNS",
    "export",
    "iter_export",
    "list_queue",
    "moderators",
    "print_report",
    "replay",
    "serve",
    "show",
    "verdict",
]


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
