"""Posting invariants on random ledgers: balanced entries, AR cleared = charges + write-offs,
transit = open charge lines, and no item cleared by two live runs."""

import dataclasses
import datetime as dt
import itertools

from hypothesis import HealthCheck, given, settings, strategies as st

from ledger_builders import Group, Item, add_customers, add_snapshot, decision, table

from workbench import db, posting, reversal, runs, settlement
from workbench.errors import RuleRefused
from workbench.policy import PolicyParams

ACTIONS = ("offset", "write_off", "rebill", "reassign", "unresolved")
LIVE_STATES = ("posted", "exported", "settled")
_examples = itertools.count(1)

amounts = st.integers(min_value=-5000, max_value=5000).filter(lambda cents: cents != 0)


@st.composite
def group_specs(draw):
    action = draw(st.sampled_from(ACTIONS))
    cents = draw(st.lists(amounts, min_size=1, max_size=4))
    if action == "offset":
        # An offset group nets to zero: the last item balances the others.
        balance = -sum(cents)
        cents = cents + [balance] if balance else cents + [-cents[0], cents[0]]
    dated = draw(st.lists(st.booleans(), min_size=len(cents), max_size=len(cents)))
    return action, list(zip(cents, dated))


@st.composite
def ledgers(draw):
    specs = draw(st.lists(group_specs(), min_size=1, max_size=8))
    item_count = sum(len(items) for _action, items in specs)
    return {
        "specs": specs,
        "languages": draw(st.lists(st.sampled_from(["fr", "de", "it", "en", "xx"]),
                                   min_size=len(specs), max_size=len(specs))),
        "line_mode": draw(st.sampled_from(["item", "group"])),
        # Items that a newer snapshot changes (1) or no longer lists (2); 0 keeps them.
        "changes": draw(st.lists(st.sampled_from([0, 0, 0, 1, 2]), min_size=item_count,
                                 max_size=item_count)),
        "second_run": draw(st.lists(st.booleans(), min_size=len(specs), max_size=len(specs))),
        "invoice": draw(st.lists(st.booleans(), min_size=item_count, max_size=item_count)),
        "reverse_second": draw(st.booleans()),
    }


def build_groups(ledger, prefix: str) -> list[Group]:
    groups = []
    for number, (action, items) in enumerate(ledger["specs"]):
        customer = f"{prefix}C{number}"
        source = f"{prefix}S{number}"
        groups.append(Group(
            action,
            [Item(f"{prefix}D{number}-{index}", customer, cents, source,
                  dt.date(2026, 8, 1) + dt.timedelta(days=index) if dated else None)
             for index, (cents, dated) in enumerate(items)],
            target=f"S-{customer}" if action in ("rebill", "reassign") else None,
        ))
    return groups


def freeze_approved(engine, groups, batch, params) -> int:
    with db.session_scope(engine) as session:
        run_id = runs.freeze(session, decision(groups, batch, params), prepared_by="anna")
        runs.approve(session, run_id, approved_by="ben")
    return run_id


def try_post(engine, run_id) -> bool:
    try:
        with db.session_scope(engine) as session:
            posting.post(session, run_id, posted_by="carla", posting_date=dt.date(2026, 12, 1))
    except RuleRefused:
        return False
    return True


def check_invariants(engine, params: PolicyParams) -> None:
    # Every entry balances.
    unbalanced = table(engine, "SELECT run_id, kind, entry_no FROM journal_lines "
                               "GROUP BY run_id, kind, entry_no "
                               "HAVING SUM(debit_cents) <> SUM(credit_cents)")
    assert unbalanced == []

    # Per run: AR cleared by the posting = its posting items = charge lines + write-offs.
    for run_id, state in table(engine, "SELECT id, state FROM runs WHERE posted_at IS NOT NULL"):
        (ar_cleared,) = table(engine, "SELECT COALESCE(SUM(credit_cents - debit_cents), 0) "
                                      "FROM journal_lines WHERE run_id = :run AND kind = 'post' "
                                      "AND account = :ar", run=run_id, ar=params.ar_account)[0]
        (items_total,) = table(engine, "SELECT COALESCE(SUM(i.open_cents), 0) FROM run_items i "
                                       "JOIN run_groups g ON g.run_id = i.run_id "
                                       "AND g.group_no = i.group_no WHERE i.run_id = :run "
                                       "AND i.status = 'included' AND g.action <> 'unresolved'",
                               run=run_id)[0]
        (charges,) = table(engine, "SELECT COALESCE(SUM(amount_cents), 0) FROM charge_lines "
                                   "WHERE run_id = :run", run=run_id)[0]
        (write_offs,) = table(engine, "SELECT COALESCE(SUM(i.open_cents), 0) FROM run_items i "
                                      "JOIN run_groups g ON g.run_id = i.run_id "
                                      "AND g.group_no = i.group_no WHERE i.run_id = :run "
                                      "AND i.status = 'included' AND g.action = 'write_off'",
                              run=run_id)[0]
        assert ar_cleared == items_total == charges + write_offs, (run_id, state)

    # Transit balance = charge lines neither invoiced nor cancelled.
    (transit,) = table(engine, "SELECT COALESCE(SUM(debit_cents - credit_cents), 0) "
                               "FROM journal_lines WHERE account = :transit",
                       transit=params.transit_account)[0]
    (open_charges,) = table(engine, "SELECT COALESCE(SUM(amount_cents), 0) FROM charge_lines "
                                    "WHERE state = 'open'")[0]
    assert transit == open_charges

    # No item is cleared by two live runs; every cleared item belongs to a live run.
    twice = table(engine, "SELECT i.document_no, i.line_no FROM run_items i "
                          "JOIN run_groups g ON g.run_id = i.run_id AND g.group_no = i.group_no "
                          "JOIN runs r ON r.id = i.run_id "
                          "WHERE r.state IN ('posted', 'exported', 'settled') "
                          "AND i.status = 'included' AND g.action <> 'unresolved' "
                          "GROUP BY i.document_no, i.line_no HAVING COUNT(*) > 1")
    assert twice == []
    stray = table(engine, "SELECT c.document_no FROM cleared_items c JOIN runs r "
                          "ON r.id = c.run_id WHERE r.state NOT IN ('posted', 'exported', "
                          "'settled')")
    assert stray == []


def run_example(engine, tmp_path, ledger) -> None:
    prefix = f"E{next(_examples)}"
    params = PolicyParams(line_mode=ledger["line_mode"])
    groups = build_groups(ledger, prefix)
    add_customers(engine, {f"{prefix}C{number}": lang
                           for number, lang in enumerate(ledger["languages"])})
    items = [item for group in groups for item in group.items]
    batch = add_snapshot(engine, items)
    first = freeze_approved(engine, groups, batch, params)
    second = freeze_approved(engine, [group for group, chosen
                                      in zip(groups, ledger["second_run"]) if chosen] or groups,
                             batch, params)

    # A newer snapshot changes or drops some items before the first run posts.
    newer = [dataclasses.replace(item, open_cents=item.open_cents + 1) if change == 1 else item
             for item, change in zip(items, ledger["changes"]) if change != 2]
    add_snapshot(engine, newer)
    changed_groups = {number for number, group in enumerate(groups, start=1)
                      for item in group.items
                      if ledger["changes"][items.index(item)] != 0}

    assert try_post(engine, first)
    left = {number for (number,) in table(engine, "SELECT group_no FROM run_groups WHERE "
                                                  "run_id = :run AND status = 'left'", run=first)}
    posting_groups = {number for number, group in enumerate(groups, start=1)
                      if group.action != "unresolved"}
    assert left == changed_groups & posting_groups
    check_invariants(engine, params)

    # The second run overlaps the first: it posts only when none of its items were cleared.
    second_posted = try_post(engine, second)
    check_invariants(engine, params)

    lines = [line_id for (line_id,) in table(engine, "SELECT id FROM charge_lines WHERE "
                                                     "run_id = :run ORDER BY id", run=first)]
    chosen = [line for line, pick in zip(lines, ledger["invoice"]) if pick]
    if chosen:
        confirmation = tmp_path / f"{prefix}.csv"
        confirmation.write_text("line_id;invoice_no;invoice_date\n" + "".join(
            f"{line};INV-{line};05.01.2027\n" for line in chosen))
        with db.session_scope(engine) as session:
            settlement.settle(session, confirmation, settled_by="dora")
        check_invariants(engine, params)

    if second_posted and ledger["reverse_second"]:
        with db.session_scope(engine) as session:
            reversal.reverse(session, second, reversed_by="ben", reason="test",
                             out_dir=tmp_path / prefix)
        check_invariants(engine, params)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ledger=ledgers())
def test_posting_invariants_random_ledgers(engine, tmp_path, ledger):
    run_example(engine, tmp_path, ledger)
