"""The vectorised amount formatters write exactly what the one-value formatters write."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.amounts import format_amount, to_decimal_string
from workbench.money_frames import format_amounts, to_decimal_strings

CENTIMES = st.lists(st.integers(min_value=-10**13, max_value=10**13), max_size=50)


@given(CENTIMES)
def test_decimal_strings_match_one_by_one(values):
    series = pd.Series(values, dtype="int64")
    assert list(to_decimal_strings(series)) == [to_decimal_string(value) for value in values]


@pytest.mark.parametrize("lang", ["fr", "de", "en"])
@given(values=CENTIMES)
def test_people_format_matches_one_by_one(lang, values):
    series = pd.Series(values, dtype="int64")
    assert list(format_amounts(series, lang)) == [format_amount(value, lang) for value in values]


def test_edge_values():
    series = pd.Series([0, -1, 5, -99, 100, -123456], dtype="int64", index=[9, 8, 7, 6, 5, 4])
    assert to_decimal_strings(series).to_dict() == {
        9: "0.00", 8: "-0.01", 7: "0.05", 6: "-0.99", 5: "1.00", 4: "-1234.56"}


def test_float_column_rejected():
    with pytest.raises(TypeError):
        to_decimal_strings(pd.Series([0.5]))
