"""The managers' dashboard: one `App`, one `redraw`, and the container as the notebook's output.

Everything is read-only except the Approve and Reject buttons of the runs and policy proposals
that wait for a second person. They act as the viewer (`config.current_user()`), so the core's
four-eyes rules apply, and the core writes the audit events in the same transaction.
Viewers see plain messages; the server log gets the tracebacks.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import os
import sys
from typing import Callable

import ipywidgets as widgets
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from .. import config, dashboard_data, db, policy, runs
from ..amounts import format_amount
from ..dates import format_date
from ..errors import WorkbenchError
from ..i18n import N_, _, current_language
from .dashboard_html import (CSS, cell_text, document_text, format_count, notice, paragraph,
                             section, table, trend_png)
from .formatting import action_label, state_label

log = logging.getLogger(__name__)

RECENT_RUNS = 10
TREND_MONTHS = 12
ISSUES_SHOWN = 20

# The age buckets of `reconciliation.BUCKETS`, by name.
AGE_LABELS = {"0-30": N_("0 to 30 days"), "31-60": N_("31 to 60 days"),
              "61-90": N_("61 to 90 days"), ">90": N_("more than 90 days")}


def show_dashboard(db_url: str | None = None) -> widgets.Widget:
    """Build the dashboard for the database of `WORKBENCH_DB_URL` and return its container.

    In a kernel that Voilà starts ahead of a page view, the small balances (the costly query)
    are computed first. The kernel then waits for a viewer and reads the other figures at the
    request. A failure shows a plain message and goes to the server log.
    """
    _log_to_server()
    from matplotlib.figure import Figure  # noqa: F401 (imported ahead for trend_png)

    engine = db.get_engine(db_url)
    prepared = None
    if _started_ahead():
        # Voilà's helper takes seconds to import: import it before the viewer comes.
        from voila.utils import get_query_string

        prepared = _prepare_balances(engine)
        log.info("dashboard: kernel ready, waiting for a viewer")
        if not _wait_for_viewer(get_query_string):
            log.info("dashboard: server stopped before a viewer requested the page")
            return widgets.HTML()
        log.info("dashboard: viewer %s requested the page", config.current_user())
    try:
        app = App(engine, viewer=config.current_user(), prepared=prepared)
    except Exception:
        log.exception("dashboard: failed to build the page")
        return widgets.HTML(CSS + notice(
            _("The dashboard could not be loaded. The server log has the details."), "failed"))
    return app.container


def _started_ahead() -> bool:
    # Voilà sets this in the kernels it starts ahead of a page view (`preheat_kernel`).
    return os.environ.get("VOILA_PREHEAT", "False") != "False"


def _prepare_balances(engine: Engine) -> dashboard_data.PreparedBalances | None:
    try:
        with db.session_scope(engine) as session:
            return dashboard_data.prepare_balances(session)
    except Exception:
        # The page view computes them again, and reports the failure if it persists.
        log.exception("dashboard: computing the small balances ahead failed")
        return None


def _wait_for_viewer(get_query_string: Callable[[], str | None]) -> bool:
    """Block until a viewer requests the page; return False when the server stopped first."""
    # Voilà passes the request's query string (empty when there is none) once a viewer comes.
    return get_query_string() is not None


def _log_to_server() -> None:
    # In a kernel, sys.stderr goes to the page; the process's own stderr is the server's log.
    logger = logging.getLogger("workbench")
    if not any(getattr(handler, "_workbench_server_log", False) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.__stderr__)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._workbench_server_log = True
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


class App:
    """The dashboard of one viewer: figures from `dashboard_data`, approvals through the core."""

    def __init__(self, engine: Engine, *, viewer: str, lang: str | None = None,
                 as_of: dt.date | None = None, today: dt.date | None = None,
                 prepared: dashboard_data.PreparedBalances | None = None):
        self.engine = engine
        self.viewer = viewer
        self.lang = lang or current_language()
        self.as_of = as_of
        self.today = today
        # Small balances computed before the page view; the first redraw checks they are current.
        self._prepared = prepared
        header = widgets.HTML(CSS + self._header_html())
        self.message_line = widgets.HTML().add_class("wb-message")
        self.body = widgets.VBox()
        self.container = widgets.VBox([header, self.message_line, self.body]).add_class("wb-dashboard")
        self.redraw()

    # Drawing ----------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Read every figure again and rebuild the page below the message line."""
        with db.session_scope(self.engine) as session:
            figures = dashboard_data.load(session, as_of=self.as_of, today=self.today,
                                          recent=RECENT_RUNS, months=TREND_MONTHS,
                                          prepared=self._prepared)
        self._prepared = None
        self.body.children = [
            widgets.HTML(self._balances_html(figures)),
            widgets.HTML(self._runs_html(figures)),
            self._trend_widget(figures),
            widgets.HTML(self._transit_html(figures)),
            widgets.HTML(self._issues_html(figures)),
            self._approvals_widget(figures),
        ]

    def _header_html(self) -> str:
        title = html.escape(_("Small balances: managers' dashboard"))
        caption = _("You are {viewer}. Approvals act in your name; everything else is "
                    "read-only.").format(viewer=self.viewer)
        return (f"<h1>{title}</h1><p class='wb-caption' data-figure='viewer'>"
                f"{html.escape(caption)}</p>")

    def _balances_html(self, figures: dashboard_data.Dashboard) -> str:
        balances = figures.balances
        params = figures.policy
        if balances.snapshot_as_of is None:
            return (section(_("Small balances now"))
                    + paragraph(_("No open-items snapshot has been imported yet.")))
        policy = (_("policy {name}").format(name=figures.policy_name) if figures.policy_name
                  else _("the default parameters"))
        caption = paragraph(_(
            "Open items of {snapshot}, selected as of {as_of} with {policy}: small when the "
            "net balance is at most {debit} owed or {credit} in the customer's favour, due "
            "{days} days or more.").format(
                snapshot=format_date(balances.snapshot_as_of), as_of=format_date(balances.as_of),
                policy=policy, debit=self._amount(params.debit_threshold),
                credit=self._amount(params.credit_threshold), days=params.min_days_overdue))

        frame = balances.by_action
        headers = [_("Action"), _("Subscriptions"), _("Owed: subscriptions"), _("Owed: amount"),
                   _("In the customer's favour: subscriptions"),
                   _("In the customer's favour: amount")]
        columns = ["subscriptions", "owed_subscriptions", "owed_cents", "favour_subscriptions",
                   "favour_cents"]
        rows = [[(action_label(action), None)]
                + [(self._figure(column, frame.at[action, column]), f"balances.{action}.{column}")
                   for column in columns]
                for action in frame.index]
        totals = frame.sum()
        rows.append([(_("Total"), None)]
                    + [(self._figure(column, totals[column]), f"balances.total.{column}")
                       for column in columns])
        return (section(_("Small balances now")) + caption
                + table(headers, rows, key="balances", total_last=True))

    def _runs_html(self, figures: dashboard_data.Dashboard) -> str:
        frame = figures.runs
        title = section(_("Recent runs"))
        if frame.empty:
            return title + paragraph(_("No run has been prepared yet."))
        headers = [_("Run"), _("State"), _("Run date"), _("Prepared by"), _("Approved by"),
                   _("Re-billed"), _("Reassigned"), _("Written off"), _("Left unresolved")]
        rows = []
        for run in frame.itertuples(index=False):
            prefix = f"runs.{run.run_id}"
            row = [(str(run.run_id), f"{prefix}.id"),
                   (_state_label(run.state), f"{prefix}.state"),
                   (format_date(run.as_of), None),
                   (cell_text(run.prepared_by), None),
                   (cell_text(run.approved_by), f"{prefix}.approved_by")]
            for action in dashboard_data.RUN_ACTIONS:
                groups = getattr(run, f"{action}_groups")
                cents = getattr(run, f"{action}_cents")
                row.append((_("{count} · {amount}").format(
                    count=format_count(groups, self.lang), amount=self._amount(cents)),
                    f"{prefix}.{action}"))
            rows.append(row)
        caption = paragraph(_("Subscriptions · net amount, by action; newest run first."))
        return title + caption + table(headers, rows, key="runs", align="rllll")

    def _trend_widget(self, figures: dashboard_data.Dashboard) -> widgets.Widget:
        trend = figures.trend
        title = widgets.HTML(section(_("Posted runs by month")))
        if trend.empty:
            return widgets.VBox([title, widgets.HTML(paragraph(_("No run has been posted yet.")))])
        image = widgets.Image(value=trend_png(trend), format="png").add_class("wb-trend")
        return widgets.VBox([title, image])

    def _transit_html(self, figures: dashboard_data.Dashboard) -> str:
        result = figures.reconciliation
        headers = [_("Age of the posting"), _("Transit account balance"),
                   _("Charge lines not yet invoiced"), _("Difference")]
        rows = []
        for bucket in result.buckets.itertuples(index=False):
            key = f"transit.{bucket.bucket.replace('>', 'over-')}"
            rows.append([(_(AGE_LABELS.get(bucket.bucket, bucket.bucket)), None),
                         (self._amount(bucket.transit_balance), f"{key}.balance"),
                         (self._amount(bucket.open_charge_total), f"{key}.open_charges"),
                         (self._amount(bucket.difference), f"{key}.difference")])
        rows.append([(_("Total"), None),
                     (self._amount(result.transit_balance), "transit.total.balance"),
                     (self._amount(result.open_charge_total), "transit.total.open_charges"),
                     (self._amount(result.difference), "transit.total.difference")])
        if result.difference == 0:
            verdict = notice(_("The transit account matches the charge lines not yet "
                                "invoiced."), "done")
        else:
            verdict = notice(_("Difference of {amount}: the transit account does not match the "
                                "charge lines not yet invoiced. Check the runs of the age "
                                "with a difference.").format(
                                    amount=self._amount(result.difference)), "mismatch")
        return (section(_("Transit account")) + verdict
                + table(headers, rows, key="transit", total_last=True))

    def _issues_html(self, figures: dashboard_data.Dashboard) -> str:
        result = figures.reconciliation
        title = section(_("Warnings and conflicts"))
        if result.warnings.empty and result.conflicts.empty:
            return title + paragraph(_("No warning and no conflict."))
        summary = paragraph(_("Conflicts: {conflicts}. Warnings: {warnings}. The first {shown} "
                               "of each are listed.").format(
            warnings=format_count(len(result.warnings), self.lang),
            conflicts=format_count(len(result.conflicts), self.lang), shown=ISSUES_SHOWN))
        headers = [_("Kind"), _("Run"), _("Document"), _("Amount cleared"),
                   _("Open amount now"), _("What to do")]
        rows = []
        for kind, frame, label, advice in (
            ("conflict", result.conflicts, _("conflict"),
             _("The open amount changed after the run cleared it (a late payment?): settle it "
               "by hand with the customer.")),
            ("warning", result.warnings, _("warning"),
             _("The ERP still shows the item open: check that it imported the run's journal.")),
        ):
            for item in frame.head(ISSUES_SHOWN).itertuples(index=False):
                key = f"issues.{kind}.{document_text(item.document_no, item.line_no)}"
                rows.append([(label, f"{key}.kind"), (str(item.run_id), None),
                             (document_text(item.document_no, item.line_no), f"{key}.document"),
                             (self._amount(item.cleared_cents), f"{key}.cleared"),
                             (self._amount(item.open_cents), f"{key}.open"),
                             (advice, None)])
        return title + summary + table(headers, rows, key="issues", align="lrlrrl")

    def _approvals_widget(self, figures: dashboard_data.Dashboard) -> widgets.Widget:
        parts: list[widgets.Widget] = [widgets.HTML(section(_("Waiting for approval")))]
        if figures.pending_runs.empty and figures.pending_policies.empty:
            parts.append(widgets.HTML(paragraph(_("Nothing waits for approval."))))
        for run in figures.pending_runs.itertuples(index=False):
            text = _("Run {run_id} as of {as_of}, prepared by {user}: {groups} subscriptions, "
                     "{amount} cleared.").format(
                run_id=run.run_id, as_of=format_date(run.as_of),
                user=run.prepared_by, groups=format_count(run.groups, self.lang),
                amount=self._amount(run.cleared_cents))
            parts.append(self._decision_row(
                text, f"run-{run.run_id}",
                approve=lambda run_id=run.run_id: self.approve_run(run_id),
                reject=lambda run_id=run.run_id: self.reject_run(run_id)))
        for proposal in figures.pending_policies.itertuples(index=False):
            params = proposal.params
            text = _("Policy {name} version {version}, proposed by {user}: thresholds {debit} "
                     "owed, {credit} in favour; {days} days overdue; write-off limit "
                     "{limit}.").format(
                name=proposal.name, version=proposal.version, user=proposal.proposed_by,
                debit=self._amount(params.debit_threshold),
                credit=self._amount(params.credit_threshold), days=params.min_days_overdue,
                limit=self._amount(params.write_off_limit))
            parts.append(self._decision_row(
                text, f"policy-{proposal.policy_id}",
                approve=lambda policy_id=proposal.policy_id: self.approve_policy(policy_id),
                reject=lambda policy_id=proposal.policy_id: self.reject_policy(policy_id)))
        return widgets.VBox(parts).add_class("wb-approvals")

    def _decision_row(self, text: str, key: str, *, approve: Callable[[], None],
                      reject: Callable[[], None]) -> widgets.Widget:
        approve_button = widgets.Button(description=_("Approve"), button_style="success")
        reject_button = widgets.Button(description=_("Reject"), button_style="danger")
        approve_button.add_class(f"wb-approve-{key}")
        reject_button.add_class(f"wb-reject-{key}")
        approve_button.on_click(lambda _button: approve())
        reject_button.on_click(lambda _button: reject())
        label = widgets.HTML(f"<span data-figure='pending.{key}'>{html.escape(text)}</span>",
                             layout=widgets.Layout(width="760px"))
        return widgets.HBox([label, approve_button, reject_button]).add_class(
            f"wb-pending-{key}")

    # Actions ----------------------------------------------------------------------------------

    def approve_run(self, run_id: int) -> None:
        """Approve a draft run as the viewer (refused for its preparer)."""
        self._act(f"approve run {run_id}",
                  lambda session: runs.approve(session, run_id, approved_by=self.viewer),
                  _("Run {run_id} approved by {user}.").format(run_id=run_id, user=self.viewer))

    def reject_run(self, run_id: int) -> None:
        """Reject a draft run as the viewer (refused for its preparer)."""
        self._act(f"reject run {run_id}",
                  lambda session: runs.reject(session, run_id, rejected_by=self.viewer),
                  _("Run {run_id} rejected by {user}.").format(run_id=run_id, user=self.viewer))

    def approve_policy(self, policy_id: int) -> None:
        """Approve a proposed policy version as the viewer (refused for its proposer)."""
        self._act(f"approve policy version {policy_id}",
                  lambda session: policy.approve_policy(session, policy_id, self.viewer),
                  _("Policy proposal {policy_id} approved by {user}.").format(
                      policy_id=policy_id, user=self.viewer))

    def reject_policy(self, policy_id: int) -> None:
        """Reject a proposed policy version as the viewer (refused for its proposer)."""
        self._act(f"reject policy version {policy_id}",
                  lambda session: policy.reject_policy(session, policy_id, self.viewer),
                  _("Policy proposal {policy_id} rejected by {user}.").format(
                      policy_id=policy_id, user=self.viewer))

    def _act(self, what: str, action: Callable[[Session], object], done: str) -> None:
        # One transaction per click: a refusal or a failure rolls it back and changes nothing.
        # The page is redrawn before the message is set, so the kernel sends the new figures
        # first. `what` names the action in the server log.
        try:
            with db.session_scope(self.engine) as session:
                action(session)
        except WorkbenchError as error:
            log.info("dashboard: %s by %s rejected by a rule: %s", what, self.viewer, error)
            message = notice(_("Refused: {message}").format(message=error), "refused")
        except Exception:
            log.exception("dashboard: %s by %s failed", what, self.viewer)
            message = notice(_("The action failed and nothing was changed. The server log "
                               "has the details."), "failed")
        else:
            log.info("dashboard: %s by %s done", what, self.viewer)
            message = notice(done, "done")

        try:
            self.redraw()
        except Exception:
            log.exception("dashboard: redrawing after %s by %s failed", what, self.viewer)
            message += notice(_("The figures could not be read again; reload the page. The "
                                "server log has the details."), "failed")
        self.message_line.value = message

    # Formatting -------------------------------------------------------------------------------

    def _amount(self, cents: int) -> str:
        return format_amount(int(cents), self.lang)

    def _figure(self, column: str, value: int) -> str:
        if column.endswith("_cents"):
            return self._amount(value)
        return format_count(value, self.lang)


def _state_label(state: str) -> str:
    # The shared labels have no entry for a rejected draft.
    return _("rejected") if state == runs.REJECTED else state_label(state)


