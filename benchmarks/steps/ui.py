"""Dashboard steps: its figures in-process, then a viewer's page view in chromium (< 5 s).

Runs on the database the earlier steps filled; run alone (`--steps ui`), it loads the demo
utility with `--subscriptions` first. The browser step starts `workbench dashboard` on a free
loopback port and stops it by its process id at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import Bench, Measurement
from sqlalchemy import func, select

from workbench import dashboard_data, db, eligibility
from workbench.models import OpenItem
from workbench.ui.dashboard import App

TARGET_SECONDS = 5.0
PAGE_VIEWS = 3
# Logged by `show_dashboard` in a kernel started ahead, once it waits for a viewer.
KERNEL_READY = "dashboard: kernel ready, waiting for a viewer"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def dashboard_figures(bench: Bench) -> None:
    """Time the dashboard's figures and its widget tree, beside one scan of the snapshot."""
    bench.ensure_demo_data("ui")
    engine = db.get_engine(bench.db_url)

    with db.session_scope(engine) as session:
        snapshot_id = eligibility.latest_snapshot_id(session)
        with bench.timer() as floor:
            rows = session.execute(select(func.count()).select_from(OpenItem)
                                   .where(OpenItem.batch_id == snapshot_id)).scalar_one()
        with bench.timer() as figures:
            dashboard_data.load(session)
    bench.measure(Measurement("dashboard figures (SQL aggregates)", figures(),
                              floor_name="count snapshot items", floor_seconds=floor(),
                              target_seconds=TARGET_SECONDS, rows=rows))

    with bench.timer() as build:
        App(engine, viewer="benchmark")
    bench.measure(Measurement("dashboard widgets built in-process", build(),
                              target_seconds=TARGET_SECONDS))


def dashboard_page_view(bench: Bench) -> None:
    """Time a viewer's page views: from the request until the figures are on the screen.

    The server prepares one kernel ahead: imports done, small balances computed, the other
    figures read at the request. Each view waits until such a kernel is ready again, as a
    viewer arriving a little later would.
    """
    if not Path(CHROMIUM).exists():
        print(f"ui: {CHROMIUM} not found, browser step not run", flush=True)
        return
    from playwright.sync_api import sync_playwright

    bench.ensure_demo_data("ui")
    seconds = []
    with _dashboard_server(bench.db_url) as (base_url, log_path), \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for view in range(PAGE_VIEWS):
                _wait_for_prepared_kernel(log_path, view + 1)
                page = browser.new_page()
                with bench.timer() as render:
                    page.goto(base_url, timeout=120_000)
                    page.wait_for_selector(".wb-dashboard table[data-table='balances']",
                                           timeout=120_000)
                seconds.append(render())
                page.close()
        finally:
            browser.close()
    bench.measure(Measurement("dashboard page view in chromium (median)",
                              statistics.median(seconds), target_seconds=TARGET_SECONDS))


def _wait_for_prepared_kernel(log_path: Path, count: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while log_path.read_text(errors="replace").count(KERNEL_READY) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no prepared kernel within {seconds} s; see {log_path}")
        time.sleep(0.2)


@contextlib.contextmanager
def _dashboard_server(db_url: str):
    home = Path(tempfile.mkdtemp(prefix="wb-bench-ui-"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if not key.startswith("JUPYTER")}
    env.update(WORKBENCH_DB_URL=db_url, JUPYTERHUB_USER="benchmark",
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_PLATFORM_DIRS="1",
               IPYTHONDIR=str(home / "ipython"), MPLCONFIGDIR=str(home / "matplotlib"))
    with (home / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench", "dashboard", "--port", str(port)],
            env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(process, port)
        yield f"http://127.0.0.1:{port}/", home / "server.log"
    finally:
        # SIGTERM lets Voilà shut its kernels down before it exits.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for_port(process: subprocess.Popen, port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"workbench dashboard exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise RuntimeError(f"workbench dashboard did not listen on port {port} in {seconds} s")


STEPS = [
    ("dashboard figures", dashboard_figures),
    ("dashboard page view", dashboard_page_view),
]
