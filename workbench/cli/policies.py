"""`workbench policy propose|approve|reject|list`: named parameter sets under four eyes."""

from __future__ import annotations

import argparse
import json

from sqlalchemy import select

from .. import db
from ..config import current_user
from ..i18n import _
from ..models import Policy
from ..policy import (
    APPROVED,
    STATUS_LABELS,
    PolicyParams,
    approve_policy,
    find_policy_version,
    list_policies,
    params_as_text,
    propose_policy,
    reject_policy,
)
from .extract_output import render
from .policy_options import add_policy_options, option_changes


def register(subparsers: argparse._SubParsersAction) -> None:
    policy = subparsers.add_parser(
        "policy", help=_("propose, approve, reject and list policies (parameter sets)"))
    actions = policy.add_subparsers(dest="policy_command", metavar=_("ACTION"), required=True)

    propose = actions.add_parser(
        "propose", help=_("propose a new version of a policy: its latest approved version "
                          "(else the defaults) with the options given"))
    propose.add_argument("name", metavar=_("NAME"))
    add_policy_options(propose, every_parameter=True)
    propose.add_argument("--by", metavar=_("USER"), help=_("who proposes (default: you)"))
    propose.set_defaults(handler=run_propose)

    for command, help_text, handler in (
        ("approve", _("approve a proposed version (not by its proposer)"), run_approve),
        ("reject", _("reject a proposed version (not by its proposer)"), run_reject),
    ):
        parser = actions.add_parser(command, help=help_text)
        parser.add_argument("name", metavar=_("NAME"))
        parser.add_argument("--version", type=int, metavar=_("V"),
                            help=_("version to decide on (default: the latest proposed)"))
        parser.add_argument("--by", required=True, metavar=_("USER"), help=_("who decides"))
        if command == "reject":
            parser.add_argument("--reason", metavar=_("TEXT"), help=_("why it is rejected"))
        parser.set_defaults(handler=handler)

    listing = actions.add_parser("list", help=_("list every version of every policy"))
    listing.add_argument("--format", choices=("table", "json"), default="table",
                         help=_("table for people (default) or json"))
    listing.set_defaults(handler=run_list)


def run_propose(args: argparse.Namespace) -> None:
    changes = option_changes(args)
    actor = current_user(args.by)
    with db.session_scope(db.get_engine(args.db)) as session:
        base = session.execute(
            select(Policy.params)
            .where(Policy.name == args.name.strip(), Policy.status == APPROVED)
            .order_by(Policy.version.desc()).limit(1)
        ).scalar()
        params = PolicyParams.from_json(base) if base else PolicyParams()
        params = params.replace(**changes)
        row = propose_policy(session, args.name, params, actor)
    print(_("Policy {name} version {version} proposed by {actor}; another person approves it "
            "with: workbench policy approve {name} --version {version} --by USER").format(
        name=row.name, version=row.version, actor=actor))


def run_approve(args: argparse.Namespace) -> None:
    with db.session_scope(db.get_engine(args.db)) as session:
        row = find_policy_version(session, args.name, args.version)
        approve_policy(session, row.id, current_user(args.by))
    print(_("Policy {name} version {version} approved by {actor}.").format(
        name=row.name, version=row.version, actor=row.decided_by))


def run_reject(args: argparse.Namespace) -> None:
    with db.session_scope(db.get_engine(args.db)) as session:
        row = find_policy_version(session, args.name, args.version)
        reject_policy(session, row.id, current_user(args.by), args.reason)
    print(_("Policy {name} version {version} rejected by {actor}.").format(
        name=row.name, version=row.version, actor=row.decided_by))


def run_list(args: argparse.Namespace) -> None:
    with db.session_scope(db.get_engine(args.db)) as session:
        frame = list_policies(session)

    if args.format == "json":
        records = [
            {"id": int(row.id), "name": row.name, "version": int(row.version),
             "status": row.status, "proposed_by": row.proposed_by,
             "proposed_at": row.proposed_at.isoformat(), "decided_by": row.decided_by,
             "decided_at": row.decided_at.isoformat() if row.decided_at else None,
             "params": params_as_text(row.params)}
            for row in frame.itertuples(index=False)
        ]
        print(json.dumps(records, ensure_ascii=False, indent=1))
        return
    if frame.empty:
        print(_("No policy yet: propose one with `workbench policy propose NAME`."))
        return
    rows = []
    for row in frame.itertuples(index=False):
        text = params_as_text(row.params)
        summary = _("debit {debit}, credit {credit}, {days} days, write-off {limit}").format(
            debit=text["debit_threshold"], credit=text["credit_threshold"],
            days=text["min_days_overdue"], limit=text["write_off_limit"])
        rows.append((row.name, str(row.version), _(STATUS_LABELS[row.status]), row.proposed_by,
                     row.decided_by or "", summary))
    header = (_("policy"), _("version"), _("status"), _("proposed by"), _("decided by"),
              _("parameters"))
    print("\n".join(render(header, rows, numeric=(1,))))
