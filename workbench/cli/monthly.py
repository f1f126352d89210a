"""`workbench monthly`: run the approved run notebook with papermill and file its report."""

from __future__ import annotations

import argparse
import sys

from .. import db, monthly, runs
from ..config import database_url
from ..i18n import _, current_language


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "monthly",
        help=_("run the monthly notebook with papermill and write its report"),
        description=_(
            "Import the extracts if given, prepare the month's run, post and export it in post "
            "mode when it is approved or within the policy's auto-post limit, and write the "
            "executed notebook, an HTML report, an Excel workbook and the export files into "
            "OUT/YYYY-MM/RUN/."
        ),
    )
    parser.add_argument(
        "--as-of", metavar=_("DATE"),
        help=_("run date (default: the last day of the previous month)"),
    )
    parser.add_argument(
        "--mode", default="preview",
        help=_("preview: prepare and report; post: also post and export (default: preview)"),
    )
    parser.add_argument(
        "--policy", metavar=_("NAME"),
        help=_("approved policy to use (default: the only approved policy)"),
    )
    parser.add_argument(
        "--out", metavar=_("DIR"), default=str(monthly.DEFAULT_OUT),
        help=_("folder of the reports (default: reports)"),
    )
    parser.add_argument(
        "--subscriptions", metavar=_("FILE"), help=_("subscriptions extract to import first"),
    )
    parser.add_argument(
        "--open-items", metavar=_("FILE"),
        help=_("open-items extract to import first, as of the run date"),
    )
    parser.set_defaults(handler=run_monthly)


def run_monthly(args: argparse.Namespace) -> int:
    url = database_url(args.db)
    params = monthly.validate_parameters(
        db.get_engine(url),
        as_of=args.as_of,
        policy=args.policy,
        mode=args.mode,
        subscriptions_file=args.subscriptions,
        open_items_file=args.open_items,
        out_dir=args.out,
        lang=args.lang or current_language(),
    )
    try:
        result = monthly.run_job(params, url)
    except monthly.NotebookFailed as error:
        print(_("Error: {message}").format(message=error), file=sys.stderr)
        return error.exit_code

    print(_("Run {run_id}: {state}.").format(run_id=result.run_id, state=runs.state_label(result.state))
          if result.run_id is not None else _("Nothing to prepare for this date."))
    print(result.report)
    return 0
