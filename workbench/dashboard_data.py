"""Figures for the managers' dashboard, computed by the database with SQL aggregates.

The dashboard's first render has to stay fast at a million subscriptions, so nothing here
loads open items or run lines into Python. Each function sends one or two aggregate queries
and gets back a few rows per action, run or month. `small_balances` builds its query from the
rule expressions of `eligibility` that `selection.decide` uses, and the tests check both
against each other on the same data.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from . import eligibility, policy
from .models import AuditEvent, ImportBatch, Policy, Run, RunGroup
from .policy import PolicyParams
from .reconciliation import Reconciliation, reconcile
from .runs import DRAFT, EXPORTED, POSTED, POSTING_ACTIONS, SETTLED

log = logging.getLogger(__name__)

# The order in which the dashboard lists actions: what is charged first, what is left last.
ACTIONS = ("rebill", "reassign", "offset", "write_off", "unresolved")

# The actions that the run list and the monthly trend break down.
RUN_ACTIONS = ("rebill", "reassign", "write_off", "unresolved")

# Run states whose decisions have reached the ledger (a reversed run no longer counts).
POSTED_STATES = (POSTED, EXPORTED, SETTLED)


@dataclass(frozen=True)
class SmallBalances:
    """The small balances of the latest snapshot, by the action a run as of `as_of` would take.

    `by_action` has one row per action of `ACTIONS` (index `action`) and the integer columns
    `subscriptions`, `owed_subscriptions`, `owed_cents`, `favour_subscriptions` and
    `favour_cents`. Owed amounts are positive, amounts in the customer's favour negative.
    """

    as_of: dt.date
    snapshot_as_of: dt.date | None
    by_action: pd.DataFrame


def small_balances(session: Session, as_of: dt.date | None, params: PolicyParams
                   ) -> SmallBalances:
    """Count and sum the selected groups of the latest snapshot by decided action.

    `as_of` None means the latest snapshot's date. The eligibility, netting and threshold
    rules come from `eligibility`, as in `selection.decide`. Each group gets the first action
    that applies, in `decide`'s order: offset, write-off below the rounding step, re-bill,
    reassign, write-off within the limit, unresolved.
    """
    snapshot_id = eligibility.latest_snapshot_id(session)
    if snapshot_id is None:
        return SmallBalances(as_of or dt.date.today(), None, _empty_by_action())
    snapshot_as_of = session.execute(
        select(ImportBatch.as_of).where(ImportBatch.id == snapshot_id)).scalar_one()
    as_of = as_of or snapshot_as_of or dt.date.today()
    rules = eligibility.Rules(snapshot_id=int(snapshot_id), as_of=as_of, params=params)

    groups = eligibility.group_totals(rules, selected_only=True).subquery("selected_groups")
    total = groups.c.total_cents
    action = _action_case(groups, rules).label("action")
    query = (
        select(
            action,
            func.count().label("subscriptions"),
            func.sum(case((total > 0, 1), else_=0)).label("owed_subscriptions"),
            func.sum(case((total > 0, total), else_=0)).label("owed_cents"),
            func.sum(case((total < 0, 1), else_=0)).label("favour_subscriptions"),
            func.sum(case((total < 0, total), else_=0)).label("favour_cents"),
        )
        .select_from(groups)
        .group_by(action)
    )
    rows = pd.DataFrame(session.execute(query).mappings().all())
    return SmallBalances(as_of, snapshot_as_of, _complete_by_action(rows))


def _action_case(groups, rules: eligibility.Rules):
    total = groups.c.total_cents
    magnitude = case((total < 0, -total), else_=total)
    params = rules.params
    return case(
        (total == 0, literal("offset")),
        (magnitude < params.rounding_step, literal("write_off")),
        (eligibility.own_valid(groups, rules.as_of), literal("rebill")),
        (eligibility.any_valid(groups, rules.as_of), literal("reassign")),
        (magnitude <= params.write_off_limit, literal("write_off")),
        else_=literal("unresolved"),
    )


def _empty_by_action() -> pd.DataFrame:
    return _complete_by_action(pd.DataFrame())


def _complete_by_action(rows: pd.DataFrame) -> pd.DataFrame:
    # Every action gets a row, with zeros when no group took it.
    columns = ["subscriptions", "owed_subscriptions", "owed_cents", "favour_subscriptions",
               "favour_cents"]
    if rows.empty:
        rows = pd.DataFrame(columns=["action", *columns])
    frame = rows.set_index("action").reindex(list(ACTIONS)).fillna(0)
    frame = frame[columns].astype("int64")
    frame.index.name = "action"
    return frame


def recent_runs(session: Session, limit: int = 10) -> pd.DataFrame:
    """Return the newest runs, newest first, with their groups and net totals by action.

    Columns: `run_id`, `state`, `as_of`, `prepared_by`, `approved_by`, then for each action
    of `RUN_ACTIONS` `<action>_groups` and `<action>_cents` (integer centimes, signed). Only
    the groups still in the run count: a group that left at posting is not in the figures.
    """
    newest = select(Run.id).order_by(Run.id.desc()).limit(limit).subquery("newest_runs")
    runs = pd.DataFrame(session.execute(
        select(Run.id.label("run_id"), Run.state, Run.as_of, Run.prepared_by, Run.approved_by)
        .where(Run.id.in_(select(newest.c.id)))
        .order_by(Run.id.desc())
    ).mappings().all(), columns=["run_id", "state", "as_of", "prepared_by", "approved_by"])

    totals = pd.DataFrame(session.execute(
        select(RunGroup.run_id, RunGroup.action,
               func.count().label("groups"), func.sum(RunGroup.total_cents).label("cents"))
        .where(RunGroup.run_id.in_(select(newest.c.id)), RunGroup.status == "included")
        .group_by(RunGroup.run_id, RunGroup.action)
    ).mappings().all(), columns=["run_id", "action", "groups", "cents"])

    return runs.merge(_by_action_columns(totals, "run_id"), how="left", on="run_id").pipe(
        _zero_fill_action_columns)


def monthly_trend(session: Session, months: int = 12) -> pd.DataFrame:
    """Return the posted runs' groups and net totals by month of the run date and action.

    One row per month (`month` as `YYYY-MM`, oldest first) for the last `months` months that
    have posted runs, with `<action>_groups` and `<action>_cents` for each action of
    `RUN_ACTIONS`. Reversed runs and groups that left their run at posting are not counted.
    """
    year = func.extract("year", Run.as_of)
    month = func.extract("month", Run.as_of)
    totals = pd.DataFrame(session.execute(
        select(year.label("year"), month.label("month"), RunGroup.action,
               func.count().label("groups"), func.sum(RunGroup.total_cents).label("cents"))
        .join(RunGroup, RunGroup.run_id == Run.id)
        .where(Run.state.in_(POSTED_STATES), RunGroup.status == "included")
        .group_by(year, month, RunGroup.action)
    ).mappings().all(), columns=["year", "month", "action", "groups", "cents"])

    if totals.empty:
        return _zero_fill_action_columns(pd.DataFrame({"month": pd.Series(dtype="str")}))
    totals["month"] = [f"{int(y):04d}-{int(m):02d}" for y, m in zip(totals.year, totals.month)]
    trend = _by_action_columns(totals.drop(columns="year"), "month")
    trend = trend.sort_values("month").tail(months).reset_index(drop=True)
    return _zero_fill_action_columns(trend)


def _by_action_columns(totals: pd.DataFrame, key: str) -> pd.DataFrame:
    # Long (key, action, groups, cents) rows to one row per key with a column pair per action.
    wide = pd.DataFrame({key: pd.unique(totals[key])})
    for action in RUN_ACTIONS:
        part = totals[totals["action"] == action]
        part = part.rename(columns={"groups": f"{action}_groups", "cents": f"{action}_cents"})
        wide = wide.merge(part[[key, f"{action}_groups", f"{action}_cents"]], how="left",
                          on=key)
    return wide


def _zero_fill_action_columns(frame: pd.DataFrame) -> pd.DataFrame:
    for action in RUN_ACTIONS:
        for suffix in ("groups", "cents"):
            column = f"{action}_{suffix}"
            values = frame[column] if column in frame else pd.Series(0, index=frame.index)
            frame[column] = values.fillna(0).astype("int64")
    return frame


def pending_runs(session: Session) -> pd.DataFrame:
    """Return the draft runs that wait for approval, oldest first, with their totals.

    Columns: `run_id`, `as_of`, `prepared_by`, `prepared_at`, `groups` (the subscriptions
    that the run posts) and `cleared_cents` (the signed sum of the open amounts it clears),
    both over the groups of `runs.POSTING_ACTIONS`, as `runs.run_totals` counts them.
    """
    posting = and_(RunGroup.run_id == Run.id, RunGroup.status == "included",
                   RunGroup.action.in_(POSTING_ACTIONS))
    query = (
        select(Run.id.label("run_id"), Run.as_of, Run.prepared_by, Run.prepared_at,
               func.count(RunGroup.group_no).label("groups"),
               func.coalesce(func.sum(RunGroup.total_cents), 0).label("cleared_cents"))
        .outerjoin(RunGroup, posting)
        .where(Run.state == DRAFT)
        .group_by(Run.id, Run.as_of, Run.prepared_by, Run.prepared_at)
        .order_by(Run.id)
    )
    frame = pd.DataFrame(session.execute(query).mappings().all(),
                         columns=["run_id", "as_of", "prepared_by", "prepared_at", "groups",
                                  "cleared_cents"])
    return frame.astype({"groups": "int64", "cleared_cents": "int64"})


def pending_policies(session: Session) -> pd.DataFrame:
    """Return the policy versions proposed and not yet decided, oldest first.

    Columns: `policy_id`, `name`, `version`, `proposed_by`, `proposed_at` and `params` (the
    proposed `PolicyParams`).
    """
    rows = session.execute(
        select(Policy.id.label("policy_id"), Policy.name, Policy.version, Policy.proposed_by,
               Policy.proposed_at, Policy.params)
        .where(Policy.status == policy.PROPOSED)
        .order_by(Policy.id)
    ).mappings().all()
    frame = pd.DataFrame(rows, columns=["policy_id", "name", "version", "proposed_by",
                                        "proposed_at", "params"])
    frame["params"] = [PolicyParams.from_json(text) for text in frame["params"]]
    return frame


@dataclass(frozen=True)
class PreparedBalances:
    """Small balances computed ahead of a page view, with the data version they were read at."""

    version: tuple[int, int]
    balances: SmallBalances


def data_version(session: Session) -> tuple[int, int]:
    """Return (count, highest id) of the audit events: it changes with every committed change.

    Imports, policy decisions, run preparation, approval, posting, reversal and settlement
    each write an audit event in their own transaction, and audit events are never deleted,
    so the count grows with each of those commits.
    """
    # NOTE: a change written to the database without an audit event (by hand, say) does not
    # change the version, so prepared small balances would miss it until the next page view.
    count, highest = session.execute(
        select(func.count(), func.coalesce(func.max(AuditEvent.id), 0))).one()
    return int(count), int(highest)


def prepare_balances(session: Session) -> PreparedBalances:
    """Compute the small balances with the policy in force, ahead of a page view."""
    version = data_version(session)
    _name, params = current_policy(session)
    return PreparedBalances(version, small_balances(session, None, params))


@dataclass(frozen=True)
class Dashboard:
    """Every figure of one render of the dashboard."""

    policy_name: str | None  # None: no policy approved yet, the defaults apply
    policy: PolicyParams
    balances: SmallBalances
    runs: pd.DataFrame
    trend: pd.DataFrame
    reconciliation: Reconciliation
    pending_runs: pd.DataFrame
    pending_policies: pd.DataFrame


def load(session: Session, *, as_of: dt.date | None = None, today: dt.date | None = None,
         recent: int = 10, months: int = 12,
         prepared: PreparedBalances | None = None) -> Dashboard:
    """Compute every figure of the dashboard with the policy in force.

    Small balances are selected as of `as_of`, by default the latest snapshot's date (the
    date a run on that snapshot would typically use). `prepared` small balances are used
    instead when nothing changed since they were computed (same `data_version`) and `as_of`
    is the default. The transit reconciliation counts ages up to `today`.
    """
    started = time.perf_counter()
    policy_name, params = current_policy(session)
    reuse = (prepared is not None and as_of is None
             and prepared.version == data_version(session))
    balances = prepared.balances if reuse else small_balances(session, as_of, params)
    figures = Dashboard(
        policy_name=policy_name,
        policy=params,
        balances=balances,
        runs=recent_runs(session, recent),
        trend=monthly_trend(session, months),
        reconciliation=reconcile(session, today or dt.date.today()),
        pending_runs=pending_runs(session),
        pending_policies=pending_policies(session),
    )
    log.info("dashboard figures read in %.2f s (small balances %s)",
             time.perf_counter() - started, "prepared ahead" if reuse else "computed now")
    return figures


def current_policy(session: Session) -> tuple[str | None, PolicyParams]:
    """Return the name and parameters of the policy in force, or (None, the defaults).

    The policy in force is the only policy with an approved version; when several have one,
    the one whose version was approved last.
    """
    name = session.execute(
        select(Policy.name).where(Policy.status == policy.APPROVED)
        .order_by(Policy.decided_at.desc(), Policy.id.desc()).limit(1)
    ).scalar()
    if name is None:
        return None, PolicyParams()
    _row, params = policy.load_policy(session, name)
    return name, params
