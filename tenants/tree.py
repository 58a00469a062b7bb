"""Read and change the bureau tree (a reference table with a materialized path)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.memo import memoized
from tenants.models import DEFAULT_UNITS, PROVINCE_UNITS, Bureau, BureauLevel, Unit

BUREAU_SUFFIX = "社会保险局"

_CHILD_LEVEL = {BureauLevel.province: BureauLevel.city, BureauLevel.city: BureauLevel.county}


class TreeError(ValueError):
    """A change that would break the tree's rules."""


def subtree_ids(session: Session, bureau_id: int) -> list[int]:
    """Ids of the bureau and every bureau below it, in one indexed prefix query (once per transaction)."""

    def load() -> list[int]:
        path = select(Bureau.path).where(Bureau.id == bureau_id).scalar_subquery()
        return list(session.scalars(select(Bureau.id).where(Bureau.path.startswith(path))))

    return list(memoized(session, f"subtree_ids:{bureau_id}", (Bureau,), load))  # a copy: the memo is shared


def get_bureau(session: Session, ref: str | int) -> Bureau | None:
    """Find a bureau by id, six-digit adcode or exact name."""
    text = str(ref).strip()
    if text.isdigit() and len(text) == 6:
        return session.scalar(select(Bureau).where(Bureau.adcode == text))
    if text.isdigit():
        return session.get(Bureau, int(text))
    return session.scalar(select(Bureau).where((Bureau.name == text) | (Bureau.division_name == text)))


def list_bureaus(session: Session) -> list[Bureau]:
    # "C" collation: the path sorts parents before children whatever the database's default collation is.
    return list(session.scalars(select(Bureau).order_by(Bureau.path.collate("C"))))


def is_ancestor(ancestor: Bureau, bureau: Bureau) -> bool:
    return bureau.path.startswith(ancestor.path) and ancestor.id != bureau.id


def add_bureau(
    session: Session,
    *,
    division_name: str,
    level: BureauLevel,
    parent: Bureau | None,
    adcode: str | None = None,
    name: str | None = None,
    with_units: bool = True,
) -> Bureau:
    """Create a bureau under ``parent`` with its default units; flushes."""
    division_name = division_name.strip()
    if not division_name:
        raise TreeError("A bureau needs a division name.")
    if adcode is not None and not (len(adcode) == 6 and adcode.isdigit()):
        raise TreeError(f"Adcode must be six digits, got {adcode!r}.")
    if adcode and session.scalar(select(Bureau.id).where(Bureau.adcode == adcode)):
        raise TreeError(f"A bureau with adcode {adcode} already exists.")
    if level == BureauLevel.province:
        if parent is not None:
            raise TreeError("The province has no parent.")
        if session.scalar(select(func.count()).select_from(Bureau).where(Bureau.parent_id.is_(None))):
            raise TreeError("There is already a province bureau.")
    elif parent is None:
        raise TreeError(f"A {level} bureau needs a parent.")
    else:
        _check_parent_level(level, parent)
    bureau = Bureau(
        adcode=adcode or None,
        division_name=division_name,
        name=(name or division_name + BUREAU_SUFFIX).strip(),
        level=level,
        parent_id=parent.id if parent else None,
        path="",
    )
    session.add(bureau)
    session.flush()
    bureau.path = (parent.path if parent else "") + f"{bureau.id}/"
    if with_units:
        add_default_units(session, bureau)
    session.flush()
    return bureau


def _check_parent_level(level: BureauLevel, parent: Bureau) -> None:
    # A county is normally under a city but may be managed directly by the province; a city is under the province.
    allowed = {
        BureauLevel.city: {BureauLevel.province},
        BureauLevel.county: {BureauLevel.city, BureauLevel.province},
    }
    if parent.level not in allowed.get(level, set()):
        raise TreeError(f"A {level} bureau cannot be placed under a {parent.level} bureau.")


def add_default_units(session: Session, bureau: Bureau) -> None:
    """Give ``bureau`` its petition office and the standard business divisions (written as that bureau).

    The province also gets its general office (``PROVINCE_UNITS``).
    """
    from tenants.scoping import TenantScope, scoped

    units = DEFAULT_UNITS + (PROVINCE_UNITS if bureau.level == BureauLevel.province else ())
    with scoped(session, TenantScope.single(bureau.id)):
        for code, name, kind in units:
            session.add(Unit(tenant_id=bureau.id, code=code, name=name, kind=kind))
        session.flush()


def rename_bureau(session: Session, bureau: Bureau, name: str) -> Bureau:
    name = name.strip()
    if not name:
        raise TreeError("The new name is empty.")
    bureau.name = name
    session.flush()
    return bureau


def move_bureau(session: Session, bureau: Bureau, new_parent: Bureau) -> Bureau:
    """Put ``bureau`` (and its subtree) under ``new_parent``; rewrites the paths below it in one statement."""
    if bureau.level == BureauLevel.province:
        raise TreeError("The province cannot be moved.")
    if new_parent.id == bureau.id or is_ancestor(bureau, new_parent):
        raise TreeError("A bureau cannot be moved under itself or under one of its own bureaus.")
    _check_parent_level(bureau.level, new_parent)
    old_path = bureau.path
    new_path = new_parent.path + f"{bureau.id}/"
    session.execute(
        update(Bureau)
        .where(Bureau.path.startswith(old_path))
        .values(path=func.concat(new_path, func.substr(Bureau.path, len(old_path) + 1)))
        .execution_options(synchronize_session=False)
    )
    bureau.parent_id = new_parent.id
    session.flush()
    session.expire_all()
    return bureau
