"""A per-transaction memo of small reference tables that one request reads several times.

The time-limit table, the working-day calendar and the bureau tree are each read once per transaction and kept in
``session.info``. The memo is dropped at the end of every transaction (commit, rollback, savepoint, close), and
whenever the session writes (or is about to flush) a model it watches, so a loaded year, a changed limit or a moved
bureau is seen at once. Writes by raw SQL (``text()``) to a watched table are not noticed within the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

T = TypeVar("T")

_INFO_KEY = "portal.memo"
_watched: set[type] = set()


def memoized(session: Session, key: str, watches: tuple[type, ...], load: Callable[[], T]) -> T:
    """``load()`` once per transaction of ``session``; callers must not mutate what it returns."""
    _watched.update(watches)
    if session.autoflush and (session.new or session.dirty or session.deleted):
        # The query would autoflush (callers may rely on it, e.g. for new ids); a watched write drops the memo.
        session.flush()
    memo = session.info.get(_INFO_KEY)
    if memo is not None and key in memo:
        return memo[key]
    value = load()
    session.info.setdefault(_INFO_KEY, {})[key] = value
    return value


def _touches_watched(*groups: Iterable[object]) -> bool:
    return any(type(obj) in _watched for group in groups for obj in group)


@event.listens_for(Session, "before_flush")
def _forget_on_flush(session: Session, flush_context, instances) -> None:
    if _touches_watched(session.new, session.dirty, session.deleted):
        session.info.pop(_INFO_KEY, None)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_bulk_write(state: ORMExecuteState) -> None:
    if not state.is_select and any(m.class_ in _watched for m in state.all_mappers):
        state.session.info.pop(_INFO_KEY, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_on_transaction_end(session: Session, transaction) -> None:
    session.info.pop(_INFO_KEY, None)
