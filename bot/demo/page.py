"""The demo forum's read-only HTML page: the thread, with modbot's actions shown."""

from __future__ import annotations

import html

from bot.demo.records import ForumComment

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="3">
<title>{title}</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; max-width: 52em; margin: 2em auto; }}
.c {{ border-left: 3px solid #ccc; padding: .3em .8em; margin: .5em 0; }}
.flagged {{ border-color: #e0a800; background: #fff8e1; }}
.hidden {{ border-color: #c62828; background: #fdecea; color: #777; }}
.meta {{ font-size: 85%; color: #555; }}
</style></head>
<body><h1>{title}</h1>
{rows}
</body></html>
"""


def render_page(title: str, threaded: list[tuple[int, ForumComment]]) -> str:
    """The read-only thread view: every value from a comment is escaped."""
    rows = "\n".join(_render_row(depth, c) for depth, c in threaded)
    return _PAGE.format(title=html.escape(title), rows=rows or "<p>No comments yet.</p>")


def _render_row(depth: int, c: ForumComment) -> str:
    body = html.escape(c.body).replace("\n", "<br>")
    if c.state == "hidden":
        body = f"<del>{body}</del>"
    note = f" &middot; {html.escape(c.state)}: {html.escape(c.mod_reason)}" if c.mod_reason else ""
    if c.state != "visible" and not c.mod_reason:
        note = f" &middot; {html.escape(c.state)}"
    return (
        f'<div class="c {html.escape(c.state)}" id="c{c.id}" style="margin-left:{depth * 1.5}em">'
        f'<div class="meta">#{c.id} {html.escape(c.author_name)} '
        f"({html.escape(c.author_role)}){note}</div>{body}</div>"
    )
