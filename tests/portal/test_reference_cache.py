"""Reference data kept per process (``portal.memo``): read once, used while the version row says it is current.

Any change to a kept table, by this process, another one or an administrator at the database, moves the version in
the changing transaction (a trigger), so the next transaction of every process reads the table again.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from portal.accounts.absences import add_absence
from portal.calendar_admin import load_calendar_year
from portal.cases.calendar import get_calendar, get_step_rules
from portal.cases.context import BureauStaff
from portal.memo import current_version
from portal.roles import Role
from portal.workflow import Step
from tenants.scoping import (
    TenantScope,
    TenantScopeMissing,
    scope_for_bureau,
    scoped,
    set_scope,
    subtree_ids,
    system_scope,
)
from tenants.tree import bureau_info, get_bureau
from tests.helpers import make_staff

CITY, SIBLING_CITY = "220100", "220200"  # 长春市, 吉林市


@contextmanager
def statements(dbs):
    """The SQL statements ``dbs`` sends inside the block."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    engine = dbs.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def reads(seen: list[str], table: str) -> int:
    return sum(f"FROM {table}" in s for s in seen)


@pytest.fixture
def owner(owner_engine):
    """Another process: a session of its own on its own connection (the table owner's, as an administrator)."""
    with Session(owner_engine) as session, system_scope(session):
        yield session


def test_time_limits_calendar_and_tree_are_read_once_until_anyone_changes_them(dbs, owner):
    city = get_bureau(dbs, CITY).id
    dbs.commit()
    rules, calendar, tree = get_step_rules(dbs), get_calendar(dbs), subtree_ids(dbs, city)
    dbs.commit()
    with statements(dbs) as seen:
        assert get_step_rules(dbs) == rules and get_calendar(dbs) is calendar and subtree_ids(dbs, city) == tree
        dbs.commit()
    assert reads(seen, "step_rules") == reads(seen, "calendar_years") == reads(seen, "bureaus") == 0
    assert reads(seen, "reference_version") == 1  # once per transaction

    # A database administrator changes the time-limit table (there is no page for it).
    owner.execute(
        text(
            "INSERT INTO step_rules (step, amount, unit, owed_by, ref) VALUES ('escalation_window', 45, 'days',"
            " 'petitioner', '测试') ON CONFLICT (step) DO UPDATE SET amount = 45"
        )
    )
    owner.commit()
    assert rules[Step.escalation_window].amount == 30
    assert get_step_rules(dbs)[Step.escalation_window].amount == 45


def test_a_calendar_year_loaded_by_an_administrator_is_used_at_once(dbs, owner):
    dbs.commit()
    assert not get_calendar(dbs).covers(2031)
    dbs.commit()
    year_file = (
        '{"year": 2031, "source": "国务院办公厅关于2031年部分节假日安排的通知（测试）",'
        ' "holidays": [{"date": "2031-01-01", "name": "元旦"}], "workdays": []}'
    ).encode()
    load_calendar_year(owner, "2031.json", year_file)  # the admin page's operation, in another process
    owner.commit()
    assert get_calendar(dbs).covers(2031)


def test_staff_changes_reach_the_kept_staff_at_once_but_sign_ins_do_not_move_the_version(dbs, owner):
    city = get_bureau(dbs, CITY).id
    dbs.commit()
    set_scope(dbs, scope_for_bureau(dbs, city))
    before = BureauStaff(dbs, city)
    version = current_version(dbs)
    dbs.commit()
    leader = make_staff(owner, CITY, Role.petitions_leader, username="new_pl")
    add_absence(owner, city, user_id=leader.id, starts_on=date(2026, 12, 1), ends_on=date(2026, 12, 3))
    owner.commit()
    after = BureauStaff(dbs, city)
    assert leader.id not in {u.id for u in before.leaders}
    assert leader.id in {v.user_id for v in after.leaders_with(Role.petitions_leader)}
    assert next(v for v in after.leader_views if v.user_id == leader.id).absences[0].start == date(2026, 12, 1)
    moved = current_version(dbs)
    assert moved != version
    dbs.commit()

    # A sign-in writes the staff row (last login, failed attempts): the kept staff stay current, nothing is read.
    owner.execute(
        text("UPDATE staff_users SET last_login_at = now(), failed_logins = failed_logins + 1 WHERE id = :i"),
        {"i": leader.id},
    )
    owner.commit()
    assert current_version(dbs) == moved
    dbs.commit()
    # A change of roles is a change of the staff.
    owner.execute(text("UPDATE staff_users SET roles = '{business_leader}' WHERE id = :i"), {"i": leader.id})
    owner.commit()
    assert current_version(dbs) != moved
    assert leader.id not in {v.user_id for v in BureauStaff(dbs, city).leaders_with(Role.petitions_leader)}


def test_kept_staff_are_given_only_to_a_scope_that_may_read_their_bureau(dbs):
    city, sibling = get_bureau(dbs, CITY).id, get_bureau(dbs, SIBLING_CITY).id
    make_staff(dbs, CITY, Role.petitions_leader)
    with scoped(dbs, scope_for_bureau(dbs, city)):
        kept = BureauStaff(dbs, city)
        assert kept.units and kept.leaders
    with scoped(dbs, scope_for_bureau(dbs, sibling)):
        other = BureauStaff(dbs, city)  # read through the scope, as any query: nothing of another bureau
        assert not other.units and not other.leaders
    with scoped(dbs, TenantScope.single(get_bureau(dbs, "220000").id)):
        assert not BureauStaff(dbs, city).units  # the province's own scope (not its subtree) reads nothing either
    set_scope(dbs, None)
    with pytest.raises(TenantScopeMissing):
        BureauStaff(dbs, city)


def test_a_transaction_that_changes_the_tree_reads_its_own_change_and_keeps_it_from_others(dbs, owner):
    city = get_bureau(dbs, CITY)
    dbs.commit()
    assert bureau_info(dbs, city.id).name == "长春市社会保险局"
    dbs.commit()
    city.name = "长春市社会保险事业管理局"
    dbs.flush()
    assert bureau_info(dbs, city.id).name == "长春市社会保险事业管理局"  # its own, uncommitted change
    dbs.rollback()
    assert bureau_info(dbs, city.id).name == "长春市社会保险局"  # rolled back: never kept for anyone
