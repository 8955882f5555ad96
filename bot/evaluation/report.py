"""Human tables for `modbot eval`, drawn from the same document `--json` prints."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from bot.evaluation.metrics import MAX_LABEL, SHOWN

GROUP_ROWS = 25  # values shown per group column; --json has them all


def num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def print_report(console: Console, result: dict[str, Any], preset: str | None = None) -> None:
    _summary(console, result, preset)
    if result["scorers"]:
        console.print(_scorers(result))
    if result["rules"]:
        console.print(_rules(result))
    if result["labels"]:
        console.print(_labels(result))
    if result["sweep"]:
        console.print(_sweep(result))
    for column, values in result["groups"].items():
        console.print(_group(column, values, list(result["scorers"])))


def _summary(console: Console, result: dict[str, Any], preset: str | None) -> None:
    data, rows, versions = result["data"], result["rows"], result["versions"]
    name = f"preset {preset}: " if preset else ""
    console.print(f"[bold]{name}{', '.join(data['files'])}[/bold]", highlight=False)
    positive = " | ".join(data["positive"])
    negative = " | ".join(data["negative"]) or "anything else"
    console.print(
        f"  {data['label_column']}: positive = {positive}; negative = {negative}; "
        f"text: {data['text_column']}; split: {data['split']}"
        + (f"; as site {data['site']}" if data.get("site") else ""),
        highlight=False,
    )
    line = f"  rows: {rows['evaluated']} evaluated ({rows['positive']} positive, "
    line += f"{rows['negative']} negative)"
    if rows["skipped_labels"]:
        skipped = ", ".join(f"{k or '(empty)'}: {v}" for k, v in rows["skipped_labels"].items())
        line += f"; skipped by label: {skipped}"
    if rows["outside_split"]:
        line += f"; outside the {data['split']} split: {rows['outside_split']}"
    console.print(line, highlight=False)
    timing = result["timing"]
    console.print(
        f"  rules {versions['rules'] or '-'}, model {versions['model'] or '-'}; "
        f"{timing['total_s']:.1f} s ({timing['rows_per_s'] or 0:.0f} rows/s; "
        f"model {timing['model_s']:.1f} s, rules {timing['rules_s']:.1f} s)",
        highlight=False,
    )


def _scorers(result: dict[str, Any]) -> Table:
    table = Table(title="Scorers (positive = any flag or hide)", title_justify="left")
    for name in ("scorer", "TP", "FP", "FN", "TN", "precision", "recall", "F1"):
        table.add_column(name, justify="left" if name == "scorer" else "right")
    table.add_column("flagged negatives", justify="right")
    table.add_column("hide pos/neg", justify="right")
    for name, s in result["scorers"].items():
        hides = f"{s['verdicts']['positive']['hide']}/{s['verdicts']['negative']['hide']}"
        table.add_row(
            name,
            *(str(s[k]) for k in ("tp", "fp", "fn", "tn")),
            *(num(s[k]) for k in ("precision", "recall", "f1")),
            pct(s["flag_rate_negative"]),
            hides,
        )
    return table


def _rules(result: dict[str, Any]) -> Table:
    table = Table(title="Rules (rows matched; shadow and score-only rules included)")
    table.title_justify = "left"
    for name in ("rule", "action", "rows", "TP", "FP", "precision", "of positives", "only it"):
        table.add_column(name, justify="left" if name in {"rule", "action"} else "right")
    for r in result["rules"]:
        action = r["action"] + (" (shadow)" if r["shadow"] else "")
        table.add_row(
            r["id"],
            action,
            str(r["rows"]),
            str(r["tp"]),
            str(r["fp"]),
            num(r["precision"]),
            pct(r["share_of_positives"]),
            str(r["unique_tp"]),
        )
    return table


def _labels(result: dict[str, Any]) -> Table:
    table = Table(title="Model labels at their flag threshold", title_justify="left")
    for name in ("label", "flag at", "TP", "FP", "FN", "precision", "recall", "F1"):
        table.add_column(name, justify="left" if name == "label" else "right")
    table.add_column("flagged negatives", justify="right")
    for label, s in result["labels"].items():
        table.add_row(
            label,
            num(s["threshold"], 2),
            *(str(s[k]) for k in ("tp", "fp", "fn")),
            *(num(s[k]) for k in ("precision", "recall", "f1")),
            pct(s["flag_rate_negative"]),
        )
    return table


def _sweep(result: dict[str, Any]) -> Table:
    floor = num(result["rows"]["flag_everything_f1"])
    title = f"Model threshold sweep (score >= threshold; flagging every row scores F1 {floor})"
    table = Table(title=title, title_justify="left")
    table.add_column("label")
    table.add_column("")
    for threshold in SHOWN:
        table.add_column(f"{threshold:.1f}", justify="right")
    table.add_column("best F1 (at)", justify="right")
    labels = sorted(result["sweep"], key=lambda k: (k == MAX_LABEL, k))
    for label in labels:
        sweep = result["sweep"][label]
        best = sweep["best"]
        for key, short in (("precision", "P"), ("recall", "R"), ("f1", "F1")):
            cells = [num(p[key], 2) for p in sweep["points"]]
            last = f"{num(best['f1'], 3)} ({best['threshold']:.2f})" if key == "f1" else ""
            name = label if key == "precision" else ""
            name = f"{name} (any label)" if name == MAX_LABEL else name
            table.add_row(name, short, *cells, last, end_section=key == "f1")
    return table


def _group(column: str, values: dict[str, Any], scorers: list[str]) -> Table:
    shown = list(values.items())[:GROUP_ROWS]
    more = len(values) - len(shown)
    title = f"By {column}" + (
        f" (top {GROUP_ROWS} of {len(values)}; --json has all)" if more else ""
    )
    table = Table(title=title, title_justify="left")
    for name in (column, "rows", "pos", "neg"):
        table.add_column(name, justify="left" if name == column else "right")
    for scorer in scorers:
        table.add_column(f"{scorer} recall", justify="right")
        table.add_column(f"{scorer} flagged neg", justify="right")
    for value, g in shown:
        cells = []
        for scorer in scorers:
            s = g["scorers"][scorer]
            cells += [pct(s["recall"]), pct(s["flag_rate_negative"])]
        table.add_row(value, str(g["rows"]), str(g["positive"]), str(g["negative"]), *cells)
    return table
