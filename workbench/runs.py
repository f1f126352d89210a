"""Runs: preparing (decisions frozen), approving (four eyes), states, totals and the run report.

A run moves draft -> approved -> posted -> exported -> settled, or from posted or exported to
reversed. Posting, exports, settlement and reversal live in their own modules and use the
state checks here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from . import audit, selection
from .amounts import to_decimal_string
from .bulk import insert_frame
from .errors import InvalidInput, Problem, RuleRefused, WorkbenchError
from .i18n import N_, _
from .models import AuditEvent, ChargeLine, Run, RunGroup, RunItem
from .models.base import utcnow
from .policy import PolicyParams, params_as_text

log = logging.getLogger(__name__)

# Actions that post: the other groups (unresolved) are listed in the run but post nothing.
POSTING_ACTIONS = ("offset", "write_off", "rebill", "reassign")
# Actions that give charge lines for the billing system.
CHARGE_ACTIONS = ("rebill", "reassign")

DRAFT, APPROVED, POSTED, EXPORTED, SETTLED, REVERSED = (
    "draft", "approved", "posted", "exported", "settled", "reversed",
)
# A draft that a second person turned down; it never posts.
REJECTED = "rejected"


@dataclass(frozen=True)
class RunTotals:
    """A run's amounts in centimes, over the items of its posting groups that did not leave.

    `cleared` is the signed sum of the open amounts cleared, `gross` the sum of their absolute
    values (offsets count in full there), `charges` the re-billed and reassigned groups and
    `write_off` the written-off groups.
    """

    cleared: int
    gross: int
    charges: int
    write_off: int
    items: int
    groups: int


# States ---------------------------------------------------------------------------------------

def load_run(session: Session, run_id: int, *, lock: bool = False) -> Run:
    """Return a run by id; `lock` locks its row until the transaction ends (PostgreSQL)."""
    query = select(Run).where(Run.id == int(run_id))
    if lock:
        query = query.with_for_update()
    run = session.execute(query).scalar_one_or_none()
    if run is None:
        raise InvalidInput(
            _("Run {run_id} does not exist.").format(run_id=run_id),
            [Problem("", None, "RUN", str(run_id), _("no run with this id"))],
        )
    return run


# Names of the run states as people read them; the codes stay in files, JSON and the database.
STATE_LABELS = {
    "draft": N_("draft"),
    "approved": N_("approved"),
    "posted": N_("posted"),
    "exported": N_("exported"),
    "settled": N_("settled"),
    "reversed": N_("reversed"),
    "rejected": N_("rejected"),
}


def state_label(state: str) -> str:
    """Return a run state in the current language, or the code itself when it is unknown."""
    return _(STATE_LABELS[state]) if state in STATE_LABELS else state


def require_state(run: Run, allowed: tuple[str, ...], action: str) -> None:
    """Raise `RuleRefused` unless the run is in one of the `allowed` states."""
    if run.state not in allowed:
        raise RuleRefused(
            _("Run {run_id} is {state}: {action} needs a run that is {allowed}.").format(
                run_id=run.id,
                state=state_label(run.state),
                action=action,
                allowed=" / ".join(state_label(state) for state in allowed),
            )
        )


def run_params(run: Run) -> PolicyParams:
    """Return the policy parameters frozen into a run when it was prepared."""
    return PolicyParams.from_json(run.policy_params)


# Prepare --------------------------------------------------------------------------------------

def prepare(
    session: Session,
    as_of: dt.date,
    params: PolicyParams,
    *,
    prepared_by: str,
    policy_id: int | None = None,
    snapshot_id: int | None = None,
) -> int:
    """Select and decide on the latest snapshot, freeze the result into a draft run, return its id."""
    decision = selection.decide(session, as_of, params, snapshot_id=snapshot_id,
                                list_excluded=False)
    return freeze(session, decision, prepared_by=prepared_by, policy_id=policy_id)


def freeze(session: Session, decision, *, prepared_by: str, policy_id: int | None = None) -> int:
    """Store a decision's groups and items as a new draft run and return the run's id.

    `decision` has `as_of`, `params`, `snapshot_batch_id`, `groups`, `items` and `warnings`, as
    `selection.decide` returns it. Every group and item is frozen, unresolved ones included,
    so that the run shows what was left open and why.
    """
    groups, items = decision.groups, decision.items
    _check_decision(groups, items)
    log.info("prepare: start, as of %s, %d groups, %d items", decision.as_of, len(groups),
             len(items))

    run = Run(
        state=DRAFT,
        as_of=decision.as_of,
        policy_id=policy_id,
        policy_params=decision.params.to_json(),
        snapshot_batch_id=int(decision.snapshot_batch_id),
        prepared_by=prepared_by,
        prepared_at=utcnow(),
    )
    session.add(run)
    session.flush()

    insert_frame(session, RunGroup.__table__, _group_rows(groups, run.id))
    insert_frame(session, RunItem.__table__, _item_rows(items, run.id))

    totals = run_totals(session, run.id)
    warnings = [str(warning) for warning in (decision.warnings or [])]
    audit.record(
        session, prepared_by, "prepare", run_id=run.id, policy_id=policy_id,
        as_of=decision.as_of.isoformat(), snapshot_batch_id=int(decision.snapshot_batch_id),
        groups=len(groups), items=len(items), **_totals_details(totals), warnings=warnings,
    )
    log.info("prepare: run %d drafted, %d posting groups, cleared %s, charges %s, write-off %s",
             run.id, totals.groups, to_decimal_string(totals.cleared),
             to_decimal_string(totals.charges), to_decimal_string(totals.write_off))
    return run.id


def _check_decision(groups: pd.DataFrame, items: pd.DataFrame) -> None:
    # A run freezes what it will post: a group whose items do not add up to its total, or an
    # item without a group, would post unbalanced amounts later.
    if groups["group_no"].duplicated().any():
        raise WorkbenchError(_("The decision has duplicate group numbers."))
    sums = items.groupby("group_no")["open_cents"].sum()
    totals = groups.set_index("group_no")["total_cents"]
    mismatched = totals.index[totals.ne(sums.reindex(totals.index, fill_value=0))]
    orphans = set(items["group_no"]) - set(groups["group_no"])
    if len(mismatched) or orphans:
        raise WorkbenchError(
            _("The decision is inconsistent: groups {groups} do not match their items.").format(
                groups=", ".join(str(no) for no in sorted([*mismatched, *orphans])[:10])
            )
        )


def _group_rows(groups: pd.DataFrame, run_id: int) -> pd.DataFrame:
    rows = groups[["group_no", "customer_id", "subscription_id", "currency", "action",
                   "target_subscription_id", "needs_review", "total_cents"]].copy()
    rows["needs_review"] = rows["needs_review"].fillna(False).astype(bool)
    rows.insert(0, "run_id", run_id)
    rows["status"] = "included"
    return rows


def _item_rows(items: pd.DataFrame, run_id: int) -> pd.DataFrame:
    rows = items[["document_no", "line_no", "group_no", "customer_id", "subscription_id",
                  "document_date", "due_date", "open_cents", "currency"]].copy()
    rows["line_no"] = rows["line_no"].fillna("").astype(str)
    rows["document_date"] = as_dates(rows["document_date"])
    rows["due_date"] = as_dates(rows["due_date"])
    rows.insert(0, "run_id", run_id)
    rows["status"] = "included"
    rows["leave_reason"] = None
    return rows


def as_dates(values: pd.Series) -> pd.Series:
    """Return a column of `datetime.date` objects (None when missing), whatever its dtype."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.Series(
            [None if pd.isna(day) else day.date() for day in values], index=values.index,
            dtype=object,
        )
    return values.astype(object).where(values.notna(), None)


# Approve --------------------------------------------------------------------------------------

def approve(session: Session, run_id: int, *, approved_by: str) -> Run:
    """Approve a draft run: the approver must be another person than the preparer."""
    run = load_run(session, run_id, lock=True)
    require_state(run, (DRAFT,), _("approval"))
    if approved_by.strip().casefold() == run.prepared_by.strip().casefold():
        raise RuleRefused(
            _("Run {run_id} was prepared by {user}: another person must approve it "
              "(four eyes).").format(run_id=run.id, user=run.prepared_by)
        )

    run.state = APPROVED
    run.approved_by = approved_by
    run.approved_at = utcnow()
    totals = run_totals(session, run.id)
    audit.record(session, approved_by, "approve", run_id=run.id, **_totals_details(totals))
    log.info("approve: run %d approved by %s", run.id, approved_by)
    return run


def reject(session: Session, run_id: int, *, rejected_by: str, reason: str | None = None) -> Run:
    """Reject a draft or approved run for good (state `rejected`), never by its preparer.

    Its items were never cleared, so the next run can select them again. Rejecting an approved
    run withdraws it before posting, e.g. when a newer snapshot changed its items.
    """
    run = load_run(session, run_id, lock=True)
    require_state(run, (DRAFT, APPROVED), _("rejection"))
    if rejected_by.strip().casefold() == run.prepared_by.strip().casefold():
        raise RuleRefused(
            _("Run {run_id} was prepared by {user}: another person must reject it "
              "(four eyes).").format(run_id=run.id, user=run.prepared_by)
        )

    run.state = REJECTED
    audit.record(session, rejected_by, "reject", run_id=run.id, reason=reason)
    log.info("reject: run %d rejected by %s", run.id, rejected_by)
    return run


def auto_post_reason(run: Run, totals: RunTotals) -> str | None:
    """Return why a draft may post without approval, or None when it needs a second person.

    The policy's `auto_post_limit` bounds both the gross amount cleared (absolute values, so
    that offsets cannot hide large items) and the absolute write-off total; 0 disables it.
    """
    limit = run_params(run).auto_post_limit
    if limit <= 0 or totals.gross > limit or abs(totals.write_off) > limit:
        return None
    return _("cleared {gross} and write-off {write_off} are within the auto-post limit "
             "{limit}").format(gross=to_decimal_string(totals.gross),
                               write_off=to_decimal_string(abs(totals.write_off)),
                               limit=to_decimal_string(limit))


# Totals and report ----------------------------------------------------------------------------

def run_totals(session: Session, run_id: int) -> RunTotals:
    """Sum a run's posting groups over the items that did not leave it."""
    posting = RunGroup.action.in_(POSTING_ACTIONS)
    query = (
        select(
            func.coalesce(func.sum(RunItem.open_cents), 0),
            func.coalesce(func.sum(func.abs(RunItem.open_cents)), 0),
            func.coalesce(func.sum(case((RunGroup.action.in_(CHARGE_ACTIONS),
                                         RunItem.open_cents), else_=0)), 0),
            func.coalesce(func.sum(case((RunGroup.action == "write_off",
                                         RunItem.open_cents), else_=0)), 0),
            func.count(),
            func.count(func.distinct(RunItem.group_no)),
        )
        .select_from(RunItem)
        .join(RunGroup, (RunGroup.run_id == RunItem.run_id)
              & (RunGroup.group_no == RunItem.group_no))
        .where(RunItem.run_id == run_id, RunItem.status == "included", posting)
    )
    cleared, gross, charges, write_off, items, groups = session.execute(query).one()
    return RunTotals(int(cleared), int(gross), int(charges), int(write_off), int(items),
                     int(groups))


def _totals_details(totals: RunTotals) -> dict:
    return {
        "cleared_total": to_decimal_string(totals.cleared),
        "charge_total": to_decimal_string(totals.charges),
        "write_off_total": to_decimal_string(totals.write_off),
        "posting_items": totals.items,
        "posting_groups": totals.groups,
    }


def _timestamp(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def report(session: Session, run_id: int) -> dict:
    """Return a run's state, totals, groups (as `extract` lists them), left items, charge lines
    and warnings, with amounts as two-decimal strings."""
    run = load_run(session, run_id)
    totals = run_totals(session, run.id)
    groups = _report_groups(session, run.id)
    left = [item for group in groups for item in group["items"] if item["status"] == "left"]
    return {
        "id": run.id,
        "state": run.state,
        "as_of": run.as_of.isoformat(),
        "snapshot_batch_id": run.snapshot_batch_id,
        "policy_id": run.policy_id,
        "policy": params_as_text(run_params(run)),
        "prepared_by": run.prepared_by,
        "prepared_at": _timestamp(run.prepared_at),
        "approved_by": run.approved_by,
        "approved_at": _timestamp(run.approved_at),
        "posted_at": _timestamp(run.posted_at),
        "exported_at": _timestamp(run.exported_at),
        "settled_at": _timestamp(run.settled_at),
        "reversed_by": run.reversed_by,
        "reversed_at": _timestamp(run.reversed_at),
        "reverse_reason": run.reverse_reason,
        "cleared_total": to_decimal_string(totals.cleared),
        "charge_total": to_decimal_string(totals.charges),
        "write_off_total": to_decimal_string(totals.write_off),
        "groups": groups,
        "left_items": [
            {key: item[key] for key in ("document_no", "line_no", "open_amount", "leave_reason")}
            for item in left
        ],
        "charge_lines": _report_charge_lines(session, run.id),
        "warnings": _report_warnings(session, run.id, groups),
    }


def _report_groups(session: Session, run_id: int) -> list[dict]:
    group_rows = session.execute(
        select(RunGroup).where(RunGroup.run_id == run_id).order_by(RunGroup.group_no)
    ).scalars().all()
    item_rows = session.execute(
        select(RunItem).where(RunItem.run_id == run_id)
        .order_by(RunItem.group_no, RunItem.document_no, RunItem.line_no)
    ).scalars().all()
    items_by_group: dict[int, list[dict]] = {}
    for item in item_rows:
        items_by_group.setdefault(item.group_no, []).append({
            "document_no": item.document_no,
            "line_no": item.line_no or None,  # null when the extract has no line numbers
            "open_amount": to_decimal_string(item.open_cents),
            "status": item.status,
            "leave_reason": item.leave_reason,
        })
    return [
        {
            "group_no": group.group_no,
            "customer_id": group.customer_id,
            "subscription_id": group.subscription_id,
            "currency": group.currency,
            "action": group.action,
            "target_subscription_id": group.target_subscription_id,
            "needs_review": bool(group.needs_review),
            "total": to_decimal_string(group.total_cents),
            "status": group.status,
            "items": items_by_group.get(group.group_no, []),
        }
        for group in group_rows
    ]


def _report_charge_lines(session: Session, run_id: int) -> list[dict]:
    lines = session.execute(
        select(ChargeLine).where(ChargeLine.run_id == run_id).order_by(ChargeLine.id)
    ).scalars().all()
    return [
        {
            "line_id": line.id,
            "subscription_id": line.subscription_id,
            "amount": to_decimal_string(line.amount_cents),
            "currency": line.currency,
            "text": line.text,
            "state": line.state,
            "invoice_no": line.invoice_no,
        }
        for line in lines
    ]


def _report_warnings(session: Session, run_id: int, groups: list[dict]) -> list[str]:
    # What selection warned about at preparation is kept in the audit event of that step.
    details = session.execute(
        select(AuditEvent.details)
        .where(AuditEvent.run_id == run_id, AuditEvent.action == "prepare")
        .order_by(AuditEvent.id)
    ).scalars().first()
    warnings = list(json.loads(details).get("warnings", [])) if details else []
    for group in groups:
        if group["needs_review"]:
            warnings.append(
                _("Group {group_no} ({customer}): target {target} chosen among several valid "
                  "subscriptions; check it.").format(group_no=group["group_no"],
                                                    customer=group["customer_id"],
                                                    target=group["target_subscription_id"])
            )
        if group["action"] == "unresolved":
            warnings.append(
                _("Group {group_no} ({customer}, {total}): unresolved, left open for manual "
                  "handling.").format(group_no=group["group_no"], customer=group["customer_id"],
                                      total=group["total"])
            )
    return warnings
