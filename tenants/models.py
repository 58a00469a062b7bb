"""The bureau tree and the units inside each bureau."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, TenantOwned, utcnow_column


class BureauLevel(enum.StrEnum):
    province = "province"
    city = "city"
    county = "county"


class UnitKind(enum.StrEnum):
    petition_office = "petition_office"
    division = "division"
    # 省局办公室: registers the committee's transfers by the document procedure (§四.3) and hands them over.
    general_office = "general_office"


class Bureau(Base):
    """One social-insurance bureau (a tenant). A reference table: every tenant may read the tree."""

    __tablename__ = "bureaus"
    __table_args__ = (
        # The path is the chain of ids from the root, e.g. "1/2/15/": "this bureau and everything under it"
        # is one indexed prefix match.
        Index("ix_bureaus_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
        CheckConstraint("(level = 'province') = (parent_id IS NULL)", name="root_is_province"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    adcode: Mapped[str | None] = mapped_column(String(6), unique=True)
    division_name: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[BureauLevel] = mapped_column(Enum(BureauLevel, name="bureau_level"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("bureaus.id"), index=True)
    path: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = utcnow_column()

    parent: Mapped[Bureau | None] = relationship(remote_side=[id])

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(p) for p in self.path.strip("/").split("/")[:-1]]

    def __repr__(self) -> str:
        return f"<Bureau {self.id} {self.name}>"


class Unit(TenantOwned, Base):
    """The petition office or a business division of one bureau."""

    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[UnitKind] = mapped_column(Enum(UnitKind, name="unit_kind"))
    created_at: Mapped[datetime] = utcnow_column()

    def __repr__(self) -> str:
        return f"<Unit {self.tenant_id}/{self.code}>"


#: The units every bureau starts with: (code, Chinese name, kind).
#: Units the province has besides the default ones: its general office registers the committee's transfers (§四.3).
PROVINCE_UNITS: tuple[tuple[str, str, UnitKind], ...] = (("general_office", "办公室", UnitKind.general_office),)

DEFAULT_UNITS: tuple[tuple[str, str, UnitKind], ...] = (
    ("petition_office", "信访办", UnitKind.petition_office),
    ("pension", "养老保险处", UnitKind.division),
    ("work_injury", "工伤保险处", UnitKind.division),
    ("unemployment", "失业保险处", UnitKind.division),
    ("fund_finance", "基金财务处", UnitKind.division),
    ("audit", "稽核处", UnitKind.division),
)
