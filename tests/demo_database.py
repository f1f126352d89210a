"""A demo utility database, built once per test session and engine and copied for each test.

Notebook and monthly-job tests need realistic data but may change it (policies, choices, runs),
so each test gets its own copy of a template that `workbench demo --subscriptions 2000` filled.
Also sets the Jupyter, IPython and matplotlib folders to a temporary place for the kernels.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import uuid
from pathlib import Path

import papermill
from sqlalchemy import create_engine, text

from workbench import db, demo, monthly
from workbench.cli import main as cli_main
from workbench.i18n import set_language

SUBSCRIPTIONS = 2000
SEED = 1
DEMO_AS_OF = demo.default_as_of(SEED)
REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"

# engine name -> SQLite template path or PostgreSQL template database name
_templates: dict[str, str] = {}
# engine name -> the folder of the extract files that built its template
_files: dict[str, Path] = {}
_JUPYTER_DIRS = ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR",
                 "MPLCONFIGDIR")


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the `workbench` command in-process; return its exit code, output and error output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main([str(arg) for arg in args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
    set_language(None)
    return code, out.getvalue(), err.getvalue()


def jupyter_environment(tmp_path_factory) -> dict[str, str]:
    """Return environment variables that keep Jupyter, IPython and matplotlib out of $HOME."""
    base = tmp_path_factory.getbasetemp() / "jupyter-home"
    values = {name: str(base / name.lower()) for name in _JUPYTER_DIRS}
    values["JUPYTER_PLATFORM_DIRS"] = "1"
    for folder in values.values():
        if folder != "1":
            Path(folder).mkdir(parents=True, exist_ok=True)
    return values


def demo_copy(request, engine_name: str, tmp_path: Path) -> str:
    """Return the URL of a fresh copy of the demo database on one engine."""
    template = _template(request, engine_name)
    if engine_name == "sqlite":
        path = tmp_path / "demo.sqlite"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"

    admin_url = request.getfixturevalue("pg_admin_url")
    name = f"wb_demo_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

    def drop() -> None:
        db.dispose_all()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def _template(request, engine_name: str) -> str:
    if engine_name in _templates:
        return _templates[engine_name]
    folder = request.getfixturevalue("tmp_path_factory").mktemp(f"demo-{engine_name}")
    if engine_name == "sqlite":
        location = str(folder / "template.sqlite")
        url = f"sqlite:///{location}"
    else:
        admin_url = request.getfixturevalue("pg_admin_url")
        location = f"wb_demo_template_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{location}"'))
        admin.dispose()
        url = admin_url.rsplit("/", 1)[0] + f"/{location}"

    code, out, err = run_cli("--db", url, "demo", "--subscriptions", str(SUBSCRIPTIONS),
                             "--seed", str(SEED), "--out", str(folder / "files"))
    assert code == 0, f"workbench demo failed: {out}\n{err}"
    db.dispose_all()  # a PostgreSQL template must have no open connection
    _templates[engine_name] = location
    _files[engine_name] = folder / "files"
    return location


def demo_files(engine_name: str) -> tuple[Path, Path]:
    """Return the subscriptions and open-items extracts imported into an engine's template."""
    folder = _files[engine_name]
    return folder / demo.SUBSCRIPTIONS_FILE, folder / demo.OPEN_ITEMS_FILE


def kernel_environment(values: dict[str, str]):
    """Set environment variables for the kernels started inside the block, then restore them."""
    return monthly.temporary_environment(values)


def execute_notebook(name: str, output: Path, db_url: str, parameters: dict[str, str],
                     jupyter_env: dict[str, str]):
    """Run one notebook of notebooks/ with papermill in the python3 kernel; return the result."""
    with kernel_environment({**jupyter_env, "WORKBENCH_DB_URL": db_url}):
        return papermill.execute_notebook(
            str(NOTEBOOKS / name), str(output), parameters=parameters, kernel_name="python3",
            progress_bar=False, cwd=str(output.parent),
        )
