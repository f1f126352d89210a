"""The monthly job's parameter checks: every problem at once, exit 2, nothing run."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from workbench import db, monthly
from workbench.errors import InvalidInput
from workbench.models import Run
from workbench.policy import PolicyParams, approve_policy, propose_policy


def _policy(engine, name: str, *, approve: bool = True) -> None:
    with db.session_scope(engine) as session:
        row = propose_policy(session, name, PolicyParams(), "alice")
        if approve:
            approve_policy(session, row.id, "bob")


def _problems(engine, **parameters) -> dict[str, str]:
    with pytest.raises(InvalidInput) as raised:
        monthly.validate_parameters(engine, **parameters)
    return {problem.column: problem.value for problem in raised.value.problems}


@pytest.mark.parametrize(("today", "expected"), [
    (dt.date(2026, 3, 15), dt.date(2026, 2, 28)),
    (dt.date(2026, 1, 1), dt.date(2025, 12, 31)),
    (dt.date(2024, 3, 31), dt.date(2024, 2, 29)),
])
def test_default_as_of_is_previous_month_end(today, expected):
    assert monthly.default_as_of(today) == expected


def test_empty_parameters_take_defaults(engine, tmp_path):
    params = monthly.validate_parameters(engine, out_dir=tmp_path)

    assert params.as_of == monthly.default_as_of()
    assert params.mode == "preview"
    assert params.policy == ""
    assert params.lang == "fr"
    assert params.out_dir == tmp_path
    assert params.month_dir == tmp_path / f"{params.as_of:%Y-%m}"


def test_notebook_parameters_are_strings(engine, tmp_path):
    extract = tmp_path / "open.csv"
    extract.write_text("x")
    params = monthly.validate_parameters(engine, as_of="31.03.2026", mode="post",
                                         open_items_file=extract, out_dir=tmp_path, lang="de")

    values = params.notebook_parameters()

    assert values == {
        "as_of": "2026-03-31", "policy": "", "mode": "post", "subscriptions_file": "",
        "open_items_file": str(extract), "out_dir": str(tmp_path), "lang": "de",
    }


def test_every_problem_reported_at_once(engine, tmp_path):
    problems = _problems(engine, as_of="31.02.2026", mode="postt", policy="nope",
                         subscriptions_file=tmp_path / "missing.csv", lang="xx")

    assert problems == {
        "as_of": "31.02.2026",
        "mode": "postt",
        "policy": "nope",
        "subscriptions_file": str(tmp_path / "missing.csv"),
        "lang": "xx",
    }


def test_policy_without_approval_is_rejected(engine):
    _policy(engine, "draft-only", approve=False)

    assert _problems(engine, policy="draft-only") == {"policy": "draft-only"}


def test_no_policy_uses_defaults_only_on_empty_database(engine):
    _policy(engine, "proposed", approve=False)

    assert _problems(engine) == {"policy": ""}


def test_single_approved_policy_is_chosen(engine):
    _policy(engine, "standard")
    _policy(engine, "proposed", approve=False)

    assert monthly.validate_parameters(engine).policy == "standard"


def test_several_approved_policies_need_a_name(engine):
    _policy(engine, "standard")
    _policy(engine, "strict")

    assert _problems(engine) == {"policy": ""}
    assert monthly.validate_parameters(engine, policy="strict").policy == "strict"


@pytest.mark.parametrize("arguments", [
    ["--as-of", "2026-13-01"],
    ["--mode", "publish"],
    ["--policy", "unknown"],
    ["--open-items", "no-such-file.csv"],
])
def test_cli_bad_parameters_exit_2(cli, engine, tmp_path, arguments):
    out = tmp_path / "reports"

    result = cli("monthly", "--out", out, *arguments)

    assert result.code == 2, result
    assert arguments[1] in result.err
    assert not out.exists()
    with db.session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(Run)).scalar() == 0
