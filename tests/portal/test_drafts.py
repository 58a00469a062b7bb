"""The public application's drafts: sealed and bound to their row, read only within their time, purged after it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import select, text

from portal.petitioners.drafts import (
    MAX_VALUE,
    TTL,
    ApplicationDraft,
    Draft,
    delete_draft,
    load_draft,
    purge_expired_drafts,
    save_draft,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def pii(app):
    return app.extensions["portal.pii"]


def a_draft() -> Draft:
    return Draft(
        values={"petitioner.name": "张三", "petitioner.id_number": "11010519491231002X", "request": "请求撤销。"},
        uploads=[str(uuid.uuid4())],
        joint_rows=2,
        outcome={"step": "petitioner", "status": 422, "errors": {"petitioner.phone": ["联系电话格式不正确", "bad"]}},
    )


def test_a_draft_comes_back_as_it_was_saved_and_holds_nothing_readable(dbs, pii, owner_engine):
    draft = a_draft()
    save_draft(dbs, pii, draft, now=NOW)
    dbs.commit()
    assert load_draft(dbs, pii, str(draft.id), now=NOW + timedelta(hours=1)) == draft
    with owner_engine.connect() as conn:
        stored = bytes(conn.scalar(text("SELECT sealed FROM application_drafts WHERE id = :id"), {"id": draft.id}))
    for clear in ("张三", "11010519491231002X", "请求撤销", "petitioner"):
        assert clear.encode() not in stored


def test_saving_again_replaces_the_contents_and_restarts_the_clock(dbs, pii):
    draft = a_draft()
    save_draft(dbs, pii, draft, now=NOW)
    draft.values["petitioner.name"] = "李四"
    draft.outcome = None
    save_draft(dbs, pii, draft, now=NOW + timedelta(hours=20))
    dbs.commit()
    again = load_draft(dbs, pii, str(draft.id), now=NOW + timedelta(hours=30))
    assert again.values["petitioner.name"] == "李四" and again.outcome is None
    assert dbs.scalar(select(ApplicationDraft.updated_at)) == NOW + timedelta(hours=20)


def test_a_sealed_draft_moved_to_another_row_does_not_open(dbs, pii):
    first, second = a_draft(), Draft(values={"request": "x"})
    save_draft(dbs, pii, first, now=NOW)
    save_draft(dbs, pii, second, now=NOW)
    dbs.flush()
    sealed = dbs.get(ApplicationDraft, first.id).sealed
    dbs.get(ApplicationDraft, second.id).sealed = sealed
    dbs.flush()
    with pytest.raises(InvalidTag):
        load_draft(dbs, pii, str(second.id), now=NOW)


@pytest.mark.parametrize("draft_id", [None, "", "not-a-uuid", str(uuid.uuid4())])
def test_no_draft_for_a_missing_or_unknown_id(dbs, pii, draft_id):
    save_draft(dbs, pii, a_draft(), now=NOW)
    assert load_draft(dbs, pii, draft_id, now=NOW) is None


def test_past_its_time_a_draft_is_not_read_and_housekeeping_deletes_it(dbs, pii):
    old, fresh = a_draft(), a_draft()
    save_draft(dbs, pii, old, now=NOW - TTL - timedelta(minutes=1))
    save_draft(dbs, pii, fresh, now=NOW - TTL + timedelta(minutes=1))
    dbs.commit()
    assert load_draft(dbs, pii, str(old.id), now=NOW) is None
    assert load_draft(dbs, pii, str(fresh.id), now=NOW) == fresh
    assert purge_expired_drafts(dbs, now=NOW) == 1
    assert dbs.scalars(select(ApplicationDraft.id)).all() == [fresh.id]


def test_deleted_is_gone(dbs, pii):
    draft = a_draft()
    save_draft(dbs, pii, draft, now=NOW)
    delete_draft(dbs, draft.id)
    assert load_draft(dbs, pii, str(draft.id), now=NOW) is None


def test_a_value_is_kept_up_to_a_bound_and_an_empty_one_is_dropped():
    draft = Draft(values={"request": "old"})
    draft.set("facts_and_reasons", "字" * (MAX_VALUE + 5))
    draft.set("request", "")
    assert len(draft.values["facts_and_reasons"]) == MAX_VALUE and "request" not in draft.values
