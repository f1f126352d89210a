"""The vectorised column parsers give exactly the results of `parse_amount` and `parse_date`."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from workbench.amounts import AmountError, parse_amount
from workbench.dates import DateError, parse_date
from workbench.parsing import (
    EMPTY,
    INVALID,
    MAX_CENTIMES,
    OK,
    OUT_OF_RANGE,
    iso_dates,
    parse_amounts,
    parse_dates,
)

# Characters that matter to the amount grammar, and some that must make a text invalid: a letter,
# a tab and a newline, a NUL, an Arabic-Indic digit (a Unicode digit that `\d` accepts).
AMOUNT_CHARS = list("0123456789.,-+' \u2019\u00a0\u202f\t\nxe\x00\u0663")
DATE_CHARS = list("0123456789.-: T\t\u0663x")
GROUP_SEPARATORS = ["'", "\u2019", " ", "\u00a0", "\u202f"]


def expected_amount(text: str) -> tuple[int, int]:
    """Return (status, centimes) as `parse_amount` decides them."""
    if not text.strip():
        return EMPTY, 0
    try:
        value = parse_amount(text)
    except AmountError:
        return INVALID, 0
    if abs(value) > MAX_CENTIMES:
        return OUT_OF_RANGE, 0
    return OK, value


def expected_date(text: str) -> tuple[int, dt.date | None]:
    if not text.strip():
        return EMPTY, None
    try:
        return OK, parse_date(text)
    except DateError:
        return INVALID, None


@st.composite
def swiss_amounts(draw) -> str:
    """An amount as an export writes it, sometimes slightly broken."""
    francs = draw(st.one_of(st.integers(0, 99_999), st.integers(0, 10**16)))
    cents = draw(st.integers(0, 99))
    digits = str(francs)
    if draw(st.booleans()):
        separator = draw(st.sampled_from(GROUP_SEPARATORS))
        groups = []
        while digits:
            groups.insert(0, digits[-3:])
            digits = digits[:-3]
        digits = separator.join(groups)
    decimal_point = draw(st.sampled_from([".", ","]))
    decimals = draw(st.sampled_from([f"{cents:02d}", str(cents % 10), "--", "-", "", "---"]))
    text = digits + (decimal_point + decimals if decimals else "")
    sign = draw(st.sampled_from(["", "", "-", "+", "trailing", "both"]))
    if sign == "trailing":
        text += "-"
    elif sign == "both":
        text = "-" + text + "-"
    else:
        text = sign + text
    if draw(st.booleans()):
        text = draw(st.sampled_from([" ", "\t", ""])) + text + draw(st.sampled_from([" ", "\n", ""]))
    if draw(st.integers(0, 4)) == 0 and text:
        position = draw(st.integers(0, len(text) - 1))
        text = text[:position] + draw(st.sampled_from(AMOUNT_CHARS)) + text[position + 1 :]
    return text


@st.composite
def swiss_dates(draw) -> str:
    """A date as an export writes it, with days that may not exist."""
    day = draw(st.integers(0, 32))
    month = draw(st.integers(0, 13))
    year = draw(st.integers(0, 9999))
    layout = draw(st.sampled_from(["swiss", "short", "iso", "iso_time", "one_digit"]))
    if layout == "swiss":
        return f"{day:02d}.{month:02d}.{year:04d}"
    if layout == "short":
        return f"{day:02d}.{month:02d}.{year % 100:02d}"
    if layout == "iso":
        return f"{year:04d}-{month:02d}-{day:02d}"
    if layout == "iso_time":
        return f"{year:04d}-{month:02d}-{day:02d} 00:00:00"
    return f" {day}.{month}.{year:04d} "


amount_texts = st.one_of(swiss_amounts(), st.text(st.sampled_from(AMOUNT_CHARS), max_size=30))
date_texts = st.one_of(swiss_dates(), st.text(st.sampled_from(DATE_CHARS), max_size=22))


@settings(max_examples=400, deadline=None)
@given(st.lists(amount_texts, min_size=1, max_size=50))
def test_parse_amounts_agrees_with_parse_amount(texts):
    parsed = parse_amounts(pd.Series(texts, dtype=str))
    for text, status, centimes in zip(texts, parsed.status, parsed.centimes):
        assert (int(status), int(centimes)) == expected_amount(text), repr(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(date_texts, min_size=1, max_size=50))
def test_parse_dates_agrees_with_parse_date(texts):
    parsed = parse_dates(pd.Series(texts, dtype=str))
    for text, status, day in zip(texts, parsed.status, parsed.days):
        expected_status, expected_day = expected_date(text)
        assert int(status) == expected_status, repr(text)
        if expected_day is None:
            assert np.isnat(day), repr(text)
        else:
            assert day == np.datetime64(expected_day, "D"), repr(text)


@pytest.mark.parametrize(
    ("text", "centimes"),
    [
        ("1234.50", 123450),
        ("1'234.50", 123450),
        ("1\u2019234.50", 123450),
        ("1 234,50", 123450),
        ("100.--", 10000),
        ("-0.50", -50),
        ("0.50-", -50),
        ("20.00-", -2000),
        ("9'999'999'999'999.99", MAX_CENTIMES),
    ],
)
def test_parse_amounts_swiss_formats(text, centimes):
    parsed = parse_amounts(pd.Series([text]))
    assert parsed.status.tolist() == [OK]
    assert parsed.centimes.tolist() == [centimes]


@pytest.mark.parametrize("text", ["12,3,4", "abc", "1.234", "--1", "-1-", "1e5", "٣x"])
def test_parse_amounts_rejects_malformed(text):
    assert parse_amounts(pd.Series([text])).status.tolist() == [INVALID]


def test_parse_amounts_limits_the_size():
    parsed = parse_amounts(pd.Series(["10'000'000'000'000.00", "  ", ""]))
    assert parsed.status.tolist() == [OUT_OF_RANGE, EMPTY, EMPTY]


def test_parse_dates_swiss_formats():
    parsed = parse_dates(pd.Series(["31.12.2026", "2026-12-31", "31.12.26", "29.02.2024",
                                    "31.02.2026", "2023-02-29", "", "12/31/2026"]))
    assert parsed.status.tolist() == [OK, OK, OK, OK, INVALID, INVALID, EMPTY, INVALID]
    assert iso_dates(parsed.days) == ["2026-12-31", "2026-12-31", "2026-12-31", "2024-02-29",
                                      None, None, None, None]


def test_parse_amounts_many_rows_mixed():
    # Long enough for several chunks of the byte-matrix path, with slow-path texts among them.
    texts = ["1'234.50", "0.50-", "100.--", "abc", "\u0663.50", "+3.05"] * 30_000
    parsed = parse_amounts(pd.Series(texts))
    assert parsed.centimes[:6].tolist() == [123450, -50, 10000, 0, 350, 305]
    assert parsed.status[:6].tolist() == [OK, OK, OK, INVALID, OK, OK]
    assert parsed.centimes.sum() == 30_000 * (123450 - 50 + 10000 + 350 + 305)
