"""Small reference tables read once per process, kept current by a version row.

The bureau tree, the time-limit table, the working-day calendar, the staff of a bureau and the contact blocks are
read by nearly every request and change only when an administrator changes them. A web process keeps what it
loaded, tagged with the number in ``reference_version``; each transaction reads that number once (one primary-key
look-up, or none when a statement of its own brought it: ``note_version``) and uses a copy only when the tags
match. A trigger on every watched table sets the number in the writing transaction itself
(migration ``f2b8d4a6c1e3``), so a change is seen by every process at the next request, whoever wrote it.

A transaction that writes a watched model (through the ORM: flush or bulk statement) stops using and filling the
process copies until it ends: it reads its own uncommitted rows through a memo of its own, dropped at the end of
every transaction and at every such write, as before. Writes by raw SQL (``text()``) to a watched table are not
noticed within the transaction that makes them (the trigger still tells every later one).

What ``load`` returns is shared between threads and requests: plain values, never ORM objects, never mutated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import BigInteger, CheckConstraint, SmallInteger, event, select
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from portal.db import Base

T = TypeVar("T")

_INFO_KEY = "portal.memo"
_watched: set[type] = set()


class ReferenceVersion(Base):
    """The one row whose number changes with every change of the cached reference tables (set by a trigger)."""

    __tablename__ = "reference_version"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


def _version_query():
    return select(ReferenceVersion.version).where(ReferenceVersion.id == 1)


def version_column():
    """The version as a scalar sub-select, for a statement that reads it with something else (``note_version``)."""
    return _version_query().scalar_subquery()


class _State:
    """What one transaction of a session knows: the version it read, whether it wrote reference data."""

    __slots__ = ("dirty", "local", "version", "version_read")

    def __init__(self) -> None:
        self.version: int | None = None
        self.version_read = False
        self.dirty = False
        self.local: dict[str, object] = {}


_shared: dict[str, tuple[int, object]] = {}
_shared_lock = threading.Lock()


def _state(session: Session) -> _State:
    state = session.info.get(_INFO_KEY)
    if state is None:
        state = session.info[_INFO_KEY] = _State()
    return state


def note_version(session: Session, version: int | None) -> None:
    """Tell the transaction the version that one of its statements just read (saves the separate look-up)."""
    state = _state(session)
    if not state.version_read:
        state.version, state.version_read = version, True


def current_version(session: Session) -> int | None:
    """The reference data's version as this transaction sees it (read at most once); None: no version row."""
    state = _state(session)
    if not state.version_read:
        state.version = session.scalar(_version_query())
        state.version_read = True
    return state.version


def memoized(session: Session, key: str, watches: tuple[type, ...], load: Callable[[], T]) -> T:
    """``load()`` once per process and version of the reference data; callers must not mutate what it returns."""
    _watched.update(watches)
    if session.autoflush and (session.new or session.dirty or session.deleted):
        # The query would autoflush (callers may rely on it, e.g. for new ids); a watched write marks the state.
        session.flush()
    state = _state(session)
    if state.dirty:
        return _local(state, key, load)
    version = current_version(session)
    if version is None:  # no version row (a database not yet migrated this far): nothing is kept across requests
        return _local(state, key, load)
    shared = _shared.get(key)
    if shared is not None and shared[0] == version:
        return shared[1]  # type: ignore[return-value]
    value = load()
    if not state.dirty:  # the load may have flushed a watched write
        with _shared_lock:
            _shared[key] = (version, value)
    return value


def _local(state: _State, key: str, load: Callable[[], T]) -> T:
    if key not in state.local:
        state.local[key] = load()
    return state.local[key]  # type: ignore[return-value]


def forget_all() -> None:
    """Drop every process copy (tests that change reference rows behind the trigger's back, e.g. the owner)."""
    with _shared_lock:
        _shared.clear()


def _touches_watched(*groups: Iterable[object]) -> bool:
    return any(type(obj) in _watched for group in groups for obj in group)


def _mark_written(session: Session) -> None:
    state = _state(session)
    state.dirty, state.local = True, {}


@event.listens_for(Session, "before_flush")
def _forget_on_flush(session: Session, flush_context, instances) -> None:
    if _touches_watched(session.new, session.dirty, session.deleted):
        _mark_written(session)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_bulk_write(state: ORMExecuteState) -> None:
    if not state.is_select and any(m.class_ in _watched for m in state.all_mappers):
        _mark_written(state.session)


@event.listens_for(Session, "after_transaction_end")
def _forget_on_transaction_end(session: Session, transaction) -> None:
    state = session.info.get(_INFO_KEY)
    if state is None:
        return
    if transaction.nested or transaction.parent is not None:
        # A savepoint or an inner transaction ended: what it wrote may be gone, so the transaction's own memo goes;
        # the outer transaction still wrote (or may have), so it keeps away from the process copies.
        state.local = {}
        return
    session.info.pop(_INFO_KEY, None)
