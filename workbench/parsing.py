"""Vectorised parsing of amount and date columns, with the results of `parse_amount`/`parse_date`.

An extract of a million rows cannot afford a Python call per value. The formats that exports use
nearly always (`1234.50`, `1'234.50`, `0.50-`, `100.--`, `31.12.2026`, `2026-12-31`) are parsed
as matrices of bytes with numpy. Every other text goes through `amounts.parse_amount` or
`dates.parse_date` itself. A fast pattern only accepts texts that those
functions read the same way, so both paths return the same values and reject the same texts, which
the property tests in tests/test_import_parsing.py check on generated texts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .amounts import AmountError, parse_amount
from .dates import DateError, parse_date

# Status of each parsed value.
OK, EMPTY, INVALID, OUT_OF_RANGE = 0, 1, 2, 3

# The largest amount accepted, in centimes: 13 digits of francs. Beyond it sums of a million
# amounts could leave the signed 64-bit range of the database columns.
MAX_CENTIMES = 10**15 - 1

# Thousands separators, as `amounts._GROUP_CHARS`: apostrophes, spaces, no-break spaces.
_GROUP_CHARS = ("'", " ", "\u2019", "\u00a0", "\u202f")  # ASCII ones first

# Amount texts longer than this never take the fast path (13 digits, sign, separator, 2 decimals
# and a trailing minus fit).
_FAST_WIDTH = 24
_CHUNK_ROWS = 65_536
_MAX_FAST_DIGITS = 13  # keeps every fast result within MAX_CENTIMES

_DOT, _COMMA, _MINUS, _PLUS, _APOSTROPHE, _SPACE = (ord(char) for char in ".,-+' ")

# Date layouts of 10 ASCII characters: (separator, separator positions, offsets of day, month
# and year). A 2-digit year or day, or a time of day, takes the slow path.
_FAST_DATES = (
    (ord("."), (2, 5), (0, 3, 6)),  # 31.12.2026
    (ord("-"), (4, 7), (8, 5, 0)),  # 2026-12-31
)


@dataclass(frozen=True)
class AmountColumn:
    """Parsed amounts: `centimes` (int64, 0 where `status` is not OK) and `status` per value."""

    centimes: np.ndarray
    status: np.ndarray


@dataclass(frozen=True)
class DateColumn:
    """Parsed dates: `days` (datetime64[D], NaT where `status` is not OK) and `status` per value."""

    days: np.ndarray
    status: np.ndarray


def parse_amounts(texts: pd.Series) -> AmountColumn:
    """Parse a column of amount texts into centimes, with `parse_amount`'s rules.

    A blank text has status EMPTY, a text that `parse_amount` rejects INVALID, and an amount
    beyond MAX_CENTIMES OUT_OF_RANGE.
    """
    raw = pd.Series(texts, dtype=object).to_numpy()
    count = len(raw)
    is_ascii = np.fromiter(map(str.isascii, raw), bool, count)

    # Typographic separators (’ and no-break spaces) are the only non-ASCII characters that
    # `parse_amount` removes; apostrophes and spaces go in `_fast_amounts`.
    texts = raw.copy()
    non_ascii = np.flatnonzero(~is_ascii)
    if len(non_ascii):
        removed = pd.Series(raw[non_ascii], dtype=object)
        for char in _GROUP_CHARS[2:]:
            removed = removed.str.replace(char, "", regex=False)
        texts[non_ascii] = removed.to_numpy()
        is_ascii[non_ascii] = np.fromiter(map(str.isascii, removed), bool, len(removed))
    lengths = np.fromiter(map(len, texts), np.int64, count)

    centimes = np.zeros(count, dtype=np.int64)
    status = np.full(count, INVALID, dtype=np.int8)
    fast = np.flatnonzero(is_ascii & (lengths > 0) & (lengths <= _FAST_WIDTH))
    for chunk in _chunks(fast):
        values, parsed = _fast_amounts(texts[chunk], lengths[chunk])
        centimes[chunk[parsed]] = values[parsed]
        status[chunk[parsed]] = OK

    for position in np.flatnonzero(status == INVALID):
        if not raw[position].strip():
            status[position] = EMPTY
            continue
        try:
            value = parse_amount(raw[position])
        except AmountError:
            continue
        if abs(value) > MAX_CENTIMES:
            status[position] = OUT_OF_RANGE
        else:
            centimes[position] = value
            status[position] = OK
    return AmountColumn(centimes=centimes, status=status)


def parse_dates(texts: pd.Series) -> DateColumn:
    """Parse a column of date texts with `parse_date`'s rules; EMPTY and INVALID as for amounts."""
    raw = pd.Series(texts, dtype=object).to_numpy()
    count = len(raw)
    lengths = np.fromiter(map(len, raw), np.int64, count)
    is_ascii = np.fromiter(map(str.isascii, raw), bool, count)

    days = np.full(count, np.datetime64("NaT"), dtype="datetime64[D]")
    status = np.full(count, INVALID, dtype=np.int8)
    slow = np.ones(count, dtype=bool)
    for chunk in _chunks(np.flatnonzero(is_ascii & (lengths == 10))):
        chunk_days, matched, valid = _fast_dates(raw[chunk])
        days[chunk[valid]] = chunk_days[valid]
        status[chunk[matched]] = np.where(valid[matched], OK, INVALID)
        slow[chunk[matched]] = False

    for position in np.flatnonzero(slow):
        if not raw[position].strip():
            status[position] = EMPTY
            continue
        try:
            days[position] = np.datetime64(parse_date(raw[position]), "D")
        except DateError:
            continue
        status[position] = OK
    return DateColumn(days=days, status=status)


def iso_dates(days: np.ndarray) -> list[str | None]:
    """Return dates as `2026-12-31` texts, None for NaT: the form SQLite stores and COPY reads."""
    # An extract spans a few thousand distinct days: format each once.
    unique_days, positions = np.unique(days, return_inverse=True)
    unique_texts = np.datetime_as_string(unique_days, unit="D").astype(object)
    unique_texts[np.isnat(unique_days)] = None
    return unique_texts[positions].tolist()


def _chunks(positions: np.ndarray) -> list[np.ndarray]:
    # Byte matrices of this many rows stay in the CPU caches and keep the peak memory small.
    return [positions[start : start + _CHUNK_ROWS] for start in range(0, len(positions), _CHUNK_ROWS)]


def _fast_amounts(texts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse ASCII amount texts as a matrix of bytes.

    Returns the centimes and whether each text was parsed. Apostrophes and spaces are group
    separators and removed first. The accepted language is
    `[-+]?D{1,13}` then optionally `[.,]` with `D`, `DD`, `-` or `--`, then a trailing minus
    when there is no leading sign, except that `--` is never followed by a trailing minus. A
    text outside it is left to `parse_amount`.
    """
    count = len(texts)
    matrix = texts.astype(f"S{_FAST_WIDTH}").view(np.uint8).reshape(count, _FAST_WIDTH)
    lengths = _remove_group_bytes(matrix, lengths)
    rows = np.arange(count)
    columns = np.arange(_FAST_WIDTH)

    def char_at(offset: np.ndarray) -> np.ndarray:
        return matrix[rows, np.clip(offset, 0, _FAST_WIDTH - 1)]

    def is_digit(chars: np.ndarray) -> np.ndarray:
        return (chars >= ord("0")) & (chars <= ord("9"))

    # Sign, then the one decimal separator if any.
    first = matrix[:, 0]
    signed = (first == _MINUS) | (first == _PLUS)
    int_start = signed.astype(np.int64)
    is_separator = (matrix == _DOT) | (matrix == _COMMA)
    has_separator = is_separator.sum(axis=1) == 1
    separator_at = np.where(has_separator, is_separator.argmax(axis=1), lengths)

    # What follows the separator; the regular expression of `parse_amount` tries the decimals
    # `\d{1,2}`, then `--`, then `-`, and after them an optional trailing minus.
    after = lengths - separator_at - 1
    c1, c2, c3 = (char_at(separator_at + offset) for offset in (1, 2, 3))
    one_decimal = has_separator & is_digit(c1) & ((after == 1) | ((after == 2) & (c2 == _MINUS)))
    two_decimals = has_separator & is_digit(c1) & is_digit(c2) & ((after == 2) | ((after == 3) & (c3 == _MINUS)))
    dashes = has_separator & (c1 == _MINUS) & ((after == 1) | ((after == 2) & (c2 == _MINUS)))
    decimals = np.where(one_decimal, (c1 - ord("0")) * 10, 0) + np.where(
        two_decimals, (c1 - ord("0")) * 10 + (c2 - ord("0")), 0
    )
    trailing_after_decimals = (one_decimal & (after == 2)) | (two_decimals & (after == 3))

    last = matrix[rows, lengths - 1]
    trailing_plain = ~has_separator & (last == _MINUS) & (lengths - 1 > int_start)
    trailing = trailing_plain | trailing_after_decimals
    int_end = np.where(has_separator, separator_at, lengths - trailing_plain)

    # The integer digits, read left to right one column at a time: a million rows are cheaper
    # as a loop over the columns than as a matrix of place values.
    in_integer = (columns >= int_start[:, None]) & (columns < int_end[:, None])
    all_digits = ~(in_integer & ~is_digit(matrix)).any(axis=1)
    integer_digits = int_end - int_start
    francs = np.zeros(count, dtype=np.int64)
    for column in range(int(lengths.max(initial=0))):
        digit = matrix[:, column].astype(np.int64) - ord("0")
        francs = np.where(in_integer[:, column], francs * 10 + digit, francs)

    parsed = (
        all_digits
        & (integer_digits >= 1)
        & (integer_digits <= _MAX_FAST_DIGITS)
        & (~has_separator | one_decimal | two_decimals | dashes)
        & ~(signed & trailing)
    )
    negative = (first == _MINUS) | trailing
    centimes = (francs * 100 + decimals) * np.where(negative, -1, 1)
    return centimes, parsed


def _remove_group_bytes(matrix: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Delete apostrophes and spaces from rows of text bytes in place; return the new lengths."""
    is_group = (matrix == _APOSTROPHE) | (matrix == _SPACE)
    grouped = np.flatnonzero(is_group.any(axis=1))
    if len(grouped) == 0:
        return lengths
    # A stable sort on "is a separator" moves the separators behind the text and the padding
    # and keeps the order of everything else. Then they are blanked to padding.
    flags = is_group[grouped]
    order = np.argsort(flags, axis=1, kind="stable")
    moved = np.take_along_axis(matrix[grouped], order, axis=1)
    moved[np.sort(flags, axis=1)] = 0
    matrix[grouped] = moved
    lengths = lengths.copy()
    lengths[grouped] -= flags.sum(axis=1)
    return lengths


def _fast_dates(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse 10-character ASCII texts in the two full layouts as a matrix of bytes.

    Returns the days, whether each text has one of the layouts, and whether its day exists.
    `parse_date` rejects a text of those layouts exactly when its day does not exist.
    """
    count = len(texts)
    matrix = texts.astype("S10").view(np.uint8).reshape(count, 10)
    digits = matrix.astype(np.int64) - ord("0")
    is_digit = (digits >= 0) & (digits <= 9)
    days = np.full(count, np.datetime64("NaT"), dtype="datetime64[D]")
    matched = np.zeros(count, dtype=bool)
    valid = np.zeros(count, dtype=bool)

    for separator, separator_positions, (day_at, month_at, year_at) in _FAST_DATES:
        digit_positions = [index for index in range(10) if index not in separator_positions]
        layout = is_digit[:, digit_positions].all(axis=1) & ~matched
        for position in separator_positions:
            layout &= matrix[:, position] == separator
        if not layout.any():
            continue
        part = digits[layout]
        day = part[:, day_at] * 10 + part[:, day_at + 1]
        month = part[:, month_at] * 10 + part[:, month_at + 1]
        year = part[:, year_at : year_at + 4] @ np.array([1000, 100, 10, 1])
        days[layout], valid[layout] = _calendar_days(year, month, day)
        matched |= layout
    return days, matched, valid


def _calendar_days(
    year: np.ndarray, month: np.ndarray, day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the datetime64[D] of each (year, month, day) and whether that day exists."""
    valid = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    months = (year - 1970) * 12 + (np.clip(month, 1, 12) - 1)
    first = months.astype("datetime64[M]").astype("datetime64[D]")
    following = (months + 1).astype("datetime64[M]").astype("datetime64[D]")
    valid &= day <= (following - first).astype(np.int64)
    parsed = first + (day - 1)
    parsed[~valid] = np.datetime64("NaT")
    return parsed, valid
