"""The threshold explorer (notebook 01): see what each pair of thresholds would select.

Building the explorer runs the selection once with the widest thresholds the sliders offer and
builds the threshold curve (`curve.build_curve`). A threshold slider then updates the view from
those two without a query. The counts and amounts per action come from `curve.at`. The groups
come from filtering the wide selection, which gives the groups `selection.decide` returns for
the slider's thresholds, because a group's action does not depend on them. Moving the minimum
days overdue changes which items are eligible, so it builds both again.
"""

from __future__ import annotations

import html
import logging

import ipywidgets as widgets
import numpy as np
import pandas as pd

from .. import db
from ..amounts import format_amount
from ..curve import ThresholdCurve, build_curve
from ..errors import WorkbenchError
from ..i18n import _
from ..policy import PolicyParams, propose_policy
from ..selection import ACTIONS, Decision, decide
from . import charts
from .context import ViewContext, parse_amount_parameter, parse_days_parameter
from .formatting import action_label, display_frame

log = logging.getLogger(__name__)

# Slider range and step in centimes: 0.00 to 50.00 by 0.05, widened to fit the policy's values.
DEFAULT_MAX_THRESHOLD = 5_000
THRESHOLD_STEP = 5
MAX_DAYS_OVERDUE = 730
# Groups listed under the sliders; the count above the list covers them all.
GROUPS_SHOWN = 100
GROUP_COLUMNS = ["customer_id", "subscription_id", "action", "target_subscription_id",
                 "needs_review", "total_cents", "item_count"]


class ThresholdExplorer:
    """Widgets over the selection: histogram, curve, threshold sliders, groups, save button."""

    def __init__(self, context: ViewContext, params: PolicyParams | None = None):
        self.context = context
        start = params or context.params
        self.max_threshold = max(DEFAULT_MAX_THRESHOLD, start.debit_threshold,
                                 start.credit_threshold)
        self.base_params = start
        self.curve: ThresholdCurve | None = None
        self.wide: Decision | None = None
        self.shown_summary = pd.DataFrame()
        self._build_widgets(start)
        self._load(start.min_days_overdue)
        self.refresh()

    @classmethod
    def open(
        cls,
        *,
        as_of: str = "",
        policy: str = "",
        lang: str = "fr",
        debit_threshold: str = "",
        credit_threshold: str = "",
        min_days_overdue: str = "",
        db_url: str | None = None,
    ) -> "ThresholdExplorer":
        """Build the explorer from a notebook's text parameters; empty values keep the policy's."""
        context = ViewContext.from_parameters(as_of=as_of, policy=policy, lang=lang,
                                              db_url=db_url)
        base = context.params
        params = base.replace(
            debit_threshold=parse_amount_parameter(debit_threshold, "debit_threshold",
                                                   base.debit_threshold),
            credit_threshold=parse_amount_parameter(credit_threshold, "credit_threshold",
                                                    base.credit_threshold),
            min_days_overdue=parse_days_parameter(min_days_overdue, "min_days_overdue",
                                                  base.min_days_overdue),
        )
        return cls(context, params)

    # Widgets ---------------------------------------------------------------------------------

    def _build_widgets(self, start: PolicyParams) -> None:
        lang = self.context.lang
        values = sorted({*range(0, self.max_threshold + 1, THRESHOLD_STEP),
                         start.debit_threshold, start.credit_threshold})
        # Labels are the Swiss amounts, values the integer centimes behind them.
        options = [(format_amount(value, lang), value) for value in values]
        layout = widgets.Layout(width="480px")
        style = {"description_width": "220px"}

        self.debit_slider = widgets.SelectionSlider(
            options=options, value=start.debit_threshold, description=_("Debit threshold"),
            layout=layout, style=style)
        self.credit_slider = widgets.SelectionSlider(
            options=options, value=start.credit_threshold, description=_("Credit threshold"),
            layout=layout, style=style)
        self.days_slider = widgets.IntSlider(
            value=start.min_days_overdue, min=0, max=max(MAX_DAYS_OVERDUE, start.min_days_overdue),
            description=_("Minimum days overdue"), continuous_update=False, layout=layout,
            style=style)
        self.histogram = widgets.Image(format="png")
        self.curve_plot = widgets.Image(format="png")
        self.summary_view = widgets.HTML()
        self.groups_view = widgets.HTML()
        self.policy_name = widgets.Text(value=self.context.policy_name,
                                        description=_("Policy name"), style=style)
        self.save_button = widgets.Button(description=_("Propose this policy"),
                                          button_style="primary", icon="save")
        self.message = widgets.HTML()

        self.debit_slider.observe(self._on_threshold, names="value")
        self.credit_slider.observe(self._on_threshold, names="value")
        self.days_slider.observe(self._on_days, names="value")
        self.save_button.on_click(self._on_save)

        title = widgets.HTML("<h3>" + html.escape(_("Small balances as of {date}").format(
            date=self.context.as_of.strftime("%d.%m.%Y"))) + "</h3>")
        self.container = widgets.VBox([
            title,
            self.histogram,
            widgets.VBox([self.debit_slider, self.credit_slider, self.days_slider]),
            self.summary_view,
            self.curve_plot,
            self.groups_view,
            widgets.HBox([self.policy_name, self.save_button]),
            self.message,
        ])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.container)

    # State -----------------------------------------------------------------------------------

    @property
    def params(self) -> PolicyParams:
        """Return the policy parameters that the sliders show."""
        return self.base_params.replace(
            debit_threshold=int(self.debit_slider.value),
            credit_threshold=int(self.credit_slider.value),
            min_days_overdue=int(self.days_slider.value),
        )

    def _load(self, min_days_overdue: int) -> None:
        """Select with the widest thresholds and build the curve for one minimum of days."""
        params = self.base_params.replace(min_days_overdue=min_days_overdue)
        wide = params.replace(debit_threshold=self.max_threshold,
                              credit_threshold=self.max_threshold)
        with db.session_scope(self.context.engine) as session:
            self.curve = build_curve(session, self.context.as_of, params)
            self.wide = decide(session, self.context.as_of, wide, list_excluded=False)

        # Sorted once, so that a slider move only masks: the list shows the largest balances.
        self._totals = self.wide.groups["total_cents"].to_numpy(dtype="int64")
        self._largest_first = np.argsort(-np.abs(self._totals), kind="stable")
        self._draw_histogram()
        self._draw_curve()

    def selected_groups(self) -> pd.DataFrame:
        """Return the groups that the sliders' thresholds select.

        They are the groups `decide` returns for these thresholds, but `group_no` keeps the
        numbering of the wide selection.
        """
        return self.wide.groups[self._chosen()].reset_index(drop=True)

    @property
    def shown_groups(self) -> pd.DataFrame:
        """The groups selected by the sliders' current values, as the list counts them."""
        return self.selected_groups()

    def _chosen(self) -> np.ndarray:
        totals = self._totals
        debit, credit = int(self.debit_slider.value), int(self.credit_slider.value)
        return (totals == 0) | ((totals > 0) & (totals <= debit)) | (
            (totals < 0) & (-totals <= credit))

    def summary(self) -> pd.DataFrame:
        """Return groups, items and total_cents per action for the sliders' thresholds."""
        rows = self.curve.at(int(self.debit_slider.value), int(self.credit_slider.value))
        per_action = rows.groupby("action")[["groups", "items", "total_cents"]].sum()
        per_action = per_action.reindex(list(ACTIONS), fill_value=0)
        return per_action.reset_index()

    # Events ----------------------------------------------------------------------------------

    def _on_threshold(self, _change) -> None:
        self.refresh()

    def _on_days(self, change) -> None:
        self._load(int(change["new"]))
        self.refresh()

    def _on_save(self, _button) -> None:
        self.save_proposal(self.policy_name.value)

    def refresh(self) -> None:
        """Show the counts, amounts and groups for the sliders' current values."""
        lang = self.context.lang
        self.shown_summary = self.summary()
        self.summary_view.value = _summary_html(self.shown_summary, lang)

        chosen = self._chosen()
        count = int(chosen.sum())
        largest = self._largest_first[chosen[self._largest_first]][:GROUPS_SHOWN]
        table = display_frame(self.wide.groups.iloc[largest], GROUP_COLUMNS, lang)
        caption = _("{count} subscriptions selected; the {shown} largest balances:").format(
            count=count, shown=min(count, GROUPS_SHOWN))
        self.groups_view.value = (f"<p>{html.escape(caption)}</p>"
                                  + table.to_html(index=False, escape=True))

    def save_proposal(self, name: str):
        """Store the sliders' parameters as a proposal of policy `name` and return its row.

        Another person must approve it (four eyes), as the message under the button states.
        """
        try:
            with db.session_scope(self.context.engine) as session:
                row = propose_policy(session, name, self.params, self.context.actor)
        except WorkbenchError as error:
            self.message.value = f"<p style='color:#b00'>{html.escape(str(error))}</p>"
            return None
        self.message.value = "<p>" + html.escape(_(
            "Policy {name} version {version} proposed by {actor}; another person must approve "
            "it before a run uses it.").format(name=row.name, version=row.version,
                                               actor=row.proposed_by)) + "</p>"
        return row

    # Plots -----------------------------------------------------------------------------------

    def _draw_histogram(self) -> None:
        groups, items = self.wide.groups, self.wide.items
        ages = charts.group_ages(groups, items, self.context.as_of)
        figure = charts.balance_histogram(groups, ages, self.context.lang)
        self.histogram.value = charts.png_bytes(figure)

    def _draw_curve(self) -> None:
        # Drawn once per curve because it takes about half a second; slider moves update the
        # summary and the group list only.
        values = [value for _label, value in self.debit_slider.options]
        figure = charts.threshold_curve(
            self.curve.series("debit", values), self.curve.series("credit", values),
            lang=self.context.lang)
        self.curve_plot.value = charts.png_bytes(figure)


def _summary_html(summary: pd.DataFrame, lang: str) -> str:
    rows = []
    for record in summary.itertuples(index=False):
        rows.append(
            f"<tr><td>{html.escape(action_label(record.action))}</td>"
            f"<td style='text-align:right'>{record.groups}</td>"
            f"<td style='text-align:right'>{record.items}</td>"
            f"<td style='text-align:right'>{format_amount(int(record.total_cents), lang)}</td></tr>")
    total = (f"<tr style='font-weight:bold'><td>{html.escape(_('Total'))}</td>"
             f"<td style='text-align:right'>{int(summary['groups'].sum())}</td>"
             f"<td style='text-align:right'>{int(summary['items'].sum())}</td>"
             f"<td style='text-align:right'>"
             f"{format_amount(int(summary['total_cents'].sum()), lang)}</td></tr>")
    header = "".join(f"<th>{html.escape(label)}</th>" for label in
                     (_("Action"), _("Subscriptions"), _("Items"), _("Net total")))
    return f"<table><tr>{header}</tr>{''.join(rows)}{total}</table>"
