"""The dashboard's SQL aggregates, on the inline ledger of `dashboard_ledger` and on demo data."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from dashboard_ledger import AS_OF, EXPECTED_BALANCES, PARAMS, add_policy_proposal, build_ledger
from workbench import dashboard_data, db, policy, runs, selection
from workbench.amounts import parse_amount
from workbench.policy import PolicyParams

BALANCE_COLUMNS = ["subscriptions", "owed_subscriptions", "owed_cents", "favour_subscriptions",
                   "favour_cents"]


@pytest.fixture
def ledger(engine):
    build_ledger(engine)
    return engine


def decided_by_action(session, as_of: dt.date, params: PolicyParams) -> pd.DataFrame:
    """Aggregate `selection.decide`'s groups the way the dashboard shows them."""
    groups = selection.decide(session, as_of, params).groups
    total = groups["total_cents"].astype("int64")
    frame = pd.DataFrame({
        "action": groups["action"],
        "subscriptions": 1,
        "owed_subscriptions": (total > 0).astype("int64"),
        "owed_cents": total.where(total > 0, 0),
        "favour_subscriptions": (total < 0).astype("int64"),
        "favour_cents": total.where(total < 0, 0),
    })
    summed = frame.groupby("action")[BALANCE_COLUMNS].sum()
    return summed.reindex(list(dashboard_data.ACTIONS)).fillna(0).astype("int64")


def test_small_balances_by_action(ledger):
    with db.session_scope(ledger) as session:
        balances = dashboard_data.small_balances(session, AS_OF, PARAMS)

    assert balances.as_of == AS_OF
    assert balances.snapshot_as_of == AS_OF
    assert list(balances.by_action.index) == list(dashboard_data.ACTIONS)
    for action, expected in EXPECTED_BALANCES.items():
        row = balances.by_action.loc[action]
        assert tuple(int(row[column]) for column in BALANCE_COLUMNS) == expected, action


def test_small_balances_match_decide_on_ledger(ledger):
    with db.session_scope(ledger) as session:
        balances = dashboard_data.small_balances(session, AS_OF, PARAMS)
        decided = decided_by_action(session, AS_OF, PARAMS)

    pd.testing.assert_frame_equal(balances.by_action, decided, check_names=False)


def test_small_balances_default_to_snapshot_date(ledger):
    with db.session_scope(ledger) as session:
        balances = dashboard_data.small_balances(session, None, PARAMS)

    assert balances.as_of == AS_OF
    assert int(balances.by_action.loc["rebill", "owed_cents"]) == 150


def test_small_balances_follow_thresholds(ledger):
    # Turning the credit direction off leaves every group in the customer's favour out.
    with db.session_scope(ledger) as session:
        balances = dashboard_data.small_balances(
            session, AS_OF, PARAMS.replace(credit_threshold=0))

    assert int(balances.by_action["favour_subscriptions"].sum()) == 0
    assert int(balances.by_action["favour_cents"].sum()) == 0
    assert int(balances.by_action.loc["reassign", "owed_cents"]) == 280


def test_small_balances_without_snapshot(engine):
    with db.session_scope(engine) as session:
        balances = dashboard_data.small_balances(session, None, PARAMS)

    assert balances.snapshot_as_of is None
    assert int(balances.by_action.to_numpy().sum()) == 0
    assert list(balances.by_action.index) == list(dashboard_data.ACTIONS)


def test_recent_runs_by_action(ledger):
    with db.session_scope(ledger) as session:
        frame = dashboard_data.recent_runs(session)
        newest_two = dashboard_data.recent_runs(session, limit=2)

    assert list(frame["run_id"]) == [3, 2, 1]
    assert list(frame["state"]) == ["draft", "reversed", "posted"]
    assert list(newest_two["run_id"]) == [3, 2]
    posted = frame.set_index("run_id").loc[1]
    # Group 6 left the run at posting, so re-billed counts groups 1 and 2 only.
    assert (posted.rebill_groups, posted.rebill_cents) == (2, 300)
    assert (posted.reassign_groups, posted.reassign_cents) == (1, -50)
    assert (posted.write_off_groups, posted.write_off_cents) == (1, 3)
    assert (posted.unresolved_groups, posted.unresolved_cents) == (1, 900)
    reversed_run = frame.set_index("run_id").loc[2]
    assert (reversed_run.reassign_groups, reversed_run.reassign_cents) == (0, 0)


def test_monthly_trend_counts_posted_runs_only(ledger):
    with db.session_scope(ledger) as session:
        trend = dashboard_data.monthly_trend(session)

    assert list(trend["month"]) == ["2026-04"]
    row = trend.iloc[0]
    assert (row.rebill_groups, row.rebill_cents) == (2, 300)
    assert (row.reassign_groups, row.reassign_cents) == (1, -50)
    assert (row.write_off_groups, row.write_off_cents) == (1, 3)
    assert (row.unresolved_groups, row.unresolved_cents) == (1, 900)


def test_monthly_trend_keeps_last_months(ledger):
    with db.session_scope(ledger) as session:
        session.execute(runs.Run.__table__.update().where(runs.Run.id == 2)
                        .values(state="posted"))
        trend = dashboard_data.monthly_trend(session, months=1)
        both = dashboard_data.monthly_trend(session, months=12)

    assert list(trend["month"]) == ["2026-05"]
    assert list(both["month"]) == ["2026-04", "2026-05"]
    assert int(trend.iloc[0].rebill_cents) == 400


def test_monthly_trend_empty(engine):
    with db.session_scope(engine) as session:
        trend = dashboard_data.monthly_trend(session)

    assert trend.empty
    assert "rebill_groups" in trend.columns


def test_pending_runs_count_posting_groups(ledger):
    with db.session_scope(ledger) as session:
        pending = dashboard_data.pending_runs(session)

    assert list(pending["run_id"]) == [3]
    row = pending.iloc[0]
    assert row.prepared_by == "alice"
    # rebill 1.50 + reassign 2.80 + write-off -2.10 + offset 0.00; the unresolved group posts
    # nothing, so it is not counted.
    assert (row.groups, row.cleared_cents) == (4, 220)


def test_pending_policies_lists_proposals(ledger):
    policy_id = add_policy_proposal(ledger, proposed_by="carol")
    with db.session_scope(ledger) as session:
        pending = dashboard_data.pending_policies(session)

    assert list(pending["policy_id"]) == [policy_id]
    assert pending.iloc[0].proposed_by == "carol"
    assert pending.iloc[0].params.debit_threshold == 800


def test_current_policy_defaults_then_approved(ledger):
    with db.session_scope(ledger) as session:
        assert dashboard_data.current_policy(session) == (None, PolicyParams())
    policy_id = add_policy_proposal(ledger, proposed_by="carol")
    with db.session_scope(ledger) as session:
        policy.approve_policy(session, policy_id, "bob")
    with db.session_scope(ledger) as session:
        name, params = dashboard_data.current_policy(session)

    assert name == "standard"
    assert params.debit_threshold == 800


def test_load_gathers_every_part(ledger):
    with db.session_scope(ledger) as session:
        figures = dashboard_data.load(session, today=dt.date(2026, 7, 10))

    assert figures.policy_name is None
    assert figures.balances.as_of == AS_OF
    # The defaults (5.00 / 5.00, no write-off limit) leave C2's and C5's credits unresolved.
    assert int(figures.balances.by_action.loc["unresolved", "favour_cents"]) == -210
    assert list(figures.runs["run_id"]) == [3, 2, 1]
    assert list(figures.trend["month"]) == ["2026-04"]
    assert figures.reconciliation.transit_balance == 100
    assert figures.reconciliation.open_charge_total == 100
    assert list(figures.reconciliation.warnings["document_no"]) == ["D14"]
    assert list(figures.reconciliation.conflicts["document_no"]) == ["D17"]
    assert list(figures.pending_runs["run_id"]) == [3]
    assert figures.pending_policies.empty


def test_load_uses_current_prepared_balances(ledger):
    with db.session_scope(ledger) as session:
        prepared = dashboard_data.prepare_balances(session)
        sentinel = dashboard_data.PreparedBalances(
            prepared.version, dashboard_data.SmallBalances(AS_OF, AS_OF, prepared.balances
                                                           .by_action * 0))
        figures = dashboard_data.load(session, prepared=sentinel)

    assert figures.balances is sentinel.balances
    assert int(prepared.balances.by_action.loc["rebill", "subscriptions"]) == 2


def test_load_recomputes_stale_prepared_balances(ledger):
    with db.session_scope(ledger) as session:
        stale = dashboard_data.prepare_balances(session)
        zeroed = dashboard_data.PreparedBalances(
            stale.version, dashboard_data.SmallBalances(AS_OF, AS_OF, stale.balances
                                                        .by_action * 0))
    policy_id = add_policy_proposal(ledger)  # stored directly: no audit event
    with db.session_scope(ledger) as session:
        policy.approve_policy(session, policy_id, "bob")  # writes an audit event
    with db.session_scope(ledger) as session:
        version = dashboard_data.data_version(session)
        figures = dashboard_data.load(session, prepared=zeroed)
        other_date = dashboard_data.load(session, as_of=AS_OF, prepared=zeroed)

    assert version != stale.version
    assert figures.balances is not zeroed.balances
    assert int(figures.balances.by_action.loc["rebill", "subscriptions"]) > 0
    assert other_date.balances is not zeroed.balances


def test_data_version_counts_audit_events(ledger):
    with db.session_scope(ledger) as session:
        before = dashboard_data.data_version(session)
        policy.propose_policy(session, "quick", PARAMS, "carol")
    with db.session_scope(ledger) as session:
        after = dashboard_data.data_version(session)

    assert before == (0, 0)
    assert after[0] == 1
    assert after[1] > 0


@pytest.mark.slow
def test_figures_match_package_on_demo(cli, engine):
    result = cli("demo", "--subscriptions", "2000")
    assert result.code == 0, result
    with db.session_scope(engine) as session:
        snapshot_as_of = dashboard_data.small_balances(session, None, PolicyParams()).as_of
    prepared = cli("run", "prepare", "--as-of", snapshot_as_of.isoformat(), "--by", "alice")
    assert prepared.code == 0, prepared
    run_id = int(prepared.out.strip().splitlines()[-1])

    with db.session_scope(engine) as session:
        balances = dashboard_data.small_balances(session, None, PolicyParams())
        decided = decided_by_action(session, snapshot_as_of, PolicyParams())
        pending = dashboard_data.pending_runs(session).set_index("run_id")
        totals = runs.run_totals(session, run_id)
        recent = dashboard_data.recent_runs(session).set_index("run_id")
        report = runs.report(session, run_id)

    pd.testing.assert_frame_equal(balances.by_action, decided, check_names=False)
    assert int(balances.by_action["subscriptions"].sum()) > 0
    assert (pending.loc[run_id, "groups"], pending.loc[run_id, "cleared_cents"]) == (
        totals.groups, totals.cleared)
    for action in dashboard_data.RUN_ACTIONS:
        groups = [group for group in report["groups"] if group["action"] == action]
        assert recent.loc[run_id, f"{action}_groups"] == len(groups), action
        assert recent.loc[run_id, f"{action}_cents"] == sum(
            parse_amount(group["total"]) for group in groups), action
