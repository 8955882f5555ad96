"""What the demo forum stores and records: comments, and the calls and deliveries it saw.

`_transition` is the state model (see bot.demo.forum): flag/hide remember the state before
modbot's first action in `previous_state`, and `restore` goes back to it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class ForumComment:
    """One comment as the forum stores it; `seq` grows on every create and edit."""

    id: int
    seq: int
    body: str
    author_id: str
    author_name: str
    author_role: str
    thread_id: str
    parent_id: int | None
    section: str
    created_at: str
    state: str = "visible"
    previous_state: str | None = None  # state before modbot first acted; None: untouched
    mod_reason: str = ""


@dataclass(frozen=True, slots=True)
class ModerationCall:
    """One POST .../moderation the forum received, whatever it answered."""

    comment_id: str  # as written in the URL path
    action: str
    key: str
    reason: str
    version: str
    reasons: tuple[tuple[str, str, str], ...]  # (kind, name, detail)
    status: int
    at: float
    error: str = ""  # why a 4xx, or what failure was injected
    injected: bool = False
    notice: str = ""  # the message for the author, when the deciding rule has one
    replayed: bool = False  # answered from the Idempotency-Key store


@dataclass(frozen=True, slots=True)
class AppliedAction:
    """An action that changed a comment's state: a first-time key only."""

    comment_id: str
    action: str
    key: str
    reason: str
    version: str
    from_state: str
    to_state: str
    at: float


@dataclass(frozen=True, slots=True)
class PollCall:
    after: str | None
    limit: str | None
    status: int
    returned: tuple[str, ...]  # comment ids served
    cursor: str
    at: float
    injected: bool = False


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook POST the forum made; `status` is None when the receiver was unreachable."""

    event_id: str
    event: str
    comment_id: str
    body: bytes
    status: int | None
    response: str
    at: float


def _by_seq(comment: ForumComment) -> int:
    return comment.seq


def _transition(comment: ForumComment, action: str, reason: str) -> ForumComment:
    if action == "restore":
        if comment.previous_state is None:
            return comment
        return replace(comment, state=comment.previous_state, previous_state=None, mod_reason="")
    before = comment.state if comment.previous_state is None else comment.previous_state
    state = "flagged" if action == "flag" else "hidden"
    if state == comment.state:
        return comment
    return replace(comment, state=state, previous_state=before, mod_reason=reason)
