"""Import every model module so that the metadata is complete (migrations, tests, the isolation walk)."""

import portal.cases.refusal_texts  # bureaus' standard texts of refusal reasons
import portal.identity.models  # noqa: F401  (sessions, second factors, sign-in log)
from portal.accounts.models import StaffUser
from portal.attachments.models import Attachment, Upload
from portal.audit import AuditEntry
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
from portal.documents.models import DocumentSequence, DocumentSettings, DocumentTemplate, GeneratedDocument
from portal.idempotency import IdempotencyRecord
from portal.memo import ReferenceVersion
from portal.notify.models import DeadlineAlert, StaffNotification, SweepRun
from portal.petitioners.drafts import ApplicationDraft
from portal.petitioners.models import Petitioner, PetitionerCase
from portal.supervision.models import CaseRollup, DeadlineRollup, SatisfactionRating, SupervisionOrder
from tenants.contacts import BureauContact
from tenants.models import Bureau, Unit

__all__ = [
    "ApplicationDraft",
    "Attachment",
    "AuditEntry",
    "Base",
    "Bureau",
    "BureauContact",
    "CalendarYear",
    "Case",
    "CaseEvent",
    "CaseNumber",
    "CaseParty",
    "CaseRollup",
    "ContactRecord",
    "Deadline",
    "DeadlineAlert",
    "DeadlineRollup",
    "DocumentSequence",
    "DocumentSettings",
    "DocumentTemplate",
    "GeneratedDocument",
    "IdempotencyRecord",
    "MaterialRequest",
    "Meeting",
    "Outbox",
    "Petitioner",
    "PetitionerCase",
    "ReferenceVersion",
    "SatisfactionRating",
    "StaffAbsence",
    "StaffNotification",
    "StaffUser",
    "StepRuleRow",
    "SupervisionOrder",
    "SweepRun",
    "Unit",
    "Upload",
]
