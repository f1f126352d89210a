"""Money as integer centimes: the one parser and the locale formatters.

Every amount enters the product through `parse_amount` and leaves it through `format_amount`
(screens, reports) or `to_decimal_string` (files, JSON, command line). No float is accepted.
"""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import get_decimal_symbol, get_group_symbol

# Apostrophes, spaces and the narrow no-break space are thousands separators in Swiss exports.
_GROUP_CHARS = "'\u2019\u00a0\u202f "
_AMOUNT = re.compile(
    r"^(?P<sign>[-+])?(?P<int>\d+)(?:(?P<sep>[.,])(?P<frac>\d{1,2}|--|-))?(?P<trail>-)?$"
)

# Number symbols per user language: Swiss practice writes 1'234.50 in every language region.
NUMBER_LOCALES = {"fr": "de_CH", "de": "de_CH", "en": "en_CH", "it": "de_CH"}


class AmountError(ValueError):
    """A text that is not an amount in any of the accepted Swiss formats."""


def parse_amount(text: object) -> int:
    """Parse an amount written in a Swiss export format and return it in centimes.

    Accepts `1234.50`, `1'234.50`, `1’234.50`, `1 234,50`, `100.--`, `-0.50`, `0.50-` and
    integers. Rejects floats, more than two decimals, and anything ambiguous such as `12,3,4`.
    """
    if isinstance(text, bool) or isinstance(text, float):
        raise AmountError(f"amount must be text or an integer number of francs, not {text!r}")
    if isinstance(text, int):
        return text * 100
    if isinstance(text, Decimal):
        return _decimal_to_centimes(text)
    if not isinstance(text, str):
        raise AmountError(f"not an amount: {text!r}")

    cleaned = text.strip()
    for char in _GROUP_CHARS:
        cleaned = cleaned.replace(char, "")
    match = _AMOUNT.match(cleaned)
    if not match or (match["sign"] and match["trail"]):
        raise AmountError(f"not an amount: {text!r}")

    francs = int(match["int"])
    frac = match["frac"] or "0"
    if frac in ("--", "-"):
        frac = "0"
    centimes = francs * 100 + int(frac.ljust(2, "0"))
    negative = match["sign"] == "-" or match["trail"] == "-"
    return -centimes if negative else centimes


def _decimal_to_centimes(value: Decimal) -> int:
    scaled = value.scaleb(2)
    if scaled != scaled.to_integral_value():
        raise AmountError(f"amount has more than two decimals: {value}")
    return int(scaled)


def to_decimal_string(centimes: int) -> str:
    """Return the machine form of an amount: `-1234.50`, two decimals, no grouping."""
    _check_centimes(centimes)
    sign = "-" if centimes < 0 else ""
    francs, cents = divmod(abs(centimes), 100)
    return f"{sign}{francs}.{cents:02d}"


def format_amount(centimes: int, lang: str = "fr") -> str:
    """Return an amount for people, with the Swiss grouping of the user's language: `1'234.50`."""
    _check_centimes(centimes)
    locale = NUMBER_LOCALES.get(lang, "de_CH")
    group = get_group_symbol(locale)
    decimal = get_decimal_symbol(locale)
    sign = "-" if centimes < 0 else ""
    francs, cents = divmod(abs(centimes), 100)
    digits = f"{francs:,}".replace(",", group)
    return f"{sign}{digits}{decimal}{cents:02d}"


def _check_centimes(centimes: object) -> None:
    # numpy integers are fine, floats and bools are not: they would hide a rounding.
    if isinstance(centimes, bool) or not hasattr(centimes, "__index__"):
        raise TypeError(f"amounts are integer centimes, not {type(centimes).__name__}")
