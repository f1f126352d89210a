"""The reassignment desk's widgets, driven from Python on the demo database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from conftest import ENGINES
from demo_database import DEMO_AS_OF, demo_copy
from workbench import db
from workbench.candidates import valid_subscriptions
from workbench.models import ReassignmentChoice
from workbench.policy import PolicyParams
from workbench.selection import decide
from workbench.ui import ReassignmentDesk


@pytest.fixture(params=ENGINES)
def demo_url(request, tmp_path):
    url = demo_copy(request, request.param, tmp_path)
    yield url
    db.dispose_all()


def _groups(url: str):
    with db.session_scope(db.get_engine(url)) as session:
        return decide(session, DEMO_AS_OF, PolicyParams(), list_excluded=False).groups


def _choices(url: str) -> set[tuple]:
    with db.session_scope(db.get_engine(url)) as session:
        rows = session.execute(select(ReassignmentChoice.customer_id,
                                      ReassignmentChoice.source_subscription_id,
                                      ReassignmentChoice.target_subscription_id)).all()
    return {tuple(row) for row in rows}


def _first_row_with_choice(desk: ReassignmentDesk):
    for group, dropdown in desk.rows:
        if dropdown is not None and len(dropdown.options) > 1:
            return group, dropdown
    raise AssertionError("the demo has no group with several candidates on page one")


def test_lists_groups_to_review(demo_url):
    desk = ReassignmentDesk.open(db_url=demo_url)

    groups = _groups(demo_url)
    wanted = groups[groups["needs_review"] | (groups["action"] == "unresolved")]
    assert len(wanted) > 0
    assert sorted(desk.review["group_no"]) == sorted(wanted["group_no"])
    assert f"{len(wanted)} " in desk.page_label.value
    assert len(desk.rows) == min(len(wanted), desk.page_size)


def test_dropdown_offers_valid_subscriptions_with_rule_choice(demo_url):
    desk = ReassignmentDesk.open(db_url=demo_url)
    group, dropdown = _first_row_with_choice(desk)

    with db.session_scope(db.get_engine(demo_url)) as session:
        candidates = valid_subscriptions(session, [group["customer_id"]], DEMO_AS_OF)
    assert [value for _label, value in dropdown.options] == list(candidates["subscription_id"])
    assert dropdown.value == group["target_subscription_id"]
    first = candidates.iloc[0]
    assert first["start_date"].strftime("%d.%m.%Y") in dropdown.options[0][0]


def test_unresolved_group_has_no_dropdown(demo_url):
    desk = ReassignmentDesk.open(db_url=demo_url)
    desk.listed = desk.review[desk.review["action"] == "unresolved"].reset_index(drop=True)
    desk.show_page(0)

    assert len(desk.rows) > 0
    assert all(dropdown is None for _group, dropdown in desk.rows)


def test_save_stores_changed_target(demo_url):
    desk = ReassignmentDesk.open(db_url=demo_url)
    group, dropdown = _first_row_with_choice(desk)
    other = next(value for _label, value in dropdown.options if value != dropdown.value)
    shown = sum(1 for _group, row_dropdown in desk.rows if row_dropdown is not None)

    dropdown.value = other
    desk.save_button.click()

    stored = _choices(demo_url)
    assert (group["customer_id"], group["subscription_id"] or "", other) in stored
    assert len(stored) == shown
    assert f"{shown} " in desk.message.value
    groups = _groups(demo_url)
    moved = groups[(groups["customer_id"] == group["customer_id"])
                   & (groups["subscription_id"].fillna("") == (group["subscription_id"] or ""))]
    assert list(moved["target_subscription_id"]) == [other]
    assert not moved["needs_review"].any()
    still_listed = desk.review[desk.review["customer_id"] == group["customer_id"]]
    assert not still_listed["needs_review"].any()


def test_save_all_listed_confirms_every_rule_choice(demo_url):
    desk = ReassignmentDesk.open(db_url=demo_url)
    reassigned = desk.review[desk.review["action"] == "reassign"]

    saved = desk.save_all_listed()

    assert saved == len(reassigned)
    expected = {(row.customer_id, row.subscription_id or "", row.target_subscription_id)
                for row in reassigned.itertuples()}
    assert _choices(demo_url) == expected
    groups = _groups(demo_url)
    assert not groups["needs_review"].any()


def test_customer_filter(demo_url):
    desk = ReassignmentDesk.open(db_url=demo_url)
    customer = desk.review["customer_id"].iloc[0]

    desk.customer_filter.value = customer.lower()
    desk.filter_button.click()

    assert set(desk.listed["customer_id"]) == {customer}


def test_amount_filter(demo_url):
    desk = ReassignmentDesk.open(db_url=demo_url, min_amount="1.00", max_amount="3.00")

    magnitudes = desk.listed["total_cents"].abs()
    assert ((magnitudes >= 100) & (magnitudes <= 300)).all()
    review = desk.review["total_cents"].abs()
    assert len(desk.listed) == int(((review >= 100) & (review <= 300)).sum())


def test_bad_amount_filter_shows_message(demo_url):
    desk = ReassignmentDesk.open(db_url=demo_url)
    listed = len(desk.listed)

    desk.min_filter.value = "1.2.3"
    desk.filter_button.click()

    assert "color:#b00" in desk.message.value
    assert len(desk.listed) == listed


def test_invalid_choice_stores_nothing(demo_url):
    desk = ReassignmentDesk.open(db_url=demo_url)
    group = desk.review[desk.review["action"] == "reassign"].iloc[0]

    saved = desk.save([(group["customer_id"], group["subscription_id"], "NO-SUCH-SUB")])

    assert saved == 0
    assert _choices(demo_url) == set()
    assert "NO-SUCH-SUB" in desk.message.value


def test_paging_keeps_changes(demo_url):
    desk = ReassignmentDesk.open(db_url=demo_url)
    several = desk.candidates["customer_id"].value_counts()
    index = next(position for position, row in enumerate(desk.listed.itertuples())
                 if row.action == "reassign" and several.get(row.customer_id, 0) > 1)
    desk.page_size = 1
    desk.show_page(index)
    group, dropdown = desk.rows[0]
    other = next(value for _label, value in dropdown.options if value != dropdown.value)
    dropdown.value = other

    desk.show_page(index + 1 if index + 1 < len(desk.listed) else index - 1)
    desk.show_page(index)

    assert desk.rows[0][1].value == other
    assert (group["customer_id"], group["subscription_id"] or None, other) in desk.choices()
