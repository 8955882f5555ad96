"""`modbot eval`: precision, recall and F1 of the rules, the model and the policy on a labelled
CSV, broken down by rule, by model label and by grouping columns, with a threshold sweep.

The work lives in `bot.evaluation`; this module is the command: arguments, loading the
scorers, the progress bar and the output. Imports stay light: torch only loads when a model
scorer runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.evaluation.data import SPLITS, DataError, DataSpec
from bot.evaluation.metrics import SCORERS
from bot.evaluation.presets import PRESETS, describe, find_data_dir, preset_files

if TYPE_CHECKING:
    from rich.progress import Progress

    from bot.config import Settings, SiteSettings
    from bot.evaluation.data import ReadStats
    from bot.evaluation.runner import TextScorer

EXIT_OK, EXIT_USAGE, EXIT_MODEL = 0, 2, 3
EVAL_BATCH_SIZE = 64  # model batch for bulk scoring unless --batch-size says otherwise


class UsageError(Exception):
    """The command line asks for something that cannot be done; exit 2 with the message."""


def register(subparsers: Any) -> None:
    from bot.cli import add_model_args

    parser = subparsers.add_parser(
        "eval",
        help="precision/recall of rules, model and policy on a labelled CSV",
        description=__doc__.split("\n\n")[0],
        epilog="presets (--preset NAME, data from ../shared/data or --data-dir):\n" + describe(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="*", type=Path, metavar="FILE.csv", help="labelled CSV(s)")
    data = parser.add_argument_group("data")
    data.add_argument(
        "--preset", choices=sorted(PRESETS), metavar="NAME", help="a labelled set (listed below)"
    )
    data.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="where presets' files are (../shared/data)"
    )
    data.add_argument("--text-column", metavar="COL", help="the column holding the comment text")
    data.add_argument("--label-column", metavar="COL", help="the column holding the gold label")
    data.add_argument("--positive", action="append", metavar="VALUE", help="a positive label")
    data.add_argument(
        "--negative",
        action="append",
        metavar="VALUE",
        help="a negative label; given, rows with other labels are skipped and counted",
    )
    data.add_argument(
        "--group-column", action="append", metavar="COL", help="break figures down by COL"
    )
    data.add_argument("--split", choices=SPLITS, default="all", help="hash split (default all)")
    data.add_argument("--limit", type=int, metavar="N", help="read at most N rows of the split")
    data.add_argument("--encoding", default="utf-8-sig", help="file encoding (default utf-8)")
    scoring = parser.add_argument_group("scoring")
    scoring.add_argument(
        "--scorer",
        action="append",
        choices=SCORERS,
        help="rules, model or policy; repeatable (default: all three)",
    )
    scoring.add_argument("-c", "--config", type=Path, help="thresholds, rules and model from here")
    scoring.add_argument(
        "--site",
        metavar="NAME",
        help="judge as this configured site would: its own policy and its platform type",
    )
    scoring.add_argument(
        "--rules", type=Path, action="append", metavar="PATH", help="rule file or folder"
    )
    scoring.add_argument(
        "--batch-size", type=int, metavar="N", help=f"model batch (default {EVAL_BATCH_SIZE})"
    )
    scoring.add_argument("--threads", type=int, metavar="N", help="torch threads (config's)")
    add_model_args(parser)
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print one JSON document instead")
    output.add_argument("--predictions", type=Path, metavar="OUT", help="write rows to .csv/.jsonl")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bot import logs
    from bot.cli import settings_for

    logs.configure("console", "warning")
    try:
        spec = data_spec(args)
        settings = settings_for(args)
        scorers = choose_scorers(args.scorer, settings.model.enabled)
        if args.predictions is not None:
            _check_predictions_path(args.predictions)
        site = find_site(settings, args.site)
        return _evaluate(args, spec, settings, scorers, site)
    except (UsageError, DataError) as exc:
        print(f"modbot eval: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _check_predictions_path(path: Path) -> None:
    from bot.evaluation.predictions import check_path

    try:
        check_path(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not path.parent.is_dir():
        raise UsageError(f"--predictions {path}: no folder {path.parent}")


def data_spec(args: argparse.Namespace) -> DataSpec:
    """The data to read, from --preset and/or the explicit options (these win)."""
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    files: tuple[Path, ...] = tuple(args.files)
    text, label = args.text_column, args.label_column
    positive, negative = tuple(args.positive or ()), tuple(args.negative or ())
    groups = tuple(args.group_column or ())
    if args.preset:
        if files:
            raise UsageError("give either --preset or FILE.csv, not both")
        preset = PRESETS[args.preset]
        files = preset_files(args.preset, find_data_dir(args.data_dir))
        text, label = text or preset.text_column, label or preset.label_column
        positive, negative = positive or preset.positive, negative or preset.negative
        groups = groups or preset.group_columns
    missing = [
        option
        for option, value in (
            ("FILE.csv (or --preset NAME)", files),
            ("--text-column", text),
            ("--label-column", label),
            ("--positive", positive),
        )
        if not value
    ]
    if missing:
        raise UsageError(f"missing {', '.join(missing)}")
    overlap = {v.strip().casefold() for v in positive} & {v.strip().casefold() for v in negative}
    if overlap:
        raise UsageError(f"label values both positive and negative: {', '.join(sorted(overlap))}")
    return DataSpec(
        files=files,
        text_column=text,
        label_column=label,
        positive=positive,
        negative=negative,
        group_columns=tuple(dict.fromkeys(groups)),
        split=args.split,
        limit=args.limit,
        encoding=args.encoding,
    )


def choose_scorers(requested: list[str] | None, model_enabled: bool) -> tuple[str, ...]:
    """The scorers to run, in report order. Without --scorer: all three, or rules and policy
    when the model is off (--rules-only or `model.enabled: false`)."""
    if not requested:
        return SCORERS if model_enabled else ("rules", "policy")
    chosen = tuple(s for s in SCORERS if s in requested)
    if "model" in chosen and not model_enabled:
        raise UsageError(
            "--scorer model needs the model, which is off (--rules-only or model.enabled: false)"
        )
    return chosen


def find_site(settings: Settings, name: str | None) -> SiteSettings | None:
    """The configured site `--site` names; UsageError listing the sites when there is none."""
    if name is None:
        return None
    try:
        return settings.site(name)
    except KeyError:
        known = ", ".join(s.name for s in settings.sites) or "none (give -c CONFIG)"
        raise UsageError(f"--site {name}: no such site in the config; its sites: {known}") from None


def _evaluate(
    args: argparse.Namespace,
    spec: DataSpec,
    settings: Settings,
    scorers: tuple[str, ...],
    site: SiteSettings | None = None,
) -> int:
    from rich.console import Console

    from bot.app import build_policy
    from bot.evaluation.data import check_files
    from bot.evaluation.runner import CHUNK_ROWS, Evaluator
    from bot.scoring.rules import load_rules

    headers = check_files(spec)  # a wrong column fails before the model takes seconds to load
    rules = load_rules(settings.rules.paths) if {"rules", "policy"} & set(scorers) else None
    model = None
    if settings.model.enabled and {"model", "policy"} & set(scorers):
        model = _load_model(settings, args.batch_size, args.threads)
        if model is None:
            return EXIT_MODEL
    batch = model_batch(settings, args.batch_size)
    err = Console(stderr=True)
    with ExitStack() as stack:
        writer = None
        if args.predictions is not None:
            writer = stack.enter_context(_writer(args.predictions, headers, scorers, model))
        policy_settings = site.policy if site is not None and site.policy else settings.policy
        evaluator = Evaluator(
            spec,
            scorers,
            build_policy(policy_settings),
            rules,
            model,
            writer=writer,
            chunk_rows=max(CHUNK_ROWS, batch * 8),
            platform=site.platform.type if site is not None else "",
        )
        progress = stack.enter_context(_progress(err))
        task = progress.add_task("scoring", total=None, rows=0)
        result = evaluator.run(lambda stats: _advance(progress, task, stats, spec.limit))
    result["data"]["preset"] = args.preset
    result["data"]["site"] = site.name if site is not None else None
    result["scorer_names"] = list(scorers)
    result["model_labels"] = list(model.labels) if model else []
    if writer is not None:
        err.print(f"wrote {writer.rows} rows to {args.predictions}", highlight=False)
    _output(args, result)
    return EXIT_OK


def model_batch(settings: Settings, requested: int | None) -> int:
    if requested is not None and requested < 1:
        raise UsageError("--batch-size must be at least 1")
    return requested or max(settings.model.batch_size, EVAL_BATCH_SIZE)


def _load_model(
    settings: Settings, batch_size: int | None, threads: int | None
) -> TextScorer | None:
    """Load the model now (so a failure shows before any scoring); None after printing why."""
    from bot.scoring.model import DetoxifyScorer, ModelLoadError

    update: dict[str, object] = {"batch_size": model_batch(settings, batch_size)}
    if threads is not None:
        if threads < 1:
            raise UsageError("--threads must be at least 1")
        update["threads"] = threads
    model_settings = settings.model.model_copy(update=update)
    scorer = DetoxifyScorer(model_settings)
    print(f"loading model {scorer.version} ...", file=sys.stderr)
    try:
        scorer.score_texts([])  # loads
    except ModelLoadError as exc:
        print(
            f"modbot: model error\n{exc}\n  - or evaluate the rules alone: --scorer rules",
            file=sys.stderr,
        )
        return None
    return scorer


def _writer(
    path: Path, headers: dict[str, tuple[str, ...]], scorers: tuple[str, ...], model: Any
) -> Any:
    from bot.evaluation.predictions import PredictionWriter

    columns = list(dict.fromkeys(c for header in headers.values() for c in header))
    labels = model.labels if model is not None else ()
    return PredictionWriter(path, columns, scorers, labels, several_files=len(headers) > 1)


def _progress(console: Any) -> Progress:
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _advance(progress: Progress, task: Any, stats: ReadStats, limit: int | None) -> None:
    if limit is not None:
        progress.update(task, total=limit, completed=stats.rows_read, rows=stats.rows_read)
    else:
        done, total = stats.position(), stats.total_bytes
        progress.update(task, total=total, completed=done, rows=stats.rows_read)


def _output(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    from rich.console import Console

    from bot.evaluation.report import print_report

    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    print_report(console, result, args.preset)
