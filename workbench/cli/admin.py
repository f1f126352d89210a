"""`workbench init` and `workbench demo`."""

from __future__ import annotations

import argparse

from .. import db
from ..i18n import _
from . import demo_command


def register(subparsers: argparse._SubParsersAction) -> None:
    init = subparsers.add_parser("init", help=_("create or upgrade the database schema"))
    init.set_defaults(handler=run_init)
    demo_command.register(subparsers)


def run_init(args: argparse.Namespace) -> None:
    db.upgrade(args.db)
    print(_("Database schema is up to date."))
