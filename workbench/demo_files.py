"""The demo's two extract files, as a Swiss billing system and ERP write them.

Semicolon-separated UTF-8 with the default profile's column names, dates as `31.12.2026`,
amounts as `1'234.50`, some negative amounts with a trailing minus (`28.50-`) and some whole
francs as `100.--`. Text columns are built with numpy's vectorised string functions, one slice
of rows at a time.
"""

from __future__ import annotations

from typing import TextIO

import numpy as np
import pandas as pd

from .demo_ledger import BLOCKS, NO_SUBSCRIPTION
from .demo_population import (
    COMPANY_FORMS,
    FIRST_NAMES,
    LANGUAGES,
    NO_DATE,
    SERVICES,
    SURNAMES,
    Population,
)

SUBSCRIPTION_COLUMNS = ("subscription_id", "customer_id", "customer_name", "language", "service",
                        "start_date", "end_date", "next_billing_date")
OPEN_ITEM_COLUMNS = ("document_no", "line_no", "customer_id", "subscription_id", "document_date",
                     "due_date", "amount", "open_amount", "currency", "block")

TRAILING_MINUS_SHARE = 0.35  # of negative amounts
DASHED_FRANCS_SHARE = 0.25  # of whole-franc original amounts written `100.--`


def _flat(lists: dict[str, tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate per-language lists; return the values and each language's offset."""
    values = np.array([value for lang in LANGUAGES for value in lists[lang]])
    sizes = [len(lists[lang]) for lang in LANGUAGES]
    return values, np.concatenate([[0], np.cumsum(sizes)[:-1]])


_SURNAMES, _SURNAME_OFFSETS = _flat(SURNAMES)
_FIRST_NAMES, _FIRST_NAME_OFFSETS = _flat(FIRST_NAMES)
_COMPANY_PREFIXES, _COMPANY_OFFSETS = _flat({k: [p for p, _ in v] for k, v in COMPANY_FORMS.items()})
_COMPANY_SUFFIXES, _ = _flat({k: [s for _, s in v] for k, v in COMPANY_FORMS.items()})


def customer_ids(customers: np.ndarray) -> np.ndarray:
    return np.strings.add("C", np.strings.zfill((customers + 1).astype(str), 7))


def subscription_ids(subscriptions: np.ndarray) -> np.ndarray:
    """Return `S00000001`-style ids; NO_SUBSCRIPTION gives an empty text."""
    ids = np.strings.add("S", np.strings.zfill((subscriptions + 1).astype(str), 8))
    return np.where(subscriptions == NO_SUBSCRIPTION, "", ids)


def customer_names(population: Population, customers: np.ndarray) -> np.ndarray:
    """Return "Surname First name" for people and e.g. "Régie Surname SA" for companies."""
    language = population.language[customers]
    surname = _SURNAMES[_SURNAME_OFFSETS[language] + population.surname[customers]]
    first_name = _FIRST_NAMES[_FIRST_NAME_OFFSETS[language] + population.first_name[customers]]
    person = np.strings.add(np.strings.add(surname, " "), first_name)
    form = _COMPANY_OFFSETS[language] + np.maximum(population.company_form[customers], 0)
    company = np.strings.add(np.strings.add(_COMPANY_PREFIXES[form], surname),
                             _COMPANY_SUFFIXES[form])
    return np.where(population.company_form[customers] >= 0, company, person)


def date_texts(days: np.ndarray) -> np.ndarray:
    """Return `dd.mm.yyyy` texts of day numbers; NO_DATE gives an empty text."""
    missing = days == NO_DATE
    if missing.all():
        return np.full(len(days), "", dtype="U10")
    known = days[~missing]
    first, last = int(known.min()), int(known.max())
    calendar = pd.date_range(np.datetime64(first, "D"), np.datetime64(last, "D"), freq="D")
    table = np.array(calendar.strftime("%d.%m.%Y"), dtype="U10")
    return np.where(missing, "", table[np.where(missing, first, days) - first])


def amount_texts(cents: np.ndarray, trailing_minus: np.ndarray,
                 dashed_francs: np.ndarray) -> np.ndarray:
    """Return Swiss amount texts: `1'234.50`, `-0.50` or `0.50-`, and `100.--` where asked."""
    magnitude = np.abs(cents)
    francs, rappen = magnitude // 100, magnitude % 100
    # `100.--` is written for whole francs owed, never with a minus sign (`100.---` would be odd).
    decimals = np.where(dashed_francs & (rappen == 0) & (cents > 0), "--", _TWO_DIGITS[rappen])
    body = np.strings.add(np.strings.add(_grouped(francs), "."), decimals)
    negative = cents < 0
    trailing = np.strings.add(body, "-")
    leading = np.strings.add("-", body)
    return np.where(negative & trailing_minus, trailing, np.where(negative, leading, body))


_TWO_DIGITS = np.array([f"{number:02d}" for number in range(100)])
_THREE_DIGITS = np.array([f"{number:03d}" for number in range(1000)])


def _grouped(francs: np.ndarray) -> np.ndarray:
    """Return whole francs with an apostrophe every three digits: `1'234'567`."""
    text = francs.astype(str)
    large = francs >= 1000
    if large.any():
        # Only the few amounts of 1'000 francs and more take the slower path.
        head = _grouped(francs[large] // 1000)
        text[large] = np.strings.add(np.strings.add(head, "'"), _THREE_DIGITS[francs[large] % 1000])
    return text


def write_header(handle: TextIO, columns: tuple[str, ...]) -> None:
    handle.write(";".join(columns) + "\n")


def write_subscriptions(handle: TextIO, population: Population, first: int, last: int) -> None:
    """Append the rows of subscriptions first..last-1."""
    subs = np.arange(first, last)
    customers = population.customer[subs]
    columns = {
        "subscription_id": subscription_ids(subs),
        "customer_id": customer_ids(customers),
        "customer_name": customer_names(population, customers),
        "language": np.array(LANGUAGES)[population.language[customers]],
        "service": np.array(SERVICES)[population.service[subs]],
        "start_date": date_texts(population.start[subs]),
        "end_date": date_texts(population.end[subs]),
        "next_billing_date": date_texts(population.next_billing[subs]),
    }
    _write(handle, columns, SUBSCRIPTION_COLUMNS)


def write_open_items(handle: TextIO, population: Population, items: pd.DataFrame,
                     rng: np.random.Generator) -> None:
    """Append open items (the numeric frame of `demo_ledger`) as text rows."""
    size = len(items)
    if size == 0:
        return
    customers = items["customer"].to_numpy()
    trailing_minus = rng.random(size) < TRAILING_MINUS_SHARE
    dashed_francs = rng.random(size) < DASHED_FRANCS_SHARE
    no_dashes = np.zeros(size, dtype=bool)
    columns = {
        "document_no": items["document_no"].to_numpy().astype(str),
        "line_no": items["line_no"].to_numpy().astype(str),
        "customer_id": customer_ids(customers),
        "subscription_id": subscription_ids(items["subscription"].to_numpy()),
        "document_date": date_texts(items["document_day"].to_numpy()),
        "due_date": date_texts(items["due_day"].to_numpy()),
        "amount": amount_texts(items["amount"].to_numpy(), trailing_minus, dashed_francs),
        "open_amount": amount_texts(items["open_amount"].to_numpy(), trailing_minus, no_dashes),
        "currency": np.where(population.euro[customers], "EUR", "CHF"),
        "block": np.array(BLOCKS)[items["block"].to_numpy()],
    }
    _write(handle, columns, OPEN_ITEM_COLUMNS)


def _write(handle: TextIO, columns: dict[str, np.ndarray], order: tuple[str, ...]) -> None:
    # No value contains the delimiter, a quote or a line break (ids, numbers, dates, the fixed
    # name lists), so the rows need no quoting.
    lines = columns[order[0]]
    for name in order[1:]:
        lines = np.strings.add(np.strings.add(lines, ";"), columns[name])
    handle.write("\n".join(lines.tolist()))
    handle.write("\n")
