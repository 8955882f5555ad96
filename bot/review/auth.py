"""Moderator accounts, sessions and login rate limits for the review page.

Passwords are hashed with Argon2id (argon2-cffi's defaults: 64 MiB, 3 passes), a
memory-hard hash that makes offline guessing costly if the database leaks. Session tokens
are random 256-bit values; the database keeps only their SHA-256, so a leaked database
holds no usable session. Every session has its own CSRF token.

Failed logins are limited per address and per account. A per-account limit alone would let
anyone lock a moderator out by failing logins under their name, so a successful login also
leaves a device cookie (OWASP's "device cookies"): a login presenting one for its account is
counted against that browser only, not against the account.

`auth_provider`/`external_id` on moderators leave room for single sign-on: an OIDC login
would look the account up by (provider, subject) and call `create_session` the same way.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bot.config import ReviewSettings
from bot.store import Store

NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_LEN = 10
MAX_PASSWORD_LEN = 1024
ROLES = ("moderator", "admin")
TOUCH_EVERY_S = 60.0  # write last_seen_at at most this often per session
ATTEMPTS_KEPT_S = 86_400.0
DEVICE_LIFETIME_S = 180 * 86_400.0  # a browser stays known this long after its last login


class AccountError(ValueError):
    """A moderator account that cannot be created or changed as asked."""


@dataclass(frozen=True, slots=True)
class Moderator:
    id: int
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class Session:
    moderator: Moderator
    csrf_token: str
    token_hash: str
    expires_at: float


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise AccountError("a moderator name is 1-64 letters, digits or . _ @ -")
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD_LEN <= len(password) <= MAX_PASSWORD_LEN:
        raise AccountError(f"a password has {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters")
    return password


class Auth:
    """Accounts, sessions and login attempts over the store's tables (synchronous: run it
    on the store's thread). Password hashing is separate (`verify`), for a worker thread."""

    def __init__(
        self,
        store: Store,
        settings: ReviewSettings,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.hasher = hasher or PasswordHasher()
        self.clock = clock
        # verified when the name is unknown, so both cases take as long
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    # -- accounts ----------------------------------------------------------------------------

    def add_moderator(self, name: str, password: str, role: str = "moderator") -> int:
        check_name(name)
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        digest = self.hasher.hash(check_password(password))
        now = self.clock()
        if self.store.query("SELECT 1 FROM moderators WHERE name = ?", (name,)):
            raise AccountError(f"moderator {name!r} already exists")
        rows = self.store.query(
            "INSERT INTO moderators(name, password_hash, role, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            (name, digest, role, now, now),
        )
        return int(rows[0][0])

    def set_password(self, name: str, password: str) -> None:
        """Change a password; every session of that moderator ends."""
        digest = self.hasher.hash(check_password(password))
        self._update(name, "password_hash = ?", (digest,))

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable (every session ends) or enable an account."""
        self._update(name, "disabled = ?", (int(disabled),))

    def set_role(self, name: str, role: str) -> None:
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        self._update(name, "role = ?", (role,))

    def _update(self, name: str, assignment: str, params: tuple[object, ...]) -> None:
        rows = self.store.query(
            f"UPDATE moderators SET {assignment}, updated_at = ? WHERE name = ? "  # noqa: S608
            "RETURNING id",
            (*params, self.clock(), name),
        )
        if not rows:
            raise AccountError(f"no moderator named {name!r}")
        self.store.query("DELETE FROM review_sessions WHERE moderator_id = ?", (rows[0][0],))

    def moderators(self) -> list[dict[str, object]]:
        rows = self.store.query(
            "SELECT id, name, role, disabled, auth_provider, created_at, updated_at, "
            "(SELECT MAX(at) FROM login_attempts a WHERE a.username = lower(m.name) AND ok = 1)"
            " AS last_login FROM moderators m ORDER BY name"
        )
        return [dict(r) for r in rows]

    # -- logging in --------------------------------------------------------------------------

    def password_hash(self, name: str) -> tuple[Moderator | None, str]:
        """The account (None if unknown or disabled) and the hash to verify against."""
        rows = self.store.query(
            "SELECT id, name, role, password_hash FROM moderators WHERE name = ? AND "
            "disabled = 0 AND auth_provider = 'password'",
            (name,),
        )
        if not rows or not rows[0]["password_hash"]:
            return None, self._dummy_hash
        row = rows[0]
        return Moderator(row["id"], row["name"], row["role"]), row["password_hash"]

    def verify(self, digest: str, password: str) -> bool:
        """CPU- and memory-heavy: call it off the event loop and off the store's thread."""
        try:
            return bool(self.hasher.verify(digest, password[:MAX_PASSWORD_LEN]))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def rehash_if_needed(self, moderator: Moderator, digest: str, password: str) -> None:
        """Upgrade a hash made with weaker parameters than the hasher's, at login."""
        if self.hasher.check_needs_rehash(digest):
            self.store.query(
                "UPDATE moderators SET password_hash = ? WHERE id = ?",
                (self.hasher.hash(password), moderator.id),
            )

    def retry_after(self, ip: str, username: str, device: str = "") -> float | None:
        """Seconds until another login may be tried from `ip` for `username`, or None.

        Failures count per address over the window, and per account since its last
        successful login (so a moderator who got in is not locked out by old typos). From a
        known device (`device_for`), failures count per device instead of per account.
        """
        now = self.clock()
        window = self.settings.login_window_s
        since = now - window
        ip_rows = self.store.query(
            "SELECT COUNT(*), MIN(at) FROM (SELECT at FROM login_attempts WHERE ip = ? AND "
            "at > ? AND ok = 0 ORDER BY at DESC LIMIT ?)",
            (ip, since, self.settings.login_max_failures_per_ip),
        )
        user = username.lower()
        last_ok = self.store.query(
            "SELECT MAX(at) FROM login_attempts WHERE username = ? AND ok = 1", (user,)
        )[0][0]
        # a known device's failures, or the account's from unknown browsers
        whose, key = ("device = ?", device) if device else ("username = ? AND device = ''", user)
        user_rows = self.store.query(
            f"SELECT COUNT(*), MIN(at) FROM (SELECT at FROM login_attempts WHERE {whose} "  # noqa: S608 (a fixed clause)
            "AND at > ? AND ok = 0 ORDER BY at DESC LIMIT ?)",
            (key, max(since, last_ok or 0.0), self.settings.login_max_failures_per_user),
        )
        waits = []
        for (count, oldest), limit in (
            (ip_rows[0], self.settings.login_max_failures_per_ip),
            (user_rows[0], self.settings.login_max_failures_per_user),
        ):
            if count >= limit:
                waits.append(oldest + window - now)
        return max(1.0, max(waits)) if waits else None

    def record_attempt(self, ip: str, username: str, ok: bool, device: str = "") -> None:
        now = self.clock()
        self.store.query(
            "INSERT INTO login_attempts(at, ip, username, ok, device) VALUES (?, ?, ?, ?, ?)",
            (now, ip, username.lower()[:128], int(ok), device),
        )
        if secrets.randbelow(50) == 0:  # now and then, forget old attempts and devices
            self.store.query("DELETE FROM login_attempts WHERE at < ?", (now - ATTEMPTS_KEPT_S,))
            self.store.query(
                "DELETE FROM login_devices WHERE created_at < ?", (now - DEVICE_LIFETIME_S,)
            )

    def device_for(self, token: str, username: str) -> str:
        """The key of the device cookie `token` if this account logged in with it (within
        DEVICE_LIFETIME_S), else "": a known browser of the account's moderator."""
        if not token or len(token) > 128:
            return ""
        digest = token_hash(token)
        rows = self.store.query(
            "SELECT 1 FROM login_devices WHERE token_hash = ? AND username = ? AND created_at > ?",
            (digest, username.lower(), self.clock() - DEVICE_LIFETIME_S),
        )
        return digest if rows else ""

    def remember_device(self, username: str, old_device: str = "") -> str:
        """A new device cookie for a successful login (replacing the one presented, so each
        login renews it); returns the token to set."""
        token = secrets.token_urlsafe(32)
        if old_device:
            self.store.query("DELETE FROM login_devices WHERE token_hash = ?", (old_device,))
        self.store.query(
            "INSERT INTO login_devices(token_hash, username, created_at) VALUES (?, ?, ?)",
            (token_hash(token), username.lower(), self.clock()),
        )
        return token

    # -- sessions ----------------------------------------------------------------------------

    def create_session(self, moderator: Moderator, ip: str, user_agent: str) -> str:
        """A new session for a moderator who just logged in; returns the cookie's token."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        self.store.query("DELETE FROM review_sessions WHERE expires_at < ?", (now,))
        self.store.query(
            "INSERT INTO review_sessions(token_hash, moderator_id, csrf_token, created_at, "
            "last_seen_at, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                token_hash(token),
                moderator.id,
                secrets.token_urlsafe(32),
                now,
                now,
                now + self.settings.session_lifetime_s,
                ip[:64],
                user_agent[:256],
            ),
        )
        return token

    def session(self, token: str) -> Session | None:
        """The live session behind a cookie token, or None (unknown, expired or idle)."""
        if not token or len(token) > 128:
            return None
        digest = token_hash(token)
        rows = self.store.query(
            "SELECT s.csrf_token, s.last_seen_at, s.expires_at, m.id, m.name, m.role "
            "FROM review_sessions s JOIN moderators m ON m.id = s.moderator_id "
            "WHERE s.token_hash = ? AND m.disabled = 0",
            (digest,),
        )
        now = self.clock()
        if not rows:
            return None
        row = rows[0]
        if row["expires_at"] <= now or row["last_seen_at"] + self.settings.session_idle_s <= now:
            self.end_session(token)
            return None
        if now - row["last_seen_at"] >= TOUCH_EVERY_S:
            self.store.query(
                "UPDATE review_sessions SET last_seen_at = ? WHERE token_hash = ?", (now, digest)
            )
        moderator = Moderator(row["id"], row["name"], row["role"])
        return Session(moderator, row["csrf_token"], digest, row["expires_at"])

    def end_session(self, token: str) -> None:
        self.store.query("DELETE FROM review_sessions WHERE token_hash = ?", (token_hash(token),))
