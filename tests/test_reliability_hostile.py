"""Hostile input: mutated CSV and XLSX extracts, and payloads in names that reach files.

An import either stores the whole file (exit 0) or nothing, with a message (exit 2): never a
traceback or exit 1, never part of a file. Text from the files is stored and shown as plain
text, and export files neutralise formula-like cells with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from faults import subprocess_env, table_count
from workbench import db

SUBSCRIPTIONS_HEADER = ["subscription_id", "customer_id", "customer_name", "language", "service",
                        "start_date", "end_date", "next_billing_date"]
ITEMS_HEADER = ["document_no", "line_no", "customer_id", "subscription_id", "document_date",
                "due_date", "amount", "open_amount", "currency", "block"]
SUBSCRIPTION_ROWS = [
    ["S1", "C1", "Huber Jürg", "de", "electricity", "01.01.2020", "", "31.12.2026"],
    ["S2", "C2", "Rossi Chiara", "it", "water", "01.01.2020", "", "31.12.2026"],
]
ITEM_ROWS = [
    ["9001", "1", "C1", "S1", "01.03.2026", "31.03.2026", "100.00", "0.80", "CHF", ""],
    ["9002", "1", "C2", "S2", "01.03.2026", "31.03.2026", "50.00", "1'234.50", "CHF", ""],
    ["9003", "1", "C2", "S2", "01.03.2026", "31.03.2026", "50.00", "0.50-", "CHF", ""],
]
FORMULA = "=cmd|' /C calc'!A0"
# `benchmarks/faults.py` raises the number of cases through WORKBENCH_FUZZ_EXAMPLES.
FUZZ_EXAMPLES = int(os.environ.get("WORKBENCH_FUZZ_EXAMPLES", "30"))
HOSTILE_SETTINGS = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                            derandomize=FUZZ_EXAMPLES <= 30,
                            suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                   HealthCheck.too_slow])


def csv_bytes(header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows([header, *rows])
    return buffer.getvalue().encode(encoding, errors="replace")


def xlsx_bytes(header: list[str], rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in [header, *rows]:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def mutate_cells(rows: list[list[str]], payload: str, row: int, column: int) -> list[list[str]]:
    copy = [list(cells) for cells in rows]
    copy[row % len(copy)][column % len(copy[0])] = payload
    return copy


payloads = st.one_of(
    st.sampled_from([FORMULA, "+1+1", "@SUM(A1)", "-2+3", "'; DROP TABLE open_items; --",
                     "a\x00b", "line\nbreak", "quote\"inside", "\r", "\t=1", "é" * 300,
                     "x" * 70_000, "", " ", "1e308", "NaN", "-0", "0.005", "99999999999999999.99"]),
    st.text(max_size=40),
)


def csv_cases(header: list[str], rows: list[list[str]]):
    """Strategy of hostile CSV files built from a valid header and rows."""
    valid = csv_bytes(header, rows)
    return st.one_of(
        st.binary(max_size=400),
        st.builds(lambda payload, row, column: csv_bytes(header, mutate_cells(rows, payload, row,
                                                                              column)),
                  payloads, st.integers(0, 9), st.integers(0, 20)),
        st.builds(lambda encoding: csv_bytes(header, mutate_cells(rows, "Zürich Ø €", 0, 2),
                                             encoding),
                  st.sampled_from(["cp1252", "latin-1", "utf-16", "utf-8-sig", "cp437"])),
        st.builds(lambda position, chunk: valid[:position] + chunk + valid[position:],
                  st.integers(0, len(valid)), st.binary(min_size=1, max_size=8)),
        st.builds(lambda position: valid[:position], st.integers(0, len(valid))),
        st.builds(lambda count: csv_bytes(header + [f"extra{i}" for i in range(count)],
                                          [cells + ["v"] * count for cells in rows]),
                  st.sampled_from([1, 500, 10_000])),
        st.just(valid.replace(b"\r\n", b"\x00\r\n", 1)),
        st.just(b"\xef\xbb\xbf" + valid),
    )


def xlsx_cases(header: list[str], rows: list[list[str]]):
    """Strategy of hostile XLSX files: cell payloads, formulas, many columns, broken zips."""
    valid = xlsx_bytes(header, rows)
    return st.one_of(
        st.builds(lambda payload, row, column: xlsx_bytes(
            header, mutate_cells(rows, payload.replace("\x00", ""), row, column)),
            payloads.filter(lambda text: not any(ord(c) < 32 and c not in "\t\n\r" for c in text)),
            st.integers(0, 9), st.integers(0, 20)),
        st.builds(lambda column: xlsx_bytes(header, mutate_cells(rows, "=1/0", 0, column)),
                  st.integers(0, 20)),
        st.builds(lambda position: valid[:position], st.integers(0, len(valid))),
        st.builds(lambda position, chunk: valid[:position] + chunk + valid[position + 8:],
                  st.integers(0, len(valid)), st.binary(min_size=8, max_size=8)),
        st.just(xlsx_bytes(header + [f"c{i}" for i in range(2_000)],
                           [cells + [1] * 2_000 for cells in rows])),
        st.binary(max_size=300).map(lambda data: b"PK\x03\x04" + data),
    )


def check_all_or_nothing(cli, engine, kind: str, path: Path, data: bytes) -> int:
    """Import `data` and check exit 0 with a whole batch, or exit 2 with nothing stored."""
    path.write_bytes(data)
    table = "open_items" if kind == "open-items" else "subscriptions"
    batches_before = table_count(engine, "import_batches")
    rows_before = table_count(engine, table)
    audit_before = table_count(engine, "audit_events")
    args = ["import", kind, str(path)] + (["--as-of", "2026-11-30"] if kind == "open-items" else [])

    result = cli(*args, lang="en")

    assert result.code in (0, 2), result
    assert "Traceback" not in result.err
    assert "Failed:" not in result.err
    batches_after = table_count(engine, "import_batches")
    if result.code == 2:
        assert result.err.startswith("Error: "), result
        assert path.name in result.err, result
        assert batches_after == batches_before
        assert table_count(engine, table) == rows_before
        assert table_count(engine, "audit_events") == audit_before
    elif batches_after == batches_before + 1:
        assert table_count(engine, "audit_events") == audit_before + 1
        if kind == "open-items":
            stored = table_count(engine, "open_items") - rows_before
            assert stored == latest_batch_rows(engine)
    else:
        assert "already imported" in result.out + result.err, result
    return result.code


def latest_batch_rows(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text(
            "SELECT row_count FROM import_batches ORDER BY id DESC LIMIT 1")).scalar_one()


@pytest.fixture
def with_subscriptions(cli, tmp_path, engine):
    path = tmp_path / "subscriptions.csv"
    path.write_bytes(csv_bytes(SUBSCRIPTIONS_HEADER, SUBSCRIPTION_ROWS))
    assert cli("import", "subscriptions", str(path)).code == 0
    return engine


@HOSTILE_SETTINGS
@given(data=csv_cases(ITEMS_HEADER, ITEM_ROWS))
def test_fuzz_open_items_csv(cli, with_subscriptions, tmp_path, data):
    check_all_or_nothing(cli, with_subscriptions, "open-items", tmp_path / "items.csv", data)


@HOSTILE_SETTINGS
@given(data=xlsx_cases(ITEMS_HEADER, ITEM_ROWS))
def test_fuzz_open_items_xlsx(cli, with_subscriptions, tmp_path, data):
    check_all_or_nothing(cli, with_subscriptions, "open-items", tmp_path / "items.xlsx", data)


@HOSTILE_SETTINGS
@given(data=st.one_of(csv_cases(SUBSCRIPTIONS_HEADER, SUBSCRIPTION_ROWS)))
def test_fuzz_subscriptions_csv(cli, engine, tmp_path, data):
    check_all_or_nothing(cli, engine, "subscriptions", tmp_path / "subscriptions.csv", data)


def test_huge_field_bounded_memory(db_url, tmp_path):
    # A 1 MB cell in a 3-row file: the import must fail cleanly or succeed, with modest memory.
    huge = mutate_cells(ITEM_ROWS, "A" * 1_000_000, 1, 9)
    path = tmp_path / "huge.csv"
    path.write_bytes(csv_bytes(ITEMS_HEADER, huge))
    script = (
        "import resource, sys, contextlib, io\n"
        "from workbench.cli import main\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "err = io.StringIO()\n"
        "with contextlib.redirect_stderr(err):\n"
        "    code = main(['--db', sys.argv[1], '--lang', 'en', 'import', 'open-items', sys.argv[2],"
        " '--as-of', '2026-11-30'])\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(code, after - before)\n"
        "print(err.getvalue()[:2000])\n"
    )
    process = subprocess.run([sys.executable, "-c", script, db_url, str(path)],
                             capture_output=True, text=True, env=subprocess_env(), timeout=120)
    assert process.returncode == 0, process.stderr
    code, growth_kib = map(int, process.stdout.splitlines()[0].split())
    assert code == 2, process.stdout
    assert "block" in process.stdout
    # ru_maxrss is in KiB on Linux; the file is 1 MB, so 100 MB of growth would mean copies.
    assert growth_kib < 100 * 1024, growth_kib
    assert table_count(db.get_engine(db_url), "open_items") == 0


def test_payloads_stay_plain_text(cli, tmp_path, engine):
    customer = "=HYPERLINK(\"http://x\")"
    subscription = "'; DROP TABLE runs; --"
    name = FORMULA
    subscriptions = tmp_path / "subscriptions.csv"
    subscriptions.write_bytes(csv_bytes(SUBSCRIPTIONS_HEADER, [
        [subscription, customer, name, "fr", "@water", "01.01.2020", "", "31.12.2026"],
    ]))
    items = tmp_path / "items.csv"
    items.write_bytes(csv_bytes(ITEMS_HEADER, [
        ["+9001", "1", customer, subscription, "01.03.2026", "31.03.2026", "100.00", "0.80",
         "CHF", ""],
    ]))
    assert cli("import", "subscriptions", str(subscriptions)).code == 0
    assert cli("import", "open-items", str(items), "--as-of", "2026-11-30").code == 0

    policy = "x'); DELETE FROM audit_events; --"
    result = cli("policy", "propose", policy, "--debit-threshold", "5.00", "--credit-threshold",
                 "5.00", "--by", "anna", lang="en")
    assert result.code == 0, result
    result = cli("policy", "approve", policy, "--by", "ben", lang="en")
    assert result.code == 0, result
    assert policy in result.out

    result = cli("extract", "--as-of", "2026-11-30", "--policy", policy, "--format", "json")
    assert result.code == 0, result
    extract = json.loads(result.out)
    assert extract["groups"][0]["customer_id"] == customer
    assert extract["groups"][0]["subscription_id"] == subscription
    assert extract["groups"][0]["items"][0]["document_no"] == "+9001"
    assert extract["groups"][0]["total"] == "0.80"

    result = cli("run", "prepare", "--as-of", "2026-11-30", "--policy", policy, "--by", "anna")
    assert result.code == 0, result
    run_id = result.out.strip().splitlines()[-1]
    assert cli("run", "approve", run_id, "--by", "ben").code == 0
    assert cli("run", "post", run_id).code == 0
    assert cli("run", "export", run_id, "--out", str(tmp_path / "out")).code == 0

    charges = (tmp_path / "out" / f"charges-{run_id}.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(charges), delimiter=";"))
    assert rows[0]["customer_id"] == "'" + customer
    assert rows[0]["subscription_id"] == subscription
    assert rows[0]["source_document"] == "'+9001"
    assert rows[0]["amount"] == "0.80"
    journal = (tmp_path / "out" / f"journal-{run_id}.csv").read_text(encoding="utf-8")
    for row in csv.DictReader(io.StringIO(journal), delimiter=";"):
        assert row["customer_id"] in ("", "'" + customer)
        assert not row["document_no"].startswith("+")
    for table in ("runs", "audit_events", "open_items"):
        assert table_count(engine, table) > 0
