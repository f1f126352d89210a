"""Bulk loading of rows: `executemany` on SQLite, COPY on PostgreSQL, in the caller's transaction.

Rows are tuples of plain Python values in the database's own representation: text, int, None,
and dates as `2026-12-31` texts (what SQLAlchemy stores in SQLite, and what COPY reads).
"""

from __future__ import annotations

import itertools
from typing import Iterable, Sequence

from sqlalchemy import Connection

CHUNK_ROWS = 50_000


def insert_rows(
    connection: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]
) -> int:
    """Insert rows into a table and return how many were inserted."""
    if connection.dialect.name == "postgresql":
        return _copy(connection, table, columns, rows)

    quote = connection.dialect.identifier_preparer.quote
    statement = "INSERT INTO {table} ({columns}) VALUES ({marks})".format(
        table=quote(table),
        columns=", ".join(quote(column) for column in columns),
        marks=", ".join("?" for _ in columns),
    )
    return _executemany(connection, statement, rows)


def upsert_rows(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    key: Sequence[str],
    update: Sequence[str],
    rows: Iterable[tuple],
) -> int:
    """Insert rows, or update the `update` columns of the rows whose `key` exists already.

    The rows must not repeat a key. Returns how many rows were given.
    """
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(column) for column in columns)
    if update:
        assignments = ", ".join(f"{quote(column)} = excluded.{quote(column)}" for column in update)
        on_conflict = "ON CONFLICT ({key}) DO UPDATE SET {assignments}".format(
            key=", ".join(quote(column) for column in key), assignments=assignments
        )
    else:
        on_conflict = "ON CONFLICT DO NOTHING"

    if connection.dialect.name != "postgresql":
        marks = ", ".join("?" for _ in columns)
        statement = f"INSERT INTO {quote(table)} ({names}) VALUES ({marks}) {on_conflict}"
        return _executemany(connection, statement, rows)

    # COPY cannot update, so the rows go to a staging table first.
    staging = quote(f"staging_{table}")
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {staging} (LIKE {quote(table)} INCLUDING DEFAULTS)"
    )
    count = _copy(connection, f"staging_{table}", columns, rows)
    connection.exec_driver_sql(
        f"INSERT INTO {quote(table)} ({names}) SELECT {names} FROM {staging} {on_conflict}"
    )
    connection.exec_driver_sql(f"DROP TABLE {staging}")
    return count


def _executemany(connection: Connection, statement: str, rows: Iterable[tuple]) -> int:
    # The driver's executemany with plain tuples: SQLAlchemy's insert() with dictionaries costs
    # about half as much again per row for type processing that these values do not need.
    count = 0
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, CHUNK_ROWS)):
        connection.exec_driver_sql(statement, chunk)
        count += len(chunk)
    return count


def _copy(connection: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    quote = connection.dialect.identifier_preparer.quote
    statement = "COPY {table} ({columns}) FROM STDIN".format(
        table=quote(table), columns=", ".join(quote(column) for column in columns)
    )
    count = 0
    driver_connection = connection.connection.dbapi_connection
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count
