"""The threshold curve returns exactly what a selection with those thresholds decides."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from selection_ledger import store_cleared, store_open_items, store_subscriptions
from workbench import db, selection
from workbench.curve import CURVE_COLUMNS, CURVE_ROWS, build_curve
from workbench.policy import PolicyParams

AS_OF = dt.date(2026, 11, 30)
PARAMS = PolicyParams(write_off_limit=150)


@pytest.fixture
def random_ledger(engine):
    """A seeded ledger of 122 subscriptions and 402 items that hits every action and reason."""
    rng = np.random.default_rng(20261130)
    subscriptions = []
    for number in range(120):
        start = dt.date(2015, 1, 1) + dt.timedelta(days=int(rng.integers(0, 4500)))
        ended = rng.random() < 0.35
        end = start + dt.timedelta(days=int(rng.integers(1, 2500))) if ended else None
        subscriptions.append((f"S{number:03d}", f"C{number // 3:02d}", start.isoformat(),
                              end.isoformat() if end else None))
    # A customer with no valid subscription and a balance each way, beyond the write-off limit.
    subscriptions += [("SX1", "CX", "2010-01-01", "2020-01-01"),
                      ("SX2", "CX", "2010-01-01", "2020-01-01")]
    store_subscriptions(engine, subscriptions)

    items = []
    for number in range(400):
        sub, customer, _start, _end = subscriptions[int(rng.integers(0, len(subscriptions)))]
        if rng.random() < 0.08:
            sub = None
        cents = int(rng.choice([rng.integers(-700, 700), rng.integers(-200, 200),
                                rng.integers(-5, 6)]))
        due = AS_OF - dt.timedelta(days=int(rng.integers(0, 120)))
        currency = "EUR" if rng.random() < 0.05 else "CHF"
        block = "dispute" if rng.random() < 0.05 else None
        amount = f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"
        items.append((f"D{number:04d}", customer, sub, due.isoformat(), amount, currency, block))
    items += [("X1", "CX", "SX1", "2026-09-30", "-3.00"), ("X2", "CX", "SX2", "2026-09-30", "3.00")]
    batch = store_open_items(engine, items)
    store_cleared(engine, [(items[0][0], items[0][4]), (items[1][0], "9.99")], batch)
    return engine


def totals_by_action(decision) -> pd.DataFrame:
    groups = decision.groups
    direction = np.select([groups["total_cents"] > 0, groups["total_cents"] < 0],
                          ["debit", "credit"], "zero")
    summary = groups.assign(direction=direction).groupby(["action", "direction"]).agg(
        groups=("group_no", "size"), items=("item_count", "sum"),
        total_cents=("total_cents", "sum"))
    rows = []
    for action, side in CURVE_ROWS:
        if (action, side) in summary.index:
            found = summary.loc[(action, side)]
            rows.append((action, side, int(found["groups"]), int(found["items"]),
                         int(found["total_cents"])))
        else:
            rows.append((action, side, 0, 0, 0))
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


@pytest.mark.parametrize("min_days", [30, 0])
def test_curve_equals_decide(random_ledger, min_days):
    params = PARAMS.replace(min_days_overdue=min_days)
    with db.session_scope(random_ledger) as session:
        curve = build_curve(session, AS_OF, params)
        pairs = [(0, 0), (1, 1), (4, 5), (5, 4), (150, 0), (0, 150), (199, 201), (500, 500),
                 (699, 1), (100_000, 100_000)]
        for debit, credit in pairs:
            decision = selection.decide(
                session, AS_OF, params.replace(debit_threshold=debit, credit_threshold=credit),
                list_excluded=False)
            expected = totals_by_action(decision)
            pd.testing.assert_frame_equal(curve.at(debit, credit), expected, check_dtype=False,
                                          obj=f"curve at debit {debit}, credit {credit}")

        everything = selection.decide(
            session, AS_OF, params.replace(debit_threshold=10**9, credit_threshold=10**9),
            list_excluded=False)
    assert curve.eligible_groups == len(everything.groups)
    assert curve.eligible_items == len(everything.items)


def test_curve_covers_every_action(random_ledger):
    with db.session_scope(random_ledger) as session:
        curve = build_curve(session, AS_OF, PARAMS)
    everything = curve.at(10**9, 10**9).set_index(["action", "direction"])["groups"]
    assert (everything > 0).all(), everything


def test_series_matches_at(random_ledger):
    with db.session_scope(random_ledger) as session:
        curve = build_curve(session, AS_OF, PARAMS)
    thresholds = np.array([0, 3, 50, 500, 5000], dtype="int64")
    for direction in ("debit", "credit"):
        series = curve.series(direction, thresholds)
        for threshold in thresholds:
            at = curve.at(int(threshold), int(threshold))
            at = at[at["direction"] == direction].set_index("action")
            part = series[series["threshold"] == threshold].set_index("action")
            assert part["groups"].to_dict() == at["groups"].to_dict()
            assert part["total_cents"].to_dict() == at["total_cents"].to_dict()


@pytest.mark.parametrize("debit, credit", [(5.0, 500), (500, -1), (True, 500), ("5.00", 500)])
def test_curve_rejects_non_centimes(random_ledger, debit, credit):
    with db.session_scope(random_ledger) as session:
        curve = build_curve(session, AS_OF, PARAMS)
    with pytest.raises(TypeError):
        curve.at(debit, credit)


def test_curve_of_empty_snapshot(engine):
    store_open_items(engine, [])
    with db.session_scope(engine) as session:
        curve = build_curve(session, AS_OF, PARAMS)
    assert curve.at(500, 500)["groups"].sum() == 0
    assert curve.eligible_groups == 0
