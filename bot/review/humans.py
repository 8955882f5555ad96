"""The never-fight-a-human hook for the in-process demo forum (tests and the demo)."""

from __future__ import annotations

from typing import Any

from bot.platforms.humans import HumanState, HumanStateAware, human_override

__all__ = ["DemoForumHumanState", "HumanState", "HumanStateAware", "human_override"]


class DemoForumHumanState:
    """The hook for the in-process demo forum, which knows each comment's state.

    A comment whose state is not `visible` while `previous_state` is None was set by a
    person (the forum records the state before modbot's first action in `previous_state`).
    Wrap an adapter with it: `DemoForumHumanState(adapter, forum)`.
    """

    def __init__(self, platform: Any, forum: Any) -> None:
        self._platform = platform
        self._forum = forum

    def __getattr__(self, name: str) -> Any:
        return getattr(self._platform, name)

    async def human_state(self, comment_id: str) -> HumanState | None:
        try:
            comment = self._forum.comment(comment_id)
        except (KeyError, ValueError):
            return None
        if comment.state != "visible" and comment.previous_state is None:
            return HumanState(comment.state, moderator="forum moderator")
        return None
