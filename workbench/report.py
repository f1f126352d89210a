"""The run notebook's report: static tables and PNG plots, no widgets.

An HTML export of the executed notebook (`nbconvert --no-input`) shows exactly what these
functions display, so it reads the same offline. The `*_table` functions return frames with
amounts in centimes, for tests and the workbook; the `show_*` functions display them.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path

import pandas as pd
from IPython.display import HTML, Image, Markdown, display

from .dates import format_date
from .i18n import _
from .ui import charts
from .ui.formatting import ACTION_LABELS, REASON_LABELS, action_label, display_frame

# Rows shown in the report's long lists; the workbook has them all.
LIST_LIMIT = 200


# Tables ---------------------------------------------------------------------------------------

def actions_table(groups: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Count groups and items and sum amounts per action: `groups`, `items`, `total_cents`
    (signed), `debit_cents` and `credit_cents` (items owed and in favour), `gross_cents`."""
    included = items[items["status"] == "included"].merge(
        groups[["group_no", "action"]], on="group_no", how="left")
    open_cents = included["open_cents"].astype("int64")
    included = included.assign(
        debit_cents=open_cents.clip(lower=0), credit_cents=(-open_cents).clip(lower=0),
        gross_cents=open_cents.abs())
    per_action = included.groupby("action").agg(
        items=("open_cents", "size"), total_cents=("open_cents", "sum"),
        debit_cents=("debit_cents", "sum"), credit_cents=("credit_cents", "sum"),
        gross_cents=("gross_cents", "sum"))
    group_counts = groups[groups["status"] == "included"].groupby("action").size()

    table = pd.DataFrame(index=pd.Index(list(ACTION_LABELS), name="action"))
    table["groups"] = group_counts.reindex(table.index, fill_value=0)
    table = table.join(per_action).fillna(0)
    table = table.astype({column: "int64" for column in table.columns})
    table = table.reset_index()
    table.insert(1, "label", [action_label(action) for action in table["action"]])
    return table


def excluded_table(excluded: pd.DataFrame) -> pd.DataFrame:
    """Count and sum the open items left out of the run, per reason."""
    table = pd.DataFrame(index=pd.Index(list(REASON_LABELS), name="reason"))
    grouped = excluded.groupby("reason")["open_cents"]
    table["items"] = grouped.size().reindex(table.index, fill_value=0)
    table["total_cents"] = grouped.sum().reindex(table.index, fill_value=0)
    table = table.astype("int64").reset_index()
    return table[table["items"] > 0].reset_index(drop=True)


def review_table(groups: pd.DataFrame) -> pd.DataFrame:
    """Return the groups a controller should look at: reassigned among several candidates
    (`needs_review`) and unresolved ones."""
    flagged = groups["needs_review"].astype(bool) | (groups["action"] == "unresolved")
    return groups[flagged].reset_index(drop=True)


# Display --------------------------------------------------------------------------------------

def show_heading(run) -> None:
    """Display the report's title and its parameters."""
    params = run.params
    display(Markdown("# " + _("Small balances: monthly run of {date}").format(
        date=format_date(params.as_of))))
    rows = [
        (_("Run date"), format_date(params.as_of)),
        (_("Mode"), _("post") if params.mode == "post" else _("preview")),
        (_("Policy"), params.policy or _("default parameters (no policy in the database)")),
        (_("Prepared by"), run.actor),
        (_("Report written"), dt.datetime.now().strftime("%d.%m.%Y %H:%M")),
    ]
    _show_pairs(rows)


def show_imports(run) -> None:
    """Display what the import step stored, or that the latest snapshot is used."""
    display(Markdown("## " + _("Import")))
    if not run.imports:
        display(Markdown(_("No extract given: the run uses the latest snapshot in the database.")))
        return
    rows = [
        (_("subscriptions") if result.kind == "subscriptions" else _("open items"),
         _("batch {batch}: {rows} rows, {rejected} rejected{again}").format(
             batch=result.batch_id, rows=result.rows, rejected=result.rejected,
             again=_(" (already imported)") if result.already_imported else ""))
        for result in run.imports
    ]
    _show_pairs(rows)


def show_summary(run) -> None:
    """Display the run's state, counts and totals, and what the job did with it."""
    display(Markdown("## " + _("Run {run_id}").format(run_id=run.run_id)))
    _show_pairs(run.summary_rows())


def show_actions(run) -> None:
    """Display groups and amounts per action, with a bar chart."""
    display(Markdown("## " + _("Decisions")))
    table = actions_table(run.frame("groups"), run.frame("items"))
    shown = table[["label", "groups", "items", "debit_cents", "credit_cents", "total_cents"]]
    _show_table(display_frame(shown.rename(columns={"label": "action_label"}))
                .rename(columns={"action_label": _("Action")}))
    _show_figure(charts.actions_chart(table), run.run_dir / "actions.png",
                 _("Subscriptions and amounts per action"))


def show_ages(run) -> None:
    """Display the distribution of the run's net balances by age."""
    groups, items = run.frame("groups"), run.frame("items")
    posting = groups[groups["action"] != "unresolved"]
    if posting.empty:
        return
    display(Markdown("## " + _("Balances by age")))
    ages = charts.group_ages(posting, items, run.params.as_of)
    _show_figure(charts.balance_histogram(posting, ages), run.run_dir / "balances.png",
                 _("Net balances of the run's subscriptions by amount and age"))


def show_review(run) -> None:
    """Display the groups to review: reassigned among several candidates, and unresolved."""
    display(Markdown("## " + _("To review")))
    table = review_table(run.frame("groups"))
    if table.empty:
        display(Markdown(_("Nothing to review.")))
        return
    columns = ["group_no", "customer_id", "subscription_id", "action", "target_subscription_id",
               "needs_review", "total_cents", "item_count"]
    _show_table(display_frame(table.head(LIST_LIMIT), columns), len(table))


def show_excluded(run) -> None:
    """Display the open items left out of the run, counted per reason."""
    display(Markdown("## " + _("Open items left out")))
    table = excluded_table(run.frame("excluded"))
    if table.empty:
        display(Markdown(_("No open item was left out.")))
        return
    _show_table(display_frame(table))


def show_files(run) -> None:
    """Display what the job did with the run and the files written into the run's folder."""
    display(Markdown("## " + _("Files")))
    if run.status_note:
        display(Markdown("**" + run.status_note + "**"))
    rows = [(path.name, _("{size} bytes").format(size=path.stat().st_size))
            for path in sorted(run.run_dir.iterdir()) if path.is_file()]
    _show_pairs(rows)


def _show_pairs(rows: list[tuple[str, str]]) -> None:
    body = "".join(f"<tr><th style='text-align:left'>{html.escape(label)}</th>"
                   f"<td style='text-align:left'>{html.escape(str(value))}</td></tr>"
                   for label, value in rows)
    display(HTML(f"<table>{body}</table>"))


def _show_table(frame: pd.DataFrame, total_rows: int | None = None) -> None:
    display(HTML(frame.to_html(index=False, escape=True)))
    if total_rows is not None and total_rows > len(frame):
        display(Markdown(_("First {shown} of {total} rows; the workbook lists them all.")
                         .format(shown=len(frame), total=total_rows)))


def _show_figure(figure, path: Path, alt: str) -> None:
    data = charts.png_bytes(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    display(Image(data=data, format="png", alt=alt))
