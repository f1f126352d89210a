import json

import pytest

from ledger_builders import Group, Item, add_customers, approved_run, draft_run, table

from workbench import db, posting, runs
from workbench.errors import RuleRefused
from workbench.policy import PolicyParams


def small_groups() -> list[Group]:
    return [
        Group("rebill", [Item("F-1", "C1", 50, "S-C1")], target="S-C1"),
        Group("write_off", [Item("F-2", "C2", 4, "S-C2")]),
        Group("unresolved", [Item("F-3", "C3", 230, "S-C3")]),
    ]


@pytest.fixture
def customers(engine):
    add_customers(engine, {"C1": "fr", "C2": "fr", "C3": "de"})


def state(engine, run_id):
    return table(engine, "SELECT state FROM runs WHERE id = :run", run=run_id)[0][0]


def audit_actions(engine, run_id):
    return [row[0] for row in table(engine, "SELECT action FROM audit_events WHERE run_id = :run "
                                            "ORDER BY id", run=run_id)]


def test_freeze_stores_groups_items_and_audit(engine, customers):
    run_id = draft_run(engine, small_groups())

    assert state(engine, run_id) == "draft"
    assert table(engine, "SELECT group_no, action, total_cents, status FROM run_groups "
                         "WHERE run_id = :run ORDER BY group_no", run=run_id) == [
        (1, "rebill", 50, "included"), (2, "write_off", 4, "included"),
        (3, "unresolved", 230, "included")]
    assert len(table(engine, "SELECT 1 FROM run_items WHERE run_id = :run", run=run_id)) == 3
    assert audit_actions(engine, run_id) == ["prepare"]


def test_approve_refused_for_preparer(cli, engine, customers):
    run_id = draft_run(engine, small_groups(), prepared_by="anna")

    refused = cli("run", "approve", run_id, "--by", "Anna")

    assert refused.code == 3, refused
    assert "anna" in refused.err
    assert state(engine, run_id) == "draft"
    assert audit_actions(engine, run_id) == ["prepare"]


def test_approve_by_second_person(cli, engine, customers):
    run_id = draft_run(engine, small_groups(), prepared_by="anna")

    approved = cli("run", "approve", run_id, "--by", "ben")

    assert approved.code == 0, approved
    assert state(engine, run_id) == "approved"
    assert table(engine, "SELECT approved_by FROM runs WHERE id = :run", run=run_id) == [("ben",)]
    assert audit_actions(engine, run_id) == ["prepare", "approve"]


def test_approve_identity_from_hub_user(cli, engine, customers, monkeypatch):
    run_id = draft_run(engine, small_groups(), prepared_by="anna")
    monkeypatch.setenv("JUPYTERHUB_USER", "anna")
    assert cli("run", "approve", run_id).code == 3

    monkeypatch.setenv("JUPYTERHUB_USER", "ben")
    assert cli("run", "approve", run_id).code == 0
    assert table(engine, "SELECT approved_by FROM runs WHERE id = :run", run=run_id) == [("ben",)]


def test_wrong_state_transitions_exit_3(cli, engine, customers, tmp_path):
    run_id = draft_run(engine, small_groups())
    out = tmp_path / "out"

    for args in (("run", "post", run_id), ("run", "export", run_id, "--out", out),
                 ("run", "reverse", run_id, "--by", "ben", "--reason", "test", "--out", out)):
        result = cli(*args)
        assert result.code == 3, (args, result)
    assert state(engine, run_id) == "draft"
    assert not out.exists()

    assert cli("run", "approve", run_id, "--by", "ben").code == 0
    second = cli("run", "approve", run_id, "--by", "carla")
    assert second.code == 3, second
    assert "à l'état approuvé" in second.err
    assert "à l'état brouillon" in second.err


def test_post_twice_refused(cli, engine, customers):
    run_id = approved_run(engine, small_groups())

    first = cli("run", "post", run_id, "--by", "carla")
    second = cli("run", "post", run_id, "--by", "carla")

    assert first.code == 0, first
    assert second.code == 3, second
    assert len(table(engine, "SELECT 1 FROM cleared_items")) == 2
    assert len(table(engine, "SELECT 1 FROM journal_lines")) == 4
    assert audit_actions(engine, run_id) == ["prepare", "approve", "post"]


def test_unknown_run_exit_2(cli):
    result = cli("run", "show", "999")
    assert result.code == 2, result
    assert "999" in result.err


def test_auto_post_within_limit(engine, customers):
    params = PolicyParams(auto_post_limit=100)
    run_id = draft_run(engine, small_groups(), params, prepared_by="anna")

    with db.session_scope(engine) as session:
        result = posting.post(session, run_id, posted_by="anna")

    assert result.auto_posted
    assert state(engine, run_id) == "posted"
    (details,) = table(engine, "SELECT details FROM audit_events WHERE run_id = :run "
                               "AND action = 'post'", run=run_id)[0]
    recorded = json.loads(details)
    assert recorded["auto_post"] is True
    assert "1.00" in recorded["auto_post_reason"]
    assert table(engine, "SELECT actor FROM audit_events WHERE run_id = :run AND action = 'post'",
                 run=run_id) == [("anna",)]


@pytest.mark.parametrize(
    "groups",
    [
        # Offsets net to zero but clear 12.00 gross: the gross amount counts.
        [Group("offset", [Item("F-1", "C1", 600, "S-C1"), Item("N-1", "C1", -600, "S-C1")])],
        [Group("write_off", [Item("F-2", "C2", 150, None)])],
    ],
    ids=["gross-offsets", "write-off"],
)
def test_auto_post_above_limit_refused(engine, customers, groups):
    run_id = draft_run(engine, groups, PolicyParams(auto_post_limit=100))

    with pytest.raises(RuleRefused, match="approve"):
        with db.session_scope(engine) as session:
            posting.post(session, run_id, posted_by="anna")
    assert state(engine, run_id) == "draft"
    assert table(engine, "SELECT COUNT(*) FROM journal_lines") == [(0,)]


def test_auto_post_off_by_default(engine, customers):
    run_id = draft_run(engine, small_groups())
    with pytest.raises(RuleRefused):
        with db.session_scope(engine) as session:
            posting.post(session, run_id, posted_by="anna")


def test_show_json_fields(cli, engine, customers):
    run_id = approved_run(engine, small_groups())

    result = cli("run", "show", run_id, "--format", "json")

    assert result.code == 0, result
    report = json.loads(result.out)
    assert report["id"] == run_id
    assert report["state"] == "approved"
    assert report["as_of"] == "2026-11-30"
    assert report["prepared_by"] == "anna"
    assert report["approved_by"] == "ben"
    assert report["cleared_total"] == "0.54"
    assert report["charge_total"] == "0.50"
    assert report["write_off_total"] == "0.04"
    assert [group["action"] for group in report["groups"]] == ["rebill", "write_off",
                                                              "unresolved"]
    assert report["groups"][0]["items"][0]["document_no"] == "F-1"
    assert report["groups"][0]["items"][0]["open_amount"] == "0.50"
    assert report["groups"][0]["target_subscription_id"] == "S-C1"
    assert report["left_items"] == []
    assert any("F-3" not in warning and "C3" in warning for warning in report["warnings"])


def test_show_table_french_swiss_amounts(cli, engine, customers):
    big = [Group("rebill", [Item("F-9", "C1", 123450, "S-C1")], target="S-C1")]
    run_id = draft_run(engine, big)

    result = cli("run", "show", run_id)

    assert result.code == 0, result
    assert "1'234.50" in result.out
    assert "S-C1" in result.out


def test_run_totals_exclude_unresolved(engine, customers):
    run_id = draft_run(engine, small_groups())
    with db.session_scope(engine) as session:
        totals = runs.run_totals(session, run_id)
    assert (totals.cleared, totals.gross, totals.charges, totals.write_off) == (54, 54, 50, 4)
    assert (totals.items, totals.groups) == (2, 2)
