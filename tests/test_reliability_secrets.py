"""Secrets and exposure: database passwords stay out of logs, output, errors, audit and files;
the dashboard listens on loopback only; the application's role cannot change audit events.

The test cluster authenticates with `trust`, so a wrong password is not refused there. The error
path is exercised instead with URLs that carry a password and name an unknown role, an unknown
database or a closed port.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from conftest import ENGINES
from faults import subprocess_env, table_count
from test_reliability_hostile import ITEM_ROWS, ITEMS_HEADER, SUBSCRIPTION_ROWS, \
    SUBSCRIPTIONS_HEADER, csv_bytes
from workbench import dashboard_server, db

SECRET = "s3cret-Pw-7f1d"

# Roles and passwords exist on PostgreSQL only; these marks pick one engine of the `db_url`
# fixture, and leave the test out when that engine is not under test.
POSTGRESQL_ONLY = pytest.mark.parametrize(
    "db_url", [e for e in ENGINES if e == "postgresql"], indirect=True)
SQLITE_ONLY = pytest.mark.parametrize(
    "db_url", [e for e in ENGINES if e == "sqlite"], indirect=True)

# The grants of an application role: data access, no ownership, no TRUNCATE.
APP_GRANTS = [
    'GRANT CONNECT ON DATABASE "{database}" TO {role}',
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
]


@pytest.fixture
def app_role(db_url):
    """Create a login role with a password and an application's grants; return its URL."""
    role = f"wb_app_{uuid.uuid4().hex[:8]}"
    base, database = db_url.rsplit("/", 1)
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'"))
        for grant in APP_GRANTS:
            connection.execute(text(grant.format(database=database, role=role)))
    host = base.split("@", 1)[1]
    yield role, f"postgresql+psycopg://{role}:{SECRET}@{host}/{database}"
    db.dispose_all()
    with admin.connect() as connection:
        connection.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"))
        connection.execute(text(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}"))
        connection.execute(text(f"REVOKE ALL ON SCHEMA public FROM {role}"))
        connection.execute(text(f'REVOKE ALL ON DATABASE "{database}" FROM {role}'))
        connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :role"),
            {"role": role})
        connection.execute(text(f"DROP ROLE {role}"))
    admin.dispose()


def workbench_process(url: str, *args: str, log_file, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "--db", url, "--lang", "en", "-v", *args],
        cwd=cwd, capture_output=True, text=True, timeout=120,
        env=subprocess_env(WORKBENCH_LOG_FILE=str(log_file)),
    )


@POSTGRESQL_ONLY
def test_password_never_shown(app_role, db_url, tmp_path):
    role, url = app_role
    log_file = tmp_path / "workbench.log"
    subscriptions = tmp_path / "subscriptions.csv"
    subscriptions.write_bytes(csv_bytes(SUBSCRIPTIONS_HEADER, SUBSCRIPTION_ROWS))
    items = tmp_path / "items.csv"
    items.write_bytes(csv_bytes(ITEMS_HEADER, ITEM_ROWS))

    steps = [
        (["import", "subscriptions", str(subscriptions)], 0),
        (["import", "open-items", str(items), "--as-of", "2026-11-30"], 0),
        (["run", "prepare", "--as-of", "2026-11-30", "--debit-threshold", "5.00",
          "--credit-threshold", "5.00", "--by", "anna"], 0),
        (["run", "approve", "1", "--by", "anna"], 3),
        (["run", "approve", "1", "--by", "ben"], 0),
        (["run", "post", "1"], 0),
        (["run", "post", "1"], 3),
        (["run", "export", "1", "--out", str(tmp_path / "out")], 0),
        (["reconcile", "--format", "json"], 0),
    ]
    shown = []
    for args, expected in steps:
        process = workbench_process(url, *args, log_file=log_file, cwd=tmp_path)
        assert process.returncode == expected, (args, process.returncode, process.stderr[-800:])
        shown.append(process.stdout + process.stderr)

    # The role really did the work: its posting is in the ledger.
    engine = db.get_engine(db_url)
    assert table_count(engine, "cleared_items") == 1
    with engine.connect() as connection:
        details = " ".join(connection.execute(text(
            "SELECT actor || ' ' || details FROM audit_events")).scalars())
    db.dispose_all()

    log_text = log_file.read_text(encoding="utf-8")
    assert "post: run 1 end" in log_text
    files = " ".join(path.read_text(encoding="utf-8") for path in (tmp_path / "out").iterdir())
    for where, content in [("output", " ".join(shown)), ("log", log_text),
                           ("audit", details), ("exports", files)]:
        assert SECRET not in content, where


@POSTGRESQL_ONLY
@pytest.mark.parametrize("target", ["unknown role", "unknown database", "closed port"])
def test_connection_errors_hide_password(app_role, tmp_path, target):
    role, url = app_role
    prefix, rest = url.split("@", 1)
    host_port, database = rest.split("/", 1)
    if target == "unknown role":
        url = url.replace(f"{role}:", "nobody_here:")
    elif target == "unknown database":
        url = f"{prefix}@{host_port}/no_such_database"
    else:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed_port = sock.getsockname()[1]
        url = f"{prefix}@127.0.0.1:{closed_port}/{database}"
    log_file = tmp_path / "workbench.log"

    process = workbench_process(url, "reconcile", log_file=log_file, cwd=tmp_path)

    assert process.returncode == 1, process.stderr
    assert process.stderr.strip(), "an error message is expected"
    assert "Traceback" not in process.stderr.split("Failed")[-1]
    for content in (process.stdout, process.stderr, log_file.read_text(encoding="utf-8")
                    if log_file.exists() else ""):
        assert SECRET not in content


@POSTGRESQL_ONLY
def test_audit_immutable_for_app_role(app_role, db_url, cli):
    role, url = app_role
    assert cli("policy", "propose", "standard", "--debit-threshold", "5.00",
               "--credit-threshold", "5.00", "--by", "anna").code == 0
    events = table_count(db.get_engine(db_url), "audit_events")
    assert events >= 1
    db.dispose_all()

    app = create_engine(url)
    statements = ["UPDATE audit_events SET actor = 'mallory'",
                  "DELETE FROM audit_events",
                  "TRUNCATE audit_events"]
    for statement in statements:
        with app.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                connection.execute(text(statement))
            message = str(raised.value.orig)
            assert ("audit events cannot be changed or deleted" in message
                    or "permission denied" in message), (statement, message)

    # Even with TRUNCATE granted, the statement trigger rejects it.
    admin = create_engine(db_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"GRANT TRUNCATE ON audit_events TO {role}"))
    admin.dispose()
    with app.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            connection.execute(text("TRUNCATE audit_events"))
        assert "audit events cannot be changed or deleted" in str(raised.value.orig)
    with app.connect() as connection:
        assert connection.execute(text(
            "SELECT COUNT(*) FROM audit_events WHERE actor = 'mallory'")).scalar_one() == 0
        with pytest.raises(DBAPIError) as raised:
            connection.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
        assert "must be owner" in str(raised.value.orig)
    app.dispose()
    assert table_count(db.get_engine(db_url), "audit_events") == events


@SQLITE_ONLY
def test_audit_immutable_sqlite(db_url, cli, engine):
    assert cli("policy", "propose", "standard", "--debit-threshold", "5.00",
               "--credit-threshold", "5.00", "--by", "anna").code == 0
    events = table_count(engine, "audit_events")
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with engine.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                connection.execute(text(statement))
            assert "audit events cannot be changed or deleted" in str(raised.value.orig)
    assert table_count(engine, "audit_events") == events


def test_dashboard_loopback_only(cli):
    assert dashboard_server.DEFAULT_HOST == "127.0.0.1"
    arguments = dashboard_server.voila_arguments(dashboard_server.find_notebook(),
                                                 dashboard_server.DEFAULT_HOST, 8866)
    assert "--Voila.ip=127.0.0.1" in arguments
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org"):
        result = cli("dashboard", "--host", host, "--port", "8866", lang="en")
        assert result.code == 2, result
        assert host in result.err
        assert "loopback" in result.err
