"""Helpers of the import tests: extract files written inline, table counts, printed problems."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

SUBSCRIPTIONS_HEADER = "subscription_id;customer_id;customer_name;language;start_date;end_date"
OPEN_ITEMS_HEADER = (
    "document_no;customer_id;subscription_id;document_date;due_date;amount;open_amount;"
    "currency;block"
)
STORED_TABLES = ("import_batches", "customers", "subscriptions", "open_items", "audit_events")


def write_extract(path: Path, header: str, *rows: str, encoding: str = "utf-8",
                  delimiter: str = ";") -> Path:
    """Write a CSV extract: the header and rows are written with `;` and converted."""
    lines = [header, *rows]
    content = "\n".join(line.replace(";", delimiter) for line in lines) + "\n"
    path.write_bytes(content.encode(encoding))
    return path


def stored_counts(engine) -> dict[str, int]:
    """Return the row count of every table an import writes to."""
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one()
            for table in STORED_TABLES
        }


NOTHING_STORED = dict.fromkeys(STORED_TABLES, 0)


def printed_problems(err: str) -> set[tuple[str, str, str]]:
    """Return (row, column, value) of each problem line printed by the command line."""
    table = [line.split("\t") for line in err.splitlines() if line.count("\t") == 4]
    return {(parts[1], parts[2], parts[3]) for parts in table[1:]}  # after the header row
