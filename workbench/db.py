"""Engines, sessions and schema upgrades for SQLite (embedded) and PostgreSQL (server)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from .config import database_url
from .errors import InvalidInput
from .i18n import _

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_engines: dict[str, Engine] = {}


def get_engine(url: str | None = None) -> Engine:
    """Return the engine of a database URL, created once per process."""
    url = database_url(url)
    if url not in _engines:
        _engines[url] = _create_engine(url)
    return _engines[url]


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take control so that each
        # transaction starts with BEGIN IMMEDIATE and writers queue instead of failing late.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """Open a session whose work is one transaction: committed on success, rolled back on error."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        with session.begin():
            yield session


def schema_revision(url: str | None = None) -> str | None:
    """Return the database's schema revision, or None when it has no workbench schema.

    An SQLite file that does not exist is not created by asking.
    """
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not Path(parsed.database).exists():
            return None
    with get_engine(url).connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str:
    """Return the newest migration's revision id."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def require_schema(url: str | None = None) -> None:
    """Raise `InvalidInput` unless the database has the newest schema; `workbench init` fixes it."""
    revision = schema_revision(url)
    if revision == head_revision():
        return
    shown = make_url(database_url(url)).render_as_string(hide_password=True)
    if revision is None:
        message = _("The database {url} has no workbench schema: run `workbench init` first.")
    else:
        message = _("The database {url} has an older schema: run `workbench init` to upgrade it.")
    raise InvalidInput(message.format(url=shown))


def upgrade(url: str | None = None) -> None:
    """Create or upgrade the schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    engine = get_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def dispose_all() -> None:
    """Close every pooled connection (tests and forked processes)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
