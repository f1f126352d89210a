"""Posting step: post and export a run of 100,000 groups, beside plain bulk inserts of its rows.

The run is built from the latest snapshot's items that no run has cleared: the first 100,000
(customer, subscription, currency) groups, with actions mixed the way a month's run mixes
them (offsets, rounding and loss write-offs, re-bills, reassignments). Selection is timed in
its own step, so this one freezes these groups directly. The floor inserts the same journal
lines, charge lines and cleared items into empty copies of their tables with the same bulk
path (COPY on PostgreSQL, executemany on SQLite), in one transaction. At the end the run is
reversed, which reopens its items for the steps that follow, and the reversal is timed too.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from run import Bench, Measurement
from sqlalchemy import Column, ForeignKey, Index, MetaData, Table, select

from workbench import db, eligibility, exports, posting, reversal, runs
from workbench.bulk import insert_frame
from workbench.models import ChargeLine, ClearedItem, ImportBatch, JournalLine, OpenItem, Run
from workbench.policy import PolicyParams
from workbench.selection import EXCLUDED_COLUMNS, Decision

GROUPS = 100_000
TARGET_RATIO = 3.0


def post_and_export(bench: Bench) -> None:
    """Time posting and exporting 100,000 groups against the bulk-insert floor of its rows."""
    _ensure_data(bench)
    engine = db.get_engine(bench.db_url)
    run_id, group_count, item_count = _approved_run(engine)
    print(f"posting: run {run_id} with {group_count:,} groups, {item_count:,} items", flush=True)

    out_dir = bench.work_dir / "posting"
    with bench.timer() as elapsed:
        with db.session_scope(engine) as session:
            result = posting.post(session, run_id, posted_by="bench-poster")
        with db.session_scope(engine) as session:
            exports.export_run(session, run_id, out_dir, exported_by="bench-poster")
    rows = result.journal_lines + result.charge_lines + result.cleared_items

    floor = _bulk_insert_floor(bench, engine, run_id)
    bench.measure(Measurement(
        f"post and export {group_count:,} groups", elapsed(),
        floor_name="bulk insert of the same rows", floor_seconds=floor,
        target_ratio=TARGET_RATIO, rows=rows,
    ))
    print(f"posting: {result.journal_lines:,} journal lines, {result.charge_lines:,} charge "
          f"lines, {result.cleared_items:,} cleared items", flush=True)

    with bench.timer() as reverse_time:
        with db.session_scope(engine) as session:
            reversal.reverse(session, run_id, reversed_by="bench-reviewer",
                             reason="benchmark clean-up", out_dir=out_dir)
    bench.measure(Measurement(f"reverse {group_count:,} groups", reverse_time(), rows=rows))


def _ensure_data(bench: Bench) -> None:
    db.upgrade(bench.db_url)
    engine = db.get_engine(bench.db_url)
    with db.session_scope(engine) as session:
        if eligibility.latest_snapshot_id(session) is not None:
            return
    from workbench.demo import load_demo

    print(f"posting: no snapshot yet, loading the demo utility ({bench.subscriptions:,} "
          "subscriptions)", flush=True)
    load_demo(engine, bench.work_dir / "demo", subscriptions=bench.subscriptions)


# The run ---------------------------------------------------------------------------------------

def _approved_run(engine) -> tuple[int, int, int]:
    """Freeze the first GROUPS groups of uncleared items as a run and approve it."""
    params = PolicyParams()
    with db.session_scope(engine) as session:
        snapshot_id = eligibility.latest_snapshot_id(session)
        as_of = session.get(ImportBatch, snapshot_id).as_of or dt.date.today()
        items = _uncleared_items(session, snapshot_id)
        groups, items = _decided_groups(items, params)
        decision = Decision(as_of=as_of, params=params, snapshot_batch_id=snapshot_id,
                            groups=groups, items=items,
                            excluded=pd.DataFrame(columns=EXCLUDED_COLUMNS), warnings=[])
        run_id = runs.freeze(session, decision, prepared_by="bench-preparer")
        runs.approve(session, run_id, approved_by="bench-reviewer")
    return run_id, len(groups), len(items)


def _uncleared_items(session, snapshot_id: int) -> pd.DataFrame:
    query = (
        select(OpenItem.document_no, OpenItem.line_no, OpenItem.customer_id,
               OpenItem.subscription_id, OpenItem.currency, OpenItem.document_date,
               OpenItem.due_date, OpenItem.open_cents)
        .outerjoin(ClearedItem, (ClearedItem.document_no == OpenItem.document_no)
                   & (ClearedItem.line_no == OpenItem.line_no))
        .where(OpenItem.batch_id == snapshot_id, OpenItem.open_cents != 0,
               ClearedItem.run_id.is_(None))
        # NULLS FIRST on both engines, so that SQLite and PostgreSQL post the same groups.
        .order_by(OpenItem.customer_id, OpenItem.subscription_id.nulls_first(),
                  OpenItem.currency, OpenItem.document_no, OpenItem.line_no)
    )
    result = session.execute(query)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()), dtype=object)
    frame["open_cents"] = frame["open_cents"].astype("int64")
    return frame


def _decided_groups(items: pd.DataFrame, params: PolicyParams) -> tuple[pd.DataFrame,
                                                                        pd.DataFrame]:
    keys = ["customer_id", "subscription_id", "currency"]
    items = items.copy()
    items["group_no"] = items.groupby(keys, sort=False, dropna=False).ngroup().astype("int64") + 1
    items = items[items["group_no"] <= GROUPS].reset_index(drop=True)

    groups = items.groupby("group_no", sort=True).agg(
        customer_id=("customer_id", "first"), subscription_id=("subscription_id", "first"),
        currency=("currency", "first"), total_cents=("open_cents", "sum"),
        item_count=("open_cents", "size"),
    ).reset_index()
    # A month's mix: 10 % loss write-offs, 20 % reassignments, the rest re-billed; zero
    # totals offset and totals below the rounding step are rounding write-offs.
    share = groups["group_no"] % 10
    action = pd.Series("rebill", index=groups.index, dtype=object)
    action[share.isin([1, 2])] = "reassign"
    action[share == 0] = "write_off"
    action[groups["total_cents"].abs() < params.rounding_step] = "write_off"
    action[groups["total_cents"] == 0] = "offset"
    groups["action"] = action
    charged = action.isin(runs.CHARGE_ACTIONS)
    groups["target_subscription_id"] = groups["subscription_id"].fillna("BENCH-TARGET").where(
        charged, None)
    groups["needs_review"] = False
    return groups, items


# The floor -------------------------------------------------------------------------------------

def _bulk_insert_floor(bench: Bench, engine, run_id: int) -> float:
    """Insert the run's journal lines, charge lines and cleared items into empty copies of
    their tables, and return the seconds the inserts took."""
    with db.session_scope(engine) as session:
        frames = [_stored_rows(session, JournalLine, run_id),
                  _stored_rows(session, ChargeLine, run_id),
                  _stored_rows(session, ClearedItem, run_id)]
    metadata = MetaData()
    copies = [_empty_copy(model.__table__, metadata)
              for model in (JournalLine, ChargeLine, ClearedItem)]
    metadata.create_all(engine)
    try:
        with bench.timer() as elapsed:
            with db.session_scope(engine) as session:
                for copy, frame in zip(copies, frames):
                    insert_frame(session, copy, frame)
    finally:
        metadata.drop_all(engine)
    return elapsed()


def _stored_rows(session, model, run_id: int) -> pd.DataFrame:
    table = model.__table__
    columns = [column for column in table.columns if column.name != "id"]
    result = session.execute(select(*columns).where(table.c.run_id == run_id))
    return pd.DataFrame(result.all(), columns=list(result.keys()), dtype=object)


def _empty_copy(table: Table, metadata: MetaData) -> Table:
    # Same columns, keys, foreign keys and indexes, so the floor pays the same checks.
    columns = [
        Column(column.name, column.type, *[ForeignKey(key.column) for key in column.foreign_keys],
               primary_key=column.primary_key, nullable=column.nullable,
               autoincrement=column.autoincrement)
        for column in table.columns
    ]
    copy = Table(f"bench_{table.name}", metadata, *columns)
    for index in table.indexes:
        Index(f"bench_{index.name}", *[copy.c[column.name] for column in index.columns],
              unique=index.unique)
    return copy


STEPS = [("posting", post_and_export)]
