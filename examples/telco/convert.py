"""Convert IBM's public Telco customer churn CSV into the workbench's two default import extracts.

    python examples/telco/convert.py --input Telco-Customer-Churn.csv --as-of 2026-03-31 --out DIR

writes `DIR/subscriptions.csv`, `DIR/open_items.csv` and `DIR/rejected.csv` (semicolon CSV,
UTF-8, the default profile's column names). README.md beside this file documents the mapping.
Exit codes: 0 done; 2 invalid input (nothing written); 1 the output could not be written.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from workbench.amounts import AmountError, parse_amount, to_decimal_string
from workbench.dates import DateError, parse_date
from workbench.errors import InvalidInput, Problem
from workbench.i18n import _

REQUIRED_COLUMNS = (
    "customerID", "tenure", "PhoneService", "InternetService", "MonthlyCharges", "TotalCharges",
    "Churn",
)
SUBSCRIPTION_COLUMNS = (
    "subscription_id", "customer_id", "customer_name", "language", "service", "start_date",
    "end_date", "next_billing_date",
)
OPEN_ITEM_COLUMNS = (
    "document_no", "customer_id", "subscription_id", "document_date", "due_date", "amount",
    "open_amount", "currency",
)
REJECTED_COLUMNS = ("row", "column", "value", "reason")

# The balance falls due 45 days before the as-of date, so it is past the default 30 days that
# payments may still be in transit. Its document is dated one 30-day payment term earlier.
DUE_DAYS_BEFORE_AS_OF = 45
PAYMENT_TERM_DAYS = 30
LANGUAGE = "fr"
CURRENCY = "CHF"

_TENURE = re.compile(r"\d+", re.ASCII)
# A sanity bound, so that a mistyped tenure gets a message rather than a date before year 1.
MAX_TENURE_MONTHS = 1200
INTERNET_SERVICES = ("DSL", "Fiber optic", "No")


@dataclass(frozen=True)
class Customer:
    """One valid row of the Telco file, with amounts in centimes (`total_cents` None when blank)."""

    line: int
    customer_id: str
    tenure: int
    phone: bool
    internet: bool
    monthly_cents: int
    total_cents: int | None
    total_text: str
    churned: bool


@dataclass
class Conversion:
    """The rows of the three output files, and how many customers had a zero balance."""

    subscriptions: list[dict[str, str]] = field(default_factory=list)
    open_items: list[dict[str, str]] = field(default_factory=list)
    rejected: list[Problem] = field(default_factory=list)
    zero_balances: int = 0


def subtract_months(day: dt.date, months: int) -> dt.date:
    """Return the same day `months` calendar months earlier, clamped to the end of that month."""
    year, month_index = divmod(day.year * 12 + day.month - 1 - months, 12)
    month = month_index + 1
    last_day = calendar.monthrange(year, month)[1]
    return dt.date(year, month, min(day.day, last_day))


def end_of_previous_month(day: dt.date) -> dt.date:
    return day.replace(day=1) - dt.timedelta(days=1)


def first_of_next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def read_source(path: Path) -> list[dict[str, str]]:
    """Read the Telco CSV (comma-separated, UTF-8) and check that every required column is there."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = reader.fieldnames or []
    except FileNotFoundError:
        raise InvalidInput(_("Input file not found: {path}").format(path=path)) from None
    except UnicodeDecodeError as error:
        raise InvalidInput(
            _("Input file {path} is not UTF-8 text: {error}").format(path=path, error=error)
        ) from None

    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        problems = [
            Problem(path.name, 1, column, None, _("required column is missing from the header"))
            for column in missing
        ]
        raise InvalidInput(
            _("{path} is missing the required columns {columns}.").format(
                path=path, columns=", ".join(missing)),
            problems,
        )
    return rows


def parse_customers(rows: list[dict[str, str]], file_name: str) -> list[Customer]:
    """Parse every row and collect all problems, then raise `InvalidInput` if there is any."""
    customers: list[Customer] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}

    # Line 1 is the header, so the first data row is line 2, as a spreadsheet shows it.
    for line, row in enumerate(rows, start=2):
        customer, row_problems = _parse_row(row, line, file_name)
        problems.extend(row_problems)
        if customer is None:
            continue
        if customer.customer_id in seen:
            reason = _("duplicate customer number, first seen on row {row}").format(
                row=seen[customer.customer_id]
            )
            problems.append(Problem(file_name, line, "customerID", customer.customer_id, reason))
            continue
        seen[customer.customer_id] = line
        customers.append(customer)

    if problems:
        raise InvalidInput(
            _("{file} has {count} invalid values, so nothing was written.").format(
                file=file_name, count=len(problems)
            ),
            problems,
        )
    return customers


def _parse_row(
    row: dict[str, str], line: int, file_name: str
) -> tuple[Customer | None, list[Problem]]:
    problems: list[Problem] = []

    def problem(column: str, reason: str) -> None:
        problems.append(Problem(file_name, line, column, row.get(column), reason))

    # DictReader fills the columns of a short row with None.
    values = {column: (row.get(column) or "").strip() for column in REQUIRED_COLUMNS}

    if not values["customerID"]:
        problem("customerID", _("customer number is empty"))
    if not _TENURE.fullmatch(values["tenure"]) or int(values["tenure"]) > MAX_TENURE_MONTHS:
        problem("tenure", _("expected a whole number of months from 0 to {max}, such as 12")
                .format(max=MAX_TENURE_MONTHS))
    phone = _parse_yes_no(values["PhoneService"], "PhoneService", problem)
    churned = _parse_yes_no(values["Churn"], "Churn", problem)
    if values["InternetService"] not in INTERNET_SERVICES:
        problem("InternetService", _("expected DSL, Fiber optic or No"))
    monthly_cents = _parse_centimes(values["MonthlyCharges"], "MonthlyCharges", problem)
    total_cents = None
    if values["TotalCharges"]:
        total_cents = _parse_centimes(values["TotalCharges"], "TotalCharges", problem)

    if problems:
        return None, problems
    return Customer(
        line=line,
        customer_id=values["customerID"],
        tenure=int(values["tenure"]),
        phone=phone,
        internet=values["InternetService"] != "No",
        monthly_cents=monthly_cents,
        total_cents=total_cents,
        total_text=row["TotalCharges"],
        churned=churned,
    ), problems


def _parse_yes_no(text: str, column: str, problem) -> bool:
    if text not in ("Yes", "No"):
        problem(column, _("expected Yes or No"))
    return text == "Yes"


def _parse_centimes(text: str, column: str, problem) -> int:
    try:
        return parse_amount(text)
    except AmountError:
        problem(column, _("expected an amount with at most two decimals, such as 29.85"))
        return 0


def convert(customers: list[Customer], as_of: dt.date, file_name: str) -> Conversion:
    """Map the customers to subscriptions and open balances as of a date (see README.md)."""
    result = Conversion()
    # The Telco file marks customers who left within the last month, and a subscription ends
    # at the end of a billing period, so it ends on the last day of the month before as-of.
    churn_end = end_of_previous_month(as_of)
    next_billing = first_of_next_month(as_of)
    due_date = as_of - dt.timedelta(days=DUE_DAYS_BEFORE_AS_OF)
    document_date = due_date - dt.timedelta(days=PAYMENT_TERM_DAYS)

    for customer in customers:
        rejection = _rejection(customer, file_name)
        if rejection:
            result.rejected.append(rejection)
            continue

        start = subtract_months(as_of, customer.tenure)
        end = churn_end if customer.churned else None
        services = [("PHONE", "phone")] if customer.phone else []
        services += [("NET", "internet")] if customer.internet else []
        for suffix, service in services:
            result.subscriptions.append({
                "subscription_id": f"{customer.customer_id}-{suffix}",
                "customer_id": customer.customer_id,
                "customer_name": f"Client {customer.customer_id}",
                "language": LANGUAGE,
                "service": service,
                "start_date": start.isoformat(),
                "end_date": end.isoformat() if end else "",
                "next_billing_date": "" if end else next_billing.isoformat(),
            })

        # Positive: billed more than the monthly charge times the tenure, so still owed.
        balance = customer.total_cents - customer.monthly_cents * customer.tenure
        if balance == 0:
            result.zero_balances += 1
            continue
        suffix = "NET" if customer.internet else "PHONE"
        result.open_items.append({
            "document_no": f"{customer.customer_id}-BAL",
            "customer_id": customer.customer_id,
            "subscription_id": f"{customer.customer_id}-{suffix}",
            "document_date": document_date.isoformat(),
            "due_date": due_date.isoformat(),
            "amount": to_decimal_string(balance),
            "open_amount": to_decimal_string(balance),
            "currency": CURRENCY,
        })
    return result


def _rejection(customer: Customer, file_name: str) -> Problem | None:
    """Return why a valid row cannot become subscriptions and a balance, or None when it can."""
    line = customer.line
    if customer.total_cents is None:
        return Problem(file_name, line, "TotalCharges", customer.total_text, _(
            "TotalCharges is blank because nothing has been billed yet, so the balance cannot "
            "be computed and the customer is left out"
        ))
    if not (customer.phone or customer.internet):
        return Problem(file_name, line, "InternetService", "No", _(
            "the customer has neither phone nor internet service, so no subscription can carry "
            "the balance and the customer is left out"
        ))
    if customer.churned and customer.tenure == 0:
        return Problem(file_name, line, "tenure", "0", _(
            "a churned customer with a tenure of 0 months would end before starting, so the "
            "customer is left out"
        ))
    return None


def write_extracts(conversion: Conversion, out_dir: Path) -> None:
    """Write the three files. Rows keep the input order, so the same input gives the same bytes."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rejected = [
        {"row": str(problem.row), "column": problem.column, "value": problem.value,
         "reason": problem.reason}
        for problem in conversion.rejected
    ]
    _write_csv(out_dir / "subscriptions.csv", SUBSCRIPTION_COLUMNS, conversion.subscriptions)
    _write_csv(out_dir / "open_items.csv", OPEN_ITEM_COLUMNS, conversion.open_items)
    _write_csv(out_dir / "rejected.csv", REJECTED_COLUMNS, rejected)


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, delimiter=";", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _as_of_date(text: str) -> dt.date:
    try:
        return parse_date(text)
    except DateError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=_("Convert the Telco customer churn CSV into workbench import extracts.")
    )
    parser.add_argument("--input", required=True, type=Path, metavar="CSV",
                        help=_("the Telco-Customer-Churn.csv file"))
    parser.add_argument("--as-of", required=True, type=_as_of_date, metavar="DATE",
                        help=_("date of the extracts, such as 2026-03-31 or 31.03.2026"))
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help=_("folder for subscriptions.csv, open_items.csv and rejected.csv"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        rows = read_source(args.input)
        customers = parse_customers(rows, args.input.name)
    except InvalidInput as error:
        # Imported only here: the command-line package loads every subcommand with pandas and
        # SQLAlchemy, which a successful conversion does not need.
        from workbench.cli import print_problems

        print_problems(error)
        return error.exit_code

    conversion = convert(customers, args.as_of, args.input.name)
    try:
        write_extracts(conversion, args.out)
    except OSError as error:
        print(_("Error: failed to write to {path}: {error}").format(path=args.out, error=error),
              file=sys.stderr)
        return 1

    print(_("Read {count} customers from {path}.").format(count=len(rows), path=args.input))
    print(_("Wrote {count} subscriptions to {path}.").format(
        count=len(conversion.subscriptions), path=args.out / "subscriptions.csv"))
    print(_("Wrote {count} open items to {path}; {zero} customers have a zero balance.").format(
        count=len(conversion.open_items), path=args.out / "open_items.csv",
        zero=conversion.zero_balances))
    print(_("Rejected {count} rows, listed in {path}.").format(
        count=len(conversion.rejected), path=args.out / "rejected.csv"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
