"""Never fight a human: an optional adapter hook that tells modbot a moderator already
decided on a comment directly on the platform.

The generic HTTP contract has no way to read a comment's moderation state, so the hook is
optional and the contract is unchanged. The proposed extension, for sites that want it:

    GET {base_url}/comments/{id}/moderation  ->  200
    {"state": "visible" | "flagged" | "hidden" | "removed",
     "by": "human" | "modbot" | null,        # who set the current state
     "moderator": "alice", "at": "2026-11-25T10:00:00Z"}

An adapter that can answer implements

    async def human_state(self, comment_id: str) -> HumanState | None

returning None when no human has acted. The actor calls `human_override(platform,
comment_id)` before flagging or hiding; a non-empty answer means "record the decision as
human_override with this detail and do not call the platform". Errors while asking are
logged and ignored (the hook is advice; an outage must not stop moderation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import structlog

from bot.platforms.base import PlatformError

log = structlog.get_logger(__name__)

STATES = frozenset({"visible", "flagged", "hidden", "removed"})


@dataclass(frozen=True, slots=True)
class HumanState:
    """What a human moderator made of a comment on the platform."""

    state: str  # visible (approved) | flagged | hidden | removed
    moderator: str = ""
    at: str = ""

    def describe(self) -> str:
        who = f" by {self.moderator}" if self.moderator else " by a moderator"
        when = f" at {self.at}" if self.at else ""
        verb = "approved" if self.state == "visible" else f"set {self.state}"
        return f"{verb}{who} on the platform{when}; modbot does not override it"


@runtime_checkable
class HumanStateAware(Protocol):
    async def human_state(self, comment_id: str) -> HumanState | None: ...


async def human_override(platform: Any, comment_id: str) -> str:
    """Why modbot must leave this comment alone ("" when nothing says so)."""
    probe = getattr(platform, "human_state", None)
    if probe is None:
        return ""
    try:
        state = await probe(comment_id)
    except PlatformError as exc:
        log.warning("human_state_unavailable", comment_id=comment_id, error=str(exc))
        return ""
    return state.describe() if state is not None else ""
