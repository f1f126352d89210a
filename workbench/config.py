"""Database location and acting user, resolved from options and the environment."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

# The embedded default: an SQLite file under data/ of the current folder.
DEFAULT_DB_PATH = Path("data") / "workbench.sqlite"


def database_url(explicit: str | None = None) -> str:
    """Return the database URL: the given one, else `WORKBENCH_DB_URL`, else the SQLite file."""
    if explicit:
        return explicit
    env = os.environ.get("WORKBENCH_DB_URL", "").strip()
    if env:
        return env
    return f"sqlite:///{DEFAULT_DB_PATH}"


def current_user(explicit: str | None = None) -> str:
    """Return who acts: the given name, else `JUPYTERHUB_USER`, else the operating-system user."""
    if explicit and explicit.strip():
        return explicit.strip()
    hub_user = os.environ.get("JUPYTERHUB_USER", "").strip()
    if hub_user:
        return hub_user
    return getpass.getuser()
