"""The work queue, the case page, revealing personal data, and every workflow action as a form.

Handlers are thin: load (404), authorize, validate the form's shape, call one operation, commit, render or
redirect. Another bureau's case answers 404 on every route; an ancestor bureau reads its descendants' cases
(supervision) but every write answers 404, as the workflow says ("not_your_bureau").
"""

from __future__ import annotations

from urllib.parse import quote

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.models import StaffUser
from portal.attachments.models import uploader_label
from portal.attachments.operations import download_url
from portal.cases.actions import IncomingFile, in_general_office, staff_action, take_action
from portal.cases.choices import action_choices, action_defaults, decision_subject, returned_work
from portal.cases.meetings import STATUS_LABELS as MEETING_STATUS_LABELS
from portal.cases.meetings import list_meetings_to_decide
from portal.cases.operations import CaseConflict, CaseNotFound
from portal.cases.privacy import reveal_personal_data
from portal.cases.queries import (
    CONTACT_PARTY_LABELS,
    EVENT_LABELS,
    PARTY_ROLE_LABELS,
    TARGET_LABELS,
    CaseNotReadable,
    action_refusal,
    describe_fields,
    get_case,
    get_case_attachment,
    list_addressed_requests,
    list_queue,
    load_case_page,
    local_today,
    parse_filters,
    preview_slip_approver,
)
from portal.documents.service import get_reply_desk, get_signing_draft, preview_reply
from portal.documents.templates import TemplateError
from portal.extensions import db
from portal.routing import OPINION_KIND_LABELS
from portal.web import current_lang, localized, localized_error
from portal.workflow import (
    ACTION_LABELS,
    COMPLEXITY_LABELS,
    DELIVERY_LABELS,
    INTAKE_LABELS,
    KIND_LABELS,
    OUTCOME_LABELS,
    REJECT_REASON_LABELS,
    STATE_LABELS,
    STEP_LABELS,
    ActionRefused,
    CaseAction,
    case_step_label,
)
from staff_site.access import staff_required
from staff_site.case_forms import FORMS, FormContext, RevealForm
from staff_site.views import bp
from tenants.models import Bureau

#: HTTP status of each refusal code of the workflow.
REFUSAL_STATUS = {"wrong_state": 409, "forbidden": 403, "not_your_bureau": 404, "invalid": 422}


def _user():
    return current_user._get_current_object()


def _pii():
    return current_app.extensions["portal.pii"]


def _load_page(case_id: int, **kw):
    try:
        return load_case_page(db.session, _pii(), _user(), case_id, local_today(), lang=current_lang(), **kw)
    except CaseNotReadable:
        abort(404)


def incoming_files(fields) -> list[IncomingFile]:
    """The files actually chosen in the form's file fields (browsers send an empty part for none)."""
    files = []
    for field in fields:
        for item in field.data or ():
            if item is not None and getattr(item, "filename", None):
                files.append(IncomingFile(item.stream, item.filename))
    return files


@bp.get("/cases")
@staff_required
def queue():
    """What waits for me and for my unit, nearest deadline first; all cases; the bureaus below (supervision)."""
    user = _user()
    today = local_today()
    page = list_queue(db.session, _pii(), user, parse_filters(request.args), today)
    mine = page.filters.view == "mine"
    addressed = list_addressed_requests(db.session, user.tenant_id, today) if mine else []
    to_decide = list_meetings_to_decide(db.session, user, today) if mine else []
    return render_template(
        "staff/queue.html", page=page, addressed=addressed, meetings_to_decide=to_decide, today=today
    )


@bp.get("/cases/<int:case_id>")
@staff_required
def case_detail(case_id: int):
    page = _load_page(case_id)
    return render_template("staff/case.html", page=page, reveal_form=RevealForm())


@bp.post("/cases/<int:case_id>/personal-data")
@staff_required
def reveal(case_id: int):
    """Show the personal data to a member of staff who does not handle the case, and record it in the history."""
    page = _load_page(case_id)
    form = RevealForm()
    status, error = 200, None
    if form.validate_on_submit():
        try:
            reveal_personal_data(db.session, case_id, _user(), form.reason.data)
            db.session.commit()
        except CaseNotFound:
            db.session.rollback()
            abort(404)
        except ActionRefused as exc:
            db.session.rollback()
            status, error = REFUSAL_STATUS.get(exc.code, 422), localized_error(exc)
        else:
            page = _load_page(case_id, revealed=True)
            response = current_app.make_response(render_template("staff/case.html", page=page, reveal_form=form))
            response.headers["Cache-Control"] = "no-store"
            return response
    else:
        status = 422
    page = _load_page(case_id)
    return render_template("staff/case.html", page=page, reveal_form=form, reveal_error=error), status


@bp.get("/cases/<int:case_id>/attachments/<int:attachment_id>")
@staff_required
def attachment(case_id: int, attachment_id: int):
    """Send the reader to a short-lived link of one attachment of a case they may read."""
    case = get_case(db.session, case_id)
    if case is None:
        abort(404)
    found = get_case_attachment(db.session, case, attachment_id)
    if found is None:
        abort(404)
    return redirect(download_url(current_app.extensions["portal.storage"], found))


def _form_context(page, user, today, action: CaseAction) -> FormContext:
    """The choices and pre-filled values of an action's form: the same code gives the API its own.

    The formal opinion's actions also get the drafting desk and the submitted draft.
    """
    ctx = FormContext(
        page=page,
        user=user,
        today=today,
        choices=action_choices(db.session, page, user, action),
        defaults=action_defaults(page, action, today),
        outcome=request.args.get("outcome"),
    )
    if action in _REPLY_ACTIONS:
        # The signer sees the draft as their signature issues it (a stand-in: with 代签 and both names).
        ctx.draft = get_signing_draft(db.session, page.case, user, today)
    if action is CaseAction.submit_reply:
        ctx.desk = get_reply_desk(db.session, page.case)
    return ctx


@bp.route("/cases/<int:case_id>/actions/<action>", methods=["GET", "POST"])
@staff_required
def case_action(case_id: int, action: str):
    """One workflow action: GET shows its form (or why it is not possible now), POST takes it."""
    user, today = _user(), local_today()
    page = _load_page(case_id)
    chosen = staff_action(action)
    if chosen is None or not page.own:
        abort(404)  # an ancestor supervises read-only: writing to a lower bureau's case is "not yours"
    form = FORMS[chosen]()
    ctx = _form_context(page, user, today, chosen)
    form.prepare(ctx)
    status, error, refusal = 200, None, None
    if request.method == "GET":
        refusal = action_refusal(db.session, user, page, chosen, today)
        if refusal is not None:
            status, error = REFUSAL_STATUS.get(refusal.code, 409), localized_error(refusal)
        form.expected_version.data = str(page.case.version)
        form.defaults(ctx)
    elif chosen is CaseAction.submit_slip and request.form.get("preview"):
        pass  # the slip's "who approves?" button: show the rules' choice, change nothing
    elif chosen is CaseAction.submit_reply and request.form.get("preview"):
        # "Preview": the exact PDF of the letter as it would be submitted now; nothing is stored.
        response = _reply_preview(page, form, today)
        if response is not None:
            return response
        status = 422
    elif chosen is CaseAction.reject and request.form.get("standard"):
        # "Use the standard text" (without JavaScript): the chosen reason's texts, change nothing else.
        texts = next((c.extra for c in ctx.choices["reason"] if c.value == form.reason.data), None)
        if texts is not None:
            form.explanation.data, form.remedy.data = texts["explanation"], texts["remedy"]
    elif not form.validate_on_submit() or not str(form.expected_version.data).isdigit():
        status = 422
        if not str(form.expected_version.data or "").isdigit():
            error = _("The form is incomplete; reload the page.")
    else:
        try:
            take_action(
                db.session,
                _pii(),
                current_app.extensions["portal.storage"],
                case_id,
                chosen,
                user,
                form.payload(),
                files=incoming_files(form.file_fields()),
                expected_version=int(form.expected_version.data),
                today=today,
            )
            db.session.commit()
        except CaseNotFound:
            db.session.rollback()
            abort(404)
        except CaseConflict as exc:
            db.session.rollback()
            status, error = 409, localized_error(exc)
        except ActionRefused as exc:
            db.session.rollback()
            if exc.code == "not_your_bureau":
                abort(404)
            status = REFUSAL_STATUS.get(exc.code, 422)
            field = form._fields.get(exc.field) if exc.field else None
            # A hidden field (the draft's digest) shows no error beside it: say it at the top of the page.
            if field is not None and exc.code == "invalid" and field.type != "HiddenField":
                field.errors = [*field.errors, localized_error(exc)]
            else:
                error = localized_error(exc)
        else:
            flash(_("Done: %(action)s.", action=localized(ACTION_LABELS[chosen])))
            return redirect(url_for("staff.case_detail", case_id=case_id))
        page = _load_page(case_id)
        ctx = _form_context(page, user, today, chosen)
    preview = None
    if chosen is CaseAction.submit_slip:
        units = [v for v in [form.lead_unit_id.data, *(form.assisting_unit_ids.data or [])] if str(v).isdigit()]
        preview = preview_slip_approver(page.staff, page.people, today, form.complexity.data, [int(u) for u in units])
    return (
        render_template(
            "staff/action.html",
            page=page,
            form=form,
            action=chosen,
            error=error,
            refused=refusal is not None,
            preview=preview,
            desk=ctx.desk,
            draft=ctx.draft,
            subject=decision_subject(page, chosen),
            returned=returned_work(page, chosen),
            standard_texts={c.value: c.extra for c in ctx.choices["reason"]} if "reason" in ctx.choices else None,
        ),
        status,
    )


_REPLY_ACTIONS = (CaseAction.submit_reply, CaseAction.sign_reply, CaseAction.return_reply)


def _pdf_response(body: bytes, filename: str):
    response = current_app.response_class(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
    response.headers["Cache-Control"] = "no-store"
    return response


def _reply_preview(page, form, today):
    """The PDF of the letter in ``form`` (None, with field errors on the form, when it cannot be sent)."""
    form.validate()
    if form.text.errors:
        return None
    try:
        body, data = preview_reply(db.session, page.case, form.text.data or "", today=today)
    except TemplateError as exc:
        form.text.errors = [*form.text.errors, localized((exc.zh, exc.en))]
        return None
    return _pdf_response(body, f"{data.title}（{_('preview')}）.pdf")


@bp.post("/cases/<int:case_id>/reply-preview")
@staff_required
def reply_preview(case_id: int):
    """The exact PDF of a formal opinion before it is submitted (the editor's "Preview" button posts here too)."""
    page = _load_page(case_id)
    if not page.own:
        abort(404)
    form = FORMS[CaseAction.submit_reply]()
    form.prepare(_form_context(page, _user(), local_today(), CaseAction.submit_reply))
    response = _reply_preview(page, form, local_today())
    if response is not None:
        return response
    errors = [*form.text.errors, *form.outcome.errors, *form.csrf_token.errors]
    return {"errors": [str(e) for e in errors]}, 422


@bp.get("/cases/<int:case_id>/reply-draft.pdf")
@staff_required
def reply_draft(case_id: int):
    """The stored draft of the formal opinion, byte for byte what signing issues (clerk, leader, supervisors);
    to a stand-in declared for signing, the copy with 代签 that their signature issues."""
    page = _load_page(case_id)
    draft = get_signing_draft(db.session, page.case, _user(), local_today())
    if draft is None:
        abort(404)
    body = draft.body or current_app.extensions["portal.storage"].get(draft.pdf.storage_key)
    response = _pdf_response(body, draft.pdf.filename)
    response.headers["X-Content-SHA256"] = draft.sha256
    return response


@bp.context_processor
def _labels() -> dict:
    """The rules' (zh, en) labels, for the ``bi`` filter in the staff templates."""
    return {
        "state_labels": STATE_LABELS,
        "step_labels": STEP_LABELS,
        "action_labels": ACTION_LABELS,
        "event_labels": EVENT_LABELS,
        "kind_labels": KIND_LABELS,
        "intake_labels": INTAKE_LABELS,
        "complexity_labels": COMPLEXITY_LABELS,
        "outcome_labels": OUTCOME_LABELS,
        "reject_reason_labels": REJECT_REASON_LABELS,
        "opinion_kind_labels": OPINION_KIND_LABELS,
        "delivery_labels": DELIVERY_LABELS,
        "target_labels": TARGET_LABELS,
        "meeting_status_labels": MEETING_STATUS_LABELS,
        "contact_party_labels": CONTACT_PARTY_LABELS,
        "party_role_labels": PARTY_ROLE_LABELS,
        "describe_fields": describe_fields,
        "registers_transfers": _registers_transfers,
        "uploader_label": uploader_label,
        "case_step_label": case_step_label,
    }


def _registers_transfers() -> bool:
    """The province's general office registers the committee's transfers (§四.3; the nav shows the link)."""
    user = current_user._get_current_object()
    if not isinstance(user, StaffUser) or not in_general_office(db.session, user):
        return False
    bureau = db.session.get(Bureau, user.tenant_id)
    return bureau is not None and bureau.parent_id is None
