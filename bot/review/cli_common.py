"""What the `modbot review`, `modbot replay` and `modbot moderators` handlers share."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.config import ConfigError, Secrets, Settings, load_config
from bot.store import Store

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def _settings(args: argparse.Namespace) -> tuple[Settings | None, Secrets | None]:
    if getattr(args, "config", None):
        return load_config(args.config)
    return None, None


def _open(args: argparse.Namespace, create: bool = False) -> Store:
    settings, _ = _settings(args)
    path = settings.store.path if settings else (args.db or Path("modbot.db"))
    if create:
        return Store(path)
    try:
        return Store.open_existing(path)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None


def _snippet(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
