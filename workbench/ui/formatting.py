"""DataFrames for people: Swiss amounts, Swiss dates, translated headers, actions and reasons.

The frames that come out of here are for display only (widgets, report tables): amounts become
text through `amounts.format_amount`, so nothing computes on them afterwards.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .. import runs, selection
from ..amounts import format_amount
from ..dates import format_date
from ..i18n import N_, _, current_language

# Headers of the columns that the selection, run and posting frames carry.
COLUMN_LABELS = {
    "group_no": N_("Group"),
    "customer_id": N_("Customer"),
    "customer_name": N_("Customer name"),
    "subscription_id": N_("Subscription"),
    "currency": N_("Currency"),
    "action": N_("Action"),
    "target_subscription_id": N_("Target subscription"),
    "needs_review": N_("To review"),
    "total_cents": N_("Net total"),
    "item_count": N_("Items"),
    "document_no": N_("Document"),
    "line_no": N_("Line"),
    "document_date": N_("Document date"),
    "due_date": N_("Due date"),
    "open_cents": N_("Open amount"),
    "amount_cents": N_("Amount"),
    "reason": N_("Reason"),
    "days_overdue": N_("Days overdue"),
    "entry_no": N_("Entry"),
    "posting_date": N_("Posting date"),
    "account": N_("Account"),
    "matching_ref": N_("Matching reference"),
    "debit_cents": N_("Debit"),
    "credit_cents": N_("Credit"),
    "text": N_("Text"),
    "charge_code": N_("Charge code"),
    "vat_code": N_("VAT code"),
    "source_document": N_("Source document"),
    "source_date": N_("Source date"),
    "line_id": N_("Charge line"),
    "run_id": N_("Run"),
    "state": N_("State"),
    "subscriptions": N_("Subscriptions"),
    "groups": N_("Groups"),
    "items": N_("Items"),
    "total": N_("Total"),
    "debit_total": N_("Debits"),
    "credit_total": N_("Credits"),
    "service": N_("Service"),
    "start_date": N_("Start date"),
    "end_date": N_("End date"),
    "next_billing_date": N_("Next billing date"),
    "status": N_("Status"),
    "leave_reason": N_("Reason for leaving"),
    "write_off_account": N_("Write-off account"),
    "kind": N_("Kind"),
    "id": N_("Id"),
    "created_at": N_("Created"),
    "invoice_no": N_("Invoice"),
    "invoice_date": N_("Invoice date"),
    "rank": N_("Rank"),
}

# The core's labels for actions and reason codes, so that every screen uses the same words.
ACTION_LABELS = selection.ACTION_LABELS
REASON_LABELS = selection.REASON_LABELS

def column_label(column: str) -> str:
    """Return the translated header of a column, or the column name when it has none."""
    return _(COLUMN_LABELS[column]) if column in COLUMN_LABELS else column


def action_label(action: str) -> str:
    return _(ACTION_LABELS[action]) if action in ACTION_LABELS else action


def reason_label(reason: str) -> str:
    return _(REASON_LABELS[reason]) if reason in REASON_LABELS else reason


def state_label(state: str) -> str:
    return runs.state_label(state)


def amount_text(cents: int, lang: str | None = None) -> str:
    """Return centimes as people read them (`1'234.50`), in the given or current language."""
    return format_amount(cents, lang or current_language())


def display_frame(
    frame: pd.DataFrame, columns: list[str] | None = None, lang: str | None = None
) -> pd.DataFrame:
    """Return a copy of `frame` ready to show: chosen columns, Swiss text, translated headers.

    Columns ending in `_cents` become Swiss amounts, date columns `31.12.2026`, `action`,
    `reason` and `state` their translated labels, and booleans a translated yes or no.
    """
    lang = lang or current_language()
    columns = [column for column in (columns or list(frame.columns)) if column in frame.columns]
    shown = pd.DataFrame(index=frame.index)

    for column in columns:
        values = frame[column]
        if column.endswith("_cents"):
            shown[column] = [format_amount(cents, lang) for cents in values]
        elif column == "action":
            shown[column] = [action_label(value) for value in values]
        elif column in ("reason", "leave_reason"):
            shown[column] = ["" if _is_missing(value) else reason_label(value) for value in values]
        elif column == "state":
            shown[column] = [state_label(value) for value in values]
        elif pd.api.types.is_bool_dtype(values):
            shown[column] = [_("yes") if value else _("no") for value in values]
        elif column.endswith("_date") or pd.api.types.is_datetime64_any_dtype(values):
            shown[column] = [_date_text(value) for value in values]
        else:
            shown[column] = ["" if _is_missing(value) else str(value) for value in values]

    shown.columns = [column_label(column) for column in columns]
    return shown.reset_index(drop=True)


def _date_text(value: object) -> str:
    if _is_missing(value):
        return ""
    if isinstance(value, pd.Timestamp):
        value = value.date()
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return format_date(value)
    return str(value)


def _is_missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))
