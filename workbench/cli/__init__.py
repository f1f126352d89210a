"""The `workbench` command line: global options, subcommands and exit codes.

Each subcommand lives in a module of this package that exposes `register(subparsers)`; the
handler it sets receives the parsed arguments and returns an exit code (0 when it returns None).
Exit codes: 0 done; 1 failure; 2 invalid input, nothing changed; 3 refused by a rule.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .. import db
from ..errors import InvalidInput, WorkbenchError
from ..i18n import LANGUAGES, _, set_language
from . import admin, argparse_texts, imports, monthly, runs, selection, ui

COMMAND_MODULES = (admin, imports, selection, runs, monthly, ui)

log = logging.getLogger("workbench")


class _Formatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        return super().add_usage(usage, actions, groups, prefix=_("usage: ") if prefix is None else prefix)


class Parser(argparse.ArgumentParser):
    """An argument parser whose own texts (usage, section titles, help option) are translated.

    Subparsers inherit the class, so every subcommand's help speaks the user's language.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = _("positional arguments")
        self._optionals.title = _("options")
        self.add_argument("-h", "--help", action="help", help=_("show this help and exit"))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="workbench",
        description=_("Find small open balances, decide them, and post the result."),
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help=_("database URL (default: WORKBENCH_DB_URL, else data/workbench.sqlite)"),
    )
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        help=_("language of messages and reports (default: WORKBENCH_LANG, else fr)"),
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help=_("log details, with tracebacks on failure")
    )
    subparsers = parser.add_subparsers(dest="command", metavar=_("COMMAND"), required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def _language_from_argv(argv: list[str]) -> str | None:
    # The help texts are built before parsing, so the language option is read first by hand.
    for index, arg in enumerate(argv):
        if arg == "--lang" and index + 1 < len(argv):
            return argv[index + 1] if argv[index + 1] in LANGUAGES else None
        if arg.startswith("--lang="):
            value = arg.split("=", 1)[1]
            return value if value in LANGUAGES else None
    return None


# Commands that create the schema themselves; every other one needs an initialised database.
SCHEMA_FREE_COMMANDS = {"init", "demo"}


def _configure_logging(verbose: bool) -> None:
    # Runs log their start, counts, totals and end at INFO. The terminal shows them with
    # --verbose, a log file (WORKBENCH_LOG_FILE) always, so that French output stays readable.
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(formatter)
    root.addHandler(console)
    log_file = os.environ.get("WORKBENCH_LOG_FILE", "").strip()
    if log_file:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(logging.INFO)
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    argparse_texts.install()
    set_language(_language_from_argv(argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    set_language(args.lang)
    _configure_logging(args.verbose)

    try:
        if args.command not in SCHEMA_FREE_COMMANDS:
            db.require_schema(args.db)
        code = args.handler(args)
    except InvalidInput as error:
        print_problems(error)
        return error.exit_code
    except WorkbenchError as error:
        print(_("Error: {message}").format(message=error), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(_("Interrupted; nothing more was changed."), file=sys.stderr)
        return 1
    except Exception as error:  # A last guard: users see a plain message, the log has the trace.
        log.error("failed: %s", error, exc_info=args.verbose)
        print(
            _("Failed: {message}. Run again with --verbose for details.").format(message=error),
            file=sys.stderr,
        )
        return 1
    return 0 if code is None else int(code)


def print_problems(error: InvalidInput, limit: int = 50) -> None:
    """Print an invalid-input error and its problems as a table on standard error."""
    print(_("Error: {message}").format(message=error), file=sys.stderr)
    problems = error.problems
    if not problems:
        return
    header = (_("file"), _("row"), _("column"), _("value"), _("reason"))
    print("\t".join(header), file=sys.stderr)
    for problem in problems[:limit]:
        cells = (
            problem.file,
            "" if problem.row is None else str(problem.row),
            problem.column or "",
            "" if problem.value is None else repr(problem.value)[1:-1][:60],
            problem.reason,
        )
        print("\t".join(cells), file=sys.stderr)
    if len(problems) > limit:
        print(
            _("... and {count} more problems.").format(count=len(problems) - limit),
            file=sys.stderr,
        )
