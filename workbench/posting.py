"""Posting a run in one transaction: re-check, cleared items, journal lines and charge lines.

Journal entries, each balanced:

- re-billed or reassigned item owed by the customer: debit transit, credit AR; an item in the
  customer's favour: debit AR, credit transit (one entry per item);
- written-off item: debit the rounding account (group total below the rounding step) or the
  loss account, credit AR, or the mirror for a credit (one entry per item);
- offset group: its AR lines clear each other under one matching reference (one entry per
  group, net zero).

AR lines carry the customer, the document and the matching reference `R<run>-G<group>`, so the
ERP can clear the open item. Charge lines go to the billing system, which posts the next
invoice as debit AR, credit transit; the transit account then returns to zero.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import audit, runs
from .amounts import to_decimal_string
from .bulk import insert_frame
from .charge_texts import charge_text
from .eligibility import latest_snapshot_id
from .errors import RuleRefused, WorkbenchError
from .fetch import fetch_frame, to_dates
from .i18n import _
from .models import ChargeLine, ClearedItem, Customer, JournalLine, OpenItem, RunGroup, RunItem
from .models.base import utcnow
from .policy import PolicyParams

log = logging.getLogger(__name__)

JOURNAL_COLUMNS = ["run_id", "entry_no", "kind", "posting_date", "account", "customer_id",
                   "document_no", "matching_ref", "debit_cents", "credit_cents", "currency",
                   "text"]
CHARGE_COLUMNS = ["run_id", "group_no", "subscription_id", "customer_id", "charge_code",
                  "amount_cents", "currency", "vat_code", "text", "source_document",
                  "source_date", "state", "created_at"]


@dataclass(frozen=True)
class PostingResult:
    """Counts and totals of one posting; amounts in centimes."""

    run_id: int
    auto_posted: bool
    posted_groups: int
    left_groups: int
    left_items: int
    cleared_items: int
    journal_lines: int
    charge_lines: int
    cleared_total: int
    charge_total: int
    write_off_total: int


def post(
    session: Session, run_id: int, *, posted_by: str, posting_date: dt.date | None = None
) -> PostingResult:
    """Post a run in the caller's transaction and return what was stored.

    An approved run posts; a draft posts only within its policy's auto-post limit. Raises
    `RuleRefused` for a wrong state, or when an item is already cleared by another run.
    """
    run = runs.load_run(session, run_id, lock=True)
    params = runs.run_params(run)
    posting_date = posting_date or dt.date.today()
    auto_reason = _check_may_post(session, run)
    log.info("post: run %d start, posting date %s", run.id, posting_date)

    # 1. Re-check every posting item against the latest snapshot; changed groups leave.
    items = _load_posting_items(session, run.id)
    items, left_items, left_groups = _recheck(items)
    _mark_left(session, run.id, left_items, left_groups)
    if len(left_items):
        log.info("post: run %d, %d items in %d groups left the run", run.id, len(left_items),
                 len(left_groups))

    # 2. Clear the items: the key on (document_no, line_no) refuses a second posting.
    _insert_cleared_items(session, run.id)

    # 3. Journal and charge lines, checked before they are stored.
    journal = build_journal(items, params, run.id, posting_date)
    charges = build_charge_lines(items, params, run.id)
    check_balances(items, journal, charges, params)
    insert_frame(session, JournalLine.__table__, journal)
    insert_frame(session, ChargeLine.__table__, charges)

    # 4. State and audit, in the same transaction.
    run.state = runs.POSTED
    run.posted_at = utcnow()
    result = PostingResult(
        run_id=run.id,
        auto_posted=auto_reason is not None,
        posted_groups=int(items["group_no"].nunique()),
        left_groups=len(left_groups),
        left_items=len(left_items),
        cleared_items=len(items),
        journal_lines=len(journal),
        charge_lines=len(charges),
        cleared_total=int(items["open_cents"].sum()),
        charge_total=int(charges["amount_cents"].sum()) if len(charges) else 0,
        write_off_total=int(items.loc[items["action"] == "write_off", "open_cents"].sum()),
    )
    audit.record(
        session, posted_by, "post", run_id=run.id,
        posting_date=posting_date.isoformat(),
        auto_post=auto_reason is not None, auto_post_reason=auto_reason,
        posted_groups=result.posted_groups, left_groups=result.left_groups,
        left_items=result.left_items, cleared_items=result.cleared_items,
        journal_lines=result.journal_lines, charge_lines=result.charge_lines,
        cleared_total=to_decimal_string(result.cleared_total),
        charge_total=to_decimal_string(result.charge_total),
        write_off_total=to_decimal_string(result.write_off_total),
    )
    log.info("post: run %d end, %d items cleared, %d journal lines, %d charge lines, "
             "cleared %s, charges %s, write-off %s", run.id, result.cleared_items,
             result.journal_lines, result.charge_lines, to_decimal_string(result.cleared_total),
             to_decimal_string(result.charge_total), to_decimal_string(result.write_off_total))
    return result


def _check_may_post(session: Session, run) -> str | None:
    # Returns the auto-post reason for a draft, None for an approved run.
    runs.require_state(run, (runs.DRAFT, runs.APPROVED), _("posting"))
    if run.state == runs.APPROVED:
        return None
    reason = runs.auto_post_reason(run, runs.run_totals(session, run.id))
    if reason is None:
        raise RuleRefused(
            _("Run {run_id} is a draft: another person must approve it before it is posted "
              "(run approve {run_id} --by USER).").format(run_id=run.id)
        )
    return reason


# Re-check -------------------------------------------------------------------------------------

def _load_posting_items(session: Session, run_id: int) -> pd.DataFrame:
    """Read the run's items in posting groups, with the latest snapshot's open amount of each."""
    snapshot_id = latest_snapshot_id(session)
    snapshot = (
        select(OpenItem.document_no, OpenItem.line_no, OpenItem.open_cents)
        .where(OpenItem.batch_id == (snapshot_id if snapshot_id is not None else -1))
        .subquery()
    )
    query = (
        select(
            RunItem.group_no, RunItem.document_no, RunItem.line_no, RunItem.customer_id,
            RunItem.document_date, RunItem.open_cents, RunItem.currency,
            RunGroup.action, RunGroup.target_subscription_id,
            RunGroup.total_cents.label("group_total"),
            func.coalesce(Customer.language, "fr").label("language"),
            snapshot.c.open_cents.label("snapshot_cents"),
        )
        .join(RunGroup, (RunGroup.run_id == RunItem.run_id)
              & (RunGroup.group_no == RunItem.group_no))
        .outerjoin(Customer, Customer.customer_id == RunItem.customer_id)
        .outerjoin(snapshot, (snapshot.c.document_no == RunItem.document_no)
                   & (snapshot.c.line_no == RunItem.line_no))
        .where(RunItem.run_id == run_id, RunItem.status == "included",
               RunGroup.action.in_(runs.POSTING_ACTIONS))
    )
    items = fetch_frame(session, query)
    for column in ("group_no", "open_cents", "group_total"):
        items[column] = items[column].astype("int64")
    items["snapshot_cents"] = items["snapshot_cents"].astype("Int64")
    items["document_date"] = to_dates(items["document_date"])
    return items.sort_values(["group_no", "document_no", "line_no"], kind="stable",
                             ignore_index=True)


def _recheck(items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Index]:
    """Split items into those still posting and those leaving, with the leave reason of each.

    An item no longer open (absent or zero) leaves as `closed`, and one whose open amount
    differs leaves as `changed`. The other items of their groups leave as `group_changed`,
    because the group's total is no longer the one decided.
    """
    closed = items["snapshot_cents"].isna() | items["snapshot_cents"].eq(0).fillna(False)
    changed = ~closed & items["snapshot_cents"].ne(items["open_cents"]).fillna(False)
    left_groups = pd.Index(items.loc[closed | changed, "group_no"].unique())
    leaving = items["group_no"].isin(left_groups)

    left = items.loc[leaving, ["document_no", "line_no", "group_no"]].copy()
    left["leave_reason"] = "group_changed"
    left.loc[changed[leaving], "leave_reason"] = "changed"
    left.loc[closed[leaving], "leave_reason"] = "closed"
    return items.loc[~leaving].reset_index(drop=True), left, left_groups


def _mark_left(session: Session, run_id: int, left: pd.DataFrame, groups: pd.Index) -> None:
    if len(left):
        session.execute(
            update(RunItem),
            [
                {"run_id": run_id, "document_no": doc, "line_no": line, "status": "left",
                 "leave_reason": reason}
                for doc, line, reason in left[["document_no", "line_no", "leave_reason"]]
                .itertuples(index=False, name=None)
            ],
        )
    if len(groups):
        session.execute(
            update(RunGroup),
            [{"run_id": run_id, "group_no": int(no), "status": "left"} for no in groups],
        )


# Cleared items --------------------------------------------------------------------------------

def _insert_cleared_items(session: Session, run_id: int) -> None:
    posting_items = (
        select(RunItem.document_no, RunItem.line_no, RunItem.run_id, RunItem.open_cents)
        .join(RunGroup, (RunGroup.run_id == RunItem.run_id)
              & (RunGroup.group_no == RunItem.group_no))
        .where(RunItem.run_id == run_id, RunItem.status == "included",
               RunGroup.action.in_(runs.POSTING_ACTIONS))
    )
    _refuse_cleared_elsewhere(session, run_id, posting_items.subquery())
    try:
        session.execute(
            insert(ClearedItem).from_select(
                ["document_no", "line_no", "run_id", "open_cents"], posting_items
            )
        )
    except IntegrityError as error:
        # Another transaction cleared one of these items after the check above.
        raise RuleRefused(
            _("Run {run_id} was not posted: another posting cleared some of its items at the "
              "same time. Prepare a new run.").format(run_id=run_id)
        ) from error


def _refuse_cleared_elsewhere(session: Session, run_id: int, posting_items) -> None:
    conflicts = session.execute(
        select(ClearedItem.document_no, ClearedItem.line_no, ClearedItem.run_id)
        .join(posting_items, (posting_items.c.document_no == ClearedItem.document_no)
              & (posting_items.c.line_no == ClearedItem.line_no))
        .order_by(ClearedItem.document_no, ClearedItem.line_no)
        .limit(6)
    ).all()
    if not conflicts:
        return
    listed = ", ".join(
        _("{document} (run {other})").format(
            document=doc + (f"/{line}" if line else ""), other=other)
        for doc, line, other in conflicts[:5]
    )
    raise RuleRefused(
        _("Run {run_id} was not posted: items already cleared by another posted run: {items}. "
          "Prepare a new run.").format(run_id=run_id, items=listed + (" ..." if len(conflicts) > 5
                                                                       else ""))
    )


# Journal lines --------------------------------------------------------------------------------

def build_journal(
    items: pd.DataFrame, params: PolicyParams, run_id: int, posting_date: dt.date
) -> pd.DataFrame:
    """Return the journal lines of the posting items (sorted by group and document), in order."""
    if items.empty:
        return pd.DataFrame(columns=JOURNAL_COLUMNS)
    is_offset = items["action"].eq("offset")
    # An offset group is one entry; every other item is an entry of its own.
    new_entry = ~is_offset | items["group_no"].ne(items["group_no"].shift())
    entry_no = new_entry.cumsum().astype("int64")
    matching_ref = "R" + str(run_id) + "-G" + items["group_no"].astype(str)
    text = _journal_texts(items, params)
    amount = items["open_cents"].astype("int64")

    ar = pd.DataFrame({
        "entry_no": entry_no,
        "account": params.ar_account,
        "debit_cents": (-amount).clip(lower=0),
        "credit_cents": amount.clip(lower=0),
    })
    counter = pd.DataFrame({
        "entry_no": entry_no,
        "account": _counter_accounts(items, params),
        "debit_cents": amount.clip(lower=0),
        "credit_cents": (-amount).clip(lower=0),
    })[~is_offset]
    shared = pd.DataFrame({
        "customer_id": items["customer_id"], "document_no": items["document_no"],
        "matching_ref": matching_ref, "currency": items["currency"], "text": text,
        "sequence": range(len(items)),
    })
    lines = pd.concat([ar.join(shared), counter.join(shared)], ignore_index=True)

    # Debit lines first within an entry, then the items' order.
    lines["is_credit"] = lines["credit_cents"] > 0
    lines = lines.sort_values(["entry_no", "is_credit", "sequence"], kind="stable",
                              ignore_index=True)
    lines["run_id"] = run_id
    lines["kind"] = "post"
    lines["posting_date"] = posting_date
    return lines[JOURNAL_COLUMNS]


def _counter_accounts(items: pd.DataFrame, params: PolicyParams) -> pd.Series:
    below_step = items["group_total"].abs() < params.rounding_step
    write_off_account = below_step.map({True: params.rounding_account,
                                        False: params.loss_account})
    return write_off_account.where(items["action"].eq("write_off"), params.transit_account)


def _journal_texts(items: pd.DataFrame, params: PolicyParams) -> pd.Series:
    # Texts in the language of the person posting, fixed in the journal when it is stored.
    templates = {
        "rebill": _("Small balance re-billed to subscription {subscription}"),
        "reassign": _("Small balance reassigned to subscription {subscription}"),
        "offset": _("Open items offset against each other"),
    }
    rounding = _("Small balance written off (rounding)")
    loss = _("Small balance written off (no valid subscription)")
    below_step = (items["group_total"].abs() < params.rounding_step).tolist()
    return pd.Series(
        [
            (rounding if small else loss) if action == "write_off"
            else templates[action].format(subscription=target)
            for action, target, small in zip(items["action"], items["target_subscription_id"],
                                             below_step)
        ],
        index=items.index, dtype=object,
    )


# Charge lines ---------------------------------------------------------------------------------

def build_charge_lines(items: pd.DataFrame, params: PolicyParams, run_id: int) -> pd.DataFrame:
    """Return the charge lines of the re-billed and reassigned items.

    One line per item (`line_mode` "item"), or per group (`line_mode` "group", naming the
    group's first document by date and the number of items).
    """
    charged = items[items["action"].isin(runs.CHARGE_ACTIONS)]
    if charged.empty:
        return pd.DataFrame(columns=CHARGE_COLUMNS)
    if params.line_mode == "group":
        lines = _group_lines(charged)
    else:
        lines = charged.assign(count=1, amount_cents=charged["open_cents"])

    dates = runs.as_dates(lines["document_date"])
    texts = [
        charge_text(lang, doc, day, cents, count)
        for lang, doc, day, cents, count in zip(lines["language"], lines["document_no"], dates,
                                                 lines["open_cents"], lines["count"])
    ]
    return pd.DataFrame({
        "run_id": run_id,
        "group_no": lines["group_no"].to_numpy(),
        "subscription_id": lines["target_subscription_id"].to_numpy(),
        "customer_id": lines["customer_id"].to_numpy(),
        "charge_code": params.charge_code,
        "amount_cents": lines["amount_cents"].astype("int64").to_numpy(),
        "currency": lines["currency"].to_numpy(),
        "vat_code": params.vat_code,
        "text": texts,
        "source_document": lines["document_no"].to_numpy(),
        "source_date": dates.to_numpy(),
        "state": "open",
        "created_at": utcnow(),
    })[CHARGE_COLUMNS]


def _group_lines(charged: pd.DataFrame) -> pd.DataFrame:
    # The first document of a group: earliest document date (undated last), then number.
    ordered = charged.sort_values(["group_no", "document_date", "document_no", "line_no"],
                                  na_position="last", kind="stable")
    first = ordered.groupby("group_no", sort=True).head(1).set_index("group_no")
    sums = ordered.groupby("group_no", sort=True).agg(amount_cents=("open_cents", "sum"),
                                                      count=("open_cents", "size"))
    return first.join(sums).reset_index()


# Checks ---------------------------------------------------------------------------------------

def check_balances(
    items: pd.DataFrame, journal: pd.DataFrame, charges: pd.DataFrame, params: PolicyParams
) -> None:
    """Raise `WorkbenchError` unless every entry balances and AR cleared equals charge lines
    plus write-offs (offsets net to zero), and the transit account carries the charge lines."""
    if journal.empty:
        return
    sums = journal.groupby("entry_no")[["debit_cents", "credit_cents"]].sum()
    unbalanced = sums.index[sums["debit_cents"] != sums["credit_cents"]]

    on_ar = journal["account"].eq(params.ar_account)
    ar_cleared = int((journal.loc[on_ar, "credit_cents"] - journal.loc[on_ar, "debit_cents"]).sum())
    charge_total = int(charges["amount_cents"].sum()) if len(charges) else 0
    write_off_total = int(items.loc[items["action"] == "write_off", "open_cents"].sum())
    offset_total = int(items.loc[items["action"] == "offset", "open_cents"].sum())
    on_transit = journal["account"].eq(params.transit_account)
    transit = int((journal.loc[on_transit, "debit_cents"]
                   - journal.loc[on_transit, "credit_cents"]).sum())

    if (len(unbalanced) or offset_total != 0 or ar_cleared != charge_total + write_off_total
            or transit != charge_total):
        raise WorkbenchError(
            _("Posting stopped, nothing was stored: the journal does not balance (entries "
              "{entries}; AR cleared {ar}, charge lines {charges}, write-offs {write_off}, "
              "offsets {offsets}, transit {transit}).").format(
                entries=", ".join(str(no) for no in unbalanced[:10]) or "-",
                ar=to_decimal_string(ar_cleared), charges=to_decimal_string(charge_total),
                write_off=to_decimal_string(write_off_total),
                offsets=to_decimal_string(offset_total), transit=to_decimal_string(transit))
        )
