"""Reading large query results into DataFrames without SQLAlchemy's per-value processing.

Building a Row per result row and converting each date costs several times what the driver's
own `fetchall` costs, which matters for the hundreds of thousands of lines a run posts and
exports. The price is that values arrive as the driver returns them: SQLite gives dates as
`2026-12-31` texts and booleans as 0 or 1, PostgreSQL gives `datetime.date` objects and
`Decimal` for sums of integers. `iso_texts` and `to_dates` make date columns uniform.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Select
from sqlalchemy.orm import Session


def fetch_frame(session: Session, query: Select) -> pd.DataFrame:
    """Run a query in the session's transaction and return its rows as object columns."""
    result = session.connection().execute(query)
    columns = list(result.keys())
    rows = result.cursor.fetchall()
    result.close()
    if not rows:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    return pd.DataFrame(rows, columns=columns, dtype=object)


def iso_texts(days: pd.Series) -> pd.Series:
    """Return dates (objects or ISO texts) as ISO texts, with an empty text for a missing date."""
    return pd.Series([_iso_text(day) for day in days], index=days.index, dtype=object)


def to_dates(days: pd.Series) -> pd.Series:
    """Return dates (objects or ISO texts) as `datetime.date` objects, None when missing."""
    return pd.Series([_date(day) for day in days], index=days.index, dtype=object)


def _iso_text(day) -> str:
    if day is None or day != day:  # None, NaN or NaT
        return ""
    if isinstance(day, str):
        return day[:10]
    return day.isoformat()


def _date(day) -> dt.date | None:
    if day is None or day != day:
        return None
    if isinstance(day, str):
        return dt.date.fromisoformat(day[:10])
    return day
