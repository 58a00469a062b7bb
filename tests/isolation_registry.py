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
from portal.attachments.models import Attachment, AttachmentSource
from portal.cases.models import Meeting, StaffAbsence
from portal.documents.models import DocumentSequence, DocumentSettings, DocumentTemplate, GeneratedDocument
from portal.notify.models import DeadlineAlert, StaffNotification
from portal.roles import Role
from tenants.contacts import BureauContact
from tenants.models import Unit, UnitKind
from tenants.scoping import TenantScope, scoped
from tests.helpers import make_staff
from tests.isolation_cases import CASE_MODEL_FACTORIES, make_case


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


def make_attachment(session: Session, bureau_id: int, marker: str) -> Attachment:
    """An attachment row of bureau ``bureau_id`` (no object behind it: the walls are about rows)."""
    with scoped(session, TenantScope.single(bureau_id)):
        attachment = Attachment(
            tenant_id=bureau_id,
            case_id=1,
            filename=f"{marker}.pdf",
            size=1,
            content_type="application/pdf",
            sha256="0" * 64,
            storage_key=f"{bureau_id}/1/{marker}",
            source=AttachmentSource.petitioner,
            uploaded_by=marker,
        )
        session.add(attachment)
        session.commit()
    return attachment


def make_staff_notification(session: Session, bureau_id: int, marker: str) -> StaffNotification:
    """An in-app notification for a user of bureau ``bureau_id``."""
    user = make_user(session, bureau_id, marker + "-recipient")
    with scoped(session, TenantScope.single(bureau_id)):
        row = StaffNotification(
            tenant_id=bureau_id,
            user_id=user.id,
            kind="reminder",
            params={"case_number": marker, "step": "acceptance", "due_on": "2026-10-09", "days": 1},
            dedupe_key=marker,
        )
        session.add(row)
        session.commit()
    return row


def make_deadline_alert(session: Session, bureau_id: int, marker: str) -> DeadlineAlert:
    from datetime import date

    with scoped(session, TenantScope.single(bureau_id)):
        row = DeadlineAlert(
            tenant_id=bureau_id,
            deadline_id=abs(hash(marker)) % 10**8,
            case_id=1,
            kind="reminder",
            threshold=3,
            due_on=date(2026, 10, 9),
            fired_on=date(2026, 10, 6),
            recipient_ids=[],
        )
        session.add(row)
        session.commit()
    return row


def make_failed_message(session: Session, bureau_id: int, marker: str) -> int:
    """A failed outbox row (what the retry button acts on) of bureau ``bureau_id``."""
    from portal.cases.models import Outbox

    case = make_case(session, bureau_id, marker + "-case")
    with scoped(session, TenantScope.single(bureau_id)):
        row = Outbox(
            tenant_id=bureau_id,
            case_id=case.id,
            kind="petitioner_email",
            channel="email",
            payload={"case_id": case.id, "event": "received"},
            dedupe_key=marker,
            status="failed",
            attempts=8,
            last_error=marker,
        )
        session.add(row)
        session.commit()
    return row.id


def make_generated_document(session: Session, bureau_id: int, marker: str) -> GeneratedDocument:
    """A generated document of a case of bureau ``bureau_id`` with its two attachment rows (no objects)."""
    from portal.workflow import DocumentKind

    case = make_case(session, bureau_id, marker + "-case")
    pdf = make_attachment(session, bureau_id, marker + "-pdf")
    docx = make_attachment(session, bureau_id, marker + "-docx")
    with scoped(session, TenantScope.single(bureau_id)):
        row = GeneratedDocument(
            tenant_id=bureau_id,
            case_id=case.id,
            kind=DocumentKind.acceptance_notice,
            event_seq=1,
            doc_number=marker[:60],
            title=marker[:100],
            public=True,
            pdf_attachment_id=pdf.id,
            docx_attachment_id=docx.id,
        )
        session.add(row)
        session.commit()
    return row


def _document_row(model, **fields):
    def factory(session: Session, bureau_id: int, marker: str):
        with scoped(session, TenantScope.single(bureau_id)):
            row = model(tenant_id=bureau_id, **{k: (marker[-10:] if v is str else v) for k, v in fields.items()})
            session.add(row)
            session.commit()
        return row

    return factory


DOCUMENT_MODEL_FACTORIES = {
    GeneratedDocument: make_generated_document,
    DocumentSequence: _document_row(DocumentSequence, year=2026, series=str, last_number=1),
    DocumentSettings: _document_row(DocumentSettings, letterhead=str, number_prefix=None),
    DocumentTemplate: _document_row(DocumentTemplate, kind="acceptance_notice", text=str),
}


#: Tenant-owned model -> factory(session, bureau_id, marker) returning a committed row.
MODEL_FACTORIES: dict[type, Callable[[Session, int, str], object]] = {
    Unit: make_unit,
    StaffUser: make_user,
    Attachment: make_attachment,
    StaffNotification: make_staff_notification,
    DeadlineAlert: make_deadline_alert,
}

MODEL_FACTORIES.update(CASE_MODEL_FACTORIES)
MODEL_FACTORIES.update(DOCUMENT_MODEL_FACTORIES)
MODEL_FACTORIES[BureauContact] = _document_row(BureauContact, address=str, phone=None, hours=str)  # tenants.contacts

#: URL parameter name -> factory(session, bureau_id, marker) returning the id to put in the URL.
ROUTE_PARAMS: dict[str, Callable[[Session, int, str], int]] = {
    "unit_id": lambda s, b, m: make_unit(s, b, m).id,
    "user_id": lambda s, b, m: make_user(s, b, m).id,
    "notification_id": lambda s, b, m: make_staff_notification(s, b, m).id,
    "message_id": make_failed_message,
    "absence_id": lambda s, b, m: CASE_MODEL_FACTORIES[StaffAbsence](s, b, m).id,  # staff_site.admin
}


# --- The staff work queue, case pages and staff API -------------------------------------------------------


def make_api_token(session: Session, bureau_id: int, marker: str):
    """A bearer token of a staff member of bureau ``bureau_id`` (only its hash is stored)."""
    from datetime import UTC, datetime, timedelta

    from portal.accounts.models import ApiToken
    from portal.accounts.tokens import token_hash

    user = make_user(session, bureau_id, marker + "-token-owner")
    with scoped(session, TenantScope.single(bureau_id)):
        row = ApiToken(
            tenant_id=bureau_id,
            user_id=user.id,
            token_hash=token_hash(marker),
            expires_at=datetime.now(UTC) + timedelta(hours=1),
        )
        session.add(row)
        session.commit()
    return row


def _make_material_request_id(session: Session, bureau_id: int, marker: str) -> int:
    from portal.cases.models import MaterialRequest

    return CASE_MODEL_FACTORIES[MaterialRequest](session, bureau_id, marker).id


def _register_staff_site() -> None:
    from portal.accounts.models import ApiToken

    MODEL_FACTORIES[ApiToken] = make_api_token
    ROUTE_PARAMS.setdefault("case_id", lambda s, b, m: make_case(s, b, m).id)
    ROUTE_PARAMS.setdefault("attachment_id", lambda s, b, m: make_attachment(s, b, m).id)
    ROUTE_PARAMS.setdefault("request_id", _make_material_request_id)
    ROUTE_PARAMS.setdefault("meeting_id", lambda s, b, m: CASE_MODEL_FACTORIES[Meeting](s, b, m).id)
    # An action name is not an object id: a real action, so that the 404 has to come from the other bureau's case.
    ROUTE_PARAMS.setdefault("action", lambda s, b, m: "accept")


_register_staff_site()


# --- Identity (portal.identity): links, second factors, sessions, the bureau's policy, the sign-in log ---------


def _identity_row(model, **fields):
    """A row of ``model`` for a user of bureau ``bureau_id``; text fields carry the marker."""

    def factory(session: Session, bureau_id: int, marker: str):
        user = make_user(session, bureau_id, marker + "-owner")
        with scoped(session, TenantScope.single(bureau_id)):
            values = {k: (v(marker) if callable(v) else v) for k, v in fields.items()}
            row = model(tenant_id=bureau_id, user_id=user.id, **values)
            session.add(row)
            session.commit()
        return row

    return factory


def make_staff_session(session: Session, bureau_id: int, marker: str):
    from datetime import UTC, datetime

    from portal.identity.models import StaffSession

    now = datetime.now(UTC)
    return _identity_row(
        StaffSession,
        key_hash=lambda m: f"{abs(hash(m)):064d}"[:64],
        method="password",
        created_at=now,
        last_seen_at=now,
        user_agent=lambda m: m,
    )(session, bureau_id, marker)


def make_identity_policy(session: Session, bureau_id: int, marker: str):
    from portal.identity.models import IdentityPolicy

    with scoped(session, TenantScope.single(bureau_id)):
        row = IdentityPolicy(tenant_id=bureau_id, second_factor="all_staff")
        session.add(row)
        session.commit()
    return row


def make_sign_in_event(session: Session, bureau_id: int, marker: str):
    from datetime import UTC, datetime

    from portal.identity.models import StaffSignInEvent

    with scoped(session, TenantScope.single(bureau_id)):
        row = StaffSignInEvent(
            tenant_id=bureau_id,
            at=datetime.now(UTC),
            username=marker[-64:],
            method="password",
            outcome="ok",
            detail=marker,
        )
        session.add(row)
        session.commit()
    return row


def _identity_factories() -> dict:
    from portal.identity.models import (
        IdentityPolicy,
        StaffIdentity,
        StaffRecoveryCode,
        StaffSession,
        StaffSignInEvent,
        StaffTotp,
    )

    return {
        StaffIdentity: _identity_row(StaffIdentity, issuer="https://id.example", subject=lambda m: m),
        StaffTotp: _identity_row(StaffTotp, secret_enc=lambda m: m.encode()),
        StaffRecoveryCode: _identity_row(StaffRecoveryCode, code_hash=lambda m: m[-64:]),
        StaffSession: make_staff_session,
        IdentityPolicy: make_identity_policy,
        StaffSignInEvent: make_sign_in_event,
    }


MODEL_FACTORIES.update(_identity_factories())
ROUTE_PARAMS["session_id"] = lambda s, b, m: make_staff_session(s, b, m).id


# --- Supervision: orders (owned by the case's bureau) and satisfaction ratings ------------------------------


def make_supervision_order(session: Session, bureau_id: int, marker: str):
    """An order on a case of bureau ``bureau_id``, issued by its parent (the row belongs to ``bureau_id``)."""
    from datetime import date

    from portal.supervision.models import SupervisionOrder
    from tenants.models import Bureau

    case = make_case(session, bureau_id, marker + "-case")
    parent_id = session.get(Bureau, bureau_id).parent_id
    with scoped(session, TenantScope.single(bureau_id)):
        row = SupervisionOrder(
            tenant_id=bureau_id,
            case_id=case.id,
            issuer_bureau_id=parent_id,
            issued_by_id=0,
            issued_by_name=marker[:100],
            instruction=marker,
            due_on=date(2026, 10, 9),
        )
        session.add(row)
        session.commit()
    return row


def make_satisfaction_rating(session: Session, bureau_id: int, marker: str):
    from portal.supervision.models import Satisfaction, SatisfactionRating

    case = make_case(session, bureau_id, marker + "-case")
    with scoped(session, TenantScope.single(bureau_id)):
        row = SatisfactionRating(
            tenant_id=bureau_id, case_id=case.id, rating=Satisfaction.dissatisfied, comment=marker[:500]
        )
        session.add(row)
        session.commit()
    return row


def make_case_rollup(session: Session, bureau_id: int, marker: str):
    from datetime import date

    from portal.supervision.models import CaseRollup

    with scoped(session, TenantScope.single(bureau_id)):
        row = CaseRollup(tenant_id=bureau_id, grain="day", day=date(2026, 9, 1), dim="unit", value=marker[:40])
        row.received = 1
        session.add(row)
        session.commit()
    return row


def make_deadline_rollup(session: Session, bureau_id: int, marker: str):
    from datetime import date

    from portal.supervision.models import DeadlineRollup

    with scoped(session, TenantScope.single(bureau_id)):
        row = DeadlineRollup(
            tenant_id=bureau_id,
            grain="day",
            day=date(2026, 9, 1),
            step=marker[:30],
            status="open",
            due_on=date(2026, 9, 30),
            n=1,
        )
        session.add(row)
        session.commit()
    return row


def _register_supervision() -> None:
    from portal.supervision.models import CaseRollup, DeadlineRollup, SatisfactionRating, SupervisionOrder

    MODEL_FACTORIES[SupervisionOrder] = make_supervision_order
    MODEL_FACTORIES[SatisfactionRating] = make_satisfaction_rating
    MODEL_FACTORIES[CaseRollup] = make_case_rollup
    MODEL_FACTORIES[DeadlineRollup] = make_deadline_rollup
    ROUTE_PARAMS.setdefault("order_id", lambda s, b, m: make_supervision_order(s, b, m).id)


_register_supervision()


# --- The petitioner's API (public_site.api.applications): a case number in the URL, the access code in a header -------


def make_case_number(session: Session, bureau_id: int, marker: str) -> str:
    """A case of bureau ``bureau_id`` with its entry in the number registry, as the public look-up finds it."""
    from portal.cases.models import CaseNumber

    case = make_case(session, bureau_id, marker + "-public")
    session.add(CaseNumber(number=case.number, tenant_id=bureau_id, case_id=case.id))
    session.commit()
    return case.number


ROUTE_PARAMS.setdefault("number", make_case_number)


# --- Issue 18: my API tokens on the sessions page; history anchors (object keys, not rows) ------------------


def _anchor_key(session: Session, bureau_id: int, marker: str) -> str:
    """An anchor key that exists nowhere: the route must answer 404 to anyone but the province's auditor."""
    return f"anchors/2026/01/01/{abs(hash(marker)) % 10**8}.json"


ROUTE_PARAMS.setdefault("token_id", lambda s, b, m: make_api_token(s, b, m).id)
ROUTE_PARAMS.setdefault("key", _anchor_key)


def _make_audit_entry(session: Session, bureau_id: int, marker: str):
    from datetime import UTC, datetime

    from portal import audit

    entry = audit.record(
        session, bureau_id=bureau_id, actor=marker, action="user_created", target=marker, at=datetime.now(UTC)
    )
    session.commit()
    return entry


def _register_audit() -> None:
    from portal.audit import AuditEntry

    MODEL_FACTORIES[AuditEntry] = _make_audit_entry


_register_audit()


# --- Standard texts of refusal reasons (portal.cases.refusal_texts); the admin pages name the reason in ?reason= ---


def _register_refusal_texts() -> None:
    from portal.cases.refusal_texts import RefusalText

    MODEL_FACTORIES[RefusalText] = _document_row(RefusalText, reason="litigation", explanation=str, remedy=str)


_register_refusal_texts()
