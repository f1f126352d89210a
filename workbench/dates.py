"""Dates as Swiss exports write them, and as Swiss users read them."""

from __future__ import annotations

import datetime as dt
import re

_SWISS = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00(?::00)?)?$")

# Two-digit years: 00-69 are 2000-2069, 70-99 are 1970-1999 (the POSIX strptime pivot).
_PIVOT = 70


class DateError(ValueError):
    """A text that is not a valid date in an accepted format."""


def parse_date(value: object) -> dt.date:
    """Parse `31.12.2026`, `2026-12-31`, `31.12.26` or an Excel date cell into a date."""
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0):
            raise DateError(f"date has a time of day: {value.isoformat()}")
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise DateError(f"not a date: {value!r}")

    text = value.strip()
    if match := _SWISS.match(text):
        day, month, year = (int(part) for part in match.groups())
        if len(match[3]) == 2:
            year += 2000 if year < _PIVOT else 1900
    elif match := _ISO.match(text):
        year, month, day = (int(part) for part in match.groups())
    else:
        raise DateError(f"not a date: {value!r}")

    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateError(f"no such day: {value!r}") from None


def format_date(day: dt.date | None) -> str:
    """Return a date as Swiss users read it: `31.12.2026`, or an empty text for no date."""
    return "" if day is None else day.strftime("%d.%m.%Y")
