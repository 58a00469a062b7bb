"""What a petitioner does online, each in one unit of work: apply, answer a request, escalate, withdraw, claim.

These compose the case operations (``submit_application``, ``perform_action``) with the attachments module, so that
the pages and the API call one function each. They flush; the request commits once. If anything fails before the
commit, the rollback removes every row, and the attachments module deletes every object written for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from portal.attachments import Attachment, AttachmentSource, claim_uploads
from portal.attachments.operations import MAX_FILES, TooManyUploads
from portal.cases.history import Actor
from portal.cases.models import Case, CaseNumber, Deadline, MaterialRequest
from portal.cases.operations import ActionResult, ApplicationInput, Submission, perform_action, submit_application
from portal.petitioners.accounts import link_case
from portal.pii import PersonalData
from portal.storage import Storage
from portal.workflow import ActionRefused, CaseAction, CaseState, IntakePath, MaterialTarget, Step
from tenants.scoping import TenantScope, scoped


def petitioner_actor(case_or_name: Case | str, account_id: int | None = None) -> Actor:
    """The petitioner as the history records them: their name, and their account id when signed in."""
    name = case_or_name.petitioner_name if isinstance(case_or_name, Case) else case_or_name
    return Actor(kind="petitioner", id=account_id, name=name)


@dataclass
class OnlineSubmission:
    submission: Submission
    attachments: list[Attachment]

    @property
    def case(self) -> Case:
        return self.submission.case


def submit_online(
    session: Session,
    storage: Storage,
    pii: PersonalData,
    data: ApplicationInput,
    upload_ids: Sequence[str],
    *,
    today: date,
    account_id: int | None = None,
) -> OnlineSubmission:
    """Register an online application with its uploaded files; link it to the account when signed in.

    Raises ``IntakeRefused`` (routing), ``UploadError`` (a file unknown, used or too many) or a storage error.
    """
    if len(upload_ids) > MAX_FILES:
        raise TooManyUploads(MAX_FILES)
    submission = submit_application(
        session, pii, data, actor=petitioner_actor(data.petitioner.name, account_id), today=today
    )
    case = submission.case
    with scoped(session, TenantScope.single(case.tenant_id)):
        attachments = claim_uploads(
            session,
            storage,
            list(upload_ids),
            bureau_id=case.tenant_id,
            case_id=case.id,
            source=AttachmentSource.petitioner,
            uploaded_by=f"petitioner:{data.petitioner.name}"[:200],
        )
    if account_id is not None:
        link_case(session, account_id, case.number, "submitted")
    session.flush()
    return OnlineSubmission(submission, attachments)


def answer_request(
    session: Session,
    storage: Storage,
    pii: PersonalData,
    case: Case,
    request_id: int,
    content: str | None,
    upload_ids: Sequence[str],
    *,
    today: date,
    account_id: int | None = None,
) -> ActionResult:
    """Answer a materials request addressed to the petitioner with a note and files (§四.11).

    The session holds the case's bureau scope (``tracking.open_case``). A request that is not open, or not addressed
    to the petitioner, is refused before any file is attached.
    """
    open_request = session.scalar(
        select(MaterialRequest.id).where(
            MaterialRequest.tenant_id == case.tenant_id,
            MaterialRequest.case_id == case.id,
            MaterialRequest.id == request_id,
            MaterialRequest.target == str(MaterialTarget.petitioner),
            MaterialRequest.answered_at.is_(None),
        )
    )
    if open_request is None:
        raise ActionRefused(
            "wrong_state",
            "没有需要您答复的这项材料要求：可能已经答复过了。",
            "There is no open request for materials with this number addressed to you; it may be answered already.",
            "request_id",
        )
    attachments = claim_uploads(
        session,
        storage,
        list(upload_ids),
        bureau_id=case.tenant_id,
        case_id=case.id,
        source=AttachmentSource.petitioner,
        uploaded_by=f"petitioner:{case.petitioner_name}"[:200],
    )
    payload = {"request_id": request_id, "content": content or None, "attachment_ids": [a.id for a in attachments]}
    return perform_action(
        session,
        pii,
        case.id,
        CaseAction.provide_materials,
        petitioner_actor(case, account_id),
        payload,
        today=today,
    )


def withdraw_case(
    session: Session, pii: PersonalData, case: Case, reason: str | None, *, today: date, account_id: int | None = None
) -> ActionResult:
    """Withdraw the application with a reason (any open state)."""
    return perform_action(
        session, pii, case.id, CaseAction.withdraw, petitioner_actor(case, account_id), {"reason": reason}, today=today
    )


@dataclass
class Escalated:
    """A re-review opened from a replied review: the new case, its one-time access code and its files."""

    result: ActionResult
    case: Case
    access_code: str
    acceptance_due: date | None
    attachments: list[Attachment]


def awaits_online_delivery(case) -> bool:
    """Whether opening ``case`` online records its delivery (送达): a replied case not yet delivered.

    A replied case whose delivery is already recorded (by post, in person, electronically or an earlier opening)
    is left alone; so is a committee transfer, whose result goes to the committee. ``case``: a ``Case``, or the
    ``CaseStamp`` of the tracking look-up (which reads these three columns for this rule).
    """
    return (
        case.state is CaseState.replied
        and case.delivered_on is None
        and case.intake is not IntakePath.committee_transfer
    )


def record_online_delivery(session: Session, pii: PersonalData, case: Case, *, today: date) -> bool:
    """送达 online: the first time the petitioner opens a replied case, record that day; True when recorded."""
    if not awaits_online_delivery(case):
        return False
    perform_action(session, pii, case.id, CaseAction.record_delivery, petitioner_actor(case), {}, today=today)
    return True


def escalate_case(
    session: Session,
    storage: Storage,
    pii: PersonalData,
    case: Case,
    reason: str | None,
    upload_ids: Sequence[str] = (),
    *,
    today: date,
    account_id: int | None = None,
    request: str | None = None,
    facts_and_reasons: str | None = None,
) -> Escalated:
    """Apply for a re-review of the replied review ``case``: a new case at the next bureau, linked to this one.

    The application states the request and the facts and reasons separately (``reason`` alone serves as both).

    The new case carries the files of the first: the petitioner's own and the notices and opinion sent to them,
    copied into the new bureau's storage; new uploads are added to them.
    """
    from portal.petitioners.tracking import public_document_ids

    documents = public_document_ids(session, case)
    carried = [
        a
        for a in session.scalars(
            select(Attachment)
            .where(Attachment.tenant_id == case.tenant_id, Attachment.case_id == case.id)
            .order_by(Attachment.id)
        )
        if a.source is AttachmentSource.petitioner or a.id in documents
    ]
    if len(upload_ids) > MAX_FILES:
        raise TooManyUploads(MAX_FILES)
    result = perform_action(
        session,
        pii,
        case.id,
        CaseAction.escalate,
        petitioner_actor(case, account_id),
        {"reason": reason, "request": request, "facts_and_reasons": facts_and_reasons},
        today=today,
    )
    new_case = result.new_case
    with scoped(session, TenantScope.single(new_case.tenant_id)):
        files = copy_attachments(session, storage, carried, new_case, uploaded_by=f"carried from {case.number}")
        files += claim_uploads(
            session,
            storage,
            list(upload_ids),
            bureau_id=new_case.tenant_id,
            case_id=new_case.id,
            source=AttachmentSource.petitioner,
            uploaded_by=f"petitioner:{case.petitioner_name}"[:200],
        )
        acceptance_due = session.scalar(
            select(Deadline.due_on).where(
                Deadline.tenant_id == new_case.tenant_id,
                Deadline.case_id == new_case.id,
                Deadline.step == Step.acceptance,
            )
        )
    if account_id is not None:
        link_case(session, account_id, new_case.number, "escalated")
    session.flush()
    return Escalated(result, new_case, result.access_code, acceptance_due, files)


def copy_attachments(
    session: Session, storage: Storage, sources: Sequence[Attachment], case: Case, *, uploaded_by: str
) -> list[Attachment]:
    """Copy files of another case into ``case`` as the petitioner's materials (server-side copies); flushes.

    In the new case the earlier opinion and notices are what the petitioner brings along, so they count as the
    petitioner's files there (listed on the receipt); ``uploaded_by`` says where they came from.

    Like ``claim_uploads``: a copy that fails removes the copies made so far, and a rollback of the transaction
    removes them all (the attachments module deletes objects it was told about when the transaction ends).
    """
    from portal.attachments.operations import _ON_ROLLBACK, _defer, _delete_quietly

    if not sources:
        return []
    ids = session.scalars(
        text("SELECT nextval(pg_get_serial_sequence('attachments', 'id')) FROM generate_series(1, :n)"),
        {"n": len(sources)},
    ).all()
    copied: list[str] = []
    made: list[Attachment] = []
    try:
        for source, attachment_id in zip(sources, ids, strict=True):
            key = f"{case.tenant_id}/{case.id}/{attachment_id}-{source.sha256[:16]}"
            storage.client.copy_object(
                Bucket=storage.bucket, Key=key, CopySource={"Bucket": storage.bucket, "Key": source.storage_key}
            )
            copied.append(key)
            made.append(
                Attachment(
                    id=attachment_id,
                    tenant_id=case.tenant_id,
                    case_id=case.id,
                    filename=source.filename,
                    size=source.size,
                    content_type=source.content_type,
                    sha256=source.sha256,
                    storage_key=key,
                    source=AttachmentSource.petitioner,
                    uploaded_by=uploaded_by[:200],
                )
            )
        session.add_all(made)
        session.flush()
    except Exception:
        _delete_quietly(storage, copied)
        raise
    _defer(session, _ON_ROLLBACK, storage, copied)
    return made


def claim_case(session: Session, account_id: int, ref: CaseNumber) -> None:
    """Put a case whose number and code the petitioner just proved into their account."""
    link_case(session, account_id, ref.number, "claimed")
    session.flush()
