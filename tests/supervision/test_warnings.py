"""Each early-warning rule, its thresholds, the cases each warning links to, and what a county may not see."""

from __future__ import annotations

from datetime import date

import pytest

from portal.routing import OpinionKind
from portal.supervision.stats import Period
from portal.supervision.warnings import compute_warnings
from portal.workflow import CaseState, Step
from tenants.models import Bureau
from tenants.scoping import scope_for_bureau, scoped
from tests.supervision.helpers import CHANGCHUN, CHAOYANG, NANGUAN, PROVINCE, Spec, Step_, insert

PERIOD = Period(date(2026, 1, 1), date(2026, 6, 30))
TODAY = date(2026, 6, 30)
IN, OUT = date(2026, 3, 1), date(2025, 12, 31)


def warnings_for(dbs, ids, reader: str, **limits):
    with scoped(dbs, scope_for_bureau(dbs, ids[reader])):
        return compute_warnings(dbs, dbs.get(Bureau, ids[reader]), PERIOD, TODAY, **limits)


def case_ids(group) -> set[int]:
    return {c.id for c in group.cases}


@pytest.fixture
def cases(dbs):
    named = {}

    def add(key, *specs):
        named[key] = insert(dbs, list(specs))

    h1, h2 = "a" * 64, "b" * 64
    add("repeat_ng", Spec(NANGUAN, id_hash=h1, name="李四"), Spec(NANGUAN, id_hash=h1, name="李四"))
    add("repeat_cc", Spec(CHANGCHUN, id_hash=h1, name="李四"))
    add("repeat_cy", Spec(CHAOYANG, id_hash=h1, name="李四"))
    add("repeat_old", Spec(NANGUAN, id_hash=h1, name="李四", received_on=OUT))
    add("single", Spec(NANGUAN, id_hash=h2, name="赵六"))
    add(
        "doc",
        Spec(CHANGCHUN, disputed_adcode=NANGUAN, document="南社保信〔2026〕3号"),
        Spec(CHANGCHUN, disputed_adcode=NANGUAN, document=" 南社保信〔2026〕 3号 "),
        Spec(NANGUAN, disputed_adcode=NANGUAN, document="南社保信〔2026〕3号"),
    )
    add(
        "doc_other_issuer",
        Spec(CHANGCHUN, disputed_adcode=CHAOYANG, document="南社保信〔2026〕3号"),
        Spec(CHANGCHUN, disputed_adcode=CHAOYANG, document="南社保信〔2026〕3号"),
    )
    add("doc_case", Spec(CHANGCHUN, disputed_adcode=NANGUAN, document="ab-7"), Spec(NANGUAN, document="AB-7"))
    add(
        "issue",
        *[Spec(CHANGCHUN, disputed_adcode=CHAOYANG, document=f"CY-{i}") for i in range(4)],
    )
    add(
        "issue_review",
        *[
            Spec(CHANGCHUN, disputed_adcode=CHAOYANG, disputed_kind=OpinionKind.review, document=f"CYR-{i}")
            for i in range(3)
        ],
    )
    add("sensitive_open_old", Spec(CHAOYANG, sensitive=True, received_on=OUT, state=CaseState.in_review))
    add("sensitive_closed_old", Spec(CHAOYANG, sensitive=True, received_on=OUT, state=CaseState.replied))
    add("sensitive_closed_new", Spec(NANGUAN, sensitive=True, received_on=IN, state=CaseState.replied))
    add(
        "due",
        Spec(NANGUAN, steps=[Step_(Step.division_review, IN, date(2026, 7, 2))]),  # due in 2 days
        Spec(NANGUAN, steps=[Step_(Step.division_review, IN, date(2026, 7, 10))]),  # in 10 days
        Spec(NANGUAN, steps=[Step_(Step.approval, IN, date(2026, 6, 29))]),  # overdue by 1
        Spec(NANGUAN, steps=[Step_(Step.approval, IN, date(2026, 7, 1), closed_on=date(2026, 6, 20))]),  # closed
        Spec(NANGUAN, steps=[Step_(Step.escalation_window, IN, date(2026, 7, 1))]),  # the petitioner's
        Spec(CHAOYANG, steps=[Step_(Step.whole_review, IN, date(2026, 6, 30))]),  # due today, at the sibling
    )
    return named


def test_repeat_petitioners_across_bureaus(dbs, ids, cases):
    province = warnings_for(dbs, ids, PROVINCE)
    [group] = province.repeat_petitioners
    expected = set(cases["repeat_ng"] + cases["repeat_cc"] + cases["repeat_cy"])
    assert (group.label, group.count, group.bureaus, case_ids(group)) == ("李四", 4, 3, expected)
    # 南关区 alone: its own two cases only.
    [group] = warnings_for(dbs, ids, NANGUAN).repeat_petitioners
    assert (group.count, group.bureaus, case_ids(group)) == (2, 1, set(cases["repeat_ng"]))
    # 朝阳区 has one case of that petitioner: no warning, and nothing of 南关区 leaks in.
    assert warnings_for(dbs, ids, CHAOYANG).repeat_petitioners == []
    # A higher threshold.
    assert warnings_for(dbs, ids, NANGUAN, repeat_min=3).repeat_petitioners == []
    assert len(warnings_for(dbs, ids, CHANGCHUN, repeat_min=4).repeat_petitioners) == 1
    assert warnings_for(dbs, ids, CHANGCHUN, repeat_min=5).repeat_petitioners == []


def test_clusters_by_document_and_by_issue(dbs, ids, cases):
    found = warnings_for(dbs, ids, CHANGCHUN, document_min=2, issue_min=4)
    by_ids = {frozenset(case_ids(g)): g for g in found.document_clusters}
    doc = by_ids[frozenset(cases["doc"])]
    assert doc.count == 3 and doc.bureaus == 2 and doc.disputed_bureau.startswith("南关区")
    other = by_ids[frozenset(cases["doc_other_issuer"])]  # same number, another issuer: its own cluster
    assert other.count == 2 and other.disputed_bureau.startswith("朝阳区")
    assert frozenset(cases["doc_case"]) in by_ids  # spaces and letter case do not split a document
    # With the default threshold (3) only the three-case document remains.
    assert [case_ids(g) for g in warnings_for(dbs, ids, CHANGCHUN).document_clusters] == [set(cases["doc"])]

    issues = {(g.disputed_bureau, g.disputed_kind): g for g in found.issue_clusters}
    handling = [g for (b, k), g in issues.items() if b.startswith("朝阳区") and k is OpinionKind.handling]
    assert len(handling) == 1 and case_ids(handling[0]) >= set(cases["issue"])
    assert not [g for (b, k), g in issues.items() if k is OpinionKind.review]  # three only: below 4
    review = warnings_for(dbs, ids, CHANGCHUN, issue_min=3).issue_clusters
    assert any(g.disputed_kind is OpinionKind.review and case_ids(g) == set(cases["issue_review"]) for g in review)
    # The county sees no cluster made of its parent's cases.
    county = warnings_for(dbs, ids, NANGUAN, document_min=2, issue_min=2)
    assert all(c.tenant_id == ids[NANGUAN] for g in county.document_clusters + county.issue_clusters for c in g.cases)


def test_sensitive_cases(dbs, ids, cases):
    city = warnings_for(dbs, ids, CHANGCHUN)
    assert {c.id for c in city.sensitive} == set(cases["sensitive_open_old"] + cases["sensitive_closed_new"])
    assert city.sensitive_total == 2
    assert {c.id for c in warnings_for(dbs, ids, NANGUAN).sensitive} == set(cases["sensitive_closed_new"])
    assert {c.id for c in warnings_for(dbs, ids, CHAOYANG).sensitive} == set(cases["sensitive_open_old"])


def test_steps_due_soon_and_overdue(dbs, ids, cases):
    due = cases["due"]
    county = warnings_for(dbs, ids, NANGUAN, due_days=5)
    assert [(r.case.id, r.step, r.days) for r in county.due_soon] == [(due[0], Step.division_review, 2)]
    assert [(r.case.id, r.step, r.days) for r in county.overdue] == [(due[2], Step.approval, -1)]
    assert (county.due_soon_total, county.overdue_total) == (1, 1)
    wider = warnings_for(dbs, ids, NANGUAN, due_days=10)
    assert [r.case.id for r in wider.due_soon] == [due[0], due[1]]
    city = warnings_for(dbs, ids, CHANGCHUN, due_days=5)
    assert [r.case.id for r in city.due_soon] == [due[5], due[0]]  # across the tree, nearest first
    assert city.due_soon[0].case.bureau_name.startswith("朝阳区")
    assert [r.case.id for r in warnings_for(dbs, ids, CHAOYANG).due_soon] == [due[5]]
