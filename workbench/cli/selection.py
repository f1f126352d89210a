"""`workbench extract`, `workbench reassign ...` and (from `policies`) `workbench policy ...`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from .. import candidates, db, selection
from ..config import current_user
from ..dates import format_date
from ..i18n import _
from . import extract_output, policies
from .policy_options import add_policy_options, parse_day, resolve_params

FORMATS = ("table", "csv", "json")


def register(subparsers: argparse._SubParsersAction) -> None:
    extract = subparsers.add_parser(
        "extract", help=_("show the small balances, their actions and the items left out"))
    extract.add_argument("--as-of", required=True, metavar=_("DATE"),
                         help=_("run date, such as 2026-11-30 or 30.11.2026"))
    add_policy_options(extract)
    extract.add_argument("--format", choices=FORMATS, default="table",
                         help=_("table for people (default), csv or json"))
    extract.add_argument("--limit", type=int, default=50, metavar=_("N"),
                         help=_("groups listed in the table (default 50; 0 lists all)"))
    extract.set_defaults(handler=run_extract)

    reassign = subparsers.add_parser(
        "reassign", help=_("valid subscriptions of a customer, and saved reassignment targets"))
    actions = reassign.add_subparsers(dest="reassign_command", metavar=_("ACTION"), required=True)
    listing = actions.add_parser("candidates", help=_("list a customer's valid subscriptions"))
    listing.add_argument("customer", metavar=_("CUSTOMER"))
    listing.add_argument("--as-of", metavar=_("DATE"), help=_("date of validity (default today)"))
    listing.set_defaults(handler=run_candidates)

    choose = actions.add_parser(
        "choose", help=_("save the target subscription of a customer's small balances"))
    choose.add_argument("customer", metavar=_("CUSTOMER"))
    choose.add_argument("source", metavar=_("SOURCE_SUBSCRIPTION"),
                        help=_("subscription of the open items; - for items without one"))
    choose.add_argument("target", metavar=_("TARGET"), help=_("valid subscription to bill"))
    choose.add_argument("--as-of", metavar=_("DATE"),
                        help=_("the target must be valid on this date (default today)"))
    choose.add_argument("--by", metavar=_("USER"), help=_("who chooses (default: you)"))
    choose.set_defaults(handler=run_choose)

    policies.register(subparsers)


def run_extract(args: argparse.Namespace) -> None:
    as_of = parse_day(args.as_of, "--as-of")
    with db.session_scope(db.get_engine(args.db)) as session:
        policy, params = resolve_params(session, args)
        # The report for people counts the excluded items; csv and json list each of them.
        decision = selection.decide(session, as_of, params,
                                    list_excluded=args.format != "table")

    if args.format == "table":
        sys.stdout.write(extract_output.as_table(decision, policy, args.limit))
        return
    sys.stdout.write(extract_output.as_json(decision, policy) + "\n" if args.format == "json"
                     else extract_output.as_csv(decision))
    for warning in decision.warnings:
        print(_("Warning: {message}").format(message=warning), file=sys.stderr)


def run_candidates(args: argparse.Namespace) -> None:
    as_of = parse_day(args.as_of, "--as-of") if args.as_of else dt.date.today()
    with db.session_scope(db.get_engine(args.db)) as session:
        frame = candidates.list_candidates(session, args.customer, as_of)
        choices = candidates.saved_choices(session, [args.customer])

    if frame.empty:
        print(_("Customer {customer} has no subscription valid on {date}.").format(
            customer=args.customer, date=format_date(as_of)))
    else:
        print(_("Valid subscriptions of customer {customer} on {date}; without a saved choice "
                "the rule picks the first:").format(customer=args.customer,
                                                    date=format_date(as_of)))
        rows = [
            (str(row.rank), row.subscription_id, row.service or "", format_date(row.start_date),
             format_date(row.end_date), format_date(row.next_billing_date))
            for row in frame.itertuples(index=False)
        ]
        header = (_("rank"), _("subscription"), _("service"), _("start"), _("end"),
                  _("next billing"))
        print("\n".join(extract_output.render(header, rows, numeric=(0,))))
    if not choices.empty:
        print()
        print(_("Saved choices:"))
        rows = [(row.source_subscription_id or "-", row.target_subscription_id, row.chosen_by)
                for row in choices.itertuples(index=False)]
        print("\n".join(extract_output.render((_("source"), _("target"), _("chosen by")), rows)))


def run_choose(args: argparse.Namespace) -> None:
    as_of = parse_day(args.as_of, "--as-of") if args.as_of else dt.date.today()
    source = None if args.source.strip() in ("", "-") else args.source
    actor = current_user(args.by)
    with db.session_scope(db.get_engine(args.db)) as session:
        candidates.save_choices(session, [(args.customer, source, args.target)], actor,
                                as_of=as_of)
    print(_("Saved: the small balances of customer {customer} on {source} go to {target}.").format(
        customer=args.customer, source=source or "-", target=args.target))
