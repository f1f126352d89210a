"""Exceptions that map to the command line's exit codes.

0 done; 1 failure; 2 invalid input, nothing changed; 3 refused by a rule.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One bad value of an input file: where it is, what it is, and why it was rejected."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    reason: str


class WorkbenchError(Exception):
    """Base of the errors a user can act on; `exit_code` is what the command line returns."""

    exit_code = 1


class InvalidInput(WorkbenchError):
    """Input that cannot be used as it is; nothing was changed."""

    exit_code = 2

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []


class RuleRefused(WorkbenchError):
    """An action that a rule forbids: four eyes, a wrong state, an item already posted."""

    exit_code = 3
