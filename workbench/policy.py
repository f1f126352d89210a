"""Policies: the parameters a run uses, and their proposal and approval (four eyes)."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit
from .amounts import to_decimal_string
from .errors import InvalidInput, Problem, RuleRefused
from .i18n import N_, _
from .models import Policy
from .models.base import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PolicyParams:
    """The parameters of selection, decisions and posting; amounts are integer centimes."""

    debit_threshold: int = 500
    credit_threshold: int = 500
    min_days_overdue: int = 30
    rounding_step: int = 5
    write_off_limit: int = 0
    currency: str = "CHF"
    ar_account: str = "1100"
    transit_account: str = "1091"
    loss_account: str = "3805"
    rounding_account: str = "3806"
    charge_code: str = "SOLDE"
    vat_code: str = "0"
    line_mode: str = "item"  # "item": one charge line per open item; "group": one per group
    # A run whose absolute cleared total stays within this limit may post without a second
    # person; 0 always requires four eyes.
    auto_post_limit: int = 0

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "PolicyParams":
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in json.loads(text).items() if key in known})

    def replace(self, **changes) -> "PolicyParams":
        return dataclasses.replace(self, **changes)


# Stored policies ------------------------------------------------------------------------------
#
# A policy is a named parameter set with numbered versions. Each version is proposed by one
# person and approved or rejected by another (four eyes). A run uses the highest approved
# version of the name it is given.

PROPOSED = "proposed"
APPROVED = "approved"
REJECTED = "rejected"
STATUS_LABELS = {PROPOSED: N_("proposed"), APPROVED: N_("approved"), REJECTED: N_("rejected")}

# Fields of PolicyParams that hold amounts in centimes (printed as `5.00`-style strings).
AMOUNT_FIELDS = ("debit_threshold", "credit_threshold", "rounding_step", "write_off_limit",
                 "auto_post_limit")
LINE_MODES = ("item", "group")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_NAME_LENGTH = 100


def check_params(params: PolicyParams, source: str = "") -> None:
    """Raise `InvalidInput` listing every parameter of `params` that cannot be used.

    Amounts and day counts must be non-negative integers (centimes and days): a float or a
    bool is rejected even when its value looks right, because it would hide a rounding.
    """
    problems = []
    for field in dataclasses.fields(params):
        value = getattr(params, field.name)
        expected_int = field.type in ("int", int)
        if expected_int and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(_problem(source, field.name, value, _("must be an integer")))
        elif expected_int and value < 0:
            problems.append(_problem(source, field.name, value, _("must not be negative")))
        elif not expected_int and (not isinstance(value, str) or not value.strip()):
            problems.append(_problem(source, field.name, value, _("must be a non-empty text")))
    if isinstance(params.currency, str) and not _CURRENCY.match(params.currency):
        problems.append(_problem(source, "currency", params.currency,
                                 _("must be a three-letter ISO 4217 code such as CHF")))
    if params.line_mode not in LINE_MODES:
        choices = ", ".join(LINE_MODES)
        problems.append(_problem(source, "line_mode", params.line_mode,
                                 _("must be one of: {choices}").format(choices=choices)))
    if problems:
        raise InvalidInput(_("Invalid policy parameters."), problems)


def _problem(source: str, column: str, value: object, reason: str) -> Problem:
    return Problem(file=source, row=None, column=column, value=repr(value), reason=reason)


def params_as_text(params: PolicyParams) -> dict:
    """Return the parameters as a JSON-ready dict, with amounts as `5.00`-style strings."""
    values = dataclasses.asdict(params)
    for field in AMOUNT_FIELDS:
        values[field] = to_decimal_string(values[field])
    return values


def propose_policy(session: Session, name: str, params: PolicyParams, actor: str) -> Policy:
    """Store `params` as the next version of policy `name`, waiting for another's approval."""
    name = _check_name(name)
    check_params(params)
    latest = session.execute(
        select(func.max(Policy.version)).where(Policy.name == name)
    ).scalar()
    row = Policy(
        name=name,
        version=(latest or 0) + 1,
        status=PROPOSED,
        params=params.to_json(),
        proposed_by=actor,
        proposed_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "policy_propose", policy_id=row.id, name=name,
                 version=row.version, params=params_as_text(params))
    log.info("policy %s version %d proposed by %s", name, row.version, actor)
    return row


def approve_policy(session: Session, policy_id: int, actor: str) -> Policy:
    """Approve a proposed policy version; the approver must be another person than the proposer."""
    row = _decide(session, policy_id, actor, APPROVED)
    audit.record(session, actor, "policy_approve", policy_id=row.id, name=row.name,
                 version=row.version)
    log.info("policy %s version %d approved by %s", row.name, row.version, actor)
    return row


def reject_policy(
    session: Session, policy_id: int, actor: str, reason: str | None = None
) -> Policy:
    """Reject a proposed policy version; as for approval, the proposer cannot do it."""
    row = _decide(session, policy_id, actor, REJECTED)
    audit.record(session, actor, "policy_reject", policy_id=row.id, name=row.name,
                 version=row.version, reason=reason)
    log.info("policy %s version %d rejected by %s", row.name, row.version, actor)
    return row


def _decide(session: Session, policy_id: int, actor: str, status: str) -> Policy:
    row = session.execute(
        select(Policy).where(Policy.id == policy_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise InvalidInput(_("Policy version {id} not found.").format(id=policy_id))
    if row.status != PROPOSED:
        raise RuleRefused(
            _("Policy {name} version {version} is {status}: only a proposed version can be "
              "approved or rejected.").format(name=row.name, version=row.version,
                                              status=row.status)
        )
    if actor.strip().casefold() == row.proposed_by.strip().casefold():
        raise RuleRefused(
            _("{proposer} proposed policy {name} version {version} and cannot also decide on "
              "it: another person must approve or reject it.").format(
                proposer=row.proposed_by, name=row.name, version=row.version)
        )
    row.status = status
    row.decided_by = actor
    row.decided_at = utcnow()
    session.flush()
    return row


def load_policy(session: Session, name: str) -> tuple[Policy, PolicyParams]:
    """Return the highest approved version of policy `name` and its parameters.

    Raises `InvalidInput` for an unknown name and `RuleRefused` when no version is approved.
    """
    name = _check_name(name)
    rows = session.execute(
        select(Policy).where(Policy.name == name).order_by(Policy.version.desc())
    ).scalars().all()
    if not rows:
        raise InvalidInput(_("Policy {name} not found.").format(name=name))
    approved = [row for row in rows if row.status == APPROVED]
    if not approved:
        raise RuleRefused(
            _("Policy {name} has no approved version yet: another person must approve it "
              "with `workbench policy approve {name} --by USER`.").format(name=name)
        )
    row = approved[0]
    params = PolicyParams.from_json(row.params)
    check_params(params, source=f"{row.name} v{row.version}")
    return row, params


def find_policy_version(session: Session, name: str, version: int | None = None) -> Policy:
    """Return version `version` of policy `name`, or its latest proposed version when None."""
    name = _check_name(name)
    query = select(Policy).where(Policy.name == name)
    if version is None:
        query = query.where(Policy.status == PROPOSED).order_by(Policy.version.desc()).limit(1)
    else:
        query = query.where(Policy.version == version)
    row = session.execute(query).scalar_one_or_none()
    if row is not None:
        return row

    known = session.execute(select(func.count()).where(Policy.name == name)).scalar()
    if not known:
        raise InvalidInput(_("Policy {name} not found.").format(name=name))
    if version is None:
        raise RuleRefused(
            _("Policy {name} has no proposed version waiting for a decision.").format(name=name)
        )
    raise InvalidInput(
        _("Policy {name} has no version {version}.").format(name=name, version=version)
    )


def list_policies(session: Session) -> pd.DataFrame:
    """Return every version of every policy, by name and version, with its parameters."""
    rows = session.execute(
        select(Policy.id, Policy.name, Policy.version, Policy.status, Policy.proposed_by,
               Policy.proposed_at, Policy.decided_by, Policy.decided_at, Policy.params)
        .order_by(Policy.name, Policy.version)
    ).all()
    columns = ["id", "name", "version", "status", "proposed_by", "proposed_at", "decided_by",
               "decided_at", "params"]
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    frame["params"] = [PolicyParams.from_json(text) for text in frame["params"]]
    return frame


def _check_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidInput(
            _("Invalid policy name {name!r}: use 1 to {max} characters.").format(
                name=name, max=MAX_NAME_LENGTH)
        )
    return cleaned
