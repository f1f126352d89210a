"""Serving the managers' dashboard: Voilà on a loopback address, one kernel per page view.

Voilà keeps one kernel started ahead, with the imports done and the costly small balances
computed, so that a viewer's page shows in about the time of the cheaper queries.

The server has no login of its own, so anyone who reaches the port acts with the identity of
the server's environment (`JUPYTERHUB_USER`, else the operating-system user). It therefore
listens on loopback addresses only, with JupyterHub or an authenticating proxy in front.
The database URL reaches the kernels through `WORKBENCH_DB_URL`, never through the notebook.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from .errors import InvalidInput, Problem
from .i18n import _, current_language

log = logging.getLogger(__name__)

NOTEBOOK_NAME = "dashboard.ipynb"
TEMPLATE_NAME = "workbench"
# Holds voila/templates/workbench; Voilà looks for templates under every JUPYTER_PATH entry.
TEMPLATES_ROOT = Path(__file__).with_name("templates")

# A kernel whose page was closed is shut down after this idle time; an open page keeps its kernel.
CULL_IDLE_SECONDS = 600
CULL_INTERVAL_SECONDS = 60
# Kernels started and prepared ahead of the next page view (Voilà does not cull them).
PREHEATED_KERNELS = 1
# Seconds between a page view and the start of the next prepared kernel, so that preparing it
# does not compete with that page for the processor (or for SQLite's write lock).
PREPARE_DELAY_SECONDS = 5

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8866


def find_notebook() -> Path:
    """Return the dashboard notebook: `notebooks/` of a source checkout, else the package's copy."""
    package_dir = Path(__file__).resolve().parent
    candidates = [package_dir.parent / "notebooks" / NOTEBOOK_NAME,
                  package_dir / "notebooks" / NOTEBOOK_NAME]
    for path in candidates:
        if path.is_file():
            return path
    raise InvalidInput(
        _("Dashboard notebook not found; looked for {paths}. Reinstall the workbench.").format(
            paths=", ".join(str(path) for path in candidates)
        )
    )


def check_host(host: str) -> str:
    """Return `host` when it is a loopback address or `localhost`, else raise `InvalidInput`."""
    if host == "localhost":
        return host
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise InvalidInput(
            _("The dashboard only listens on a loopback address such as 127.0.0.1, because it "
              "has no login of its own. Put JupyterHub or an authenticating proxy in front."),
            problems=[Problem("--host", None, "host", host, _("not a loopback address"))],
        )
    return host


def check_port(port: int) -> int:
    """Return `port` when it is a TCP port number (1 to 65535), else raise `InvalidInput`."""
    if not 1 <= port <= 65535:
        raise InvalidInput(
            _("Invalid port {port}: use a number from 1 to 65535.").format(port=port),
            problems=[Problem("--port", None, "port", str(port), _("out of range"))],
        )
    return port


def voila_arguments(notebook: Path, host: str, port: int) -> list[str]:
    """Return Voilà's command-line arguments for serving `notebook` on `host:port`."""
    return [
        str(notebook),
        "--no-browser",
        f"--Voila.ip={host}",
        f"--Voila.port={port}",
        # Fail on a busy port rather than silently serving on another one.
        "--Voila.port_retries=0",
        f"--template={TEMPLATE_NAME}",
        "--theme=light",
        # Viewers see a plain message; the server log keeps the traceback.
        "--VoilaConfiguration.show_tracebacks=False",
        # One kernel waits with the imports done and the small balances computed. At the
        # request it reads the other figures, and the small balances again if the data
        # changed meanwhile (see `dashboard_data.load`).
        "--VoilaConfiguration.preheat_kernel=True",
        f"--VoilaConfiguration.default_pool_size={PREHEATED_KERNELS}",
        f"--VoilaKernelManager.fill_delay={PREPARE_DELAY_SECONDS}",
        f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_SECONDS}",
        f"--MappingKernelManager.cull_interval={CULL_INTERVAL_SECONDS}",
        "--MappingKernelManager.cull_connected=False",
    ]


def server_environment(db_url: str, lang: str, environ: dict[str, str]) -> dict[str, str]:
    """Return a copy of `environ` with what the server and its kernels need."""
    env = dict(environ)
    env["WORKBENCH_DB_URL"] = db_url
    env["WORKBENCH_LANG"] = lang
    # Our template directory comes first, so that its name resolves before the installed ones.
    env["JUPYTER_PATH"] = os.pathsep.join(
        part for part in (str(TEMPLATES_ROOT), environ.get("JUPYTER_PATH", "")) if part
    )
    env.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    return env


def serve(db_url: str, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          lang: str | None = None) -> int:
    """Serve the dashboard with Voilà in this process until it is stopped; return the exit code.

    SIGTERM or Ctrl-C stops the server, and Voilà shuts its kernels down on the way out.
    """
    check_host(host)
    check_port(port)
    notebook = find_notebook()
    lang = lang or current_language()

    # Kernels inherit this process's environment, which is how they find the database.
    os.environ.update(server_environment(db_url, lang, dict(os.environ)))

    shown_url = make_url(db_url).render_as_string(hide_password=True)
    log.info("dashboard: serving %s on http://%s:%d/ for database %s, language %s",
             notebook, host, port, shown_url, lang)

    from voila.app import Voila  # imported late: the rest of the command line does not need it

    # One line per static file would bury the dashboard's own log lines.
    logging.getLogger("tornado.access").setLevel(logging.WARNING)

    try:
        Voila.launch_instance(argv=voila_arguments(notebook, host, port))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
        log.info("dashboard: stopped with exit code %d", code)
        return code
    log.info("dashboard: stopped")
    return 0
