"""Read helpers for supervision orders: a bureau's inbox, the orders it issued, the orders on one case.

No Flask. Every read runs in the session's tenant scope: an order belongs to the case's bureau, so the target bureau
and its ancestors read it, and nobody else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.cases.models import Case
from portal.supervision.models import SupervisionOrder
from tenants.models import Bureau

MAX_ORDERS = 200


@dataclass(frozen=True)
class OrderRow:
    order: SupervisionOrder
    case_number: str
    case_state: str
    issuer_name: str
    target_name: str
    overdue: bool


def _rows(session: Session, stmt, today: date) -> list[OrderRow]:
    names = dict(session.execute(select(Bureau.id, Bureau.name)).all())
    out = []
    for order, number, state in session.execute(stmt).all():
        out.append(
            OrderRow(
                order=order,
                case_number=number,
                case_state=str(state),
                issuer_name=names.get(order.issuer_bureau_id, ""),
                target_name=names.get(order.tenant_id, ""),
                overdue=order.answered_at is None and order.due_on < today,
            )
        )
    return out


def _base():
    return select(SupervisionOrder, Case.number, Case.state).join(
        Case, (Case.tenant_id == SupervisionOrder.tenant_id) & (Case.id == SupervisionOrder.case_id)
    )


def list_inbox(session: Session, bureau_id: int, today: date) -> list[OrderRow]:
    """Orders addressed to ``bureau_id``: unanswered first, nearest due date first; then the answered ones."""
    stmt = (
        _base()
        .where(SupervisionOrder.tenant_id == bureau_id)
        .order_by(
            SupervisionOrder.answered_at.is_not(None),
            SupervisionOrder.due_on,
            SupervisionOrder.answered_at.desc(),
            SupervisionOrder.id,
        )
        .limit(MAX_ORDERS)
    )
    return _rows(session, stmt, today)


def list_issued(session: Session, bureau_id: int, today: date) -> list[OrderRow]:
    """Orders ``bureau_id`` issued to the bureaus below it, newest first."""
    stmt = (
        _base()
        .where(SupervisionOrder.issuer_bureau_id == bureau_id)
        .order_by(SupervisionOrder.issued_at.desc(), SupervisionOrder.id.desc())
        .limit(MAX_ORDERS)
    )
    return _rows(session, stmt, today)


def list_case_orders(session: Session, case: Case, today: date) -> list[OrderRow]:
    """Every order on ``case`` the reader can see, oldest first."""
    stmt = (
        _base()
        .where(SupervisionOrder.tenant_id == case.tenant_id, SupervisionOrder.case_id == case.id)
        .order_by(SupervisionOrder.issued_at, SupervisionOrder.id)
    )
    return _rows(session, stmt, today)


def count_open_orders(session: Session, bureau_id: int) -> int:
    """Unanswered orders addressed to ``bureau_id`` (for a badge in the staff navigation)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(SupervisionOrder)
            .where(SupervisionOrder.tenant_id == bureau_id, SupervisionOrder.answered_at.is_(None))
        )
        or 0
    )


def get_inbox_order(session: Session, bureau_id: int, order_id: int) -> SupervisionOrder | None:
    """An order addressed to ``bureau_id`` (the only bureau that answers it), else None."""
    return session.scalar(
        select(SupervisionOrder).where(SupervisionOrder.id == order_id, SupervisionOrder.tenant_id == bureau_id)
    )
