"""Tracking a case (number + access code, or the petitioner's account), and what the petitioner can do there:
download notices and files, answer a request for materials, apply for a re-review, withdraw."""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from portal.attachments import UploadError, download_url, store_upload
from portal.attachments.operations import MAX_FILE_BYTES, MAX_FILES
from portal.cases.intake import FieldError
from portal.cases.numbers import normalise_number
from portal.cases.operations import CaseConflict, CaseNotFound, IntakeRefused, formal_opinion_number
from portal.extensions import db
from portal.pagecache import Packer, RenderedCache, entity_tag, etag_header
from portal.petitioners.accounts import is_linked
from portal.petitioners.operations import (
    answer_request,
    awaits_online_delivery,
    escalate_case,
    record_online_delivery,
    withdraw_case,
)
from portal.petitioners.receipt import receipt_pdf
from portal.petitioners.tracking import (
    CaseStamp,
    find_by_code,
    find_file,
    find_number,
    open_case,
    petitioner_party,
    tracking_view,
)
from portal.supervision.forms import SatisfactionForm
from portal.supervision.models import SATISFACTION_LABELS
from portal.supervision.operations import rate_case
from portal.web import current_lang, is_english
from portal.workflow import ActionRefused
from public_site.api.applications import submit_limit, track_limit, track_number_limit, upload_limit
from public_site.common import (
    current_petitioner,
    forget,
    grant,
    has_grant,
    page_is_plain,
    pii,
    render_tokenless,
    stamps,
    storage,
    today,
    viewer_kind,
    with_token,
)
from public_site.views import bp

log = logging.getLogger(__name__)
STAMP_READ = "portal.tracking.stamp"  # the request's stamp, read by ``public_site.kept`` when it went on to Flask
TEXT_MAX = 10_000


def may_follow(number: str) -> bool:
    """Whether this browser proved the code of ``number``, or its signed-in petitioner has the case."""
    if has_grant(number):
        return True
    account = current_petitioner()
    return account is not None and is_linked(db.session, account.id, normalise_number(number))


def granted_stamp(number: str) -> CaseStamp | None:
    """The stamp of case ``number`` for an authorised browser, its delivery recorded on the first opening of a
    replied case (送达); None otherwise (the caller asks for the code)."""
    if not may_follow(number):
        return None
    read = request.environ.pop(STAMP_READ, None)  # by ``public_site.kept``, before this request reached Flask
    stamp = read[1] if read is not None and read[0] == number else find_number(stamps(), number)
    if stamp is not None and awaits_online_delivery(stamp):
        record_online_delivery(db.session, pii(), open_case(db.session, stamp), today=today())
        db.session.commit()
        stamp = find_number(stamps(), number)
    return stamp


def load_granted(number: str):
    """The case and its tracking view for an authorised browser; None otherwise (the caller answers 404).

    For the pages that act on the case: ``case`` is the row the operations take.
    """
    stamp = granted_stamp(number)
    if stamp is None:
        return None
    case = open_case(db.session, stamp)
    view = (
        tracking_view(
            db.session, stamp.tenant_id, stamp.case_id, today=today(), reference_version=stamp.reference_version
        )
        if case is not None
        else None
    )
    return (case, view) if view is not None else None


def _load_or_ask(number: str):
    loaded = load_granted(number)
    if loaded is None:
        return None, _ask(number)
    return loaded, None


def _ask(number: str):
    return redirect(url_for("public.track", number=normalise_number(number)[:40]))


@bp.get("/track")
def track():
    return render_template("public/track/lookup.html", number=request.args.get("number", "")[:40], error=None)


@bp.post("/track")
@track_limit
@track_number_limit
def track_lookup():
    """Check the number and the code; a wrong code and an unknown number get the same answer (404)."""
    number = request.form.get("number", "")
    ref = find_by_code(stamps(), pii(), number, request.form.get("code", ""))
    if ref is None:
        error = _("No application matches this number and access code. Check both and try again.")
        return render_template("public/track/lookup.html", number=number[:40], error=error), 404
    grant(ref.number)
    return redirect(url_for("public.case", number=ref.number))


@bp.post("/track/forget")
def track_forget():
    """Stop following the cases on this browser (e.g. on a shared computer)."""
    forget()
    flash(_("This browser no longer shows your applications. Use the number and access code to look again."))
    return redirect(url_for("public.track"))


# Rendered tracking pages, kept per process and compressed (``portal.pagecache``): about 0.6 KB each in memory.
PAGES: RenderedCache[bytes] = RenderedCache(max_bytes=8 * 1024 * 1024)
PAGE_PACKER = Packer()


def page_key(stamp: CaseStamp, day, lang: str, viewer: tuple) -> tuple | None:
    """What a kept tracking page depends on: the case's stamp, the day, the language, the kind of viewer."""
    return (stamp.key, day, lang, viewer) if stamp.key is not None else None


def page_tag(key: tuple, csrf_secret: str | None) -> str:
    # The tokens are the browser's own: a page kept by it after a new session would carry stale ones.
    return entity_tag(key, csrf_secret)


@bp.get("/track/<number>")
def case(number: str):
    """The tracking page: kept rendered while the case, the reference data, the day and the language stay the same.

    A kept page costs the stamp's look-up; a browser that shows the ``ETag`` it was given gets 304. Every answer
    carries the browser's own CSRF token, and the page is never stored by the browser or a proxy (no-store).
    """
    stamp = granted_stamp(number)
    if stamp is None:
        return _ask(number)
    key = page_key(stamp, today(), current_lang(), viewer_kind())
    tag = page_tag(key, session.get("csrf_token")) if key is not None else None
    if tag is not None and request.if_none_match.contains_weak(tag):
        return "", 304, etag_header(tag)
    keep = key is not None and page_is_plain()
    kept = PAGES.get(key) if keep else None
    page = PAGE_PACKER.unpack(kept).decode() if kept is not None else None
    if page is None:
        view = tracking_view(
            db.session, stamp.tenant_id, stamp.case_id, today=today(), reference_version=stamp.reference_version
        )
        if view is None:
            return _ask(number)
        page = render_tokenless(lambda: _case_page(view)[0])
        if keep:
            packed = PAGE_PACKER.pack(page)
            PAGES.put(key, packed, len(packed))
    return with_token(page), 200, etag_header(tag) if tag else {}


def _case_page(view, *, errors=None, values=None, rating_form=None, status=200):
    """The tracking page; ``rating_form`` carries a refused rating back with its messages."""
    return render_template(
        "public/track/case.html",
        case=view.case,
        view=view,
        errors=errors or {},
        values=values or {},
        rating_form=rating_form or SatisfactionForm(formdata=None),
        satisfaction_labels=SATISFACTION_LABELS,
    ), status


@bp.post("/track/<number>/rating")
@track_limit
def case_rate(number: str):
    """Rate the formal reply once, with an optional comment."""
    loaded, ask = _load_or_ask(number)
    if ask:
        return ask
    case, view = loaded
    form = SatisfactionForm()
    if not view.can_rate:
        flash(_("You have already rated this reply.") if view.rating else _("You can rate the reply once it is sent."))
        return redirect(url_for("public.case", number=case.number))
    if form.validate():
        try:
            rate_case(db.session, case, form.rating.data, form.comment.data, account_id=_account_id())
            db.session.commit()
        except ActionRefused as exc:
            db.session.rollback()
            target = form.comment if exc.field == "comment" else form.rating
            target.errors = [exc.message_en if is_english() else exc.message_zh]
        except CaseNotFound:
            db.session.rollback()
            abort(404)
        else:
            flash(_("Thank you: your rating was recorded."))
            return redirect(url_for("public.case", number=case.number))  # the thanks takes focus (site.js)
    view = load_granted(case.number)[1]
    return _case_page(view, rating_form=form, status=422)


@bp.get("/track/<number>/files/<int:attachment_id>")
def case_file(number: str, attachment_id: int):
    """Download a notice or one's own file through a short-lived link, once the browser is authorised."""
    stamp = granted_stamp(number)
    view = (
        tracking_view(
            db.session, stamp.tenant_id, stamp.case_id, today=today(), reference_version=stamp.reference_version
        )
        if stamp
        else None
    )
    if view is None:
        abort(404)
    attachment = find_file(view, attachment_id)
    if attachment is None:
        abort(404)
    return redirect(download_url(storage(), attachment))


@bp.get("/track/<number>/receipt.pdf")
def case_receipt(number: str):
    loaded = load_granted(number)
    if loaded is None:
        abort(404)
    case, _view = loaded
    pdf = receipt_pdf(db.session, case)
    return (
        pdf,
        200,
        {
            "Content-Type": "application/pdf",
            "Content-Disposition": f"inline; filename=receipt-{case.number}.pdf",
            "Cache-Control": "no-store",
        },
    )


def _text_field(name: str) -> str:
    return (request.form.get(name) or "").strip()[: TEXT_MAX + 1]


def _store_files() -> tuple[list[str], FieldError | None, int]:
    """Store the files chosen in the form (committed at once, unclaimed until the action succeeds)."""
    chosen = [f for f in request.files.getlist("file") if f and f.filename]
    if len(chosen) > MAX_FILES:
        return [], FieldError(f"最多只能附{MAX_FILES}个文件。", f"At most {MAX_FILES} files."), 422
    ids = []
    for file in chosen:
        try:
            upload = store_upload(db.session, storage(), file.stream, file.filename, max_bytes=MAX_FILE_BYTES)
            db.session.commit()
        except UploadError as exc:
            db.session.rollback()
            name = (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1][:40]
            return [], FieldError(f"“{name}”：{exc.zh}", f"“{name}”: {exc.en}"), exc.status
        except Exception:
            db.session.rollback()
            log.exception("upload failed")
            return (
                [],
                FieldError("文件暂时无法保存，请稍后再试。", "The file could not be stored just now; try again later."),
                503,
            )
        ids.append(str(upload.id))
    return ids, None, 200


def _action_error(exc) -> FieldError:
    return FieldError(exc.message_zh, exc.message_en)


@bp.post("/track/<number>/materials/<int:request_id>")
@upload_limit
def case_answer(number: str, request_id: int):
    """Answer a request for materials with a note and files."""
    loaded, ask = _load_or_ask(number)
    if ask:
        return ask
    case, view = loaded
    values = {f"answer.{request_id}": _text_field("content")}
    upload_ids, error, status = _store_files()
    if error is None:
        try:
            answer_request(
                db.session,
                storage(),
                pii(),
                case,
                request_id,
                values[f"answer.{request_id}"] or None,
                upload_ids,
                today=today(),
                account_id=_account_id(),
            )
            db.session.commit()
        except (ActionRefused, CaseConflict, UploadError) as exc:
            db.session.rollback()
            error, status = _refusal(exc), 409 if isinstance(exc, CaseConflict) else 422
        except CaseNotFound:
            db.session.rollback()
            abort(404)
    if error is not None:
        view = load_granted(number)[1]
        errors = {f"answer.{request_id}": error}
        return _case_page(view, errors=errors, values=values, status=status)
    flash(_("Thank you: your materials were sent to the bureau."))
    return redirect(url_for("public.case", number=case.number))


def _refusal(exc) -> FieldError:
    if isinstance(exc, UploadError):
        return FieldError(exc.zh, exc.en)
    return _action_error(exc)


def _account_id() -> int | None:
    account = current_petitioner()
    return account.id if account else None


@bp.route("/track/<number>/withdraw", methods=["GET", "POST"])
def case_withdraw(number: str):
    """Withdraw the application, with a reason, after a confirmation page."""
    loaded, ask = _load_or_ask(number)
    if ask:
        return ask
    case, view = loaded
    if not view.can_withdraw:
        flash(_("This application can no longer be withdrawn."))
        return redirect(url_for("public.case", number=case.number))
    if request.method == "GET":
        return render_template("public/track/withdraw.html", case=case, view=view, reason="", error=None)
    reason = _text_field("reason")
    try:
        withdraw_case(db.session, pii(), case, reason or None, today=today(), account_id=_account_id())
        db.session.commit()
    except (ActionRefused, CaseConflict) as exc:
        db.session.rollback()
        case, view = load_granted(case.number)
        return render_template(
            "public/track/withdraw.html", case=case, view=view, reason=reason, error=_action_error(exc)
        ), 422
    flash(_("Your application has been withdrawn."))
    return redirect(url_for("public.case", number=case.number))


@bp.route("/track/<number>/escalate", methods=["GET", "POST"])
@submit_limit
@upload_limit
def case_escalate(number: str):
    """Apply for a re-review of a replied review, prefilled from the case and carrying its files."""
    loaded, ask = _load_or_ask(number)
    if ask:
        return ask
    case, view = loaded
    if not view.escalation.possible:
        return render_template("public/track/escalate_closed.html", case=case, view=view), 409
    party = petitioner_party(db.session, pii(), case)
    if request.method == "GET":
        return _escalate_form(case, view, party, {}, None)
    return _escalate(case, view, party)


def _escalate_form(case, view, party, values: dict, error, status: int = 200):
    return render_template(
        "public/track/escalate.html",
        case=case,
        view=view,
        party=party,
        values=values,
        error=error,
        opinion_number=formal_opinion_number(db.session, case),
    ), status


def _escalate(case, view, party):
    values = {"request": _text_field("request"), "facts_and_reasons": _text_field("facts_and_reasons")}
    error, status = None, 422
    if not values["request"]:
        error = FieldError("请写明您的复核请求。", "Please state what you ask for.")
    elif not values["facts_and_reasons"]:
        error = FieldError("请写明事实和理由。", "Please give the facts and reasons.")
    upload_ids: list[str] = []
    if error is None:
        upload_ids, error, status = _store_files()
    if error is None:
        try:
            escalated = escalate_case(
                db.session,
                storage(),
                pii(),
                case,
                None,
                upload_ids,
                today=today(),
                account_id=_account_id(),
                request=values["request"],
                facts_and_reasons=values["facts_and_reasons"],
            )
            db.session.commit()
        except (ActionRefused, IntakeRefused, CaseConflict, UploadError) as exc:
            db.session.rollback()
            error, status = _refusal(exc), 422
        except CaseNotFound:
            db.session.rollback()
            abort(404)
        except Exception:
            db.session.rollback()
            log.exception("escalation failed")
            error, status = (
                FieldError(
                    "暂时无法提交，请稍后再试。您的申请没有提交，填写的内容都还在。",
                    "It could not be submitted just now; nothing was submitted. Please try again later.",
                ),
                503,
            )
    if error is not None:
        case, view = load_granted(case.number)  # as the database has it after the rollback
        return _escalate_form(case, view, party, values, error, status)
    grant(escalated.case.number)
    session["receipt"] = {"number": escalated.case.number, "code": escalated.access_code}
    return redirect(url_for("public.receipt"))
