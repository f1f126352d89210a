"""Column profiles: which header of an extract file contains which column the workbench reads.

A profile is a TOML file with one table per extract kind (`subscriptions`, `open_items`) that maps
each column to the header name of the file, or to a list of accepted header names. A column that a
profile leaves out keeps the default profile's header name. Header names match case-insensitively,
with surrounding spaces trimmed. `docs/profiles.md` shows how a utility writes its own profile.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Mapping, Sequence

from .errors import InvalidInput, Problem
from .i18n import _

KINDS = ("subscriptions", "open_items")

# The columns of each extract kind, in the order the documentation and error lists use.
COLUMNS: dict[str, tuple[str, ...]] = {
    "subscriptions": (
        "subscription_id",
        "customer_id",
        "customer_name",
        "language",
        "service",
        "start_date",
        "end_date",
        "next_billing_date",
    ),
    "open_items": (
        "document_no",
        "line_no",
        "customer_id",
        "subscription_id",
        "document_date",
        "due_date",
        "amount",
        "open_amount",
        "currency",
        "block",
    ),
}

# Columns the file must contain, because every row needs a value in them. The others may be
# left out of the file and then count as empty in every row.
REQUIRED_COLUMNS: dict[str, frozenset[str]] = {
    "subscriptions": frozenset({"subscription_id", "customer_id", "start_date"}),
    "open_items": frozenset({"document_no", "customer_id", "due_date", "open_amount"}),
}

DEFAULT_PROFILE = "default.toml"


@dataclass(frozen=True)
class Profile:
    """A column profile: for each extract kind and column, the header names the file may use."""

    name: str
    source: str  # the TOML file it was read from, or "default"
    headers: Mapping[str, Mapping[str, tuple[str, ...]]]

    @property
    def label(self) -> str:
        """The name to show in messages, with the file it came from unless it is the default."""
        return self.name if self.source == "default" else f"{self.name} ({self.source})"


def default_profile() -> Profile:
    """Return the profile shipped with the package, which uses the column names themselves."""
    text = resources.files("workbench").joinpath("profiles", DEFAULT_PROFILE).read_text("utf-8")
    return _parse_profile(text, source="default", default_name="default", base=None)


def load_profile(path: str | Path | None = None) -> Profile:
    """Read a profile file; `None` returns the default profile.

    Raises `InvalidInput` when the file is missing, is not valid TOML, or names an unknown kind
    or column.
    """
    if path is None:
        return default_profile()

    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise _profile_error(path, _("profile file not found")) from None
    except (OSError, UnicodeDecodeError) as error:
        raise _profile_error(
            path, _("profile file is not readable: {error}").format(error=error)
        ) from None
    return _parse_profile(text, source=str(path), default_name=path.stem, base=default_profile())


def match_columns(
    headers: Sequence[str], profile: Profile, kind: str, file_name: str
) -> dict[str, int]:
    """Find the position of each column of `kind` in a file's header row.

    Returns column -> position for the columns present. Raises `InvalidInput` naming the
    missing required columns, or a column that two headers match, and the profile used.
    """
    normalized = [_normalize(header) for header in headers]
    positions: dict[str, int] = {}
    problems: list[Problem] = []

    for column in COLUMNS[kind]:
        names = profile.headers[kind][column]
        expected = {_normalize(name) for name in names}
        found = [index for index, header in enumerate(normalized) if header in expected]
        if len(found) > 1:
            problems.append(Problem(
                file_name, 1, column, ", ".join(headers[index] for index in found),
                _("several headers match this column (profile {profile})").format(
                    profile=profile.label
                ),
            ))
        elif found:
            positions[column] = found[0]
        elif column in REQUIRED_COLUMNS[kind]:
            problems.append(Problem(
                file_name, 1, column, None,
                _("no header named {names} (profile {profile})").format(
                    names=_or_list(names), profile=profile.label
                ),
            ))

    claimed: dict[int, str] = {}
    for column, position in positions.items():
        if position in claimed:
            problems.append(Problem(
                file_name, 1, column, headers[position],
                _("this header is also mapped to {other} (profile {profile})").format(
                    other=claimed[position], profile=profile.label
                ),
            ))
        claimed[position] = column

    if problems:
        missing = [p.column for p in problems if p.value is None]
        if missing:
            message = _("{file}: required columns missing: {columns} (profile {profile})").format(
                file=file_name, columns=", ".join(missing), profile=profile.label
            )
        else:
            message = _("{file}: the header row does not match profile {profile}").format(
                file=file_name, profile=profile.label
            )
        raise InvalidInput(message, problems)
    return positions


def _parse_profile(text: str, *, source: str, default_name: str, base: Profile | None) -> Profile:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _profile_error(
            source, _("profile is not valid TOML: {error}").format(error=error)
        ) from None

    problems: list[Problem] = []
    name = document.pop("name", default_name)
    if not isinstance(name, str) or not name.strip():
        problems.append(Problem(source, None, "name", repr(name), _("name must be a text")))
        name = default_name

    headers: dict[str, dict[str, tuple[str, ...]]] = {}
    for kind in KINDS:
        inherited = dict(base.headers[kind]) if base else {}
        table = document.pop(kind, {})
        if not isinstance(table, dict):
            problems.append(Problem(source, None, kind, repr(table), _("must be a table")))
            table = {}
        for column, value in table.items():
            if column not in COLUMNS[kind]:
                problems.append(Problem(
                    source, None, f"{kind}.{column}", None,
                    _("unknown column, expected one of {columns}").format(
                        columns=", ".join(COLUMNS[kind])
                    ),
                ))
                continue
            names = _header_names(value)
            if names is None:
                problems.append(Problem(
                    source, None, f"{kind}.{column}", repr(value),
                    _("must be a header name or a list of header names"),
                ))
                continue
            inherited[column] = names
        for column in COLUMNS[kind]:
            if column not in inherited:
                problems.append(Problem(
                    source, None, f"{kind}.{column}", None, _("header name missing")
                ))
        headers[kind] = inherited

    for key in document:
        problems.append(Problem(
            source, None, key, None,
            _("unknown key, expected name, subscriptions or open_items"),
        ))

    if problems:
        raise InvalidInput(
            _("Profile {profile} is invalid.").format(profile=source), problems
        )
    return Profile(name=name.strip(), source=source, headers=headers)


def _header_names(value: object) -> tuple[str, ...] | None:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        return None
    if not all(isinstance(item, str) and item.strip() for item in values):
        return None
    return tuple(values)


def _normalize(header: str) -> str:
    # A UTF-8 byte-order mark that survived decoding would otherwise hide the first header.
    return header.replace("\ufeff", "").strip().casefold()


def _or_list(names: Sequence[str]) -> str:
    return " / ".join(f"'{name}'" for name in names)


def _profile_error(source: str | Path, reason: str) -> InvalidInput:
    return InvalidInput(
        _("Profile {profile}: {reason}").format(profile=source, reason=reason),
        [Problem(str(source), None, None, None, reason)],
    )
