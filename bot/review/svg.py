"""Small server-side SVG charts (no script, no inline style: the CSP allows neither).

Colours come from CSS classes in static/review.css; every chart has a <title> and an
aria-label, and the page shows the same figures in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    css: str  # class name, coloured by the stylesheet


def _svg(name: str, width: int, height: int, title: str, body: list[Markup]) -> Markup:
    return Markup(
        '<svg class="chart chart-{name}" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>'
        "{body}</svg>"
    ).format(name=name, w=width, h=height, t=title, body=Markup("").join(body))


def _text(x: float, y: float, text: str, css: str = "axis", anchor: str = "start") -> Markup:
    return Markup('<text class="{}" x="{}" y="{}" text-anchor="{}">{}</text>').format(
        css, round(x, 1), round(y, 1), anchor, text
    )


def _rect(x: float, y: float, w: float, h: float, css: str, tip: str = "") -> Markup:
    title = Markup("<title>{}</title>").format(tip) if tip else Markup("")
    return Markup('<rect class="{}" x="{}" y="{}" width="{}" height="{}">{}</rect>').format(
        css, round(x, 1), round(y, 1), round(max(w, 0.0), 1), round(max(h, 0.0), 1), title
    )


def _legend(series: Sequence[Series], x: float, y: float) -> list[Markup]:
    out = []
    for s in series:
        out.append(_rect(x, y - 9, 10, 10, s.css))
        out.append(_text(x + 14, y, s.name, "legend"))
        x += 24 + 7 * len(s.name)
    return out


def stacked_columns(
    name: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    values: Sequence[Sequence[int]],
    width: int = 720,
    height: int = 220,
) -> Markup:
    """Columns per category (e.g. per day), stacked by series; values[series][category]."""
    left, bottom, top = 40, 30, 24
    plot_h = height - bottom - top
    totals = [sum(v[i] for v in values) for i in range(len(categories))]
    peak = max(totals, default=0) or 1
    step = (width - left - 10) / max(len(categories), 1)
    body = _legend(series, left, 14)
    body.append(_text(left - 6, top + 4, str(peak), anchor="end"))
    body.append(_text(left - 6, top + plot_h, "0", anchor="end"))
    for i, category in enumerate(categories):
        y = float(top + plot_h)
        for s, row in zip(series, values, strict=True):
            h = plot_h * row[i] / peak
            y -= h
            body.append(
                _rect(left + i * step + 1, y, step - 2, h, s.css, f"{category} {s.name}: {row[i]}")
            )
        if i % max(1, len(categories) // 8) == 0:
            body.append(_text(left + i * step, height - 10, category[5:], "axis"))
    return _svg(name, width, height, title, body)


def hbars(
    name: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    values: Sequence[Sequence[float]],
    scale_max: float | None = None,
    width: int = 420,
    fmt: str = "{:g}",
) -> Markup:
    """Horizontal stacked bars, one row per label; values[series][label]."""
    left, row_h, top = 170, 18, 24
    height = top + row_h * max(len(labels), 1) + 8
    totals = [sum(v[i] for v in values) for i in range(len(labels))]
    peak = scale_max or max(totals, default=0) or 1
    plot_w = width - left - 50
    body = _legend(series, 4, 14)
    for i, label in enumerate(labels):
        y = top + i * row_h
        body.append(_text(left - 6, y + 12, label[:28], "label", "end"))
        x = float(left)
        for s, row in zip(series, values, strict=True):
            w = plot_w * row[i] / peak
            body.append(
                _rect(x, y + 2, w, row_h - 5, s.css, f"{label} {s.name}: {fmt.format(row[i])}")
            )
            x += w
        body.append(_text(x + 4, y + 12, fmt.format(totals[i]), "value"))
    return _svg(name, width, height, title, body)


def grouped_histogram(
    name: str,
    title: str,
    series: Sequence[Series],
    counts: Sequence[Sequence[int]],
    bins: int = 10,
    width: int = 340,
    height: int = 150,
) -> Markup:
    """Side-by-side bars per score bin from 0 to 1; counts[series][bin]."""
    left, bottom, top = 30, 22, 22
    plot_h = height - bottom - top
    peak = max((c for row in counts for c in row), default=0) or 1
    step = (width - left - 6) / bins
    bar_w = (step - 2) / max(len(series), 1)
    body = _legend(series, left, 13)
    body.append(_text(left - 4, top + 6, str(peak), anchor="end"))
    for b in range(bins):
        for k, (s, row) in enumerate(zip(series, counts, strict=True)):
            h = plot_h * row[b] / peak
            lo, hi = b / bins, (b + 1) / bins
            body.append(
                _rect(
                    left + b * step + 1 + k * bar_w,
                    top + plot_h - h,
                    bar_w,
                    h,
                    s.css,
                    f"{s.name} {lo:.1f}-{hi:.1f}: {row[b]}",
                )
            )
        if b % 2 == 0:
            body.append(_text(left + b * step, height - 6, f"{b / bins:.1f}", "axis"))
    body.append(_text(width - 6, height - 6, "1.0", "axis", "end"))
    return _svg(name, width, height, title, body)


def empty(text: str) -> Markup:
    return Markup('<p class="empty">{}</p>').format(escape(text))
