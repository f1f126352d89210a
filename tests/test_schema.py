import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from workbench import db


def test_init_is_repeatable(cli, engine):
    first = cli("init")
    second = cli("init")
    assert first.code == 0, first
    assert second.code == 0, second
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0001"


def test_audit_events_reject_update_and_delete(engine):
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO audit_events (at, actor, action, details) "
                 "VALUES (CURRENT_TIMESTAMP, 'anna', 'import', '{}')")
        )
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError):
            with engine.begin() as conn:
                conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM audit_events")).scalar_one() == "anna"
