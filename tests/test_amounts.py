from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from workbench.amounts import AmountError, format_amount, parse_amount, to_decimal_string
from workbench.dates import DateError, format_date, parse_date
import datetime as dt


@pytest.mark.parametrize(
    ("text", "centimes"),
    [
        ("1234.50", 123450),
        ("1'234.50", 123450),
        ("1\u2019234.50", 123450),
        ("1 234,50", 123450),
        ("1\u202f234,50", 123450),
        ("100.--", 10000),
        ("100.-", 10000),
        ("-0.50", -50),
        ("0.50-", -50),
        ("20.00-", -2000),
        ("0.5", 50),
        ("12", 1200),
        ("+3.05", 305),
        ("  7.10 ", 710),
        (Decimal("1.25"), 125),
        (3, 300),
    ],
)
def test_parse_amount_swiss_formats(text, centimes):
    assert parse_amount(text) == centimes


@pytest.mark.parametrize(
    "text", ["12,3,4", "abc", "", "1.234", "--1", "-1-", "1.2.3", "1e5", "0x10", "NaN", "1.5.-"]
)
def test_parse_amount_rejects_malformed(text):
    with pytest.raises(AmountError):
        parse_amount(text)


def test_parse_amount_rejects_float():
    with pytest.raises(AmountError):
        parse_amount(12.5)


def test_format_amount_swiss_grouping():
    assert format_amount(123450) == "1'234.50"
    assert format_amount(-123456789) == "-1'234'567.89"
    assert format_amount(5, "de") == "0.05"
    assert format_amount(100000, "en") == "1'000.00"


def test_to_decimal_string_two_decimals():
    assert to_decimal_string(50) == "0.50"
    assert to_decimal_string(-120) == "-1.20"
    assert to_decimal_string(0) == "0.00"
    with pytest.raises(TypeError):
        to_decimal_string(1.5)


@given(st.integers(min_value=-10**13, max_value=10**13), st.sampled_from(["fr", "de", "en"]))
def test_format_then_parse_round_trip(centimes, lang):
    assert parse_amount(format_amount(centimes, lang)) == centimes
    assert parse_amount(to_decimal_string(centimes)) == centimes


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("31.12.2026", dt.date(2026, 12, 31)),
        ("2026-12-31", dt.date(2026, 12, 31)),
        ("31.12.26", dt.date(2026, 12, 31)),
        ("1.2.99", dt.date(1999, 2, 1)),
        (dt.datetime(2026, 3, 1), dt.date(2026, 3, 1)),
    ],
)
def test_parse_date_formats(text, day):
    assert parse_date(text) == day


@pytest.mark.parametrize("text", ["31.02.2026", "2026-13-01", "tomorrow", "", "31/12/2026"])
def test_parse_date_rejects_invalid(text):
    with pytest.raises(DateError):
        parse_date(text)


def test_format_date_swiss():
    assert format_date(dt.date(2026, 12, 31)) == "31.12.2026"
    assert format_date(None) == ""
