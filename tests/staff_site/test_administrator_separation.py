"""Separation of administrators (三员管理) and the append-only audit log of administrative changes."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from portal.accounts.operations import AccountError, create_user
from portal.roles import Role
from tenants.tree import get_bureau
from tests.helpers import PASSWORD, csrf_token, login, make_staff
from tests.staff_site.conftest import Browser


def rows(owner_engine, sql: str, **params):
    with owner_engine.connect() as conn:
        return conn.execute(text(sql), params).mappings().all()


def post(client, path: str, data: dict | None = None, form_page: str | None = None):
    return client.post(path, data={"csrf_token": csrf_token(client, form_page or path), **(data or {})})


@pytest.mark.parametrize(
    "roles",
    [
        [Role.bureau_admin, Role.security_admin],
        [Role.bureau_admin, Role.audit_admin],
        [Role.security_admin, Role.audit_admin],
    ],
)
def test_no_account_holds_two_administrator_roles(dbs, roles):
    with pytest.raises(AccountError, match="no account may hold two"):
        create_user(dbs, bureau=get_bureau(dbs, "220100"), username="two_hats", password=PASSWORD, roles=roles)


def test_admin_changes_are_audited_and_only_the_auditor_reads_them(app, dbs, owner_engine):
    make_staff(dbs, "220100", Role.bureau_admin, username="cc_sysadmin")
    make_staff(dbs, "220100", Role.security_admin, username="cc_secadmin")
    make_staff(dbs, "220100", Role.audit_admin, username="cc_auditor")
    clerk = make_staff(dbs, "220100", Role.petition_clerk, username="cc_clerk_audited")
    page = f"/staff/admin/users/{clerk.id}"

    system = Browser(app)
    login(system, "cc_sysadmin")
    # Roles and password resets are the security administrator's, not the system administrator's.
    assert post(system, f"{page}/roles", {"roles": ["petitions_leader"]}, form_page=page).status_code == 403
    assert post(system, f"{page}/password", form_page=page).status_code == 403

    security = Browser(app)
    security.client.environ_base.update({"REMOTE_ADDR": "10.8.0.1"})
    login(security, "cc_secadmin")
    assert security.get(page).status_code == 200
    changed = post(security, f"{page}/roles", {"roles": ["petition_clerk", "petitions_leader"]}, form_page=page)
    assert changed.status_code == 302
    assert post(security, page, {"unit_id": ""}).status_code == 403  # the unit is the system administrator's
    assert post(security, f"{page}/password", form_page=page).status_code == 200

    entries = rows(owner_engine, "SELECT actor_username, action, target, before, after, ip FROM audit_log ORDER BY id")
    assert [(e["actor_username"], e["action"], e["target"]) for e in entries] == [
        ("cc_secadmin", "user_roles_changed", "cc_clerk_audited"),
        ("cc_secadmin", "password_reset", "cc_clerk_audited"),
    ]
    assert entries[0]["before"]["roles"] == ["petition_clerk"]
    assert entries[0]["after"]["roles"] == ["petition_clerk", "petitions_leader"]
    assert entries[0]["ip"] == "10.8.0.1"

    # Only the audit administrator reads and exports the log.
    for client in (system, security):
        assert client.get("/staff/audit/").status_code == 403
        assert client.get("/staff/audit/export.csv").status_code == 403
    auditor = Browser(app)
    login(auditor, "cc_auditor")
    listing = auditor.get("/staff/audit/?lang=en").get_data(as_text=True)
    assert "user_roles_changed" in listing and "cc_secadmin" in listing
    exported = auditor.get("/staff/audit/export.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0][:4] == ["at", "bureau_id", "actor", "action"]
    assert {row[3] for row in table[1:]} == {"user_roles_changed", "password_reset"}


def test_the_audit_log_is_append_only_for_180_days(app, dbs, owner_engine):
    from portal import audit
    from tenants.scoping import system_scope

    bureau = get_bureau(dbs, "220100")
    now = datetime.now(UTC)
    audit.record(dbs, bureau_id=bureau.id, actor="x", action="unit_added", target="a", at=now - timedelta(days=179))
    audit.record(dbs, bureau_id=bureau.id, actor="x", action="unit_added", target="b", at=now - timedelta(days=181))
    dbs.commit()
    for statement in ("UPDATE audit_log SET target = 'changed'", "DELETE FROM audit_log WHERE target = 'a'"):
        with pytest.raises(DBAPIError, match="append-only"), owner_engine.begin() as conn:
            conn.execute(text(statement))
    # Housekeeping removes only what is past the retention (never less than 180 days).
    with system_scope(dbs):
        assert audit.purge_expired(dbs, now=now, retention_days=30) == 1
        dbs.commit()
    assert [r["target"] for r in rows(owner_engine, "SELECT target FROM audit_log")] == ["a"]


def test_the_queue_monitor_is_the_provinces(app, dbs):
    make_staff(dbs, "220102", Role.bureau_admin, username="ng_admin_ops")
    county = Browser(app)
    login(county, "ng_admin_ops")
    assert county.get("/staff/ops/queues").status_code == 403
