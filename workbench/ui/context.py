"""The context of a widget view: the database, the run date, the policy and the language.

Notebooks pass their parameters as text; `ViewContext.from_parameters` parses them once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select

from .. import db
from ..config import current_user
from ..dates import DateError, parse_date
from ..errors import InvalidInput, Problem
from ..i18n import _, set_language
from ..models import ImportBatch
from ..policy import PolicyParams, load_policy


@dataclass(frozen=True)
class ViewContext:
    """The database, run date, policy (None: defaults), language and acting user of a view."""

    engine: Engine
    as_of: dt.date
    policy_name: str
    policy_id: int | None
    params: PolicyParams
    lang: str
    actor: str

    @classmethod
    def from_parameters(
        cls,
        *,
        as_of: str = "",
        policy: str = "",
        lang: str = "fr",
        db_url: str | None = None,
        actor: str | None = None,
    ) -> "ViewContext":
        """Parse a notebook's text parameters.

        An empty `as_of` is the date of the latest open-items snapshot; an empty `policy` means
        the PolicyParams defaults. The database is `db_url`, else `WORKBENCH_DB_URL`.
        """
        lang = set_language(lang or None)
        engine = db.get_engine(db_url)
        with db.session_scope(engine) as session:
            day = _run_date(session, as_of)
            if policy.strip():
                row, params = load_policy(session, policy.strip())
                policy_id, name = row.id, row.name
            else:
                policy_id, name, params = None, "", PolicyParams()
        return cls(engine, day, name, policy_id, params, lang, current_user(actor))


def _run_date(session, text: str) -> dt.date:
    if text.strip():
        try:
            return parse_date(text)
        except DateError:
            raise InvalidInput(
                _("Invalid run date {value}: write 31.03.2026 or 2026-03-31.").format(value=text),
                [Problem("", None, "as_of", text, _("not a date"))],
            ) from None
    latest = session.execute(
        select(ImportBatch.as_of)
        .where(ImportBatch.kind == "open_items")
        .order_by(ImportBatch.as_of.desc(), ImportBatch.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if latest is None:
        raise InvalidInput(_("No open-items snapshot is imported yet: import one first "
                             "(workbench import open-items FILE --as-of DATE)."))
    return latest


def parse_amount_parameter(text: str, name: str, default: int) -> int:
    """Parse an amount parameter such as `5.00` into centimes; empty text gives `default`."""
    from ..amounts import AmountError, parse_amount

    if not text.strip():
        return default
    try:
        return parse_amount(text)
    except AmountError:
        raise InvalidInput(
            _("Invalid amount {value} for {name}: write it like 5.00.").format(value=text,
                                                                              name=name),
            [Problem("", None, name, text, _("not an amount"))],
        ) from None


def parse_days_parameter(text: str, name: str, default: int) -> int:
    """Parse a whole number of days; empty text gives `default`."""
    if not text.strip():
        return default
    if not text.strip().isdigit():
        raise InvalidInput(
            _("Invalid number of days {value} for {name}: write a whole number such as 30.")
            .format(value=text, name=name),
            [Problem("", None, name, text, _("not a whole number of days"))],
        )
    return int(text.strip())
