"""Amount columns of DataFrames as text: the vectorised forms of the `amounts` formatters."""

from __future__ import annotations

import numpy as np
import pandas as pd
from babel.numbers import get_decimal_symbol, get_group_symbol

from .amounts import NUMBER_LOCALES


def to_decimal_strings(cents: pd.Series) -> pd.Series:
    """Return each amount in centimes as `amounts.to_decimal_string` writes it: `-1234.50`."""
    values = _centimes(cents)
    if not len(values):
        return pd.Series([], index=cents.index, dtype=object)
    magnitude = np.abs(values)
    sign = np.where(values < 0, "-", "")
    francs = (magnitude // 100).astype(str)
    fraction = np.char.zfill((magnitude % 100).astype(str), 2)
    text = np.char.add(np.char.add(np.char.add(sign, francs), "."), fraction)
    return pd.Series(text, index=cents.index, dtype=object)


def format_amounts(cents: pd.Series, lang: str = "fr") -> pd.Series:
    """Return each amount as `amounts.format_amount` writes it for people: `-1'234.50`."""
    locale = NUMBER_LOCALES.get(lang, "de_CH")
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    values = _centimes(cents)
    if not len(values):
        return pd.Series([], index=cents.index, dtype=object)
    magnitude = np.abs(values)
    francs = pd.Series(magnitude // 100).map(lambda number: f"{number:,}".replace(",", group))
    fraction = np.char.zfill((magnitude % 100).astype(str), 2)
    sign = np.where(values < 0, "-", "")
    text = sign + francs.to_numpy(dtype=str) + decimal + fraction
    return pd.Series(text, index=cents.index, dtype=object)


def _centimes(cents: pd.Series) -> np.ndarray:
    # Amounts are integer centimes: a float column would hide a rounding, so it is rejected.
    if not pd.api.types.is_integer_dtype(cents.dtype):
        raise TypeError(f"amounts are integer centimes, not {cents.dtype}")
    return cents.to_numpy(dtype="int64")
