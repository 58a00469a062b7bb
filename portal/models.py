"""Import every model module so that the metadata is complete (migrations, tests, the isolation walk)."""

from portal.accounts.models import StaffUser
from portal.attachments.models import Attachment, Upload
from portal.cases.models import (
    CalendarYear,
    Case,
    CaseEvent,
    CaseNumber,
    CaseParty,
    ContactRecord,
    Deadline,
    MaterialRequest,
    Meeting,
    Outbox,
    StaffAbsence,
    StepRuleRow,
)
from portal.db import Base
from tenants.models import Bureau, Unit

__all__ = [
    "Attachment",
    "Base",
    "Bureau",
    "CalendarYear",
    "Case",
    "CaseEvent",
    "CaseNumber",
    "CaseParty",
    "ContactRecord",
    "Deadline",
    "MaterialRequest",
    "Meeting",
    "Outbox",
    "StaffAbsence",
    "StaffUser",
    "StepRuleRow",
    "Unit",
    "Upload",
]
