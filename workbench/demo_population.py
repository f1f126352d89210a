"""Demo customers and subscriptions of a Swiss municipal utility, as numeric arrays.

Text (ids, names, dates) is built later, one chunk at a time, by `demo_files`: a million
subscriptions held as Python strings would cost several hundred megabytes.
Days are counted from 1970-01-01 (numpy's `datetime64[D]` epoch), months likewise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

LANGUAGES = ("fr", "de", "it")
LANGUAGE_WEIGHTS = (0.55, 0.33, 0.12)

SURNAMES = {
    "fr": ("Favre", "Rochat", "Bonvin", "Dupont", "Perret", "Jaquet", "Monnier", "Chappuis",
           "Berset", "Cuche", "Girard", "Rey", "Fontaine", "Morel", "Rossier", "Roulin",
           "Pittet", "Chevalley", "Mottier", "Vuilleumier", "Aubert", "Clément", "Gaillard",
           "Jacot", "Mercier", "Reymond", "Thévenaz", "Décosterd", "Besson", "Bovet"),
    "de": ("Müller", "Meier", "Schneider", "Keller", "Weber", "Huber", "Schmid", "Brunner",
           "Baumann", "Gerber", "Fischer", "Steiner", "Zimmermann", "Frei", "Moser", "Wyss",
           "Graf", "Bühler", "Widmer", "Kälin", "Hofmann", "Suter", "Kuhn", "Roth", "Lüthi",
           "Gasser", "Tschanz", "Bachmann", "Ammann", "Zürcher"),
    "it": ("Rossi", "Bernasconi", "Bianchi", "Ferrari", "Fontana", "Lombardi", "Pedrazzini",
           "Moretti", "Galli", "Colombo", "Cattaneo", "Gianella", "Pellandini", "Bassi",
           "Rezzonico", "Togni", "Guidotti", "Bernardi", "Canepa", "Soldati", "Quadri",
           "Dell'Acqua", "Mariotta", "Beffa"),
}
FIRST_NAMES = {
    "fr": ("Marie", "Luc", "Anne", "Paul", "Léa", "Jean", "Claire", "Eric", "Nina", "Alain",
           "Sophie", "Pierre", "Julien", "Chloé", "Nicolas", "Camille", "Olivier", "Céline",
           "François", "Mathilde", "Thierry", "Isabelle", "Yves", "Aurélie", "Gilles", "Noémie"),
    "de": ("Hans", "Urs", "Ruth", "Peter", "Verena", "Beat", "Monika", "Thomas", "Barbara",
           "Daniel", "Sandra", "Markus", "Brigitte", "Reto", "Andrea", "Jürg", "Käthi", "Lukas",
           "Nadine", "Stefan", "Corinne", "Martin", "Regula", "Fabian", "Jörg", "Ursula"),
    "it": ("Marco", "Giulia", "Luca", "Francesca", "Paolo", "Chiara", "Giorgio", "Elena",
           "Matteo", "Sara", "Andrea", "Laura", "Fabio", "Simona", "Nicola", "Anna", "Stefano",
           "Silvia", "Davide", "Martina"),
}
# Company names as (prefix, suffix) around a surname: "Régie Favre SA".
COMPANY_FORMS = {
    "fr": (("Régie ", " SA"), ("Garage ", " Sàrl"), ("Boulangerie ", "")),
    "de": (("Immobilien ", " AG"), ("Garage ", " GmbH"), ("Bäckerei ", "")),
    "it": (("Immobiliare ", " SA"), ("Garage ", " Sagl"), ("Panetteria ", "")),
}
COMPANY_SHARE = 0.05

SERVICES = ("electricity", "water", "gas", "waste", "fibre")
SERVICE_WEIGHTS = (0.35, 0.22, 0.10, 0.18, 0.15)
ELECTRICITY, WATER, GAS, WASTE, FIBRE = range(len(SERVICES))
# Energy invoices carry exact centimes; the municipal fees are rounded to 0.05 (Rappenrundung).
SERVICES_ROUNDED_TO_005 = (WATER, WASTE, FIBRE)
SERVICES_WITH_CONSUMPTION = (ELECTRICITY, WATER, GAS)

# Payment habits of a customer; `demo_ledger` turns each into outcomes per invoice.
HABITS = ("exact", "round_franc", "round_005", "overpay", "standing_order", "late", "debtor",
          "dispute", "payment_plan", "double_payment")
HABIT_WEIGHTS = (0.59, 0.08, 0.06, 0.05, 0.04, 0.10, 0.02, 0.02, 0.015, 0.025)

# Fate of a customer: all subscriptions still run, some ended on a move (others remain or
# were opened at the new address), or all ended (the customer left).
STAYS, MOVED, LEFT = range(3)

SUBSCRIPTIONS_PER_CUSTOMER = (1, 2, 3, 4)
SUBSCRIPTIONS_PER_CUSTOMER_WEIGHTS = (0.46, 0.30, 0.16, 0.08)

# Sentinel for "no end date" and "no next billing date": far beyond any demo date.
NO_DATE = np.int64(2**31 - 1)
EPOCH = dt.date(1970, 1, 1)


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def month_of(days: np.ndarray | int) -> np.ndarray:
    """Return the month index (months since 1970-01) of day numbers."""
    return np.asarray(days, dtype="datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_start(months: np.ndarray | int) -> np.ndarray:
    return np.asarray(months, dtype="datetime64[M]").astype("datetime64[D]").astype(np.int64)


def month_end(months: np.ndarray | int) -> np.ndarray:
    return month_start(np.asarray(months) + 1) - 1


def random_stream(seed: int, *stream: int) -> np.random.Generator:
    """Return an independent generator per purpose, so that one change does not shift the rest."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


@dataclass(frozen=True)
class Population:
    """Customers (indexed 0..customers-1) and subscriptions (indexed 0..N-1), grouped by customer."""

    as_of_day: int
    # per customer
    language: np.ndarray  # index into LANGUAGES
    surname: np.ndarray  # index into the language's SURNAMES
    first_name: np.ndarray  # index into the language's FIRST_NAMES
    company_form: np.ndarray  # index into the language's COMPANY_FORMS, -1 for a person
    habit: np.ndarray  # index into HABITS
    euro: np.ndarray  # bool: billed in EUR (cross-border customers)
    fate: np.ndarray  # STAYS, MOVED or LEFT
    # per subscription
    customer: np.ndarray
    position: np.ndarray  # 0-based rank of the subscription within its customer
    service: np.ndarray  # index into SERVICES
    start: np.ndarray  # day number
    end: np.ndarray  # day number, NO_DATE when open-ended
    cycle: np.ndarray  # billing period in months: 1 or 3
    monthly_cents: np.ndarray  # typical charge per month
    next_billing: np.ndarray  # day number, NO_DATE when none

    @property
    def customer_count(self) -> int:
        return len(self.language)

    @property
    def subscription_count(self) -> int:
        return len(self.customer)

    def valid(self) -> np.ndarray:
        """Return which subscriptions are valid on the as-of date (started, not ended)."""
        return (self.start <= self.as_of_day) & (self.end > self.as_of_day)


def build_population(subscriptions: int, seed: int, as_of: dt.date) -> Population:
    """Draw customers until they have exactly `subscriptions` subscriptions, then the subscriptions."""
    rng = random_stream(seed, 1)
    as_of_day = day_number(as_of)

    counts = _subscription_counts(rng, subscriptions)
    customers = len(counts)
    language = rng.choice(len(LANGUAGES), size=customers, p=LANGUAGE_WEIGHTS).astype(np.int8)
    surname, first_name, company_form = _names(rng, language)
    habit = rng.choice(len(HABITS), size=customers, p=HABIT_WEIGHTS).astype(np.int8)
    euro = rng.random(customers) < 0.004
    fate = _fates(rng, counts)
    move_day, since_day = _move_and_since_days(rng, fate, as_of_day)

    customer = np.repeat(np.arange(customers, dtype=np.int32), counts)
    first_of_customer = np.cumsum(counts) - counts
    position = (np.arange(subscriptions) - np.repeat(first_of_customer, counts)).astype(np.int8)
    service = rng.choice(len(SERVICES), size=subscriptions, p=SERVICE_WEIGHTS).astype(np.int8)
    start, end = _subscription_dates(rng, customer, position, counts, fate, move_day, since_day,
                                     as_of_day)
    cycle = _billing_cycles(rng, service)
    monthly_cents = _monthly_charges(rng, service, company_form[customer] >= 0)
    next_billing = _next_billing_days(start, end, cycle, as_of_day)

    return Population(
        as_of_day=as_of_day, language=language, surname=surname, first_name=first_name,
        company_form=company_form, habit=habit, euro=euro, fate=fate, customer=customer,
        position=position, service=service, start=start, end=end, cycle=cycle,
        monthly_cents=monthly_cents, next_billing=next_billing,
    )


def _subscription_counts(rng: np.random.Generator, subscriptions: int) -> np.ndarray:
    # Every customer has at least one subscription, so `subscriptions` draws always suffice.
    counts = rng.choice(SUBSCRIPTIONS_PER_CUSTOMER, size=subscriptions,
                        p=SUBSCRIPTIONS_PER_CUSTOMER_WEIGHTS).astype(np.int64)
    running = np.cumsum(counts)
    customers = int(np.searchsorted(running, subscriptions)) + 1
    counts = counts[:customers]
    counts[-1] -= running[customers - 1] - subscriptions
    return counts


def _names(rng: np.random.Generator, language: np.ndarray):
    customers = len(language)
    surname_counts = np.array([len(SURNAMES[lang]) for lang in LANGUAGES])[language]
    first_counts = np.array([len(FIRST_NAMES[lang]) for lang in LANGUAGES])[language]
    # A power of a uniform draw favours the first names of each list, as real name
    # frequencies do (Müller is more common than Zürcher).
    surname = np.floor(surname_counts * rng.random(customers) ** 1.6).astype(np.int16)
    first_name = np.floor(first_counts * rng.random(customers)).astype(np.int16)
    is_company = rng.random(customers) < COMPANY_SHARE
    company_form = np.where(is_company, rng.integers(0, 3, customers), -1).astype(np.int8)
    return surname, first_name, company_form


def _fates(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    # A move that keeps or opens another subscription needs at least two of them.
    draw = rng.random(len(counts))
    several = counts >= 2
    fate = np.full(len(counts), STAYS, dtype=np.int8)
    fate[several & (draw < 0.14)] = MOVED
    fate[several & (draw >= 0.14) & (draw < 0.20)] = LEFT
    fate[~several & (draw < 0.08)] = LEFT
    return fate


def _move_and_since_days(rng: np.random.Generator, fate: np.ndarray, as_of_day: int):
    customers = len(fate)
    as_of_month = int(month_of(as_of_day))
    # Tenants move out at a month's end, some of them in the last month before the as-of date.
    move_day = month_end(as_of_month - rng.integers(0, 30, customers))
    move_day = np.minimum(move_day, as_of_day)
    tenure = 60 + np.floor((25 * 365 - 60) * rng.random(customers) ** 1.5).astype(np.int64)
    since_day = as_of_day - tenure
    moving = fate != STAYS
    since_day = np.where(moving, np.minimum(since_day, move_day - 200), since_day)
    return move_day, since_day


def _subscription_dates(rng, customer, position, counts, fate, move_day, since_day, as_of_day):
    subscriptions = len(customer)
    sub_fate = fate[customer]
    sub_move = move_day[customer]
    sub_since = since_day[customer]

    # Moves end the first `ended` subscriptions of a customer: 1..count-1 of them on a move.
    ended = np.where(fate == LEFT, counts, 0)
    moved = fate == MOVED
    ended[moved] = 1 + np.floor(rng.random(moved.sum()) * (counts[moved] - 1)).astype(np.int64)
    is_ended = position < ended[customer]

    # Later subscriptions start some time after the customer's first one.
    latest_start = np.where(is_ended | (sub_fate == MOVED), sub_move - 60, as_of_day - 1)
    later = sub_since + np.floor((latest_start - sub_since) * 0.8 * rng.random(subscriptions))
    start = np.where(position == 0, sub_since, later.astype(np.int64))
    start = np.minimum(start, latest_start)

    # Three in four subscriptions that remain after a move were opened at the new address.
    new_address = (sub_fate == MOVED) & ~is_ended & (rng.random(subscriptions) < 0.75)
    start = np.where(new_address, sub_move + 1, start)

    end = np.where(is_ended, sub_move, NO_DATE)

    # A few notices given (end after the as-of date, still valid) and a few subscriptions
    # that start after the as-of date (not valid yet).
    stays = sub_fate == STAYS
    draw = rng.random(subscriptions)
    notice = stays & (draw < 0.01)
    end = np.where(notice, as_of_day + rng.integers(1, 91, subscriptions), end)
    future = stays & (position > 0) & (draw >= 0.01) & (draw < 0.014)
    start = np.where(future, as_of_day + rng.integers(1, 46, subscriptions), start)
    return start.astype(np.int64), end.astype(np.int64)


def _billing_cycles(rng: np.random.Generator, service: np.ndarray) -> np.ndarray:
    monthly = rng.random(len(service)) < 0.4
    cycle = np.where(monthly, 1, 3)
    cycle = np.where(service == FIBRE, 1, cycle)
    cycle = np.where(service == WASTE, 3, cycle)
    return cycle.astype(np.int8)


def _monthly_charges(rng, service: np.ndarray, is_company: np.ndarray) -> np.ndarray:
    subscriptions = len(service)
    # Median monthly charge in centimes and log-normal spread of the consumption services.
    median = np.array([8000, 3500, 9000, 0, 0])[service]
    spread = np.array([0.5, 0.4, 0.5, 0.0, 0.0])[service]
    # The draw is a float, the charge is integer centimes from here on.
    variable = np.rint(median * np.exp(spread * rng.standard_normal(subscriptions)))
    variable = variable.astype(np.int64) * np.where(is_company, 4, 1)
    waste_fee = np.array([1450, 1650, 1800, 2100])[rng.integers(0, 4, subscriptions)]
    fibre_price = np.array([4900, 5900, 6900, 7900, 9900])[rng.integers(0, 5, subscriptions)]
    charge = np.where(service == WASTE, waste_fee, variable)
    charge = np.where(service == FIBRE, fibre_price, charge)
    return np.maximum(charge, 500).astype(np.int64)


def _next_billing_days(start, end, cycle, as_of_day: int) -> np.ndarray:
    # The first period end after the as-of date (or after the start, for future subscriptions),
    # with quarters ending in March, June, September and December.
    from_day = np.maximum(start, as_of_day + 1)
    month = month_of(from_day)
    quarter_end_month = month + (2 - month % 3)
    next_day = month_end(np.where(cycle == 3, quarter_end_month, month))
    running = end > as_of_day
    return np.where(running, next_day, NO_DATE).astype(np.int64)
