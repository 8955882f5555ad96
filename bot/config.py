"""Typed, validated configuration, loaded once.

`load_config(path)` parses YAML, validates it into frozen models and resolves secrets from
environment variables or files. Every error names the file, the line and the key path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.models import Threshold

DEFAULT_THRESHOLDS: dict[str, dict[str, float]] = {
    # Flag thresholds follow Discourse's AI toxicity defaults (which ran Detoxify); hide
    # thresholds are deliberately high: the model picks what to review, rules do most hiding.
    "toxicity": {"flag": 0.80, "hide": 0.97},
    "severe_toxicity": {"flag": 0.30, "hide": 0.80},
    "obscene": {"flag": 0.80},
    "identity_attack": {"flag": 0.60, "hide": 0.95},
    "insult": {"flag": 0.60},
    "threat": {"flag": 0.60, "hide": 0.95},
    "sexual_explicit": {"flag": 0.60},
}

SECRET_KEYS = ("api_token", "api_key", "secret", "password", "app_password", "token")


class ConfigError(Exception):
    """A config file that cannot be used; the message names file, line and key path."""


class Secret:
    """A secret value that never shows itself in repr, str or logs."""

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str) -> None:
        self._value = value
        self.origin = origin

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret(<from {self.origin}>)"

    __str__ = __repr__


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class SecretRef(_Model):
    """Where a secret comes from: an environment variable or a file, never the config."""

    env: str | None = None
    file: Path | None = None

    def resolve(self, what: str) -> Secret:
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise ValueError(f"environment variable {self.env} for {what} is not set")
            return _non_empty(Secret(value.strip(), f"${self.env}"), what)
        if self.file:
            try:
                secret = Secret(self.file.read_text(encoding="utf-8").strip(), str(self.file))
            except OSError as exc:
                raise ValueError(f"cannot read {what} from {self.file}: {exc.strerror}") from None
            return _non_empty(secret, what)
        raise ValueError(f"{what}: give {what}_env or {what}_file")


def _non_empty(secret: Secret, what: str) -> Secret:
    if not secret.reveal():
        raise ValueError(f"{what} from {secret.origin} is empty")
    return secret


def _reject_literal_secrets(data: Any) -> Any:
    if isinstance(data, dict):
        for key in SECRET_KEYS:
            if key in data:
                raise ValueError(
                    f"'{key}' may not be written in the config: use {key}_env (an environment "
                    f"variable's name) or {key}_file (a file holding it)"
                )
    return data


class StoreSettings(_Model):
    path: Path = Path("modbot.db")
    """SQLite file for the intake queue and the flagged-comments log."""


class LoggingSettings(_Model):
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


class ServerSettings(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)


class ReviewSettings(_Model):
    """The moderators' review page (bot/review), on its own address."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8081, ge=0, le=65535)
    cookie_secure: bool = True
    session_lifetime_s: float = Field(12 * 3600.0, ge=60, le=30 * 86_400)
    session_idle_s: float = Field(2 * 3600.0, ge=60, le=30 * 86_400)
    page_size: int = Field(25, ge=5, le=200)
    login_window_s: float = Field(900.0, ge=10, le=86_400)
    login_max_failures_per_ip: int = Field(20, ge=1, le=10_000)
    login_max_failures_per_user: int = Field(5, ge=1, le=10_000)
    client_ip_header: str | None = Field(None, pattern=r"^[A-Za-z0-9-]{1,64}$")

    @model_validator(mode="after")
    def _idle_within_lifetime(self) -> ReviewSettings:
        if self.session_idle_s > self.session_lifetime_s:
            raise ValueError("session_idle_s is longer than session_lifetime_s")
        return self


class ModelSettings(_Model):
    enabled: bool = True
    name: str = "original"
    checkpoint: Path | None = None
    hf_config: Path | None = None
    device: str = "cpu"
    batch_size: int = Field(16, ge=1, le=512)
    batch_wait_ms: int = Field(10, ge=0, le=10_000)
    window_overlap_tokens: int = Field(64, ge=0, le=256)
    threads: int | None = Field(None, ge=1, le=256)

    @model_validator(mode="after")
    def _local_pair(self) -> ModelSettings:
        if (self.checkpoint is None) != (self.hf_config is None):
            raise ValueError("checkpoint and hf_config go together: give both or neither")
        return self


class RulesSettings(_Model):
    paths: tuple[Path, ...] = (Path("rules"),)
    reload: bool = True


class ThresholdSettings(_Model):
    flag: float | None = Field(None, ge=0.0, le=1.0)
    hide: float | None = Field(None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdSettings:
        if self.flag is not None and self.hide is not None and self.hide < self.flag:
            raise ValueError(f"hide ({self.hide}) is below flag ({self.flag})")
        return self

    def to_threshold(self) -> Threshold:
        return Threshold(flag=self.flag, hide=self.hide)


def _default_thresholds() -> dict[str, ThresholdSettings]:
    return {k: ThresholdSettings(**v) for k, v in DEFAULT_THRESHOLDS.items()}


class PolicySettings(_Model):
    dry_run: bool = False
    thresholds: dict[str, ThresholdSettings] = Field(default_factory=_default_thresholds)
    max_rule_action: Literal["flag", "hide"] = "hide"


class WorkerSettings(_Model):
    concurrency: int = Field(16, ge=1, le=1024)
    max_attempts: int = Field(20, ge=1, le=10_000)
    retry_max_delay_s: float = Field(300.0, ge=0.1, le=86_400)
    lease_s: float = Field(120.0, ge=1.0, le=86_400)


class _HttpPlatform(_Model):
    """What every platform reached over HTTP shares. `credential` names its secret's keys:
    `<credential>_env` or `<credential>_file`."""

    credential: ClassVar[str] = "api_token"

    base_url: str = Field(pattern=r"^https?://")
    timeout_s: float = Field(10.0, gt=0, le=300)
    max_retries: int = Field(5, ge=0, le=100)
    max_retry_after_s: float = Field(300.0, ge=0, le=86_400)

    _check_literal = model_validator(mode="before")(_reject_literal_secrets)

    def token_ref(self) -> SecretRef | None:
        env = getattr(self, f"{self.credential}_env", None)
        file = getattr(self, f"{self.credential}_file", None)
        return SecretRef(env=env, file=file) if env or file else None

    def token_key(self) -> str:
        suffix = "_env" if getattr(self, f"{self.credential}_env", None) else "_file"
        return self.credential + suffix


class GenericPlatform(_HttpPlatform):
    """The generic HTTP JSON contract (docs/generic-adapter.md)."""

    type: Literal["generic"]
    api_token_env: str | None = None
    api_token_file: Path | None = None


class WordPressPlatform(_HttpPlatform):
    """WordPress REST API with an Application Password (docs/platforms/wordpress.md)."""

    credential: ClassVar[str] = "app_password"

    type: Literal["wordpress"]
    username: str = Field(min_length=1)
    app_password_env: str | None = None
    app_password_file: Path | None = None
    # status a hidden comment gets: hold (pending), spam or trash; per rule or label overrides
    hide_status: Literal["hold", "spam", "trash"] = "hold"
    hide_status_by_rule: dict[str, Literal["hold", "spam", "trash"]] = Field(default_factory=dict)
    hide_status_by_label: dict[str, Literal["hold", "spam", "trash"]] = Field(default_factory=dict)


class DiscoursePlatform(_HttpPlatform):
    """Discourse admin API (docs/platforms/discourse.md)."""

    credential: ClassVar[str] = "api_key"

    type: Literal["discourse"]
    api_username: str = "system"
    api_key_env: str | None = None
    api_key_file: Path | None = None
    flag_type: Literal["notify_moderators", "inappropriate", "spam", "illegal", "off_topic"] = (
        "notify_moderators"
    )
    hide_with: Literal["take_action", "review_queue"] = "take_action"
    skip_private_messages: bool = True
    requests_per_minute: int = Field(60, ge=1, le=100_000)


class CoralPlatform(_Model):
    """Coral's external moderation phase: Coral calls modbot (docs/platforms/coral.md)."""

    type: Literal["coral"]
    # Coral skips a phase that answers later than its timeout; answer "no opinion" before it.
    answer_within_ms: int = Field(800, ge=50, le=60_000)
    # what a flagged comment gets besides the FLAG action: none (stays published),
    # premod (held for pre-moderation) or system_withheld
    flag_status: Literal["none", "premod", "system_withheld"] = "none"

    def token_ref(self) -> SecretRef | None:
        return None


PlatformSettings = Annotated[
    GenericPlatform | WordPressPlatform | DiscoursePlatform | CoralPlatform,
    Field(discriminator="type"),
]


class WebhookSettings(_Model):
    enabled: bool = False
    secret_env: str | None = None
    secret_file: Path | None = None

    _check_literal = model_validator(mode="before")(_reject_literal_secrets)

    @model_validator(mode="after")
    def _needs_secret(self) -> WebhookSettings:
        if self.enabled and not (self.secret_env or self.secret_file):
            raise ValueError("an enabled webhook needs secret_env or secret_file")
        return self


class PollSettings(_Model):
    enabled: bool = True
    interval_s: float = Field(30.0, ge=0.05, le=86_400)
    batch_size: int = Field(100, ge=1, le=1000)
    max_backoff_s: float = Field(300.0, ge=0.1, le=86_400)


class SiteSettings(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    platform: PlatformSettings
    webhook: WebhookSettings = WebhookSettings()
    poll: PollSettings = PollSettings()
    # this site's own policy; absent: the top-level policy
    policy: PolicySettings | None = None


class Settings(_Model):
    store: StoreSettings = StoreSettings()
    logging: LoggingSettings = LoggingSettings()
    server: ServerSettings = ServerSettings()
    model: ModelSettings = ModelSettings()
    rules: RulesSettings = RulesSettings()
    policy: PolicySettings = PolicySettings()
    workers: WorkerSettings = WorkerSettings()
    sites: tuple[SiteSettings, ...] = ()
    review: ReviewSettings = ReviewSettings()

    def site(self, name: str) -> SiteSettings:
        for site in self.sites:
            if site.name == name:
                return site
        raise KeyError(name)


class Secrets:
    """Resolved secrets per site; held apart from Settings so nothing prints them."""

    def __init__(self) -> None:
        self.api_tokens: dict[str, Secret] = {}
        self.webhook_secrets: dict[str, Secret] = {}


# --- loading ----------------------------------------------------------------------------


def load_config(path: str | Path) -> tuple[Settings, Secrets]:
    """Load, validate and resolve a config file, or raise ConfigError naming the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    return parse_config(text, str(path), base_dir=path.parent)


def parse_config(
    text: str, filename: str, base_dir: Path | None = None
) -> tuple[Settings, Secrets]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{filename}:{mark.line + 1}" if mark else filename
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{filename}:1: the config must be a mapping of sections")
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, filename, lines)) from None
    _check_unique_sites(settings, filename, lines)
    if base_dir is not None:
        settings = _rebase_paths(settings, base_dir.resolve())
    secrets = _resolve_secrets(settings, filename, lines)
    return settings, secrets


def _check_unique_sites(
    settings: Settings, filename: str, lines: dict[tuple[Any, ...], int]
) -> None:
    seen: set[str] = set()
    for i, site in enumerate(settings.sites):
        if site.name in seen:
            loc = ("sites", i, "name")
            raise ConfigError(
                f"{filename}:{_line_for(loc, lines)}: {_dotted(loc, lines)}: "
                f"site name {site.name!r} is already used by an earlier site"
            )
        seen.add(site.name)


def _index_lines(node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[(*path, key)] = key_node.start_mark.line + 1
            _index_lines(value_node, (*path, key), out)
            out[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), out)


def _line_for(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int:
    path: tuple[Any, ...] = ()
    best = lines.get((), 1)
    for part in loc:
        candidate = (*path, part)
        if candidate in lines:
            path = candidate
            best = lines[candidate]
    return best


def _dotted(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> str:
    out = ""
    path: tuple[Any, ...] = ()
    for part in loc:
        candidate = (*path, part)
        if isinstance(part, int):
            out += f"[{part}]"
            path = candidate
        elif candidate in lines or not _is_tag(part):
            out += f".{part}" if out else str(part)
            path = candidate
    return out or "(top level)"


def _is_tag(part: str) -> bool:
    # pydantic puts a discriminated union's tag and validator names into error locations
    return part in {"generic", "wordpress", "discourse", "coral"} or "[" in part


def _format_errors(exc: ValidationError, filename: str, lines: dict[tuple[Any, ...], int]) -> str:
    messages = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        msg = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against config.example.yaml)"
        elif error["type"] == "missing":
            msg = "required key is missing"
        messages.append(f"{filename}:{_line_for(loc, lines)}: {_dotted(loc, lines)}: {msg}")
    return "\n".join(messages)


def _rebase(path: Path | None, base_dir: Path) -> Path | None:
    if path is None or path.is_absolute():
        return path
    return base_dir / path


def _rebase_platform(platform: Any, base_dir: Path) -> Any:
    key = f"{getattr(platform, 'credential', '')}_file"
    if not hasattr(platform, key):
        return platform
    return platform.model_copy(update={key: _rebase(getattr(platform, key), base_dir)})


def _rebase_paths(settings: Settings, base_dir: Path) -> Settings:
    """Relative paths in a config file are relative to that file, not the working dir."""
    model = settings.model
    sites = tuple(
        site.model_copy(
            update={
                "platform": _rebase_platform(site.platform, base_dir),
                "webhook": site.webhook.model_copy(
                    update={"secret_file": _rebase(site.webhook.secret_file, base_dir)}
                ),
            }
        )
        for site in settings.sites
    )
    return settings.model_copy(
        update={
            "sites": sites,
            "store": StoreSettings(path=_rebase(settings.store.path, base_dir)),
            "rules": settings.rules.model_copy(
                update={"paths": tuple(_rebase(p, base_dir) for p in settings.rules.paths)}
            ),
            "model": model.model_copy(
                update={
                    "checkpoint": _rebase(model.checkpoint, base_dir),
                    "hf_config": _rebase(model.hf_config, base_dir),
                }
            ),
        }
    )


def _resolve_secrets(
    settings: Settings, filename: str, lines: dict[tuple[Any, ...], int]
) -> Secrets:
    secrets = Secrets()
    for i, site in enumerate(settings.sites):
        platform, hook = site.platform, site.webhook
        ref = platform.token_ref()
        if ref is not None:
            key = platform.token_key()  # type: ignore[union-attr]
            what = platform.credential  # type: ignore[union-attr]
            secrets.api_tokens[site.name] = _resolve(
                ref, what, ("sites", i, "platform", key), filename, lines
            )
        if hook.enabled:
            ref = SecretRef(env=hook.secret_env, file=hook.secret_file)
            key = "secret_env" if hook.secret_env else "secret_file"
            secrets.webhook_secrets[site.name] = _resolve(
                ref, "secret", ("sites", i, "webhook", key), filename, lines
            )
    return secrets


def _resolve(
    ref: SecretRef,
    what: str,
    loc: tuple[Any, ...],
    filename: str,
    lines: dict[tuple[Any, ...], int],
) -> Secret:
    try:
        return ref.resolve(what)
    except ValueError as exc:
        raise ConfigError(
            f"{filename}:{_line_for(loc, lines)}: {_dotted(loc, lines)}: {exc}"
        ) from None
