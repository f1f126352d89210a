"""`workbench dashboard`: serve the managers' dashboard with Voilà on a loopback address."""

from __future__ import annotations

import argparse

from .. import config, dashboard_server
from ..i18n import _, current_language


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `dashboard` subcommand."""
    dashboard = subparsers.add_parser(
        "dashboard",
        help=_("serve the managers' dashboard with Voilà on 127.0.0.1"),
        description=_(
            "Serve the managers' dashboard until stopped (Ctrl-C). Viewers act as "
            "JUPYTERHUB_USER, else as the operating-system user that runs the server."
        ),
    )
    dashboard.add_argument(
        "--port", type=int, default=dashboard_server.DEFAULT_PORT,
        help=_("TCP port to listen on (default: {port})").format(
            port=dashboard_server.DEFAULT_PORT),
    )
    dashboard.add_argument(
        "--host", default=dashboard_server.DEFAULT_HOST,
        help=_("loopback address to listen on (default: {host})").format(
            host=dashboard_server.DEFAULT_HOST),
    )
    dashboard.set_defaults(handler=run_dashboard)


def run_dashboard(args: argparse.Namespace) -> int:
    """Serve the dashboard over the database of `--db` (passed to the kernels by environment)."""
    return dashboard_server.serve(
        config.database_url(args.db),
        host=args.host,
        port=args.port,
        lang=current_language(),
    )
