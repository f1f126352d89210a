"""Case 01 (one of each decision): imported and extracted through the command line, the
groups and exclusion reasons are exactly those of the case's expected.json."""

from __future__ import annotations

import json

from conftest import CASES

CASE = CASES / "01-basic"


def by_group(groups: list[dict]) -> dict:
    # Group and item order is free: key the groups by customer and subscription, sort items.
    keyed = {}
    for group in groups:
        items = sorted(item if isinstance(item, str) else item["document_no"]
                       for item in group["items"])
        keyed[group["customer_id"], group["subscription_id"]] = {
            **{key: value for key, value in group.items() if key != "items"}, "items": items}
    return keyed


def test_case_01_extract_matches_expected(cli):
    subscriptions = cli("import", "subscriptions", CASE / "subscriptions.csv")
    assert subscriptions.code == 0, subscriptions
    open_items = cli("import", "open-items", CASE / "open_items.csv", "--as-of", "2026-11-30")
    assert open_items.code == 0, open_items

    result = cli("extract", "--as-of", "2026-11-30", "--debit-threshold", "5.00",
                 "--credit-threshold", "5.00", "--min-days-overdue", "30",
                 "--write-off-limit", "0.00", "--format", "json")
    assert result.code == 0, result
    actual = json.loads(result.out)
    expected = json.loads((CASE / "expected.json").read_text(encoding="utf-8"))

    assert actual["as_of"] == expected["as_of"]
    assert by_group(actual["groups"]) == by_group(expected["groups"])
    assert sorted((entry["document_no"], entry["reason"]) for entry in actual["excluded"]) == \
        sorted((entry["document_no"], entry["reason"]) for entry in expected["excluded"])
    # Every item of the extract is either in a group or excluded, once.
    listed = [item["document_no"] for group in actual["groups"] for item in group["items"]]
    listed += [entry["document_no"] for entry in actual["excluded"]]
    assert sorted(listed) == sorted(
        line.split(";")[0] for line in
        (CASE / "open_items.csv").read_text(encoding="utf-8-sig").splitlines()[1:] if line)


def test_case_01_amounts_and_lines_as_text(cli):
    assert cli("import", "subscriptions", CASE / "subscriptions.csv").code == 0
    assert cli("import", "open-items", CASE / "open_items.csv", "--as-of", "2026-11-30").code == 0
    data = json.loads(cli("extract", "--as-of", "2026-11-30", "--format", "json").out)

    offset = next(group for group in data["groups"] if group["action"] == "offset")
    assert offset["items"] == [
        {"document_no": "F-1005", "line_no": None, "open_amount": "2.00"},
        {"document_no": "N-2002", "line_no": None, "open_amount": "-2.00"}]
    excluded = {entry["document_no"]: entry for entry in data["excluded"]}
    assert excluded["F-1008"] == {"document_no": "F-1008", "line_no": None,
                                  "open_amount": "12.00", "reason": "above_threshold"}
