"""Helpers for tests: factories of real rows and a browser-like sign-in."""

from __future__ import annotations

import itertools
import re

from portal.accounts.operations import create_user
from portal.roles import Role
from tenants.tree import get_bureau

PASSWORD = "Correct-horse-42"
#: Every role one account may hold at once at a bureau below the province: all but the province administrator and
#: the security and audit administrators (no account holds two of the three administrators' roles).
EVERY_ROLE = [r for r in Role if r not in (Role.province_admin, Role.security_admin, Role.audit_admin)]
_counter = itertools.count(1)


def make_staff(session, adcode: str, *roles: Role, unit: str | None = None, username: str | None = None):
    """Create a staff user at the bureau with ``adcode`` (committed, so the web app sees it)."""
    bureau = get_bureau(session, adcode)
    user = create_user(
        session,
        bureau=bureau,
        username=username or f"u{next(_counter)}_{adcode}",
        password=PASSWORD,
        roles=list(roles) or [Role.petition_clerk],
        unit_code=unit,
    )
    session.commit()
    return user


def csrf_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    token = csrf_token(client, "/staff/login")
    return client.post("/staff/login", data={"csrf_token": token, "username": username, "password": password})


def app_role_engine(settings):
    """A raw engine of the app's database role that signs its scopes like the app (``tenants.rls``)."""
    from sqlalchemy import create_engine, pool

    from portal.dbsetup import scope_key_from_secret
    from tenants.scoping import sign_scopes_on

    engine = create_engine(settings.database_url, poolclass=pool.NullPool)
    sign_scopes_on(engine, scope_key_from_secret(settings.secret_key))
    return engine


def sql_of(app, request):
    """The response of ``request()`` (a request run in its own app context, as in production) and the SQL
    statements it sent, each on one line."""
    from sqlalchemy import event

    from portal.extensions import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = request()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return response, seen


def reads(statements: list[str], fragment: str) -> int:
    """How many of ``statements`` contain ``fragment``."""
    return sum(fragment in s for s in statements)
