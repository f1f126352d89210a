"""A realistic demo utility: extract files of a Swiss municipal utility, then their import.

`write_demo_files` draws French, German and Italian speaking customers with one to four
subscriptions each (electricity, water, gas, waste, fibre) and some move-outs. It then draws two
years of monthly and quarterly invoices, credit notes and payments with the habits seen in
practice. It writes the billing system's subscriptions extract and the ERP's open-items extract
in the default profile's format. `load_demo` also imports them. The same arguments give byte-identical files:
nothing depends on the clock, and the default as-of date comes from the seed.

Generation is vectorised and works on slices of `SLICE_SUBSCRIPTIONS` subscriptions, so its
memory grows with the customer and subscription arrays (about 50 bytes per subscription), not
with the invoices.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from .config import database_url
from .demo_files import (
    OPEN_ITEM_COLUMNS,
    SUBSCRIPTION_COLUMNS,
    write_header,
    write_open_items,
    write_subscriptions,
)
from .demo_ledger import (
    BLOCKS,
    DocumentCounters,
    LedgerCounts,
    open_items_of_slice,
)
from .demo_population import Population, build_population, random_stream
from .errors import InvalidInput, Problem
from .i18n import _
from .importing import ImportResult, import_open_items, import_subscriptions

log = logging.getLogger(__name__)

DEFAULT_SEED = 1
DEFAULT_SUBSCRIPTIONS = 5_000
# The seed picks a reference day in the year after this date. The default as-of date is the
# last day of the month before the reference day.
REFERENCE_EPOCH = dt.date(2026, 1, 1)
SLICE_SUBSCRIPTIONS = 50_000
SUBSCRIPTIONS_FILE = "subscriptions.csv"
OPEN_ITEMS_FILE = "open_items.csv"
SMALL_MIN_CENTS, SMALL_MAX_CENTS = 5, 500


def reference_date(seed: int) -> dt.date:
    """Return the fixed reference day of a seed, used in place of today's date."""
    return REFERENCE_EPOCH + dt.timedelta(days=seed % 365)


def default_as_of(seed: int) -> dt.date:
    """Return the last day of the month before the seed's reference day."""
    return reference_date(seed).replace(day=1) - dt.timedelta(days=1)


def default_folder(db_url: str | None = None) -> Path:
    """Return `demo/` beside an SQLite database file, else `data/demo`."""
    url = make_url(database_url(db_url))
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / "demo"
    return Path("data") / "demo"


@dataclass
class CurrencyTotals:
    """Open amounts of one currency: owed by customers (debit) and in their favour (credit)."""

    items: int = 0
    debit_cents: int = 0
    credit_cents: int = 0


@dataclass
class DemoSummary:
    """Counts and totals of the generated files, for the command's output and for tests."""

    customers: int = 0
    subscriptions: int = 0
    valid_subscriptions: int = 0
    ended_subscriptions: int = 0
    customers_moved: int = 0  # an ended subscription and at least one valid one
    customers_moved_several_valid: int = 0  # of those, with two or more valid ones
    customers_left: int = 0  # no valid subscription
    invoices: int = 0  # drawn over the window, paid or not
    invoices_paid: int = 0  # fully paid, so absent from the open-items extract
    open_items: int = 0
    small_open_items: int = 0  # absolute open amount between 0.05 and 5.00
    blocked: dict[str, int] = field(default_factory=dict)
    totals: dict[str, CurrencyTotals] = field(default_factory=dict)


@dataclass(frozen=True)
class DemoFiles:
    """The two extract files written, with the as-of date they describe."""

    subscriptions_path: Path
    open_items_path: Path
    as_of: dt.date
    seed: int
    summary: DemoSummary


def write_demo_files(folder: Path | str, *, subscriptions: int = DEFAULT_SUBSCRIPTIONS,
                     seed: int = DEFAULT_SEED, as_of: dt.date | None = None) -> DemoFiles:
    """Generate the demo utility and write its two extract files into `folder`.

    Raises InvalidInput when `subscriptions` is not a positive whole number or `seed` is
    negative; nothing is written then.
    """
    _check_arguments(subscriptions, seed)
    as_of = as_of or default_as_of(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    log.info("demo: generating %d subscriptions, seed %d, as of %s", subscriptions, seed, as_of)

    population = build_population(subscriptions, seed, as_of)
    summary = _population_summary(population)
    subscriptions_path = folder / SUBSCRIPTIONS_FILE
    open_items_path = folder / OPEN_ITEMS_FILE
    _write_atomically(subscriptions_path, lambda handle: _write_all_subscriptions(
        handle, population))
    _write_atomically(open_items_path, lambda handle: _write_all_open_items(
        handle, population, seed, summary))

    log.info("demo: %d customers, %d subscriptions, %d open items written to %s",
             summary.customers, summary.subscriptions, summary.open_items, folder)
    return DemoFiles(subscriptions_path, open_items_path, as_of, seed, summary)


def _check_arguments(subscriptions: object, seed: object) -> None:
    problems = []
    if isinstance(subscriptions, bool) or not isinstance(subscriptions, int) or subscriptions < 1:
        problems.append(Problem("", None, "subscriptions", str(subscriptions),
                                _("must be a whole number of at least 1")))
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(Problem("", None, "seed", str(seed),
                                _("must be a whole number of at least 0")))
    if problems:
        raise InvalidInput(_("Invalid demo settings; nothing was written."), problems)


def _write_atomically(path: Path, write) -> None:
    # A half-written extract must never be left where the importer would pick it up.
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        write(handle)
    os.replace(partial, path)


def _slices(total: int):
    for first in range(0, total, SLICE_SUBSCRIPTIONS):
        yield first // SLICE_SUBSCRIPTIONS, first, min(first + SLICE_SUBSCRIPTIONS, total)


def _write_all_subscriptions(handle, population: Population) -> None:
    write_header(handle, SUBSCRIPTION_COLUMNS)
    for _index, first, last in _slices(population.subscription_count):
        write_subscriptions(handle, population, first, last)


def _write_all_open_items(handle, population: Population, seed: int,
                          summary: DemoSummary) -> None:
    counters, counts = DocumentCounters(), LedgerCounts()
    write_header(handle, OPEN_ITEM_COLUMNS)
    for index, first, last in _slices(population.subscription_count):
        # One stream per slice and purpose: a slice's rows depend on its number, not on the
        # slices drawn before it.
        items = open_items_of_slice(population, first, last, random_stream(seed, 2, index),
                                    counters, counts)
        write_open_items(handle, population, items, random_stream(seed, 3, index))
        _add_open_items(summary, population, items)
    summary.invoices = counts.invoices
    summary.invoices_paid = counts.invoices_paid


def _population_summary(population: Population) -> DemoSummary:
    customers = population.customer_count
    valid = population.valid()
    ended = population.end <= population.as_of_day
    valid_per_customer = np.bincount(population.customer, weights=valid, minlength=customers)
    ended_per_customer = np.bincount(population.customer, weights=ended, minlength=customers)
    moved = (ended_per_customer > 0) & (valid_per_customer > 0)
    return DemoSummary(
        customers=customers,
        subscriptions=population.subscription_count,
        valid_subscriptions=int(valid.sum()),
        ended_subscriptions=int(ended.sum()),
        customers_moved=int(moved.sum()),
        customers_moved_several_valid=int((moved & (valid_per_customer >= 2)).sum()),
        customers_left=int((valid_per_customer == 0).sum()),
        blocked={block: 0 for block in BLOCKS if block},
    )


def _add_open_items(summary: DemoSummary, population: Population, items) -> None:
    open_amount = items["open_amount"].to_numpy()
    euro = population.euro[items["customer"].to_numpy()]
    summary.open_items += len(items)
    magnitude = np.abs(open_amount)
    small = (magnitude >= SMALL_MIN_CENTS) & (magnitude <= SMALL_MAX_CENTS)
    summary.small_open_items += int(small.sum())
    block_counts = np.bincount(items["block"].to_numpy(), minlength=len(BLOCKS))
    for code, block in enumerate(BLOCKS):
        if block:
            summary.blocked[block] += int(block_counts[code])
    for currency, rows in (("CHF", ~euro), ("EUR", euro)):
        if not rows.any():
            continue
        totals = summary.totals.setdefault(currency, CurrencyTotals())
        amounts = open_amount[rows]
        totals.items += int(rows.sum())
        totals.debit_cents += int(amounts[amounts > 0].sum())
        totals.credit_cents += int(amounts[amounts < 0].sum())


@dataclass(frozen=True)
class DemoLoad:
    """The demo files and what the importer stored from each."""

    files: DemoFiles
    subscriptions_import: ImportResult
    open_items_import: ImportResult


def load_demo(engine: Engine, folder: Path | str, *, subscriptions: int = DEFAULT_SUBSCRIPTIONS,
              seed: int = DEFAULT_SEED, as_of: dt.date | None = None,
              actor: str | None = None) -> DemoLoad:
    """Write the demo files into `folder`, then import both into the database of `engine`.

    The schema must be up to date. Each import is its own transaction, as from the command line.
    """
    files = write_demo_files(folder, subscriptions=subscriptions, seed=seed, as_of=as_of)
    subscriptions_import = import_subscriptions(engine, files.subscriptions_path, actor=actor)
    open_items_import = import_open_items(engine, files.open_items_path, as_of=files.as_of,
                                          actor=actor)
    return DemoLoad(files, subscriptions_import, open_items_import)
