"""Deliver outbox rows: claim, deliver, mark sent; retry with backoff; fail visibly; retry by hand.

The outbox (``portal.cases.models.Outbox``) is written in the same transaction as the action that causes it, so
nothing is lost while Redis or a worker is down: RQ only makes delivery prompt. Each row is delivered by
``deliver_one`` (a job enqueued right after the commit that wrote the row) or by ``dispatch_due`` (a periodic job
that picks up whatever is due: rows whose enqueue failed, retries after backoff, rows of a worker that died).

Kinds handled here:

- ``notify_petitioner`` (payload ``{case_id, event, seq}``): fans out into one ``petitioner_email`` and/or one
  ``petitioner_sms`` row, by the channels the petitioner gave, in the same transaction that marks it sent;
- ``petitioner_email`` / ``petitioner_sms``: build the text from the case as it is now, decrypt the address
  from ``case_parties`` at send time (payloads never hold personal data), and send;
- ``notify_staff`` (payload ``{case_id, event, seq}``): in-app notifications of work that lands on staff
  (``portal.notify.work``);
- ``render_document`` rows are not touched here: ``worker.tasks.documents`` renders them. Only the after-commit
  enqueue below hands them to that code's ``render_document`` job, as it does ours to ``deliver_outbox``.

Exactly once, and the window that remains
-----------------------------------------
Each delivery is two short transactions:

1. **Claim**: ``SELECT ... FOR UPDATE SKIP LOCKED`` one due pending row, add 1 to ``attempts`` and move
   ``next_attempt_at`` to now + backoff, commit. The attempt is counted even if the process dies later, so a
   message that kills its worker cannot loop forever, and nobody else picks the row before the backoff ends.
2. **Deliver**: lock the row again (``FOR UPDATE SKIP LOCKED``, still pending, same attempt number), send, and in
   the same transaction mark it ``sent``; commit right after the send. On an error: record ``last_error``; after
   the last attempt (``OUTBOX_MAX_ATTEMPTS``) the row becomes ``failed``; a permanent error (address refused,
   bad number) fails it at once.

Two workers never send the same row at once (the row lock), a worker killed before the mail server accepted
the message leaves the row pending and it is sent after the backoff, and a row marked sent is never sent again.
**What remains** is the instant between the mail server's (or SMS gateway's) acceptance and our COMMIT: if the
process dies or PostgreSQL becomes unreachable exactly then, the message is sent a second time after the
backoff. The repeat carries the same Message-ID (e-mail) or the same ``Idempotency-Key`` (SMS gateway), so a
receiving system that deduplicates on them drops it; one that does not shows the message twice. No design
without a transaction spanning both systems can close that window.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.errors import HeaderParseError
from zoneinfo import ZoneInfo

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from portal.cases.models import Case, CaseEvent, CaseParty, Deadline, Outbox
from portal.notify.email import DeliveryError, Mailer, PermanentDeliveryError, build_message, mailer_from_url
from portal.notify.messages import PetitionerContext, petitioner_message
from portal.notify.operations import notify_staff, users_with_roles
from portal.notify.sms import SmsGateway, gateway_from_settings
from portal.pii import PersonalData
from portal.roles import Role
from portal.workflow import CaseKind, RejectReason, Step
from tenants.models import Bureau
from tenants.scoping import system_scope

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
MAX_BACKOFF = timedelta(hours=6)
FAN_OUT = "notify_petitioner"
EMAIL = "petitioner_email"
SMS = "petitioner_sms"
STAFF = "notify_staff"  # work that lands on staff: in-app notifications (``portal.notify.work``)
OWN_KINDS = (FAN_OUT, EMAIL, SMS, STAFF)


class OutboxError(Exception):
    """A refused outbox operation (the web shows the message in the reader's language)."""

    def __init__(self, message_zh: str, message_en: str):
        super().__init__(message_en)
        self.message_zh, self.message_en = message_zh, message_en


class OutboxRowNotFound(LookupError):
    """No such message in the caller's reach."""


@dataclass(frozen=True)
class Transports:
    """Everything delivery needs from the outside: the key for personal data, the senders, the limits."""

    pii: PersonalData
    mailer: Mailer
    sms: SmsGateway
    mail_from: str
    public_base_url: str | None = None
    max_attempts: int = 8
    retry_seconds: int = 60


def transports_from_settings(settings, pii: PersonalData) -> Transports:
    return Transports(
        pii=pii,
        mailer=mailer_from_url(settings.smtp_url),
        sms=gateway_from_settings(settings.sms_gateway, settings.sms_http_url, settings.sms_http_token),
        mail_from=settings.mail_from,
        public_base_url=settings.public_base_url,
        max_attempts=settings.outbox_max_attempts,
        retry_seconds=settings.outbox_retry_seconds,
    )


@dataclass(frozen=True)
class Claim:
    tenant_id: int
    id: int
    attempts: int


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """Delay after attempt number ``attempts``: base, 2 x base, 4 x base, ... at most 6 hours."""
    return min(timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


# --- Handlers ----------------------------------------------------------------------------------------------

Handler = Callable[[Session, Outbox, Transports], None]


def handlers() -> dict[str, Handler]:
    return {FAN_OUT: _fan_out, EMAIL: _send_email, SMS: _send_sms, STAFF: _notify_staff}


def _notify_staff(session: Session, row: Outbox, _transports: Transports) -> None:
    """Write the in-app notifications of one event (exactly once: the notifications' dedupe key)."""
    from portal.notify.work import notify_work

    notify_work(session, row.tenant_id, row.case_id, int(row.payload.get("seq") or 0))


def _petitioner(session: Session, row: Outbox) -> CaseParty | None:
    return session.scalar(
        select(CaseParty)
        .where(CaseParty.tenant_id == row.tenant_id, CaseParty.case_id == row.case_id, CaseParty.role == "petitioner")
        .order_by(CaseParty.id)
        .limit(1)
    )


def _fan_out(session: Session, row: Outbox, _transports: Transports) -> None:
    """One message per channel the petitioner gave (none given: nothing to send, the row is done)."""
    party = _petitioner(session, row)
    channels = []
    if party is not None and party.email_enc:
        channels.append(("email", EMAIL))
    if party is not None and party.phone_enc:
        channels.append(("sms", SMS))
    for channel, kind in channels:
        session.add(
            Outbox(
                tenant_id=row.tenant_id,
                case_id=row.case_id,
                kind=kind,
                channel=channel,
                payload={**row.payload, "parent_id": row.id},
                dedupe_key=f"{row.dedupe_key}:{channel}"[:200],
            )
        )
    row.payload = {**row.payload, "channels": [c for c, _k in channels]}
    session.flush()


def _event_day(value: datetime) -> date:
    return value.astimezone(CHINA).date()


def petitioner_context(session: Session, row: Outbox, public_base_url: str | None) -> PetitionerContext:
    """What the message for this row says, read from the case now."""
    case = session.scalar(select(Case).where(Case.tenant_id == row.tenant_id, Case.id == row.case_id))
    if case is None:
        raise PermanentDeliveryError("the case of this message no longer exists")
    bureau = session.get(Bureau, case.tenant_id)
    name = row.payload.get("event", "")
    seq = row.payload.get("seq")
    case_event = None
    if seq is not None:
        case_event = session.scalar(
            select(CaseEvent).where(
                CaseEvent.tenant_id == case.tenant_id, CaseEvent.case_id == case.id, CaseEvent.seq == seq
            )
        )
    fields = case_event.fields if case_event is not None else {}
    on = _event_day(case_event.at) if case_event is not None else case.received_on

    def due(step: Step) -> date | None:
        return session.scalar(
            select(Deadline.due_on)
            .where(Deadline.tenant_id == case.tenant_id, Deadline.case_id == case.id, Deadline.step == step)
            .order_by(Deadline.id.desc())
            .limit(1)
        )

    due_on = days = content = reason = None
    if name == "received":
        due_on = due(Step.acceptance)
    elif name in ("accept", "approve_extension"):
        due_on = due(Step.whole_review)
        days = fields.get("days")
    elif name == "request_materials":
        due_on = date.fromisoformat(fields["due_on"]) if fields.get("due_on") else None
        content = fields.get("content")
    elif name == "reject" and case.reject_reason:
        reason = RejectReason(case.reject_reason)
    return PetitionerContext(
        event=name,
        case_number=case.number,
        case_kind=CaseKind(case.kind),
        bureau_name=bureau.name if bureau else "",
        on=on,
        due_on=due_on,
        days=days,
        content=content,
        reject_reason=reason,
        public_url=f"{public_base_url}/track" if public_base_url else None,
    )


def _message(session: Session, row: Outbox, transports: Transports, *, for_sms: bool):
    context = petitioner_context(session, row, transports.public_base_url)
    try:
        return petitioner_message(context, for_sms=for_sms)
    except KeyError:
        raise PermanentDeliveryError(f"no message text for the event {context.event!r}") from None


def _dedupe(row: Outbox) -> str:
    return f"outbox:{row.tenant_id}:{row.dedupe_key}"


def _send_email(session: Session, row: Outbox, transports: Transports) -> None:
    message = _message(session, row, transports, for_sms=False)
    party = _petitioner(session, row)
    address = party.reveal(transports.pii, "email_enc") if party is not None else None
    if not address:
        raise PermanentDeliveryError("the petitioner has no e-mail address on the case any more")
    try:
        email = build_message(
            sender=transports.mail_from,
            to=address,
            subject=message.email_subject(),
            body=message.email_body(),
            key=_dedupe(row),
        )
    except (ValueError, HeaderParseError, IndexError):
        raise PermanentDeliveryError("the e-mail address given is not valid") from None
    transports.mailer.send(email)


def _send_sms(session: Session, row: Outbox, transports: Transports) -> None:
    message = _message(session, row, transports, for_sms=True)
    party = _petitioner(session, row)
    phone = party.reveal(transports.pii, "phone_enc") if party is not None else None
    if not phone:
        raise PermanentDeliveryError("the petitioner has no phone number on the case any more")
    transports.sms.send(phone, message.sms_text(), key=_dedupe(row))


# --- Claim and deliver -------------------------------------------------------------------------------------

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE_RE = re.compile(r"(?<!\d)(\+?86)?1\d{10}(?!\d)")


def scrub(error: str) -> str:
    """Errors are shown to administrators: remove addresses and phone numbers a server may have echoed."""
    error = _EMAIL_RE.sub("<e-mail>", error)
    error = _PHONE_RE.sub("<phone>", error)
    return error[:1000]


def claim(session: Session, transports: Transports, *, row: tuple[int, int] | None = None) -> Claim | None:
    """Phase 1: take one due pending row (or the given one), count the attempt, commit; None when none is due."""
    kinds = list(handlers())
    with system_scope(session):
        query = select(Outbox).where(
            Outbox.status == "pending", Outbox.next_attempt_at <= func.now(), Outbox.kind.in_(kinds)
        )
        if row is not None:
            query = query.where(Outbox.tenant_id == row[0], Outbox.id == row[1])
        found = session.scalar(query.order_by(Outbox.next_attempt_at).limit(1).with_for_update(skip_locked=True))
        if found is None:
            session.rollback()
            return None
        found.attempts += 1
        found.next_attempt_at = func.now() + backoff(found.attempts, transports.retry_seconds)
        taken = Claim(found.tenant_id, found.id, found.attempts)
        session.commit()
    return taken


def deliver(session: Session, transports: Transports, taken: Claim) -> str:
    """Phase 2: send the claimed row and mark it, holding its lock; returns sent | retry | failed | skipped."""
    with system_scope(session):
        row = session.scalar(
            select(Outbox)
            .where(
                Outbox.tenant_id == taken.tenant_id,
                Outbox.id == taken.id,
                Outbox.status == "pending",
                Outbox.attempts == taken.attempts,
            )
            .with_for_update(skip_locked=True)
        )
        if row is None:
            session.rollback()
            return "skipped"
        handler = handlers().get(row.kind)
        try:
            if handler is None:
                raise DeliveryError(f"no handler for {row.kind!r} in this process")
            with session.begin_nested():
                handler(session, row, transports)
        except Exception as exc:  # every failure is recorded on the row; bugs are logged with their traceback
            permanent = isinstance(exc, PermanentDeliveryError)
            if not isinstance(exc, DeliveryError):
                log.exception("outbox handler failed", extra={"outbox_id": taken.id, "kind": row.kind})
            outcome = _record_failure(session, row, exc, permanent=permanent, max_attempts=transports.max_attempts)
        else:
            row.status = "sent"
            row.sent_at = func.now()
            row.last_error = None
            outcome = "sent"
        session.commit()  # right after the send: see the module docstring for the window that remains
    log.info("outbox delivery", extra={"outbox_id": taken.id, "attempt": taken.attempts, "outcome": outcome})
    return outcome


def _record_failure(session: Session, row: Outbox, exc: Exception, *, permanent: bool, max_attempts: int) -> str:
    row.last_error = scrub(f"{type(exc).__name__}: {exc}" if not isinstance(exc, DeliveryError) else str(exc))
    if not permanent and row.attempts < max_attempts:
        return "retry"
    row.status = "failed"
    if row.kind in (EMAIL, SMS):
        number = session.scalar(select(Case.number).where(Case.tenant_id == row.tenant_id, Case.id == row.case_id))
        notify_staff(
            session,
            users_with_roles(session, row.tenant_id, [Role.bureau_admin]),
            kind="delivery_failed",
            params={"case_number": number, "channel": row.channel, "outbox_id": row.id},
            dedupe_key=f"delivery_failed:{row.id}:{row.attempts}",
            case_tenant_id=row.tenant_id,
            case_id=row.case_id,
        )
    return "failed"


def deliver_one(session: Session, transports: Transports, tenant_id: int, row_id: int) -> str:
    """Deliver one row now if it is due (the job enqueued after the commit that wrote it)."""
    taken = claim(session, transports, row=(tenant_id, row_id))
    if taken is None:
        return "skipped"
    return deliver(session, transports, taken)


def dispatch_due(
    session: Session, transports: Transports, *, limit: int = 500, budget_seconds: float = 50.0
) -> dict[str, int]:
    """Deliver due rows one by one until none is due, ``limit`` rows or ``budget_seconds`` have passed."""
    counts: dict[str, int] = {}
    started = time.monotonic()
    for _ in range(limit):
        if time.monotonic() - started > budget_seconds:
            break
        taken = claim(session, transports)
        if taken is None:
            break
        outcome = deliver(session, transports, taken)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# --- Administration ----------------------------------------------------------------------------------------


def get_row(session: Session, row_id: int, *, tenant_id: int | None = None) -> Outbox | None:
    """A row by id in the session's scope (and, when given, of that bureau only)."""
    query = select(Outbox).where(Outbox.id == row_id)
    if tenant_id is not None:
        query = query.where(Outbox.tenant_id == tenant_id)
    return session.scalar(query)


def retry_failed(session: Session, row_id: int, *, tenant_id: int | None = None) -> Outbox:
    """Put a failed row back in the queue with a fresh set of attempts; flushes.

    Raises ``OutboxRowNotFound`` (not in reach) or ``OutboxError`` (not failed).
    """
    query = select(Outbox).where(Outbox.id == row_id)
    if tenant_id is not None:
        query = query.where(Outbox.tenant_id == tenant_id)
    row = session.scalar(query.with_for_update())
    if row is None:
        raise OutboxRowNotFound(row_id)
    if row.status != "failed":
        raise OutboxError(
            "只有发送失败的消息才能重试。", f"Only failed messages can be retried; this one is {row.status}."
        )
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = func.now()
    session.flush()
    request_delivery(session, row)
    return row


def list_rows(
    session: Session, *, status: str | None = None, tenant_id: int | None = None, limit: int = 100
) -> list[Outbox]:
    query = select(Outbox)
    if status is not None:
        query = query.where(Outbox.status == status)
    if tenant_id is not None:
        query = query.where(Outbox.tenant_id == tenant_id)
    return list(session.scalars(query.order_by(Outbox.created_at.desc(), Outbox.id.desc()).limit(limit)))


def outbox_counts(session: Session, *, tenant_id: int | None = None) -> dict:
    """Pending, failed and recently sent rows, and the age of the oldest pending one (monitoring)."""
    where = [Outbox.tenant_id == tenant_id] if tenant_id is not None else []
    by_status = dict(session.execute(select(Outbox.status, func.count()).where(*where).group_by(Outbox.status)).all())
    oldest = session.scalar(select(func.min(Outbox.created_at)).where(Outbox.status == "pending", *where))
    due = session.scalar(
        select(func.count()).where(Outbox.status == "pending", Outbox.next_attempt_at <= func.now(), *where)
    )
    sent_day = session.scalar(
        select(func.count()).where(Outbox.status == "sent", Outbox.sent_at > func.now() - timedelta(days=1), *where)
    )
    return {
        "pending": by_status.get("pending", 0),
        "due": due,
        "failed": by_status.get("failed", 0),
        "sent_24h": sent_day,
        "oldest_pending": oldest,
        "oldest_pending_age": (datetime.now(UTC) - oldest) if oldest else None,
    }


# --- Enqueue after commit ----------------------------------------------------------------------------------
# Rows written in a transaction are handed to a callback once that transaction has committed (never before:
# a job must not look for a row that is not visible yet). The callback (``worker.queues``) enqueues a job per row
# and swallows Redis errors: a row that was not enqueued is picked up by ``dispatch_due``.

_KEY = "outbox_to_enqueue"
_after_commit: Callable[[list[tuple[int, int, str]]], None] | None = None


def set_after_commit(callback: Callable[[list[tuple[int, int, str]]], None] | None) -> None:
    """``callback`` receives ``(bureau id, row id, kind)`` of the rows a transaction wrote, once it committed."""
    global _after_commit
    _after_commit = callback


def request_delivery(session: Session, row: Outbox) -> None:
    """Ask for ``row`` to be enqueued once the current transaction commits."""
    session.info.setdefault(_KEY, []).append((row.tenant_id, row.id, row.kind))


@event.listens_for(Session, "after_flush")
def _collect_new_rows(session: Session, _context) -> None:
    new = [o for o in session.new if isinstance(o, Outbox) and o.status in (None, "pending")]
    if new:
        session.info.setdefault(_KEY, []).extend((o.tenant_id, o.id, o.kind) for o in new)


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    rows = session.info.pop(_KEY, None)
    if rows and _after_commit is not None:
        try:
            _after_commit(list(dict.fromkeys(rows)))
        except Exception:  # never let a queue problem reach the request: the rows wait for dispatch_due
            log.warning("could not enqueue outbox rows; the periodic dispatch will deliver them", exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_KEY, None)


__all__ = [
    "Claim",
    "OutboxError",
    "OutboxRowNotFound",
    "Transports",
    "backoff",
    "claim",
    "deliver",
    "deliver_one",
    "dispatch_due",
    "list_rows",
    "outbox_counts",
    "retry_failed",
    "scrub",
    "set_after_commit",
    "transports_from_settings",
]
