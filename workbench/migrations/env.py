"""Alembic environment: runs migrations on the connection that `workbench.db.upgrade` passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from workbench.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        # Command-line use (alembic -x url=...), e.g. to autogenerate a new migration.
        url = context.get_x_argument(as_dictionary=True)["url"]
        with create_engine(url).begin() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
