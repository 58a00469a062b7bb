"""The province's dashboard over 50,000 generated cases: the rollups of the period are read through their index.

The million-case measurement belongs to ``bench/``; this test keeps the plans honest in the suite: if the rollups'
unique index goes, or a query stops using it for a part of the data, it fails. It prints the plans and timings
(``pytest -s``) for the record.
"""

from __future__ import annotations

import time
from datetime import date

import pytest
from sqlalchemy import event

from portal.supervision.stats import Period, compute_figures
from portal.supervision.warnings import compute_warnings
from tenants.models import Bureau
from tenants.scoping import scope_for_bureau, scoped
from tests.supervision.helpers import PROVINCE, bulk_generate

CASES = 50_000
PERIOD = Period(date(2025, 1, 1), date(2026, 12, 31))
TODAY = date(2026, 6, 30)


@pytest.fixture
def volume(owner_engine, dbs):
    bulk_generate(owner_engine, CASES)


def _capture(engine):
    captured = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if "_rollups" in statement:
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listener)
    return captured, lambda: event.remove(engine, "before_cursor_execute", listener)


def _timed(dbs, scope, province, period):
    with scoped(dbs, scope):
        compute_figures(dbs, province, period, TODAY)  # warm the caches once
        started = time.perf_counter()
        figures = compute_figures(dbs, province, period, TODAY)
        return figures, time.perf_counter() - started


def test_province_dashboard_uses_the_covering_indexes(dbs, ids, volume):
    province = dbs.get(Bureau, ids[PROVINCE])
    scope = scope_for_bureau(dbs, ids[PROVINCE])
    quarter = Period(date(2026, 4, 1), date(2026, 6, 30))
    report = []
    for label, period in (("two years (every case)", PERIOD), ("one quarter", quarter)):
        figures, elapsed = _timed(dbs, scope, province, period)
        report.append(f"{label}: {figures.totals.received} cases, {elapsed * 1000:.0f} ms as the province")
        if period is PERIOD:
            assert figures.totals.received == CASES

    engine = dbs.get_bind()
    captured, stop = _capture(engine)
    try:
        with scoped(dbs, scope):
            compute_figures(dbs, province, quarter, TODAY)
            started = time.perf_counter()
            compute_warnings(dbs, province, PERIOD, TODAY)
            report.append(f"warnings over two years: {(time.perf_counter() - started) * 1000:.0f} ms")
            plans = []
            for statement, parameters in captured[:2]:
                rows = dbs.connection().exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                plans.append("\n".join(r[0] for r in rows))
    finally:
        stop()
    print("\n" + "\n".join(report))
    for plan in plans:
        print(plan)
    cases_plan, steps_plan = plans
    # A quarter's whole months: month rows of every bureau through the unique index, never the whole table.
    assert "uq_case_rollups_tenant_id_grain_day_dim_value" in cases_plan and "Seq Scan" not in cases_plan
    assert "uq_deadline_rollups_tenant_id_grain_day_step_status_due_on" in steps_plan
    assert "Seq Scan" not in steps_plan
    assert "Disk" not in cases_plan + steps_plan, "sorts and hashes stay in memory"
