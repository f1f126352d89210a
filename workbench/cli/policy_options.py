"""Policy options shared by `extract`, `run prepare` and `policy propose`.

Amounts are read as decimal text in francs (`5.00`, `0.50`) and become integer centimes; an
option given on the command line overrides the stored policy named by `--policy`.
"""

from __future__ import annotations

import argparse
import datetime as dt

from sqlalchemy.orm import Session

from ..amounts import AmountError, parse_amount
from ..dates import DateError, parse_date
from ..errors import InvalidInput, Problem
from ..i18n import N_, _
from ..models import Policy
from ..policy import LINE_MODES, PolicyParams, load_policy

# (field of PolicyParams, option, help text): the options of every command that selects. The
# help texts are translated when the parser is built, in the language chosen by then.
AMOUNT_OPTIONS = [
    ("debit_threshold", "--debit-threshold",
     N_("largest net balance owed by the customer that counts as small, in francs "
        "(default: the policy's, else 5.00)")),
    ("credit_threshold", "--credit-threshold",
     N_("largest net balance in the customer's favour that counts as small, in francs "
        "(default: the policy's, else 5.00)")),
    ("write_off_limit", "--write-off-limit",
     N_("largest balance written off when the customer has no valid subscription, in francs "
        "(default: the policy's, else 0.00, which never writes off)")),
]
# Further options of `policy propose`, which stores a whole parameter set.
MORE_AMOUNT_OPTIONS = [
    ("rounding_step", "--rounding-step",
     N_("balances below this amount are written off as rounding, in francs "
        "(default: the policy's, else 0.05)")),
    ("auto_post_limit", "--auto-post-limit",
     N_("a run whose cleared total stays within this amount may post without a second "
        "person, in francs (default: the policy's, else 0.00, which always needs four eyes)")),
]
TEXT_OPTIONS = [
    ("currency", "--currency", N_("currency of the items selected (default CHF)")),
    ("ar_account", "--ar-account", N_("accounts-receivable account (default 1100)")),
    ("transit_account", "--transit-account", N_("transit account (default 1091)")),
    ("loss_account", "--loss-account", N_("loss account for write-offs (default 3805)")),
    ("rounding_account", "--rounding-account", N_("rounding account (default 3806)")),
    ("charge_code", "--charge-code", N_("charge code of the charge lines (default SOLDE)")),
    ("vat_code", "--vat-code", N_("VAT code of the charge lines (default 0)")),
]


def add_policy_options(parser: argparse.ArgumentParser, *, every_parameter: bool = False) -> None:
    """Add the policy options to a command; `every_parameter` adds all of PolicyParams."""
    amount_options = AMOUNT_OPTIONS + (MORE_AMOUNT_OPTIONS if every_parameter else [])
    for field, option, help_text in amount_options:
        parser.add_argument(option, dest=field, metavar=_("AMOUNT"), help=_(help_text))
    parser.add_argument(
        "--min-days-overdue", dest="min_days_overdue", metavar=_("DAYS"),
        help=_("days an item must be past due, so that payments in transit arrive "
               "(default: the policy's, else 30)"),
    )
    if every_parameter:
        for field, option, help_text in TEXT_OPTIONS:
            parser.add_argument(option, dest=field, metavar=_("TEXT"), help=_(help_text))
        parser.add_argument("--line-mode", dest="line_mode", choices=LINE_MODES,
                            help=_("one charge line per item or per group (default item)"))
    else:
        parser.add_argument("--policy", metavar=_("NAME"),
                            help=_("start from the latest approved version of this policy"))


def option_changes(args: argparse.Namespace) -> dict:
    """Return the PolicyParams fields given on the command line, parsed.

    Raises `InvalidInput` listing every option whose value is invalid.
    """
    changes: dict = {}
    problems: list[Problem] = []
    source = _("command line")
    for field, option, _help in AMOUNT_OPTIONS + MORE_AMOUNT_OPTIONS:
        text = getattr(args, field, None)
        if text is None:
            continue
        try:
            cents = parse_amount(text)
        except AmountError:
            problems.append(Problem(source, None, option, text, _(
                "not an amount: write francs with at most two decimals, such as 5.00")))
            continue
        if cents < 0:
            problems.append(Problem(source, None, option, text, _("must not be negative")))
            continue
        changes[field] = cents

    days = getattr(args, "min_days_overdue", None)
    if days is not None:
        if days.strip().isdigit():
            changes["min_days_overdue"] = int(days)
        else:
            problems.append(Problem(source, None, "--min-days-overdue", days,
                                    _("must be a whole number of days, 0 or more")))

    for field, option, _help in TEXT_OPTIONS:
        text = getattr(args, field, None)
        if text is not None:
            changes[field] = text.strip().upper() if field == "currency" else text.strip()
    if getattr(args, "line_mode", None) is not None:
        changes["line_mode"] = args.line_mode

    if problems:
        raise InvalidInput(_("Invalid policy options; nothing was changed."), problems)
    return changes


def resolve_params(
    session: Session, args: argparse.Namespace
) -> tuple[Policy | None, PolicyParams]:
    """Return the stored policy named by `--policy` (or None) and the parameters to use: that
    policy's, else the defaults, with the options given on the command line on top."""
    changes = option_changes(args)
    name = getattr(args, "policy", None)
    if name:
        row, params = load_policy(session, name)
    else:
        row, params = None, PolicyParams()
    return row, params.replace(**changes)


def parse_day(text: str, option: str) -> dt.date:
    """Parse a date option (`2026-11-30`, `30.11.2026`); raise `InvalidInput` naming it."""
    try:
        return parse_date(text)
    except DateError:
        problem = Problem(_("command line"), None, option, text,
                          _("not a date: write 2026-11-30 or 30.11.2026"))
        raise InvalidInput(_("Invalid date for {option}.").format(option=option),
                           [problem]) from None
