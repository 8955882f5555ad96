"""`modbot demo`: moderate a heated demo thread end to end, in one process.

A demo forum (speaking the generic contract) is seeded with the thread; the real service
receives its webhooks and polls it, scores, decides, calls the forum's moderation API and
records every decision; then the demo prints what it decided and why.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets as token_gen
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from bot import logs
from bot.app import build_model, build_service, install_signal_handlers
from bot.config import Secret, Secrets, Settings
from bot.demo.forum import DemoForum, seed
from bot.demo.thread import Thread, load_thread
from bot.logview import LogFilter, iter_records
from bot.render import VERDICT_STYLE, highlighted
from bot.scoring.base import ModelScorer

SITE = "demo"
DONE_TIMEOUT_S = 120.0


def demo_settings(args: argparse.Namespace, forum: DemoForum, db: Path) -> Settings:
    from bot.cli import bundled_rules, model_settings

    base = Settings()
    return Settings.model_validate(
        {
            "store": {"path": db},
            "logging": {"format": "console", "level": "warning"},
            "server": {"host": "127.0.0.1", "port": 0},
            "model": model_settings(args, base.model).model_dump(),
            "rules": {"paths": [bundled_rules()]},
            "sites": [
                {
                    "name": SITE,
                    "platform": {
                        "type": "generic",
                        "base_url": forum.base_url,
                        "api_token_env": "UNUSED",
                    },
                    "webhook": {"enabled": True, "secret_env": "UNUSED"},
                    "poll": {"enabled": True, "interval_s": 0.5},
                }
            ],
        }
    )


async def load_model_or_explain(settings: Settings, console: Console) -> ModelScorer | None:
    """Load the model; without weights (no network), say so and go on rules-only."""
    from bot.scoring.model import ModelLoadError

    if not settings.model.enabled:
        console.print("Model: off (--rules-only): rules alone decide.")
        return None
    with console.status(f"Loading the toxicity model ({settings.model.name})..."):
        try:
            model = await build_model(settings)
        except ModelLoadError as exc:
            first = str(exc).splitlines()[0]
            console.print(
                Text.assemble(
                    ("Model weights unavailable", "bold yellow"),
                    f": {first}\nRunning rules-only. On a machine with network, "
                    "`modbot models pull` fetches the weights once; air-gapped sites "
                    "point --checkpoint and --hf-config at local files.\n",
                )
            )
            return None
    assert model is not None
    console.print(f"Model: {model.version} (labels: {', '.join(model.labels)})")
    return model


async def run_demo(args: argparse.Namespace) -> int:
    console = Console()
    logs.configure("console", "warning")
    thread = load_thread()
    token, hook_secret = token_gen.token_urlsafe(16), token_gen.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="modbot-demo-") as tmp:
        db = args.db or Path(tmp) / "demo.db"
        async with DemoForum(
            token, webhook_secret=hook_secret, title=thread.article.title
        ) as forum:
            settings = demo_settings(args, forum, db)
            model = await load_model_or_explain(settings, console)
            secrets = Secrets()
            secrets.api_tokens[SITE] = Secret(token, "demo")
            secrets.webhook_secrets[SITE] = Secret(hook_secret, "demo")

            async def factory(_: Settings) -> ModelScorer | None:
                return model

            async with build_service(settings, secrets, model_factory=factory) as service:
                forum.webhook_url = f"http://127.0.0.1:{service.port}/webhooks/{SITE}"
                runner = asyncio.create_task(service.run())
                console.print(f"Demo forum: {forum.url}   modbot: http://127.0.0.1:{service.port}")
                await _seed_and_wait(console, forum, thread, service)
                print_report(console, service.store.sync, forum)
                console.print(
                    f"\nThe log is in {db}: try `modbot log --db {db}`." if args.db else ""
                )
                if args.serve:
                    console.print(f"Forum page: {forum.url}/  (Ctrl-C to stop)")
                    install_signal_handlers(service.stop)
                    await service.stop.wait()
                service.stop.set()
                await runner
    return 0


async def _seed_and_wait(console: Console, forum: DemoForum, thread: Thread, service) -> None:  # type: ignore[no-untyped-def]
    total = len(thread.comments)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        posted = progress.add_task("posting comments ", total=total)
        decided = progress.add_task("moderating       ", total=total)
        seeding = asyncio.create_task(seed(forum, thread, webhook_every=3))
        deadline = time.monotonic() + DONE_TIMEOUT_S
        while time.monotonic() < deadline:
            progress.update(posted, completed=len(forum.comments))
            count = service.store.sync.query("SELECT COUNT(*) FROM decisions")[0][0]
            progress.update(decided, completed=count)
            if seeding.done() and count >= total:
                break
            await asyncio.sleep(0.2)
        await seeding
    if count < total:
        console.print(f"[yellow]only {count} of {total} comments were decided in time[/yellow]")


def print_report(console: Console, store, forum: DemoForum) -> None:  # type: ignore[no-untyped-def]
    records = list(iter_records(store, LogFilter(limit=None)))
    records.sort(key=lambda r: int(r["comment_id"]))
    acted = [r for r in records if r["verdict"] != "none" or r["would_verdict"] != "none"]
    console.rule("What modbot decided, and why")
    for r in acted:
        _print_record(console, r, forum)
    counts = {v: sum(r["verdict"] == v for r in records) for v in ("none", "flag", "hide")}
    console.rule()
    console.print(
        f"{len(records)} comments decided: [bold red]{counts['hide']} hidden[/], "
        f"[yellow]{counts['flag']} flagged[/], [green]{counts['none']} left alone[/]. "
        f"Platform calls: {len(forum.calls)}, actions applied: {len(forum.applied)}."
    )


def _print_record(console: Console, r: dict, forum: DemoForum) -> None:  # type: ignore[type-arg]
    state = forum.comment(r["comment_id"]).state
    head = Text.assemble(
        (f"#{r['comment_id']} ", "bold"),
        (f"{r['author_name']}: ", "cyan"),
        (r["verdict"].upper(), VERDICT_STYLE[r["verdict"]]),
        f"  (forum now shows it as {state})",
    )
    console.print(head)
    console.print(
        highlighted(r["text"], [(h["start"], h["end"]) for h in r["hits"]]), soft_wrap=True
    )
    for reason in r["reasons"]:
        if reason["verdict"] == "none" and reason["kind"] == "model":
            continue
        console.print(
            f"    - {reason['kind']} {reason['name']}: {reason['detail']}",
            style="dim",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    console.print()
