"""The dashboard's rollups against the raw tables: every figure, every bureau level, periods of every shape.

Two ways the rollups are written are checked: the SQL rebuild (generated cases inserted directly, as the benchmark
and the migration fill them) and the workflow's own writes (cases driven through ``perform_action``, a rating,
a recomputed calendar); after the workflow, a rebuild must find exactly the rows the workflow kept.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from portal.supervision.models import CaseRollup, DeadlineRollup, Satisfaction
from portal.supervision.operations import rate_case
from portal.supervision.rollups import CASE_METRICS, rebuild_rollups
from portal.supervision.stats import Figures, Period, compute_figures, compute_figures_from_cases, percentile_cont
from portal.workflow import CaseState
from tenants.models import Bureau
from tenants.scoping import scope_for_bureau, scoped, system_scope
from tests.portal.cases.conftest import PETITIONER, act, drive, load_case, submit
from tests.supervision.helpers import CHANGCHUN, NANGUAN, PROVINCE, insert
from tests.supervision.test_stats import generate

TODAY = date(2026, 6, 30)
PERIODS = [
    Period(date(2026, 1, 1), date(2026, 6, 30)),  # whole months only
    Period(date(2025, 12, 15), date(2026, 3, 20)),  # days at both ends around whole months
    Period(date(2026, 2, 3), date(2026, 2, 25)),  # inside one month
    Period(date(2026, 3, 31), date(2026, 4, 1)),  # two days across a month's end
    Period(date(2026, 5, 17), date(2026, 5, 17)),  # one day
    Period(date(2025, 1, 1), date(2026, 12, 31)),  # everything
]


def _plain(figures: Figures) -> str:
    """Every figure as text (floats rounded: the percentile is interpolated in two different languages)."""

    def counts(c):
        return {**{m: getattr(c, m) for m in CASE_METRICS}, "p90": None if c.p90_days is None else round(c.p90_days, 6)}

    def steps(s):
        return [s.total, s.on_time, s.closed_late, s.open_overdue]

    return json.dumps(
        {
            "totals": counts(figures.totals),
            "by_state": {str(k): v for k, v in figures.by_state.items()},
            "by_kind": {str(k): v for k, v in figures.by_kind.items()},
            "by_intake": {str(k): v for k, v in figures.by_intake.items()},
            "by_unit": figures.by_unit,
            "by_outcome": {str(k): v for k, v in figures.by_outcome.items()},
            "by_satisfaction": {str(k): v for k, v in figures.by_satisfaction.items()},
            "by_bureau": [
                [r.bureau.id, r.own_cases, r.has_children, counts(r.counts), steps(r.whole_review), steps(r.steps)]
                for r in figures.by_bureau
            ],
            "steps": {str(k): steps(v) for k, v in figures.steps.items()},
            "all_steps": steps(figures.all_steps),
        },
        sort_keys=True,
        ensure_ascii=False,
    )


def assert_rollups_match(dbs, adcodes: list[str], today: date = TODAY) -> int:
    """For each bureau and period: the rollup figures equal the raw ones. Returns how many cases were compared."""
    seen = 0
    for adcode in adcodes:
        bureau = dbs.scalar(select(Bureau).where(Bureau.adcode == adcode))
        with scoped(dbs, scope_for_bureau(dbs, bureau.id)):
            for period in PERIODS:
                rolled = compute_figures(dbs, bureau, period, today)
                raw = compute_figures_from_cases(dbs, bureau, period, today)
                assert _plain(rolled) == _plain(raw), (adcode, period)
                seen += raw.totals.received
        dbs.rollback()
    return seen


def _rows(dbs) -> tuple[set, set]:
    """The non-zero rollup rows, without their ids."""
    with system_scope(dbs):
        cases = {
            (r.tenant_id, r.grain, r.day, r.dim, r.value, *(getattr(r, m) for m in CASE_METRICS))
            for r in dbs.scalars(select(CaseRollup))
            if any(getattr(r, m) for m in CASE_METRICS)
        }
        clocks = {
            (r.tenant_id, r.grain, r.day, r.step, r.status, r.due_on, r.n)
            for r in dbs.scalars(select(DeadlineRollup))
            if r.n
        }
    return cases, clocks


def test_rebuilt_rollups_give_the_raw_figures_for_every_level_and_period(dbs, ids):
    insert(dbs, generate(seed=7, n=240))
    assert assert_rollups_match(dbs, [PROVINCE, CHANGCHUN, NANGUAN]) > 0


def test_the_workflow_keeps_the_rollups_equal_to_a_rebuild(dbs, pii, city, province):
    today = date(2026, 9, 11)
    replied = [submit(dbs, pii, today=date(2026, 9, 10)).case.id for _ in range(3)]
    for case_id in replied:
        drive(dbs, pii, city, case_id, CaseState.replied, today=today)
    rate_case(dbs, load_case(dbs, replied[0]), Satisfaction.basically_satisfied)
    dbs.commit()
    in_review = submit(dbs, pii, today=date(2026, 8, 31)).case.id
    drive(dbs, pii, city, in_review, CaseState.in_review, today=today)
    act(dbs, pii, city.clerk, in_review, "request_extension", today=today, days=20, reason="材料待补")
    act(dbs, pii, city.petitions_leader, in_review, "approve_extension", today=today)
    refused = submit(dbs, pii, today=date(2026, 10, 9)).case.id
    act(
        dbs,
        pii,
        city.clerk,
        refused,
        "reject",
        today=date(2026, 10, 12),
        reason="litigation",
        explanation="已提起行政诉讼。",
        remedy="依法通过诉讼途径解决。",
    )
    withdrawn = submit(dbs, pii, today=date(2026, 9, 30)).case.id
    act(dbs, pii, city.clerk, withdrawn, "accept", today=date(2026, 10, 9))
    act(dbs, pii, PETITIONER, withdrawn, "withdraw", today=date(2026, 10, 10), reason="不再申请。")
    escalated = act(
        dbs, pii, PETITIONER, replied[1], "escalate", today=date(2026, 9, 14), reason="不服复查意见。"
    ).new_case
    assert escalated is not None

    kept = _rows(dbs)
    with system_scope(dbs):
        rebuild_rollups(dbs)
    assert _rows(dbs) == kept, "the workflow's rollups differ from the ones rebuilt from the raw tables"
    dbs.rollback()

    # And the figures agree, as of the day the clocks were last looked at, at the city and the province.
    assert assert_rollups_match(dbs, [CHANGCHUN, PROVINCE], today=date(2026, 10, 12)) > 0


@pytest.mark.parametrize(
    ("histogram", "expected"),
    [({}, None), ({5: 1}, 5.0), ({1: 1, 2: 1, 3: 1, 4: 1, 10: 1}, 7.6), ({3: 4, 9: 1}, 6.6), ({0: 10}, 0.0)],
)
def test_the_percentile_of_a_histogram_is_postgresqls_percentile_cont(histogram, expected):
    found = percentile_cont(histogram, 0.9)
    assert found == pytest.approx(expected) if expected is not None else found is None
