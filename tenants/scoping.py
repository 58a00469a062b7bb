"""Tenant scoping: the one place that limits every query and every write to the bureaus a session may touch.

A session carries a ``TenantScope``. Hooks on every SQLAlchemy ``Session``:

- ``do_orm_execute`` adds ``tenant_id IN (readable bureaus)`` to every ORM SELECT of a tenant-owned model, and
  ``tenant_id = acting bureau`` to ORM UPDATE/DELETE statements;
- ``before_flush`` stamps new tenant-owned rows with the acting bureau and refuses to write any row of another
  bureau (an ancestor supervises read-only);
- ``after_begin`` copies the scope into the transaction (``SET LOCAL`` style ``set_config(..., true)``) so that
  PostgreSQL row-level security enforces the same rule a second time (``tenants.rls``). A scope changed inside
  an open transaction reaches the database just before the next statement that needs it (an ORM or
  ``session.execute`` statement, or a flush), once: switching back and forth with nothing run in between (a
  look-up under the system scope, then the previous scope restored at the end of a request) costs nothing.

Without a scope a query of a tenant-owned model raises ``TenantScopeMissing``: it fails closed and never falls
back to a default bureau. ``session.get()`` can return an object already in the identity map without running a
query, so code loads tenant-owned rows with ``select()`` instead.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session, scoped_session, with_loader_criteria

from portal.db import TenantOwned
from portal.memo import memoized
from tenants.models import Bureau

_INFO_KEY = "tenant_scope"


class TenantScopeMissing(RuntimeError):
    """A tenant-owned table was queried or written without a scope."""


class CrossTenantWrite(PermissionError):
    """A write reached a row of a bureau other than the acting one."""


@dataclass(frozen=True)
class TenantScope:
    """Which bureau acts (may write) and which bureaus may be read; ``system`` sees and writes everything."""

    acting: int | None
    readable: frozenset[int]
    system: bool = False

    @classmethod
    def system_wide(cls) -> TenantScope:
        return cls(acting=None, readable=frozenset(), system=True)

    @classmethod
    def single(cls, bureau_id: int) -> TenantScope:
        return cls(acting=bureau_id, readable=frozenset({bureau_id}))

    def can_read(self, tenant_id: int) -> bool:
        return self.system or tenant_id in self.readable

    def can_write(self, tenant_id: int) -> bool:
        return self.system or tenant_id == self.acting

    def gucs(self) -> dict[str, str]:
        return {
            "app.system": "on" if self.system else "",
            "app.tenant_id": "" if self.acting is None else str(self.acting),
            "app.readable": "{" + ",".join(str(t) for t in sorted(self.readable)) + "}",
        }


def scope_for_bureau(session: Session, bureau_id: int) -> TenantScope:
    """Scope of staff at ``bureau_id``: act there, read it and every bureau below it (supervision)."""
    return TenantScope(acting=bureau_id, readable=frozenset(subtree_ids(session, bureau_id)))


def subtree_ids(session: Session, bureau_id: int) -> list[int]:
    """Ids of the bureau and every bureau below it, in one indexed prefix query (once per transaction)."""

    def load() -> list[int]:
        path = select(Bureau.path).where(Bureau.id == bureau_id).scalar_subquery()
        return list(session.scalars(select(Bureau.id).where(Bureau.path.startswith(path))))

    return list(memoized(session, f"subtree_ids:{bureau_id}", (Bureau,), load))  # a copy: the memo is shared


def _real(session: Session | scoped_session) -> Session:
    return session() if isinstance(session, scoped_session) else session


def get_scope(session: Session | scoped_session) -> TenantScope | None:
    return _real(session).info.get(_INFO_KEY)


def set_scope(session: Session | scoped_session, scope: TenantScope | None) -> None:
    """Give ``session`` a scope; an open transaction gets the database settings before its next statement."""
    session = _real(session)
    if scope is None:
        session.info.pop(_INFO_KEY, None)
    else:
        session.info[_INFO_KEY] = scope


# The scope whose settings the session's open transaction carries (``_UNKNOWN``: none known, apply before use).
_APPLIED_KEY = "tenant_scope_applied"
_UNKNOWN = object()


def _bring_settings_up_to_date(session: Session) -> None:
    """Copy the session's scope into its open transaction if it changed since it was last copied there."""
    if not session.in_transaction():
        return  # the transaction that begins gets the settings in ``after_begin``
    connection = session.connection()  # may begin on the connection (``after_begin`` then copies the scope)
    scope = get_scope(session)
    if session.info.get(_APPLIED_KEY, _UNKNOWN) != scope:
        _apply_gucs(connection, scope)
        session.info[_APPLIED_KEY] = scope


@contextmanager
def scoped(session: Session, scope: TenantScope) -> Iterator[Session]:
    """Run a block under ``scope`` and restore the previous one afterwards."""
    previous = get_scope(session)
    set_scope(session, scope)
    try:
        yield session
    finally:
        set_scope(session, previous)


def system_scope(session: Session):
    """Run a block with system-wide access: for workers, sweeps, sign-in look-ups and the command line only."""
    return scoped(session, TenantScope.system_wide())


_KEY_INFO = "portal_scope_key"


def sign_scopes_on(engine, key: bytes) -> None:
    """Make every connection of ``engine`` sign the scopes it sets with ``key`` (``tenants.rls``)."""

    @event.listens_for(engine, "connect")
    def _remember_key(dbapi_connection, record) -> None:
        record.info[_KEY_INFO] = key


def scope_signature(key: bytes, backend_pid: int, values: dict[str, str]) -> str:
    message = "|".join(
        (str(backend_pid), values["app.system"], values["app.tenant_id"], values["app.readable"])
    ).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _apply_gucs(connection, scope: TenantScope | None) -> None:
    values = (scope or TenantScope(acting=None, readable=frozenset())).gucs()
    fairy = connection.connection
    key = fairy.info.get(_KEY_INFO)
    # Without a key the scope is unsigned: the app's role then reads nothing (an owner's session bypasses RLS).
    signature = ""
    if key is not None:
        signature = scope_signature(key, fairy.dbapi_connection.info.backend_pid, values)
    connection.exec_driver_sql(
        "SELECT set_config('app.system', %(system)s, true), set_config('app.tenant_id', %(tenant)s, true),"
        " set_config('app.readable', %(readable)s, true), set_config('app.scope_sig', %(sig)s, true)",
        {
            "system": values["app.system"],
            "tenant": values["app.tenant_id"],
            "readable": values["app.readable"],
            "sig": signature,
        },
    )


def apply_scope(connection, scope: TenantScope | None) -> None:
    """Set (and sign) ``scope`` on an open transaction of ``connection`` (raw SQL outside an ORM session)."""
    _apply_gucs(connection, scope)


def _touches_tenant_data(state: ORMExecuteState) -> bool:
    return any(getattr(m.class_, "__tenant_owned__", False) for m in state.all_mappers)


@event.listens_for(Session, "do_orm_execute")
def _scope_orm_statements(state: ORMExecuteState) -> None:
    _bring_settings_up_to_date(state.session)
    if not (state.is_select or state.is_update or state.is_delete):
        return
    scope = get_scope(state.session)
    if scope is not None and scope.system:
        return
    if scope is not None and state.is_select and _read_criteria(scope.readable) in state.statement._with_options:
        return  # a statement prepared for this scope (``scoped_statement``)
    if not _touches_tenant_data(state):
        return
    if scope is None:
        raise TenantScopeMissing("Query of tenant-owned data without a tenant scope.")
    if state.is_select:
        criteria = _read_criteria(scope.readable)
    else:
        criteria = _write_criteria(scope.acting if scope.acting is not None else -1)
    state.statement = state.statement.options(criteria)


def scoped_statement(session: Session, statement):
    """``statement`` (a SELECT built once and run often) with the criteria of the session's scope, kept per scope.

    The same criteria the hook adds to every statement, added once: the statement object is then reused, so its
    cache key is computed once per scope instead of at every run (a large statement costs milliseconds).
    """
    scope = get_scope(session)
    if scope is None or scope.system:
        return statement
    return _prepared(statement, scope.readable)


@functools.lru_cache(maxsize=1024)
def _prepared(statement, readable: frozenset[int]):
    return statement.options(_read_criteria(readable))


# The criteria options are built once per scope and reused: building one analyses its lambda (about two thirds of
# the filter's cost per statement). A process sees at most two per bureau.
@functools.lru_cache(maxsize=1024)
def _read_criteria(readable: frozenset[int]):
    ids = tuple(sorted(readable))
    return with_loader_criteria(
        TenantOwned, lambda cls: cls.tenant_id.in_(ids), include_aliases=True, propagate_to_loaders=True
    )


@functools.lru_cache(maxsize=1024)
def _write_criteria(acting: int):
    return with_loader_criteria(TenantOwned, lambda cls: cls.tenant_id == acting, include_aliases=True)


@event.listens_for(Session, "before_flush")
def _guard_writes(session: Session, flush_context, instances) -> None:
    _bring_settings_up_to_date(session)
    touched = [o for o in (*session.new, *session.dirty, *session.deleted) if isinstance(o, TenantOwned)]
    if not touched:
        return
    scope = get_scope(session)
    if scope is None:
        raise TenantScopeMissing("Write of tenant-owned data without a tenant scope.")
    for obj in touched:
        if obj in session.new and obj.tenant_id is None:
            if scope.acting is None:
                raise TenantScopeMissing(f"Cannot stamp a new {type(obj).__name__}: no acting bureau.")
            obj.tenant_id = scope.acting
        if not scope.can_write(obj.tenant_id):
            raise CrossTenantWrite(
                f"{type(obj).__name__} of bureau {obj.tenant_id} is read-only for bureau {scope.acting}."
            )


@event.listens_for(Session, "after_begin")
def _copy_scope_to_transaction(session: Session, transaction, connection) -> None:
    scope = get_scope(session)
    # Always, even for no scope: the transaction's own settings override anything left on a pooled connection.
    _apply_gucs(connection, scope)
    session.info[_APPLIED_KEY] = scope


@event.listens_for(Session, "after_transaction_end")
def _forget_applied_scope(session: Session, transaction) -> None:
    # A transaction's settings end with it; a savepoint rolled back undoes those set inside it, so after any
    # savepoint the next statement sets them again.
    session.info.pop(_APPLIED_KEY, None)


def load_scoped(session: Session, model: type, object_id: int):
    """Load one tenant-owned row by id through the scoped query path (never the identity-map shortcut)."""
    return session.execute(select(model).where(model.id == object_id)).scalar_one_or_none()
