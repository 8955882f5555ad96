"""Reload rule files when they change on disk or on SIGHUP, keeping the last good rules.

    def swap(rules): pipeline.rules = rules
    reloader = RuleReloader(settings.rules.paths, on_reload=swap, current=pipeline.rules)
    task = asyncio.create_task(reloader.run(stop))

Files are polled for changes (mtime, size and the set of files under each folder) every
`interval_s`. A broken edit is logged as `rules_reload_failed` with the loader's message
(`FILE:LINE: rule ID: what is wrong`) and the service keeps matching with the rules it has.
Loading runs on a worker thread so the event loop never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import structlog

from bot.rules.engine import RuleSet
from bot.rules.loader import RuleLoadError, load_rules, rule_files

log = structlog.get_logger(__name__)

Stamp = tuple[tuple[str, int, int], ...]


_WHERE = re.compile(r"(?P<file>.+?):(?P<line>\d+): (?:rule (?P<rule>[^:]+): )?")


def where(error: Exception) -> dict[str, str | int]:
    """file, line and rule id of a RuleLoadError, as log fields."""
    match = _WHERE.match(str(error))
    if not match:
        return {}
    fields: dict[str, str | int] = {"file": match["file"], "line": int(match["line"])}
    if match["rule"]:
        fields["rule"] = match["rule"]
    return fields


def stamp(paths: Iterable[Path]) -> Stamp:
    """What the rule files look like on disk now: (name, mtime_ns, size) of each."""
    try:
        files = rule_files(paths)
    except RuleLoadError:
        return ()
    out = []
    for file in files:
        with contextlib.suppress(OSError):
            info = file.stat()
            out.append((str(file), info.st_mtime_ns, info.st_size))
    return tuple(out)


class RuleReloader:
    """Watches rule files; calls `on_reload(rules)` with each new good RuleSet."""

    def __init__(
        self,
        paths: Sequence[Path],
        on_reload: Callable[[RuleSet], None],
        interval_s: float = 1.0,
        current: RuleSet | None = None,
    ) -> None:
        self.paths = tuple(Path(p) for p in paths)
        self.on_reload = on_reload
        self.interval_s = interval_s
        self.rules = current  # the last good rule set
        self.last_error = ""
        self._stamp = stamp(self.paths)
        self._hup = asyncio.Event()

    def reload_now(self) -> bool:
        """Load the files now; True when the new rules are in force."""
        self._stamp = stamp(self.paths)
        try:
            rules = load_rules(self.paths)
        except RuleLoadError as exc:
            return self._failed(exc)
        return self._swap(rules)

    async def reload(self) -> bool:
        """`reload_now` on a worker thread."""
        self._stamp = stamp(self.paths)
        try:
            rules = await asyncio.to_thread(load_rules, self.paths)
        except RuleLoadError as exc:
            return self._failed(exc)
        return self._swap(rules)

    def _failed(self, exc: RuleLoadError) -> bool:
        self.last_error = str(exc)
        log.error("rules_reload_failed", error=self.last_error, kept=self._version(), **where(exc))
        return False

    def _swap(self, rules: RuleSet) -> bool:
        previous = self._version()
        self.rules = rules
        self.last_error = ""
        self.on_reload(rules)
        log.info("rules_reloaded", rules=len(rules.rules), version=rules.version, previous=previous)
        return True

    def _version(self) -> str:
        return self.rules.version if self.rules is not None else ""

    def changed(self) -> bool:
        return stamp(self.paths) != self._stamp

    async def run(self, stop: asyncio.Event) -> None:
        """Poll and listen for SIGHUP until `stop` is set."""
        loop = asyncio.get_running_loop()
        hup = _add_hup(loop, self._hup.set)
        try:
            while not stop.is_set():
                await self._wait(stop)
                if stop.is_set():
                    break
                try:
                    await self._poll()
                except Exception:  # a bug in one reload must not stop watching
                    log.exception("rules_reload_crashed")
        finally:
            if hup:
                loop.remove_signal_handler(signal.SIGHUP)

    async def _poll(self) -> None:
        if self._hup.is_set() or await asyncio.to_thread(self.changed):
            reason = "sighup" if self._hup.is_set() else "files_changed"
            self._hup.clear()
            log.info("rules_reload", reason=reason)
            await self.reload()

    async def _wait(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._hup.wait())]
        try:
            await asyncio.wait(waits, timeout=self.interval_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    def hangup(self) -> None:
        """What SIGHUP does: reload at the next turn of `run`."""
        self._hup.set()


def _add_hup(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> bool:
    """Install a SIGHUP handler where the platform and thread allow it."""
    if not hasattr(signal, "SIGHUP"):
        return False
    try:
        loop.add_signal_handler(signal.SIGHUP, callback)
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True
