"""The reassignment desk (notebook 02): review the targets of moved balances and save choices.

The desk lists the groups that need a controller: reassigned among several valid subscriptions
of the customer (`needs_review`) and unresolved ones. Each reassigned group offers the
customer's valid subscriptions in a dropdown, the rule's choice (or an earlier saved choice)
preselected. Saving stores the shown targets through `candidates.save_choices`, in one
transaction; the following selections use them, so saved groups leave the review list.
"""

from __future__ import annotations

import html
import logging

import ipywidgets as widgets
import pandas as pd
from sqlalchemy import select

from .. import db
from ..amounts import AmountError, format_amount, parse_amount
from ..candidates import save_choices, valid_subscriptions
from ..dates import format_date
from ..errors import WorkbenchError
from ..i18n import _, ngettext
from ..models import Customer
from ..selection import decide
from .context import ViewContext, parse_amount_parameter
from .formatting import action_label

log = logging.getLogger(__name__)

PAGE_SIZE = 20
# Customer ids per IN list, well below the bound-parameter limits of SQLite and PostgreSQL.
NAME_CHUNK = 2000


class ReassignmentDesk:
    """Widgets over the groups to review: filters, one dropdown per group, paging, save."""

    def __init__(self, context: ViewContext, *, customer: str = "", min_amount: int | None = None,
                 max_amount: int | None = None, page_size: int = PAGE_SIZE):
        self.context = context
        self.page_size = page_size
        self.page = 0
        # Targets the controller changed on pages no longer shown: (customer, source) -> target.
        self.pending: dict[tuple[str, str], str] = {}
        self.rows: list[tuple[pd.Series, widgets.Dropdown | None]] = []
        self._build_widgets(customer, min_amount, max_amount)
        self.load()

    @classmethod
    def open(
        cls,
        *,
        as_of: str = "",
        policy: str = "",
        lang: str = "fr",
        customer: str = "",
        min_amount: str = "",
        max_amount: str = "",
        db_url: str | None = None,
    ) -> "ReassignmentDesk":
        """Build the desk from a notebook's text parameters (amounts like `5.00`)."""
        context = ViewContext.from_parameters(as_of=as_of, policy=policy, lang=lang,
                                              db_url=db_url)
        return cls(
            context, customer=customer,
            min_amount=parse_amount_parameter(min_amount, "min_amount", 0) if min_amount else None,
            max_amount=parse_amount_parameter(max_amount, "max_amount", 0) if max_amount else None,
        )

    # Widgets ---------------------------------------------------------------------------------

    def _build_widgets(self, customer: str, min_amount: int | None,
                       max_amount: int | None) -> None:
        lang = self.context.lang
        self.customer_filter = widgets.Text(value=customer, description=_("Customer"),
                                            placeholder=_("number or name"))
        self.min_filter = widgets.Text(
            value="" if min_amount is None else format_amount(min_amount, lang),
            description=_("From amount"), placeholder="0.00")
        self.max_filter = widgets.Text(
            value="" if max_amount is None else format_amount(max_amount, lang),
            description=_("To amount"), placeholder="5.00")
        self.filter_button = widgets.Button(description=_("Filter"), icon="filter")
        self.previous_button = widgets.Button(description=_("Previous"), icon="arrow-left")
        self.next_button = widgets.Button(description=_("Next"), icon="arrow-right")
        self.page_label = widgets.HTML()
        self.save_button = widgets.Button(description=_("Save the choices"),
                                          button_style="primary", icon="save")
        self.message = widgets.HTML()
        self.rows_box = widgets.VBox()

        self.filter_button.on_click(lambda _button: self.apply_filters())
        self.previous_button.on_click(lambda _button: self.show_page(self.page - 1))
        self.next_button.on_click(lambda _button: self.show_page(self.page + 1))
        self.save_button.on_click(lambda _button: self.save())

        title = widgets.HTML("<h3>" + html.escape(_("Reassignments to review as of {date}").format(
            date=format_date(self.context.as_of))) + "</h3>")
        self.container = widgets.VBox([
            title,
            widgets.HBox([self.customer_filter, self.min_filter, self.max_filter,
                          self.filter_button]),
            self.rows_box,
            widgets.HBox([self.previous_button, self.page_label, self.next_button]),
            widgets.HBox([self.save_button]),
            self.message,
        ])

    def _ipython_display_(self):
        from IPython.display import display

        display(self.container)

    # Data ------------------------------------------------------------------------------------

    def load(self) -> None:
        """Select with the policy, keep the groups to review, and read their candidates."""
        context = self.context
        with db.session_scope(context.engine) as session:
            decision = decide(session, context.as_of, context.params, list_excluded=False)
            groups = decision.groups
            review = groups[groups["needs_review"].astype(bool)
                            | (groups["action"] == "unresolved")].reset_index(drop=True)
            customers = list(review["customer_id"].unique())
            self.candidates = valid_subscriptions(session, customers, context.as_of)
            names = {}
            for first in range(0, len(customers), NAME_CHUNK):
                names.update(session.execute(
                    select(Customer.customer_id, Customer.name)
                    .where(Customer.customer_id.in_(customers[first:first + NAME_CHUNK]))
                ).all())
        review["customer_name"] = review["customer_id"].map(names)
        self.review = review
        self.apply_filters()

    def apply_filters(self) -> None:
        """Keep the groups matching the customer text and the amount range, show page one."""
        review = self.review
        keep = pd.Series(True, index=review.index)
        text = self.customer_filter.value.strip().casefold()
        if text:
            keep &= (review["customer_id"].str.casefold().str.contains(text, regex=False)
                     | review["customer_name"].fillna("").str.casefold()
                     .str.contains(text, regex=False))
        try:
            low = self._amount(self.min_filter.value)
            high = self._amount(self.max_filter.value)
        except AmountError as error:
            self.message.value = f"<p style='color:#b00'>{html.escape(str(error))}</p>"
            return
        magnitude = review["total_cents"].abs()
        if low is not None:
            keep &= magnitude >= low
        if high is not None:
            keep &= magnitude <= high
        self.listed = review[keep].reset_index(drop=True)
        self.show_page(0)

    @staticmethod
    def _amount(text: str) -> int | None:
        return parse_amount(text) if text.strip() else None

    def show_page(self, page: int) -> None:
        """Show one page of the listed groups, remembering the choices made on the last one."""
        self._remember_page()
        pages = max(1, -(-len(self.listed) // self.page_size))
        self.page = min(max(page, 0), pages - 1)
        first = self.page * self.page_size
        shown = self.listed.iloc[first:first + self.page_size]
        self.rows = [(group, self._dropdown(group)) for _index, group in shown.iterrows()]
        self.rows_box.children = [self._row_widget(group, dropdown)
                                  for group, dropdown in self.rows]
        self.page_label.value = html.escape(_("page {page} of {pages}, {count} groups").format(
            page=self.page + 1, pages=pages, count=len(self.listed)))
        self.previous_button.disabled = self.page == 0
        self.next_button.disabled = self.page >= pages - 1

    def _dropdown(self, group: pd.Series) -> widgets.Dropdown | None:
        options = self.candidates[self.candidates["customer_id"] == group["customer_id"]]
        if group["action"] != "reassign" or options.empty:
            return None
        labels = [
            (_("{subscription} · {service} · since {start} · next billing {next}").format(
                subscription=row.subscription_id, service=row.service or "-",
                start=format_date(row.start_date), next=format_date(row.next_billing_date) or "-"),
             row.subscription_id)
            for row in options.itertuples(index=False)
        ]
        key = _key(group)
        value = self.pending.get(key, group["target_subscription_id"])
        return widgets.Dropdown(options=labels, value=value,
                                layout=widgets.Layout(width="520px"))

    def _row_widget(self, group: pd.Series, dropdown: widgets.Dropdown | None) -> widgets.Widget:
        lang = self.context.lang
        name = group["customer_name"] if isinstance(group["customer_name"], str) else ""
        text = _("{customer} {name}, subscription {subscription}: {total} ({action})").format(
            customer=group["customer_id"], name=name,
            subscription=group["subscription_id"] or _("none"),
            total=format_amount(int(group["total_cents"]), lang),
            action=action_label(group["action"]))
        label = widgets.HTML(html.escape(text), layout=widgets.Layout(width="520px"))
        if dropdown is None:
            note = widgets.HTML("<i>" + html.escape(
                _("no valid subscription: handle it by hand")) + "</i>")
            return widgets.HBox([label, note])
        return widgets.HBox([label, dropdown])

    def _remember_page(self) -> None:
        for group, dropdown in self.rows:
            if dropdown is not None and dropdown.value != group["target_subscription_id"]:
                self.pending[_key(group)] = dropdown.value

    # Save ------------------------------------------------------------------------------------

    def choices(self) -> list[tuple[str, str | None, str]]:
        """Return the choices to save: every target shown on this page, and the targets changed
        on other pages, as (customer_id, source_subscription_id, target_subscription_id)."""
        self._remember_page()
        chosen = dict(self.pending)
        for group, dropdown in self.rows:
            if dropdown is not None:
                chosen[_key(group)] = dropdown.value
        return [(customer, source or None, target)
                for (customer, source), target in sorted(chosen.items())]

    def save(self, choices: list[tuple[str, str | None, str]] | None = None) -> int:
        """Store the choices in one transaction, then select again; return how many were saved."""
        choices = self.choices() if choices is None else choices
        try:
            with db.session_scope(self.context.engine) as session:
                count = save_choices(session, choices, self.context.actor,
                                     as_of=self.context.as_of)
        except WorkbenchError as error:
            problems = "".join(f"<li>{html.escape(p.value or '')}: {html.escape(p.reason)}</li>"
                               for p in getattr(error, "problems", []))
            self.message.value = (f"<p style='color:#b00'>{html.escape(str(error))}</p>"
                                  f"<ul>{problems}</ul>")
            return 0
        self.pending.clear()
        self.rows = []
        self.load()
        self.message.value = "<p>" + html.escape(
            ngettext("{count} choice saved by {actor}.", "{count} choices saved by {actor}.",
                     count).format(count=count,
                                                          actor=self.context.actor)) + "</p>"
        return count

    def save_all_listed(self) -> int:
        """Store the shown target of every listed group, on every page (the rule's choice unless
        the controller changed it)."""
        self._remember_page()
        listed = self.listed[self.listed["action"] == "reassign"]
        choices = [
            (group.customer_id, group.subscription_id,
             self.pending.get(_key(group._asdict()), group.target_subscription_id))
            for group in listed.itertuples(index=False)
        ]
        return self.save(choices)


def _key(group) -> tuple[str, str]:
    return (group["customer_id"], group["subscription_id"] or "")
