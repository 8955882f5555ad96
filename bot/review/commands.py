"""`modbot review`, `modbot replay` and `modbot moderators`: argument parsing only here;
the work is imported when a command runs (this module is imported on every `modbot`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

STATE_CHOICES = ["pending", "confirmed", "restored", "dismissed", "all"]


class _Lazy:
    """`cli.NAME` is a handler that imports bot.review.cli only when the command runs."""

    def __getattr__(self, name: str) -> Any:
        def handler(args: argparse.Namespace) -> int:
            from bot.review import cli

            return int(getattr(cli, name)(args))

        handler.__name__ = name
        return handler


def register(subparsers: Any) -> None:
    _review(subparsers)
    _replay(subparsers)
    _moderators(subparsers)


def _store_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path, help="read the store (and sites) from it")
    parser.add_argument("--db", type=Path, help="the SQLite store (default: modbot.db)")


def _filter_args(parser: argparse.ArgumentParser, state: str) -> None:
    parser.add_argument("--state", choices=STATE_CHOICES, default=state)
    parser.add_argument("--site")
    parser.add_argument("--rule", help="only comments this rule matched")
    parser.add_argument("--label", help="only comments flagged for this label (model or rule)")
    parser.add_argument("--kind", choices=["hide", "flag", "shadow"])
    parser.add_argument("--min-score", type=float, help="0..1 (the label's score, or the top)")
    parser.add_argument("--max-score", type=float)
    parser.add_argument("--since", help="YYYY-MM-DD (UTC)")
    parser.add_argument("--until", help="YYYY-MM-DD (UTC, inclusive)")


def _review(subparsers: Any) -> None:
    cli = _Lazy()
    review = subparsers.add_parser("review", help="the moderators' review queue (list, verdicts)")
    sub = review.add_subparsers(dest="review_command", required=True, metavar="ACTION")

    lst = sub.add_parser("list", help="flagged and hidden comments, newest first")
    _store_args(lst)
    _filter_args(lst, "pending")
    lst.add_argument("--limit", type=int, default=25)
    lst.add_argument("--after", help="the cursor printed under the previous page")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    lst.set_defaults(handler=cli.list_queue)

    show = sub.add_parser("show", help="one decision: text with spans, scores, reasons")
    _store_args(show)
    show.add_argument("id", help="decision id, or SITE:COMMENT_ID for its latest decision")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cli.show)

    for action, text in (
        ("confirm", "modbot was right (optionally --escalate spam|trash|...)"),
        ("restore", "modbot was wrong: undo its action on the platform (needs -c)"),
        ("dismiss", "no verdict needed: take it off the queue"),
    ):
        verdict = sub.add_parser(action, help=text)
        _store_args(verdict)
        verdict.add_argument("ids", nargs="+", help="decision ids, or SITE:COMMENT_ID")
        verdict.add_argument("--by", help="your name for the audit trail (default: $USER)")
        verdict.add_argument("--note", default="")
        if action == "confirm":
            verdict.add_argument("--escalate", help="spam, trash, ... where the platform has it")
        verdict.set_defaults(handler=cli.verdict, verdict=action)

    export = sub.add_parser("export", help="decisions with their verdicts, as JSONL or CSV")
    _store_args(export)
    _filter_args(export, "all")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    export.add_argument("-o", "--output", type=Path, help="write here (default: stdout)")
    export.set_defaults(handler=cli.export)

    serve = sub.add_parser("serve", help="serve only the review page (no moderation)")
    serve.add_argument("-c", "--config", type=Path, required=True)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(handler=cli.serve)


def _replay(subparsers: Any) -> None:
    cli = _Lazy()
    replay = subparsers.add_parser(
        "replay", help="backtest candidate rules and thresholds against moderators' verdicts"
    )
    replay.add_argument(
        "--rules",
        type=Path,
        action="append",
        required=True,
        help="candidate rule file or folder (repeatable)",
    )
    replay.add_argument(
        "--config", type=Path, help="candidate config: thresholds, model; also the store"
    )
    replay.add_argument("--db", type=Path, help="the store to replay (default: the config's)")
    replay.add_argument(
        "--model",
        choices=["auto", "recorded", "off", "rerun"],
        default="auto",
        help="auto: rerun the config's model if it enables one, else rules only;"
        " without --config, recorded scores",
    )
    replay.add_argument("--since", help="YYYY-MM-DD (UTC)")
    replay.add_argument("--limit", type=int, help="replay at most this many (oldest first)")
    replay.add_argument("--show", type=int, default=20, help="changes listed per kind")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(handler=cli.replay)


def _moderators(subparsers: Any) -> None:
    cli = _Lazy()
    mods = subparsers.add_parser("moderators", help="moderator accounts for the review page")
    sub = mods.add_subparsers(dest="moderators_command", required=True, metavar="ACTION")
    for name, text in (
        ("add", "create an account (asks for the password)"),
        ("passwd", "set a new password (ends that moderator's sessions)"),
        ("disable", "lock an account (ends its sessions)"),
        ("enable", "unlock an account"),
        ("list", "list accounts"),
    ):
        p = sub.add_parser(name, help=text)
        _store_args(p)
        if name != "list":
            p.add_argument("name")
        if name in ("add", "passwd"):
            p.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the password from the first line of standard input",
            )
        if name == "add":
            p.add_argument("--role", choices=["moderator", "admin"], default="moderator")
        p.set_defaults(handler=cli.moderators, moderators_command=name)
