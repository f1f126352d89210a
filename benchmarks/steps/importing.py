"""Import step: a subscriptions extract and an open-items extract, beside plain bulk inserts.

The step writes two extracts in Swiss export formats into the work folder. One has
`bench.subscriptions` subscriptions with their customers, the other as many open items
(1,000,000 by default), each on a random subscription. Amounts are written like `1'234.50`,
`0.50-` and `100.--`, dates like `31.12.2026`. The step times `import_subscriptions` and `import_open_items`, file to committed rows.

The floor of each is a plain insert of the same rows, already parsed, into empty copies of the
tables with the same keys and indexes, in one transaction: the driver's `executemany` on SQLite,
COPY with psycopg's `write_row` on PostgreSQL. The extracts' paths, the
as-of date and the batch ids stay in `bench.state` for the later steps.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
from run import Bench, Measurement, peak_memory_mb
from sqlalchemy import Column, Engine, ForeignKey, Index, MetaData, Table, UniqueConstraint

from workbench import db, importing
from workbench.models import Customer, OpenItem, Subscription

AS_OF = dt.date(2026, 11, 30)
SEED = 20261130
TARGET_RATIO = 2.0

FIRST_NAMES = ("Marie", "Luc", "Anne", "Hans", "Léa", "Urs", "Sophie", "Jürg", "Chloé", "Marco")
LAST_NAMES = ("Dupont", "Favre", "Rochat", "Müller", "Bonvin", "Meier", "Cuche", "Zürcher",
              "Perret", "Rossi")
LANGUAGES = ("fr", "de", "it", "en")
LANGUAGE_SHARES = (0.6, 0.3, 0.07, 0.03)
SERVICES = ("electricity", "water", "gas", "waste", "fibre")
BLOCKS = ("dunning", "dispute", "payment_plan", "collection")


def import_extracts(bench: Bench) -> None:
    """Write both extracts, then time each import beside the insert of its parsed rows."""
    db.upgrade(bench.db_url)
    engine = db.get_engine(bench.db_url)
    rng = np.random.default_rng(SEED)
    count = bench.subscriptions

    subscriptions = _subscriptions(rng, count)
    subscriptions_path = bench.work_dir / "subscriptions.csv"
    _write_subscriptions(subscriptions_path, subscriptions)
    items = _open_items(rng, count, subscriptions)
    open_items_path = bench.work_dir / "open_items.csv"
    _write_open_items(open_items_path, items, rng)
    print(f"importing: wrote {count:,} subscriptions and {count:,} open items "
          f"({open_items_path.stat().st_size / 2**20:,.0f} MB)", flush=True)

    with bench.timer() as elapsed:
        result = importing.import_subscriptions(engine, subscriptions_path, actor="bench")
    floor = _floor(engine, [
        (Customer.__table__, _customer_rows(subscriptions)),
        (Subscription.__table__, _subscription_rows(subscriptions, result.batch_id)),
    ])
    bench.measure(Measurement(
        f"import {count:,} subscriptions", elapsed(), floor_name="plain insert of parsed rows",
        floor_seconds=floor, target_ratio=TARGET_RATIO, rows=result.rows,
    ))
    bench.state["subscriptions_file"] = subscriptions_path
    bench.state["subscriptions_batch_id"] = result.batch_id

    with bench.timer() as elapsed:
        result = importing.import_open_items(engine, open_items_path, as_of=AS_OF, actor="bench")
    floor = _floor(engine, [(OpenItem.__table__, _open_item_rows(items, result.batch_id))])
    bench.measure(Measurement(
        f"import {count:,} open items", elapsed(), floor_name="plain insert of parsed rows",
        floor_seconds=floor, target_ratio=TARGET_RATIO, rows=result.rows,
    ))
    bench.state["open_items_file"] = open_items_path
    bench.state["open_items_batch_id"] = result.batch_id
    bench.state["as_of"] = AS_OF
    print(f"importing: peak memory so far {peak_memory_mb():,.0f} MB", flush=True)


# The extracts ----------------------------------------------------------------------------------

def _subscriptions(rng: np.random.Generator, count: int) -> dict[str, np.ndarray]:
    customer_count = max(1, count * 3 // 5)
    customer = np.arange(count) * customer_count // count
    days = rng.integers(1, 20 * 365, count).astype("timedelta64[D]")
    start = np.datetime64(AS_OF) - days
    ended = rng.random(count) < 0.12
    end = np.where(ended, start + rng.integers(30, 3650, count).astype("timedelta64[D]"),
                   np.datetime64("NaT"))
    next_billing = np.datetime64(AS_OF) + rng.integers(1, 90, count).astype("timedelta64[D]")
    names = np.char.add(
        np.char.add(np.array(LAST_NAMES)[customer % len(LAST_NAMES)], " "),
        np.array(FIRST_NAMES)[(customer // len(LAST_NAMES)) % len(FIRST_NAMES)],
    )
    language_of_customer = rng.choice(len(LANGUAGES), customer_count, p=LANGUAGE_SHARES)
    return {
        "subscription_id": np.char.add("S", np.char.zfill(np.arange(1, count + 1).astype(str), 8)),
        "customer_id": np.char.add("C", np.char.zfill((customer + 1).astype(str), 7)),
        "customer_name": names,
        "language": np.array(LANGUAGES)[language_of_customer[customer]],
        "service": np.array(SERVICES)[rng.integers(0, len(SERVICES), count)],
        "start_date": start,
        "end_date": end.astype("datetime64[D]"),
        "next_billing_date": next_billing,
    }


def _open_items(rng: np.random.Generator, count: int,
                subscriptions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    subscription = rng.integers(0, len(subscriptions["subscription_id"]), count)
    document_date = np.datetime64(AS_OF) - rng.integers(0, 540, count).astype("timedelta64[D]")
    amount = rng.integers(1_000, 500_000, count)
    # Half the items are small residuals of a payment, the others unpaid or partly paid.
    kind = rng.random(count)
    residual = rng.integers(1, 500, count) * np.where(rng.random(count) < 0.3, -1, 1)
    open_amount = np.where(kind < 0.5, residual,
                           np.where(kind < 0.8, amount, amount // rng.integers(2, 5, count)))
    credit = rng.random(count) < 0.08  # credit notes
    amount = np.where(credit, -amount, amount)
    open_amount = np.where(credit, -np.abs(open_amount), open_amount)
    no_subscription = rng.random(count) < 0.03
    blocked = rng.random(count) < 0.05
    return {
        "document_no": (np.arange(count) + 1_000_000_000).astype(str),
        "line_no": np.where(rng.random(count) < 0.1, "2", "1"),
        "customer_id": subscriptions["customer_id"][subscription],
        "subscription_id": np.where(no_subscription, "", subscriptions["subscription_id"][subscription]),
        "document_date": document_date,
        "due_date": document_date + np.timedelta64(30, "D"),
        "amount_cents": amount,
        "open_cents": open_amount,
        "currency": np.where(rng.random(count) < 0.01, "EUR", "CHF"),
        "block": np.where(blocked, np.array(BLOCKS)[rng.integers(0, len(BLOCKS), count)], ""),
    }


def _write_subscriptions(path: Path, rows: dict[str, np.ndarray]) -> None:
    columns = ("subscription_id", "customer_id", "customer_name", "language", "service",
               "start_date", "end_date", "next_billing_date")
    texts = {name: rows[name] for name in columns[:5]}
    for name in columns[5:]:
        texts[name] = _swiss_dates(rows[name])
    _write_csv(path, columns, texts)


def _write_open_items(path: Path, rows: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    columns = ("document_no", "line_no", "customer_id", "subscription_id", "document_date",
               "due_date", "amount", "open_amount", "currency", "block")
    trailing_minus = rng.random(len(rows["document_no"])) < 0.35
    texts = {name: rows[name] for name in ("document_no", "line_no", "customer_id",
                                            "subscription_id", "currency", "block")}
    texts["document_date"] = _swiss_dates(rows["document_date"])
    texts["due_date"] = _swiss_dates(rows["due_date"])
    texts["amount"] = _swiss_amounts(rows["amount_cents"], trailing_minus, dashes=True)
    texts["open_amount"] = _swiss_amounts(rows["open_cents"], trailing_minus, dashes=False)
    _write_csv(path, columns, texts)


def _swiss_dates(days: np.ndarray) -> list[str]:
    texts = {}
    for day in np.unique(days[~np.isnat(days)]):
        texts[day] = day.astype(dt.date).strftime("%d.%m.%Y")
    return ["" if np.isnat(day) else texts[day] for day in days]


def _swiss_amounts(cents: np.ndarray, trailing_minus: np.ndarray, *, dashes: bool) -> list[str]:
    texts = []
    for value, trailing in zip(cents.tolist(), trailing_minus.tolist()):
        francs, centimes = divmod(abs(value), 100)
        decimals = "--" if dashes and centimes == 0 else f"{centimes:02d}"
        text = f"{francs:,}".replace(",", "'") + "." + decimals
        if value < 0:
            text = text + "-" if trailing else "-" + text
        texts.append(text)
    return texts


def _write_csv(path: Path, columns: tuple[str, ...], texts: dict) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(";".join(columns) + "\n")
        for values in zip(*(texts[name] for name in columns)):
            handle.write(";".join(values) + "\n")


# The floor -------------------------------------------------------------------------------------

def _customer_rows(subscriptions: dict[str, np.ndarray]) -> tuple[list[str], list[tuple]]:
    _, first = np.unique(subscriptions["customer_id"], return_index=True)
    rows = list(zip(subscriptions["customer_id"][first].tolist(),
                    subscriptions["customer_name"][first].tolist(),
                    subscriptions["language"][first].tolist()))
    return ["customer_id", "name", "language"], rows


def _subscription_rows(subscriptions: dict[str, np.ndarray], batch_id: int
                       ) -> tuple[list[str], list[tuple]]:
    columns = ["subscription_id", "customer_id", "service", "start_date", "end_date",
               "next_billing_date", "batch_id"]
    rows = list(zip(
        subscriptions["subscription_id"].tolist(), subscriptions["customer_id"].tolist(),
        subscriptions["service"].tolist(), _iso(subscriptions["start_date"]),
        _iso(subscriptions["end_date"]), _iso(subscriptions["next_billing_date"]),
        [batch_id] * len(subscriptions["subscription_id"]),
    ))
    return columns, rows


def _open_item_rows(items: dict[str, np.ndarray], batch_id: int) -> tuple[list[str], list[tuple]]:
    columns = ["batch_id", "document_no", "line_no", "customer_id", "subscription_id",
               "document_date", "due_date", "amount_cents", "open_cents", "currency", "block"]
    count = len(items["document_no"])
    rows = list(zip(
        [batch_id] * count, items["document_no"].tolist(), items["line_no"].tolist(),
        items["customer_id"].tolist(), _none_if_empty(items["subscription_id"]),
        _iso(items["document_date"]), _iso(items["due_date"]), items["amount_cents"].tolist(),
        items["open_cents"].tolist(), items["currency"].tolist(), _none_if_empty(items["block"]),
    ))
    return columns, rows


def _iso(days: np.ndarray) -> list[str | None]:
    texts = np.datetime_as_string(days, unit="D").astype(object)
    texts[np.isnat(days)] = None
    return texts.tolist()


def _none_if_empty(texts: np.ndarray) -> list[str | None]:
    values = texts.astype(object)
    values[texts == ""] = None
    return values.tolist()


def _floor(engine: Engine, loads: list[tuple[Table, tuple[list[str], list[tuple]]]]) -> float:
    """Time a plain insert of parsed rows into empty copies of tables, in one transaction."""
    metadata = MetaData()
    copies = [(_empty_copy(table, metadata), rows) for table, rows in loads]
    metadata.create_all(engine)
    postgresql = engine.dialect.name == "postgresql"
    raw = engine.raw_connection()
    try:
        start = time.perf_counter()
        cursor = raw.cursor()
        if not postgresql:
            cursor.execute("BEGIN")  # the engine's SQLite connections are in autocommit mode
        for copy, (columns, rows) in copies:
            names = ", ".join(columns)
            if postgresql:
                with cursor.copy(f"COPY {copy.name} ({names}) FROM STDIN") as load:
                    for row in rows:
                        load.write_row(row)
            else:
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(f"INSERT INTO {copy.name} ({names}) VALUES ({marks})", rows)
        if postgresql:
            raw.commit()
        else:
            cursor.execute("COMMIT")
        seconds = time.perf_counter() - start
    finally:
        raw.close()
    metadata.drop_all(engine)
    return seconds


def _empty_copy(table: Table, metadata: MetaData) -> Table:
    name = f"bench_floor_{table.name}"
    columns = [
        Column(column.name, column.type, *[ForeignKey(key.column) for key in column.foreign_keys],
               primary_key=column.primary_key, nullable=column.nullable,
               autoincrement=column.autoincrement)
        for column in table.columns
    ]
    extras = []
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            extras.append(UniqueConstraint(*[column.name for column in constraint.columns]))
    for index in table.indexes:
        extras.append(Index(f"ix_{name}_{len(extras)}", *[column.name for column in index.columns]))
    return Table(name, metadata, *columns, *extras)


STEPS = [("import", import_extracts)]
