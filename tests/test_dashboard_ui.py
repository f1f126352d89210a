"""The dashboard's widget view in-process: shown figures, Approve and Reject, plain messages."""

from __future__ import annotations

import datetime as dt
import html
import logging
import re

import ipywidgets as widgets
import pytest
from sqlalchemy import insert, select

from dashboard_ledger import AS_OF, add_policy_proposal, audit_actions, build_ledger
from workbench import db, runs
from workbench.amounts import format_amount
from workbench.models import JournalLine, Policy, Run
from workbench.ui import dashboard
from workbench.ui.dashboard import App, show_dashboard
from workbench.ui.dashboard_html import format_count, trend_png
from workbench.ui.formatting import state_label

TODAY = dt.date(2026, 7, 10)
FIGURE = re.compile(r"data-figure='([^']+)'>([^<]*)<")


@pytest.fixture
def ledger(engine):
    build_ledger(engine)
    return engine


def walk(widget: widgets.Widget):
    """Yield a widget and every widget inside it."""
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def shown_figures(app: App) -> dict[str, str]:
    """Return the text of every cell that carries a figure key, by key."""
    found = {}
    for widget in walk(app.container):
        if isinstance(widget, widgets.HTML):
            for key, text in FIGURE.findall(widget.value):
                found[html.unescape(key)] = html.unescape(text)
    return found


def button(app: App, css_class: str) -> widgets.Button | None:
    for widget in walk(app.container):
        if isinstance(widget, widgets.Button) and css_class in widget._dom_classes:
            return widget
    return None


def notice(app: App) -> tuple[str | None, str]:
    match = re.search(r"data-notice='(\w+)'>([^<]*)<", app.message_line.value)
    return (match[1], html.unescape(match[2])) if match else (None, "")


def run_state(engine, run_id: int) -> str:
    with db.session_scope(engine) as session:
        return session.execute(select(Run.state).where(Run.id == run_id)).scalar_one()


def test_shows_ledger_figures(ledger):
    app = App(ledger, viewer="bob", today=TODAY)
    shown = shown_figures(app)

    assert shown["balances.rebill.subscriptions"] == "2"
    assert shown["balances.rebill.owed_cents"] == "1.50"
    assert shown["balances.rebill.favour_cents"] == "-2.50"
    assert shown["balances.write_off.owed_cents"] == "0.03"
    assert shown["balances.unresolved.favour_subscriptions"] == "2"
    assert shown["balances.unresolved.favour_cents"] == "-2.10"
    assert shown["balances.total.subscriptions"] == "9"
    assert shown["balances.total.owed_cents"] == format_amount(150 + 280 + 3 + 400)
    assert shown["runs.1.state"] == state_label("posted")
    assert shown["runs.1.rebill"] == "2 · 3.00"
    assert shown["runs.1.unresolved"] == "1 · 9.00"
    assert shown["runs.3.approved_by"] == ""
    assert shown["transit.61-90.balance"] == "1.00"
    assert shown["transit.total.open_charges"] == "1.00"
    assert shown["transit.total.difference"] == "0.00"
    assert shown["issues.conflict.D17.open"] == "1.50"
    assert shown["issues.conflict.D17.cleared"] == "2.00"
    assert shown["issues.warning.D14.open"] == "1.00"
    assert "pending.run-3" in shown
    assert button(app, "wb-approve-run-3") is not None
    assert button(app, "wb-reject-run-3") is not None


def test_transit_difference_is_flagged(ledger):
    with db.session_scope(ledger) as session:
        session.execute(insert(JournalLine).values(
            run_id=1, entry_no=2, kind="post", posting_date=dt.date(2026, 4, 30),
            account="1091", customer_id="C4", document_no="D14", matching_ref="R1-G1",
            debit_cents=50, credit_cents=0, currency="CHF", text="D14"))
    app = App(ledger, viewer="bob", today=TODAY)
    shown = shown_figures(app)
    transit = app.body.children[3].value

    assert shown["transit.61-90.difference"] == "0.50"
    assert shown["transit.total.difference"] == "0.50"
    assert "data-notice='mismatch'" in transit
    assert "0.50" in transit


def test_shows_trend_chart(ledger):
    app = App(ledger, viewer="bob", today=TODAY)
    images = [widget for widget in walk(app.container) if isinstance(widget, widgets.Image)]

    assert len(images) == 1
    assert bytes(images[0].value).startswith(b"\x89PNG\r\n\x1a\n")


def test_empty_database_shows_plain_texts(engine):
    app = App(engine, viewer="bob", today=TODAY)
    texts = " ".join(widget.value for widget in walk(app.container)
                     if isinstance(widget, widgets.HTML))

    assert "data-figure='balances" not in texts
    assert not [widget for widget in walk(app.container) if isinstance(widget, widgets.Button)]
    assert not [widget for widget in walk(app.container) if isinstance(widget, widgets.Image)]


def test_approve_run_by_second_person(ledger):
    app = App(ledger, viewer="bob", today=TODAY)
    button(app, "wb-approve-run-3").click()

    assert run_state(ledger, 3) == "approved"
    assert ("approve", "bob", 3) in audit_actions(ledger)
    assert notice(app)[0] == "done"
    assert button(app, "wb-approve-run-3") is None
    assert shown_figures(app)["runs.3.state"] == state_label("approved")
    assert shown_figures(app)["runs.3.approved_by"] == "bob"


def test_approve_run_refused_for_preparer(ledger):
    app = App(ledger, viewer="alice", today=TODAY)
    button(app, "wb-approve-run-3").click()

    kind, text = notice(app)
    assert kind == "refused"
    assert "alice" in text
    assert "Traceback" not in text
    assert run_state(ledger, 3) == "draft"
    assert audit_actions(ledger) == []
    assert button(app, "wb-approve-run-3") is not None


def test_reject_run_by_second_person(ledger):
    app = App(ledger, viewer="bob", today=TODAY)
    button(app, "wb-reject-run-3").click()

    assert run_state(ledger, 3) == runs.REJECTED
    assert ("reject", "bob", 3) in audit_actions(ledger)
    assert notice(app)[0] == "done"
    assert button(app, "wb-reject-run-3") is None


def test_reject_run_refused_for_preparer(ledger):
    app = App(ledger, viewer="Alice ", today=TODAY)
    button(app, "wb-reject-run-3").click()

    assert notice(app)[0] == "refused"
    assert run_state(ledger, 3) == "draft"
    assert audit_actions(ledger) == []


def test_approve_run_refused_when_no_longer_draft(ledger):
    app = App(ledger, viewer="bob", today=TODAY)
    with db.session_scope(ledger) as session:
        runs.approve(session, 3, approved_by="carol")
    button(app, "wb-approve-run-3").click()

    assert notice(app)[0] == "refused"
    with db.session_scope(ledger) as session:
        assert session.get(Run, 3).approved_by == "carol"


def test_policy_proposal_four_eyes(ledger):
    policy_id = add_policy_proposal(ledger, proposed_by="carol")

    proposer = App(ledger, viewer="carol", today=TODAY)
    button(proposer, f"wb-approve-policy-{policy_id}").click()
    assert notice(proposer)[0] == "refused"
    with db.session_scope(ledger) as session:
        assert session.get(Policy, policy_id).status == "proposed"

    reviewer = App(ledger, viewer="bob", today=TODAY)
    button(reviewer, f"wb-approve-policy-{policy_id}").click()
    assert notice(reviewer)[0] == "done"
    with db.session_scope(ledger) as session:
        row = session.get(Policy, policy_id)
        assert (row.status, row.decided_by) == ("approved", "bob")
    assert ("policy_approve", "bob", None) in audit_actions(ledger)
    # The approved policy is now the one the small balances are selected with.
    assert "standard" in reviewer.body.children[0].value


def test_reject_policy_proposal(ledger):
    policy_id = add_policy_proposal(ledger, proposed_by="carol")
    app = App(ledger, viewer="bob", today=TODAY)
    button(app, f"wb-reject-policy-{policy_id}").click()

    with db.session_scope(ledger) as session:
        assert session.get(Policy, policy_id).status == "rejected"
    assert ("policy_reject", "bob", None) in audit_actions(ledger)
    assert button(app, f"wb-reject-policy-{policy_id}") is None


def test_failed_action_plain_message_and_log(ledger, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("connection lost to the database server at 10.1.2.3")

    monkeypatch.setattr(runs, "approve", broken)
    app = App(ledger, viewer="bob", today=TODAY)
    with caplog.at_level(logging.ERROR, logger="workbench.ui.dashboard"):
        button(app, "wb-approve-run-3").click()

    kind, text = notice(app)
    assert kind == "failed"
    assert "10.1.2.3" not in text
    assert run_state(ledger, 3) == "draft"
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1
    assert "10.1.2.3" in str(logged[0].exc_info[1])


def test_show_dashboard_failure_plain_message(tmp_path, caplog):
    # An empty file is a database without the schema: every query fails.
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with caplog.at_level(logging.ERROR, logger="workbench.ui.dashboard"):
        shown = show_dashboard(url)

    assert isinstance(shown, widgets.HTML)
    assert "data-notice='failed'" in shown.value
    assert "no such table" not in shown.value
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1
    assert "no such table" in str(logged[0].exc_info[1])
    db.dispose_all()


def test_show_dashboard_reads_environment(ledger, db_url, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DB_URL", db_url)
    monkeypatch.setenv("JUPYTERHUB_USER", "dora")
    shown = show_dashboard()

    assert "wb-dashboard" in shown._dom_classes
    assert "dora" in shown.children[0].value


def test_format_count_groups_thousands():
    assert format_count(1234567, "fr") == "1'234'567"
    assert format_count(0, "de") == "0"
    assert format_count(-1200, "en") == "-1'200"


def test_trend_png_draws_every_action(ledger):
    from workbench import dashboard_data

    with db.session_scope(ledger) as session:
        trend = dashboard_data.monthly_trend(session)
    png = trend_png(trend)

    assert png.startswith(b"\x89PNG")
    assert len(png) > 1000
    assert dashboard.TREND_MONTHS == 12
