"""Read a comment's markup the way its readers see it, keeping a map back to what was typed.

Platforms render what authors type: WordPress and Discourse show "id&#105;ot", "id<b></b>iot"
and "id<!-- -->iot" as "idiot". Read literally, each hides a word from the rules, so before
folding the text is read as rendered:

- character references (`&#105;`, `&#x69;`, `&eacute;`, `&shy;`) become their characters;
- HTML comments and inline tags (`<b>`, `</em>`, `<span class="x">`) are removed;
- block tags (`<p>`, `<br>`, `<li>`, `<blockquote>`...) read as a line break, so the words on
  either side stay apart.

Only well-formed markup of HTML's own elements counts: "<3", "a < b", "<user>", "AT&T" and
"R&D" are text. References are decoded once ("&amp;#105;" shows as "&#105;"). Quotes
(`<blockquote>`) are found on the original text by `bot.rules.quotes`, so removing tags here
loses none.
"""

from __future__ import annotations

import html
import re

from bot.rules import spans

# A character reference, an HTML comment's opening, or a tag whose attributes all have values
# ("<b and c>" in "if a<b and c>d" is not a tag).
_MARKUP = re.compile(
    r"&(?:#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{1,31});?"
    r"|<!--"
    r"|</?([A-Za-z][A-Za-z0-9]{0,15})"
    r"(?:\s+[A-Za-z_:][-A-Za-z0-9_:.]{0,40}\s*=\s*"
    r"""(?:"[^"<>]{0,2000}"|'[^'<>]{0,2000}'|[^\s"'<>=`]{1,2000}))*\s*/?>"""
)
# Elements that sit inside a line of text: removed, so "id<b></b>iot" reads "idiot".
_INLINE = frozenset([
    "a", "abbr", "acronym", "b", "bdi", "bdo", "big", "blink", "cite", "code", "data", "del",
    "dfn", "em", "font", "i", "ins", "kbd", "mark", "marquee", "nobr", "q", "rp", "rt", "ruby",
    "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var",
    "wbr",
])  # fmt: skip
# Every other HTML element breaks the line: read as a line break. Names that are not HTML
# ("<user>", "<number>", placeholders some sites and data sets use) are text.
_BLOCK = frozenset([
    "address", "area", "article", "aside", "audio", "base", "blockquote", "body", "br",
    "button", "canvas", "caption", "center", "col", "colgroup", "datalist", "dd", "details",
    "dialog", "dir", "div", "dl", "dt", "embed", "fieldset", "figcaption", "figure", "footer",
    "form", "frame", "frameset", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header",
    "hgroup", "hr", "html", "iframe", "img", "input", "label", "legend", "li", "link", "main",
    "map", "menu", "meta", "meter", "nav", "noscript", "object", "ol", "optgroup", "option",
    "output", "p", "param", "picture", "pre", "progress", "script", "section", "select",
    "source", "style", "summary", "table", "tbody", "td", "template", "textarea", "tfoot",
    "th", "thead", "title", "tr", "track", "ul", "video",
])  # fmt: skip
_COMMENT_CLOSE = "-->"


def unmarkup(text: str) -> tuple[str, spans.SpanMap]:
    """The text as rendered, and the map of its characters back to `text`."""
    if "&" not in text and "<" not in text:
        return text, spans.IDENTITY
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    done = 0  # text[:done] is in pieces
    at = 0
    unclosed = len(text) + 1  # from here on no comment is closed
    while (match := _MARKUP.search(text, at)) is not None:
        start, end = match.span()
        written = match.group()
        if written == "<!--":
            close = text.find(_COMMENT_CLOSE, end) if start < unclosed else -1
            if close < 0:
                unclosed = min(unclosed, start)
                at = end
                continue
            end = close + len(_COMMENT_CLOSE)
            shown = ""
        elif written[0] == "&":
            shown = html.unescape(written)
            if shown == written:  # "&T" in "AT&T": not a reference
                at = end
                continue
        else:
            name = match.group(1).lower()
            if name in _INLINE:
                shown = ""
            elif name in _BLOCK:
                shown = "\n"
            else:  # "<user>": not HTML
                at = end
                continue
        _keep(text, done, start, pieces, starts, ends)
        pieces.append(shown)
        starts.extend([start] * len(shown))
        ends.extend([end] * len(shown))
        done = at = end
    if done == 0:
        return text, spans.IDENTITY
    _keep(text, done, len(text), pieces, starts, ends)
    return "".join(pieces), spans.ArrayMap(starts, ends)


def _keep(
    text: str, start: int, end: int, pieces: list[str], starts: list[int], ends: list[int]
) -> None:
    """text[start:end] as it is, each character mapping to itself."""
    pieces.append(text[start:end])
    starts.extend(range(start, end))
    ends.extend(range(start + 1, end + 1))
