"""`modbot scan --since DATE`: moderate the backlog of an existing site.

Pages through the platform's comments from the oldest, queues those created since DATE, and
runs them through the same durable queue and pipeline as the live service, with a progress
bar. Already-moderated versions are skipped by the queue's de-duplication, so a scan can be
stopped and run again. Rate limits are the adapters' own (client-side limiters, 429s).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

SOURCE = "scan"


def register(sub: Any) -> None:
    parser = sub.add_parser("scan", help="moderate the existing comments of a site (backlog)")
    parser.add_argument("-c", "--config", type=Path, required=True)
    parser.add_argument("--since", required=True, help="YYYY-MM-DD or ISO datetime (UTC)")
    parser.add_argument("--site", action="append", help="only these sites (default: all)")
    parser.add_argument("--dry-run", action="store_true", help="decide and log, do not act")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bot import logs
    from bot.config import ConfigError, load_config
    from bot.logview import parse_when

    settings, secrets = load_config(args.config)
    logs.configure(settings.logging.format, "warning")
    try:
        since = parse_when(args.since)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    names = args.site or [s.name for s in settings.sites]
    unknown = sorted(set(names) - {s.name for s in settings.sites})
    if unknown:
        raise ConfigError(f"no site named {', '.join(unknown)} in {args.config}")
    if args.dry_run:
        policy = settings.policy.model_copy(update={"dry_run": True})
        settings = settings.model_copy(update={"policy": policy})
    return asyncio.run(_scan(settings, secrets, names, since))


async def _scan(settings: Any, secrets: Any, names: list[str], since: float) -> int:
    from rich.console import Console

    from bot.app import build_service
    from bot.scoring.model import ModelLoadError

    console = Console(stderr=True)
    try:
        async with build_service(settings, secrets, http=False) as service:
            worker = asyncio.create_task(service.run())
            try:
                for name in names:
                    await _scan_site(console, service, name, since)
            finally:
                service.stop.set()
                await worker
    except ModelLoadError as exc:
        print(f"modbot: model error\n{exc}")
        return 3
    return 0


async def _scan_site(console: Any, service: Any, name: str, since: float) -> None:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    platform, store = service.platforms[name], service.store
    queued = skipped_old = 0
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"{name}: reading comments")
        # an adapter that can find where `since` starts (Discourse) saves reading the whole site
        find = getattr(platform, "scan_cursor", None)
        cursor: str | None = await find(since) if find is not None else None
        while True:
            page = await platform.fetch_since(cursor, 100)
            recent = [c for c in page.comments if _created(c.created_at) >= since]
            skipped_old += len(page.comments) - len(recent)
            result = await store.run(store.sync.enqueue, recent, SOURCE)
            queued += result.queued
            service.worker.wake()
            progress.update(task, description=f"{name}: {queued} queued, {skipped_old} older")
            if not page.comments or page.cursor in (None, cursor):
                break
            cursor = page.cursor
        await _drain(progress, store, queued, name)
    console.print(f"{name}: {queued} comments moderated; {skipped_old} older than --since")


async def _drain(progress: Any, store: Any, total: int, name: str) -> None:
    task = progress.add_task(f"{name}: moderating", total=total)
    while True:
        pending = (await store.run(store.sync.counts)).get("pending", 0)
        progress.update(task, completed=max(0, total - pending))
        if pending == 0:
            return
        await asyncio.sleep(0.2)


def _created(text: str) -> float:
    """A platform timestamp as seconds; unknown dates count as recent (never skipped)."""
    if not text:
        return float("inf")
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()
