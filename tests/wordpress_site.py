"""A real WordPress on 127.0.0.1 for end-to-end tests, up in about 1.5 s.

Debian's `wordpress` package served by PHP's built-in server, a private MariaDB (its own
datadir and socket, no TCP), the shipped mu-plugin (integrations/wordpress/modbot.php) and
offline guards: WordPress makes no HTTP request except to 127.0.0.1. The facts behind every
step are in ../shared/reference/wordpress-on-loopback.md.

    site = WordPressSite(webhook_url=..., webhook_secret=...)
    site.start()       # installs the Debian packages first if they are missing (root only)
    site.post_comment("Nice post", author="Ann")
    site.stop()

`python tests/wordpress_site.py` starts a site and keeps it up until Ctrl-C.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "integrations" / "wordpress" / "modbot.php"
WP_ROOT = Path("/usr/share/wordpress")
WP_ETC = Path("/etc/wordpress")
PACKAGES = ("wordpress", "php-cli", "php-mysql", "mariadb-server")
DB_OPTIONS = (
    # small and fast: a throwaway test database, never a production setting
    "--innodb-log-file-size=8M",
    "--innodb-buffer-pool-size=32M",
    "--innodb-flush-log-at-trx-commit=0",
    "--skip-log-bin",
    "--performance-schema=OFF",
)


class SiteError(RuntimeError):
    """WordPress could not be brought up; the message carries the servers' log tails."""


class PackagesMissing(RuntimeError):
    """The packages are missing and this process cannot install them (not root)."""


def missing_packages() -> list[str]:
    """The Debian packages whose files are not there."""
    missing = []
    if not (WP_ROOT / "wp-settings.php").exists():
        missing.append("wordpress")
    if shutil.which("php") is None:
        missing.append("php-cli")
    elif "mysqli" not in _run(["php", "-m"]).stdout:
        missing.append("php-mysql")
    if not (shutil.which("mariadbd") or Path("/usr/sbin/mariadbd").exists()) or not shutil.which(
        "mariadb-install-db"
    ):
        missing.append("mariadb-server")
    return missing


def ensure_packages() -> float:
    """Install the missing packages with apt; returns the seconds it took (0 if none)."""
    missing = missing_packages()
    if not missing:
        return 0.0
    if os.geteuid() != 0:
        raise PackagesMissing(
            f"needs Debian packages {', '.join(missing)} and root to install them: "
            f"apt-get install --no-install-recommends {' '.join(PACKAGES)}"
        )
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SiteError(
                f"{' '.join(cmd)} failed ({done.returncode}):\n{_tail(done.stdout + done.stderr)}"
            )
    still = missing_packages()
    if still:
        raise SiteError(f"apt-get installed {' '.join(PACKAGES)} but {still} are still missing")
    return time.monotonic() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Response:
    status: int
    body: Any
    headers: dict[str, str]


@dataclass
class WordPressSite:
    """One throwaway WordPress with its own database; `start()` then `stop()`."""

    webhook_url: str | None = None
    webhook_secret: str | None = None
    port: int = field(default_factory=free_port)
    admin_user: str = "admin"
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    app_password: str = ""  # the admin's Application Password, set by start()
    reader_app_password: str = ""  # a subscriber's: valid, but may not moderate
    post_id: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    state: Path | None = None
    db_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_name(self) -> str:
        return f"modbot-e2e-{self.port}"

    @property
    def config_file(self) -> Path:
        return WP_ETC / f"config-{self.config_name}.php"

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> WordPressSite:
        self.timings["packages_s"] = ensure_packages()
        if not os.access(WP_ETC, os.W_OK):
            raise PackagesMissing(f"needs write access to {WP_ETC} (Debian's config lookup)")
        try:
            self._timed("state_s", self._make_state)
            self._timed("mariadb_s", self._start_mariadb)
            self._timed("config_s", self._write_config)
            self._timed("install_s", self._install)
            self._timed("php_s", self._start_php)
        except BaseException:
            self.stop()
            raise
        self.timings["total_s"] = round(sum(self.timings.values()), 3)
        return self

    def stop(self) -> None:
        """Stop both servers (whole process groups), drop the config and the state."""
        for name in ("php", "mariadb"):
            proc = self._procs.pop(name, None)
            if proc is not None:
                _stop_group(proc, grace_s=10 if name == "mariadb" else 3)
        self.config_file.unlink(missing_ok=True)
        if self.state is not None:
            shutil.rmtree(self.state, ignore_errors=True)
            self.state = None

    def __enter__(self) -> WordPressSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _timed(self, name: str, step: Any) -> None:
        started = time.monotonic()
        step()
        self.timings[name] = round(time.monotonic() - started, 3)

    def _make_state(self) -> None:
        shm = Path("/dev/shm")
        fast = shm.is_dir() and shutil.disk_usage(shm).free > 256 * 2**20  # no fsync cost
        # short: a unix socket path must stay under 108 bytes
        self.state = Path(tempfile.mkdtemp(prefix="modbot-wp-", dir=shm if fast else None))
        for sub in ("db", "wp-content/uploads", "mu-plugins"):
            (self.state / sub).mkdir(parents=True)
        (self.state / "mu-plugins" / "modbot.php").symlink_to(PLUGIN)
        (self.state / "mu-plugins" / "e2e-test-helpers.php").write_text(TEST_HELPERS_PHP)
        (self.state / "router.php").write_text(ROUTER_PHP)
        (self.state / "install.php").write_text(INSTALL_PHP)

    @property
    def _socket(self) -> Path:
        assert self.state is not None
        return self.state / "mysqld.sock"

    def _start_mariadb(self) -> None:
        assert self.state is not None
        datadir = self.state / "db"
        init = _run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
                *DB_OPTIONS,
            ]
        )
        if init.returncode != 0:
            raise SiteError(f"mariadb-install-db failed:\n{_tail(init.stdout + init.stderr)}")
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        self._procs["mariadb"] = _spawn(
            [
                mariadbd,
                "--no-defaults",
                f"--datadir={datadir}",
                f"--socket={self._socket}",
                f"--pid-file={self.state / 'mysqld.pid'}",
                f"--log-error={self.state / 'mariadb.err'}",
                "--skip-networking",
                "--user=root",
                *DB_OPTIONS,
            ],
            self.state / "mariadb.out",
        )
        self._wait(self._db_ready, "MariaDB to accept connections", 30, "mariadb")
        self._sql(
            "CREATE DATABASE wordpress; "
            f"CREATE USER 'wp'@'localhost' IDENTIFIED BY '{self.db_password}'; "
            "GRANT ALL ON wordpress.* TO 'wp'@'localhost';"
        )

    def _db_ready(self) -> bool:
        return self._socket.exists() and self._sql("SELECT 1", check=False)

    def _sql(self, sql: str, check: bool = True) -> bool:
        done = _run(
            ["mariadb", "--no-defaults", f"--socket={self._socket}", "-u", "root", "-e", sql]
        )
        if check and done.returncode != 0:
            raise SiteError(f"SQL failed: {sql}\n{_tail(done.stdout + done.stderr)}")
        return done.returncode == 0

    def _write_config(self) -> None:
        assert self.state is not None
        constants: dict[str, Any] = {
            "DB_NAME": "wordpress",
            "DB_USER": "wp",
            "DB_PASSWORD": self.db_password,
            "DB_HOST": f"localhost:{self._socket}",
            "WP_HOME": self.url,
            "WP_SITEURL": self.url,
            "WP_CONTENT_DIR": str(self.state / "wp-content"),
            "WPMU_PLUGIN_DIR": str(self.state / "mu-plugins"),
            # Application Passwords over plain http
            "WP_ENVIRONMENT_TYPE": "local",
            # offline guards: no cron spawning, no updates, no HTTP but to this host
            "DISABLE_WP_CRON": True,
            "AUTOMATIC_UPDATER_DISABLED": True,
            "WP_AUTO_UPDATE_CORE": False,
            "WP_HTTP_BLOCK_EXTERNAL": True,
            "WP_ACCESSIBLE_HOSTS": "127.0.0.1,localhost",
        }
        if self.webhook_url and self.webhook_secret:
            constants["MODBOT_WEBHOOK_URL"] = self.webhook_url
            constants["MODBOT_WEBHOOK_SECRET"] = self.webhook_secret
            constants["MODBOT_WEBHOOK_TIMEOUT"] = 1
        for key in ("AUTH", "SECURE_AUTH", "LOGGED_IN", "NONCE"):
            constants[f"{key}_KEY"] = secrets.token_hex(32)
            constants[f"{key}_SALT"] = secrets.token_hex(32)
        lines = [f"define( {_php(k)}, {_php(v)} );" for k, v in constants.items()]
        self.config_file.write_text("<?php\n" + "\n".join(lines) + "\n$table_prefix = 'wp_';\n")

    def _php_env(self) -> dict[str, str]:
        return {**os.environ, "WORDPRESS_CONFIG": self.config_name, "WP_E2E_PORT": str(self.port)}

    def _install(self) -> None:
        assert self.state is not None
        env = {
            **self._php_env(),
            "WP_E2E_ADMIN": self.admin_user,
            "WP_E2E_PASSWORD": self.admin_password,
        }
        done = subprocess.run(
            ["php", "-d", "display_errors=stderr", str(self.state / "install.php")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        try:
            result = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            raise SiteError(
                f"WordPress install failed ({done.returncode}):\n{_tail(done.stdout + done.stderr)}"
            ) from None
        self.app_password = result["app_password"]
        self.reader_app_password = result["reader_app_password"]
        self.post_id = int(result["post_id"])

    def _start_php(self) -> None:
        assert self.state is not None
        env = {**self._php_env(), "PHP_CLI_SERVER_WORKERS": "4"}
        self._procs["php"] = _spawn(
            [
                "php",
                "-d",
                "display_errors=0",
                "-d",
                "log_errors=1",
                "-d",
                f"error_log={self.state / 'php-error.log'}",
                "-S",
                f"127.0.0.1:{self.port}",
                "-t",
                str(WP_ROOT),
                str(self.state / "router.php"),
            ],
            self.state / "php.log",
            env=env,
        )
        self._wait(self._http_ready, f"php -S on {self.url}", 30, "php")

    def _http_ready(self) -> bool:
        try:
            return self.request("GET", "/", auth=None, timeout_s=2).status == 200
        except OSError:
            return False

    def _wait(self, ready: Any, what: str, timeout_s: float, proc: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            if self._procs[proc].poll() is not None:
                raise SiteError(f"{proc} exited with {self._procs[proc].returncode}\n{self.logs()}")
            time.sleep(0.05)
        raise SiteError(f"timed out after {timeout_s} s waiting for {what}\n{self.logs()}")

    def logs(self) -> str:
        """The tail of every server log, for error messages."""
        if self.state is None:
            return ""
        parts = []
        for name in ("mariadb.err", "mariadb.out", "php.log", "php-error.log"):
            path = self.state / name
            if path.exists():
                parts.append(f"--- {name} ---\n{_tail(path.read_text(errors='replace'))}")
        return "\n".join(parts)

    # --- REST helpers -----------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        auth: tuple[str, str] | str | None = "admin",
        timeout_s: float = 10,
    ) -> Response:
        """A REST call; `path` is under /wp-json (e.g. "/wp/v2/comments"). auth: "admin"
        (the Application Password), None (anonymous) or (user, password)."""
        url = self.url + ("/wp-json" + path if path != "/" else "/wp-json/")
        headers = {"Accept": "application/json"}
        if auth == "admin":
            auth = (self.admin_user, self.app_password)
        if isinstance(auth, tuple):
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        # the URL is always http://127.0.0.1:<port>/wp-json/...
        req = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
                return Response(resp.status, _json(resp.read()), dict(resp.headers))
        except urllib.error.HTTPError as exc:
            return Response(exc.code, _json(exc.read()), dict(exc.headers))

    def post_comment(self, text: str, author: str = "Visitor") -> dict[str, Any]:
        """Post as an anonymous visitor through the REST API; returns the new comment."""
        slug = "".join(c for c in author.lower() if c.isalnum()) or "visitor"
        resp = self.request(
            "POST",
            "/wp/v2/comments",
            {
                "post": self.post_id,
                "author_name": author,
                "author_email": f"{slug}@example.test",
                "content": text,
            },
            auth=None,
        )
        if resp.status != 201:
            raise SiteError(f"posting a comment failed: {resp.status} {resp.body}")
        return dict(resp.body)

    def comment(self, comment_id: int | str) -> dict[str, Any]:
        """A comment as a moderator sees it (context=edit: raw content, status, meta)."""
        resp = self.request("GET", f"/wp/v2/comments/{comment_id}?context=edit")
        if resp.status != 200:
            raise SiteError(f"GET comment {comment_id}: {resp.status} {resp.body}")
        return dict(resp.body)

    def comments(self, status: str = "all") -> list[dict[str, Any]]:
        """Every comment with this status filter (all = approved + held), oldest first."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.request(
                "GET",
                f"/wp/v2/comments?context=edit&status={status}&orderby=id&order=asc"
                f"&per_page=100&page={page}",
            )
            if resp.status != 200:
                raise SiteError(f"listing comments: {resp.status} {resp.body}")
            out.extend(resp.body)
            if page >= int(resp.headers.get("X-WP-TotalPages", "1")):
                return out
            page += 1


# --- processes --------------------------------------------------------------------------


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)


def _spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A daemon in its own session (own process group), output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )


def _stop_group(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM the whole group (php -S workers outlive their master otherwise), then KILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            continue
        # the master is gone; make sure no worker of its group is left
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _php(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


# --- PHP files written into the state directory -----------------------------------------

# php -S puts no environment into $_SERVER; Debian's wp-config.php picks its config by
# $_SERVER['WORDPRESS_CONFIG'] (else by Host). Existing files are served as they are, the
# rest (pretty permalinks, /wp-json/...) goes to index.php.
ROUTER_PHP = r"""<?php
$_SERVER['WORDPRESS_CONFIG'] = getenv( 'WORDPRESS_CONFIG' );
$path = parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH );
if ( '/' !== $path && file_exists( $_SERVER['DOCUMENT_ROOT'] . $path ) ) {
	return false;
}
chdir( $_SERVER['DOCUMENT_ROOT'] );
require 'index.php';
"""

# Test-only site behaviour: visitors may comment through REST, fast, without being held.
TEST_HELPERS_PHP = r"""<?php
add_filter( 'rest_allow_anonymous_comments', '__return_true' );
add_filter( 'wp_is_comment_flood', '__return_false', 99 );
remove_action( 'check_comment_flood', 'check_comment_flood_db', 10 );
"""

# Installs WordPress without HTTP or e-mail; prints one JSON line with the credentials.
INSTALL_PHP = r"""<?php
$_SERVER['WORDPRESS_CONFIG'] = getenv( 'WORDPRESS_CONFIG' );
$_SERVER['HTTP_HOST']        = '127.0.0.1:' . getenv( 'WP_E2E_PORT' );
$_SERVER['REQUEST_URI']      = '/';
$_SERVER['SERVER_NAME']      = '127.0.0.1';
$_SERVER['SERVER_PORT']      = getenv( 'WP_E2E_PORT' );
define( 'WP_INSTALLING', true );
function wp_new_blog_notification() {} // no MTA: wp_install() would mail the admin
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
// wp_install() probes pretty permalinks over HTTP; nothing listens yet, so no HTTP at all.
add_filter( 'pre_http_request', function () {
	return new WP_Error( 'offline', 'no HTTP while installing' );
} );
$admin      = getenv( 'WP_E2E_ADMIN' );
$admin_pass = wp_slash( getenv( 'WP_E2E_PASSWORD' ) );
$installed  = wp_install( 'e2e', $admin, 'admin@example.test', false, '', $admin_pass );
$admin_id   = (int) $installed['user_id'];
update_option( 'permalink_structure', '/%postname%/' );
delete_option( 'rewrite_rules' );
foreach ( array(
	'comment_moderation'          => 0, // visitors' comments are published at once
	'comment_previously_approved' => 0,
	'comments_notify'             => 0, // no MTA
	'moderation_notify'           => 0,
	'comment_max_links'           => 50,
	'close_comments_for_old_posts' => 0,
) as $name => $value ) {
	update_option( $name, $value );
}
wp_delete_comment( 1, true ); // the sample comment: the comment table starts empty
$post_id = wp_insert_post( array(
	'post_title'     => 'A post to comment on',
	'post_content'   => 'Comments welcome.',
	'post_status'    => 'publish',
	'post_author'    => $admin_id,
	'comment_status' => 'open',
) );
$app_args = array( 'name' => 'modbot' );
$app      = WP_Application_Passwords::create_new_application_password( $admin_id, $app_args );
$reader = wp_insert_user( array(
	'user_login' => 'reader',
	'user_pass'  => wp_generate_password( 24 ),
	'user_email' => 'reader@example.test',
	'role'       => 'subscriber',
) );
$reader_app = WP_Application_Passwords::create_new_application_password( $reader, $app_args );
if ( is_wp_error( $app ) || is_wp_error( $reader_app ) || ! $post_id ) {
	fwrite( STDERR, "install: could not create the post or the application passwords\n" );
	exit( 1 );
}
echo json_encode( array(
	'app_password'        => $app[0],
	'reader_app_password' => $reader_app[0],
	'post_id'             => $post_id,
) ), "\n";
"""


def main() -> None:
    """Start a site (with a webhook if MODBOT_WEBHOOK_URL/_SECRET are set) until Ctrl-C."""
    site = WordPressSite(
        webhook_url=os.environ.get("MODBOT_WEBHOOK_URL"),
        webhook_secret=os.environ.get("MODBOT_WEBHOOK_SECRET"),
    )
    with site:
        print(f"WordPress {site.url}  timings {site.timings}")
        print(f"admin / {site.admin_password}   application password: {site.app_password}")
        print(f"post {site.post_id}; state {site.state}; Ctrl-C stops and deletes it")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
