"""Build the service from Settings, run it, and shut it down in a fixed order.

Start: store -> rules -> model (loaded and warmed) -> platforms -> worker -> HTTP -> pollers.
Stop (SIGTERM/SIGINT): HTTP intake and pollers stop, in-flight comments get a deadline,
then platforms, the model and, last, the store close.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from bot.actions import Actor
from bot.config import PolicySettings, Secrets, Settings, SiteSettings
from bot.models import Verdict
from bot.pipeline import Pipeline
from bot.platforms.base import Platform
from bot.policy import Policy
from bot.review.web import start_review_server
from bot.rules import engine_build
from bot.rules.reload import RuleReloader
from bot.scoring.base import ModelScorer
from bot.scoring.rules import RuleSet, load_rules
from bot.sources import webhook
from bot.sources.poller import Poller
from bot.store import AsyncStore, Store
from bot.worker import Worker

log = structlog.get_logger(__name__)

SHUTDOWN_DEADLINE_S = 10.0
STATE_KEY = web.AppKey("state", dict[str, object])


def build_policy(settings: Settings | PolicySettings) -> Policy:
    policy = settings.policy if isinstance(settings, Settings) else settings
    return Policy(
        thresholds={k: v.to_threshold() for k, v in policy.thresholds.items()},
        dry_run=policy.dry_run,
        max_rule_action=Verdict.parse(policy.max_rule_action),
    )


def site_policies(settings: Settings) -> dict[str, Policy]:
    return {s.name: build_policy(s.policy) for s in settings.sites if s.policy is not None}


# platform type -> "module:Class"; each adapter takes (site, platform settings, token,
# webhook secret) and implements bot.platforms.base.Platform.
ADAPTERS = {
    "generic": "bot.platforms.generic:GenericAdapter",
    "wordpress": "bot.platforms.wordpress:WordPressAdapter",
    "discourse": "bot.platforms.discourse:DiscourseAdapter",
    "coral": "bot.platforms.coral:CoralAdapter",
}


def build_platform(site: SiteSettings, secrets: Secrets) -> Platform:
    """Pick the adapter for a site; one adapter per platform type."""
    module_name, _, class_name = ADAPTERS[site.platform.type].partition(":")
    adapter = getattr(importlib.import_module(module_name), class_name)
    return adapter(  # type: ignore[no-any-return]
        site.name,
        site.platform,
        token=secrets.api_tokens.get(site.name),
        webhook_secret=secrets.webhook_secrets.get(site.name),
    )


async def build_model(settings: Settings) -> ModelScorer | None:
    if not settings.model.enabled:
        log.info("model_disabled", mode="rules-only")
        return None
    from bot.scoring.model import DetoxifyScorer  # torch imports take seconds: only when needed

    scorer = DetoxifyScorer(settings.model)
    await scorer.start()
    return scorer


def warn_unused_thresholds(policy: Policy, model: ModelScorer | None) -> None:
    if model is None:
        return
    missing = sorted(set(policy.thresholds) - set(model.labels))
    if missing:
        log.info("thresholds_without_label", labels=missing, model_labels=list(model.labels))


@dataclass
class Service:
    settings: Settings
    store: AsyncStore
    pipeline: Pipeline
    worker: Worker
    platforms: dict[str, Platform]
    pollers: list[Poller] = field(default_factory=list)
    port: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    reloader: RuleReloader | None = None

    async def run(self) -> None:
        """Run until `stop` is set, then drain in-flight work."""
        tasks = [asyncio.create_task(self.worker.run(self.stop), name="worker")]
        tasks += [
            asyncio.create_task(p.run(self.stop), name=f"poll:{p.platform.site}")
            for p in self.pollers
        ]
        if self.reloader is not None:  # rule files re-read on change and on SIGHUP
            tasks.append(asyncio.create_task(self.reloader.run(self.stop), name="rules"))
        stopper = asyncio.create_task(self.stop.wait())
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        self.stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.worker.drain(SHUTDOWN_DEADLINE_S)
        for task in done:
            if task is not stopper and task.exception():
                raise task.exception()  # type: ignore[misc]


def make_web_app(
    service_state: dict[str, object],
    store: AsyncStore,
    worker: Worker,
    pipeline: Pipeline,
    platforms: dict[str, Platform],
    max_body_bytes: int,
) -> web.Application:
    """The service's HTTP side: webhooks, /healthz, and routes adapters add (e.g. Coral's
    moderation phase) through an optional `add_routes(app)` method."""
    app = web.Application(client_max_size=max_body_bytes)
    app[webhook.PLATFORMS_KEY] = platforms
    app[webhook.STORE_KEY] = store
    app[webhook.ON_QUEUED_KEY] = worker.wake
    app[STATE_KEY] = service_state
    app[webhook.PIPELINE_KEY] = pipeline
    webhook.add_routes(app)
    app.router.add_get("/healthz", healthz)
    for platform in platforms.values():
        add_routes = getattr(platform, "add_routes", None)
        if add_routes is not None:
            add_routes(app)
    return app


async def healthz(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    store = request.app[webhook.STORE_KEY]
    counts = await store.run(store.sync.counts)
    body = {
        "status": "ok",
        "model": state.get("model"),
        "rules": state.get("rules"),
        "queue": counts,
    }
    return web.json_response(body)


ModelFactory = Callable[[Settings], Awaitable[ModelScorer | None]]


@asynccontextmanager
async def build_service(
    settings: Settings,
    secrets: Secrets,
    model_factory: ModelFactory = build_model,
    http: bool = True,
) -> AsyncIterator[Service]:
    """Everything the service holds, opened in order and closed in reverse.

    `http=False` (for one-shot jobs like `modbot scan`) opens no port and runs no pollers.
    """
    async with AsyncExitStack() as stack:
        store = AsyncStore(Store(settings.store.path))
        stack.push_async_callback(store.close)  # registered first: closed last
        released = await store.run(store.sync.release_leases)
        if released:
            log.info("leases_released", count=released)
        rules: RuleSet = load_rules(settings.rules.paths)
        log.info(
            "rules_loaded", rules=len(rules.rules), version=rules.version, build=engine_build()
        )
        model = await model_factory(settings)
        if model is not None:
            stack.push_async_callback(model.close)
        policy = build_policy(settings)
        warn_unused_thresholds(policy, model)
        platforms = {site.name: build_platform(site, secrets) for site in settings.sites}
        for platform in platforms.values():
            await platform.start()
            stack.push_async_callback(platform.close)
        types = {s.name: s.platform.type for s in settings.sites}
        pipeline = Pipeline(
            rules, model, policy, Actor(platforms, store), store, types, site_policies(settings)
        )
        worker = Worker(pipeline, store, settings.workers)
        state: dict[str, object] = {
            "model": model.version if model else None,
            "rules": rules.version,
        }
        app = make_web_app(
            state, store, worker, pipeline, platforms, settings.server.max_body_bytes
        )
        port = 0
        if http:
            port = await _serve_http(stack, app, settings)
            review = await start_review_server(settings, platforms)
            if review is not None:
                stack.push_async_callback(review.close)  # closes before platforms and store
        pollers = [
            Poller(platforms[s.name], store, s.poll, on_queued=worker.wake)
            for s in settings.sites
            if s.poll.enabled and http and getattr(platforms[s.name], "can_poll", True)
        ]
        reloader = None
        if http and settings.rules.reload:

            def swap_rules(new: RuleSet) -> None:
                pipeline.rules = new  # evaluate() reads .rules once per comment
                state["rules"] = new.version

            reloader = RuleReloader(settings.rules.paths, swap_rules, current=rules)
        yield Service(
            settings, store, pipeline, worker, platforms, pollers, port, reloader=reloader
        )


async def _serve_http(stack: AsyncExitStack, app: web.Application, settings: Settings) -> int:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)  # closed first: intake stops before drain
    site = web.TCPSite(runner, settings.server.host, settings.server.port)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else settings.server.port
    log.info("listening", host=settings.server.host, port=port)
    return int(port)


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def serve(settings: Settings, secrets: Secrets) -> None:
    """`modbot run`: serve until SIGTERM or SIGINT."""
    async with build_service(settings, secrets) as service:
        install_signal_handlers(service.stop)
        log.info(
            "service_started",
            sites=[s.name for s in settings.sites],
            dry_run=settings.policy.dry_run,
        )
        await service.run()
        log.info("service_stopping")
    log.info("service_stopped")
