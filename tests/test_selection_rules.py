"""Selection and decision rules at their boundaries, on small ledgers written inline."""

from __future__ import annotations

import datetime as dt

import pytest

from selection_ledger import store_cleared, store_open_items, store_subscriptions
from workbench import db, selection
from workbench.errors import InvalidInput, WorkbenchError
from workbench.policy import PolicyParams

AS_OF = dt.date(2026, 11, 30)
OVERDUE = "2026-10-31"  # exactly 30 days before AS_OF


def decide(engine, params=None, **options):
    with db.session_scope(engine) as session:
        return selection.decide(session, AS_OF, params or PolicyParams(), **options)


def group_of(decision, customer):
    rows = decision.groups[decision.groups["customer_id"] == customer]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def reason_of(decision, document):
    rows = decision.excluded[decision.excluded["document_no"] == document]
    assert len(rows) == 1, rows
    return rows.iloc[0]["reason"]


def test_threshold_met_exactly_is_selected(engine):
    store_subscriptions(engine, [("S1", "C1", "2020-01-01", None), ("S2", "C2", "2020-01-01", None),
                                 ("S3", "C3", "2020-01-01", None),
                                 ("S4", "C4", "2020-01-01", None)])
    store_open_items(engine, [("D1", "C1", "S1", OVERDUE, "5.00"),
                              ("D2", "C2", "S2", OVERDUE, "5.01"),
                              ("D3", "C3", "S3", OVERDUE, "-3.00"),
                              ("D4", "C4", "S4", OVERDUE, "-3.01")])
    decision = decide(engine, PolicyParams(debit_threshold=500, credit_threshold=300))

    assert group_of(decision, "C1")["total_cents"] == 500
    assert group_of(decision, "C3")["total_cents"] == -300
    assert set(decision.groups["customer_id"]) == {"C1", "C3"}
    assert reason_of(decision, "D2") == "above_threshold"
    assert reason_of(decision, "D4") == "above_threshold"


def test_zero_threshold_turns_direction_off(engine):
    store_subscriptions(engine, [("S1", "C1", "2020-01-01", None), ("S2", "C2", "2020-01-01", None),
                                 ("S3", "C3", "2020-01-01", None)])
    store_open_items(engine, [("D1", "C1", "S1", OVERDUE, "0.50"),
                              ("D2", "C2", "S2", OVERDUE, "-0.50"),
                              ("D3", "C3", "S3", OVERDUE, "2.00"),
                              ("N3", "C3", "S3", OVERDUE, "-2.00")])
    decision = decide(engine, PolicyParams(debit_threshold=0, credit_threshold=500))

    assert reason_of(decision, "D1") == "above_threshold"
    assert group_of(decision, "C2")["action"] == "rebill"
    # A zero net total is selected whatever the thresholds.
    assert group_of(decision, "C3")["action"] == "offset"


def test_due_date_boundary_of_min_days_overdue(engine):
    store_subscriptions(engine, [("S1", "C1", "2020-01-01", None),
                                 ("S2", "C2", "2020-01-01", None)])
    store_open_items(engine, [("D1", "C1", "S1", "2026-10-31", "1.00"),
                              ("D2", "C2", "S2", "2026-11-01", "1.00")])
    decision = decide(engine)

    assert list(decision.items["document_no"]) == ["D1"]
    assert reason_of(decision, "D2") == "not_overdue"

    zero_days = decide(engine, PolicyParams(min_days_overdue=0))
    assert list(zero_days.items["document_no"]) == ["D1", "D2"]


def test_subscription_validity_on_run_date(engine):
    store_subscriptions(engine, [
        ("S1", "C1", "2020-01-01", "2026-11-30"),  # ends on the run date: not valid
        ("S2", "C2", "2020-01-01", "2026-12-01"),  # ends the day after: valid
        ("S3", "C3", "2026-12-01", None),          # starts after the run date: not valid
        ("S4", "C4", "2026-11-30", None),          # starts on the run date: valid
    ])
    store_open_items(engine, [("D1", "C1", "S1", OVERDUE, "1.00"),
                              ("D2", "C2", "S2", OVERDUE, "1.00"),
                              ("D3", "C3", "S3", OVERDUE, "1.00"),
                              ("D4", "C4", "S4", OVERDUE, "1.00")])
    decision = decide(engine)

    assert group_of(decision, "C1")["action"] == "unresolved"
    assert group_of(decision, "C2")["action"] == "rebill"
    assert group_of(decision, "C2")["target_subscription_id"] == "S2"
    assert group_of(decision, "C3")["action"] == "unresolved"
    assert group_of(decision, "C4")["action"] == "rebill"
    assert group_of(decision, "C1")["target_subscription_id"] is None


def test_reassign_tie_takes_highest_id_and_needs_review(engine):
    store_subscriptions(engine, [
        ("S10", "C1", "2010-01-01", "2025-12-31"),
        ("S11", "C1", "2024-05-01", None),
        ("S13", "C1", "2024-05-01", None),
        ("S12", "C1", "2020-01-01", None),
        ("S20", "C2", "2010-01-01", "2025-12-31"),
        ("S21", "C2", "2024-05-01", None),
    ])
    store_open_items(engine, [("D1", "C1", "S10", OVERDUE, "4.90"),
                              ("D2", "C2", "S20", OVERDUE, "4.90")])
    decision = decide(engine)

    several = group_of(decision, "C1")
    assert several["action"] == "reassign"
    assert several["target_subscription_id"] == "S13"
    assert bool(several["needs_review"]) is True
    only = group_of(decision, "C2")
    assert only["target_subscription_id"] == "S21"
    assert bool(only["needs_review"]) is False


def test_missing_subscription_is_reassigned(engine):
    store_subscriptions(engine, [("S1", "C1", "2024-10-01", None)])
    store_open_items(engine, [("D1", "C1", None, OVERDUE, "0.95"),
                              ("D2", "C1", "S-GONE", OVERDUE, "0.40")])
    decision = decide(engine)

    assert len(decision.groups) == 2
    no_sub = decision.groups[decision.groups["subscription_id"].isna()].iloc[0]
    assert no_sub["subscription_id"] is None
    assert no_sub["action"] == "reassign"
    assert no_sub["target_subscription_id"] == "S1"
    unknown = decision.groups[decision.groups["subscription_id"] == "S-GONE"].iloc[0]
    assert unknown["action"] == "reassign"
    assert unknown["total_cents"] == 40


def test_subscription_of_other_customer_is_not_rebilled(engine):
    store_subscriptions(engine, [("S1", "C1", "2020-01-01", None),
                                 ("S2", "C2", "2020-01-01", None)])
    store_open_items(engine, [("D1", "C2", "S1", OVERDUE, "1.00")])
    decision = decide(engine)

    group = group_of(decision, "C2")
    assert group["action"] == "reassign"
    assert group["target_subscription_id"] == "S2"


def test_net_zero_and_rounding_write_off(engine):
    store_subscriptions(engine, [("S1", "C1", "2020-01-01", None), ("S2", "C2", "2020-01-01", None),
                                 ("S3", "C3", "2020-01-01", None),
                                 ("S4", "C4", "2020-01-01", None)])
    store_open_items(engine, [
        ("F1", "C1", "S1", OVERDUE, "2.00"), ("N1", "C1", "S1", OVERDUE, "-2.00"),
        ("F2", "C2", "S2", OVERDUE, "0.04"),
        ("F3", "C3", "S3", OVERDUE, "0.05"),
        ("F4", "C4", "S4", OVERDUE, "-0.03"),
    ])
    decision = decide(engine)

    offset = group_of(decision, "C1")
    assert (offset["action"], offset["total_cents"], offset["item_count"]) == ("offset", 0, 2)
    assert offset["target_subscription_id"] is None
    assert offset["write_off_account"] is None
    rounding = group_of(decision, "C2")
    assert (rounding["action"], rounding["write_off_account"]) == ("write_off", "3806")
    assert group_of(decision, "C3")["action"] == "rebill"
    assert group_of(decision, "C4")["action"] == "write_off"


def test_credit_and_debit_net_to_small_balance(engine):
    store_subscriptions(engine, [("S18", "C14", "2012-01-01", "2026-09-30"),
                                 ("S19", "C14", "2026-10-01", None)])
    store_open_items(engine, [("F-1015", "C14", "S18", OVERDUE, "30.00"),
                              ("N-2003", "C14", "S18", OVERDUE, "-28.50")])
    decision = decide(engine)

    group = group_of(decision, "C14")
    assert (group["action"], group["target_subscription_id"]) == ("reassign", "S19")
    assert group["total_cents"] == 150
    assert list(decision.items["open_cents"]) == [3000, -2850]
    assert set(decision.items["group_no"]) == {group["group_no"]}


def test_ineligible_items_do_not_count_in_total(engine):
    store_subscriptions(engine, [("S1", "C1", "2015-01-01", None)])
    store_open_items(engine, [("F-OLD", "C1", "S1", "2026-09-30", "0.50"),
                              ("F-NEW", "C1", "S1", "2026-11-30", "98.40"),
                              ("F-BLK", "C1", "S1", "2026-09-30", "50.00", "CHF", "dispute"),
                              ("F-EUR", "C1", "S1", "2026-09-30", "50.00", "EUR")])
    decision = decide(engine)

    assert group_of(decision, "C1")["total_cents"] == 50
    assert list(decision.items["document_no"]) == ["F-OLD"]
    assert reason_of(decision, "F-NEW") == "not_overdue"
    assert reason_of(decision, "F-BLK") == "blocked"
    assert reason_of(decision, "F-EUR") == "currency"


def test_empty_block_text_is_not_blocked(engine):
    store_subscriptions(engine, [("S1", "C1", "2015-01-01", None)])
    store_open_items(engine, [("F1", "C1", "S1", OVERDUE, "0.50", "CHF", "")])
    assert list(decide(engine).items["document_no"]) == ["F1"]


def test_policy_currency_selects_only_that_currency(engine):
    store_subscriptions(engine, [("S1", "C1", "2015-01-01", None)])
    store_open_items(engine, [("F-EUR", "C1", "S1", OVERDUE, "1.00", "EUR"),
                              ("F-CHF", "C1", "S1", OVERDUE, "1.00")])
    decision = decide(engine, PolicyParams(currency="EUR"))

    group = group_of(decision, "C1")
    assert (group["currency"], group["total_cents"]) == ("EUR", 100)
    assert reason_of(decision, "F-CHF") == "currency"


def test_first_reason_in_order(engine):
    store_subscriptions(engine, [("S1", "C1", "2015-01-01", None)])
    batch = store_open_items(engine, [
        ("T1", "C1", "S1", "2026-11-30", "1.00", "EUR", "dispute"),  # in a posted run first
        ("C1", "C1", "S1", "2026-11-30", "1.00", "EUR", "dispute"),  # currency before blocked
        ("B1", "C1", "S1", "2026-11-30", "1.00", "CHF", "dispute"),  # blocked before not_overdue
    ])
    store_cleared(engine, [("T1", "1.00")], batch)
    decision = decide(engine)

    assert reason_of(decision, "T1") == "in_transit"
    assert reason_of(decision, "C1") == "currency"
    assert reason_of(decision, "B1") == "blocked"


def test_posted_run_items_in_transit(engine):
    store_subscriptions(engine, [("S1", "C1", "2015-01-01", None)])
    batch = store_open_items(engine, [("F1", "C1", "S1", OVERDUE, "0.50"),
                                      ("F2", "C1", "S1", OVERDUE, "0.30"),
                                      ("F3/2", "C1", "S1", OVERDUE, "0.70")])
    run_id = store_cleared(engine, [("F1", "0.50"), ("F3/2", "1.20")], batch)
    decision = decide(engine)

    assert list(decision.items["document_no"]) == ["F2"]
    assert group_of(decision, "C1")["total_cents"] == 30
    assert reason_of(decision, "F1") == "in_transit"
    assert reason_of(decision, "F3") == "in_transit"
    codes = [(w.code, w.document_no, w.line_no, w.run_id) for w in decision.warnings]
    assert codes == [("in_transit", "F1", "", run_id), ("conflict", "F3", "2", run_id)]
    conflict = decision.warnings[1]
    assert (conflict.cleared_cents, conflict.open_cents) == (120, 70)
    assert "F3/2" in str(conflict)


def test_write_off_limit_without_valid_subscription(engine):
    store_subscriptions(engine, [("S1", "C1", "2010-01-01", "2025-03-31"),
                                 ("S2", "C2", "2010-01-01", "2025-03-31")])
    store_open_items(engine, [("D1", "C1", "S1", OVERDUE, "2.30"),
                              ("D2", "C2", "S2", OVERDUE, "-2.31")])

    never = decide(engine)
    assert set(never.groups["action"]) == {"unresolved"}

    limited = decide(engine, PolicyParams(write_off_limit=230))
    written_off = group_of(limited, "C1")
    assert (written_off["action"], written_off["write_off_account"]) == ("write_off", "3805")
    assert group_of(limited, "C2")["action"] == "unresolved"


def test_latest_snapshot_and_explicit_snapshot(engine):
    store_subscriptions(engine, [("S1", "C1", "2015-01-01", None)])
    older = store_open_items(engine, [("OLD", "C1", "S1", OVERDUE, "1.00")], as_of="2026-10-31")
    store_open_items(engine, [("NEW", "C1", "S1", OVERDUE, "2.00")], as_of="2026-11-30")

    assert list(decide(engine).items["document_no"]) == ["NEW"]
    assert decide(engine).snapshot_batch_id == older + 1
    assert list(decide(engine, snapshot_id=older).items["document_no"]) == ["OLD"]


def test_unknown_or_missing_snapshot_is_rejected(engine):
    with pytest.raises(WorkbenchError):
        decide(engine)
    subscriptions_batch = store_subscriptions(engine, [("S1", "C1", "2015-01-01", None)])
    with pytest.raises(InvalidInput):
        decide(engine, snapshot_id=subscriptions_batch)


def test_float_parameter_is_rejected(engine):
    store_open_items(engine, [])
    with pytest.raises(InvalidInput) as raised:
        decide(engine, PolicyParams(debit_threshold=5.0))
    assert [problem.column for problem in raised.value.problems] == ["debit_threshold"]


def test_reason_totals_without_listing_match_listing(engine):
    store_subscriptions(engine, [("S1", "C1", "2015-01-01", None),
                                 ("S2", "C2", "2015-01-01", None)])
    batch = store_open_items(engine, [
        ("A", "C1", "S1", OVERDUE, "1.00"), ("B", "C1", "S1", OVERDUE, "9.00"),
        ("C", "C2", "S2", OVERDUE, "1.00"), ("D", "C2", "S2", "2026-11-30", "7.00"),
        ("E", "C2", "S2", OVERDUE, "3.00", "EUR"), ("F", "C2", "S2", OVERDUE, "4.00", "CHF", "x"),
        ("G", "C2", "S2", OVERDUE, "0.10"),
    ])
    store_cleared(engine, [("G", "0.10")], batch)
    listed = decide(engine)
    counted = decide(engine, list_excluded=False)

    assert counted.excluded_listed is False
    assert counted.excluded.empty
    assert list(counted.excluded.columns) == list(listed.excluded.columns)
    assert str(counted.excluded["open_cents"].dtype) == "int64"
    assert listed.reasons.to_dict("records") == counted.reasons.to_dict("records")
    assert listed.reasons.set_index("reason")["total_cents"].to_dict() == {
        "in_transit": 10, "currency": 300, "blocked": 400, "not_overdue": 700,
        "above_threshold": 1000,
    }
    assert counted.groups.equals(listed.groups)
    assert counted.items.equals(listed.items)


def test_frames_have_contract_columns_and_types(engine):
    store_subscriptions(engine, [("S1", "C1", "2015-01-01", None)])
    store_open_items(engine, [("F1/10", "C1", "S1", OVERDUE, "0.50"),
                              ("F2", "C1", "S1", OVERDUE, "-0.20")])
    decision = decide(engine)

    assert list(decision.groups.columns[:9]) == [
        "group_no", "customer_id", "subscription_id", "currency", "action",
        "target_subscription_id", "needs_review", "total_cents", "item_count"]
    assert list(decision.items.columns) == [
        "document_no", "line_no", "group_no", "customer_id", "subscription_id", "currency",
        "document_date", "due_date", "open_cents"]
    assert list(decision.excluded.columns) == [
        "document_no", "line_no", "customer_id", "subscription_id", "currency", "due_date",
        "open_cents", "reason"]
    assert str(decision.groups["total_cents"].dtype) == "int64"
    assert str(decision.items["open_cents"].dtype) == "int64"
    assert str(decision.excluded["open_cents"].dtype) == "int64"
    assert decision.items.iloc[0]["due_date"] == dt.date(2026, 10, 31)
    assert decision.items.iloc[0]["line_no"] == "10"
    assert decision.snapshot_batch_id is not None


def test_groups_numbered_in_key_order(engine):
    store_subscriptions(engine, [("S1", "C1", "2015-01-01", None), ("S2", "C1", "2015-01-01", None),
                                 ("S3", "C2", "2015-01-01", None)])
    store_open_items(engine, [
        ("Z9", "C2", "S3", OVERDUE, "0.10"),
        ("B2/2", "C1", "S2", OVERDUE, "0.20"), ("B2/1", "C1", "S2", OVERDUE, "0.30"),
        ("A1", "C1", "S2", OVERDUE, "0.40"),
        ("N1", "C1", None, OVERDUE, "0.50"),
        ("M1", "C1", "S1", OVERDUE, "0.60"),
    ])
    decision = decide(engine)

    groups = decision.groups
    assert list(groups["group_no"]) == [1, 2, 3, 4]
    assert list(zip(groups["customer_id"], groups["subscription_id"])) == [
        ("C1", None), ("C1", "S1"), ("C1", "S2"), ("C2", "S3")]
    assert list(groups["total_cents"]) == [50, 60, 90, 10]
    assert list(groups["item_count"]) == [1, 1, 3, 1]
    items = decision.items
    assert list(zip(items["group_no"], items["document_no"], items["line_no"])) == [
        (1, "N1", ""), (2, "M1", ""), (3, "A1", ""), (3, "B2", "1"), (3, "B2", "2"), (4, "Z9", "")]
