"""The review page: an aiohttp app of its own, listening on review.host:review.port.

Security model (docs/review.md): every page but /login and /static needs a session
cookie (Secure unless configured off, HttpOnly, SameSite=Strict); every POST needs the
session's CSRF token (or, for /login, a double-submit token), else 403; responses carry a
Content-Security-Policy with no inline script and no inline style; templates autoescape.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

import jinja2
import structlog
from aiohttp import web
from argon2 import PasswordHasher

from bot.config import ReviewSettings, Settings
from bot.platforms.base import Platform
from bot.review import queries, stats
from bot.review.auth import DEVICE_LIFETIME_S, Auth, Session
from bot.review.present import entry_view, iso
from bot.review.verdicts import ACTIONS, VerdictError, Verdicts, escalations
from bot.store import AsyncStore, Store

log = structlog.get_logger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "modbot_session"
LOGIN_CSRF_COOKIE = "modbot_login_csrf"
FLASH_COOKIE = "modbot_flash"
DEVICE_COOKIE = "modbot_device"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
MAX_BULK = 500


@dataclass
class ReviewContext:
    store: AsyncStore
    auth: Auth
    settings: ReviewSettings
    verdicts: Verdicts
    templates: jinja2.Environment


CTX = web.AppKey("review", ReviewContext)
try:
    SESSION_KEY: Any = web.RequestKey("review_session", Session)
except AttributeError:  # aiohttp < 3.13 has no RequestKey (and no warning for str keys)
    SESSION_KEY = "review_session"


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["iso"] = iso
    env.filters["pct"] = lambda v: "-" if v is None else f"{v:.0%}"
    return env


def build_review_app(
    store: AsyncStore,
    platforms: Mapping[str, Platform],
    settings: ReviewSettings,
    hasher: PasswordHasher | None = None,
) -> web.Application:
    """The review app over a store (its own connection is best: see start_review_server)."""
    app = web.Application(middlewares=[security_headers, session_guard], client_max_size=256 * 1024)
    app[CTX] = ReviewContext(
        store=store,
        auth=Auth(store.sync, settings, hasher),
        settings=settings,
        verdicts=Verdicts(store, platforms),
        templates=templates(),
    )
    app.router.add_get("/", index)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/queue", queue)
    app.router.add_get(r"/entry/{id:\d{1,18}}", entry)
    app.router.add_post(r"/entry/{id:\d{1,18}}/verdict", verdict)
    app.router.add_post("/bulk", bulk)
    app.router.add_get("/audit", audit)
    app.router.add_get("/stats", stats_page)
    app.router.add_static("/static", HERE / "static", name="static", append_version=True)
    return app


# -- middlewares -----------------------------------------------------------------------------


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as exc:
        _secure(exc.headers, static=False)
        raise
    _secure(response.headers, static=request.path.startswith("/static/"))
    return response


def _secure(headers: Any, static: bool) -> None:
    headers.update(SECURITY_HEADERS)
    headers["Cache-Control"] = "private, max-age=3600" if static else "no-store"


@web.middleware
async def session_guard(request: web.Request, handler: Any) -> web.StreamResponse:
    """Load the session; send strangers to /login; refuse a POST without its CSRF token."""
    ctx = request.app[CTX]
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await ctx.store.run(ctx.auth.session, token) if token else None
    request[SESSION_KEY] = session
    public = request.path == "/login" or request.path.startswith("/static/")
    if session is None and not public:
        if request.method in SAFE_METHODS:
            raise web.HTTPSeeOther("/login?" + urlencode({"next": request.path_qs}))
        raise web.HTTPForbidden(text="403 Forbidden: log in first")
    if request.method not in SAFE_METHODS:
        expected = (
            request.cookies.get(LOGIN_CSRF_COOKIE, "")
            if request.path == "/login"
            else (session.csrf_token if session else "")
        )
        sent = request.headers.get(CSRF_HEADER) or str((await request.post()).get(CSRF_FIELD, ""))
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            log.warning("review_csrf_refused", path=request.path)
            raise web.HTTPForbidden(text="403 Forbidden: missing or wrong CSRF token")
    return await handler(request)


# -- helpers ---------------------------------------------------------------------------------


async def index(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/queue")


def safe_next(target: str | None, default: str = "/queue") -> str:
    """Only local paths: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(c in target for c in "\r\n\\"):
        return default
    return target


def client_ip(request: web.Request, settings: ReviewSettings) -> str:
    if settings.client_ip_header:
        forwarded = request.headers.get(settings.client_ip_header, "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:64]
    return request.remote or "unknown"


def render(request: web.Request, name: str, status: int = 200, **values: Any) -> web.Response:
    ctx = request.app[CTX]
    session: Session | None = request.get(SESSION_KEY)
    flash = unquote(request.cookies.get(FLASH_COOKIE, ""))
    html = ctx.templates.get_template(name).render(
        session=session,
        moderator=session.moderator if session else None,
        csrf=session.csrf_token if session else "",
        flash=flash[:500],
        static=lambda path: request.app.router["static"].url_for(filename=path),
        **values,
    )
    response = web.Response(text=html, status=status, content_type="text/html")
    if flash:
        response.del_cookie(FLASH_COOKIE, path="/")
    return response


def _set_flash(response: web.StreamResponse, request: web.Request, text: str) -> None:
    set_cookie(request, response, FLASH_COOKIE, quote(text[:300], safe=":#/()'.,-_"), "/", 60)


def see_other(request: web.Request, location: str, flash: str = "") -> web.HTTPSeeOther:
    """A redirect after POST (raise it), with a one-time message for the next page."""
    response = web.HTTPSeeOther(location)
    if flash:
        _set_flash(response, request, flash)
    return response


# -- login -----------------------------------------------------------------------------------


def set_cookie(
    request: web.Request,
    response: web.StreamResponse,
    name: str,
    value: str,
    path: str,
    max_age_s: float | None = None,
) -> None:
    """Every cookie of the review page: HttpOnly, SameSite=Strict, Secure unless turned off."""
    response.set_cookie(
        name,
        value,
        path=path,
        httponly=True,
        samesite="Strict",
        secure=request.app[CTX].settings.cookie_secure,
        max_age=None if max_age_s is None else int(max_age_s),
    )


async def login_page(request: web.Request) -> web.Response:
    if request.get(SESSION_KEY) is not None:
        raise see_other(request, safe_next(request.query.get("next")))
    return login_form(request, safe_next(request.query.get("next")))


def login_form(
    request: web.Request, next_: str, error: str = "", status: int = 200
) -> web.Response:
    """The login form, with a fresh double-submit CSRF token unless one is already set."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request, "login.html", status=status, login_csrf=token, next=next_, error=error
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, "/login")
    return response


async def login(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    form = await request.post()
    name = str(form.get("name", "")).strip()[:64]
    password = str(form.get("password", ""))
    next_ = safe_next(str(form.get("next", "")))
    ip = client_ip(request, ctx.settings)
    device = await ctx.store.run(ctx.auth.device_for, request.cookies.get(DEVICE_COOKIE, ""), name)
    wait_s = await ctx.store.run(ctx.auth.retry_after, ip, name, device)
    if wait_s is not None:
        log.warning("review_login_rate_limited", ip=ip, user=name)
        wait = f"Too many failed logins. Try again in {int(wait_s // 60) + 1} min."
        response = login_form(request, next_, wait, 429)
        response.headers["Retry-After"] = str(int(wait_s) + 1)
        return response
    moderator, digest = await ctx.store.run(ctx.auth.password_hash, name)
    ok = await asyncio.to_thread(ctx.auth.verify, digest, password) and moderator is not None
    await ctx.store.run(ctx.auth.record_attempt, ip, name, ok, device)
    if not ok or moderator is None:
        log.info("review_login_failed", ip=ip, user=name)
        return login_form(request, next_, "Wrong name or password.", 401)
    await ctx.store.run(ctx.auth.rehash_if_needed, moderator, digest, password)
    token = await ctx.store.run(
        ctx.auth.create_session, moderator, ip, request.headers.get("User-Agent", "")
    )
    log.info("review_login", moderator=moderator.name, ip=ip)
    response = web.HTTPSeeOther(next_)
    set_cookie(request, response, SESSION_COOKIE, token, "/", ctx.settings.session_lifetime_s)
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    device_token = await ctx.store.run(ctx.auth.remember_device, moderator.name, device)
    set_cookie(request, response, DEVICE_COOKIE, device_token, "/login", DEVICE_LIFETIME_S)
    raise response


async def logout(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    await ctx.store.run(ctx.auth.end_session, request.cookies.get(SESSION_COOKIE, ""))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


# -- queue and entries -----------------------------------------------------------------------


def _escalations(request: web.Request, site: str) -> tuple[str, ...]:
    return escalations(request.app[CTX].verdicts.platforms.get(site))


async def queue(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    error = ""
    try:
        flt = queries.QueueFilter.from_query(request.query)
        after_text = request.query.get("after", "")
        after = queries.Cursor.decode(after_text) if after_text else None
    except ValueError as exc:
        flt, after, error = queries.QueueFilter(), None, str(exc)
    page = await ctx.store.run(
        queries.queue_page, ctx.store.sync, flt, after, ctx.settings.page_size
    )
    counts = await ctx.store.run(queries.state_counts, ctx.store.sync)
    menus = await ctx.store.run(queries.choices, ctx.store.sync)
    entries = [entry_view(row, _escalations(request, row["site"])) for row in page.rows]
    query = flt.to_query()
    next_url = "/queue?" + urlencode({**query, "after": page.next.encode()}) if page.next else ""
    return render(
        request,
        "queue.html",
        status=400 if error else 200,
        entries=entries,
        flt=flt,
        query=query,
        here=request.path_qs,
        first_url="/queue?" + urlencode(query),
        next_url=next_url,
        counts=counts,
        state_urls={
            s: "/queue?" + urlencode(flt.with_state(None if s == "all" else s).to_query())
            for s in ("pending", "confirmed", "restored", "dismissed", "all")
        },
        menus=menus,
        error=error,
        actions=ACTIONS,
    )


async def entry(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    decision_id = int(request.match_info["id"])
    rows = await ctx.store.run(queries.load_entries, ctx.store.sync, [decision_id])
    if not rows:
        raise web.HTTPNotFound(text="no such decision")
    view = entry_view(rows[0], _escalations(request, rows[0]["site"]))
    return render(request, "entry.html", e=view, here=request.path_qs)


async def verdict(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    session: Session = request[SESSION_KEY]
    form = await request.post()
    decision_id = int(request.match_info["id"])
    escalate = str(form.get("escalate", "")) or None
    action = str(form.get("action", "")) or ("confirm" if escalate else "")
    back = safe_next(str(form.get("next", "")), f"/entry/{decision_id}")
    try:
        outcome = await ctx.verdicts.apply(
            decision_id, action, session.moderator.name, str(form.get("note", "")), escalate
        )
    except VerdictError as exc:
        raise see_other(request, f"{back}#e{decision_id}", f"#{decision_id}: {exc}") from None
    raise see_other(request, f"{back}#e{decision_id}", outcome.line())


async def bulk(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    session: Session = request[SESSION_KEY]
    form = await request.post()
    back = safe_next(str(form.get("next", "")))
    action = str(form.get("action", ""))
    ids = [int(str(v)) for v in form.getall("ids", []) if str(v).isdigit()][:MAX_BULK]
    if action not in ACTIONS or not ids:
        raise see_other(request, back, "Select comments and a verdict first.")
    outcomes = await ctx.verdicts.apply_many(
        ids, action, session.moderator.name, str(form.get("note", ""))
    )
    failed = [o for o in outcomes if not o.ok]
    text = f"{action}: {len(outcomes) - len(failed)} of {len(outcomes)} done"
    if failed:
        text += "; failed: " + "; ".join(o.line() for o in failed[:5])
    raise see_other(request, back, text)


async def audit(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    moderator = request.query.get("moderator", "").strip()[:64] or None
    before_text = request.query.get("before", "")
    before = int(before_text) if before_text.isdigit() else None
    page = await ctx.store.run(queries.audit_page, ctx.store.sync, moderator, before)
    next_url = ""
    if page.next is not None:
        params = {"before": str(page.next)} | ({"moderator": moderator} if moderator else {})
        next_url = "/audit?" + urlencode(params)
    return render(request, "audit.html", rows=page.rows, who=moderator or "", next_url=next_url)


async def stats_page(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    days_text = request.query.get("days", "30")
    days = min(max(int(days_text), 1), 366) if days_text.isdigit() else 30
    figures = await ctx.store.run(stats.collect, ctx.store.sync, days)
    return render(request, "stats.html", s=stats.render(figures), days=days)


# -- running it ------------------------------------------------------------------------------


@dataclass
class ReviewServer:
    runner: web.AppRunner
    store: AsyncStore | None  # closed with the server when the server opened it
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        await self.runner.cleanup()
        if self.store is not None:
            await self.store.close()


async def start_review_server(
    settings: Settings,
    platforms: Mapping[str, Platform],
    store: AsyncStore | None = None,
    hasher: PasswordHasher | None = None,
) -> ReviewServer | None:
    """Serve the review page on settings.review's address; None when it is disabled.

    Without `store`, it opens its own connection to settings.store.path (SQLite WAL lets
    it read while the pipeline writes, and its queries never queue behind the pipeline's).
    """
    review = settings.review
    if not review.enabled:
        return None
    own = store is None
    store = store or AsyncStore(Store(settings.store.path))
    try:
        app = build_review_app(store, platforms, review, hasher)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, review.host, review.port).start()
        except BaseException:
            await runner.cleanup()
            raise
    except BaseException:
        if own:
            with contextlib.suppress(Exception):
                await store.close()
        raise
    port = runner.addresses[0][1] if runner.addresses else review.port
    log.info("review_listening", host=review.host, port=port)
    return ReviewServer(runner, store if own else None, review.host, port)
