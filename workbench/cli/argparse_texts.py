"""Translation of the texts that argparse itself prints (errors, usage), through our catalogue.

argparse looks up its texts with the module-level names `_` and `ngettext` at call time, so
pointing them at the workbench catalogue translates its errors into the user's language.
"""

from __future__ import annotations

import argparse

from ..i18n import N_, _, ngettext

# The argparse texts a user can meet, listed so that catalogue extraction finds them.
MESSAGES = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("expected one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("one of the arguments %s is required"),
    N_("not allowed with argument %s"),
)


def _translate(message):
    return message if message is None else _(message)


def install() -> None:
    """Make argparse print its texts in the current workbench language."""
    argparse._ = _translate
    argparse.ngettext = ngettext
