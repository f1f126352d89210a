"""Stored policies: versions, four-eyes approval and rejection, audit events, the CLI."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from workbench import db
from workbench.errors import InvalidInput, RuleRefused
from workbench.i18n import set_language
from workbench.models import AuditEvent, Policy
from workbench.policy import (
    PolicyParams,
    approve_policy,
    check_params,
    find_policy_version,
    list_policies,
    load_policy,
    propose_policy,
    reject_policy,
)


@pytest.fixture
def english():
    # Messages are matched in English; the autouse fixture of conftest resets the language.
    set_language("en")


def events(engine):
    with db.session_scope(engine) as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.policy_id, AuditEvent.details)
            .order_by(AuditEvent.id)
        ).all()
    return [(actor, action, policy_id, json.loads(details))
            for actor, action, policy_id, details in rows]


def policy_count(engine):
    with db.session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(Policy)).scalar()


def test_versions_and_latest_approved(engine):
    with db.session_scope(engine) as session:
        first = propose_policy(session, "standard", PolicyParams(debit_threshold=300), "anna")
        second = propose_policy(session, "standard", PolicyParams(debit_threshold=400), "anna")
        third = propose_policy(session, "standard", PolicyParams(debit_threshold=700), "anna")
        other = propose_policy(session, "strict", PolicyParams(), "anna")
        assert [first.version, second.version, third.version, other.version] == [1, 2, 3, 1]

        approve_policy(session, first.id, "bruno")
        approve_policy(session, second.id, "bruno")
        row, params = load_policy(session, "standard")

    assert (row.version, row.status, row.decided_by) == (2, "approved", "bruno")
    assert params == PolicyParams(debit_threshold=400)


def test_proposer_cannot_approve_or_reject(engine):
    with db.session_scope(engine) as session:
        proposed = propose_policy(session, "standard", PolicyParams(), "anna")
        policy_id = proposed.id
    for decide in (approve_policy, reject_policy):
        with pytest.raises(RuleRefused, match="anna"):
            with db.session_scope(engine) as session:
                decide(session, policy_id, " Anna ")
    with db.session_scope(engine) as session:
        row = session.get(Policy, policy_id)
        assert (row.status, row.decided_by) == ("proposed", None)
    assert [action for _actor, action, _id, _details in events(engine)] == ["policy_propose"]


def test_reject_then_no_approved_version(engine, english):
    with db.session_scope(engine) as session:
        proposed = propose_policy(session, "standard", PolicyParams(), "anna")
        reject_policy(session, proposed.id, "bruno", "threshold too high")
        with pytest.raises(RuleRefused, match="no approved version"):
            load_policy(session, "standard")
        with pytest.raises(RuleRefused, match="rejected"):
            approve_policy(session, proposed.id, "carla")

    audit = events(engine)
    assert [(actor, action) for actor, action, _id, _details in audit] == [
        ("anna", "policy_propose"), ("bruno", "policy_reject")]
    assert audit[0][2] == audit[1][2] == proposed.id
    assert audit[0][3]["params"]["debit_threshold"] == "5.00"
    assert audit[1][3]["reason"] == "threshold too high"


def test_approved_version_cannot_be_approved_again(engine):
    with db.session_scope(engine) as session:
        proposed = propose_policy(session, "standard", PolicyParams(), "anna")
        approve_policy(session, proposed.id, "bruno")
        with pytest.raises(RuleRefused):
            approve_policy(session, proposed.id, "carla")


def test_unknown_policy_is_invalid_input(engine):
    with db.session_scope(engine) as session:
        with pytest.raises(InvalidInput, match="nothing-here"):
            load_policy(session, "nothing-here")
        with pytest.raises(InvalidInput):
            find_policy_version(session, "nothing-here")
        with pytest.raises(InvalidInput):
            approve_policy(session, 12345, "bruno")


def test_find_version_defaults_to_latest_proposed(engine, english):
    with db.session_scope(engine) as session:
        first = propose_policy(session, "standard", PolicyParams(), "anna")
        second = propose_policy(session, "standard", PolicyParams(debit_threshold=100), "anna")
        assert find_policy_version(session, "standard").id == second.id
        assert find_policy_version(session, "standard", 1).id == first.id
        with pytest.raises(InvalidInput, match="version 7"):
            find_policy_version(session, "standard", 7)
        approve_policy(session, second.id, "bruno")
        reject_policy(session, first.id, "bruno")
        with pytest.raises(RuleRefused, match="no proposed version"):
            find_policy_version(session, "standard")


@pytest.mark.parametrize("changes, column", [
    ({"debit_threshold": 5.0}, "debit_threshold"),
    ({"credit_threshold": True}, "credit_threshold"),
    ({"write_off_limit": -1}, "write_off_limit"),
    ({"min_days_overdue": "30"}, "min_days_overdue"),
    ({"currency": "chf"}, "currency"),
    ({"line_mode": "lump"}, "line_mode"),
    ({"loss_account": " "}, "loss_account"),
])
def test_invalid_params_rejected_and_nothing_stored(engine, changes, column):
    with pytest.raises(InvalidInput) as raised:
        with db.session_scope(engine) as session:
            propose_policy(session, "standard", PolicyParams(**changes), "anna")
    assert [problem.column for problem in raised.value.problems] == [column]
    assert policy_count(engine) == 0


def test_default_params_are_valid():
    check_params(PolicyParams())


def test_list_policies(engine):
    with db.session_scope(engine) as session:
        propose_policy(session, "b-policy", PolicyParams(), "anna")
        propose_policy(session, "a-policy", PolicyParams(credit_threshold=0), "anna")
        frame = list_policies(session)
    assert list(zip(frame["name"], frame["version"], frame["status"])) == [
        ("a-policy", 1, "proposed"), ("b-policy", 1, "proposed")]
    assert frame.iloc[0]["params"].credit_threshold == 0


def test_cli_propose_approve_list(cli, engine):
    proposed = cli("policy", "propose", "standard", "--debit-threshold", "3.00",
                   "--rounding-step", "0.10", "--currency", "eur", "--by", "anna")
    assert proposed.code == 0, proposed

    refused = cli("policy", "approve", "standard", "--by", "anna")
    assert refused.code == 3, refused
    approved = cli("policy", "approve", "standard", "--version", "1", "--by", "bruno")
    assert approved.code == 0, approved

    # A new proposal starts from the approved version and changes only what is given.
    again = cli("policy", "propose", "standard", "--credit-threshold", "1.50", "--by", "anna")
    assert again.code == 0, again
    rejected = cli("policy", "reject", "standard", "--by", "bruno", "--reason", "no")
    assert rejected.code == 0, rejected

    listing = cli("policy", "list", "--format", "json")
    assert listing.code == 0, listing
    records = json.loads(listing.out)
    assert [(r["version"], r["status"], r["decided_by"]) for r in records] == [
        (1, "approved", "bruno"), (2, "rejected", "bruno")]
    assert records[1]["params"]["debit_threshold"] == "3.00"
    assert records[1]["params"]["credit_threshold"] == "1.50"
    assert records[1]["params"]["rounding_step"] == "0.10"
    assert records[1]["params"]["currency"] == "EUR"

    table = cli("policy", "list")
    assert table.code == 0, table
    assert "standard" in table.out


@pytest.mark.parametrize("args", [
    ("--debit-threshold", "3.001"),
    ("--credit-threshold", "1e3"),
    ("--write-off-limit", "-0.50"),
    ("--min-days-overdue", "-3"),
    ("--currency", "francs"),
])
def test_cli_propose_invalid_option_exit_2(cli, engine, args):
    result = cli("policy", "propose", "standard", *args, "--by", "anna")
    assert result.code == 2, result
    assert policy_count(engine) == 0


def test_cli_approve_unknown_or_nothing_proposed(cli, engine):
    assert cli("policy", "approve", "missing", "--by", "bruno").code == 2
    assert cli("policy", "propose", "standard", "--by", "anna").code == 0
    assert cli("policy", "approve", "standard", "--by", "bruno").code == 0
    nothing_left = cli("policy", "approve", "standard", "--by", "carla")
    assert nothing_left.code == 3, nothing_left
