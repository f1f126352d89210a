"""The monthly job: validate its parameters, run notebook 03 with papermill, file the report.

`run_job` executes `notebooks/03_monthly_run.ipynb` in a `python3` kernel and leaves, in
`OUT/YYYY-MM/RUN/`, the executed notebook, an HTML report without code, the Excel workbook and
the export files. The database URL reaches the kernel through its environment
(`WORKBENCH_DB_URL`), never as a papermill parameter, because papermill writes every parameter
into the output notebook.

The notebook writes the run's files into `OUT/YYYY-MM/RUN/` itself, as it does when run by
hand, so the export audit event names that folder. Papermill writes the executed notebook
into a staging folder. The notebook also leaves a copy of its `summary.json` there, at the
path in the kernel's `WORKBENCH_JOB_SUMMARY`. The job reads the run's folder from that copy and
moves the executed notebook into it. A notebook that fails stays in
`OUT/YYYY-MM/failed-TIMESTAMP/`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from .dates import DateError, parse_date
from .errors import InvalidInput, Problem, RuleRefused, WorkbenchError
from .i18n import LANGUAGES, _
from .models import Policy

log = logging.getLogger(__name__)

MODES = ("preview", "post")
# NOTE: the notebooks are found beside the package, as in a checkout or an editable install
# (`pip install -e .`); a wheel install does not contain them.
NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
RUN_NOTEBOOK = NOTEBOOKS_DIR / "03_monthly_run.ipynb"
KERNEL = "python3"
NOTEBOOK_NAME = "monthly-run.ipynb"
REPORT_NAME = "report.html"
SUMMARY_NAME = "summary.json"
# The kernel's environment variable naming where the notebook leaves a copy of its summary.
SUMMARY_ENV = "WORKBENCH_JOB_SUMMARY"
DEFAULT_OUT = Path("reports")
# Cells with this tag (the notebook's title for people reading it in Jupyter) stay out of the
# HTML report, which opens with a heading in the report's language instead.
HIDE_IN_REPORT = "hide-in-report"
REPORT_TEMPLATES = Path(__file__).with_name("report_templates")
APPROVED = "approved"


@dataclass(frozen=True)
class MonthlyParameters:
    """The validated parameters of one monthly run; `policy` empty means PolicyParams defaults."""

    as_of: dt.date
    policy: str
    mode: str
    subscriptions_file: Path | None
    open_items_file: Path | None
    out_dir: Path
    lang: str

    def notebook_parameters(self) -> dict[str, str]:
        """Return the papermill parameters, all strings."""
        return {
            "as_of": self.as_of.isoformat(),
            "policy": self.policy,
            "mode": self.mode,
            "subscriptions_file": str(self.subscriptions_file or ""),
            "open_items_file": str(self.open_items_file or ""),
            "out_dir": str(self.out_dir),
            "lang": self.lang,
        }

    @property
    def month_dir(self) -> Path:
        return self.out_dir / f"{self.as_of:%Y-%m}"


@dataclass(frozen=True)
class JobResult:
    """The run and the files a finished job left behind; `run_id` is None without a run."""

    run_id: int | None
    state: str | None
    run_dir: Path
    notebook: Path
    report: Path
    summary: dict


class NotebookFailed(WorkbenchError):
    """A cell of the run notebook raised; the executed notebook is kept at `notebook`."""

    def __init__(self, message: str, notebook: Path, exit_code: int = 1):
        super().__init__(message)
        self.notebook = notebook
        self.exit_code = exit_code


def default_as_of(today: dt.date | None = None) -> dt.date:
    """Return the last day of the month before `today` (the month a job run closes)."""
    today = today or dt.date.today()
    return today.replace(day=1) - dt.timedelta(days=1)


def validate_parameters(
    engine: Engine,
    *,
    as_of: str | dt.date | None = None,
    policy: str | None = None,
    mode: str | None = None,
    subscriptions_file: str | Path | None = None,
    open_items_file: str | Path | None = None,
    out_dir: str | Path | None = None,
    lang: str | None = None,
) -> MonthlyParameters:
    """Check every parameter at once and return them typed; raise `InvalidInput` listing all
    that are wrong.

    An empty `as_of` is the last day of the previous month. An empty `policy` is the only
    policy with an approved version. When the database has no policy at all (a fresh demo
    database), the run uses the PolicyParams defaults. When several policies are approved, the
    name is required.
    """
    problems: list[Problem] = []

    as_of_date = _check_as_of(as_of, problems)
    mode = (mode or "preview").strip()
    if mode not in MODES:
        problems.append(Problem("", None, "mode", mode,
                                _("unknown mode: use {modes}").format(modes=" / ".join(MODES))))
    lang = (lang or "fr").strip()
    if lang not in LANGUAGES:
        problems.append(Problem("", None, "lang", lang, _("unknown language: use {languages}")
                                .format(languages=", ".join(LANGUAGES))))
    policy_name = _check_policy(engine, (policy or "").strip(), problems)
    subscriptions = _check_file(subscriptions_file, "subscriptions_file", problems)
    open_items = _check_file(open_items_file, "open_items_file", problems)

    if problems:
        raise InvalidInput(_("The monthly run's parameters are invalid; nothing was run."),
                           problems)
    return MonthlyParameters(
        as_of=as_of_date,
        policy=policy_name,
        mode=mode,
        subscriptions_file=subscriptions,
        open_items_file=open_items,
        out_dir=Path(out_dir or DEFAULT_OUT).absolute(),
        lang=lang,
    )


def _check_as_of(value: str | dt.date | None, problems: list[Problem]) -> dt.date:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default_as_of()
    try:
        return parse_date(value)
    except DateError:
        problems.append(Problem("", None, "as_of", str(value),
                                _("not a date: write 31.03.2026 or 2026-03-31")))
        return default_as_of()


def _check_policy(engine: Engine, name: str, problems: list[Problem]) -> str:
    from .db import session_scope

    with session_scope(engine) as session:
        rows = session.execute(select(Policy.name, Policy.status)).all()
    approved = sorted({row.name for row in rows if row.status == APPROVED})

    if name:
        if name not in {row.name for row in rows}:
            problems.append(Problem("", None, "policy", name, _("no policy with this name")))
        elif name not in approved:
            problems.append(Problem("", None, "policy", name,
                                    _("this policy has no approved version yet")))
        return name
    if not rows:
        log.info("no policy in the database: the run uses the default parameters")
        return ""
    if len(approved) == 1:
        return approved[0]
    reason = (_("no policy is approved yet: approve one first") if not approved else
              _("several policies are approved ({names}): choose one with --policy")
              .format(names=", ".join(approved)))
    problems.append(Problem("", None, "policy", "", reason))
    return ""


def _check_file(value: str | Path | None, column: str, problems: list[Problem]) -> Path | None:
    if value is None or not str(value).strip():
        return None
    path = Path(value).absolute()
    if not path.is_file():
        problems.append(Problem(str(value), None, column, str(value), _("file not found")))
    return path


def run_job(
    params: MonthlyParameters,
    db_url: str,
    *,
    notebook: Path | None = None,
    progress: bool = True,
) -> JobResult:
    """Execute the run notebook with papermill and file its outputs in `OUT/YYYY-MM/RUN/`.

    Raise `NotebookFailed` when a cell fails: its exit code is 2 for invalid input, 3 for a
    refused rule and 1 otherwise, and the failed notebook stays in `OUT/YYYY-MM/failed-*/`.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = notebook or RUN_NOTEBOOK
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    staging = params.month_dir / f".running-{stamp}-{os.getpid()}"
    staging.mkdir(parents=True)
    executed = staging / NOTEBOOK_NAME
    log.info("monthly: start, as of %s, mode %s, policy %s, database %s", params.as_of,
             params.mode, params.policy or "(defaults)", safe_url(db_url))

    handoff = staging / SUMMARY_NAME
    try:
        with _kernel_environment(db_url, params.lang, handoff):
            papermill.execute_notebook(
                str(notebook),
                str(executed),
                parameters=params.notebook_parameters(),
                kernel_name=KERNEL,
                language="python",
                progress_bar=progress,
                cwd=str(Path.cwd()),
            )
    except PapermillExecutionError as error:
        failed = params.month_dir / f"failed-{stamp}"
        staging.rename(failed)
        log.error("monthly: a cell failed (%s: %s); notebook kept in %s", error.ename,
                  error.evalue, failed / NOTEBOOK_NAME)
        raise NotebookFailed(
            _("The run notebook failed in cell {cell} ({name}: {message}). The executed "
              "notebook is kept in {path}.").format(cell=error.exec_count, name=error.ename,
                                                    message=error.evalue,
                                                    path=failed / NOTEBOOK_NAME),
            failed / NOTEBOOK_NAME,
            _exit_code_of(error.ename),
        ) from None

    summary = json.loads(handoff.read_text(encoding="utf-8"))
    run_dir = Path(summary["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)
    executed.replace(run_dir / NOTEBOOK_NAME)
    handoff.unlink()
    staging.rmdir()
    report = write_html_report(run_dir / NOTEBOOK_NAME, run_dir / REPORT_NAME)
    log.info("monthly: %s groups, %s items, cleared %s, charges %s, write-off %s",
             summary.get("groups"), summary.get("items"), summary.get("cleared_total"),
             summary.get("charge_total"), summary.get("write_off_total"))
    log.info("monthly: end, run %s is %s; report %s", summary.get("run_id"),
             summary.get("state"), report)
    return JobResult(
        run_id=summary.get("run_id"),
        state=summary.get("state"),
        run_dir=run_dir,
        notebook=run_dir / NOTEBOOK_NAME,
        report=report,
        summary=summary,
    )


def _exit_code_of(error_name: str) -> int:
    # The kernel reports the class name of what was raised: keep the command line's meaning.
    if error_name == InvalidInput.__name__:
        return InvalidInput.exit_code
    if error_name == RuleRefused.__name__:
        return RuleRefused.exit_code
    return 1


def write_html_report(notebook: Path, html: Path) -> Path:
    """Convert an executed notebook to HTML without code cells (nbconvert `--no-input`)."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="lab",
        extra_template_paths=[str(REPORT_TEMPLATES)],
        template_file="report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags={HIDE_IN_REPORT}, enabled=True), enabled=True
    )
    body, _resources = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    html.write_text(body, encoding="utf-8")
    return html


@contextlib.contextmanager
def temporary_environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables inside the block (kernels started there inherit them)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _kernel_environment(db_url: str, lang: str, handoff: Path):
    # The kernel inherits this process's environment, so the run's settings travel through it.
    return temporary_environment(
        {"WORKBENCH_DB_URL": db_url, "WORKBENCH_LANG": lang, SUMMARY_ENV: str(handoff)})


def safe_url(url: str) -> str:
    """Return a database URL with its password masked, for logs."""
    return make_url(url).render_as_string(hide_password=True)
