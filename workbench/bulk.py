"""Bulk inserts of DataFrames into model tables: COPY on PostgreSQL, executemany on SQLite.

`bulk_rows.insert_rows` takes values in the database's own representation. This module turns a
frame's cells into that representation with each column type's SQLAlchemy bind processor, so
dates, timestamps and booleans are stored exactly as an ORM insert would store them.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Table
from sqlalchemy.orm import Session

from .bulk_rows import insert_rows


def insert_frame(session: Session, table: Table, frame: pd.DataFrame) -> int:
    """Insert every row of `frame` into `table` (columns by name) and return the row count.

    Missing values (None, NaN, NaT) become NULL. Columns the frame lacks get no value, and a
    Python-side default of the model is not applied either: pass every non-null column.
    """
    if frame.empty:
        return 0
    connection = session.connection()
    columns = list(frame.columns)
    cells = [_stored_values(frame[name], table.c[name].type, connection.dialect)
             for name in columns]
    return insert_rows(connection, table.name, columns, zip(*cells))


def _stored_values(values: pd.Series, column_type, dialect) -> list:
    # Object dtype turns numpy scalars into Python ones; missing values become None.
    native = values.astype(object).where(values.notna(), None).tolist()
    if pd.api.types.is_datetime64_any_dtype(values):
        native = [None if value is None else value.to_pydatetime() for value in native]
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return native
    return [None if value is None else process(value) for value in native]
