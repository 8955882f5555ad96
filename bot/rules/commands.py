"""`modbot rules test | lint | explain | schema`: prove rules before they go live.

Exit codes: 0 fine (lint: warnings only), 1 a failing example or a lint error, 2 rule files
that do not load (test, explain).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("rules", help="test, lint and explain rule files")
    sub = parser.add_subparsers(dest="rules_command", required=True, metavar="ACTION")

    test = sub.add_parser("test", help="run every rule's examples; exit 1 on any failure")
    test.add_argument(
        "paths", nargs="*", type=Path, help="rule files or folders (default: bundled)"
    )
    test.add_argument("-q", "--quiet", action="store_true", help="print failures only")
    test.set_defaults(handler=run_test)

    lint = sub.add_parser("lint", help="check rule files; exit 1 on errors, 0 with warnings")
    lint.add_argument(
        "paths", nargs="*", type=Path, help="rule files or folders (default: bundled)"
    )
    lint.set_defaults(handler=run_lint)

    explain = sub.add_parser("explain", help="show every hit of a text and how it was found")
    explain.add_argument("text", help="the comment's text ('-' reads standard input)")
    explain.add_argument("--rules", type=Path, action="append", help="rule file or folder")
    explain.add_argument("--role", default="", help="the author's role, for `when` conditions")
    explain.add_argument("--section", default="")
    explain.add_argument("--site", default="explain")
    explain.add_argument("--platform", default="", help="the site's platform type")
    explain.add_argument("--account-age-days", type=float, help="the author's account age")
    explain.add_argument("--json", action="store_true", help="machine-readable output")
    explain.set_defaults(handler=run_explain)

    schema = sub.add_parser("schema", help="print the rule files' JSON Schema")
    schema.add_argument("-o", "--output", type=Path, help="write it to this file")
    schema.set_defaults(handler=run_schema)


def _paths(paths: list[Path] | None) -> list[Path]:
    from bot.cli import bundled_rules

    return list(paths) if paths else [bundled_rules()]


def run_test(args: argparse.Namespace) -> int:
    from bot.rules.examples import run_examples
    from bot.rules.loader import load_rules

    rules = load_rules(_paths(args.paths), include_disabled=True)
    report = run_examples(rules)
    for failure in report.failures:
        print(f"FAIL {failure.describe()}")
    passed = report.examples - len(report.failures)
    summary = (
        f"{report.rules} rules, {report.examples} examples: {passed} passed, "
        f"{len(report.failures)} failed"
    )
    if report.failures or not args.quiet:
        print(summary)
    return 1 if report.failures else 0


def run_lint(args: argparse.Namespace) -> int:
    from bot.rules.lint import lint

    issues = lint(_paths(args.paths))
    for issue in issues:
        print(issue)
    errors = sum(1 for i in issues if i.level == "error")
    print(f"{errors} errors, {len(issues) - errors} warnings")
    return 1 if errors else 0


def run_explain(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from bot.models import Author, Comment
    from bot.rules.explain import explain, render
    from bot.rules.loader import load_rules

    text = sys.stdin.read() if args.text == "-" else args.text
    created = ""
    now = datetime.now(UTC)
    if args.account_age_days is not None:
        created = (now - timedelta(days=args.account_age_days)).isoformat()
    author = Author(id="explain", role=args.role, account_created_at=created)
    comment = Comment(
        site=args.site,
        id="explain",
        text=text,
        author=author,
        created_at=now.isoformat(),
        section=args.section,
    )
    report = explain(load_rules(_paths(args.rules)), comment, args.platform)
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else render(report))
    return 0


def run_schema(args: argparse.Namespace) -> int:
    from bot.rules.schema import schema_text

    text = schema_text()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
