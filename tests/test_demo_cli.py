"""`workbench demo` end to end: files written, imported by the real importer, on both engines."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import func, select

from workbench.amounts import parse_amount
from workbench.models.snapshot import Customer, ImportBatch, OpenItem, Subscription


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8")


def _count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model)).scalar_one()


def test_demo_imports_every_row(cli, engine, tmp_path):
    folder = tmp_path / "extracts"
    result = cli("demo", "--subscriptions", "2000", "--out", folder)
    assert result.code == 0, result

    subscriptions = _read(folder / "subscriptions.csv")
    items = _read(folder / "open_items.csv")
    assert len(subscriptions) == 2000
    assert _count(engine, Subscription) == 2000
    assert _count(engine, Customer) == subscriptions["customer_id"].nunique()
    assert _count(engine, OpenItem) == len(items)

    with engine.connect() as conn:
        stored_total = conn.execute(select(func.sum(OpenItem.open_cents))).scalar_one()
        batches = conn.execute(
            select(ImportBatch.kind, ImportBatch.row_count, ImportBatch.rejected_count)
            .order_by(ImportBatch.id)
        ).all()
        services = conn.execute(select(Subscription.service).distinct()).scalars().all()
    assert stored_total == sum(parse_amount(value) for value in items["open_amount"])
    assert [tuple(batch) for batch in batches] == [
        ("subscriptions", 2000, 0),
        ("open_items", len(items), 0),
    ]
    assert sorted(services) == ["electricity", "fibre", "gas", "waste", "water"]


def test_demo_prints_counts_and_as_of(cli, tmp_path):
    result = cli("demo", "--subscriptions", "2000", "--seed", "1", "--out", tmp_path)
    assert result.code == 0, result
    assert "31.12.2025" in result.out
    assert "2'000" in result.out
    items = _read(tmp_path / "open_items.csv")
    assert f"{len(items):,}".replace(",", "'") in result.out


def test_demo_default_folder_beside_sqlite(cli, db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("demo", "--subscriptions", "30")
    assert result.code == 0, result
    if db_url.startswith("sqlite"):
        folder = tmp_path / "demo"  # the test database is tmp_path/workbench.sqlite
    else:
        folder = tmp_path / "data" / "demo"
    assert (folder / "subscriptions.csv").is_file()
    assert (folder / "open_items.csv").is_file()


def test_demo_twice_changes_nothing(cli, engine, tmp_path):
    first = cli("demo", "--subscriptions", "500", "--out", tmp_path)
    counts = (_count(engine, Subscription), _count(engine, OpenItem))
    second = cli("demo", "--subscriptions", "500", "--out", tmp_path)
    assert first.code == 0, first
    assert second.code == 0, second
    assert (_count(engine, Subscription), _count(engine, OpenItem)) == counts


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--subscriptions", "0"), "--subscriptions"),
        (("--subscriptions", "-5"), "--subscriptions"),
        (("--subscriptions", "many"), "--subscriptions"),
        (("--seed", "-1"), "--seed"),
        (("--as-of", "31.02.2026"), "--as-of"),
    ],
)
def test_demo_bad_arguments_exit_2(cli, engine, tmp_path, args, named):
    result = cli("demo", *args, "--out", tmp_path / "out")
    assert result.code == 2, result
    assert named in result.err
    assert repr(args[1]) in result.err
    assert not (tmp_path / "out").exists()
    assert _count(engine, ImportBatch) == 0
