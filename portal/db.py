"""The declarative base, the metadata naming convention and the Flask-SQLAlchemy handle."""

from __future__ import annotations

from datetime import datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects stay readable after the single commit of a request (re-loading them would need the scope again).
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


def utcnow_column(**kw) -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False, **kw)


class TenantOwned:
    """Mixin for every row that belongs to one bureau.

    The primary key is ``(tenant_id, id)`` so that the table can be distributed by tenant (Citus needs the
    distribution column in every primary and unique key). Reads are scoped and writes stamped in one place:
    ``tenants.scoping``; PostgreSQL row-level security is the second wall (``tenants.rls``).
    """

    __tenant_owned__ = True

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("bureaus.id"), primary_key=True)

    @declared_attr
    def id(cls) -> Mapped[int]:
        # The sentinel lets a flush write many new rows of a table in one INSERT ... RETURNING (the parties of a
        # case, its files): SQLAlchemy matches the returned rows to the objects by it (no DDL involved).
        return mapped_column(BigInteger, Identity(), primary_key=True, insert_sentinel=True)


def tenant_owned_models() -> list[type]:
    """Every mapped class that carries ``tenant_id`` through ``TenantOwned``."""
    return [m.class_ for m in Base.registry.mappers if getattr(m.class_, "__tenant_owned__", False)]
