"""The `modbot` command.

Exit codes: 0 success, 1 failure at run time, 2 bad config or usage, 3 model not loadable.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from bot import __version__, logs
from bot.config import ConfigError, ModelSettings, Settings, load_config
from bot.rules import engine_build
from bot.scoring.rules import RuleLoadError

EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_MODEL = 3

# Feature modules that add subcommands. Each has `register(subparsers)`, which adds its
# parser(s) with `set_defaults(handler=fn)`; `fn(args) -> int` runs the command. Keep their
# top-level imports light: they are imported for every `modbot` invocation.
COMMAND_MODULES = (
    "bot.rules.commands",  # modbot rules test | lint | explain
    "bot.evaluate",  # modbot eval
    "bot.scan",  # modbot scan
    "bot.review.commands",  # modbot review | replay
)


def bundled_rules() -> Path:
    """The shipped rules/ folder: $MODBOT_RULES_DIR (the Docker image sets it), else the one
    beside the package (a source checkout or an editable install)."""
    override = os.environ.get("MODBOT_RULES_DIR")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "rules"


def add_model_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model (overrides the config)")
    group.add_argument("--rules-only", action="store_true", help="do not load the model")
    group.add_argument("--model", help="Detoxify model name (original, unbiased, ...)")
    group.add_argument("--checkpoint", type=Path, help="local Detoxify-format checkpoint")
    group.add_argument("--hf-config", type=Path, help="local folder with HF config + tokenizer")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modbot", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--version",
        action="version",
        version=f"modbot {__version__} (rule engine: {engine_build()})",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the moderation service")
    run.add_argument("-c", "--config", type=Path, required=True)

    check = sub.add_parser("check", help="score and explain one comment")
    check.add_argument("text", help="the comment's text ('-' reads standard input)")
    check.add_argument("-c", "--config", type=Path)
    check.add_argument("--rules", type=Path, action="append", help="rule file or folder")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    add_model_args(check)

    cfg = sub.add_parser("check-config", help="validate a config file")
    cfg.add_argument("config", type=Path)

    log = sub.add_parser("log", help="list and export the flagged-comments log")
    log.add_argument("-c", "--config", type=Path, help="read the store path from this config")
    log.add_argument("--db", type=Path, help="the SQLite store (default: modbot.db)")
    log.add_argument("--decision", action="append", choices=["none", "flag", "hide"])
    log.add_argument("--rule", help="only comments this rule matched")
    log.add_argument("--label", help="only comments this model label flagged or hid")
    log.add_argument("--site")
    log.add_argument("--since", help="YYYY-MM-DD or ISO datetime (UTC)")
    log.add_argument("--until", help="YYYY-MM-DD (inclusive) or ISO datetime (UTC)")
    log.add_argument("--limit", type=int, default=50, help="0 for all (default 50)")
    log.add_argument("--format", choices=["table", "jsonl", "csv"], default="table")
    log.add_argument("-o", "--output", type=Path, help="write to this file")

    restore = sub.add_parser("restore", help="undo modbot's action on a comment (moderator)")
    restore.add_argument("-c", "--config", type=Path, required=True)
    restore.add_argument("site")
    restore.add_argument("comment_id")
    restore.add_argument("--by", default="cli", help="the moderator's name, for the audit trail")
    restore.add_argument("--note", default="")

    models = sub.add_parser("models", help="manage model weights")
    models_sub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    pull = models_sub.add_parser("pull", help="download model weights into the local cache")
    pull.add_argument("--model", default="original")

    demo = sub.add_parser("demo", help="moderate a demo forum's heated thread, in-process")
    demo.add_argument("--db", type=Path, help="keep the log here (default: a temporary file)")
    demo.add_argument("--serve", action="store_true", help="keep the forum up after the run")
    add_model_args(demo)

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise  # the module exists but one of its imports is missing
            continue  # this feature is not part of this build
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"modbot: config error\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except RuleLoadError as exc:
        print(f"modbot: rule error\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from bot import commands

    if getattr(args, "handler", None) is not None:
        return int(args.handler(args))

    if args.command == "check-config":
        return commands.check_config(args.config)
    if args.command == "run":
        settings, secrets = load_config(args.config)
        logs.configure(settings.logging.format, settings.logging.level)
        return commands.run_service(settings, secrets)
    if args.command == "check":
        return commands.check(args)
    if args.command == "log":
        return commands.show_log(args)
    if args.command == "models":
        return commands.models_pull(args.model)
    if args.command == "restore":
        return commands.restore(args)
    if args.command == "demo":
        return commands.demo(args)
    raise AssertionError(args.command)


def model_settings(args: argparse.Namespace, base: ModelSettings) -> ModelSettings:
    """Apply --rules-only/--model/--checkpoint/--hf-config on top of the config's model."""
    update: dict[str, object] = {}
    if args.rules_only:
        update["enabled"] = False
    if args.model:
        update["name"] = args.model
    if args.checkpoint or args.hf_config:
        if not (args.checkpoint and args.hf_config):
            raise ConfigError("--checkpoint and --hf-config go together")
        update.update(checkpoint=args.checkpoint, hf_config=args.hf_config)
    return base.model_copy(update=update)


def settings_for(args: argparse.Namespace) -> Settings:
    if getattr(args, "config", None):
        settings, _ = load_config(args.config)
    else:
        settings = Settings(rules={"paths": (bundled_rules(),)})
    if getattr(args, "rules", None):
        settings = settings.model_copy(
            update={"rules": settings.rules.model_copy(update={"paths": tuple(args.rules)})}
        )
    return settings.model_copy(update={"model": model_settings(args, settings.model)})


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
