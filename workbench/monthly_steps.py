"""The steps of the monthly run notebook: import, prepare, post and export, write the files.

Notebook 03 calls these one per cell; `workbench monthly` runs that notebook with papermill.
Each step is one transaction. In post mode the steps are idempotent for a month: when the month
already has a posted run, they report that run and post nothing new.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from . import db, runs
from .amounts import to_decimal_string
from .config import current_user
from .i18n import _, set_language
from .models import ChargeLine, JournalLine, Run, RunGroup, RunItem
from .monthly import SUMMARY_ENV, SUMMARY_NAME, MonthlyParameters, validate_parameters
from .policy import PolicyParams

log = logging.getLogger(__name__)

# States of a run that has posted and not been reversed.
POSTED_STATES = (runs.POSTED, runs.EXPORTED, runs.SETTLED)
WORKBOOK_NAME = "workbook.xlsx"


@dataclass
class MonthlyRun:
    """One month's run as the notebook builds it, step by step."""

    engine: Engine
    params: MonthlyParameters
    policy_id: int | None
    policy_params: PolicyParams
    actor: str
    imports: list = field(default_factory=list)
    run_id: int | None = None
    already_posted: bool = False
    posting: object | None = None  # posting.PostingResult when this job posted
    status_note: str = ""
    files: list[Path] = field(default_factory=list)
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    # Start -----------------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        *,
        as_of: str = "",
        policy: str = "",
        mode: str = "preview",
        subscriptions_file: str = "",
        open_items_file: str = "",
        out_dir: str = "",
        lang: str = "fr",
        db_url: str | None = None,
        actor: str | None = None,
    ) -> "MonthlyRun":
        """Validate the notebook's parameters (all strings) and load the policy.

        The run's files go to `out_dir/YYYY-MM/RUN/` (`out_dir` empty: `reports`). The database
        comes from `db_url`, else `WORKBENCH_DB_URL`, else the default SQLite file.
        """
        set_language(lang or None)
        engine = db.get_engine(db_url)
        params = validate_parameters(
            engine, as_of=as_of, policy=policy, mode=mode, subscriptions_file=subscriptions_file,
            open_items_file=open_items_file, out_dir=out_dir, lang=lang,
        )
        policy_id, policy_params = _load_policy(engine, params.policy)
        return cls(
            engine=engine,
            params=params,
            policy_id=policy_id,
            policy_params=policy_params,
            actor=current_user(actor),
        )

    @property
    def run_dir(self) -> Path:
        """Return the folder of this run's files, `OUT/YYYY-MM/RUN/`."""
        name = str(self.run_id) if self.run_id is not None else "no-run"
        return self.params.month_dir / name

    # Steps -----------------------------------------------------------------------------------

    def import_extracts(self) -> list:
        """Import the subscriptions, then the open items, when the parameters name them."""
        if self.params.subscriptions_file or self.params.open_items_file:
            from . import importing
        if self.params.subscriptions_file:
            self.imports.append(importing.import_subscriptions(
                self.engine, self.params.subscriptions_file, actor=self.actor))
        if self.params.open_items_file:
            self.imports.append(importing.import_open_items(
                self.engine, self.params.open_items_file, as_of=self.params.as_of,
                actor=self.actor))
        for result in self.imports:
            log.info("monthly: imported %s batch %s, %d rows, %d rejected", result.kind,
                     result.batch_id, result.rows, result.rejected)
        return self.imports

    def prepare(self) -> int:
        """Find or prepare the month's run and return its id.

        In post mode, the month's posted run is reported as it is, or else the month's approved
        run is taken for posting. Otherwise a new draft run is prepared.
        """
        with db.session_scope(self.engine) as session:
            if self.params.mode == "post":
                posted = _month_run(session, self.params.as_of, POSTED_STATES)
                if posted is not None:
                    self.run_id, self.already_posted = posted, True
                    self.status_note = _("Run {run_id} already posted this month: nothing new "
                                         "was posted.").format(run_id=posted)
                    log.info("monthly: run %d already posted for %s", posted,
                             f"{self.params.as_of:%Y-%m}")
                    return posted
                approved = _month_run(session, self.params.as_of, (runs.APPROVED,))
                if approved is not None:
                    self.run_id = approved
                    log.info("monthly: taking approved run %d", approved)
                    return approved

            self.run_id = runs.prepare(
                session, self.params.as_of, self.policy_params, prepared_by=self.actor,
                policy_id=self.policy_id,
            )
        return self.run_id

    def post_and_export(self) -> list[Path]:
        """In post mode, post the run when it is approved or within the auto-post limit, then
        write its export files; in preview mode, do nothing."""
        from . import exports, posting

        if self.params.mode != "post":
            self.status_note = _("Preview: nothing was posted.")
            return []

        if not self.already_posted:
            with db.session_scope(self.engine) as session:
                run = runs.load_run(session, self.run_id, lock=True)
                totals = runs.run_totals(session, run.id)
                if run.state != runs.APPROVED and runs.auto_post_reason(run, totals) is None:
                    self.status_note = _(
                        "Run {run_id} waits for approval by another person "
                        "(workbench run approve {run_id} --by USER), then run the job again."
                    ).format(run_id=run.id)
                    log.info("monthly: run %d waits for approval", run.id)
                    return []
                self.posting = posting.post(session, run.id, posted_by=self.actor)
            self.status_note = _("Run {run_id} posted.").format(run_id=self.run_id)

        # Exporting a run again writes byte-identical files, so a repeated job may do it.
        with db.session_scope(self.engine) as session:
            result = exports.export_run(session, self.run_id, self.run_dir,
                                        exported_by=self.actor)
        written = [self.run_dir / summary.name for summary in result.files]
        written.append(self.run_dir / f"control-{self.run_id}.json")
        self.files.extend(written)
        return written

    # Tables ----------------------------------------------------------------------------------

    def state(self) -> str | None:
        if self.run_id is None:
            return None
        with db.session_scope(self.engine) as session:
            return runs.load_run(session, self.run_id).state

    def totals(self) -> runs.RunTotals:
        with db.session_scope(self.engine) as session:
            return runs.run_totals(session, self.run_id)

    def frame(self, name: str) -> pd.DataFrame:
        """Return one of the run's tables: groups, items, excluded, journal or charges."""
        if name not in self._frames:
            self._frames.update(self._load_frames())
        return self._frames[name]

    def _load_frames(self) -> dict[str, pd.DataFrame]:
        from . import selection

        with db.session_scope(self.engine) as session:
            run = runs.load_run(session, self.run_id)
            connection = session.connection()
            groups = pd.read_sql(
                select(RunGroup).where(RunGroup.run_id == run.id).order_by(RunGroup.group_no),
                connection)
            items = pd.read_sql(
                select(RunItem).where(RunItem.run_id == run.id)
                .order_by(RunItem.group_no, RunItem.document_no, RunItem.line_no), connection)
            journal = pd.read_sql(
                select(JournalLine).where(JournalLine.run_id == run.id)
                .order_by(JournalLine.entry_no, JournalLine.id), connection)
            charges = pd.read_sql(
                select(ChargeLine).where(ChargeLine.run_id == run.id).order_by(ChargeLine.id),
                connection)
            decision = selection.decide(session, run.as_of, runs.run_params(run),
                                        snapshot_id=run.snapshot_batch_id)

        # Items of the run itself show as excluded once it has posted (they are in transit).
        excluded = decision.excluded
        keys = set(zip(items["document_no"], items["line_no"].fillna("").astype(str)))
        in_run = [(doc, str(line) if line is not None else "") in keys
                  for doc, line in zip(excluded["document_no"], excluded["line_no"])]
        excluded = excluded.loc[[not flag for flag in in_run]].reset_index(drop=True)
        groups = groups.merge(
            items.groupby("group_no").size().rename("item_count").reset_index(),
            on="group_no", how="left",
        )
        return {"groups": groups, "items": items, "excluded": excluded, "journal": journal,
                "charges": charges}

    # Files -----------------------------------------------------------------------------------

    def write_workbook(self) -> Path:
        """Write the Excel workbook of the run: summary, groups, items, excluded, journal and
        charge lines."""
        from .workbook import write_workbook

        sheets = [
            (_("Groups"), self.frame("groups").drop(columns=["run_id"])),
            (_("Items"), self.frame("items").drop(columns=["run_id"])),
            (_("Excluded"), self.frame("excluded")),
            (_("Journal"), self.frame("journal")),
            (_("Charge lines"), self.frame("charges")),
        ]
        path = write_workbook(self.run_dir / WORKBOOK_NAME, sheets, self.summary_rows())
        self.files.append(path)
        return path

    def summary(self) -> dict:
        """Return the run's summary as the job files it: ids, state, counts, amounts as text."""
        totals = self.totals() if self.run_id is not None else None
        return {
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "state": self.state(),
            "as_of": self.params.as_of.isoformat(),
            "mode": self.params.mode,
            "policy": self.params.policy,
            "policy_id": self.policy_id,
            "already_posted": self.already_posted,
            "posted_now": self.posting is not None,
            "note": self.status_note,
            "groups": totals.groups if totals else 0,
            "items": totals.items if totals else 0,
            "cleared_total": to_decimal_string(totals.cleared if totals else 0),
            "charge_total": to_decimal_string(totals.charges if totals else 0),
            "write_off_total": to_decimal_string(totals.write_off if totals else 0),
            "imports": [
                {"kind": result.kind, "batch_id": result.batch_id, "rows": result.rows,
                 "rejected": result.rejected, "already_imported": result.already_imported}
                for result in self.imports
            ],
            "files": sorted(path.name for path in self.files),
        }

    def summary_rows(self) -> list[tuple[str, str]]:
        """Return the summary as (label, value) pairs in the current language."""
        from .ui.formatting import amount_text, state_label

        summary = self.summary()
        totals = self.totals()
        return [
            (_("Run"), str(self.run_id)),
            (_("State"), state_label(summary["state"] or "")),
            (_("Run date"), self.params.as_of.strftime("%d.%m.%Y")),
            (_("Mode"), _("post") if self.params.mode == "post" else _("preview")),
            (_("Policy"), self.params.policy or _("default parameters")),
            (_("Posting groups"), str(totals.groups)),
            (_("Posting items"), str(totals.items)),
            (_("Cleared total"), amount_text(totals.cleared)),
            (_("Charge lines total"), amount_text(totals.charges)),
            (_("Write-off total"), amount_text(totals.write_off)),
            (_("Status"), self.status_note),
        ]

    def write_summary(self) -> Path:
        """Write `summary.json` into the run's folder, and a copy where the monthly job that
        runs this notebook expects it (its `WORKBENCH_JOB_SUMMARY`), if any."""
        path = self.run_dir / SUMMARY_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        summary = self.summary()
        text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
        path.write_text(text, encoding="utf-8")
        handoff = os.environ.get(SUMMARY_ENV, "").strip()
        if handoff:
            Path(handoff).write_text(text, encoding="utf-8")
        log.info("monthly: run %s %s, %s groups, cleared %s", summary["run_id"],
                 summary["state"], summary["groups"], summary["cleared_total"])
        return path


def _load_policy(engine: Engine, name: str) -> tuple[int | None, PolicyParams]:
    """Return the approved policy's id and parameters; no name means the defaults."""
    if not name:
        return None, PolicyParams()
    from .policy import load_policy

    with db.session_scope(engine) as session:
        policy, params = load_policy(session, name)
    return policy.id, params


def _month_run(session, as_of: dt.date, states: tuple[str, ...]) -> int | None:
    """Return the newest run of `as_of`'s month in one of `states`, or None."""
    first = as_of.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return session.execute(
        select(Run.id)
        .where(Run.state.in_(states), Run.as_of >= first, Run.as_of < following)
        .order_by(Run.id.desc())
        .limit(1)
    ).scalar_one_or_none()
