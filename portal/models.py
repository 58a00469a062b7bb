"""Import every model module so that the metadata is complete (migrations, tests, the isolation walk)."""

from portal.accounts.models import StaffUser
from portal.db import Base
from tenants.models import Bureau, Unit

__all__ = ["Base", "Bureau", "StaffUser", "Unit"]
