"""Checking the rows of an extract and converting them to the values the snapshot tables store.

Each check runs on whole columns and marks the rows it rejects, so a file of a million rows is
checked in seconds and every bad row is reported at once, with its row number, column, value and
reason. The converted values are ready for a bulk insert: text, integer centimes, dates as
`2026-12-31` texts, None for NULL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import parsing
from .errors import Problem
from .i18n import _
from .readers import RawTable

LANGUAGES = ("fr", "de", "it", "en")
DEFAULT_LANGUAGE = "fr"
DEFAULT_CURRENCY = "CHF"

# Lengths of the text columns in models/snapshot.py; PostgreSQL rejects longer values.
MAX_LENGTHS = {
    "subscription_id": 64,
    "customer_id": 64,
    "customer_name": 200,
    "service": 100,
    "document_no": 64,
    "line_no": 16,
    "block": 40,
}
_CURRENCY = re.compile("[A-Z]{3}")
_MAX_LISTED_ROWS = 5  # other rows named in a duplicate key's reason


@dataclass
class CheckedRows:
    """The outcome of checking an extract: converted valid rows and the problems of the rest."""

    # Column -> object array of the valid rows' values, in file order.
    records: dict[str, np.ndarray]
    # Whether each row of the file (as in `RawTable.frame`) was rejected.
    rejected: np.ndarray
    problems: list[Problem]
    # The optional columns that the file contains, so that an update leaves the others alone.
    present: frozenset[str] = field(default_factory=frozenset)

    @property
    def valid_count(self) -> int:
        return int((~self.rejected).sum())

    @property
    def rejected_count(self) -> int:
        return int(self.rejected.sum())


class _Checks:
    """Collects the rows rejected by each check, with the column and the reason."""

    def __init__(self, table: RawTable, positions: dict[str, int]):
        self.table = table
        self.positions = positions
        self.count = len(table.frame)
        self.rejected = np.zeros(self.count, dtype=bool)
        self._findings: list[tuple[np.ndarray, str, str | list[str]]] = []

    def raw(self, column: str) -> pd.Series:
        """Return a column's texts as in the file, or empty texts when the file lacks it."""
        if column in self.positions:
            return self.table.frame[self.positions[column]].astype(object)
        return pd.Series([""] * self.count, dtype=object)

    def text(self, column: str) -> pd.Series:
        """Return a column's texts without surrounding whitespace."""
        # A list comprehension is several times faster than pandas' `.str.strip()` here.
        return pd.Series([value.strip() for value in self.raw(column).to_numpy()], dtype=object)

    def reject(self, bad: np.ndarray, column: str, reason: str | list[str]) -> None:
        """Reject the rows where `bad` is true; `reason` is one text, or one per bad row."""
        bad_positions = np.flatnonzero(bad)
        if len(bad_positions) == 0:
            return
        self.rejected[bad_positions] = True
        self._findings.append((bad_positions, column, reason))

    def required(self, column: str, empty: np.ndarray) -> None:
        self.reject(empty, column, _("a value is required"))

    def max_length(self, column: str, texts: pd.Series) -> None:
        limit = MAX_LENGTHS[column]
        too_long = np.fromiter(map(len, texts), np.int64, len(texts)) > limit
        self.reject(too_long, column, _("longer than {limit} characters").format(limit=limit))

    def dates(self, column: str, *, required: bool) -> parsing.DateColumn:
        parsed = parsing.parse_dates(self.raw(column))
        if required:
            self.required(column, parsed.status == parsing.EMPTY)
        self.reject(
            parsed.status == parsing.INVALID, column,
            _("not a valid date, expected an existing day such as 31.12.2026 or 2026-12-31"),
        )
        return parsed

    def amounts(self, column: str, *, required: bool) -> parsing.AmountColumn:
        parsed = parsing.parse_amounts(self.raw(column))
        if required:
            self.required(column, parsed.status == parsing.EMPTY)
        self.reject(
            parsed.status == parsing.INVALID, column,
            _("not an amount, expected a format such as 1234.50, 1'234.50 or 0.50-"),
        )
        self.reject(
            parsed.status == parsing.OUT_OF_RANGE, column,
            _("amount is too large, expected at most 13 digits before the decimal point"),
        )
        return parsed

    def unique(self, columns: tuple[str, ...], keys: pd.Series, blank: np.ndarray) -> None:
        """Reject every row whose key appears more than once, naming the other rows."""
        duplicated = keys.duplicated(keep=False).to_numpy() & ~blank
        positions = np.flatnonzero(duplicated)
        if len(positions) == 0:
            return
        rows = self.table.row_numbers[positions]
        rows_by_key: dict[str, list[int]] = {}
        for key, row in zip(keys.iloc[positions], rows):
            rows_by_key.setdefault(key, []).append(int(row))
        reasons = []
        for key, row in zip(keys.iloc[positions], rows):
            others = [other for other in rows_by_key[key] if other != row]
            listed = ", ".join(str(other) for other in others[:_MAX_LISTED_ROWS])
            if len(others) > _MAX_LISTED_ROWS:
                listed += ", ..."
            reasons.append(
                _("duplicate {columns}: also in row {rows}").format(
                    columns=" + ".join(columns), rows=listed
                )
            )
        self.reject(duplicated, columns[0], reasons)

    def problems(self) -> list[Problem]:
        """Return every finding as a `Problem`, by row and then in the order of the checks."""
        collected = []
        for order, (positions, column, reason) in enumerate(self._findings):
            values = self.raw(column).to_numpy()[positions]
            rows = self.table.row_numbers[positions]
            reasons = [reason] * len(positions) if isinstance(reason, str) else reason
            for row, value, text in zip(rows, values, reasons):
                collected.append((int(row), order, column, value, text))
        collected.sort(key=lambda finding: finding[:2])
        return [
            Problem(self.table.file_name, row, column, value, reason)
            for row, _order, column, value, reason in collected
        ]

    def result(self, records: dict[str, np.ndarray | pd.Series]) -> CheckedRows:
        valid = ~self.rejected
        valid_records = {
            name: np.asarray(values, dtype=object)[valid] for name, values in records.items()
        }
        return CheckedRows(
            records=valid_records,
            rejected=self.rejected,
            problems=self.problems(),
            present=frozenset(self.positions),
        )


def check_subscriptions(table: RawTable, positions: dict[str, int]) -> CheckedRows:
    """Check and convert the rows of a subscriptions extract."""
    checks = _Checks(table, positions)

    subscription_id = checks.text("subscription_id")
    no_subscription = (subscription_id == "").to_numpy()
    checks.required("subscription_id", no_subscription)
    checks.max_length("subscription_id", subscription_id)
    checks.unique(("subscription_id",), subscription_id, no_subscription)

    customer_id = checks.text("customer_id")
    checks.required("customer_id", (customer_id == "").to_numpy())
    checks.max_length("customer_id", customer_id)
    customer_name = checks.text("customer_name")
    checks.max_length("customer_name", customer_name)

    language = pd.Series([code.lower() or DEFAULT_LANGUAGE for code in checks.text("language")],
                         dtype=object)
    checks.reject(
        ~language.isin(LANGUAGES).to_numpy(), "language",
        _("unknown language code, expected fr, de, it or en"),
    )
    service = checks.text("service")
    checks.max_length("service", service)

    start = checks.dates("start_date", required=True)
    end = checks.dates("end_date", required=False)
    next_billing = checks.dates("next_billing_date", required=False)
    checks.reject(end.days < start.days, "end_date", _("end date is before the start date"))

    return checks.result({
        "subscription_id": subscription_id,
        "customer_id": customer_id,
        "customer_name": _none_if_empty(customer_name),
        "language": language,
        "service": _none_if_empty(service),
        "start_date": parsing.iso_dates(start.days),
        "end_date": parsing.iso_dates(end.days),
        "next_billing_date": parsing.iso_dates(next_billing.days),
    })


def check_open_items(table: RawTable, positions: dict[str, int]) -> CheckedRows:
    """Check and convert the rows of an open-items extract."""
    checks = _Checks(table, positions)

    document_no = checks.text("document_no")
    no_document = (document_no == "").to_numpy()
    checks.required("document_no", no_document)
    checks.max_length("document_no", document_no)
    line_no = checks.text("line_no")
    checks.max_length("line_no", line_no)
    # The unit separator cannot appear in a CSV value, so the joined key is unambiguous.
    checks.unique(("document_no", "line_no"), document_no + "\x1f" + line_no, no_document)

    customer_id = checks.text("customer_id")
    checks.required("customer_id", (customer_id == "").to_numpy())
    checks.max_length("customer_id", customer_id)
    subscription_id = checks.text("subscription_id")
    checks.max_length("subscription_id", subscription_id)

    document_date = checks.dates("document_date", required=False)
    due_date = checks.dates("due_date", required=True)
    amount = checks.amounts("amount", required=False)
    open_amount = checks.amounts("open_amount", required=True)

    currency = pd.Series([code.upper() or DEFAULT_CURRENCY for code in checks.text("currency")],
                         dtype=object)
    # An extract has a handful of distinct currencies: check each once.
    invalid = [code for code in currency.unique() if not _CURRENCY.fullmatch(code)]
    checks.reject(
        currency.isin(invalid).to_numpy(), "currency",
        _("not a currency code, expected three letters such as CHF or EUR"),
    )
    block = checks.text("block")
    checks.max_length("block", block)

    amount_cents = amount.centimes.astype(object)
    amount_cents[amount.status != parsing.OK] = None
    return checks.result({
        "document_no": document_no,
        "line_no": line_no,
        "customer_id": customer_id,
        "subscription_id": _none_if_empty(subscription_id),
        "document_date": parsing.iso_dates(document_date.days),
        "due_date": parsing.iso_dates(due_date.days),
        "amount_cents": amount_cents,
        "open_cents": open_amount.centimes.astype(object),
        "currency": currency,
        "block": _none_if_empty(block),
    })


def _none_if_empty(texts: pd.Series) -> np.ndarray:
    values = texts.to_numpy(dtype=object).copy()
    values[(texts == "").to_numpy()] = None
    return values
