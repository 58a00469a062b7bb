"""Every dashboard figure against a hand count of generated cases, the drill-down, and the walls between bureaus."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import update

from portal.cases.models import Deadline
from portal.supervision.models import Satisfaction
from portal.supervision.operations import rate_case
from portal.supervision.rollups import rebuild_rollups
from portal.supervision.stats import (
    MEASURED_STEPS,
    Period,
    PeriodError,
    compute_figures,
    parse_period,
    resolve_bureau,
)
from portal.workflow import OPEN_STATES, CaseKind, CaseState, IntakePath, Outcome, Step
from tenants.models import Bureau
from tenants.scoping import TenantScope, scope_for_bureau, scoped, set_scope, system_scope
from tests.portal.cases.conftest import drive, load_case, submit
from tests.supervision.helpers import (
    CHANGCHUN,
    CHANGYI,
    CHAOYANG,
    JILIN_CITY,
    NANGUAN,
    PROVINCE,
    Spec,
    Step_,
    insert,
    plus,
)

PERIOD = Period(date(2026, 1, 1), date(2026, 6, 30))
TODAY = date(2026, 6, 30)
UNITS = ("pension", "work_injury", "audit", None)


def generate(seed: int = 42, n: int = 160) -> list[Spec]:
    """A mix of cases in five bureaus, some outside the period, with deadlines and ratings."""
    rnd = random.Random(seed)
    adcodes = (NANGUAN, CHAOYANG, CHANGCHUN, JILIN_CITY, CHANGYI)
    specs = []
    for i in range(n):
        received = date(2025, 12, 20) if i % 23 == 0 else date(2026, 7, 1) if i % 29 == 0 else None
        received = received or date(2026, 1, 1).fromordinal(date(2026, 1, 1).toordinal() + rnd.randrange(181))
        state = rnd.choice(list(CaseState))
        intake = rnd.choice(list(IntakePath))
        accepted = None
        if state not in (CaseState.submitted, CaseState.not_accepted) and not (
            state is CaseState.withdrawn and rnd.random() < 0.5
        ):
            accepted = plus(received, rnd.randrange(0, 10))
        replied = (
            plus(accepted, rnd.randrange(1, 60))
            if accepted
            and state
            in (
                CaseState.replied,
                CaseState.reported,
            )
            else None
        )
        steps = []
        for step in rnd.sample([*MEASURED_STEPS, Step.material_request, Step.escalation_window], 3):
            started = plus(received, rnd.randrange(-5, 10))
            due = plus(started, rnd.randrange(1, 20))
            closed = rnd.choice([None, plus(due, -1), due, plus(due, 1)])
            steps.append(Step_(step, started, due, closed))
        specs.append(
            Spec(
                adcode=adcodes[i % len(adcodes)],
                state=state,
                kind=rnd.choice(list(CaseKind)),
                intake=intake,
                received_on=received,
                accepted_on=accepted,
                replied_on=replied,
                outcome=rnd.choice(list(Outcome)) if replied else None,
                extension_days=rnd.choice([None, None, None, 10, 30]) if accepted else None,
                unit=rnd.choice(UNITS),
                rating=rnd.choice([None, *Satisfaction]) if replied else None,
                steps=steps,
            )
        )
    return specs


def percentile_cont(values: list[int], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def hand_count(specs: list[Spec], adcodes: set[str]) -> dict:
    mine = [s for s in specs if s.adcode in adcodes and PERIOD.start <= s.received_on <= PERIOD.end]
    days = [(s.replied_on - s.accepted_on).days for s in mine if s.replied_on and s.accepted_on]
    decided_yes = sum(1 for s in mine if s.accepted_on and s.intake is not IntakePath.committee_transfer)
    no = sum(1 for s in mine if s.state is CaseState.not_accepted)
    rated = [s for s in mine if s.rating]
    steps: dict[Step, Counter] = {step: Counter() for step in MEASURED_STEPS}
    for s in specs:
        if s.adcode not in adcodes:
            continue
        for d in s.steps:
            if d.step not in MEASURED_STEPS or not PERIOD.start <= d.started_on <= PERIOD.end:
                continue
            c = steps[d.step]
            c["total"] += 1
            if (d.closed_on and d.closed_on <= d.due_on) or (d.closed_on is None and d.due_on >= TODAY):
                c["on_time"] += 1
            if d.closed_on and d.closed_on > d.due_on:
                c["closed_late"] += 1
            if d.closed_on is None and d.due_on < TODAY:
                c["open_overdue"] += 1
    return {
        "received": len(mine),
        "accepted": sum(1 for s in mine if s.accepted_on),
        "accepted_decided": decided_yes,
        "not_accepted": no,
        "acceptance_rate": decided_yes / (decided_yes + no) if decided_yes + no else None,
        "pending": sum(1 for s in mine if s.state is CaseState.submitted),
        "open": sum(1 for s in mine if s.state in OPEN_STATES),
        "concluded": sum(1 for s in mine if s.state in (CaseState.replied, CaseState.reported)),
        "withdrawn": sum(1 for s in mine if s.state is CaseState.withdrawn),
        "extended": sum(1 for s in mine if s.extension_days),
        "extension_days": sum(s.extension_days or 0 for s in mine),
        "handled": len(days),
        "avg_days": sum(days) / len(days) if days else None,
        "p90_days": percentile_cont(days, 0.9),
        "rated": len(rated),
        "satisfied": sum(1 for s in rated if s.rating is not Satisfaction.dissatisfied),
        "by_state": Counter(s.state for s in mine),
        "by_kind": Counter(s.kind for s in mine),
        "by_intake": Counter(s.intake for s in mine),
        "by_unit": Counter(s.unit for s in mine),
        "by_outcome": Counter(s.outcome for s in mine if s.outcome),
        "by_rating": Counter(s.rating for s in mine if s.rating),
        "steps": steps,
    }


def figures_for(dbs, reader: int, bureau: int):
    with scoped(dbs, scope_for_bureau(dbs, reader)):
        return compute_figures(dbs, dbs.get(Bureau, bureau), PERIOD, TODAY)


def assert_figures(figures, expected: dict) -> None:
    t = figures.totals
    for name in (
        "received",
        "accepted",
        "accepted_decided",
        "not_accepted",
        "pending",
        "open",
        "concluded",
        "withdrawn",
        "extended",
        "extension_days",
        "handled",
        "rated",
        "satisfied",
    ):
        assert getattr(t, name) == expected[name], name
    assert t.acceptance_rate == pytest.approx(expected["acceptance_rate"])
    assert t.avg_days == pytest.approx(expected["avg_days"])
    assert t.p90_days == pytest.approx(expected["p90_days"])
    assert {k: v for k, v in figures.by_state.items() if v} == dict(expected["by_state"])
    assert {k: v for k, v in figures.by_kind.items() if v} == dict(expected["by_kind"])
    assert {k: v for k, v in figures.by_intake.items() if v} == dict(expected["by_intake"])
    assert {code: n for code, _name, n in figures.by_unit} == dict(expected["by_unit"])
    assert {k: v for k, v in figures.by_outcome.items() if v} == dict(expected["by_outcome"])
    assert {k: v for k, v in figures.by_satisfaction.items() if v} == dict(expected["by_rating"])
    for step, counts in expected["steps"].items():
        got = figures.steps[step]
        assert (got.total, got.on_time, got.closed_late, got.open_overdue) == (
            counts["total"],
            counts["on_time"],
            counts["closed_late"],
            counts["open_overdue"],
        ), step
    assert figures.all_steps.total == sum(c["total"] for c in expected["steps"].values())
    assert figures.all_steps.on_time == sum(c["on_time"] for c in expected["steps"].values())


@pytest.fixture
def generated(dbs):
    specs = generate()
    insert(dbs, specs)
    return specs


CC_TREE = {CHANGCHUN, NANGUAN, CHAOYANG}
ALL = {CHANGCHUN, NANGUAN, CHAOYANG, JILIN_CITY, CHANGYI}


def test_every_figure_matches_a_hand_count_at_each_level(dbs, ids, generated):
    expected_all = hand_count(generated, ALL)
    assert expected_all["received"] > 100 and expected_all["handled"] > 5 and expected_all["rated"] > 3
    assert_figures(figures_for(dbs, ids[PROVINCE], ids[PROVINCE]), expected_all)
    assert_figures(figures_for(dbs, ids[CHANGCHUN], ids[CHANGCHUN]), hand_count(generated, CC_TREE))
    assert_figures(figures_for(dbs, ids[NANGUAN], ids[NANGUAN]), hand_count(generated, {NANGUAN}))
    # The province drilling down to 长春市 sees exactly what 长春市 sees of itself.
    assert_figures(figures_for(dbs, ids[PROVINCE], ids[CHANGCHUN]), hand_count(generated, CC_TREE))


def test_drill_down_rows_split_the_subtree_without_loss(dbs, ids, generated):
    figures = figures_for(dbs, ids[PROVINCE], ids[PROVINCE])
    rows = {r.bureau.id: r for r in figures.by_bureau}
    assert rows[ids[PROVINCE]].own_cases and rows[ids[PROVINCE]].counts.received == 0
    cc, jl = rows[ids[CHANGCHUN]], rows[ids[JILIN_CITY]]
    assert cc.has_children and cc.counts.received == hand_count(generated, CC_TREE)["received"]
    assert jl.counts.received == hand_count(generated, {JILIN_CITY, CHANGYI})["received"]
    assert sum(r.counts.received for r in figures.by_bureau) == figures.totals.received
    whole = hand_count(generated, CC_TREE)["steps"][Step.whole_review]
    assert (cc.whole_review.total, cc.whole_review.on_time) == (whole["total"], whole["on_time"])
    cc_handled = hand_count(generated, CC_TREE)
    assert cc.counts.p90_days == pytest.approx(cc_handled["p90_days"])
    assert cc.counts.satisfied == cc_handled["satisfied"]

    city = figures_for(dbs, ids[CHANGCHUN], ids[CHANGCHUN])
    rows = {r.bureau.id: r for r in city.by_bureau}
    assert rows[ids[CHANGCHUN]].own_cases
    assert rows[ids[CHANGCHUN]].counts.received == hand_count(generated, {CHANGCHUN})["received"]
    assert rows[ids[NANGUAN]].counts.received == hand_count(generated, {NANGUAN})["received"]
    assert rows[ids[CHAOYANG]].counts.received == hand_count(generated, {CHAOYANG})["received"]
    assert not rows[ids[NANGUAN]].has_children
    assert ids[JILIN_CITY] not in rows

    county = figures_for(dbs, ids[NANGUAN], ids[NANGUAN])
    assert [r.bureau.id for r in county.by_bureau] == [ids[NANGUAN]]
    assert not county.by_bureau[0].own_cases


def test_a_county_never_sees_its_sibling(dbs, ids, generated):
    chaoyang = hand_count(generated, {CHAOYANG})["received"]
    assert chaoyang > 0
    nanguan = figures_for(dbs, ids[NANGUAN], ids[NANGUAN])
    assert nanguan.totals.received == hand_count(generated, {NANGUAN})["received"]
    set_scope(dbs, scope_for_bureau(dbs, ids[NANGUAN]))
    try:
        assert resolve_bureau(dbs, ids[NANGUAN], ids[CHAOYANG]) is None
        assert resolve_bureau(dbs, ids[NANGUAN], ids[CHANGCHUN]) is None  # nor its parent
        assert resolve_bureau(dbs, ids[NANGUAN], "1 OR 1=1") is None
        assert resolve_bureau(dbs, ids[NANGUAN], None).id == ids[NANGUAN]
        # Even asked for the sibling's subtree directly, the session's scope filters every row out.
        sneaky = compute_figures(dbs, dbs.get(Bureau, ids[CHAOYANG]), PERIOD, TODAY)
        assert sneaky.totals.received == 0 and sneaky.all_steps.total == 0
    finally:
        set_scope(dbs, TenantScope.system_wide())
    with scoped(dbs, scope_for_bureau(dbs, ids[CHANGCHUN])):
        assert resolve_bureau(dbs, ids[CHANGCHUN], ids[NANGUAN]).id == ids[NANGUAN]
        assert resolve_bureau(dbs, ids[CHANGCHUN], ids[JILIN_CITY]) is None


def test_on_time_compares_china_dates(dbs, ids):
    """Closed at 00:30 China time the day after the due date (16:30 UTC on the due date) is late."""
    [case_id] = insert(
        dbs,
        [Spec(NANGUAN, steps=[Step_(Step.acceptance, date(2026, 3, 2), date(2026, 3, 10), date(2026, 3, 10))])],
    )
    with system_scope(dbs):
        dbs.execute(
            update(Deadline)
            .where(Deadline.case_id == case_id)
            .values(closed_at=datetime(2026, 3, 10, 16, 30, tzinfo=UTC))
        )
        rebuild_rollups(dbs)  # the row was changed behind the workflow's back
        dbs.commit()
    step = figures_for(dbs, ids[NANGUAN], ids[NANGUAN]).steps[Step.acceptance]
    assert (step.total, step.on_time, step.closed_late) == (1, 0, 1)


def test_period_limits_and_bad_periods():
    today = date(2026, 6, 30)
    assert parse_period({}, today) == Period(date(2026, 1, 1), today)
    assert parse_period({}, today, default_days=365).start == date(2025, 7, 1)
    assert parse_period({"start": "2026-02-01", "end": "2026-02-28"}, today) == Period(
        date(2026, 2, 1), date(2026, 2, 28)
    )
    for bad in (
        {"start": "2026-13-01"},
        {"start": "<script>"},
        {"start": "2026-03-01", "end": "2026-02-01"},
        {"start": "1990-01-01", "end": "2026-01-01"},
        {"end": "9999-12-31"},
    ):
        with pytest.raises(PeriodError):
            parse_period(bad, today)


def test_workflow_cases_and_a_rating_are_counted(dbs, pii, city, ids):
    """Cases driven through the real workflow at 长春市: accepted, replied, rated, and one still open."""
    replied = submit(dbs, pii).case.id
    drive(dbs, pii, city, replied, CaseState.replied)
    still_open = submit(dbs, pii, document_number="南社保信〔2026〕9号").case.id
    drive(dbs, pii, city, still_open, CaseState.in_review)
    case = load_case(dbs, replied)
    with scoped(dbs, TenantScope.single(case.tenant_id)):
        rate_case(dbs, case, "basically_satisfied", "答复及时。")
        dbs.commit()

    period = Period(date(2026, 9, 1), date(2026, 9, 30))
    with scoped(dbs, scope_for_bureau(dbs, ids[CHANGCHUN])):
        f = compute_figures(dbs, dbs.get(Bureau, ids[CHANGCHUN]), period, date(2026, 9, 30))
    t = f.totals
    assert (t.received, t.accepted, t.accepted_decided, t.not_accepted, t.open, t.concluded) == (2, 2, 2, 0, 1, 1)
    assert t.acceptance_rate == 1.0
    assert (t.handled, t.avg_days, t.p90_days) == (1, 0.0, 0.0)  # accepted and signed on the same day in the test
    assert (t.rated, t.satisfied) == (1, 1)
    assert f.by_satisfaction[Satisfaction.basically_satisfied] == 1
    assert f.by_outcome[Outcome.upheld] == 1
    assert f.by_state[CaseState.replied] == 1 and f.by_state[CaseState.in_review] == 1
    assert {c: n for c, _name, n in f.by_unit} == {"pension": 2}
    # Both acceptance clocks ran and were closed (the workflow stamps closing with the real clock, while these
    # tests act on fixed 2026 dates, so whether they count as on time depends on the day the test runs).
    acceptance = f.steps[Step.acceptance]
    assert acceptance.total == 2 and acceptance.on_time + acceptance.closed_late == 2
    assert f.steps[Step.whole_review].total == 2 and f.steps[Step.division_review].total == 2
    assert f.steps[Step.approval].total == 1 and f.steps[Step.reply].total == 1
    # Outside the period: nothing.
    with scoped(dbs, scope_for_bureau(dbs, ids[CHANGCHUN])):
        assert compute_figures(dbs, dbs.get(Bureau, ids[CHANGCHUN]), PERIOD, TODAY).totals.received == 0
