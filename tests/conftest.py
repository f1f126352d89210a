"""Fixtures: a fresh migrated database per test on SQLite and on a throwaway PostgreSQL cluster.

`WORKBENCH_TEST_ENGINES` (default `sqlite,postgresql`) chooses the engines. PostgreSQL comes from
`WORKBENCH_TEST_PG_URL` (an admin URL of a running server) or else a cluster that this file starts
from the local PostgreSQL binaries on 127.0.0.1 and stops at the end.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from workbench import db
from workbench.cli import main as cli_main
from workbench.i18n import set_language

ENGINES = [e.strip() for e in os.environ.get("WORKBENCH_TEST_ENGINES", "sqlite,postgresql").split(",") if e.strip()]
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CASES = SHARED / "cases"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    pytest.fail("PostgreSQL binaries not found: install Debian's postgresql package "
                "(the test command does it), or set WORKBENCH_TEST_ENGINES=sqlite")


def _as_postgres_user(argv: list[str]) -> list[str]:
    # initdb and pg_ctl refuse to run as root, so CI (root) runs them as the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory):
    """Return an admin URL of a PostgreSQL server for this test session."""
    env_url = os.environ.get("WORKBENCH_TEST_PG_URL")
    if env_url:
        yield env_url
        return

    bindir = _pg_bin()
    base = Path(tempfile.mkdtemp(prefix="wb-pg-"))
    data_dir, sock_dir = base / "data", base / "sock"
    sock_dir.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sock_dir, "postgres")
    port = _free_port()
    subprocess.run(
        _as_postgres_user([str(bindir / "initdb"), "-D", str(data_dir), "--auth=trust",
                           "-E", "UTF8", "--locale=C.UTF-8", "-U", "postgres"]),
        check=True, capture_output=True,
    )
    options = f"-k {sock_dir} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off"
    subprocess.run(
        _as_postgres_user([str(bindir / "pg_ctl"), "-D", str(data_dir), "-w", "-l",
                           str(base / "server.log"), "-o", options, "start"]),
        check=True, capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres_user([str(bindir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate",
                               "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    db.upgrade(f"sqlite:///{path}")
    db.dispose_all()
    return path


@pytest.fixture(scope="session")
def _pg_template(request) -> str:
    admin_url = request.getfixturevalue("pg_admin_url")
    name = f"wb_template_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    db.upgrade(url)
    db.dispose_all()
    admin.dispose()
    return name


@pytest.fixture(params=ENGINES)
def db_url(request, tmp_path) -> str:
    """Return the URL of a fresh, migrated, empty database on each engine under test."""
    if request.param == "sqlite":
        path = tmp_path / "workbench.sqlite"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        url = f"sqlite:///{path}"
        yield url
        db.dispose_all()
        return

    template = request.getfixturevalue("_pg_template")
    admin_url = request.getfixturevalue("pg_admin_url")
    name = f"wb_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    db.dispose_all()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(db_url):
    return db.get_engine(db_url)


@pytest.fixture(autouse=True)
def _french_by_default(monkeypatch):
    monkeypatch.delenv("WORKBENCH_LANG", raising=False)
    monkeypatch.delenv("WORKBENCH_DB_URL", raising=False)
    set_language(None)
    yield
    set_language(None)


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


@pytest.fixture
def cli(db_url):
    """Run the `workbench` command in-process against the test database."""

    def run(*args: str, lang: str | None = None) -> CliResult:
        argv = ["--db", db_url, *(["--lang", lang] if lang else []), *map(str, args)]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli_main(argv)
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 2
        set_language(None)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run
