"""Demo invoices and payments of two years, reduced to the ERP's open items on the as-of date.

Works on one slice of subscriptions at a time (`open_items_of_slice`) so that memory stays
bounded whatever the number of subscriptions. Every invoice is drawn, paid or not according to
its customer's habit, and only what is still open on the as-of date is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .demo_population import (
    HABITS,
    SERVICES_ROUNDED_TO_005,
    SERVICES_WITH_CONSUMPTION,
    Population,
    month_end,
    month_of,
    month_start,
)

WINDOW_MONTHS = 24
PAYMENT_TERMS_DAYS = 30
BILLING_RUN_DAYS = 5  # days from the end of a billing period to its invoice
FINAL_INVOICE_DAYS = 10  # days from a move-out to its final invoice

# Outcome of one invoice: how its customer paid it.
EXACT, ROUND_FRANC, ROUND_005, OVERPAY, STANDING_ORDER, PAID_TWICE, UNPAID, DISPUTED = range(8)
OUTCOMES = 8

# Share of a habit's invoices per outcome; the rest is paid exactly.
_OUTCOME_SHARES = {
    "exact": {ROUND_FRANC: 0.004, OVERPAY: 0.002, PAID_TWICE: 0.002, UNPAID: 0.002},
    "round_franc": {ROUND_FRANC: 0.70},
    "round_005": {ROUND_005: 0.85},
    "overpay": {OVERPAY: 0.60},
    "standing_order": {STANDING_ORDER: 0.90},
    "late": {UNPAID: 0.02, PAID_TWICE: 0.01},
    "debtor": {UNPAID: 0.30},
    "dispute": {DISPUTED: 0.05, UNPAID: 0.02},
    "payment_plan": {UNPAID: 0.05},
    "double_payment": {PAID_TWICE: 0.12},
}
# Mean days from the invoice date to the payment.
_PAYMENT_DELAY_DAYS = {"late": 50, "debtor": 70}
_DEFAULT_PAYMENT_DELAY_DAYS = 18

# Block codes of the open-items extract (empty = not blocked).
BLOCKS = ("", "dunning", "collection", "dispute", "payment_plan")
NO_BLOCK, DUNNING, COLLECTION, DISPUTE, PAYMENT_PLAN = range(len(BLOCKS))
DUNNING_AFTER_DAYS = 30  # days past due before an unpaid invoice enters dunning
COLLECTION_AFTER_DAYS = 150  # days past due before it goes to debt collection

# Document number ranges, as an ERP keeps one per document type.
INVOICE_NUMBERS = 1_000_000_000
PAYMENT_NUMBERS = 1_400_000_000
FEE_NUMBERS = 1_600_000_000
PLAN_NUMBERS = 1_700_000_000
CREDIT_NOTE_NUMBERS = 1_800_000_000
DUNNING_FEE_CENTS = 2000

NO_SUBSCRIPTION = -1


def _outcome_table() -> np.ndarray:
    table = np.zeros((len(HABITS), OUTCOMES))
    for habit, shares in _OUTCOME_SHARES.items():
        row = table[HABITS.index(habit)]
        for outcome, share in shares.items():
            row[outcome] = share
        row[EXACT] = 1.0 - row.sum()
    return np.cumsum(table, axis=1)


_CUMULATIVE_OUTCOMES = _outcome_table()
_DELAY_BY_HABIT = np.array(
    [_PAYMENT_DELAY_DAYS.get(habit, _DEFAULT_PAYMENT_DELAY_DAYS) for habit in HABITS]
)


@dataclass
class DocumentCounters:
    """Next free number per document type; carried from one slice to the next."""

    invoice: int = 0
    payment: int = 0
    fee: int = 0
    plan: int = 0
    credit_note: int = 0

    def take(self, kind: str, count: int) -> np.ndarray:
        first = getattr(self, kind)
        setattr(self, kind, first + count)
        base = {"invoice": INVOICE_NUMBERS, "payment": PAYMENT_NUMBERS, "fee": FEE_NUMBERS,
                "plan": PLAN_NUMBERS, "credit_note": CREDIT_NOTE_NUMBERS}[kind]
        return base + first + np.arange(count, dtype=np.int64)


@dataclass
class LedgerCounts:
    """Invoices drawn and paid in full, over all slices."""

    invoices: int = 0
    invoices_paid: int = 0
    outcomes: np.ndarray = field(default_factory=lambda: np.zeros(OUTCOMES, dtype=np.int64))


# Columns of the numeric open-items frame that `demo_files` turns into text.
OPEN_ITEM_FIELDS = ("document_no", "line_no", "customer", "subscription", "document_day",
                    "due_day", "amount", "open_amount", "block")


def open_items_of_slice(population: Population, first: int, last: int,
                        rng: np.random.Generator, counters: DocumentCounters,
                        counts: LedgerCounts) -> pd.DataFrame:
    """Return the open items of subscriptions first..last-1 on the as-of date, sorted by customer."""
    subs = np.arange(first, last)
    parts = [
        _invoices(population, subs, rng, counters, counts),
        _credit_notes(population, subs, rng, counters),
        _final_invoices_with_credit_notes(population, subs, rng, counters),
        _payment_plans(population, subs, rng, counters),
        _payments_on_account(population, subs, rng, counters),
    ]
    items = pd.concat([pd.DataFrame(part) for part in parts], ignore_index=True)
    items = pd.concat([items, _dunning_fees(population, items, rng, counters)], ignore_index=True)
    items = items.astype({name: np.int64 for name in OPEN_ITEM_FIELDS})
    return items.sort_values(["customer", "document_day", "document_no", "line_no"],
                             kind="stable", ignore_index=True)


def _items(document_no, customer, subscription, document_day, amount, open_amount,
           block=NO_BLOCK, line_no=1, due_day=None) -> dict[str, np.ndarray]:
    size = len(document_no)
    return {
        "document_no": document_no,
        "line_no": np.broadcast_to(line_no, size),
        "customer": customer,
        "subscription": subscription,
        "document_day": document_day,
        "due_day": document_day + PAYMENT_TERMS_DAYS if due_day is None else due_day,
        "amount": amount,
        "open_amount": open_amount,
        "block": np.broadcast_to(block, size),
    }


def _invoices(population: Population, subs: np.ndarray, rng: np.random.Generator,
              counters: DocumentCounters, counts: LedgerCounts) -> dict[str, np.ndarray]:
    as_of = population.as_of_day

    # Step 1: one candidate invoice per subscription and month of the window, kept for the
    # months that end a billing period while the subscription ran.
    last_month = int(month_of(as_of))
    sub = np.repeat(subs, WINDOW_MONTHS)
    month = np.tile(np.arange(last_month - WINDOW_MONTHS + 1, last_month + 1), len(subs))
    cycle = population.cycle[sub]
    period_end = month_end(month)
    period_start = month_start(month - cycle + 1)
    billed = (cycle == 1) | (month % 3 == 2)
    billed &= (population.start[sub] <= period_end) & (population.end[sub] >= period_start)

    # Step 2: dates. The billing run issues a period's invoice a few days after its end, and the
    # final invoice a little later after a move-out. Some are not issued by the as-of date.
    end = population.end[sub]
    final = end <= period_end
    document_day = np.where(final, end + FINAL_INVOICE_DAYS, period_end + BILLING_RUN_DAYS)
    billed &= document_day <= as_of
    sub, cycle, document_day = sub[billed], cycle[billed], document_day[billed]
    size = len(sub)
    due_day = document_day + PAYMENT_TERMS_DAYS

    # Step 3: amounts, from the subscription's usual charge and a consumption factor.
    service = population.service[sub]
    consumption = np.isin(service, SERVICES_WITH_CONSUMPTION)
    factor_permille = np.where(
        consumption, np.rint(1000 * np.exp(0.18 * rng.standard_normal(size))), 1000
    ).astype(np.int64)
    usual = population.monthly_cents[sub] * cycle
    amount = np.maximum(usual * factor_permille // 1000, 100)
    rounded = np.isin(service, SERVICES_ROUNDED_TO_005)
    amount = np.where(rounded, (amount + 2) // 5 * 5, amount)

    # Step 4: what the customer paid, and when.
    customer = population.customer[sub]
    habit = population.habit[customer]
    outcome = (rng.random(size)[:, None] > _CUMULATIVE_OUTCOMES[habit]).sum(axis=1)
    delay = np.rint(_DELAY_BY_HABIT[habit] * rng.gamma(2.0, 0.5, size)).astype(np.int64)
    received = document_day + delay <= as_of
    paid = _paid_amounts(outcome, amount, usual, rng)
    never_paid = (outcome == UNPAID) | (outcome == DISPUTED)
    open_amount = np.where(received & ~never_paid, amount - paid, amount)

    block = np.full(size, NO_BLOCK)
    overdue_days = as_of - due_day
    block = np.where((outcome == UNPAID) & (overdue_days > DUNNING_AFTER_DAYS), DUNNING, block)
    block = np.where((outcome == UNPAID) & (overdue_days > COLLECTION_AFTER_DAYS), COLLECTION,
                     block)
    block = np.where(outcome == DISPUTED, DISPUTE, block)

    document_no = counters.take("invoice", size)
    counts.invoices += size
    counts.invoices_paid += int((open_amount == 0).sum())
    counts.outcomes += np.bincount(outcome, minlength=OUTCOMES)

    # Step 5: a second payment of the same invoice is an open credit on its own document.
    # One in five payment slips lacks the reference, so the ERP cannot tell the subscription.
    second_day = document_day + delay + rng.integers(1, 21, size)
    second = (outcome == PAID_TWICE) & received & (second_day <= as_of)
    payment_subscription = np.where(rng.random(size) < 0.2, NO_SUBSCRIPTION, sub)
    payments = _items(
        counters.take("payment", int(second.sum())), customer[second],
        payment_subscription[second], second_day[second], -amount[second], -amount[second],
    )

    is_open = open_amount != 0
    invoices = _items(document_no[is_open], customer[is_open], sub[is_open],
                      document_day[is_open], amount[is_open], open_amount[is_open],
                      block[is_open])
    return {name: np.concatenate([invoices[name], payments[name]]) for name in invoices}


def _paid_amounts(outcome, amount, usual, rng) -> np.ndarray:
    to_franc = amount // 100 * 100
    up_to_franc = -(-amount // 100) * 100
    up_to_ten = -(-amount // 1000) * 1000
    overpaid = np.where(rng.random(len(amount)) < 0.3, up_to_ten, up_to_franc)
    standing_order = np.rint(usual / 100).astype(np.int64) * 100
    paid = amount.copy()
    paid = np.where(outcome == ROUND_FRANC, to_franc, paid)
    paid = np.where(outcome == ROUND_005, amount // 5 * 5, paid)
    paid = np.where(outcome == OVERPAY, overpaid, paid)
    paid = np.where(outcome == STANDING_ORDER, standing_order, paid)
    return paid


def _credit_notes(population: Population, subs: np.ndarray, rng: np.random.Generator,
                  counters: DocumentCounters) -> dict[str, np.ndarray]:
    """Draw corrections (meter readings, goodwill) and final-bill refunds not yet offset or paid."""
    as_of = population.as_of_day
    window_start = int(month_start(month_of(as_of) - WINDOW_MONTHS))
    size = len(subs)
    start = np.maximum(population.start[subs], window_start)
    stop = np.minimum(population.end[subs], as_of)
    ran_in_window = start < stop
    ended = population.end[subs] <= as_of

    # A correction falls some time while the subscription ran. A recent one is not offset yet,
    # and the correction of an ended subscription waits for a refund.
    day = start + np.floor((stop - start) * rng.random(size)).astype(np.int64)
    correction_cents = -(rng.integers(100, 3000, size) * 5)
    still_open = (day > as_of - 45) | (ended & (rng.random(size) < 0.7)) | (rng.random(size) < 0.1)
    correction = ran_in_window & (rng.random(size) < 0.03) & still_open

    # The final bill of a move-out often refunds advance payments.
    refund_cents = -np.rint(4000 * np.exp(0.9 * rng.standard_normal(size))).astype(np.int64)
    refund_cents = np.minimum(refund_cents // 5 * 5, -50)
    # 30 % of final bills refund something, and 60 % of those refunds are not paid out yet.
    refund = ended & (population.end[subs] >= window_start) & (rng.random(size) < 0.18)
    refund_day = np.minimum(population.end[subs] + 10, as_of)

    # Small goodwill credits (a late reading, a price correction).
    goodwill = ran_in_window & (rng.random(size) < 0.008)
    goodwill_cents = -(rng.integers(1, 61, size) * 5)

    chosen = correction | refund | goodwill
    amount = np.where(correction, correction_cents,
                      np.where(refund, refund_cents, goodwill_cents))[chosen]
    document_day = np.where(refund & ~correction, refund_day, day)[chosen]
    customer = population.customer[subs[chosen]]
    return _items(counters.take("credit_note", int(chosen.sum())), customer, subs[chosen],
                  document_day, amount, amount)


def _final_invoices_with_credit_notes(population: Population, subs: np.ndarray,
                                      rng: np.random.Generator,
                                      counters: DocumentCounters) -> dict[str, np.ndarray]:
    """Draw unpaid final invoices, each corrected by a credit note of nearly the same amount.

    Both stay open, and the subscription's net balance is 4.95 at most.
    """
    as_of = population.as_of_day
    size = len(subs)
    end = population.end[subs]
    chosen = (end <= as_of) & (end >= as_of - 365) & (rng.random(size) < 0.06)
    count = int(chosen.sum())
    customer = population.customer[subs[chosen]]
    document_day = np.minimum(end[chosen] + 5, as_of)
    invoice_cents = rng.integers(200, 4000, count) * 5
    residual_cents = rng.integers(1, 100, count) * 5  # 0.05 to 4.95
    credit_cents = -(invoice_cents - residual_cents)
    credit_day = np.minimum(document_day + rng.integers(3, 30, count), as_of)
    invoices = _items(counters.take("invoice", count), customer, subs[chosen], document_day,
                      invoice_cents, invoice_cents)
    credits = _items(counters.take("credit_note", count), customer, subs[chosen], credit_day,
                     credit_cents, credit_cents)
    return {name: np.concatenate([invoices[name], credits[name]]) for name in invoices}


def _payment_plans(population: Population, subs: np.ndarray, rng: np.random.Generator,
                   counters: DocumentCounters) -> dict[str, np.ndarray]:
    """Draw instalment plans: one document each, one line per monthly instalment not yet paid."""
    as_of = population.as_of_day
    customer = population.customer[subs]
    chosen = (
        (population.habit[customer] == HABITS.index("payment_plan"))
        & (population.position[subs] == 0)
        & (population.start[subs] <= as_of - 90)
    )
    plan_subs = subs[chosen]
    plans = len(plan_subs)
    instalments = np.array([4, 6, 12])[rng.integers(0, 3, plans)]
    total = (population.monthly_cents[plan_subs] * rng.integers(3, 10, plans)) // 100 * 100
    months_ago = np.floor(instalments * rng.random(plans)).astype(np.int64)
    plan_month = month_of(as_of) - months_ago - 1
    document_no = counters.take("plan", plans)
    missed_one = rng.random(plans) < 0.2

    line_plan = np.repeat(np.arange(plans), instalments)
    line_no = np.arange(len(line_plan)) - np.repeat(np.cumsum(instalments) - instalments,
                                                    instalments) + 1
    line_count = instalments[line_plan]
    share = total[line_plan] // line_count // 5 * 5
    last = line_no == line_count
    amount = np.where(last, total[line_plan] - share * (line_count - 1), share)
    due_day = month_end(plan_month[line_plan] + line_no)
    # Instalments due by the as-of date were paid, except the latest one of some plans.
    due_lines = np.bincount(line_plan, weights=due_day <= as_of, minlength=plans)
    latest_due = line_no == due_lines[line_plan]
    is_open = (due_day > as_of) | (missed_one[line_plan] & latest_due)
    line_plan, amount = line_plan[is_open], amount[is_open]
    plan_day = month_end(plan_month)[line_plan]
    return _items(document_no[line_plan], customer[chosen][line_plan], plan_subs[line_plan],
                  plan_day, amount, amount, block=PAYMENT_PLAN, line_no=line_no[is_open],
                  due_day=due_day[is_open])


def _payments_on_account(population: Population, subs: np.ndarray, rng: np.random.Generator,
                         counters: DocumentCounters) -> dict[str, np.ndarray]:
    """Draw payments without a usable reference: open credits on the customer only."""
    as_of = population.as_of_day
    chosen = rng.random(len(subs)) < 0.002
    count = int(chosen.sum())
    amount = -rng.integers(10, 300, count) * 100
    day = as_of - rng.integers(0, 90, count)
    return _items(counters.take("payment", count), population.customer[subs[chosen]],
                  np.full(count, NO_SUBSCRIPTION), day, amount, amount)


def _dunning_fees(population: Population, items: pd.DataFrame, rng: np.random.Generator,
                  counters: DocumentCounters) -> pd.DataFrame:
    """Charge one dunning fee per subscription in dunning, half of them on the customer only."""
    dunned = items.loc[items["block"].isin([DUNNING, COLLECTION]), ["customer", "subscription"]]
    dunned = dunned.drop_duplicates()
    count = len(dunned)
    subscription = np.where(rng.random(count) < 0.5, NO_SUBSCRIPTION,
                            dunned["subscription"].to_numpy())
    amount = np.full(count, DUNNING_FEE_CENTS, dtype=np.int64)
    day = population.as_of_day - rng.integers(0, 60, count)
    return pd.DataFrame(_items(counters.take("fee", count), dunned["customer"].to_numpy(),
                               subscription, day, amount, amount))

