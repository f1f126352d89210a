"""Matplotlib figures of small balances: distribution by age, threshold curve, actions.

Figures are built with `matplotlib.figure.Figure` (no pyplot state), so they work the same in a
kernel, under papermill and in tests. Amounts stay integer centimes: axes are in centimes and
their tick labels are Swiss amounts.
"""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from ..amounts import format_amount
from ..i18n import N_, _, current_language

# Days overdue at the run date: upper bounds of the age bands (the last one is open).
AGE_BOUNDS = (90, 180, 365)
AGE_LABELS = (N_("up to 90 days"), N_("91 to 180 days"), N_("181 to 365 days"),
              N_("over a year"))
AGE_COLOURS = ("#9ecae1", "#4292c6", "#08519c", "#08306b")
# Tick positions of the amount axes, in centimes.
AMOUNT_TICKS = (1, 10, 100, 1_000, 10_000, 100_000, 1_000_000)
# One colour per action in every chart.
ACTION_COLOURS = {"offset": "#969696", "write_off": "#6a51a3", "rebill": "#2171b5",
                  "reassign": "#238b45", "unresolved": "#d94801"}


def age_bands(due_dates: pd.Series, as_of: dt.date) -> pd.Series:
    """Return each item's age band index (0 to 3) from its due date and the run date."""
    days = (pd.Timestamp(as_of) - pd.to_datetime(due_dates)).dt.days
    return pd.Series(np.searchsorted(AGE_BOUNDS, days.to_numpy(), side="left"), index=due_dates.index)


def group_ages(groups: pd.DataFrame, items: pd.DataFrame, as_of: dt.date) -> pd.Series:
    """Return the age band of each group: the age of its oldest item (by `group_no`)."""
    oldest = items.groupby("group_no")["due_date"].min()
    bands = age_bands(oldest, as_of)
    return groups["group_no"].map(bands).fillna(0).astype(int)


def balance_histogram(groups: pd.DataFrame, ages: pd.Series, lang: str | None = None) -> Figure:
    """Histogram of the groups' net balances, debits and credits in two panels, stacked by age.

    The amount axis is logarithmic; groups whose items net to zero cannot sit on it and are
    counted in the title instead.
    """
    lang = lang or current_language()
    totals = groups["total_cents"].astype("int64")
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    largest = int(totals.abs().max()) if len(totals) else 100
    edges = np.unique(np.geomspace(1, max(largest, 100) + 1, 30).astype("int64"))

    for axis, sign, title in ((axes[0], 1, _("Owed by the customer")),
                              (axes[1], -1, _("In the customer's favour"))):
        side = totals * sign > 0
        stacks = [(totals[side & (ages == band)] * sign).to_numpy() for band in range(4)]
        axis.hist(stacks, bins=edges, stacked=True, color=AGE_COLOURS,
                  label=[_(label) for label in AGE_LABELS])
        axis.set_xscale("log")
        _amount_axis(axis.xaxis, lang)
        axis.set_title(title)
        axis.set_xlabel(_("Net balance of the subscription"))
    axes[0].set_ylabel(_("Subscriptions"))
    axes[1].legend(title=_("Oldest item overdue"), fontsize="small")
    zero = int((totals == 0).sum())
    figure.suptitle(_("Small balances per subscription ({zero} net to zero)").format(zero=zero))
    return figure


def threshold_curve(
    debit: pd.DataFrame,
    credit: pd.DataFrame,
    *,
    debit_threshold: int | None = None,
    credit_threshold: int | None = None,
    lang: str | None = None,
) -> Figure:
    """Plot, per action, the subscriptions and amounts selected as each threshold moves.

    `debit` and `credit` are `ThresholdCurve.series` frames: threshold, action, groups,
    total_cents, all in centimes. Dashed lines mark the thresholds given, if any.
    """
    from .formatting import action_label

    lang = lang or current_language()
    figure = Figure(figsize=(10, 5.2), layout="constrained")
    axes = figure.subplots(2, 2, sharex="col")
    sides = ((0, debit, debit_threshold, _("Debit threshold")),
             (1, credit, credit_threshold, _("Credit threshold")))

    for column, series, current, label in sides:
        counts_axis, amounts_axis = axes[0][column], axes[1][column]
        for action, rows in series.groupby("action", sort=False):
            if not rows["groups"].any():
                continue
            colour = ACTION_COLOURS.get(action)
            counts_axis.step(rows["threshold"], rows["groups"], where="post", color=colour,
                             label=action_label(action))
            amounts_axis.step(rows["threshold"], rows["total_cents"].abs(), where="post",
                              color=colour)
        counts_axis.set_title(label)
        counts_axis.set_ylabel(_("Subscriptions"))
        amounts_axis.set_ylabel(_("Amount (absolute)"))
        amounts_axis.yaxis.set_major_formatter(
            FuncFormatter(lambda value, _pos: format_amount(int(round(value)), lang)))
        _amount_axis(amounts_axis.xaxis, lang, log=False)
        if current is not None:
            counts_axis.axvline(current, color="#444", linestyle="--")
            amounts_axis.axvline(current, color="#444", linestyle="--")
    for column in (0, 1):
        if axes[0][column].get_legend_handles_labels()[0]:
            axes[0][column].legend(fontsize="small")
    figure.suptitle(_("Selected per action as the threshold moves"))
    return figure


def actions_chart(by_action: pd.DataFrame, lang: str | None = None) -> Figure:
    """Bar chart of the groups and the absolute amounts per action (`by_action` from report)."""
    lang = lang or current_language()
    figure = Figure(figsize=(10, 3.2), layout="constrained")
    counts_axis, amounts_axis = figure.subplots(1, 2)
    labels = list(by_action["label"])
    colours = [ACTION_COLOURS.get(action, "#4292c6") for action in by_action["action"]]
    counts_axis.barh(labels, by_action["groups"], color=colours)
    counts_axis.set_title(_("Subscriptions per action"))
    counts_axis.invert_yaxis()
    amounts_axis.barh(labels, by_action["gross_cents"], color=colours)
    amounts_axis.set_title(_("Amount per action (absolute)"))
    amounts_axis.invert_yaxis()
    amounts_axis.xaxis.set_major_formatter(
        FuncFormatter(lambda value, _pos: format_amount(int(round(value)), lang)))
    return figure


def png_bytes(figure: Figure) -> bytes:
    """Render a figure as PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    return buffer.getvalue()


def _amount_axis(axis, lang: str, log: bool = True) -> None:
    # Matplotlib places ticks at floats; the labels show the centimes as a Swiss amount.
    if log:
        axis.set_major_locator(FixedLocator(AMOUNT_TICKS))
        axis.set_minor_formatter(NullFormatter())
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: format_amount(int(round(value)), lang)))
