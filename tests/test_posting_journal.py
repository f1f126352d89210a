import datetime as dt
import json

from ledger_builders import (ONE_OF_EACH_LANGUAGES, Group, Item, add_customers, one_of_each,
                            posted_run, table)

from workbench.policy import PolicyParams

POSTING_DATE = dt.date(2026, 12, 1)


def journal(engine, run_id):
    return table(
        engine,
        "SELECT entry_no, account, document_no, matching_ref, debit_cents, credit_cents "
        "FROM journal_lines WHERE run_id = :run ORDER BY entry_no, id", run=run_id)


def test_post_journal_lines_per_action(engine):
    add_customers(engine, ONE_OF_EACH_LANGUAGES)
    run_id = posted_run(engine, one_of_each(), posting_date=POSTING_DATE)

    ref = f"R{run_id}-G"
    assert journal(engine, run_id) == [
        (1, "1091", "F-1001", ref + "1", 50, 0),
        (1, "1100", "F-1001", ref + "1", 0, 50),
        (2, "1100", "N-2001", ref + "2", 120, 0),
        (2, "1091", "N-2001", ref + "2", 0, 120),
        (3, "1100", "N-2002", ref + "3", 200, 0),
        (3, "1100", "F-1005", ref + "3", 0, 200),
        (4, "3806", "F-1004", ref + "4", 3, 0),
        (4, "1100", "F-1004", ref + "4", 0, 3),
        (5, "3805", "F-1012", ref + "5", 300, 0),
        (5, "1100", "F-1012", ref + "5", 0, 300),
        (6, "1091", "F-1015", ref + "6", 3000, 0),
        (6, "1100", "F-1015", ref + "6", 0, 3000),
        (7, "1100", "N-2003", ref + "6", 2850, 0),
        (7, "1091", "N-2003", ref + "6", 0, 2850),
    ]


def test_post_journal_dates_kinds_customers(engine):
    add_customers(engine, {"C01": "fr"})
    run_id = posted_run(engine, one_of_each()[:1], posting_date=POSTING_DATE)

    rows = table(engine, "SELECT kind, posting_date, customer_id, currency FROM journal_lines "
                         "WHERE run_id = :run", run=run_id)
    assert len(rows) == 2
    for kind, posting_date, customer, currency in rows:
        assert kind == "post"
        assert str(posting_date) == "2026-12-01"
        assert customer == "C01"
        assert currency == "CHF"


def test_post_charge_lines_item_mode(engine):
    add_customers(engine, {"C01": "fr", "C05": "de", "C14": "it"})
    groups = [group for group in one_of_each() if group.action in ("rebill", "reassign")]
    run_id = posted_run(engine, groups)

    lines = table(engine, "SELECT group_no, subscription_id, customer_id, charge_code, "
                          "amount_cents, currency, vat_code, text, source_document, state "
                          "FROM charge_lines WHERE run_id = :run ORDER BY id", run=run_id)
    assert lines == [
        (1, "S01", "C01", "SOLDE", 50, "CHF", "0", "Solde facture F-1001 du 31.08.2026",
         "F-1001", "open"),
        (2, "S07", "C05", "SOLDE", -120, "CHF", "0",
         "Restbetrag Gutschrift N-2001 vom 15.09.2026", "N-2001", "open"),
        (3, "S19", "C14", "SOLDE", 3000, "CHF", "0", "Saldo fattura F-1015 del 30.09.2026",
         "F-1015", "open"),
        (3, "S19", "C14", "SOLDE", -2850, "CHF", "0",
         "Saldo nota di credito N-2003 del 30.09.2026", "N-2003", "open"),
    ]


def test_post_charge_lines_group_mode(engine):
    add_customers(engine, {"C14": "en"})
    group = Group("reassign", [Item("N-2003", "C14", -2850, "S18", dt.date(2026, 9, 30)),
                               Item("F-1015", "C14", 3000, "S18", dt.date(2026, 9, 28)),
                               Item("F-1016", "C14", 100, "S18", None)], target="S19")
    params = PolicyParams(line_mode="group", charge_code="RESTE", vat_code="X0")
    run_id = posted_run(engine, [group], params)

    lines = table(engine, "SELECT subscription_id, charge_code, vat_code, amount_cents, text, "
                          "source_document, source_date FROM charge_lines WHERE run_id = :run",
                  run=run_id)
    assert len(lines) == 1
    subscription, code, vat, amount, text, source, source_date = lines[0]
    assert (subscription, code, vat, amount) == ("S19", "RESTE", "X0", 250)
    assert text == "Balance of 3 items, incl. invoice F-1015 of 28.09.2026"
    assert source == "F-1015"
    assert str(source_date) == "2026-09-28"


def test_post_cleared_items_and_totals(engine):
    add_customers(engine, ONE_OF_EACH_LANGUAGES)
    run_id = posted_run(engine, one_of_each())

    cleared = table(engine, "SELECT document_no, open_cents FROM cleared_items "
                            "WHERE run_id = :run ORDER BY document_no", run=run_id)
    assert cleared == [("F-1001", 50), ("F-1004", 3), ("F-1005", 200), ("F-1012", 300),
                       ("F-1015", 3000), ("N-2001", -120), ("N-2002", -200),
                       ("N-2003", -2850)]
    assert table(engine, "SELECT state FROM runs WHERE id = :run", run=run_id) == [("posted",)]

    (details,) = table(engine, "SELECT details FROM audit_events WHERE run_id = :run "
                               "AND action = 'post'", run=run_id)[0]
    recorded = json.loads(details)
    assert recorded["cleared_total"] == "3.83"
    assert recorded["charge_total"] == "0.80"
    assert recorded["write_off_total"] == "3.03"
    assert recorded["auto_post"] is False


def test_post_every_entry_balances(engine):
    add_customers(engine, ONE_OF_EACH_LANGUAGES)
    run_id = posted_run(engine, one_of_each())

    sums = table(engine, "SELECT entry_no, SUM(debit_cents), SUM(credit_cents) "
                         "FROM journal_lines WHERE run_id = :run GROUP BY entry_no", run=run_id)
    assert len(sums) == 7
    for entry_no, debit, credit in sums:
        assert debit == credit, entry_no


def test_post_items_with_line_numbers(cli, engine):
    add_customers(engine, {"C7": "fr"})
    group = Group("offset", [Item("F-7", "C7", 3000, "S7", line_no="1"),
                             Item("F-7", "C7", -3000, "S7", line_no="2")])
    run_id = posted_run(engine, [group])

    assert table(engine, "SELECT document_no, line_no, open_cents FROM cleared_items "
                         "ORDER BY line_no") == [("F-7", "1", 3000), ("F-7", "2", -3000)]
    report = json.loads(cli("run", "show", run_id, "--format", "json").out)
    assert [(item["document_no"], item["line_no"]) for item in report["groups"][0]["items"]] == [
        ("F-7", "1"), ("F-7", "2")]


def test_show_line_no_null_without_line_numbers(cli, engine):
    add_customers(engine, {"C01": "fr"})
    run_id = posted_run(engine, one_of_each()[:1])

    report = json.loads(cli("run", "show", run_id, "--format", "json").out)

    assert report["groups"][0]["items"] == [
        {"document_no": "F-1001", "line_no": None, "open_amount": "0.50", "status": "included",
         "leave_reason": None}]
