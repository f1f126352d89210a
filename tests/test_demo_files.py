"""The demo generator's extract files: determinism, formats, and a realistic mix of cases.

These tests read the files as the importer would see them (text, Swiss formats) and need no
database.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from workbench import demo
from workbench.amounts import parse_amount
from workbench.dates import parse_date
from workbench.demo_population import SURNAMES
from workbench.errors import InvalidInput
from workbench.profiles import COLUMNS

SUBSCRIPTIONS = 4000
SEED = 7
AS_OF = demo.default_as_of(SEED)


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    files = demo.write_demo_files(folder, subscriptions=SUBSCRIPTIONS, seed=SEED)
    subscriptions = _read(files.subscriptions_path)
    items = _read(files.open_items_path)

    for column in ("start_date", "end_date", "next_billing_date"):
        subscriptions[column] = [parse_date(v) if v else None for v in subscriptions[column]]
    for column in ("document_date", "due_date"):
        items[column] = [parse_date(v) for v in items[column]]
    items["amount_text"] = items["amount"]
    items["open_text"] = items["open_amount"]
    items["amount"] = [parse_amount(v) for v in items["amount"]]
    items["open_amount"] = [parse_amount(v) for v in items["open_amount"]]
    items["kind"] = items["document_no"].str[:2]
    return files, subscriptions, items


def _valid(subscriptions: pd.DataFrame, as_of: dt.date) -> pd.Series:
    started = subscriptions["start_date"] <= as_of
    running = subscriptions["end_date"].map(lambda end: end is None or end > as_of)
    return started & running


# determinism and arguments


def test_same_seed_same_bytes(tmp_path):
    first = demo.write_demo_files(tmp_path / "a", subscriptions=1500, seed=3)
    second = demo.write_demo_files(tmp_path / "b", subscriptions=1500, seed=3)
    assert first.subscriptions_path.read_bytes() == second.subscriptions_path.read_bytes()
    assert first.open_items_path.read_bytes() == second.open_items_path.read_bytes()


def test_other_seed_other_bytes(tmp_path):
    first = demo.write_demo_files(tmp_path / "a", subscriptions=1500, seed=3)
    second = demo.write_demo_files(tmp_path / "b", subscriptions=1500, seed=4)
    assert first.subscriptions_path.read_bytes() != second.subscriptions_path.read_bytes()
    assert first.open_items_path.read_bytes() != second.open_items_path.read_bytes()


def test_default_as_of_comes_from_seed():
    assert demo.default_as_of(1) == dt.date(2025, 12, 31)
    assert demo.default_as_of(45) == dt.date(2026, 1, 31)
    assert demo.default_as_of(365 + 45) == dt.date(2026, 1, 31)


def test_given_as_of_bounds_documents(tmp_path):
    as_of = dt.date(2026, 11, 30)
    files = demo.write_demo_files(tmp_path, subscriptions=1000, seed=SEED, as_of=as_of)
    items = _read(files.open_items_path)
    document_days = {parse_date(v) for v in items["document_date"]}
    assert files.as_of == as_of
    assert max(document_days) <= as_of
    assert min(document_days) >= dt.date(2024, 11, 1)


@pytest.mark.parametrize("subscriptions", [0, -5, True, 2.5])
def test_rejects_bad_subscription_count(tmp_path, subscriptions):
    with pytest.raises(InvalidInput) as error:
        demo.write_demo_files(tmp_path / "out", subscriptions=subscriptions, seed=1)
    assert [p.column for p in error.value.problems] == ["subscriptions"]
    assert error.value.problems[0].value == str(subscriptions)
    assert not (tmp_path / "out").exists()


def test_rejects_negative_seed(tmp_path):
    with pytest.raises(InvalidInput) as error:
        demo.write_demo_files(tmp_path / "out", subscriptions=10, seed=-1)
    assert [p.column for p in error.value.problems] == ["seed"]
    assert not (tmp_path / "out").exists()


def test_default_folder_beside_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path}/db/workbench.sqlite"
    assert demo.default_folder(url) == tmp_path / "db" / "demo"
    assert demo.default_folder("postgresql+psycopg://u@127.0.0.1/x") == demo.Path("data/demo")


# formats


def test_headers_are_default_profile(generated):
    files, subscriptions, items = generated
    first_lines = [path.read_text("utf-8").split("\n", 1)[0]
                   for path in (files.subscriptions_path, files.open_items_path)]
    assert first_lines[0].split(";") == list(COLUMNS["subscriptions"])
    assert first_lines[1].split(";") == list(COLUMNS["open_items"])


def test_rows_match_summary(generated):
    files, subscriptions, items = generated
    summary = files.summary
    assert len(subscriptions) == SUBSCRIPTIONS == summary.subscriptions
    assert subscriptions["customer_id"].nunique() == summary.customers
    assert len(items) == summary.open_items
    for currency, totals in summary.totals.items():
        rows = items.loc[items["currency"] == currency, "open_amount"]
        assert len(rows) == totals.items
        assert rows[rows > 0].sum() == totals.debit_cents
        assert rows[rows < 0].sum() == totals.credit_cents


def test_keys_are_unique(generated):
    _files, subscriptions, items = generated
    assert subscriptions["subscription_id"].is_unique
    assert not items.duplicated(["document_no", "line_no"]).any()
    known = set(subscriptions["subscription_id"])
    referenced = set(items["subscription_id"]) - {""}
    assert referenced <= known
    owners = subscriptions.set_index("subscription_id")["customer_id"]
    with_subscription = items[items["subscription_id"] != ""]
    assert (owners[with_subscription["subscription_id"]].to_numpy()
            == with_subscription["customer_id"].to_numpy()).all()


def test_swiss_amount_formats_present(generated):
    _files, _subscriptions, items = generated
    texts = pd.concat([items["amount_text"], items["open_text"]])
    assert texts.str.fullmatch(r"\d{1,3}('\d{3})+\.\d\d-?").any()  # 1'234.50
    assert texts.str.fullmatch(r"\d+\.\d\d-").any()  # 0.50-
    assert texts.str.fullmatch(r"-\d+\.\d\d").any()  # -0.50
    assert texts.str.fullmatch(r"\d+\.--").any()  # 100.--
    dashed = texts[texts.str.contains(".--", regex=False)]
    assert dashed.str.fullmatch(r"[\d']+\.--").all()  # never with a minus sign
    assert texts.str.fullmatch(r"-?[\d']+\.(\d\d|--)-?").all()


def test_dates_are_swiss(generated):
    files, _subscriptions, _items = generated
    text = files.open_items_path.read_text("utf-8")
    dates = re.findall(r";(\d\d\.\d\d\.\d{4});(\d\d\.\d\d\.\d{4});", text)
    assert len(dates) == files.summary.open_items


def test_dates_are_consistent(generated):
    files, subscriptions, items = generated
    ended = subscriptions[subscriptions["end_date"].notna()]
    assert (ended["start_date"] < ended["end_date"]).all()
    assert (items["document_date"] <= files.as_of).all()
    assert (items["due_date"] > items["document_date"]).all()
    valid = subscriptions[_valid(subscriptions, files.as_of)]
    assert (valid["next_billing_date"] > files.as_of).all()


# the population


def test_customers_hold_one_to_four(generated):
    _files, subscriptions, _items = generated
    per_customer = subscriptions.groupby("customer_id").size()
    assert per_customer.min() == 1
    assert per_customer.max() == 4
    assert set(per_customer.unique()) == {1, 2, 3, 4}


def test_services_and_languages(generated):
    _files, subscriptions, _items = generated
    assert set(subscriptions["service"]) == {"electricity", "water", "gas", "waste", "fibre"}
    assert set(subscriptions["language"]) == {"fr", "de", "it"}
    shares = subscriptions.drop_duplicates("customer_id")["language"].value_counts(normalize=True)
    assert shares["fr"] > shares["de"] > shares["it"] > 0.05


def test_names_fit_language(generated):
    _files, subscriptions, _items = generated
    customers = subscriptions.drop_duplicates("customer_id")
    for language, names in customers.groupby("language")["customer_name"]:
        surnames = SURNAMES[language]
        fitting = names.map(lambda name: any(s in name.split(" ") for s in surnames))
        assert fitting.all(), names[~fitting].head().tolist()
    assert customers["customer_name"].str.contains("ü|é|ä|à").any()


def test_move_outs_with_and_without_remaining(generated):
    files, subscriptions, items = generated
    subscriptions = subscriptions.assign(valid=_valid(subscriptions, files.as_of))
    ended = subscriptions["end_date"].map(lambda end: end is not None and end <= files.as_of)
    subscriptions = subscriptions.assign(ended=ended)
    per_customer = subscriptions.groupby("customer_id")[["valid", "ended"]].sum()
    moved = per_customer[(per_customer["ended"] > 0) & (per_customer["valid"] > 0)]
    several = moved[moved["valid"] >= 2]
    left = per_customer[per_customer["valid"] == 0]
    assert len(moved) == files.summary.customers_moved > 0
    assert len(several) == files.summary.customers_moved_several_valid > 0
    assert len(left) == files.summary.customers_left > 0

    # Open items on ended subscriptions: reassignment candidates, and leavers' balances.
    ended_ids = subscriptions.loc[subscriptions["ended"], ["subscription_id", "customer_id"]]
    on_ended = items.merge(ended_ids, on=["subscription_id", "customer_id"])
    assert on_ended["customer_id"].isin(moved.index).sum() > 10
    assert on_ended["customer_id"].isin(several.index).sum() > 0
    assert on_ended["customer_id"].isin(left.index).sum() > 10


def test_notices_and_future_starts(generated):
    files, subscriptions, _items = generated
    notice = subscriptions["end_date"].map(lambda end: end is not None and end > files.as_of)
    future = subscriptions["start_date"] > files.as_of
    assert notice.sum() > 0
    assert future.sum() > 0


# the open items


def test_small_balances_are_common(generated):
    _files, _subscriptions, items = generated
    magnitude = items["open_amount"].abs()
    small = (magnitude >= 5) & (magnitude <= 500)
    assert 0.3 < small.mean() < 0.7
    assert (magnitude < 5).sum() > 0  # below the rounding step


def test_long_tail_of_debts_and_credits(generated):
    _files, _subscriptions, items = generated
    open_amount = items["open_amount"]
    assert (open_amount > 100_000).sum() > 0  # above 1'000.00
    assert (open_amount > 10_000).sum() > 50
    assert (open_amount < -10_000).sum() > 10


def test_most_invoices_fully_paid(generated):
    files, _subscriptions, items = generated
    summary = files.summary
    invoices_open = (items["kind"] == "10").sum()
    assert summary.invoices_paid / summary.invoices > 0.8
    assert invoices_open / summary.invoices < 0.2


def test_payment_habits_present(generated):
    _files, _subscriptions, items = generated
    invoices = items[items["kind"] == "10"]
    paid = invoices["amount"] - invoices["open_amount"]
    opened = invoices["open_amount"]

    exact_franc = paid % 100 == 0
    rounded_to_franc = exact_franc & (paid > 0) & (opened > 0) & (opened < 100)
    rounded_to_005 = (paid % 5 == 0) & (opened > 0) & (opened < 5)
    overpaid = (invoices["amount"] > 0) & (opened < 0)
    unpaid = paid == 0
    assert rounded_to_franc.sum() > 20
    assert rounded_to_005.sum() > 20
    assert overpaid.sum() > 20
    assert unpaid.sum() > 100

    payments = items[items["kind"] == "14"]
    paid_twice = payments[(payments["subscription_id"] != "") & (payments["amount"] < 0)]
    assert len(paid_twice) > 0
    assert (paid_twice["open_amount"] == paid_twice["amount"]).all()
    assert (payments["subscription_id"] == "").any()  # payments without a reference


def test_blocks_present(generated):
    _files, _subscriptions, items = generated
    blocks = items["block"].value_counts()
    for block in ("dunning", "collection", "dispute", "payment_plan"):
        assert blocks.get(block, 0) > 0, block
    assert blocks[""] > len(items) / 2
    disputed = items[items["block"] == "dispute"]
    assert (disputed["open_amount"] == disputed["amount"]).all()


def test_payment_plans_have_lines(generated):
    files, _subscriptions, items = generated
    plans = items[items["block"] == "payment_plan"]
    assert (plans["kind"] == "17").all()
    lines = plans.groupby("document_no")["line_no"].nunique()
    assert lines.max() > 1
    assert (plans["due_date"] > files.as_of).any()


def test_credit_notes_and_fees(generated):
    _files, _subscriptions, items = generated
    credit_notes = items[items["kind"] == "18"]
    assert len(credit_notes) > 20
    assert (credit_notes["amount"] < 0).all()
    fees = items[items["kind"] == "16"]
    assert len(fees) > 0
    assert (fees["amount"] == 2000).all()


def test_final_invoice_netted_by_credit_note(generated):
    _files, _subscriptions, items = generated
    documents = items[items["kind"].isin(["10", "18"])]
    both = documents.groupby("subscription_id").filter(
        lambda rows: (rows["kind"] == "18").any() and (rows["kind"] == "10").any()
    )
    net = both.groupby("subscription_id")["open_amount"].sum()
    assert ((net > 0) & (net < 500)).sum() > 0


def test_some_euro_items(generated):
    _files, _subscriptions, items = generated
    currencies = items["currency"].value_counts()
    assert set(currencies.index) == {"CHF", "EUR"}
    assert 0 < currencies["EUR"] < currencies["CHF"] / 50


def test_slices_do_not_change_small_files(tmp_path, monkeypatch):
    # Generation works in slices; a slice size that splits customers must still give valid,
    # unique keys and exactly the requested subscriptions.
    monkeypatch.setattr(demo, "SLICE_SUBSCRIPTIONS", 333)
    files = demo.write_demo_files(tmp_path, subscriptions=1000, seed=2)
    subscriptions = _read(files.subscriptions_path)
    items = _read(files.open_items_path)
    assert len(subscriptions) == 1000
    assert subscriptions["subscription_id"].is_unique
    assert not items.duplicated(["document_no", "line_no"]).any()
    assert len(items) == files.summary.open_items
    assert np.all(np.diff(items["customer_id"].str[1:].astype(int)) >= 0)
