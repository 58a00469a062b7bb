"""The printable receipt (申请回执) of an online application, rendered from the case as stored.

It lists what was received (each file's name, size and SHA-256) and the acceptance deadline. It never carries the
access code: only its hash is stored, and the receipt can be printed again at any time from the tracking page.
"""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.attachments.models import Attachment, AttachmentSource
from portal.cases.models import Case, Deadline
from portal.documents import RECEIPT, build_document, chinese_date, render_pdf
from portal.routing import OPINION_KIND_LABELS
from portal.workflow import Step
from tenants.contacts import contact_context, get_contact
from tenants.models import Bureau

LOCAL_TIME = ZoneInfo("Asia/Shanghai")


def disputed_opinion_phrase(session: Session, case: Case) -> str:
    """E.g. "南关区社会保险局2026年9月1日作出的信访事项处理意见（南社保信〔2026〕3号）"."""
    issuer = session.get(Bureau, case.disputed_bureau_id)
    kind = OPINION_KIND_LABELS[case.disputed_kind][0]
    return (
        f"{issuer.name if issuer else ''}{chinese_date(case.disputed_issued_on)}作出的信访事项{kind}"
        f"（{case.disputed_document_number}）"
    )


def receipt_pdf(session: Session, case: Case) -> bytes:
    """Render the receipt of ``case`` (the session holds the case's bureau scope)."""
    bureau = session.get(Bureau, case.tenant_id)
    files = session.scalars(
        select(Attachment)
        .where(
            Attachment.tenant_id == case.tenant_id,
            Attachment.case_id == case.id,
            Attachment.source == AttachmentSource.petitioner,
        )
        .order_by(Attachment.id)
    ).all()
    acceptance = session.scalar(
        select(Deadline.due_on).where(
            Deadline.tenant_id == case.tenant_id, Deadline.case_id == case.id, Deadline.step == Step.acceptance
        )
    )
    received_at = case.created_at.astimezone(UTC).astimezone(LOCAL_TIME).replace(tzinfo=None)
    data = build_document(
        RECEIPT,
        {
            "case_kind": str(case.kind),
            "bureau_name": bureau.name,
            "case_number": case.number,
            "petitioner_name": case.petitioner_name,
            "issued_on": case.received_on,
            "received_on": received_at,
            "disputed_opinion": disputed_opinion_phrase(session, case),
            "acceptance_deadline": acceptance or "",
            "attachments": [(f.filename, f.size, f.sha256) for f in files],
            **contact_context(get_contact(session, bureau)),
        },
    )
    return render_pdf(data)
