"""Staff actions as the staff pages and the staff API take them: one entry point for both, same rules.

``take_action`` accepts only the fields each action defines (so nobody slips ``today`` or ``approver_rule`` into
the workflow's payload), stores and attaches the files that come with it, and calls ``perform_action``, the only
writer of case state. ``register_application`` is paper intake (with the scan) and committee transfer intake.
Operations flush; the request commits once, and a refusal rolls everything back, the stored files included
(``portal.attachments`` deletes objects of a transaction that does not commit).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.attachments.models import AttachmentSource
from portal.attachments.operations import MAX_FILES, UploadError, claim_uploads, store_upload
from portal.cases.context import BureauStaff, actor_of
from portal.cases.operations import ActionResult, ApplicationInput, Submission, perform_action, submit_application
from portal.pii import PersonalData
from portal.roles import PETITION_OFFICE
from portal.storage import Storage
from portal.workflow import ActionRefused, CaseAction, IntakePath
from tenants.models import UnitKind

A = CaseAction

#: The fields each staff action takes (the workflow's payload keys). Coordination meetings are not a case action:
#: a meeting may concern no case (``portal.cases.meetings``).
#: Files come separately; they become the event's ``attachment_ids``. ``escalate`` is the petitioner's.
ACTION_FIELDS: dict[CaseAction, tuple[str, ...]] = {
    A.accept: ("note",),
    A.reject: ("reason", "explanation", "remedy"),
    A.submit_slip: (
        "proposal",
        "complexity",
        "lead_unit_id",
        "assisting_unit_ids",
        "approver_id",
        "approver_change_reason",
    ),
    A.instruct: ("instruction", "complexity", "lead_unit_id", "assisting_unit_ids"),
    A.dispatch: ("handed_to_unit_ids", "note"),
    A.submit_opinion: ("opinion", "needs_approval"),
    A.approve_opinion: ("comment",),
    A.return_opinion: ("reason",),
    A.submit_reply: ("text", "outcome"),
    A.return_reply: ("reason",),
    A.sign_reply: ("comment", "draft_sha256"),
    A.request_extension: ("days", "reason"),
    A.approve_extension: ("days", "comment"),
    A.deny_extension: ("reason",),
    A.request_materials: ("target", "target_bureau_id", "body_name", "content", "due_on"),
    A.provide_materials: ("request_id", "content"),
    A.record_contact: ("party", "body_name", "contacted_on", "channel", "summary"),
    A.withdraw: ("reason", "document_note"),
    A.record_delivery: ("method", "delivered_on"),
}
STAFF_ACTIONS: tuple[CaseAction, ...] = tuple(ACTION_FIELDS)
#: Actions that may carry files (division opinion, formal opinion, answered materials).
FILE_ACTIONS: frozenset[CaseAction] = frozenset({A.submit_opinion, A.submit_reply, A.provide_materials})


@dataclass(frozen=True)
class IncomingFile:
    """A file received with a form: its stream (spooled by the web server) and the name the client gave."""

    stream: BinaryIO
    filename: str | None


def staff_action(name: str | CaseAction) -> CaseAction | None:
    """The staff action of that name, or None (unknown, or not a staff action)."""
    try:
        action = CaseAction(name)
    except ValueError:
        return None
    return action if action in ACTION_FIELDS else None


def _invalid(field: str, zh: str, en: str) -> ActionRefused:
    return ActionRefused("invalid", zh, en, field)


def check_fields(action: CaseAction, data: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse fields that ``action`` does not take; return a copy of the payload."""
    allowed = set(ACTION_FIELDS[action])
    for key in data:
        if key not in allowed:
            raise _invalid(
                str(key)[:40],
                f"该操作没有“{str(key)[:40]}”这一项。",
                f"This action takes no field {str(key)[:40]!r}.",
            )
    return dict(data)


def _attach(
    session: Session,
    storage: Storage,
    files: Sequence[IncomingFile],
    upload_ids: Sequence[str],
    *,
    bureau_id: int,
    case_id: int,
    uploaded_by: str,
    field: str,
) -> list[int]:
    if not files and not upload_ids:
        return []
    if len(files) + len(upload_ids) > MAX_FILES:
        raise _invalid(field, f"一次最多附{MAX_FILES}个文件。", f"At most {MAX_FILES} files can be attached.")
    try:
        ids = [store_upload(session, storage, f.stream, f.filename).id for f in files]
        ids += list(upload_ids)
        attachments = claim_uploads(
            session,
            storage,
            ids,
            bureau_id=bureau_id,
            case_id=case_id,
            source=AttachmentSource.staff,
            uploaded_by=uploaded_by[:200],
        )
    except UploadError as exc:
        raise _invalid(field, exc.zh, exc.en) from exc
    return [a.id for a in attachments]


def take_action(
    session: Session,
    pii: PersonalData,
    storage: Storage,
    case_id: int,
    action: CaseAction | str,
    user: StaffUser,
    payload: Mapping[str, Any],
    *,
    files: Sequence[IncomingFile] = (),
    upload_ids: Sequence[str] = (),
    expected_version: int | None = None,
    today: date | None = None,
) -> ActionResult:
    """Take a staff action on a case with its files; raise what ``perform_action`` raises, or ``ActionRefused``."""
    chosen = staff_action(action)
    if chosen is None:
        raise _invalid("action", "未知的操作。", f"Unknown action {str(action)[:40]!r}.")
    data = check_fields(chosen, payload)
    if (files or upload_ids) and chosen not in FILE_ACTIONS:
        raise _invalid("files", "该操作不能附文件。", "This action takes no files.")
    attachment_ids = _attach(
        session,
        storage,
        files,
        upload_ids,
        bureau_id=user.tenant_id,
        case_id=case_id,
        uploaded_by=user.display_name,
        field="files",
    )
    if attachment_ids:
        data["attachment_ids"] = attachment_ids
    return perform_action(
        session,
        pii,
        case_id,
        chosen,
        actor_of(user),
        data,
        expected_version=expected_version,
        today=today,
        storage=storage,
    )


def in_general_office(session: Session, user: StaffUser) -> bool:
    """Tell whether the user works in their bureau's general office (办公室), the unit that registers transfers."""
    if user.unit_id is None:
        return False
    unit = BureauStaff(session, user.tenant_id).units.get(user.unit_id)  # kept in memory (``portal.memo``)
    return unit is not None and unit.kind == UnitKind.general_office


def register_application(
    session: Session,
    pii: PersonalData,
    storage: Storage,
    data: ApplicationInput,
    user: StaffUser,
    *,
    files: Sequence[IncomingFile] = (),
    upload_ids: Iterable[str] = (),
    today: date,
) -> Submission:
    """Register a paper application (with at least one scan) or a committee transfer; flushes.

    The petition office registers paper applications; the province's general office (省局办公室) registers the
    committee's transfers by the document procedure and hands them to the petition office in the same step (§四.3).
    Raises ``ActionRefused`` (forbidden, or a missing scan) and what ``submit_application`` raises
    (``IntakeRefused`` when the application belongs elsewhere).
    """
    if data.intake not in (IntakePath.paper, IntakePath.committee_transfer):
        raise _invalid(
            "intake", "工作人员只登记书面申请和省政府转交的事项。", "Staff register paper or transferred cases."
        )
    if data.intake is IntakePath.committee_transfer:
        if not in_general_office(session, user):
            raise ActionRefused(
                "forbidden",
                "省政府复查复核委员会转交的事项由省局办公室按公文程序登记后转信访办（§四.3）。",
                "Committee transfers are registered by the province's general office, which hands them to the "
                "petition office (§四.3).",
            )
    elif not set(user.roles) & PETITION_OFFICE:
        raise ActionRefused("forbidden", "申请由信访办登记。", "Applications are registered by the petition office.")
    upload_ids = list(upload_ids)
    if data.intake is IntakePath.paper and not files and not upload_ids:
        raise _invalid("scans", "请上传书面申请的扫描件。", "Attach the scan of the paper application.")
    submission = submit_application(session, pii, data, actor=actor_of(user), today=today)
    _attach(
        session,
        storage,
        files,
        upload_ids,
        bureau_id=submission.case.tenant_id,
        case_id=submission.case.id,
        uploaded_by=user.display_name,
        field="scans",
    )
    return submission
