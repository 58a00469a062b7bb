"""The time-limit table, the calendar and the bureau subtree are read once per transaction, and a write by the same
session (unflushed, flushed or bulk) or the end of the transaction makes the next read see the database again."""

from __future__ import annotations

import json

from sqlalchemy import event, select, update

from portal.cases.calendar import get_calendar, get_step_rules, load_year, seed_step_rules
from portal.cases.models import StepRuleRow
from portal.extensions import db
from portal.workflow import Step
from tenants.models import BureauLevel
from tenants.scoping import subtree_ids
from tenants.tree import add_bureau, get_bureau
from tests.portal.cases.test_deadlines import TEST_2027


def test_the_time_limit_table_is_read_once_and_follows_writes(dbs):
    seed_step_rules(dbs)
    dbs.commit()
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        first = get_step_rules(dbs)
        first[Step.acceptance] = None  # a caller's copy, not the memo
        assert get_step_rules(dbs)[Step.acceptance].amount == 15
        assert sum("FROM step_rules" in s for s in seen) == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", count)

    row = dbs.scalar(select(StepRuleRow).where(StepRuleRow.step == Step.acceptance))
    row.amount = 10  # not flushed yet
    assert get_step_rules(dbs)[Step.acceptance].amount == 10
    dbs.execute(update(StepRuleRow).where(StepRuleRow.step == Step.acceptance).values(amount=12))
    assert get_step_rules(dbs)[Step.acceptance].amount == 12
    dbs.rollback()
    assert get_step_rules(dbs)[Step.acceptance].amount == 15


def test_a_loaded_year_and_a_new_bureau_are_seen_in_the_same_transaction(dbs, tmp_path):
    assert not get_calendar(dbs).covers(2027)
    path = tmp_path / "2027.json"
    path.write_text(json.dumps(TEST_2027, ensure_ascii=False), encoding="utf-8")
    load_year(dbs, str(path))
    assert get_calendar(dbs).covers(2027)

    city = get_bureau(dbs, "220100")
    before = subtree_ids(dbs, city.id)
    new = add_bureau(dbs, division_name="测试区", level=BureauLevel.county, parent=city, with_units=False)
    assert set(subtree_ids(dbs, city.id)) == {*before, new.id}
