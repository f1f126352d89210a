"""`workbench import subscriptions FILE` and `workbench import open-items FILE --as-of DATE`."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from babel.numbers import get_group_symbol

from .. import db, importing
from ..amounts import NUMBER_LOCALES
from ..dates import DateError, format_date, parse_date
from ..i18n import _, current_language, ngettext


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `import subscriptions` and `import open-items`."""
    parser = subparsers.add_parser("import", help=_("import a subscriptions or open-items extract"))
    kinds = parser.add_subparsers(dest="import_kind", metavar=_("KIND"), required=True)

    subscriptions = kinds.add_parser(
        "subscriptions", help=_("import the billing system's subscriptions extract")
    )
    _add_common_options(subscriptions)
    subscriptions.set_defaults(handler=run_import_subscriptions)

    open_items = kinds.add_parser(
        "open-items", help=_("import the ERP's open items as a new snapshot")
    )
    _add_common_options(open_items)
    open_items.add_argument(
        "--as-of", required=True, type=_date_argument,
        help=_("date of the extract (31.12.2026 or 2026-12-31), not before the latest snapshot's"),
    )
    open_items.set_defaults(handler=run_import_open_items)


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar=_("FILE"), help=_("CSV or XLSX file"))
    parser.add_argument(
        "--profile", type=Path, metavar="P",
        help=_("column profile (TOML file) mapping the file's headers (default: the column "
               "names themselves)"),
    )
    parser.add_argument(
        "--skip-invalid", action="store_true",
        help=_("store the valid rows and write the rejected ones to FILE.rejected.csv"),
    )
    parser.add_argument(
        "--by", metavar=_("USER"),
        help=_("who imports (default: JUPYTERHUB_USER, else the system user)"),
    )


def run_import_subscriptions(args: argparse.Namespace) -> int:
    result = importing.import_subscriptions(
        db.get_engine(args.db), args.file, profile=args.profile,
        skip_invalid=args.skip_invalid, actor=args.by,
    )
    if not result.already_imported:
        print(ngettext(
            "Imported {count} subscription from {file} as batch {batch}.",
            "Imported {count} subscriptions from {file} as batch {batch}.",
            result.rows,
        ).format(count=_count(result.rows), file=args.file.name, batch=result.batch_id))
    return _print_common(result, args.file)


def run_import_open_items(args: argparse.Namespace) -> int:
    result = importing.import_open_items(
        db.get_engine(args.db), args.file, as_of=args.as_of, profile=args.profile,
        skip_invalid=args.skip_invalid, actor=args.by,
    )
    if not result.already_imported:
        print(ngettext(
            "Imported {count} open item from {file} as of {as_of}: batch {batch} is the "
            "latest snapshot.",
            "Imported {count} open items from {file} as of {as_of}: batch {batch} is the "
            "latest snapshot.",
            result.rows,
        ).format(count=_count(result.rows), file=args.file.name,
                 as_of=format_date(args.as_of), batch=result.batch_id))
        if result.rejected:
            print(_("Items in rejected rows are not in the snapshot, so they count as closed."))
    return _print_common(result, args.file)


def _print_common(result: importing.ImportResult, path: Path) -> int:
    if result.already_imported:
        print(_("{file} was already imported as batch {batch}, so nothing changed.").format(
            file=path.name, batch=result.batch_id))
        return 0
    if result.rejected:
        print(ngettext(
            "{count} row rejected, written to {path}.",
            "{count} rows rejected, written to {path}.",
            result.rejected,
        ).format(count=_count(result.rejected), path=result.rejected_file))
    return 0


def _count(number: int) -> str:
    """Return a count with the Swiss thousands separator of the user's language: 1'000'000."""
    group = get_group_symbol(NUMBER_LOCALES.get(current_language(), "de_CH"))
    return f"{number:,}".replace(",", group)


def _date_argument(text: str) -> dt.date:
    try:
        return parse_date(text)
    except DateError:
        raise argparse.ArgumentTypeError(
            _("invalid date {value!r}: use 31.12.2026 or 2026-12-31").format(value=text)
        ) from None
