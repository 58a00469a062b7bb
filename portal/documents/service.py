"""Stored documents: render the "render_document" outbox rows, number them, keep them in object storage.

The workflow writes one outbox row (kind "render_document", payload ``{"case_id", "document", "seq"}``) in the
transaction of each action that produces a document. ``render_outbox_row`` turns such a row into a
``GeneratedDocument`` with a PDF and a DOCX attachment (source "generated"), numbered from the bureau's sequence,
with the bureau's letterhead and template overrides. It is idempotent: a row whose document exists is only marked
sent, and the unique key (bureau, case, kind, event) backs the check up.

Everything is gathered and filled first; a template that cannot be filled marks the row failed with a clear
``last_error`` and stores nothing. Only then is the number taken and the objects uploaded, inside a savepoint: if
the database write fails the objects are deleted at once, and if the caller's transaction later rolls back instead
of committing they are deleted then (``portal.attachments`` registers them on the session).

Bureau settings (letterhead, number prefix, template texts) are read and changed here for the admin pages.
Operations flush; the caller commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.attachments.models import Attachment, AttachmentSource
from portal.attachments.operations import _ON_ROLLBACK, _defer, _delete_quietly, download_url
from portal.cases.context import stand_in_signing_for
from portal.cases.models import Case, CaseEvent, CaseParty, Deadline, Outbox
from portal.documents import render_docx, render_pdf
from portal.documents.data import DocumentData, chinese_date
from portal.documents.models import DocumentSequence, DocumentSettings, DocumentTemplate, GeneratedDocument
from portal.documents.numbering import default_prefix, format_number, next_number, prefix_problems, series_for
from portal.documents.templates import (
    COMMITTEE_EXTENSION,
    COMMITTEE_REPORT,
    KINDS,
    TemplateError,
    TemplateProblem,
    build_document,
    compose_letter,
    default_text,
    letter_title,
    prefill_letter,
    remedy_text,
    validate_template,
)
from portal.pii import PersonalData
from portal.roles import ROLE_LABELS, Role
from portal.routing import COMMITTEE_NAME, OPINION_KIND_LABELS
from portal.storage import Storage
from portal.workflow import (
    COMPLEXITY_LABELS,
    DOCUMENT_LABELS,
    REJECT_REASON_LABELS,
    CaseKind,
    CaseState,
    Complexity,
    DocumentKind,
    IntakePath,
    Outcome,
    RejectReason,
    Step,
)
from tenants.contacts import contact_context, get_contact
from tenants.models import Bureau, Unit
from tenants.scoping import scope_for_bureau, scoped

RENDER_KIND = "render_document"
LOCAL_TIME = ZoneInfo("Asia/Shanghai")
PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
GENERATED_BY = "system"
LETTERHEAD_MAX = 60
ERROR_MAX = 2000
# Addressed to the petitioner: shown on the public tracking page. The reading slip is an internal form.
PUBLIC_KINDS = frozenset(
    {
        DocumentKind.acceptance_notice,
        DocumentKind.non_acceptance_notice,
        DocumentKind.extension_notice,
        DocumentKind.formal_opinion,
    }
)
_DUPLICATE = "uq_generated_documents_tenant_id_case_id_kind_event_seq"


class DocumentSourceError(Exception):
    """The case lacks what the document needs (an event, a deadline): rendering again will not help."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


class DocumentSettingsError(ValueError):
    """A letterhead, number prefix or template text that cannot be saved; ``problems`` says each thing wrong."""

    def __init__(self, problems: list[TemplateProblem]):
        self.problems = problems
        self.message_zh = " ".join(p.zh for p in problems)
        self.message_en = " ".join(p.en for p in problems)
        super().__init__(self.message_en)


# --- Bureau settings ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentSettingsView:
    """A bureau's document settings in force (defaults filled in), for the admin pages and the renderer."""

    bureau_id: int
    bureau_name: str
    letterhead: str
    letterhead_is_default: bool
    number_prefix: str
    number_prefix_is_default: bool
    overrides: dict[str, str] = field(default_factory=dict)  # kind -> the bureau's text
    updated_at: datetime | None = None
    updated_by: str | None = None

    def template_text(self, kind: str) -> str:
        """The text in force for ``kind``: the bureau's override or the default."""
        return self.overrides.get(str(kind)) or default_text(kind)

    def example_number(self, kind: DocumentKind | str, case_kind: CaseKind | str, year: int, number: int = 1) -> str:
        return format_number(self.number_prefix, series_for(kind, case_kind), year, number)


def _bureau_id(bureau: Bureau | int) -> int:
    return bureau if isinstance(bureau, int) else bureau.id


def _load_bureau(session: Session, bureau: Bureau | int) -> Bureau:
    found = session.get(Bureau, _bureau_id(bureau))
    if found is None:
        raise LookupError(f"No bureau {bureau!r}.")
    return found


def get_document_settings(session: Session, bureau_id: int) -> DocumentSettingsView:
    """Return the letterhead, number prefix and template overrides of a bureau, defaults filled in."""
    bureau = _load_bureau(session, bureau_id)
    row = session.scalar(select(DocumentSettings).where(DocumentSettings.tenant_id == bureau.id))
    templates = session.scalars(select(DocumentTemplate).where(DocumentTemplate.tenant_id == bureau.id)).all()
    times = [(t.updated_at, t.updated_by) for t in templates] + ([(row.updated_at, row.updated_by)] if row else [])
    latest = max(times, key=lambda pair: pair[0]) if times else (None, None)
    return DocumentSettingsView(
        bureau_id=bureau.id,
        bureau_name=bureau.name,
        letterhead=(row and row.letterhead) or bureau.name,
        letterhead_is_default=not (row and row.letterhead),
        number_prefix=(row and row.number_prefix) or default_prefix(bureau),
        number_prefix_is_default=not (row and row.number_prefix),
        overrides={t.kind: t.text for t in templates},
        updated_at=latest[0],
        updated_by=latest[1],
    )


def _settings_row(session: Session, bureau_id: int) -> DocumentSettings:
    row = session.scalar(select(DocumentSettings).where(DocumentSettings.tenant_id == bureau_id))
    if row is None:
        row = DocumentSettings(tenant_id=bureau_id)
        session.add(row)
    return row


def _problem(code: str, zh: str, en: str) -> TemplateProblem:
    return TemplateProblem(code, zh, en)


def _one_line(value, what_zh: str, what_en: str, limit: int) -> tuple[str | None, list[TemplateProblem]]:
    """Clean a one-line setting; None or blank means "back to the default"."""
    if value is None:
        return None, []
    if not isinstance(value, str):
        return None, [_problem("not_text", f"{what_zh}必须是文字。", f"The {what_en} must be text.")]
    cleaned = value.strip()
    if not cleaned:
        return None, []
    problems = []
    if len(cleaned) > limit:
        problems.append(
            _problem(
                "too_long", f"{what_zh}不能超过 {limit} 个字符。", f"The {what_en} is longer than {limit} characters."
            )
        )
    if any(ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF for ch in cleaned):
        problems.append(
            _problem("one_line", f"{what_zh}只能是一行文字。", f"The {what_en} must be a single line of text.")
        )
    return cleaned, problems


def set_letterhead(
    session: Session, bureau: Bureau | int, letterhead: str | None, *, updated_by: str | None = None
) -> DocumentSettings:
    """Set the name printed in red at the top of the bureau's documents (and above the seal); blank: the default.

    Raise ``DocumentSettingsError`` and change nothing when it is not one line of at most 60 characters.
    """
    bureau_id = _load_bureau(session, bureau).id
    value, problems = _one_line(letterhead, "版头名称", "letterhead", LETTERHEAD_MAX)
    if problems:
        raise DocumentSettingsError(problems)
    row = _settings_row(session, bureau_id)
    row.letterhead, row.updated_by = value, updated_by
    session.flush()
    return row


def set_number_prefix(
    session: Session, bureau: Bureau | int, prefix: str | None, *, updated_by: str | None = None
) -> DocumentSettings:
    """Set the text before the series character of the bureau's document numbers (default e.g. 长社保信).

    Raise ``DocumentSettingsError`` and change nothing when it holds digits, spaces, brackets or is too long.
    """
    bureau_id = _load_bureau(session, bureau).id
    value, problems = _one_line(prefix, "发文字号前缀", "number prefix", 200)
    if value is not None and not problems:
        problems = [_problem("prefix", zh, en) for zh, en in prefix_problems(value)]
    if problems:
        raise DocumentSettingsError(problems)
    row = _settings_row(session, bureau_id)
    row.number_prefix, row.updated_by = value, updated_by
    session.flush()
    return row


def set_template_override(
    session: Session, bureau: Bureau | int, kind: str, text_value: str, *, updated_by: str | None = None
) -> DocumentTemplate | None:
    """Make ``text_value`` the bureau's text for documents of ``kind``; returns the row (None: back to default).

    The text is checked with ``validate_template``; raise ``DocumentSettingsError`` with its problems and change
    nothing when it cannot be used. A text equal to the default removes the override.
    """
    bureau_id = _load_bureau(session, bureau).id
    if not isinstance(text_value, str):
        raise DocumentSettingsError([_problem("not_text", "模板内容必须是文字。", "The template must be text.")])
    cleaned = text_value.replace("\r\n", "\n").replace("\r", "\n")
    problems = validate_template(str(kind), cleaned)
    if problems:
        raise DocumentSettingsError(problems)
    kind = str(kind)
    if cleaned.strip() == default_text(kind).strip():
        reset_template(session, bureau_id, kind)
        return None
    row = session.scalar(
        select(DocumentTemplate).where(DocumentTemplate.tenant_id == bureau_id, DocumentTemplate.kind == kind)
    )
    if row is None:
        row = DocumentTemplate(tenant_id=bureau_id, kind=kind)
        session.add(row)
    row.text, row.updated_by = cleaned, updated_by
    session.flush()
    return row


def reset_template(session: Session, bureau: Bureau | int, kind: str) -> bool:
    """Go back to the default text for ``kind``; returns whether there was an override."""
    bureau_id = _load_bureau(session, bureau).id
    if str(kind) not in KINDS:
        raise DocumentSettingsError(
            [_problem("unknown_kind", f"未知的文书种类：{kind}。", f"Unknown document kind: {kind}.")]
        )
    row = session.scalar(
        select(DocumentTemplate).where(DocumentTemplate.tenant_id == bureau_id, DocumentTemplate.kind == str(kind))
    )
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


# --- Rendering an outbox row -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderResult:
    """What became of one outbox row: created, exists (done before) or failed (a permanent problem)."""

    status: str
    document: GeneratedDocument | None = None
    error: str | None = None


@dataclass(frozen=True)
class _Request:
    case_id: int
    kind: DocumentKind
    seq: int


@dataclass
class _Prepared:
    case: Case
    data: DocumentData
    title: str
    public: bool
    series: str
    reuse_number: str | None
    number_prefix: str
    issue_draft: tuple[int, int, str] | None = None  # (PDF id, DOCX id, number) of the signed draft


def render_outbox_row(session: Session, storage: Storage, pii: PersonalData, outbox_row: Outbox) -> RenderResult:
    """Turn one "render_document" outbox row into a stored, numbered document and mark the row; flushes.

    Runs in the scope of the row's bureau (acting there, reading its subtree, where an escalated case's earlier
    case lives), whatever scope the caller holds. Returns ``RenderResult``: "created", "exists" (already done:
    nothing new) or "failed" (the row is marked failed with ``last_error``: a template that cannot be filled or
    a case without the event the row names). Any other error (storage or database down) propagates with nothing
    stored; the caller rolls back and retries later. The caller counts ``attempts``. ``pii`` is for documents
    that need decrypted personal data; the current ones need only names, which are stored in clear.

    A dispatcher must keep the status set here: after a "failed" result it must not mark the row sent.
    """
    if outbox_row.kind != RENDER_KIND:
        raise ValueError(f"Outbox row {outbox_row.id} is a {outbox_row.kind!r}, not a {RENDER_KIND!r}.")
    with scoped(session, scope_for_bureau(session, outbox_row.tenant_id)):
        try:
            request = _parse(outbox_row)
        except DocumentSourceError as exc:
            return _fail(session, outbox_row, exc.zh, exc.en)
        existing = _existing(session, outbox_row.tenant_id, request)
        if existing is not None:
            if outbox_row.status != "sent":
                _mark_sent(session, outbox_row)
            return RenderResult("exists", existing)
        if outbox_row.status != "pending":
            return RenderResult(outbox_row.status, None, outbox_row.last_error)
        try:
            prepared = _prepare(session, outbox_row.tenant_id, request)
        except (TemplateError, DocumentSourceError) as exc:
            label_zh, label_en = DOCUMENT_LABELS[request.kind]
            number = session.scalar(
                select(Case.number).where(Case.tenant_id == outbox_row.tenant_id, Case.id == request.case_id)
            )
            number = number or f"#{request.case_id}"
            return _fail(
                session,
                outbox_row,
                f"无法生成案件 {number} 的{label_zh}（第 {request.seq} 条办理记录）：{exc.zh}",
                f"Cannot render the {label_en.lower()} of case {number} (event {request.seq}): {exc.en}",
            )
        document = _store(session, storage, request, prepared)
        if document is None:  # another worker stored it meanwhile
            document = _existing(session, outbox_row.tenant_id, request)
            _mark_sent(session, outbox_row)
            return RenderResult("exists", document)
        from portal.cases.stamp import touch_case

        touch_case(session, outbox_row.tenant_id, request.case_id)  # the petitioner's page lists the new notice
        _mark_sent(session, outbox_row)
        return RenderResult("created", document)


def _parse(row: Outbox) -> _Request:
    payload = row.payload if isinstance(row.payload, Mapping) else {}
    try:
        case_id = int(payload.get("case_id", row.case_id))
        seq = int(payload["seq"])
        kind = DocumentKind(payload["document"])
    except (KeyError, TypeError, ValueError):
        raise DocumentSourceError(
            f"文书生成任务的内容无效：{dict(payload)!r}。", f"Invalid document job payload: {dict(payload)!r}."
        ) from None
    return _Request(case_id=case_id, kind=kind, seq=seq)


def _existing(session: Session, tenant_id: int, request: _Request) -> GeneratedDocument | None:
    return session.scalar(
        select(GeneratedDocument).where(
            GeneratedDocument.tenant_id == tenant_id,
            GeneratedDocument.case_id == request.case_id,
            GeneratedDocument.kind == request.kind,
            GeneratedDocument.event_seq == request.seq,
        )
    )


def _mark_sent(session: Session, row: Outbox) -> None:
    row.status, row.sent_at, row.last_error = "sent", datetime.now(UTC), None
    session.flush()


def _fail(session: Session, row: Outbox, zh: str, en: str) -> RenderResult:
    message = f"{zh} / {en}"[:ERROR_MAX]
    row.status, row.last_error = "failed", message
    session.flush()
    return RenderResult("failed", None, message)


def _put_files(
    session: Session,
    storage: Storage,
    case: Case,
    stem: str,
    data: DocumentData,
    uploaded: list[str],
    *,
    pdf: bytes | None = None,
) -> list[Attachment]:
    """Render ``data`` to PDF and DOCX, upload both and add their attachment rows (PDF first); flushes.

    ``pdf``: the PDF of ``data`` already rendered (the bytes a signer saw). The keys uploaded are appended to
    ``uploaded`` as they go, for the caller to delete on failure.
    """
    files = [(pdf if pdf is not None else render_pdf(data), PDF_TYPE, "pdf"), (render_docx(data), DOCX_TYPE, "docx")]
    # The object key carries the attachment id, so take the ids before the rows exist.
    ids = session.scalars(
        text("SELECT nextval(pg_get_serial_sequence('attachments', 'id')) FROM generate_series(1, 2)")
    ).all()
    attachments = []
    for (body, content_type, extension), attachment_id in zip(files, ids, strict=True):
        digest = hashlib.sha256(body).hexdigest()
        attachments.append(
            Attachment(
                id=attachment_id,
                tenant_id=case.tenant_id,
                case_id=case.id,
                filename=f"{stem}.{extension}",
                size=len(body),
                content_type=content_type,
                sha256=digest,
                storage_key=f"{case.tenant_id}/{case.id}/{attachment_id}-{digest[:16]}",
                source=AttachmentSource.generated,
                uploaded_by=GENERATED_BY,
            )
        )
    # Everything is ready: only now do the objects go to storage.
    for attachment, (body, content_type, _) in zip(attachments, files, strict=True):
        storage.client.put_object(
            Bucket=storage.bucket,
            Key=attachment.storage_key,
            Body=body,
            ContentType=content_type,
            Metadata={"sha256": attachment.sha256},
        )
        uploaded.append(attachment.storage_key)
    session.add_all(attachments)
    session.flush()
    return attachments


def _store(session: Session, storage: Storage, request: _Request, prepared: _Prepared) -> GeneratedDocument | None:
    """Number, render and store the document; None when the same document was stored meanwhile."""
    case, data = prepared.case, prepared.data
    uploaded: list[str] = []
    try:
        with session.begin_nested():
            if prepared.issue_draft is not None:
                # The signed formal opinion is the draft the leader saw: the same objects, byte for byte.
                pdf_id, docx_id, data.doc_number = prepared.issue_draft
            else:
                data.doc_number = prepared.reuse_number or format_number(
                    prepared.number_prefix,
                    prepared.series,
                    data.issued_on.year,
                    next_number(session, case.tenant_id, data.issued_on.year, prepared.series),
                )
                stem = f"{prepared.title}（{data.doc_number}）"
                pdf, docx = _put_files(session, storage, case, stem, data, uploaded)
                pdf_id, docx_id = pdf.id, docx.id
            document = GeneratedDocument(
                tenant_id=case.tenant_id,
                case_id=case.id,
                kind=request.kind,
                event_seq=request.seq,
                doc_number=data.doc_number,
                title=prepared.title,
                public=prepared.public,
                pdf_attachment_id=pdf_id,
                docx_attachment_id=docx_id,
            )
            session.add(document)
            session.flush()
    except IntegrityError as exc:
        _delete_quietly(storage, uploaded)
        if getattr(getattr(exc.orig, "diag", None), "constraint_name", None) == _DUPLICATE:
            return None
        raise
    except BaseException:
        _delete_quietly(storage, uploaded)
        raise
    # Stored and flushed; if the caller's transaction does not commit, the objects go again.
    _defer(session, _ON_ROLLBACK, storage, uploaded)
    return document


# --- Gathering what a document says ------------------------------------------------------------------------


def _local_date(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TIME).date()


def _event(session: Session, case: Case, seq: int) -> CaseEvent | None:
    return session.scalar(
        select(CaseEvent).where(
            CaseEvent.tenant_id == case.tenant_id, CaseEvent.case_id == case.id, CaseEvent.seq == seq
        )
    )


def _latest_before(session: Session, case: Case, action: str, seq: int) -> CaseEvent | None:
    """The latest ``action`` event of the case up to ``seq`` (the event itself included)."""
    return session.scalar(
        select(CaseEvent)
        .where(
            CaseEvent.tenant_id == case.tenant_id,
            CaseEvent.case_id == case.id,
            CaseEvent.action == action,
            CaseEvent.seq <= seq,
        )
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    )


def _needed(event: CaseEvent | None, action: str, case: Case) -> CaseEvent:
    if event is None:
        raise DocumentSourceError(
            f"案件 {case.number} 缺少生成该文书所需的“{action}”记录。",
            f"Case {case.number} has no '{action}' event that the document needs.",
        )
    return event


def _addressee_names(session: Session, case: Case) -> str:
    names = session.scalars(
        select(CaseParty.name)
        .where(
            CaseParty.tenant_id == case.tenant_id,
            CaseParty.case_id == case.id,
            CaseParty.role.in_(("petitioner", "joint_petitioner")),
        )
        .order_by(CaseParty.role.desc(), CaseParty.id)  # "petitioner" sorts after "joint_petitioner"
    ).all()
    return "、".join(names) if names else case.petitioner_name


def _disputed_opinion(session: Session, case: Case) -> str:
    """E.g. 南关区社会保险局2026年9月1日作出的信访事项处理意见（南社保信〔2026〕3号）.

    An escalated case disputes the earlier case's formal opinion: cite that document's number.
    """
    issuer = session.get(Bureau, case.disputed_bureau_id)
    number = case.disputed_document_number
    if case.earlier_case_id is not None:
        earlier = session.scalar(
            select(GeneratedDocument.doc_number)
            .where(
                GeneratedDocument.tenant_id == case.earlier_tenant_id,
                GeneratedDocument.case_id == case.earlier_case_id,
                GeneratedDocument.kind == DocumentKind.formal_opinion,
            )
            .order_by(GeneratedDocument.event_seq.desc())
            .limit(1)
        )
        number = earlier or number
    kind = OPINION_KIND_LABELS[case.disputed_kind][0]
    return f"{issuer.name if issuer else ''}{chinese_date(case.disputed_issued_on)}作出的信访事项{kind}（{number}）"


def _whole_review_due(session: Session, case: Case) -> tuple[date | None, date | None]:
    """The whole review's due date as first set, and as it stands (after an extension)."""
    deadline = session.scalar(
        select(Deadline)
        .where(Deadline.tenant_id == case.tenant_id, Deadline.case_id == case.id, Deadline.step == Step.whole_review)
        .order_by(Deadline.id.desc())
        .limit(1)
    )
    if deadline is None:
        return None, None
    original = deadline.due_on
    extension = (deadline.explanation or {}).get("extension") or {}
    if deadline.extended_days and extension.get("from"):
        original = date.fromisoformat(extension["from"])
    return original, deadline.due_on


def _units_text(units: dict[int, str], lead: int | None, assisting) -> str:
    parts = [f"{units.get(lead, '')}（主办）"] if lead is not None else []
    parts += [f"{units.get(int(u), '')}（协办）" for u in assisting or ()]
    return "、".join(parts)


def _user_name(session: Session, case: Case, user_id: int) -> str:
    name = session.scalar(
        select(StaffUser.display_name).where(StaffUser.tenant_id == case.tenant_id, StaffUser.id == user_id)
    )
    return name or ""


def _leader_text(session: Session, case: Case, user_id: int | None, rule: str | None) -> str:
    if user_id is None:
        return ""
    user = session.scalar(select(StaffUser).where(StaffUser.tenant_id == case.tenant_id, StaffUser.id == user_id))
    if user is None:
        return ""
    roles = [Role(r) for r in user.roles]
    chosen = rule if rule in Role.__members__ else None
    order = [chosen] if chosen and Role(chosen) in roles else []
    order += [r for r in (Role.petitions_leader, Role.principal_leader, Role.business_leader) if r in roles]
    return f"{user.display_name}（{ROLE_LABELS[Role(order[0])][0]}）" if order else user.display_name


def _label(labels: Mapping, enum_cls, value) -> str:
    try:
        return labels[enum_cls(value)][0]
    except (KeyError, ValueError):
        return str(value or "")


def _prepare(session: Session, tenant_id: int, request: _Request) -> _Prepared:
    case = session.scalar(select(Case).where(Case.tenant_id == tenant_id, Case.id == request.case_id))
    if case is None:
        raise DocumentSourceError(f"找不到案件 {request.case_id}。", f"Case {request.case_id} does not exist.")
    event = _event(session, case, request.seq)
    if event is None:
        raise DocumentSourceError(
            f"案件 {case.number} 没有第 {request.seq} 条办理记录。", f"Case {case.number} has no event {request.seq}."
        )
    settings = get_document_settings(session, case.tenant_id)
    transferred = case.intake is IntakePath.committee_transfer
    context: dict = {
        "case_kind": str(case.kind),
        "bureau_name": settings.letterhead,
        "case_number": case.number,
        "petitioner_name": _addressee_names(session, case),
        "received_on": case.received_on,
        "accepted_on": case.accepted_on,
        "issued_on": _local_date(event.at),
    }
    if transferred:
        context["addressee"] = COMMITTEE_NAME
    else:  # the petitioner's help line on every notice (a report to the committee carries none)
        context.update(contact_context(get_contact(session, session.get(Bureau, case.tenant_id))))
    kind = request.kind
    template_kind = str(kind)
    title_suffix = ""
    reuse_number = None
    if kind is DocumentKind.acceptance_notice:
        context["issued_on"] = case.accepted_on or context["issued_on"]
        context["disputed_opinion"] = _disputed_opinion(session, case)
        context["due_on"] = _whole_review_due(session, case)[0]
    elif kind is DocumentKind.non_acceptance_notice:
        reject = _needed(_latest_before(session, case, "reject", request.seq), "reject", case)
        fields = reject.fields
        reason = _label(REJECT_REASON_LABELS, RejectReason, fields.get("reason"))
        explanation = str(fields.get("explanation") or "")
        if fields.get("reason") == RejectReason.other and explanation:
            reason, explanation = explanation.strip().rstrip("。"), ""
        context.update(reason=reason, explanation=explanation, remedy=fields.get("remedy"))
    elif kind is DocumentKind.extension_notice:
        approve = _needed(_latest_before(session, case, "approve_extension", request.seq), "approve_extension", case)
        asked = _needed(_latest_before(session, case, "request_extension", request.seq), "request_extension", case)
        original, extended = _whole_review_due(session, case)
        context.update(
            original_due_on=original,
            new_due_on=extended,
            extension_days=approve.fields.get("days"),
            reason=asked.fields.get("reason"),
        )
        if transferred:
            template_kind = COMMITTEE_EXTENSION
            context["committee_document_number"] = case.committee_document_number or ""
            context["signer"] = approve.actor_name  # the leader who approved the extension issues the report
    elif kind is DocumentKind.reading_slip:
        slip = _needed(_latest_before(session, case, "submit_slip", request.seq), "submit_slip", case)
        context.update(_slip_values(session, case, slip))
        context["issued_on"] = _local_date(slip.at)  # 填单日期: when the office filled it in
        if event.action == "instruct":
            context.update(_instruction_values(session, case, slip, event))
            title_suffix = "（已批示）"
        # The slip with the leader's instruction is the same document: it keeps the slip's number.
        reuse_number = session.scalar(
            select(GeneratedDocument.doc_number)
            .where(
                GeneratedDocument.tenant_id == case.tenant_id,
                GeneratedDocument.case_id == case.id,
                GeneratedDocument.kind == DocumentKind.reading_slip,
                GeneratedDocument.event_seq < request.seq,
            )
            .order_by(GeneratedDocument.event_seq.desc())
            .limit(1)
        )
    elif kind is DocumentKind.formal_opinion:
        reply = _needed(_latest_before(session, case, "submit_reply", request.seq), "submit_reply", case)
        draft = reply.fields.get("draft") or {}
        signed = event.fields if event.action == "sign_reply" else {}
        if draft.get("pdf_attachment_id") and signed.get("on_behalf_of") and not signed.get("signed_copy"):
            # 代签 signed where no storage was at hand (not the pages or the API): the copy is rendered now.
            data = _stand_in_data(session, case, reply, int(signed["on_behalf_of"]), event.actor_name)
            return _Prepared(
                case=case,
                data=data,
                title=data.title,
                public=not transferred,
                series=series_for(kind, case.kind),
                reuse_number=draft["doc_number"],
                number_prefix=settings.number_prefix,
            )
        if draft.get("pdf_attachment_id"):
            data = _draft_data(session, case, reply)
            # A stand-in signed the copy with 代签 stored when they signed; the leader, the draft itself.
            files = signed.get("signed_copy") or draft
            return _Prepared(
                case=case,
                data=data,
                title=data.title,
                public=not transferred,
                series=series_for(kind, case.kind),
                reuse_number=draft["doc_number"],
                number_prefix=settings.number_prefix,
                issue_draft=(int(files["pdf_attachment_id"]), int(files["docx_attachment_id"]), draft["doc_number"]),
            )
        # A reply submitted without a stored draft (not through the pages or the API): composed now.
        data = compose_reply(session, case, str(reply.fields.get("text") or ""), issued_on=case.replied_on, check=False)
        data.doc_number = None
        if event.action == "sign_reply":
            # Who signed, and for whom when a stand-in declared for signing signed (代签, §四.4).
            data.signed_by = event.actor_name
            if event.fields.get("on_behalf_of"):
                data.signed_for = _user_name(session, case, event.fields["on_behalf_of"])
        return _Prepared(
            case=case,
            data=data,
            title=data.title,
            public=not transferred,
            series=series_for(kind, case.kind),
            reuse_number=(event.fields or {}).get("doc_number"),  # fixed when it was signed
            number_prefix=settings.number_prefix,
        )
    data = build_document(template_kind, context, settings.overrides)
    return _Prepared(
        case=case,
        data=data,
        title=data.title + title_suffix,
        public=kind in PUBLIC_KINDS and not transferred,
        series=series_for(kind, case.kind),
        reuse_number=reuse_number,
        number_prefix=settings.number_prefix,
    )


def _unit_names(session: Session, case: Case) -> dict[int, str]:
    return dict(session.execute(select(Unit.id, Unit.name).where(Unit.tenant_id == case.tenant_id)).all())


def _summary(case: Case) -> str:
    parts = [f"请求事项：{case.request_text.strip()}"]
    if case.facts_text and case.facts_text.strip():
        parts.append(f"事实和理由：{case.facts_text.strip()}")
    return "\n".join(parts)


def _slip_values(session: Session, case: Case, slip: CaseEvent) -> dict:
    fields = slip.fields
    return {
        "disputed_opinion": _disputed_opinion(session, case),
        "summary": _summary(case),
        "proposed_handling": fields.get("proposal") or "",
        "complexity": _label(COMPLEXITY_LABELS, Complexity, fields.get("complexity")),
        "proposed_units": _units_text(
            _unit_names(session, case), fields.get("lead_unit_id"), fields.get("assisting_unit_ids")
        ),
        "approver": _leader_text(session, case, fields.get("approver_id"), fields.get("approver_rule")),
    }


def _instruction_values(session: Session, case: Case, slip: CaseEvent, instruct: CaseEvent) -> dict:
    fields, proposed = instruct.fields, slip.fields
    lines = [str(fields.get("instruction") or "").strip()]
    decided = []
    if fields.get("complexity") and fields.get("complexity") != proposed.get("complexity"):
        decided.append(f"复杂程度：{_label(COMPLEXITY_LABELS, Complexity, fields['complexity'])}")
    lead, assisting = fields.get("lead_unit_id"), fields.get("assisting_unit_ids") or []
    if lead != proposed.get("lead_unit_id") or sorted(assisting) != sorted(proposed.get("assisting_unit_ids") or []):
        decided.append(f"承办单位：{_units_text(_unit_names(session, case), lead, assisting)}")
    if decided:
        lines.append("（确定" + "；".join(decided) + "）")
    signer = instruct.actor_name
    if fields.get("on_behalf_of"):
        stood_in_for = _leader_text(session, case, fields["on_behalf_of"], None).split("（")[0]
        if stood_in_for:
            signer = f"{signer}（代{stood_in_for}）"
    return {
        "instruction": "\n".join(line for line in lines if line),
        "instructed_by": signer,
        "instructed_on": _local_date(instruct.at),
    }


# --- The composed letter: pre-fill, preview, draft, issue -------------------------------------------------


def letter_kind(case: Case) -> str:
    """What a case's formal opinion is: a letter to the petitioner, or a report to the committee (§四.3)."""
    return COMMITTEE_REPORT if case.intake is IntakePath.committee_transfer else DocumentKind.formal_opinion.value


def _next_body(session: Session, case: Case) -> str:
    """§一: a city's review opinion goes to the province for re-review; the province's to the committee."""
    bureau = session.get(Bureau, case.tenant_id)
    parent = session.get(Bureau, bureau.parent_id) if bureau and bureau.parent_id else None
    return parent.name if parent else COMMITTEE_NAME


def _report_signer(session: Session, case: Case) -> StaffUser | None:
    """签发人 of a report: the bureau's leader in charge of petitions, who signs the formal opinion (§四.10)."""
    leaders = session.scalars(
        select(StaffUser)
        .where(StaffUser.tenant_id == case.tenant_id, StaffUser.active.is_(True))
        .order_by(StaffUser.id)
    ).all()
    return next((user for user in leaders if Role.petitions_leader in user.roles), None)


def _report_signer_name(session: Session, case: Case) -> str | None:
    signer = _report_signer(session, case)
    return signer.display_name if signer is not None else None


def _letter_context(session: Session, case: Case) -> dict:
    settings = get_document_settings(session, case.tenant_id)
    issuer = session.get(Bureau, case.disputed_bureau_id)
    return {
        "case_kind": str(case.kind),
        "bureau_name": settings.letterhead,
        "case_number": case.number,
        "petitioner_name": _addressee_names(session, case),
        "received_on": case.received_on,
        "accepted_on": case.accepted_on,
        "disputed_opinion": _disputed_opinion(session, case),
        "disputed_bureau": issuer.name if issuer else "",
        "request": (case.request_text or "").strip(),
        "committee_document_number": case.committee_document_number or "",
    }


@dataclass(frozen=True)
class ReplyReference:
    """Internal material shown beside the editor: never printed unless the clerk writes it into the letter."""

    label_zh: str
    label_en: str
    author: str
    at: datetime
    text: str


@dataclass(frozen=True)
class ReplyDesk:
    """What the clerk drafting the formal opinion sees: the fixed parts, the pre-fill per outcome, references."""

    kind: str  # formal_opinion or committee_report
    title: str
    addressee: str
    remedy: str | None  # printed once under a letter to the petitioner; None for a report
    signer: str | None  # 签发人 of a report
    prefill: dict[str, str]  # outcome -> the bureau's template filled in
    references: list[ReplyReference]
    reserved_number: str | None  # the number an earlier submission of this reply took


_REFERENCE_ACTIONS = {
    "submit_slip": ("proposal", "信访办拟办意见", "Petition office's proposal"),
    "instruct": ("instruction", "局领导批示", "Leader's instruction"),
    "submit_opinion": ("opinion", "承办单位审查意见", "Handling unit's review opinion"),
    "approve_opinion": ("comment", "分管领导审定意见", "Business leader's approval"),
    "return_opinion": ("reason", "分管领导退回意见", "Business leader's return"),
    "return_reply": ("reason", "签批领导退回意见", "Signing leader's return"),
}


def get_reply_desk(session: Session, case: Case) -> ReplyDesk:
    """The drafting desk of a case's formal opinion (read in the caller's scope)."""
    kind = letter_kind(case)
    context = _letter_context(session, case)
    settings = get_document_settings(session, case.tenant_id)
    prefill = {}
    for outcome in Outcome:
        try:
            prefill[str(outcome)] = prefill_letter(kind, context, outcome, settings.overrides)
        except TemplateError:  # a broken override: start from the default text
            prefill[str(outcome)] = prefill_letter(kind, context, outcome)
    events = session.scalars(
        select(CaseEvent)
        .where(
            CaseEvent.tenant_id == case.tenant_id,
            CaseEvent.case_id == case.id,
            CaseEvent.action.in_(list(_REFERENCE_ACTIONS)),
        )
        .order_by(CaseEvent.seq)
    ).all()
    references = []
    for event in events:
        key, zh, en = _REFERENCE_ACTIONS[event.action]
        value = str(event.fields.get(key) or "").strip()
        if value:
            references.append(ReplyReference(zh, en, event.actor_name, event.at, value))
    report = kind == COMMITTEE_REPORT
    return ReplyDesk(
        kind=kind,
        title=letter_title(kind, case.kind, context["petitioner_name"]),
        addressee=COMMITTEE_NAME if report else context["petitioner_name"],
        remedy=None if report else remedy_text(case.kind, _next_body(session, case)),
        signer=_report_signer_name(session, case) if report else None,
        prefill=prefill,
        references=references,
        reserved_number=_reserved_number(session, case),
    )


def _reserved_number(session: Session, case: Case) -> str | None:
    """The number the first submitted draft of this case's reply took; later drafts keep it."""
    events = session.scalars(
        select(CaseEvent)
        .where(
            CaseEvent.tenant_id == case.tenant_id,
            CaseEvent.case_id == case.id,
            CaseEvent.action == "submit_reply",
        )
        .order_by(CaseEvent.seq.desc())
    ).all()
    for event in events:
        number = (event.fields.get("draft") or {}).get("doc_number")
        if number:
            return number
    return None


def compose_reply(
    session: Session,
    case: Case,
    letter: str,
    *,
    issued_on: date | None,
    doc_number: str | None = None,
    annexes: list[str] | None = None,
    check: bool = True,
) -> DocumentData:
    """The printed formal opinion (or report) of ``case`` with the clerk's ``letter`` as its body."""
    kind = letter_kind(case)
    context = _letter_context(session, case)
    report = kind == COMMITTEE_REPORT
    return compose_letter(
        kind,
        letter,
        case_kind=case.kind,
        bureau_name=context["bureau_name"],
        petitioner_name=context["petitioner_name"],
        issued_on=issued_on or date.today(),
        doc_number=doc_number,
        next_bureau_name=None if report else _next_body(session, case),
        signer=_report_signer_name(session, case) if report else None,
        annexes=annexes,
        check=check,
    )


def _annexes(session: Session, case: Case, attachment_ids) -> list[str]:
    ids = [int(i) for i in attachment_ids or ()]
    if not ids:
        return []
    rows = {
        a.id: a.filename
        for a in session.scalars(
            select(Attachment).where(Attachment.tenant_id == case.tenant_id, Attachment.id.in_(ids))
        )
    }
    return [rows[i].rsplit(".", 1)[0] for i in ids if i in rows]


def _number_for_draft(session: Session, case: Case, year: int, *, take: bool) -> str:
    """The reply's number: the one reserved by an earlier draft, else the next one (taken only when ``take``)."""
    reserved = _reserved_number(session, case)
    if reserved:
        return reserved
    settings = get_document_settings(session, case.tenant_id)
    series = series_for(DocumentKind.formal_opinion, case.kind)
    if take:
        number = next_number(session, case.tenant_id, year, series)
    else:
        last = session.scalar(
            select(DocumentSequence.last_number).where(
                DocumentSequence.tenant_id == case.tenant_id,
                DocumentSequence.year == year,
                DocumentSequence.series == series,
            )
        )
        number = (last or 0) + 1
    return format_number(settings.number_prefix, series, year, number)


def preview_reply(
    session: Session, case: Case, letter: str, *, today: date, attachment_ids=()
) -> tuple[bytes, DocumentData]:
    """Render the formal opinion as it would be submitted today, changing nothing; raise `TemplateError`.

    The number shown is the one the draft would take now (reserved already, or the next free one).
    """
    data = compose_reply(
        session,
        case,
        letter,
        issued_on=today,
        doc_number=_number_for_draft(session, case, today.year, take=False),
        annexes=_annexes(session, case, attachment_ids),
    )
    return render_pdf(data), data


def store_reply_draft(
    session: Session, storage: Storage, case: Case, letter: str, *, today: date, attachment_ids=()
) -> dict:
    """Render the submitted formal opinion, store its PDF and DOCX, and return the event's ``draft`` fields.

    The draft is dated ``today`` (the expected date of signing) and numbered (the first draft takes the number,
    later drafts of the same reply keep it); signing issues exactly these objects. Raise `TemplateError` when the
    letter cannot be sent. Flushes; the objects are deleted if the transaction does not commit.
    """
    data = compose_reply(
        session,
        case,
        letter,
        issued_on=today,
        doc_number=_number_for_draft(session, case, today.year, take=True),
        annexes=_annexes(session, case, attachment_ids),
    )
    uploaded: list[str] = []
    try:
        pdf, docx = _put_files(session, storage, case, f"{data.title}（{data.doc_number}）", data, uploaded)
    except BaseException:
        _delete_quietly(storage, uploaded)
        raise
    _defer(session, _ON_ROLLBACK, storage, uploaded)
    # A report's 签发人 by id too: they sign it, or the stand-in they declared for signing (代签, §四.4).
    signer = _report_signer(session, case) if data.signer is not None else None
    return {
        "pdf_attachment_id": pdf.id,
        "docx_attachment_id": docx.id,
        "sha256": pdf.sha256,
        "docx_sha256": docx.sha256,
        "doc_number": data.doc_number,
        "issued_on": data.issued_on.isoformat(),
        "title": data.title,
        "signer": data.signer,
        "signer_id": signer.id if signer is not None else None,
    }


@dataclass(frozen=True)
class ReplyDraft:
    """The draft of the formal opinion waiting for (or given) the leader's signature."""

    event_seq: int
    submitted_by: str
    submitted_at: datetime
    outcome: str | None
    text: str
    title: str
    doc_number: str
    issued_on: date
    sha256: str
    pdf: Attachment
    docx: Attachment | None
    # A stand-in declared for signing signs the draft with 代签 and both names: that copy's PDF and the leader
    # they sign for (``get_signing_draft``); ``sha256`` is then the copy's. None: the stored draft itself.
    body: bytes | None = None
    signed_for: str | None = None


def _latest_reply(session: Session, case: Case) -> CaseEvent | None:
    return session.scalar(
        select(CaseEvent)
        .where(
            CaseEvent.tenant_id == case.tenant_id,
            CaseEvent.case_id == case.id,
            CaseEvent.action == "submit_reply",
        )
        .order_by(CaseEvent.seq.desc())
        .limit(1)
    )


def get_reply_draft(session: Session, case: Case) -> ReplyDraft | None:
    """The latest submitted draft of the case's formal opinion (None: none stored), in the caller's scope."""
    event = _latest_reply(session, case)
    draft = (event.fields.get("draft") or {}) if event else {}
    if not draft.get("pdf_attachment_id"):
        return None
    files = {
        a.id: a
        for a in session.scalars(
            select(Attachment).where(
                Attachment.tenant_id == case.tenant_id,
                Attachment.id.in_([int(draft["pdf_attachment_id"]), int(draft["docx_attachment_id"])]),
            )
        )
    }
    pdf = files.get(int(draft["pdf_attachment_id"]))
    if pdf is None:
        return None
    return ReplyDraft(
        event_seq=event.seq,
        submitted_by=event.actor_name,
        submitted_at=event.at,
        outcome=event.fields.get("outcome"),
        text=str(event.fields.get("text") or ""),
        title=str(draft.get("title") or ""),
        doc_number=draft["doc_number"],
        issued_on=date.fromisoformat(draft["issued_on"]),
        sha256=draft["sha256"],
        pdf=pdf,
        docx=files.get(int(draft["docx_attachment_id"])),
    )


def get_signing_draft(session: Session, case: Case, user: StaffUser, today: date) -> ReplyDraft | None:
    """The draft as ``user`` would sign it ``today``, in the caller's scope.

    The petitions leader (and anyone else who reads it) gets the stored draft. A stand-in the absent leader
    declared for signing gets the same letter re-rendered with 代签 and both names (§四.4), with its own digest:
    what their signature issues (`stand_in_copy`).
    """
    draft = get_reply_draft(session, case)
    if draft is None or case.state is not CaseState.awaiting_signature:
        return draft
    leader_id = stand_in_signing_for(session, case, user, today)
    if leader_id is None:
        return draft
    copy = stand_in_copy(session, case, leader_id, user.display_name)
    if copy is None:
        return draft
    return replace(draft, sha256=copy.sha256, body=copy.pdf, signed_for=copy.data.signed_for)


@dataclass(frozen=True)
class StandInCopy:
    """The stored draft as a stand-in signs it: the same letter, date and number, with 代签 and both names."""

    data: DocumentData
    pdf: bytes
    sha256: str


def stand_in_copy(session: Session, case: Case, leader_id: int, signed_by: str) -> StandInCopy | None:
    """Render the latest stored draft signed by ``signed_by`` for the leader ``leader_id`` (None: no draft).

    Rendering is deterministic: the copy the stand-in opens and the one signing stores are the same bytes while
    the draft and the bureau's letterhead stay as they are (a change shows as a stale digest).
    """
    reply = _latest_reply(session, case)
    if reply is None or not (reply.fields.get("draft") or {}).get("pdf_attachment_id"):
        return None
    data = _stand_in_data(session, case, reply, leader_id, signed_by)
    pdf = render_pdf(data)
    return StandInCopy(data=data, pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest())


def store_stand_in_copy(session: Session, storage: Storage, case: Case, copy: StandInCopy) -> dict:
    """Store the copy a stand-in signed (its PDF as seen, and its DOCX); return the sign event's ``signed_copy``.

    Flushes; the objects are deleted if the transaction does not commit.
    """
    uploaded: list[str] = []
    try:
        stem = f"{copy.data.title}（{copy.data.doc_number}）"
        pdf, docx = _put_files(session, storage, case, stem, copy.data, uploaded, pdf=copy.pdf)
    except BaseException:
        _delete_quietly(storage, uploaded)
        raise
    _defer(session, _ON_ROLLBACK, storage, uploaded)
    return {
        "pdf_attachment_id": pdf.id,
        "docx_attachment_id": docx.id,
        "sha256": pdf.sha256,
        "docx_sha256": docx.sha256,
        "doc_number": copy.data.doc_number,
        "title": copy.data.title,
    }


def _stand_in_data(session: Session, case: Case, reply: CaseEvent, leader_id: int, signed_by: str) -> DocumentData:
    draft = reply.fields["draft"]
    data = compose_reply(
        session,
        case,
        str(reply.fields.get("text") or ""),
        issued_on=date.fromisoformat(draft["issued_on"]),
        doc_number=draft["doc_number"],
        annexes=_annexes(session, case, reply.fields.get("attachment_ids")),
        check=False,
    )
    if data.signer is not None:
        data.signer = draft.get("signer") or data.signer  # a report keeps the 签发人 its draft names
    data.signed_for = _user_name(session, case, leader_id)
    data.signed_by = signed_by
    return data


def _draft_data(session: Session, case: Case, reply: CaseEvent) -> DocumentData:
    """The plain data of a stored draft (for the title and the number; the bytes are the stored ones)."""
    draft = reply.fields["draft"]
    return DocumentData(
        kind=DocumentKind.formal_opinion.value,
        title=str(draft.get("title") or ""),
        bureau_name="",
        doc_number=draft["doc_number"],
        issued_on=date.fromisoformat(draft["issued_on"]),
    )


# --- Reading -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentLink:
    """A generated document as a page lists it, with short-lived download links (DOCX for staff only)."""

    id: int
    kind: DocumentKind
    title: str
    doc_number: str
    public: bool
    event_seq: int
    created_at: datetime
    pdf_filename: str
    pdf_url: str
    docx_filename: str | None
    docx_url: str | None


def list_documents(session: Session, storage: Storage, case: Case, *, public_only: bool = False) -> list[DocumentLink]:
    """The documents of ``case`` in the order they were produced, in the caller's scope.

    Call it only after the reader is authorised for the case: the links are presigned. ``public_only`` lists
    what the petitioner may download (the notices and the formal opinion, as PDF only).
    """
    query = select(GeneratedDocument).where(
        GeneratedDocument.tenant_id == case.tenant_id, GeneratedDocument.case_id == case.id
    )
    if public_only:
        query = query.where(GeneratedDocument.public.is_(True))
    documents = session.scalars(query.order_by(GeneratedDocument.event_seq, GeneratedDocument.id)).all()
    ids = [d.pdf_attachment_id for d in documents] + [d.docx_attachment_id for d in documents]
    files = {
        a.id: a
        for a in session.scalars(
            select(Attachment).where(Attachment.tenant_id == case.tenant_id, Attachment.id.in_(ids))
        )
    }
    links = []
    for document in documents:
        pdf, docx = files.get(document.pdf_attachment_id), files.get(document.docx_attachment_id)
        if pdf is None:
            continue
        with_docx = docx is not None and not public_only
        links.append(
            DocumentLink(
                id=document.id,
                kind=document.kind,
                title=document.title,
                doc_number=document.doc_number,
                public=document.public,
                event_seq=document.event_seq,
                created_at=document.created_at,
                pdf_filename=pdf.filename,
                pdf_url=download_url(storage, pdf),
                docx_filename=docx.filename if with_docx else None,
                docx_url=download_url(storage, docx) if with_docx else None,
            )
        )
    return links


def get_document_file(
    session: Session, case: Case, document_id: int, fmt: str, *, public_only: bool = False
) -> Attachment | None:
    """The PDF or DOCX attachment of one document of ``case`` (None when not found or not allowed)."""
    if fmt not in ("pdf", "docx") or (public_only and fmt == "docx"):
        return None
    query = select(GeneratedDocument).where(
        GeneratedDocument.tenant_id == case.tenant_id,
        GeneratedDocument.case_id == case.id,
        GeneratedDocument.id == document_id,
    )
    if public_only:
        query = query.where(GeneratedDocument.public.is_(True))
    document = session.scalar(query)
    if document is None:
        return None
    attachment_id = document.pdf_attachment_id if fmt == "pdf" else document.docx_attachment_id
    return session.scalar(
        select(Attachment).where(Attachment.tenant_id == case.tenant_id, Attachment.id == attachment_id)
    )


__all__ = [
    "DocumentLink",
    "DocumentSettingsError",
    "DocumentSettingsView",
    "DocumentSourceError",
    "RenderResult",
    "ReplyDesk",
    "ReplyDraft",
    "StandInCopy",
    "compose_reply",
    "get_document_file",
    "get_document_settings",
    "get_reply_desk",
    "get_reply_draft",
    "get_signing_draft",
    "letter_kind",
    "list_documents",
    "preview_reply",
    "render_outbox_row",
    "reset_template",
    "set_letterhead",
    "set_number_prefix",
    "set_template_override",
    "stand_in_copy",
    "store_reply_draft",
    "store_stand_in_copy",
]
