import dataclasses
import json

from ledger_builders import Group, Item, add_customers, add_snapshot, approved_run, table

from workbench import db, posting


def groups() -> list[Group]:
    return [
        # Group 1: F-A changes (a late payment), so N-A leaves with it.
        Group("reassign", [Item("F-A", "C1", 300, "S-old"), Item("N-A", "C1", -100, "S-old")],
              target="S-C1"),
        # Group 2: F-B is no longer in the ERP extract.
        Group("rebill", [Item("F-B", "C2", 40, "S-C2")], target="S-C2"),
        # Group 3: F-C is still listed, but with nothing open.
        Group("write_off", [Item("F-C", "C3", 2, "S-C3")]),
        # Group 4: unchanged, posts.
        Group("rebill", [Item("F-D", "C4", 75, "S-C4")], target="S-C4"),
    ]


def newer_snapshot(engine, original: list[Group]) -> None:
    items = {item.document_no: item for group in original for item in group.items}
    add_snapshot(engine, [
        dataclasses.replace(items["F-A"], open_cents=250),
        items["N-A"],
        dataclasses.replace(items["F-C"], open_cents=0),
        items["F-D"],
    ])


def test_recheck_moves_changed_groups_out(engine):
    add_customers(engine, {"C1": "fr", "C2": "fr", "C3": "fr", "C4": "fr"})
    original = groups()
    run_id = approved_run(engine, original)
    newer_snapshot(engine, original)

    with db.session_scope(engine) as session:
        result = posting.post(session, run_id, posted_by="carla")

    assert (result.left_items, result.left_groups, result.cleared_items) == (4, 3, 1)
    assert table(engine, "SELECT document_no, status, leave_reason FROM run_items "
                         "WHERE run_id = :run ORDER BY document_no", run=run_id) == [
        ("F-A", "left", "changed"),
        ("F-B", "left", "closed"),
        ("F-C", "left", "closed"),
        ("F-D", "included", None),
        ("N-A", "left", "group_changed"),
    ]
    assert table(engine, "SELECT group_no, status FROM run_groups WHERE run_id = :run "
                         "ORDER BY group_no", run=run_id) == [
        (1, "left"), (2, "left"), (3, "left"), (4, "included")]
    assert table(engine, "SELECT document_no FROM cleared_items") == [("F-D",)]
    assert table(engine, "SELECT amount_cents FROM charge_lines") == [(75,)]
    assert table(engine, "SELECT DISTINCT document_no FROM journal_lines") == [("F-D",)]


def test_recheck_left_items_in_show(cli, engine):
    add_customers(engine, {"C1": "fr", "C2": "fr", "C3": "fr", "C4": "fr"})
    original = groups()
    run_id = approved_run(engine, original)
    newer_snapshot(engine, original)
    assert cli("run", "post", run_id, "--by", "carla").code == 0

    report = json.loads(cli("run", "show", run_id, "--format", "json").out)

    assert report["cleared_total"] == "0.75"
    assert report["charge_total"] == "0.75"
    assert report["write_off_total"] == "0.00"
    assert [(item["document_no"], item["leave_reason"]) for item in report["left_items"]] == [
        ("F-A", "changed"), ("N-A", "group_changed"), ("F-B", "closed"), ("F-C", "closed")]
    assert [group["status"] for group in report["groups"]] == ["left", "left", "left", "included"]


def test_recheck_same_snapshot_keeps_everything(engine):
    add_customers(engine, {"C1": "fr", "C2": "fr", "C3": "fr", "C4": "fr"})
    run_id = approved_run(engine, groups())

    with db.session_scope(engine) as session:
        result = posting.post(session, run_id, posted_by="carla")

    assert (result.left_items, result.left_groups, result.cleared_items) == (0, 0, 5)
    assert result.cleared_total == 317
    assert result.charge_total == 315
    assert result.write_off_total == 2
