"""Subcommands of this area; see register()."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this area's subcommands (filled in by the area's module)."""
