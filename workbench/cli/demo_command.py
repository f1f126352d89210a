"""`workbench demo`: write and import the extract files of a realistic demo utility."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from babel.numbers import format_decimal

from .. import db, demo
from ..amounts import NUMBER_LOCALES, format_amount
from ..config import current_user
from ..dates import DateError, format_date, parse_date
from ..i18n import _, current_language
from ..importing import ImportResult


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help=_("fill the database with a realistic demo utility")
    )
    parser.add_argument(
        "--subscriptions", type=_subscription_count, default=demo.DEFAULT_SUBSCRIPTIONS,
        metavar="N",
        help=_("number of subscriptions to generate (default: {default})").format(
            default=demo.DEFAULT_SUBSCRIPTIONS
        ),
    )
    parser.add_argument(
        "--seed", type=_seed, default=demo.DEFAULT_SEED, metavar="S",
        help=_("seed of the random draws: the same seed gives the same files (default: {default})"
               ).format(default=demo.DEFAULT_SEED),
    )
    parser.add_argument(
        "--as-of", type=_date, metavar="DATE",
        help=_("date of the open-items extract (default: the last day of the month before a "
               "reference day that the seed sets)"),
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR",
        help=_("folder for the two extract files (default: demo/ beside the SQLite database, "
               "else data/demo)"),
    )
    parser.set_defaults(handler=run_demo)


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise argparse.ArgumentTypeError(
            _("invalid value {value}: expected a whole number of at least {minimum}").format(
                value=repr(text), minimum=minimum
            )
        )
    return value


def _subscription_count(text: str) -> int:
    return _whole_number(text, 1)


def _seed(text: str) -> int:
    return _whole_number(text, 0)


def _date(text: str) -> dt.date:
    try:
        return parse_date(text)
    except DateError:
        raise argparse.ArgumentTypeError(
            _("invalid date {value}: expected e.g. 31.12.2026 or 2026-12-31").format(
                value=repr(text)
            )
        ) from None


def run_demo(args: argparse.Namespace) -> None:
    db.upgrade(args.db)
    engine = db.get_engine(args.db)
    folder = args.out or demo.default_folder(args.db)
    loaded = demo.load_demo(engine, folder, subscriptions=args.subscriptions, seed=args.seed,
                            as_of=args.as_of, actor=current_user())
    print_demo(loaded, current_language())


def print_demo(loaded: demo.DemoLoad, lang: str) -> None:
    """Print what the demo wrote and imported, with Swiss number formats."""
    files, summary = loaded.files, loaded.files.summary

    def count(value: int) -> str:
        return format_decimal(value, locale=NUMBER_LOCALES.get(lang, "de_CH"))

    print(_("Demo utility as of {as_of} (seed {seed}), files in {folder}").format(
        as_of=format_date(files.as_of), seed=files.seed, folder=files.subscriptions_path.parent))
    print(_("  {customers} customers, {subscriptions} subscriptions ({valid} valid, "
            "{ended} ended)").format(
        customers=count(summary.customers), subscriptions=count(summary.subscriptions),
        valid=count(summary.valid_subscriptions), ended=count(summary.ended_subscriptions)))
    print(_("  move-outs: {moved} customers kept or opened another subscription, {left} have "
            "no valid subscription").format(
        moved=count(summary.customers_moved), left=count(summary.customers_left)))
    print(_("  {invoices} invoices over two years, {paid} of them paid in full").format(
        invoices=count(summary.invoices), paid=count(summary.invoices_paid)))
    print(_("  {items} open items, {small} of them between 0.05 and 5.00").format(
        items=count(summary.open_items), small=count(summary.small_open_items)))
    for currency, totals in sorted(summary.totals.items()):
        print(_("  {currency}: {items} items, owed by customers {debit}, in their favour "
                "{credit}, net {net}").format(
            currency=currency, items=count(totals.items),
            debit=format_amount(totals.debit_cents, lang),
            credit=format_amount(totals.credit_cents, lang),
            net=format_amount(totals.debit_cents + totals.credit_cents, lang)))
    blocked = ", ".join(f"{block} {count(number)}" for block, number in summary.blocked.items())
    print(_("  blocked: {blocked}").format(blocked=blocked))
    for result in (loaded.subscriptions_import, loaded.open_items_import):
        if result.already_imported:
            print(_("{file}: already imported as batch {batch}, nothing changed.").format(
                file=_file_name(loaded, result), batch=result.batch_id))
        else:
            print(_("{file}: {rows} rows imported as batch {batch}, {rejected} rejected.").format(
                file=_file_name(loaded, result), rows=count(result.rows),
                batch=result.batch_id, rejected=count(result.rejected)))


def _file_name(loaded: demo.DemoLoad, result: ImportResult) -> str:
    files = loaded.files
    path = files.subscriptions_path if result.kind == "subscriptions" else files.open_items_path
    return path.name
