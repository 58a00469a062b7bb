"""Tenant isolation, proven for every tenant-owned model and every staff and API route automatically.

Bureau B is 南关区 (a county of 长春市); A is its sibling 朝阳区; 长春市 and the province are B's ancestors.
Staff of A must never see or change B's rows (404 on the web); ancestors read them but never write.
"""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from portal.db import tenant_owned_models
from portal.roles import Role
from tenants.scoping import CrossTenantWrite, TenantScope, apply_scope, scope_for_bureau, scoped, system_scope
from tenants.tree import get_bureau
from tests.helpers import app_role_engine, csrf_token, login, make_staff
from tests.isolation_registry import MODEL_FACTORIES, ROUTE_PARAMS

B, SIBLING, PARENT, PROVINCE = "220102", "220104", "220100", "220000"
MODELS = sorted(tenant_owned_models(), key=lambda m: m.__name__)


def _id(session, adcode: str) -> int:
    return get_bureau(session, adcode).id


def _marker() -> str:
    return f"ISOLATION-{uuid.uuid4().hex[:12]}"


def test_every_tenant_owned_model_has_a_factory():
    missing = [m.__name__ for m in MODELS if m not in MODEL_FACTORIES]
    assert not missing, f"add these models to tests/isolation_registry.py MODEL_FACTORIES: {missing}"


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_orm_scope_hides_rows_of_other_bureaus(app, owner_engine, model):
    """The first wall alone: the session runs as the table owner, so row-level security does not help here."""
    with app.app_context(), Session(owner_engine) as owner_session, system_scope(owner_session):
        _check_orm_scope(owner_session, model)


def _check_orm_scope(dbs, model) -> None:
    b_id = _id(dbs, B)
    row = MODEL_FACTORIES[model](dbs, b_id, _marker())
    row_id = row.id
    dbs.expunge_all()

    with scoped(dbs, scope_for_bureau(dbs, _id(dbs, SIBLING))):
        assert dbs.scalar(select(model).where(model.id == row_id)) is None
        assert dbs.scalars(select(model).where(model.tenant_id == b_id)).all() == []
    for ancestor in (PARENT, PROVINCE):
        with scoped(dbs, scope_for_bureau(dbs, _id(dbs, ancestor))):
            seen = dbs.scalar(select(model).where(model.id == row_id))
            assert seen is not None, f"{ancestor} must read its descendant's {model.__name__}"
            # Supervision is read-only: a change by the ancestor is refused before it reaches the database.
            column = next(a.key for a in inspect(model).column_attrs if not a.columns[0].primary_key)
            setattr(seen, column, getattr(seen, column))
            dbs.add(seen)
            with pytest.raises(CrossTenantWrite):
                dbs.flush()
            dbs.rollback()
            dbs.expunge_all()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_row_level_security_is_the_second_wall(dbs, settings, model):
    """Raw SQL as the app's database role: the GUCs of the transaction decide, whatever the ORM does."""
    b_id = _id(dbs, B)
    MODEL_FACTORIES[model](dbs, b_id, _marker())
    table = model.__table__.name
    sibling = TenantScope(acting=_id(dbs, SIBLING), readable=frozenset({_id(dbs, SIBLING)}))
    engine = app_role_engine(settings)
    try:
        with engine.begin() as conn:
            # No scope at all: fails closed.
            assert conn.scalar(text(f"SELECT count(*) FROM {table}")) == 0
        with engine.begin() as conn:
            _set(conn, sibling)
            assert conn.scalar(text(f"SELECT count(*) FROM {table} WHERE tenant_id = :b"), {"b": b_id}) == 0
        assert _rows_changed(engine, sibling, model.__table__, b_id) == 0
        with engine.begin() as conn:
            parent = _id(dbs, PARENT)
            _set(conn, TenantScope(acting=parent, readable=frozenset({parent, b_id})))
            assert conn.scalar(text(f"SELECT count(*) FROM {table} WHERE tenant_id = :b"), {"b": b_id}) >= 1
        assert _rows_deleted(engine, TenantScope(acting=parent, readable=frozenset({parent, b_id})), table, b_id) == 0
    finally:
        engine.dispose()


def _rows_changed(engine, scope: TenantScope, table, b_id: int) -> int:
    """UPDATE every row of bureau ``b_id`` under ``scope``; tables whose UPDATE is revoked outright count as 0."""
    try:
        with engine.begin() as conn:
            _set(conn, scope)
            return conn.execute(
                update(table).where(table.c.tenant_id == b_id).values(tenant_id=table.c.tenant_id)
            ).rowcount
    except ProgrammingError as exc:
        assert "permission denied" in str(exc)
        return 0


def _rows_deleted(engine, scope: TenantScope, table: str, b_id: int) -> int:
    """DELETE every row of bureau ``b_id`` under ``scope``; tables whose DELETE is revoked outright count as 0."""
    try:
        with engine.begin() as conn:
            _set(conn, scope)
            return conn.execute(text(f"DELETE FROM {table} WHERE tenant_id = :b"), {"b": b_id}).rowcount
    except ProgrammingError as exc:
        assert "permission denied" in str(exc)
        return 0


def _set(conn, scope: TenantScope) -> None:
    apply_scope(conn, scope)


# Blueprints that serve no tenant data behind a staff sign-in; every other route is walked, so a new blueprint is
# covered without anyone remembering. The public site guards its own look-ups by case number and access code.
UNWALKED_BLUEPRINTS = {"public", "health"}


def _walked_rules(app):
    return sorted(
        (
            r
            for r in app.url_map.iter_rules()
            if r.endpoint != "static" and r.endpoint.partition(".")[0] not in UNWALKED_BLUEPRINTS
        ),
        key=lambda r: r.rule,
    )


def test_every_route_parameter_is_known(app):
    unknown = {(r.rule, arg) for r in _walked_rules(app) for arg in r.arguments if arg not in ROUTE_PARAMS}
    assert not unknown, f"add these URL parameters to tests/isolation_registry.py ROUTE_PARAMS: {sorted(unknown)}"


# The walk signs in with every role at once, but no account may hold two of the three administrator roles: one
# walk for the system administrator (with every business role), one each for the security and audit ones.
WALK_ROLES = {
    "system": [r for r in Role if r not in (Role.province_admin, Role.security_admin, Role.audit_admin)],
    "security": [r for r in Role if r not in (Role.province_admin, Role.bureau_admin, Role.audit_admin)],
    "audit": [r for r in Role if r not in (Role.province_admin, Role.bureau_admin, Role.security_admin)],
}


@pytest.mark.parametrize("walker", sorted(WALK_ROLES))
def test_route_walk_other_bureau_gets_404_and_sees_nothing(app, client, dbs, walker):
    """Sign in at the sibling bureau and call every staff and API route with the other bureau's objects."""
    b_id = _id(dbs, B)
    markers = []
    for factory in MODEL_FACTORIES.values():
        markers.append(_marker())
        factory(dbs, b_id, markers[-1])
    rules = _walked_rules(app)
    args = {}
    for rule in rules:
        for arg in rule.arguments:
            if arg not in args:
                markers.append(_marker())
                args[arg] = ROUTE_PARAMS[arg](dbs, b_id, markers[-1])
    roles = WALK_ROLES[walker]
    user = make_staff(dbs, SIBLING, *roles, unit="petition_office", username="iso_sibling_all_roles")
    assert login(client, user.username).status_code == 302
    token = csrf_token(client, "/staff/")

    checked = 0
    for rule in rules:
        url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(args[m.group(1)]), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.endpoint in ("staff.logout",):
                continue  # signing out would end the walk; it touches no tenant data
            response = client.open(url, method=method, data={"csrf_token": token} if method != "GET" else None)
            body = response.get_data(as_text=True)
            if rule.arguments:
                assert response.status_code == 404, f"{method} {rule.rule} answered {response.status_code}"
            for marker in markers:
                assert marker not in body, f"{method} {rule.rule} leaked another bureau's data"
            checked += 1
    assert checked >= 4
