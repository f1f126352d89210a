"""The threshold explorer's widgets, driven from Python on the demo database."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import select

from conftest import ENGINES
from demo_database import DEMO_AS_OF, demo_copy
from workbench import db
from workbench.amounts import format_amount
from workbench.models import Policy
from workbench.policy import PolicyParams
from workbench.selection import ACTIONS, decide
from workbench.ui import ThresholdExplorer


@pytest.fixture(params=ENGINES)
def demo_url(request, tmp_path):
    url = demo_copy(request, request.param, tmp_path)
    yield url
    db.dispose_all()


def _expected(url: str, params: PolicyParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    with db.session_scope(db.get_engine(url)) as session:
        groups = decide(session, DEMO_AS_OF, params, list_excluded=False).groups
    per_action = groups.groupby("action").agg(
        groups=("group_no", "size"), items=("item_count", "sum"), total_cents=("total_cents", "sum"))
    return per_action.reindex(list(ACTIONS), fill_value=0), groups


def _keys(groups: pd.DataFrame) -> set[tuple]:
    return set(zip(groups["customer_id"], groups["subscription_id"].fillna(""),
                   groups["currency"], groups["action"], groups["total_cents"]))


def test_sliders_hold_centimes_with_swiss_labels(demo_url):
    explorer = ThresholdExplorer.open(db_url=demo_url)

    assert explorer.debit_slider.value == 500
    assert explorer.credit_slider.value == 500
    assert ("2.50", 250) in explorer.debit_slider.options
    assert ("5.00", 500) in explorer.credit_slider.options
    assert all(isinstance(value, int) for _label, value in explorer.debit_slider.options)
    assert explorer.debit_slider.label == "5.00"


def test_moving_thresholds_matches_decide(demo_url):
    explorer = ThresholdExplorer.open(db_url=demo_url)

    explorer.debit_slider.value = 250
    explorer.credit_slider.value = 120

    expected, groups = _expected(demo_url, PolicyParams(debit_threshold=250, credit_threshold=120))
    shown = explorer.shown_summary.set_index("action")
    assert shown["groups"].to_dict() == expected["groups"].to_dict()
    assert shown["items"].to_dict() == expected["items"].to_dict()
    assert shown["total_cents"].to_dict() == expected["total_cents"].to_dict()
    assert _keys(explorer.shown_groups) == _keys(groups)
    assert len(groups) > 0

    total = int(expected["total_cents"].sum())
    assert f">{format_amount(total)}</td>" in explorer.summary_view.value
    assert f"{len(groups)} " in explorer.groups_view.value


def test_zero_threshold_turns_direction_off(demo_url):
    explorer = ThresholdExplorer.open(db_url=demo_url)

    explorer.credit_slider.value = 0

    assert (explorer.shown_groups["total_cents"] >= 0).all()
    expected, _groups = _expected(demo_url, PolicyParams(credit_threshold=0))
    assert explorer.shown_summary.set_index("action")["groups"].to_dict() == \
        expected["groups"].to_dict()


def test_days_overdue_rebuilds_curve(demo_url):
    explorer = ThresholdExplorer.open(db_url=demo_url)
    before = explorer.shown_summary["groups"].sum()

    explorer.days_slider.value = 180

    expected, groups = _expected(demo_url, PolicyParams(min_days_overdue=180))
    assert explorer.shown_summary.set_index("action")["groups"].to_dict() == \
        expected["groups"].to_dict()
    assert _keys(explorer.shown_groups) == _keys(groups)
    assert explorer.shown_summary["groups"].sum() < before


def test_text_parameters_set_sliders(demo_url):
    explorer = ThresholdExplorer.open(db_url=demo_url, debit_threshold="3.50",
                                      credit_threshold="1'000.00", min_days_overdue="60")

    assert explorer.debit_slider.value == 350
    assert explorer.credit_slider.value == 100_000
    assert explorer.days_slider.value == 60
    assert explorer.params.credit_threshold == 100_000


def test_plots_are_png(demo_url):
    explorer = ThresholdExplorer.open(db_url=demo_url)

    assert bytes(explorer.histogram.value).startswith(b"\x89PNG")
    assert bytes(explorer.curve_plot.value).startswith(b"\x89PNG")


def test_save_button_proposes_policy(demo_url):
    explorer = ThresholdExplorer.open(db_url=demo_url)
    explorer.debit_slider.value = 300
    explorer.credit_slider.value = 150
    explorer.days_slider.value = 45
    explorer.policy_name.value = "monthly"

    explorer.save_button.click()

    with db.session_scope(db.get_engine(demo_url)) as session:
        rows = session.execute(select(Policy)).scalars().all()
    assert len(rows) == 1
    assert rows[0].name == "monthly"
    assert rows[0].status == "proposed"
    params = PolicyParams.from_json(rows[0].params)
    assert (params.debit_threshold, params.credit_threshold, params.min_days_overdue) == \
        (300, 150, 45)
    assert "monthly" in explorer.message.value


def test_save_without_name_stores_nothing(demo_url):
    explorer = ThresholdExplorer.open(db_url=demo_url)
    explorer.policy_name.value = "  "

    assert explorer.save_proposal(explorer.policy_name.value) is None

    with db.session_scope(db.get_engine(demo_url)) as session:
        assert session.execute(select(Policy)).scalars().all() == []
    assert "color:#b00" in explorer.message.value


def test_bad_threshold_parameter_is_rejected(demo_url):
    from workbench.errors import InvalidInput

    with pytest.raises(InvalidInput) as raised:
        ThresholdExplorer.open(db_url=demo_url, debit_threshold="5.001")
    assert raised.value.problems[0].column == "debit_threshold"
    assert raised.value.problems[0].value == "5.001"
