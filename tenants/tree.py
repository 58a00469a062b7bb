"""Read and change the bureau tree (a reference table with a materialized path)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from portal.memo import memoized
from tenants.models import DEFAULT_UNITS, PROVINCE_UNITS, Bureau, BureauLevel, Unit
from tenants.scoping import TenantScope, scoped

BUREAU_SUFFIX = "社会保险局"

_CHILD_LEVEL = {BureauLevel.province: BureauLevel.city, BureauLevel.city: BureauLevel.county}


class TreeError(ValueError):
    """A change that would break the tree's rules; ``message_zh`` / ``message_en`` say which (``str()`` is English,
    for the command line)."""

    def __init__(self, message_en: str, message_zh: str):
        super().__init__(message_en)
        self.message_en, self.message_zh = message_en, message_zh


_LEVEL_ZH = {BureauLevel.province: "省级", BureauLevel.city: "市级", BureauLevel.county: "县级"}


@dataclass(frozen=True)
class BureauInfo:
    """A bureau as pages and rules read it, kept between requests (the tree changes only by administration)."""

    id: int
    adcode: str | None
    division_name: str
    name: str
    level: BureauLevel
    parent_id: int | None
    path: str


def bureau_tree(session: Session) -> dict[int, BureauInfo]:
    """Every bureau by id: read once per process and version of the reference data (``portal.memo``)."""

    def load() -> dict[int, BureauInfo]:
        return {
            b.id: BureauInfo(b.id, b.adcode, b.division_name, b.name, b.level, b.parent_id, b.path)
            for b in session.scalars(select(Bureau))
        }

    return memoized(session, "bureau_tree", (Bureau,), load)


def bureau_info(session: Session, bureau_id: int) -> BureauInfo:
    """The bureau ``bureau_id`` (KeyError if there is none)."""
    return bureau_tree(session)[bureau_id]


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


def tree_order(bureaus: list[Bureau]) -> list[Bureau]:
    """``bureaus`` in the order a reader expects: each bureau, then its children, siblings by division code.

    The province, then each city (220100 长春, 220200 吉林, ...) followed by its counties by code; a bureau without a
    code (a new development zone) after its coded siblings, by name. The materialized path cannot give this order:
    it holds ids, and "1/10/" sorts before "1/2/".
    """
    children: dict[int | None, list[Bureau]] = {}
    for b in bureaus:
        children.setdefault(b.parent_id, []).append(b)
    known = {b.id for b in bureaus}
    out: list[Bureau] = []

    def walk(parent_id: int | None) -> None:
        for b in sorted(children.get(parent_id, []), key=lambda b: (b.adcode is None, b.adcode or "", b.name)):
            out.append(b)
            walk(b.id)

    walk(None)
    for parent_id in children:  # a subtree whose root is not in the list
        if parent_id is not None and parent_id not in known:
            walk(parent_id)
    return out


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
        raise TreeError("A bureau needs a division name.", "请填写行政区划名称。")
    if adcode is not None and not (len(adcode) == 6 and adcode.isdigit()):
        raise TreeError(f"Adcode must be six digits, got {adcode!r}.", f"行政区划代码应为6位数字，“{adcode}”不符合。")
    if adcode and session.scalar(select(Bureau.id).where(Bureau.adcode == adcode)):
        raise TreeError(f"A bureau with adcode {adcode} already exists.", f"行政区划代码为{adcode}的机构已经存在。")
    if level == BureauLevel.province:
        if parent is not None:
            raise TreeError("The province has no parent.", "省级机构没有上级机构。")
        if session.scalar(select(func.count()).select_from(Bureau).where(Bureau.parent_id.is_(None))):
            raise TreeError("There is already a province bureau.", "已经有一个省级机构。")
    elif parent is None:
        raise TreeError(f"A {level} bureau needs a parent.", f"{_LEVEL_ZH[BureauLevel(level)]}机构需要指定上级机构。")
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
        raise TreeError(
            f"A {level} bureau cannot be placed under a {parent.level} bureau.",
            f"{_LEVEL_ZH[BureauLevel(level)]}机构不能放在{_LEVEL_ZH[BureauLevel(parent.level)]}机构之下。",
        )


def add_default_units(session: Session, bureau: Bureau) -> None:
    """Give ``bureau`` its petition office and the standard business divisions (written as that bureau).

    The province also gets its general office (``PROVINCE_UNITS``).
    """
    units = DEFAULT_UNITS + (PROVINCE_UNITS if bureau.level == BureauLevel.province else ())
    with scoped(session, TenantScope.single(bureau.id)):
        for code, name, kind in units:
            session.add(Unit(tenant_id=bureau.id, code=code, name=name, kind=kind))
        session.flush()


def rename_bureau(session: Session, bureau: Bureau, name: str) -> Bureau:
    name = name.strip()
    if not name:
        raise TreeError("The new name is empty.", "请填写新的名称。")
    bureau.name = name
    session.flush()
    return bureau


def move_bureau(session: Session, bureau: Bureau, new_parent: Bureau) -> Bureau:
    """Put ``bureau`` (and its subtree) under ``new_parent``; rewrites the paths below it in one statement."""
    if bureau.level == BureauLevel.province:
        raise TreeError("The province cannot be moved.", "省级机构不能移动。")
    if new_parent.id == bureau.id or is_ancestor(bureau, new_parent):
        raise TreeError(
            "A bureau cannot be moved under itself or under one of its own bureaus.",
            "机构不能移到它自己或它的下级机构之下。",
        )
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
