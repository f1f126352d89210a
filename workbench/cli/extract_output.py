"""Output of `workbench extract`: a report for people, CSV, or JSON."""

from __future__ import annotations

import json

import pandas as pd

from ..amounts import format_amount
from ..dates import format_date
from ..i18n import _, current_language
from ..models import Policy
from ..money_frames import format_amounts, to_decimal_strings
from ..selection import ACTION_LABELS, ACTIONS, REASON_LABELS, Decision, decision_to_json

CSV_COLUMNS = ["group_no", "customer_id", "subscription_id", "currency", "action",
               "target_subscription_id", "needs_review", "group_total", "document_no", "line_no",
               "document_date", "due_date", "open_amount", "reason"]


def as_json(decision: Decision, policy: Policy | None) -> str:
    return json.dumps(decision_to_json(decision, policy=policy), ensure_ascii=False, indent=1)


def as_csv(decision: Decision) -> str:
    """Return one row per item: the selected ones with their group's action, then the excluded
    ones with their reason; semicolon-separated, amounts as `-1234.50`, dates ISO."""
    groups = decision.groups.set_index("group_no")
    items = decision.items
    selected = pd.DataFrame({
        "group_no": items["group_no"],
        "customer_id": items["customer_id"],
        "subscription_id": items["subscription_id"],
        "currency": items["currency"],
        "action": items["group_no"].map(groups["action"]),
        "target_subscription_id": items["group_no"].map(groups["target_subscription_id"]),
        "needs_review": items["group_no"].map(groups["needs_review"]).map(_json_bool),
        "group_total": to_decimal_strings(
            items["group_no"].map(groups["total_cents"]).astype("int64")),
        "document_no": items["document_no"],
        "line_no": items["line_no"],
        "document_date": items["document_date"],
        "due_date": items["due_date"],
        "open_amount": to_decimal_strings(items["open_cents"].astype("int64")),
        "reason": None,
    })
    excluded = decision.excluded
    left_out = pd.DataFrame({
        "customer_id": excluded["customer_id"],
        "subscription_id": excluded["subscription_id"],
        "currency": excluded["currency"],
        "document_no": excluded["document_no"],
        "line_no": excluded["line_no"],
        "due_date": excluded["due_date"],
        "open_amount": to_decimal_strings(excluded["open_cents"].astype("int64")),
        "reason": excluded["reason"],
    })
    rows = pd.concat([selected, left_out], ignore_index=True).reindex(columns=CSV_COLUMNS)
    rows["group_no"] = rows["group_no"].astype("Int64")
    return rows.to_csv(sep=";", index=False, lineterminator="\n")


def _json_bool(value: object) -> str:
    return "true" if bool(value) else "false"


def as_table(decision: Decision, policy: Policy | None, group_limit: int) -> str:
    """Return the report for people, in the current language: the parameters, totals per
    action, the first `group_limit` groups (0: all), the excluded items by reason, warnings."""
    lang = current_language()
    params = decision.params
    lines = [
        _("Small balances as of {date}, open-items snapshot {snapshot}").format(
            date=format_date(decision.as_of), snapshot=decision.snapshot_batch_id),
        _("Policy: {policy}; debit threshold {debit}, credit threshold {credit}, "
          "{days} days overdue at least, write-off limit {limit}, currency {currency}").format(
            policy=(f"{policy.name} v{policy.version}" if policy is not None
                    else _("options of the command line")),
            debit=format_amount(params.debit_threshold, lang),
            credit=format_amount(params.credit_threshold, lang),
            days=params.min_days_overdue,
            limit=format_amount(params.write_off_limit, lang),
            currency=params.currency),
        "",
        *_action_totals(decision, lang),
        "",
        *_group_rows(decision, lang, group_limit),
        "",
        *_reason_totals(decision, lang),
    ]
    if decision.warnings:
        lines += ["", _("Warnings ({count}):").format(count=len(decision.warnings))]
        lines += [f"- {warning}" for warning in decision.warnings]
    return "\n".join(lines) + "\n"


def _action_totals(decision: Decision, lang: str) -> list[str]:
    groups = decision.groups
    summary = groups.groupby("action").agg(groups=("group_no", "size"),
                                           items=("item_count", "sum"),
                                           total=("total_cents", "sum"))
    rows = []
    for action in ACTIONS:
        if action in summary.index:
            count, items, total = summary.loc[action, ["groups", "items", "total"]]
        else:
            count, items, total = 0, 0, 0
        rows.append((_(ACTION_LABELS[action]), str(count), str(items),
                     format_amount(int(total), lang)))
    rows.append((_("total"), str(len(groups)), str(int(groups["item_count"].sum())),
                 format_amount(int(groups["total_cents"].sum()), lang)))
    header = (_("action"), _("groups"), _("items"), _("net total"))
    return [_("Selected groups by action"), *render(header, rows, numeric=(1, 2, 3))]


def _group_rows(decision: Decision, lang: str, limit: int) -> list[str]:
    groups = decision.groups
    shown = groups if limit <= 0 else groups.head(limit)
    totals = format_amounts(shown["total_cents"].astype("int64"), lang)
    rows = [
        (str(row.group_no), row.customer_id, row.subscription_id or "-",
         _(ACTION_LABELS[row.action]), row.target_subscription_id or "",
         _("yes") if row.needs_review else "", str(row.item_count), total)
        for row, total in zip(shown.itertuples(index=False), totals)
    ]
    header = (_("group"), _("customer"), _("subscription"), _("action"), _("target"),
              _("check"), _("items"), _("net total"))
    lines = [_("Groups"), *render(header, rows, numeric=(0, 6, 7))]
    if len(groups) > len(shown):
        lines.append(_("... and {count} more groups (--limit 0 lists them all).").format(
            count=len(groups) - len(shown)))
    return lines


def _reason_totals(decision: Decision, lang: str) -> list[str]:
    rows = [
        (_(REASON_LABELS[row.reason]), str(row.item_count), format_amount(int(row.total_cents),
                                                                           lang))
        for row in decision.reasons.itertuples(index=False)
    ]
    header = (_("reason"), _("items"), _("total"))
    return [_("Items left out, by reason"), *render(header, rows, numeric=(1, 2))]


def render(header: tuple[str, ...], rows: list[tuple[str, ...]],
           numeric: tuple[int, ...] = ()) -> list[str]:
    """Return a plain-text table: columns padded to their widest cell, numbers right-aligned."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]

    def line(cells: tuple[str, ...]) -> str:
        padded = [cell.rjust(width) if index in numeric else cell.ljust(width)
                  for index, (cell, width) in enumerate(zip(cells, widths))]
        return "  ".join(padded).rstrip()

    return [line(header), "  ".join("-" * width for width in widths), *map(line, rows)]
