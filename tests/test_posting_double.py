"""A cleared item can be posted once: by a second run, by a concurrent transaction, or process."""

import os
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from ledger_builders import Group, Item, add_customers, add_snapshot, approved_run, table

from workbench import db, posting
from workbench.errors import RuleRefused


def shared_item_runs(engine) -> tuple[int, int]:
    """Return two approved runs of one snapshot that both contain F-1."""
    add_customers(engine, {"C1": "fr", "C2": "fr"})
    shared = Item("F-1", "C1", 50, "S-C1")
    only_second = Item("F-2", "C2", 30, "S-C2")
    batch = add_snapshot(engine, [shared, only_second])
    first = approved_run(engine, [Group("rebill", [shared], target="S-C1")], batch_id=batch)
    second = approved_run(engine, [Group("rebill", [shared], target="S-C1"),
                                   Group("rebill", [only_second], target="S-C2")],
                          batch_id=batch)
    return first, second


def assert_second_stored_nothing(engine, second):
    assert table(engine, "SELECT state FROM runs WHERE id = :run", run=second) == [("approved",)]
    assert table(engine, "SELECT COUNT(*) FROM journal_lines WHERE run_id = :run",
                 run=second) == [(0,)]
    assert table(engine, "SELECT COUNT(*) FROM charge_lines WHERE run_id = :run",
                 run=second) == [(0,)]
    assert table(engine, "SELECT document_no, run_id FROM cleared_items") != []
    assert table(engine, "SELECT COUNT(*) FROM cleared_items WHERE run_id = :run",
                 run=second) == [(0,)]


def test_second_run_with_cleared_item_refused(cli, engine):
    first, second = shared_item_runs(engine)
    assert cli("run", "post", first, "--by", "carla").code == 0

    refused = cli("run", "post", second, "--by", "carla", lang="en")

    assert refused.code == 3, refused
    assert "F-1" in refused.err
    assert f"run {first}" in refused.err
    assert_second_stored_nothing(engine, second)


def _wait_for_lock_wait(engine, timeout: float = 30.0) -> None:
    # The second transaction waits for the first one's uncommitted key of F-1.
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(text("SELECT COUNT(*) FROM pg_locks WHERE NOT granted")).scalar()
            if waiting:
                return
            time.sleep(0.05)
    pytest.fail("the second posting never waited for the first one's lock")


def test_concurrent_transactions_one_wins(engine):
    first, second = shared_item_runs(engine)
    outcome: dict[str, object] = {}

    def post_second():
        try:
            with db.session_scope(engine) as session:
                posting.post(session, second, posted_by="dora")
            outcome["second"] = "posted"
        except RuleRefused as error:
            outcome["second"] = error

    with Session(engine) as session_a:
        with session_a.begin():
            posting.post(session_a, first, posted_by="carla")
            thread = threading.Thread(target=post_second)
            thread.start()
            if db.is_postgresql(engine):
                _wait_for_lock_wait(engine)
        # Leaving the block commits the first posting; the second then fails on the key.
    thread.join(timeout=60)

    assert not thread.is_alive()
    assert isinstance(outcome["second"], RuleRefused), outcome
    if db.is_postgresql(engine):
        assert "au même moment" in str(outcome["second"])
    assert table(engine, "SELECT run_id FROM cleared_items") == [(first,)]
    assert_second_stored_nothing(engine, second)


def test_two_processes_one_wins(db_url, engine):
    first, second = shared_item_runs(engine)
    db.dispose_all()
    environment = {**os.environ, "WORKBENCH_LANG": "en"}

    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "workbench", "--db", db_url, "run", "post", str(run_id),
             "--by", user],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
        )
        for run_id, user in ((first, "carla"), (second, "dora"))
    ]
    results = [(process.wait(timeout=120), process.stderr.read()) for process in processes]
    codes = sorted(code for code, _err in results)

    assert codes == [0, 3], results
    loser_error = next(err for code, err in results if code == 3)
    assert "F-1" in loser_error or "at the same time" in loser_error
    winner = first if results[0][0] == 0 else second
    assert table(engine, "SELECT DISTINCT run_id FROM cleared_items") == [(winner,)]
    assert table(engine, "SELECT COUNT(*) FROM runs WHERE state = 'posted'") == [(1,)]
