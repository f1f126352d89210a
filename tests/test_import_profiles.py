"""Column profiles: the default one, a utility's own, and the errors of a broken profile."""

import pytest

from import_files import NOTHING_STORED, SUBSCRIPTIONS_HEADER, stored_counts, write_extract
from workbench.errors import InvalidInput
from workbench.i18n import set_language
from workbench.profiles import COLUMNS, default_profile, load_profile, match_columns


def write_profile(tmp_path, content: str):
    path = tmp_path / "utility.toml"
    path.write_text(content, encoding="utf-8")
    return path


def test_default_profile_uses_column_names():
    profile = default_profile()
    assert profile.name == "default"
    assert profile.label == "default"
    for kind, columns in COLUMNS.items():
        assert {column: profile.headers[kind][column] for column in columns} == {
            column: (column,) for column in columns
        }


def test_custom_profile_keeps_default_names_for_other_columns(tmp_path):
    path = write_profile(tmp_path, '[subscriptions]\nsubscription_id = ["Abo", "Abo-Nr"]\n')
    profile = load_profile(path)
    assert profile.name == "utility"
    assert profile.label == f"utility ({path})"
    assert profile.headers["subscriptions"]["subscription_id"] == ("Abo", "Abo-Nr")
    assert profile.headers["subscriptions"]["customer_id"] == ("customer_id",)
    assert profile.headers["open_items"]["document_no"] == ("document_no",)

    headers = ["ABO-NR ", "customer_id", "start_date"]
    assert match_columns(headers, profile, "subscriptions", "subs.csv") == {
        "subscription_id": 0, "customer_id": 1, "start_date": 2,
    }


@pytest.mark.parametrize(
    ("content", "column", "reason"),
    [
        ("[subscriptions\n", None, "not valid TOML"),
        ("[subscriptions]\nabo = 'Abo'\n", "subscriptions.abo", "unknown column"),
        ("[invoices]\nx = 'y'\n", "invoices", "unknown key"),
        ("[open_items]\ndue_date = 3\n", "open_items.due_date", "header name"),
        ("[open_items]\ndue_date = ['']\n", "open_items.due_date", "header name"),
        ("subscriptions = 'x'\n", "subscriptions", "must be a table"),
    ],
)
def test_invalid_profile(tmp_path, content, column, reason):
    set_language("en")
    path = write_profile(tmp_path, content)
    with pytest.raises(InvalidInput) as raised:
        load_profile(path)
    problems = raised.value.problems
    assert [problem.column for problem in problems] == [column]
    assert reason in problems[0].reason
    assert problems[0].file == str(path)


def test_profile_not_found(cli, engine, tmp_path):
    extract = write_extract(tmp_path / "subs.csv", SUBSCRIPTIONS_HEADER,
                            "S01;C01;Dupont Marie;fr;01.01.2015;")
    result = cli("import", "subscriptions", extract, "--profile", tmp_path / "none.toml",
                 lang="en")
    assert result.code == 2, result
    assert "none.toml" in result.err
    assert "profile file not found" in result.err
    assert stored_counts(engine) == NOTHING_STORED


def test_two_headers_matching_one_column(tmp_path):
    profile = load_profile(write_profile(
        tmp_path, '[subscriptions]\nsubscription_id = ["Abo", "Vertrag"]\n'))
    with pytest.raises(InvalidInput) as raised:
        match_columns(["Abo", "Vertrag", "customer_id", "start_date"], profile, "subscriptions",
                      "subs.csv")
    assert [(p.row, p.column, p.value) for p in raised.value.problems] == [
        (1, "subscription_id", "Abo, Vertrag")
    ]


def test_one_header_mapped_to_two_columns(tmp_path):
    profile = load_profile(write_profile(
        tmp_path, '[subscriptions]\nsubscription_id = "id"\ncustomer_id = "id"\n'))
    with pytest.raises(InvalidInput) as raised:
        match_columns(["id", "start_date"], profile, "subscriptions", "subs.csv")
    assert [(p.column, p.value) for p in raised.value.problems] == [("customer_id", "id")]
