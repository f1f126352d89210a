"""The dashboard end to end: `workbench dashboard` in a subprocess, driven by headless chromium.

Each test builds a demo database with the command line, starts one or two dashboard servers on
free loopback ports (each with its own viewer in `JUPYTERHUB_USER`), and drives Debian's
chromium with Playwright. Every request that is not to the server under test is aborted and
recorded; the tests assert that there was none.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select

from workbench import dashboard_data, db, reconciliation, runs, selection
from workbench.amounts import format_amount, parse_amount
from workbench.i18n import _
from workbench.models import AuditEvent, Run
from workbench.ui.dashboard_html import format_count
from workbench.ui.formatting import state_label

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SERVER_START_SECONDS = 60
PAGE_TIMEOUT_MS = 120_000
ACTION_TIMEOUT_MS = 60_000


# Servers --------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_listening(process: subprocess.Popen, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dashboard exited with {process.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    pytest.fail(f"dashboard did not listen on port {port} within {SERVER_START_SECONDS} s:\n"
                f"{log_path.read_text()}")


def _process_stat(pid: int) -> tuple[int, int] | None:
    """Return (parent id, start time) of a process, or None when it is gone."""
    try:
        # The fields after the command name in parentheses: state, parent id, ... start time.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[19])


def _children(pid: int) -> dict[int, int]:
    """Return {child id: start time} of the processes whose parent is `pid`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _process_stat(int(entry.name))
            if stat is not None and stat[0] == pid:
                found[int(entry.name)] = stat[1]
    return found


def _stop(process: subprocess.Popen) -> None:
    """Stop a dashboard server and the kernels it started, by their process ids.

    SIGTERM lets Voilà shut its kernels down. Jupyter starts each kernel in a session of its
    own, so a kernel of this server still running afterwards is ended by its id (checked
    against its start time, so that a reused id is left alone).
    """
    kernels = _children(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    for pid, started in kernels.items():
        stat = _process_stat(pid)
        if stat is not None and stat[1] == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def start_dashboard(db_url, tmp_path):
    """Return a function that starts `workbench dashboard` for a viewer and returns its URL."""
    started: list[subprocess.Popen] = []

    def start(viewer: str, database_url: str | None = None) -> tuple[str, Path]:
        home = tmp_path / f"server-{viewer}"
        home.mkdir()
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("JUPYTER", "WORKBENCH_"))}
        env.update(
            WORKBENCH_DB_URL=database_url or db_url,
            JUPYTERHUB_USER=viewer,
            JUPYTER_CONFIG_DIR=str(home / "jupyter-config"),
            JUPYTER_DATA_DIR=str(home / "jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(home / "jupyter-runtime"),
            JUPYTER_PLATFORM_DIRS="1",
            IPYTHONDIR=str(home / "ipython"),
            MPLCONFIGDIR=str(home / "matplotlib"),
        )
        port = _free_port()
        log_path = home / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "workbench", "dashboard", "--port", str(port)],
                env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        started.append(process)
        _wait_until_listening(process, port, log_path)
        return f"http://127.0.0.1:{port}/", log_path

    yield start
    for process in started:
        _stop(process)


@contextlib.contextmanager
def offline_page(base_url: str, ready: str = ".wb-dashboard table[data-table='balances']"):
    """Yield (page, blocked): a chromium page whose requests off `base_url` are aborted.

    The page is yielded once the `ready` selector shows.
    """
    blocked: list[str] = []

    def only_local(route):
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", only_local)
            page.goto(base_url, timeout=PAGE_TIMEOUT_MS)
            page.wait_for_selector(ready, timeout=PAGE_TIMEOUT_MS)
            yield page, blocked
        finally:
            browser.close()


def shown_figures(page: Page) -> dict[str, str]:
    return page.eval_on_selector_all(
        "[data-figure]",
        "cells => Object.fromEntries(cells.map(c => [c.dataset.figure, c.textContent]))",
    )


def wait_for_figure(page: Page, key: str, text: str) -> None:
    """Wait until the cell of figure `key` shows `text` (widgets render asynchronously)."""
    page.wait_for_function(
        "([key, text]) => document.querySelector(`[data-figure='${key}']`)?.textContent === text",
        arg=[key, text], timeout=ACTION_TIMEOUT_MS,
    )


def save_screenshot(page: Page, *paths: Path) -> None:
    # Voilà scrolls inside the page, so the viewport is stretched to the dashboard's height.
    height = page.eval_on_selector(".wb-dashboard", "node => node.scrollHeight")
    page.set_viewport_size({"width": 1280, "height": int(height) + 80})
    first, *others = paths
    first.parent.mkdir(parents=True, exist_ok=True)
    partial = first.with_name(f".{first.stem}-{os.getpid()}.png")
    page.screenshot(path=str(partial), type="png", full_page=True)
    for other in others:
        other.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(partial, other)
    os.replace(partial, first)


# Demo data ------------------------------------------------------------------------------------

def workbench_cli(db_url: str, *args: str, viewer: str | None = None) -> str:
    """Run the real `workbench` command line in a subprocess and return its output."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKBENCH_")}
    if viewer:
        env["JUPYTERHUB_USER"] = viewer
    result = subprocess.run([sys.executable, "-m", "workbench", "--db", db_url, *args],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"workbench {' '.join(args)}: {result.stderr}"
    return result.stdout


def build_demo(db_url: str, engine, *, posted_run: bool) -> int:
    """Fill the database with the demo utility and return a draft run prepared by alice.

    With `posted_run`, a first run (small balances up to 1.00) is prepared by alice, approved
    by bob and posted, so that runs, the monthly trend and the transit account have figures.
    """
    workbench_cli(db_url, "demo", "--subscriptions", "2000")
    with db.session_scope(engine) as session:
        as_of = dashboard_data.small_balances(session, None, runs.PolicyParams()).as_of
    if posted_run:
        first = _run_id(workbench_cli(db_url, "run", "prepare", "--as-of", as_of.isoformat(),
                                      "--debit-threshold", "1.00", "--credit-threshold", "1.00",
                                      viewer="alice"))
        workbench_cli(db_url, "run", "approve", str(first), viewer="bob")
        workbench_cli(db_url, "run", "post", str(first), viewer="bob")
    return _run_id(workbench_cli(db_url, "run", "prepare", "--as-of", as_of.isoformat(),
                                 viewer="alice"))


def _run_id(output: str) -> int:
    return int(output.strip().splitlines()[-1])


def expected_figures(engine) -> dict[str, str]:
    """Return what the dashboard must show, computed by the package's own functions."""
    expected: dict[str, str] = {}
    with db.session_scope(engine) as session:
        _name, params = dashboard_data.current_policy(session)
        as_of = dashboard_data.small_balances(session, None, params).as_of
        groups = selection.decide(session, as_of, params).groups
        run_ids = session.execute(select(Run.id).order_by(Run.id)).scalars().all()
        reports = [runs.report(session, run_id) for run_id in run_ids]
        result = reconciliation.reconcile(session)

    total = groups["total_cents"].astype("int64")
    frame = pd.DataFrame({"action": groups["action"], "subscriptions": 1,
                          "owed_subscriptions": (total > 0).astype(int),
                          "owed_cents": total.where(total > 0, 0),
                          "favour_subscriptions": (total < 0).astype(int),
                          "favour_cents": total.where(total < 0, 0)})
    by_action = frame.groupby("action").sum().reindex(list(dashboard_data.ACTIONS)).fillna(0)
    for action, row in [*by_action.iterrows(), ("total", by_action.sum())]:
        for column, value in row.items():
            text = (format_amount(int(value)) if column.endswith("_cents")
                    else format_count(int(value)))
            expected[f"balances.{action}.{column}"] = text

    for report in reports:
        prefix = f"runs.{report['id']}"
        expected[f"{prefix}.state"] = state_label(report["state"])
        expected[f"{prefix}.approved_by"] = report["approved_by"] or ""
        for action in dashboard_data.RUN_ACTIONS:
            chosen = [group for group in report["groups"]
                      if group["action"] == action and group["status"] == "included"]
            cents = sum(parse_amount(group["total"]) for group in chosen)
            expected[f"{prefix}.{action}"] = f"{format_count(len(chosen))} · {format_amount(cents)}"

    for bucket in result.buckets.itertuples(index=False):
        key = f"transit.{bucket.bucket.replace('>', 'over-')}"
        expected[f"{key}.balance"] = format_amount(int(bucket.transit_balance))
        expected[f"{key}.open_charges"] = format_amount(int(bucket.open_charge_total))
        expected[f"{key}.difference"] = format_amount(int(bucket.difference))
    expected["transit.total.balance"] = format_amount(result.transit_balance)
    expected["transit.total.open_charges"] = format_amount(result.open_charge_total)
    expected["transit.total.difference"] = format_amount(result.difference)
    return expected


def run_state(engine, run_id: int) -> tuple[str, str | None]:
    with db.session_scope(engine) as session:
        run = session.execute(select(Run).where(Run.id == run_id)).scalar_one()
        return run.state, run.approved_by


def approvals_of(engine, run_id: int) -> list[str]:
    with db.session_scope(engine) as session:
        return list(session.execute(
            select(AuditEvent.actor).where(AuditEvent.run_id == run_id,
                                           AuditEvent.action == "approve")
        ).scalars())


# Tests ----------------------------------------------------------------------------------------

def test_dashboard_shows_package_figures_offline(db_url, engine, start_dashboard, tmp_path):
    draft = build_demo(db_url, engine, posted_run=True)
    expected = expected_figures(engine)
    base_url, log_path = start_dashboard("bob")

    with offline_page(base_url) as (page, blocked):
        page.wait_for_selector("img", timeout=PAGE_TIMEOUT_MS)
        shown = shown_figures(page)
        pending = page.text_content(f"[data-figure='pending.run-{draft}']")
        approve_buttons = page.locator(f".wb-approve-run-{draft}").count()
        save_screenshot(page, REPO / "reports" / "dashboard.png", tmp_path / "dashboard.png")

    assert blocked == []
    mismatched = {key: (value, shown.get(key)) for key, value in expected.items()
                  if shown.get(key) != value}
    assert mismatched == {}
    assert int(shown["balances.total.subscriptions"].replace("'", "")) > 0
    assert shown["transit.total.balance"] != "0.00"
    with db.session_scope(engine) as session:
        totals = runs.run_totals(session, draft)
    assert format_amount(totals.cleared) in pending
    assert approve_buttons == 1
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    assert "Traceback" not in log_path.read_text()


def test_approve_four_eyes_in_browser(db_url, engine, start_dashboard):
    draft = build_demo(db_url, engine, posted_run=False)
    preparer_url, _preparer_log = start_dashboard("alice")
    reviewer_url, _reviewer_log = start_dashboard("bob")

    # The preparer gets a plain refusal, and nothing changes.
    with offline_page(preparer_url) as (page, blocked):
        page.click(f".wb-approve-run-{draft}")
        page.wait_for_selector(".wb-message [data-notice='refused']", timeout=ACTION_TIMEOUT_MS)
        refusal = page.text_content(".wb-message [data-notice='refused']")
        still_pending = page.locator(f".wb-approve-run-{draft}").count()
    assert blocked == []
    assert "alice" in refusal
    assert "Traceback" not in refusal
    assert still_pending == 1
    assert run_state(engine, draft) == ("draft", None)
    assert approvals_of(engine, draft) == []

    # Another person approves: the database and the page both show the new state.
    with offline_page(reviewer_url) as (page, blocked):
        page.click(f".wb-approve-run-{draft}")
        page.wait_for_selector(".wb-message [data-notice='done']", timeout=ACTION_TIMEOUT_MS)
        wait_for_figure(page, f"runs.{draft}.state", state_label("approved"))
        shown = shown_figures(page)
        still_pending = page.locator(f".wb-approve-run-{draft}").count()
    assert blocked == []
    assert run_state(engine, draft) == ("approved", "bob")
    assert approvals_of(engine, draft) == ["bob"]
    assert shown[f"runs.{draft}.state"] == state_label("approved")
    assert shown[f"runs.{draft}.approved_by"] == "bob"
    assert still_pending == 0


def test_broken_database_plain_message(start_dashboard, tmp_path):
    # A database whose charge lines table is gone: the page's queries fail inside the kernel.
    broken = f"sqlite:///{tmp_path / 'broken.sqlite'}"
    db.upgrade(broken)
    with db.get_engine(broken).begin() as connection:
        connection.exec_driver_sql("DROP TABLE charge_lines")
    db.dispose_all()
    base_url, log_path = start_dashboard("bob", broken)

    with offline_page(base_url, ready="[data-notice='failed']") as (page, blocked):
        message = page.text_content("[data-notice='failed']")
        body = page.text_content("body")

    assert blocked == []
    assert message == _("The dashboard could not be loaded. The server log has the details.")
    assert "no such table" not in body
    assert "Traceback" not in body
    log = log_path.read_text()
    assert "dashboard: failed to build the page" in log
    assert "no such table" in log
