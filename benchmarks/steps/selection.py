"""Selection step: `selection.decide` and the threshold curve on 2 open items per subscription.

The step works on the latest open-items snapshot when it has at least two items per
subscription (`bench.subscriptions`). Otherwise it writes one itself with numpy and a bulk
insert (executemany on SQLite, COPY on PostgreSQL), with subscriptions and customers too when
the import step left none. That snapshot becomes the latest one for the steps that follow.

Measured, each after one unmeasured warm-up query that loads the table into the cache:

- the floor, one plain `GROUP BY customer_id, subscription_id, currency` sum over the
  snapshot's items, fetched into Python;
- `decide` as a run uses it (groups, items, counts per reason), target <= 1.5x the floor;
- `decide` listing every excluded item with its reason, as `extract --format json` does;
- building the threshold curve, then the mean time of `curve.at` over many threshold pairs
  (target < 50 ms per change of a slider).
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
from run import Bench, Measurement, peak_memory_mb
from sqlalchemy import Engine, func, select, text

from workbench import db, selection
from workbench.curve import build_curve
from workbench.importing import latest_snapshot_id
from workbench.models import ImportBatch, OpenItem, Subscription
from workbench.models.base import utcnow
from workbench.policy import PolicyParams

AS_OF = dt.date(2026, 11, 30)
SEED = 4_2026
ITEMS_PER_SUBSCRIPTION = 2
DECIDE_RATIO = 1.5
CURVE_LOOKUP_SECONDS = 0.05
CURVE_LOOKUPS = 1000
INSERT_ROWS = 200_000  # rows per executemany or COPY round


def select_and_curve(bench: Bench) -> None:
    """Time decide and the curve on the snapshot beside the plain GROUP BY floor."""
    db.upgrade(bench.db_url)
    engine = db.get_engine(bench.db_url)
    snapshot_id, item_count = _ensure_snapshot(bench, engine)
    as_of = bench.state.get("as_of", AS_OF)
    params = PolicyParams()
    print(f"selection: snapshot {snapshot_id} with {item_count:,} open items", flush=True)

    _group_by_floor(engine, snapshot_id)  # warm-up: the table is read from disk once
    with bench.timer() as floor_time:
        group_count = _group_by_floor(engine, snapshot_id)
    floor = floor_time()
    print(f"selection: the floor returned {group_count:,} groups", flush=True)

    with bench.timer() as elapsed:
        with db.session_scope(engine) as session:
            decision = selection.decide(session, as_of, params, snapshot_id=snapshot_id,
                                        list_excluded=False)
    bench.measure(Measurement(
        "decide: groups, items, reason counts", elapsed(), floor_name="plain GROUP BY sum",
        floor_seconds=floor, target_ratio=DECIDE_RATIO, rows=item_count,
    ))
    print(f"selection: {len(decision.groups):,} groups, {len(decision.items):,} items "
          "selected; " + ", ".join(f"{row.reason} {row.item_count:,}"
                                   for row in decision.reasons.itertuples(index=False)),
          flush=True)

    with bench.timer() as elapsed:
        with db.session_scope(engine) as session:
            listed = selection.decide(session, as_of, params, snapshot_id=snapshot_id)
    bench.measure(Measurement(
        "decide: listing every excluded item", elapsed(), floor_name="plain GROUP BY sum",
        floor_seconds=floor, rows=len(listed.excluded) + len(listed.items),
    ))
    del listed

    with bench.timer() as elapsed:
        with db.session_scope(engine) as session:
            curve = build_curve(session, as_of, params, snapshot_id=snapshot_id)
    bench.measure(Measurement(
        "threshold curve: build", elapsed(), floor_name="plain GROUP BY sum",
        floor_seconds=floor, rows=curve.eligible_groups,
    ))

    rng = np.random.default_rng(SEED)
    pairs = rng.integers(0, 5_000, size=(CURVE_LOOKUPS, 2)).tolist()
    start = time.perf_counter()
    for debit, credit in pairs:
        curve.at(debit, credit)
    per_lookup = (time.perf_counter() - start) / CURVE_LOOKUPS
    bench.measure(Measurement(
        "threshold curve: one lookup (mean)", per_lookup,
        target_seconds=CURVE_LOOKUP_SECONDS,
    ))
    print(f"selection: one curve lookup takes {per_lookup * 1e6:,.0f} microseconds "
          f"(mean of {CURVE_LOOKUPS:,})", flush=True)
    _check_curve(curve, decision, params)
    print(f"selection: peak memory so far {peak_memory_mb():,.0f} MB (target < 2048 MB)",
          flush=True)


def _group_by_floor(engine: Engine, snapshot_id: int) -> int:
    items = OpenItem.__table__
    query = (
        select(items.c.customer_id, items.c.subscription_id, items.c.currency,
               func.sum(items.c.open_cents))
        .where(items.c.batch_id == snapshot_id)
        .group_by(items.c.customer_id, items.c.subscription_id, items.c.currency)
    )
    with engine.connect() as conn:
        return len(conn.execute(query).all())


def _check_curve(curve, decision, params: PolicyParams) -> None:
    # Timing a wrong result would be worthless, so one point of the curve is compared.
    at = curve.at(params.debit_threshold, params.credit_threshold)
    if int(at["groups"].sum()) != len(decision.groups) or \
            int(at["total_cents"].sum()) != int(decision.groups["total_cents"].sum()):
        raise AssertionError("the threshold curve disagrees with decide at the policy's thresholds")


# The snapshot ----------------------------------------------------------------------------------

def _ensure_snapshot(bench: Bench, engine: Engine) -> tuple[int, int]:
    """Return the snapshot to measure and its item count, writing one when it is too small."""
    required = bench.subscriptions * ITEMS_PER_SUBSCRIPTION
    with engine.connect() as conn:
        snapshot_id = latest_snapshot_id(conn)
        count = 0 if snapshot_id is None else conn.execute(
            select(func.count()).where(OpenItem.batch_id == snapshot_id)).scalar()
    if count >= required:
        return snapshot_id, count

    start = time.perf_counter()
    with engine.connect() as conn:
        subscriptions = [tuple(row) for row in conn.execute(
            select(Subscription.subscription_id, Subscription.customer_id)
            .order_by(Subscription.subscription_id)
        )]
    if not subscriptions:
        subscriptions = _write_subscriptions(engine, bench.subscriptions)
    snapshot_id = _write_open_items(engine, subscriptions, required)
    print(f"selection: wrote a snapshot of {required:,} open items over {len(subscriptions):,} "
          f"subscriptions in {time.perf_counter() - start:,.0f} s", flush=True)
    return snapshot_id, required


def _write_subscriptions(engine: Engine, count: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(SEED)
    customer = np.arange(count) * max(1, count * 3 // 5) // count
    subscription_ids = np.char.add("S", np.char.zfill(np.arange(1, count + 1).astype(str), 8))
    customer_ids = np.char.add("C", np.char.zfill((customer + 1).astype(str), 7))
    start = np.datetime64(AS_OF) - rng.integers(1, 20 * 365, count).astype("timedelta64[D]")
    end = start + rng.integers(30, 3650, count).astype("timedelta64[D]")
    ended = rng.random(count) < 0.12
    batch_id = _new_batch(engine, "subscriptions", None, count)

    unique_customers = np.unique(customer_ids).tolist()
    _bulk_insert(engine, "customers", ["customer_id", "name", "language"],
                 [[(customer, f"Client {customer}", "fr") for customer in unique_customers]])
    start_texts = np.datetime_as_string(start, unit="D")
    end_texts = np.where(ended, np.datetime_as_string(end, unit="D"), None)
    _bulk_insert(
        engine, "subscriptions",
        ["subscription_id", "customer_id", "service", "start_date", "end_date", "batch_id"],
        (list(zip(subscription_ids[part].tolist(), customer_ids[part].tolist(),
                  ["electricity"] * len(part), start_texts[part].tolist(),
                  end_texts[part].tolist(), [batch_id] * len(part)))
         for part in _parts(count)),
    )
    return list(zip(subscription_ids.tolist(), customer_ids.tolist()))


def _write_open_items(engine: Engine, subscriptions: list[tuple[str, str]], count: int) -> int:
    """Write a snapshot like a month's ERP extract: half small residuals, the rest invoices."""
    rng = np.random.default_rng(SEED + 1)
    subscription_ids = np.array([sub for sub, _customer in subscriptions], dtype=object)
    customer_ids = np.array([customer for _sub, customer in subscriptions], dtype=object)
    batch_id = _new_batch(engine, "open_items", AS_OF, count)

    def rows(part: np.ndarray) -> list[tuple]:
        size = len(part)
        pick = rng.integers(0, len(subscriptions), size)
        document_date = np.datetime64(AS_OF) - rng.integers(0, 540, size).astype("timedelta64[D]")
        residual = rng.integers(1, 500, size) * np.where(rng.random(size) < 0.3, -1, 1)
        invoice = rng.integers(1_000, 500_000, size)
        open_cents = np.where(rng.random(size) < 0.5, residual, invoice).tolist()
        no_subscription = rng.random(size) < 0.03
        blocked = rng.random(size) < 0.05
        return list(zip(
            [batch_id] * size,
            np.char.add("B", part.astype(str)).tolist(),
            [""] * size,
            customer_ids[pick].tolist(),
            np.where(no_subscription, None, subscription_ids[pick]).tolist(),
            np.datetime_as_string(document_date, unit="D").tolist(),
            np.datetime_as_string(document_date + np.timedelta64(30, "D"), unit="D").tolist(),
            open_cents,
            open_cents,
            np.where(rng.random(size) < 0.01, "EUR", "CHF").tolist(),
            np.where(blocked, "dispute", None).tolist(),
        ))

    _bulk_insert(engine, "open_items",
                 ["batch_id", "document_no", "line_no", "customer_id", "subscription_id",
                  "document_date", "due_date", "amount_cents", "open_cents", "currency", "block"],
                 (rows(part) for part in _parts(count)))
    return batch_id


def _parts(count: int):
    # Rows are built and inserted a slice at a time, so that the benchmark's own data does not
    # dominate the peak memory it reports.
    for start in range(0, count, INSERT_ROWS):
        yield np.arange(start, min(start + INSERT_ROWS, count))


def _new_batch(engine: Engine, kind: str, as_of: dt.date | None, rows: int) -> int:
    with engine.begin() as conn:
        return conn.execute(
            ImportBatch.__table__.insert().values(
                kind=kind, file_name=f"benchmark-{kind}", file_sha256=f"benchmark-{kind}-{rows}",
                as_of=as_of, row_count=rows, rejected_count=0, imported_by="bench",
                imported_at=utcnow(),
            ).returning(ImportBatch.__table__.c.id)
        ).scalar_one()


def _bulk_insert(engine: Engine, table: str, columns: list[str], parts) -> None:
    """Insert row lists, one list at a time, in one transaction: COPY or executemany."""
    names = ", ".join(columns)
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for rows in parts:
            if engine.dialect.name == "postgresql":
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f"ANALYZE {table}"))


STEPS = [("selection", select_and_curve)]
