"""`workbench run prepare|approve|post|export|reverse|show`, `workbench settle`, `workbench reconcile`."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from .. import db, exports, posting, reconciliation, reversal, runs, selection, settlement
from ..amounts import format_amount, parse_amount
from ..config import current_user
from ..dates import DateError, format_date, parse_date
from ..i18n import N_, _, current_language, ngettext
from . import policy_options

DEFAULT_REPORTS_DIR = Path("reports")

STATUS_LABELS = {"included": N_("included"), "left": N_("left")}
REASON_LABELS = {
    "changed": N_("open amount changed"), "closed": N_("no longer open"),
    "group_changed": N_("another item of the group changed"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser("run", help=_("prepare, approve, post, export, reverse or show "
                                              "a run"))
    actions = run.add_subparsers(dest="run_command", metavar=_("ACTION"), required=True)

    prepare = actions.add_parser("prepare", help=_("prepare a draft run; the last line printed "
                                                   "is its id"))
    prepare.add_argument("--as-of", required=True, type=date_argument,
                         help=_("run date (31.12.2026 or 2026-12-31)"))
    policy_options.add_policy_options(prepare)
    prepare.add_argument("--by", help=_("who prepares (default: JUPYTERHUB_USER, else the "
                                        "system user)"))
    prepare.set_defaults(handler=run_prepare)

    approve = actions.add_parser("approve", help=_("approve a draft run (another person than "
                                                   "the preparer)"))
    approve.add_argument("run_id", type=int, metavar="RUN")
    approve.add_argument("--by", help=_("who approves (default: JUPYTERHUB_USER, else the "
                                        "system user)"))
    approve.set_defaults(handler=run_approve)

    reject = actions.add_parser("reject", help=_("reject a draft or approved run before posting "
                                                 "(another person than the preparer)"))
    reject.add_argument("run_id", type=int, metavar="RUN")
    reject.add_argument("--by", metavar=_("USER"),
                        help=_("who rejects (default: JUPYTERHUB_USER, else the system user)"))
    reject.add_argument("--reason", metavar=_("TEXT"), help=_("why the run is rejected"))
    reject.set_defaults(handler=run_reject)

    post = actions.add_parser("post", help=_("post an approved run"))
    post.add_argument("run_id", type=int, metavar="RUN")
    post.add_argument("--by", help=_("who posts (default: JUPYTERHUB_USER, else the system "
                                     "user)"))
    post.add_argument("--posting-date", type=date_argument,
                      help=_("posting date of the journal entries (default: today)"))
    post.set_defaults(handler=run_post)

    export = actions.add_parser("export", help=_("write a posted run's charge, journal and "
                                                 "control files"))
    export.add_argument("run_id", type=int, metavar="RUN")
    export.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help=_("folder for the files (created if missing)"))
    export.add_argument("--by", help=_("who exports (default: JUPYTERHUB_USER, else the system "
                                       "user)"))
    export.set_defaults(handler=run_export)

    reverse = actions.add_parser("reverse", help=_("reverse a posted run (no charge line "
                                                   "invoiced yet)"))
    reverse.add_argument("run_id", type=int, metavar="RUN")
    reverse.add_argument("--by", help=_("who reverses (default: JUPYTERHUB_USER, else the "
                                        "system user)"))
    reverse.add_argument("--reason", required=True, help=_("why the run is reversed"))
    reverse.add_argument("--out", type=Path, metavar="DIR", default=DEFAULT_REPORTS_DIR,
                         help=_("folder for the cancellation and reversal journal files "
                                "(default: reports)"))
    reverse.set_defaults(handler=run_reverse)

    show = actions.add_parser("show", help=_("show a run's state, totals and lines"))
    show.add_argument("run_id", type=int, metavar="RUN")
    show.add_argument("--format", choices=("table", "json"), default="table",
                      help=_("output format (default: table)"))
    show.set_defaults(handler=run_show)

    settle = subparsers.add_parser("settle", help=_("import the billing system's confirmation "
                                                    "of invoiced charge lines"))
    settle.add_argument("file", type=Path, metavar="FILE",
                        help=_("CSV with line_id, invoice_no, invoice_date"))
    settle.add_argument("--by", help=_("who imports (default: JUPYTERHUB_USER, else the system "
                                       "user)"))
    settle.set_defaults(handler=run_settle)

    reconcile = subparsers.add_parser("reconcile", help=_("compare the transit balance with "
                                                          "the open charge lines"))
    reconcile.add_argument("--as-of", type=date_argument,
                           help=_("date the ages are counted to (default: today)"))
    reconcile.add_argument("--format", choices=("table", "json"), default="table",
                           help=_("output format (default: table)"))
    reconcile.set_defaults(handler=run_reconcile)


# Arguments ------------------------------------------------------------------------------------

def date_argument(text: str) -> dt.date:
    try:
        return parse_date(text)
    except DateError:
        raise argparse.ArgumentTypeError(
            _("invalid date {value!r}: use 31.12.2026 or 2026-12-31").format(value=text)
        ) from None


def _money(cents: int) -> str:
    return format_amount(int(cents), current_language())


def _money_text(text: str) -> str:
    return _money(parse_amount(text))


# Handlers -------------------------------------------------------------------------------------

def run_prepare(args: argparse.Namespace) -> None:
    user = current_user(args.by)
    with db.session_scope(db.get_engine(args.db)) as session:
        policy, params = policy_options.resolve_params(session, args)
        run_id = runs.prepare(session, args.as_of, params, prepared_by=user,
                              policy_id=policy.id if policy is not None else None)
        report = runs.report(session, run_id)

    counts: dict[str, tuple[int, int]] = {}
    for group in report["groups"]:
        count, total = counts.get(group["action"], (0, 0))
        counts[group["action"]] = (count + 1, total + parse_amount(group["total"]))
    print(_("Run {run_id} prepared by {user} as of {as_of} (draft).").format(
        run_id=run_id, user=user, as_of=format_date(args.as_of)))
    for action, (count, total) in sorted(counts.items()):
        print(ngettext("  {action}: {count} group, {total}", "  {action}: {count} groups, {total}",
                       count).format(action=_(selection.ACTION_LABELS.get(action, action)),
                                     count=count, total=_money(total)))
    print(_("Cleared {cleared}, charge lines {charges}, write-offs {write_off}.").format(
        cleared=_money_text(report["cleared_total"]), charges=_money_text(report["charge_total"]),
        write_off=_money_text(report["write_off_total"])))
    for warning in report["warnings"]:
        print(_("Warning: {message}").format(message=warning))
    print(run_id)


def run_approve(args: argparse.Namespace) -> None:
    user = current_user(args.by)
    with db.session_scope(db.get_engine(args.db)) as session:
        run = runs.approve(session, args.run_id, approved_by=user)
    print(_("Run {run_id} approved by {user}.").format(run_id=run.id, user=user))


def run_reject(args: argparse.Namespace) -> None:
    user = current_user(args.by)
    with db.session_scope(db.get_engine(args.db)) as session:
        run = runs.reject(session, args.run_id, rejected_by=user, reason=args.reason)
    print(_("Run {run_id} rejected by {user}.").format(run_id=run.id, user=user))


def run_post(args: argparse.Namespace) -> None:
    user = current_user(args.by)
    with db.session_scope(db.get_engine(args.db)) as session:
        result = posting.post(session, args.run_id, posted_by=user,
                              posting_date=args.posting_date)
    if result.auto_posted:
        print(_("Run {run_id} is within its policy's auto-post limit: posted without a second "
                "person.").format(run_id=result.run_id))
    print(_("Run {run_id} posted: {items} items cleared ({cleared}), {charges} charge lines "
            "({charge_total}), write-offs {write_off}, {journal} journal lines.").format(
        run_id=result.run_id, items=result.cleared_items, cleared=_money(result.cleared_total),
        charges=result.charge_lines, charge_total=_money(result.charge_total),
        write_off=_money(result.write_off_total), journal=result.journal_lines))
    if result.left_items:
        print(_("{items} items in {groups} groups left the run because the latest snapshot "
                "changed them (run show {run_id}).").format(
            items=result.left_items, groups=result.left_groups, run_id=result.run_id))


def run_export(args: argparse.Namespace) -> None:
    user = current_user(args.by)
    with db.session_scope(db.get_engine(args.db)) as session:
        result = exports.export_run(session, args.run_id, args.out, exported_by=user)
    for summary in result.files:
        print(_("{name}: {rows} rows, SHA-256 {sha256}").format(
            name=result.directory / summary.name, rows=summary.rows, sha256=summary.sha256))
    print(result.directory / f"control-{result.run_id}.json")


def run_reverse(args: argparse.Namespace) -> None:
    user = current_user(args.by)
    with db.session_scope(db.get_engine(args.db)) as session:
        result = reversal.reverse(session, args.run_id, reversed_by=user, reason=args.reason,
                                  out_dir=args.out)
    print(_("Run {run_id} reversed by {user}: {items} items reopened, {lines} charge lines "
            "cancelled ({total}).").format(run_id=result.run_id, user=user,
                                           items=result.reopened_items,
                                           lines=result.cancelled_lines,
                                           total=_money(result.cancelled_total)))
    for summary in result.files:
        print(args.out / summary.name)


def run_settle(args: argparse.Namespace) -> None:
    user = current_user(args.by)
    with db.session_scope(db.get_engine(args.db)) as session:
        result = settlement.settle(session, args.file, settled_by=user)
    print(_("{count} charge lines marked invoiced ({total}); {already} were already "
            "invoiced.").format(count=result.lines_invoiced, total=_money(result.invoiced_total),
                                already=result.lines_already_invoiced))
    for run_id in result.settled_runs:
        print(_("Run {run_id} is settled.").format(run_id=run_id))


def run_show(args: argparse.Namespace) -> None:
    with db.session_scope(db.get_engine(args.db)) as session:
        report = runs.report(session, args.run_id)
    if args.format == "json":
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    print_report(report)


def run_reconcile(args: argparse.Namespace) -> int:
    with db.session_scope(db.get_engine(args.db)) as session:
        result = reconciliation.reconcile(session, args.as_of)
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    else:
        print_reconciliation(result)
    return 0


# Tables ---------------------------------------------------------------------------------------

def print_table(header: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> None:
    """Print rows under a header in aligned columns; `right` lists right-aligned columns."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    for cells in [header, *rows]:
        print("  ".join(str(cell).rjust(width) if index in right else str(cell).ljust(width)
                        for index, (cell, width) in enumerate(zip(cells, widths))).rstrip())


def print_report(report: dict) -> None:
    """Print a run report for people, in the current language with Swiss amounts."""
    print(_("Run {run_id}: {state}").format(run_id=report["id"],
                                            state=runs.state_label(report["state"])))

    print(_("As of: {as_of}").format(as_of=format_date(dt.date.fromisoformat(report["as_of"]))))
    print(_("Prepared by: {user}").format(user=report["prepared_by"]))
    print(_("Approved by: {user}").format(user=report["approved_by"] or "-"))
    if report["reversed_by"]:
        print(_("Reversed by {user}: {reason}").format(user=report["reversed_by"],
                                                       reason=report["reverse_reason"]))
    print(_("Cleared: {amount}").format(amount=_money_text(report["cleared_total"])))
    print(_("Charge lines: {amount}").format(amount=_money_text(report["charge_total"])))
    print(_("Write-offs: {amount}").format(amount=_money_text(report["write_off_total"])))

    print()
    header = [_("group"), _("customer"), _("subscription"), _("action"), _("target"),
              _("items"), _("total"), _("status")]
    rows = [
        [str(group["group_no"]), group["customer_id"], group["subscription_id"] or "-",
         _(selection.ACTION_LABELS.get(group["action"], group["action"])),
         group["target_subscription_id"] or "-", str(len(group["items"])),
         _money_text(group["total"]),
         _(STATUS_LABELS.get(group["status"], group["status"]))]
        for group in report["groups"]
    ]
    print_table(header, rows, right={0, 5, 6})

    if report["left_items"]:
        print()
        print(_("Items that left the run:"))
        print_table([_("document"), _("line"), _("open amount"), _("reason")],
                    [[item["document_no"], item["line_no"] or "", _money_text(item["open_amount"]),
                      _(REASON_LABELS.get(item["leave_reason"], item["leave_reason"]))]
                     for item in report["left_items"]], right={2})

    for warning in report["warnings"]:
        print(_("Warning: {message}").format(message=warning))


def print_reconciliation(result: reconciliation.Reconciliation) -> None:
    """Print the transit balance beside the open charge lines, by age, then the open items."""
    print(_("Reconciliation as of {as_of}").format(as_of=format_date(result.as_of)))
    rows = [[row.bucket, _money(row.transit_balance), _money(row.open_charge_total),
             _money(row.difference)] for row in result.buckets.itertuples(index=False)]
    rows.append([_("total"), _money(result.transit_balance), _money(result.open_charge_total),
                 _money(result.difference)])
    print_table([_("age (days)"), _("transit balance"), _("open charge lines"), _("difference")],
                rows, right={1, 2, 3})
    for title, items in ((_("Warning"), result.warnings), (_("Conflict"), result.conflicts)):
        for row in items.itertuples(index=False):
            print(_("{title}: {document} cleared by run {run_id} ({cleared}) is still open in "
                    "the snapshot of {as_of} ({open_amount}).").format(
                title=title, document=row.document_no, run_id=row.run_id,
                cleared=_money(row.cleared_cents), as_of=format_date(row.snapshot_as_of),
                open_amount=_money(row.open_cents)))
