"""Reassignment candidates and the controllers' saved choices."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, update

from selection_ledger import store_open_items, store_subscriptions
from workbench import candidates, db, selection
from workbench.errors import InvalidInput
from workbench.i18n import set_language
from workbench.models import AuditEvent, ReassignmentChoice, Subscription
from workbench.policy import PolicyParams

AS_OF = dt.date(2026, 11, 30)
OVERDUE = "2026-10-31"

SUBSCRIPTIONS = [
    ("S15", "C13", "2010-01-01", "2025-12-31"),
    ("S16", "C13", "2020-01-01", None),
    ("S17", "C13", "2024-05-01", None),
    ("S18", "C13", "2026-12-01", None),  # not started on AS_OF
    ("S30", "C30", "2020-01-01", None),
]


@pytest.fixture
def ledger(engine):
    store_subscriptions(engine, SUBSCRIPTIONS)
    store_open_items(engine, [("F-1013", "C13", "S15", OVERDUE, "4.90"),
                              ("F-1099", "C13", None, OVERDUE, "0.95")])
    return engine


def decide(engine):
    with db.session_scope(engine) as session:
        return selection.decide(session, AS_OF, PolicyParams())


def group_by_source(decision, source):
    groups = decision.groups
    if source is None:
        mask = groups["subscription_id"].isna()
    else:
        mask = groups["subscription_id"] == source
    return groups[mask].iloc[0]


def save(engine, choices, actor="anna", as_of=AS_OF):
    with db.session_scope(engine) as session:
        return candidates.save_choices(session, choices, actor, as_of=as_of)


def stored_choices(engine):
    with db.session_scope(engine) as session:
        return session.execute(
            select(ReassignmentChoice.customer_id, ReassignmentChoice.source_subscription_id,
                   ReassignmentChoice.target_subscription_id, ReassignmentChoice.chosen_by)
            .order_by(ReassignmentChoice.source_subscription_id)
        ).all()


def test_candidates_in_rule_order(ledger):
    with db.session_scope(ledger) as session:
        frame = candidates.list_candidates(session, "C13", AS_OF)
    assert list(frame["subscription_id"]) == ["S17", "S16"]
    assert list(frame["rank"]) == [1, 2]
    assert frame.iloc[0]["start_date"] == dt.date(2024, 5, 1)
    assert list(frame.columns) == ["subscription_id", "service", "start_date", "end_date",
                                   "next_billing_date", "rank"]


def test_candidates_of_unknown_customer_rejected(ledger):
    with db.session_scope(ledger) as session:
        with pytest.raises(InvalidInput, match="C99"):
            candidates.list_candidates(session, "C99", AS_OF)


def test_saved_choice_wins_without_review(ledger):
    before = group_by_source(decide(ledger), "S15")
    assert (before["target_subscription_id"], bool(before["needs_review"])) == ("S17", True)

    assert save(ledger, [("C13", "S15", "S16"), ("C13", None, "S16")]) == 2
    decision = decide(ledger)

    chosen = group_by_source(decision, "S15")
    assert (chosen["target_subscription_id"], bool(chosen["needs_review"])) == ("S16", False)
    no_source = group_by_source(decision, None)
    assert (no_source["target_subscription_id"], bool(no_source["needs_review"])) == ("S16", False)
    assert decision.warnings == []


def test_saved_choice_no_longer_valid_falls_back(ledger):
    save(ledger, [("C13", "S15", "S16")])
    # The chosen target ends before the next run date: the rule decides again, with a warning.
    later = dt.date(2027, 1, 31)
    with db.session_scope(ledger) as session:
        session.execute(update(Subscription).where(Subscription.subscription_id == "S16")
                        .values(end_date=dt.date(2026, 12, 31)))
        decision = selection.decide(session, later, PolicyParams(min_days_overdue=0))

    group = group_by_source(decision, "S15")
    assert group["target_subscription_id"] == "S18"
    assert bool(group["needs_review"]) is True
    assert [(w.code, w.customer_id, w.subscription_id, w.target_subscription_id)
            for w in decision.warnings] == [("choice_not_valid", "C13", "S15", "S16")]
    assert "S16" in str(decision.warnings[0])


def test_save_replaces_earlier_choice_and_audits(ledger):
    save(ledger, [("C13", "S15", "S16")], actor="anna")
    save(ledger, [("C13", "S15", "S17")], actor="bruno")

    assert stored_choices(ledger) == [("C13", "S15", "S17", "bruno")]
    with db.session_scope(ledger) as session:
        events = session.execute(
            select(AuditEvent.actor, AuditEvent.details)
            .where(AuditEvent.action == "reassign_choose").order_by(AuditEvent.id)
        ).all()
    assert [actor for actor, _details in events] == ["anna", "bruno"]
    assert json.loads(events[1][1])["choices"] == [
        {"customer_id": "C13", "source_subscription_id": "S15", "target_subscription_id": "S17"}]


@pytest.mark.parametrize("choice, column, fragment", [
    (("C13", "S15", "S30"), "target_subscription_id", "C30"),      # another customer's
    (("C13", "S15", "S15"), "target_subscription_id", "2026-11-30"),  # ended
    (("C13", "S15", "S18"), "target_subscription_id", "2026-11-30"),  # not started
    (("C13", "S15", "S99"), "target_subscription_id", "not found"),
    (("C13", "S30", "S16"), "source_subscription_id", "C30"),
])
def test_invalid_choice_rejected_and_nothing_stored(ledger, choice, column, fragment):
    set_language("en")  # the reasons are matched in English
    with pytest.raises(InvalidInput) as raised:
        save(ledger, [("C13", None, "S16"), choice])
    problems = raised.value.problems
    assert [(problem.row, problem.column) for problem in problems] == [(2, column)]
    assert fragment in problems[0].reason
    assert stored_choices(ledger) == []


def test_duplicate_choice_rejected(ledger):
    with pytest.raises(InvalidInput):
        save(ledger, [("C13", "S15", "S16"), ("C13", "S15", "S17")])
    assert stored_choices(ledger) == []


def test_cli_choose_and_candidates(cli, ledger):
    chosen = cli("reassign", "choose", "C13", "S15", "S16", "--by", "anna", "--as-of", "2026-11-30")
    assert chosen.code == 0, chosen
    assert stored_choices(ledger) == [("C13", "S15", "S16", "anna")]

    no_source = cli("reassign", "choose", "C13", "-", "S17", "--by", "anna",
                    "--as-of", "2026-11-30")
    assert no_source.code == 0, no_source
    assert ("C13", "", "S17", "anna") in stored_choices(ledger)

    listing = cli("reassign", "candidates", "C13", "--as-of", "30.11.2026")
    assert listing.code == 0, listing
    assert listing.out.index("S17") < listing.out.index("S16")


@pytest.mark.parametrize("args", [
    ("C13", "S15", "S30"),          # belongs to another customer
    ("C13", "S15", "S15"),          # no longer valid
    ("C13", "S15", "S99"),          # unknown
])
def test_cli_choose_invalid_target_exit_2(cli, ledger, args):
    result = cli("reassign", "choose", *args, "--by", "anna", "--as-of", "2026-11-30")
    assert result.code == 2, result
    assert args[2] in result.err
    assert stored_choices(ledger) == []


def test_cli_candidates_unknown_customer_exit_2(cli, ledger):
    result = cli("reassign", "candidates", "C99", "--as-of", "2026-11-30")
    assert result.code == 2, result
    assert "C99" in result.err
