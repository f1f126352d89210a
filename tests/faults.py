"""Fault-injection helpers: kill a real `workbench` process at a chosen step, clone databases,
and read the ledger counts that must be all or nothing after a crash.

Run as a script, this file is the wrapper that the crash and concurrency tests start:

    python tests/faults.py [--kill-at N] [--kill-after-commit] [--go-file F] -- WORKBENCH ARGS

`--kill-at N` sends SIGKILL to the process itself just before its N-th step, where a step is a
statement sent to the database, a COMMIT, or an `os.replace` (the rename that publishes an
export file). `--kill-after-commit` kills it right after its first COMMIT returns. `--go-file`
makes the process import everything, then wait until that file exists, so that several
processes start their work within a few milliseconds of each other. Without options it runs the
command normally and prints the number of steps it took on the last line of standard error, as
`steps: N`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WRAPPER = Path(__file__).resolve()
STEP_COUNT_PREFIX = "steps: "


# Ledger counts --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunCounts:
    """What one run has stored: its state, its posted rows and its audit events."""

    state: str
    cleared_items: int
    journal_lines: int
    charge_lines: int
    audit_actions: tuple[str, ...]


def run_counts(engine, run_id: int) -> RunCounts:
    """Read a run's state, row counts and audit actions (in id order) straight from the tables."""
    from sqlalchemy import text

    with engine.connect() as connection:
        def count(table: str) -> int:
            return connection.execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE run_id = :run"), {"run": run_id}
            ).scalar_one()

        state = connection.execute(
            text("SELECT state FROM runs WHERE id = :run"), {"run": run_id}
        ).scalar_one()
        actions = connection.execute(
            text("SELECT action FROM audit_events WHERE run_id = :run ORDER BY id"),
            {"run": run_id},
        ).scalars().all()
        return RunCounts(state, count("cleared_items"), count("journal_lines"),
                         count("charge_lines"), tuple(actions))


def audit_rows(engine) -> list[tuple]:
    """Return every audit event as (id, actor, action, run_id, batch_id, details), in id order."""
    from sqlalchemy import text

    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(
            "SELECT id, actor, action, run_id, batch_id, details FROM audit_events ORDER BY id"
        ))]


def table_count(engine, table: str, where: str = "1 = 1") -> int:
    from sqlalchemy import text

    with engine.connect() as connection:
        return connection.execute(text(f"SELECT COUNT(*) FROM {table} WHERE {where}")).scalar_one()


# Databases ------------------------------------------------------------------------------------

def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def clone_database(url: str, directory: Path) -> str:
    """Copy a database (an SQLite file, or a PostgreSQL database used as template) and return the
    copy's URL. The source must have no open connection: call `db.dispose_all()` first."""
    if is_sqlite(url):
        source = Path(url.split("///", 1)[1])
        target = directory / f"clone-{uuid.uuid4().hex[:8]}.sqlite"
        shutil.copyfile(source, target)
        # A WAL file left by a killed process contains committed pages, so copy it too.
        for suffix in ("-wal",):
            extra = Path(f"{source}{suffix}")
            if extra.exists():
                shutil.copyfile(extra, Path(f"{target}{suffix}"))
        return f"sqlite:///{target}"

    from sqlalchemy import create_engine, text

    base, source_name = url.rsplit("/", 1)
    name = f"wb_clone_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source_name}"'))
    admin.dispose()
    return f"{base}/{name}"


def drop_database(url: str) -> None:
    """Drop a PostgreSQL clone (SQLite files go with the test's temporary folder)."""
    if is_sqlite(url):
        return
    from sqlalchemy import create_engine, text

    base, name = url.rsplit("/", 1)
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# Processes ------------------------------------------------------------------------------------

def wrapper_command(db_url: str, args: list[str], *, kill_at: int | None = None,
                    kill_after_commit: bool = False, go_file: Path | None = None) -> list[str]:
    """Return the argv that runs `workbench --db URL ARGS` through this file's wrapper."""
    command = [sys.executable, str(WRAPPER)]
    if kill_at is not None:
        command += ["--kill-at", str(kill_at)]
    if kill_after_commit:
        command.append("--kill-after-commit")
    if go_file is not None:
        command += ["--go-file", str(go_file)]
    return command + ["--", "--db", db_url, *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("WORKBENCH_DB_URL", "WORKBENCH_LANG")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def run_wrapped(db_url: str, args: list[str], *, cwd: Path, timeout: float = 120,
                env: dict[str, str] | None = None, **options) -> subprocess.CompletedProcess:
    """Run the wrapper to its end (or its self-inflicted SIGKILL) and return the finished process."""
    return subprocess.run(
        wrapper_command(db_url, args, **options), cwd=cwd, env=env or subprocess_env(),
        capture_output=True, text=True, timeout=timeout,
    )


def step_count(process: subprocess.CompletedProcess) -> int:
    """Return the step count that an uninterrupted wrapper printed last on standard error."""
    for line in reversed(process.stderr.splitlines()):
        if line.startswith(STEP_COUNT_PREFIX):
            return int(line[len(STEP_COUNT_PREFIX):])
    raise AssertionError(f"no step count in the wrapper's output: {process.stderr[-2000:]!r}")


def spread(total: int, count: int) -> list[int]:
    """Return up to `count` distinct step numbers spread evenly over 1..total, ends included."""
    if count >= total:
        return list(range(1, total + 1))
    return sorted({1 + round(index * (total - 1) / (count - 1)) for index in range(count)})


def start_together(commands: list[list[str]], *, cwd: Path, go_file: Path,
                   env: dict[str, str] | None = None,
                   timeout: float = 120) -> list[subprocess.CompletedProcess]:
    """Start processes that wait on `go_file`, create it once all are ready, and collect them."""
    processes = [
        subprocess.Popen(command, cwd=cwd, env=env or subprocess_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for command in commands
    ]
    ready = [Path(f"{go_file}.ready-{process.pid}") for process in processes]
    deadline = time.monotonic() + timeout
    while not all(path.exists() for path in ready):
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            break
        time.sleep(0.01)
    go_file.touch()
    results = []
    for command, process in zip(commands, processes):
        out, err = process.communicate(timeout=timeout)
        results.append(subprocess.CompletedProcess(command, process.returncode, out, err))
    return results


def reconcile_difference(db_url: str) -> str:
    """Run `workbench reconcile --format json` in-process and return its `difference`."""
    import contextlib
    import io

    from workbench.cli import main as cli_main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(["--db", db_url, "--lang", "en", "reconcile", "--format", "json"])
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())["difference"]


# Wrapper --------------------------------------------------------------------------------------

def _wrapper_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kill-at", type=int)
    parser.add_argument("--kill-after-commit", action="store_true")
    parser.add_argument("--go-file", type=Path)
    parser.add_argument("workbench_args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    workbench_args = options.workbench_args[1:] if options.workbench_args[:1] == ["--"] \
        else options.workbench_args

    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from workbench.cli import main as cli_main

    steps = 0

    def step() -> None:
        nonlocal steps
        steps += 1
        if options.kill_at is not None and steps >= options.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(Engine, "before_cursor_execute", lambda *args: step())
    event.listen(Engine, "commit", lambda connection: step())
    if options.kill_after_commit:
        event.listen(Session, "after_commit", lambda session: os.kill(os.getpid(), signal.SIGKILL))
    replace = os.replace

    def counted_replace(source, target, *args, **kwargs):
        step()
        return replace(source, target, *args, **kwargs)

    os.replace = counted_replace

    if options.go_file is not None:
        Path(f"{options.go_file}.ready-{os.getpid()}").touch()
        while not options.go_file.exists():
            time.sleep(0.002)

    code = cli_main(workbench_args)
    print(f"{STEP_COUNT_PREFIX}{steps}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(_wrapper_main(sys.argv[1:]))
