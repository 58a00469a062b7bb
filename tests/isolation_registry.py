"""What the tenant-isolation tests need to know about each tenant-owned model and each route parameter.

When you add a tenant-owned model, add a factory to ``MODEL_FACTORIES``; when you add a staff or API route with
a URL parameter, add a factory to ``ROUTE_PARAMS``. The isolation tests fail until you do, so that no model and no
route escapes them. Every factory creates a row of bureau ``bureau_id`` whose text contains ``marker``.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.roles import Role
from tenants.models import Unit, UnitKind
from tenants.scoping import TenantScope, scoped
from tests.helpers import make_staff


def make_unit(session: Session, bureau_id: int, marker: str) -> Unit:
    with scoped(session, TenantScope.single(bureau_id)):
        unit = Unit(tenant_id=bureau_id, code=f"iso_{abs(hash(marker)) % 10**8}", name=marker, kind=UnitKind.division)
        session.add(unit)
        session.commit()
    return unit


def make_user(session: Session, bureau_id: int, marker: str) -> StaffUser:
    from tenants.models import Bureau

    bureau = session.get(Bureau, bureau_id)
    user = make_staff(session, bureau.adcode, Role.division_staff, username=f"iso_{abs(hash(marker)) % 10**8}")
    with scoped(session, TenantScope.single(bureau_id)):
        user = session.scalar(select(StaffUser).where(StaffUser.id == user.id))
        user.display_name = marker
        session.commit()
    return user


#: Tenant-owned model -> factory(session, bureau_id, marker) returning a committed row.
MODEL_FACTORIES: dict[type, Callable[[Session, int, str], object]] = {
    Unit: make_unit,
    StaffUser: make_user,
}

#: URL parameter name -> factory(session, bureau_id, marker) returning the id to put in the URL.
ROUTE_PARAMS: dict[str, Callable[[Session, int, str], int]] = {
    "unit_id": lambda s, b, m: make_unit(s, b, m).id,
    "user_id": lambda s, b, m: make_user(s, b, m).id,
}
