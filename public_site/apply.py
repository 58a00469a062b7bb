"""The guided application: one group of questions per page, a review page, then the receipt.

Post/Redirect/Get: every form of the application is answered with a redirect to the page (a GET) of the step to
show, built from the draft of this browser's application in progress (``portal.petitioners.drafts``, server-side,
sealed, its id in the session). So the browser's Back button, a reload and a language switch show the answers
again, and never a form to send again; the pages carry personal data and are not cached (``no-store``). What a
step's form sends is kept as typed, even when refused: its errors are the step's outcome, shown on its page until
the next form; nothing else changes until the submit. Each step is checked with the same rules as the API
(``portal.cases.intake``); the final submit checks everything again and deletes the draft with the case made.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import UTC, datetime

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select

from portal import idempotency
from portal.attachments import Upload, UploadError, store_upload
from portal.attachments.operations import MAX_FILE_BYTES, MAX_FILES
from portal.cases.intake import (
    GROUPS,
    MAX_JOINT_PETITIONERS,
    FieldError,
    check_application,
    known_bureau_ids,
    parse_day,
    preview_application,
)
from portal.cases.operations import DuplicateOpenCase, IntakeRefused
from portal.extensions import LANGUAGES, db
from portal.identity.web import verified_identity
from portal.petitioners.drafts import Draft, delete_draft, load_draft, save_draft
from portal.petitioners.operations import submit_online
from portal.routing import OPINION_KIND_LABELS, OpinionKind
from portal.web import current_lang
from portal.workflow import KIND_LABELS
from public_site.api.applications import submit_limit, upload_limit
from public_site.common import current_petitioner, grant, pii, storage, today
from public_site.views import bp
from tenants.models import Bureau, BureauLevel
from tenants.tree import list_bureaus, tree_order

log = logging.getLogger(__name__)

STEPS = ("dispute", "petitioner", "opinion", "request", "files", "review")
STEP_TITLES = {
    "dispute": _l("What do you disagree with?"),
    "petitioner": _l("About you"),
    "opinion": _l("The opinion you received"),
    "request": _l("What you ask for, and why"),
    "files": _l("Your documents"),
    "review": _l("Check and submit"),
}
PARTY_FIELDS = ("name", "id_number", "phone", "email", "address")
FIELDS = (
    "disputed.bureau_id",
    "disputed.opinion_kind",
    *(f"petitioner.{f}" for f in PARTY_FIELDS),
    *(f"representative.{f}" for f in ("name", "id_number", "phone")),
    *(f"joint_petitioners.{i}.{f}" for i in range(MAX_JOINT_PETITIONERS) for f in ("name", "id_number", "phone")),
    "disputed.document_number",
    "disputed.issued_on",
    "disputed.received_on",
    "request",
    "facts_and_reasons",
    "electronic_delivery",
    "confirm_duplicate",
)


REVIEW_CHOICES = ("electronic_delivery", "confirm_duplicate")


def _group(step: str) -> str | None:
    return step if step in GROUPS else None


def _locked() -> dict[str, str]:
    """The petitioner's fields verified by the citizens' identity provider in this browser (name -> value)."""
    identity = verified_identity()
    if identity is None:
        return {}
    return {f"petitioner.{f}": getattr(identity, f) for f in sorted(identity.locked_fields)}


def _upload_rows(upload_ids: list[str]) -> list[Upload]:
    """The uploads still waiting to be attached, in the order they were added (expired ones drop out)."""
    if not upload_ids:
        return []
    found = {
        str(u.id): u
        for u in db.session.scalars(
            select(Upload).where(Upload.id.in_([uuid.UUID(i) for i in upload_ids]), Upload.claimed_at.is_(None))
        )
    }
    return [found[i] for i in upload_ids if i in found]


def bureau_groups() -> list[tuple[str, list[Bureau]]]:
    """The bureau tree as option groups: the province alone, then each city with its counties."""
    bureaus = tree_order(list_bureaus(db.session))
    province = [b for b in bureaus if b.level == BureauLevel.province]
    groups: list[tuple[str, list[Bureau]]] = [(b.name, [b]) for b in province]
    cities = [b for b in bureaus if b.level == BureauLevel.city]
    for city in cities:
        groups.append((city.division_name, [city, *[b for b in bureaus if b.parent_id == city.id]]))
    # Counties managed directly by the province.
    direct = [b for b in bureaus if b.level == BureauLevel.county and b.parent_id in {p.id for p in province}]
    if direct:
        groups.append((_("Directly under the province"), direct))
    return groups


def _values(draft: Draft) -> dict[str, str]:
    """The answers of the draft, with the fields the identity provider verified taken from it, whatever was typed."""
    return {**draft.values, **_locked()}


def _joint_rows(values: dict[str, str], shown: int) -> int:
    """How many joint-petitioner rows to show: every filled one, and at least the rows shown (or added) before."""
    filled = [
        i
        for i in range(MAX_JOINT_PETITIONERS)
        if any(values.get(f"joint_petitioners.{i}.{f}", "").strip() for f in ("name", "id_number", "phone"))
    ]
    return min(MAX_JOINT_PETITIONERS, max(max(filled, default=-1) + 1, shown, 1))


def _preview(values: dict[str, str]):
    """Where the application goes and by when it must be decided; None when the dispute is not chosen yet."""
    try:
        bureau_id = int(values.get("disputed.bureau_id", ""))
        kind = OpinionKind(values.get("disputed.opinion_kind", ""))
    except ValueError:
        return None
    received = parse_day(values.get("disputed.received_on", ""))
    # §四.14: the same petitioner on the same document (read only with a valid ID number, at the review step).
    id_number = values.get("petitioner.id_number") or None
    return preview_application(
        db.session,
        bureau_id,
        kind,
        received,
        today(),
        id_hash=pii().hash(id_number) if id_number else None,
        document_number=values.get("disputed.document_number") or None,
    )


def _shown_on(step: str, name: str) -> bool:
    prefixes = GROUPS.get(step, ())
    return any(name == p or (p.endswith(".") and name.startswith(p)) for p in prefixes)


def _fields_of(step: str) -> list[str]:
    """The fields the page of ``step`` asks (the review page asks only its two yes/no questions)."""
    if step == "review":
        return list(REVIEW_CHOICES)
    return [name for name in FIELDS if _shown_on(step, name)]


# --- The draft: this browser's application in progress (portal.petitioners.drafts) -------------------------------

DRAFT = "apply_draft"  # the session key holding the draft's id


def _now() -> datetime:
    return datetime.now(UTC)


def _draft() -> Draft | None:
    return load_draft(db.session, pii(), session.get(DRAFT), now=_now())


def _draft_or_new() -> Draft:
    draft = _draft()
    if draft is None:
        draft = Draft()
        session[DRAFT] = str(draft.id)
    return draft


def _keep(draft: Draft) -> None:
    save_draft(db.session, pii(), draft, now=_now())
    db.session.commit()


def _to(step: str):
    """See Other: the page of ``step`` (a GET), so that Back and reload never send a form again.

    A language chosen on the way (``?lang=``, the switch re-sends the form) goes along to the page that shows it.
    """
    lang = request.args.get("lang")
    lang = lang if lang in LANGUAGES else None
    if step == "dispute":
        target = url_for("public.apply", lang=lang)
    elif step == "stopped":
        target = url_for("public.apply_stopped", lang=lang)
    else:
        target = url_for("public.apply_page", step=step, lang=lang)
    return redirect(target, 303)


def _failed(step: str, errors: dict[str, FieldError], status: int = 422) -> dict:
    """The outcome of a step that was refused: its errors, shown beside the fields when its page is shown."""
    return {"step": step, "status": status, "errors": {k: [e.message_zh, e.message_en] for k, e in errors.items()}}


def _notice(step: str, code: str, number: int = 0, status: int = 200) -> dict:
    return {"step": step, "status": status, "notice": [code, number]}


def _notice_text(code: str, number: int) -> str:
    if code == "files_added":
        return ngettext(
            "%(num)d file added. Check the list, then press Next.",
            "%(num)d files added. Check the list, then press Next.",
            number,
        )
    if code == "reused":
        return _("This page was already used to submit a different application. Please check it and submit again.")
    return _(
        "Your application could not be saved just now. Nothing was submitted and nothing you entered is lost:"
        " please try again in a few minutes."
    )


# --- Pages --------------------------------------------------------------------------------------------------------


def _render(step: str, draft: Draft, *, preview=None):
    """Show one step with the draft; the outcome of the last POST on this step (errors, a notice) beside it."""
    outcome = draft.outcome if draft.outcome and draft.outcome.get("step") == step else {}
    errors = {name: FieldError(*pair) for name, pair in (outcome.get("errors") or {}).items()}
    locked = _locked()
    values = _values(draft)
    notice = outcome.get("notice")
    context = {
        "locked": locked,
        "step": step,
        "steps": STEPS,
        "step_titles": STEP_TITLES,
        "step_number": STEPS.index(step) + 1,
        "values": values,
        "uploads": _upload_rows(draft.uploads),
        "errors": errors,
        "notice": _notice_text(*notice) if notice else None,
        "opinion_kinds": OPINION_KIND_LABELS,
        "kind_labels": KIND_LABELS,
        "max_files": MAX_FILES,
        "max_joint": MAX_JOINT_PETITIONERS,
        "joint_rows": _joint_rows(values, draft.joint_rows),
        "has_draft": session.get(DRAFT) == str(draft.id),
        "joint_open": draft.joint_rows > 1
        or any(k.startswith("joint_petitioners.") and (values.get(k) or "").strip() for k in values)
        or any(k.startswith("joint_petitioners") for k in errors),
        "representative_open": any(k.startswith("representative.") and (values.get(k) or "").strip() for k in values)
        or any(k.startswith("representative") for k in errors),
    }
    if step == "dispute":
        context["bureau_groups"] = bureau_groups()
        context["citizen_sso"] = current_app.extensions["portal.identity"].citizen is not None
    if step == "review":
        # One key per attempt: resending this page (a double click, a retry after a timeout) submits once.
        context["idempotency_key"] = str(uuid.uuid4())
        context["dates"] = {k: parse_day(values.get(k, "")) for k in ("disputed.issued_on", "disputed.received_on")}
        context["preview"] = preview
        context["duplicate"] = FieldError(*outcome["duplicate"]) if outcome.get("duplicate") else None
        context["bureau"] = db.session.get(Bureau, int(values["disputed.bureau_id"])) if preview else None
    return render_template(f"public/apply/{step}.html", **context), outcome.get("status", 200)


def _refused(draft: Draft, refusal: IntakeRefused) -> str:
    """Where a refusal of the routing leads: the "cannot be made here" page, or an error beside the kind."""
    if refusal.code in ("to_committee", "final"):
        return "stopped"
    draft.outcome = _failed("dispute", {"disputed.opinion_kind": FieldError(refusal.message_zh, refusal.message_en)})
    return "dispute"


def _review_target(draft: Draft):
    """Check every group: the first step with errors (its outcome set), or ``"review"`` with the preview."""
    values = _values(draft)
    for step in STEPS:
        group = _group(step)
        if group is None:
            continue
        _data, checked = check_application(
            values, today=today(), known_bureau_ids=known_bureau_ids(db.session), groups=[group]
        )
        if checked.errors:
            draft.outcome = _failed(step, checked.errors)
            return step, None
    try:
        return "review", _preview(values)
    except IntakeRefused as exc:
        return _refused(draft, exc), None


def _take_form(draft: Draft, step: str) -> None:
    """Keep what the page of ``step`` sends (the fields it shows, as typed); the last outcome is done with."""
    draft.outcome = None
    locked = _locked()
    for name in _fields_of(step):
        if name not in locked:
            draft.set(name, request.form.get(name))
    if step == "petitioner":
        shown = request.form.get("joint_rows", "")
        draft.joint_rows = int(shown) if shown.isascii() and shown.isdigit() and len(shown) < 3 else 1


def _navigate(draft: Draft, step: str, go: str) -> str:
    """Follow the button pressed on ``step`` (back, change another step, add a joint petitioner, next): the step
    to show next. Going on checks the step first; a refused step stays, with its errors."""
    index = STEPS.index(step)
    if go == "back":
        return STEPS[max(0, index - 1)]
    if go.startswith("edit:") and go[5:] in STEPS:
        return _review_target(draft)[0] if go[5:] == "review" else go[5:]
    if go == "add_joint" and step == "petitioner":
        draft.joint_rows = min(MAX_JOINT_PETITIONERS, _joint_rows(draft.values, draft.joint_rows) + 1)
        return step
    group = _group(step)
    if group:
        _data, checked = check_application(
            _values(draft), today=today(), known_bureau_ids=known_bureau_ids(db.session), groups=[group]
        )
        if checked.errors:
            draft.outcome = _failed(step, checked.errors)
            return step
        locked = _locked()
        for name, value in checked.values.items():  # show the numbers as normalised (phone, ID number, dates)
            if name not in locked:
                draft.set(name, value)
    if step == "dispute":
        try:
            _preview(_values(draft))
        except IntakeRefused as exc:
            return _refused(draft, exc)
    following = STEPS[min(index + 1, len(STEPS) - 1)]
    return _review_target(draft)[0] if following == "review" else following


@bp.get("/apply")
def apply():
    """The first step: the application in progress, or a new one (a link may choose the bureau)."""
    draft = _draft() or Draft()  # only a form sent creates a draft
    if request.args.get("bureau", "").isdigit() and "disputed.bureau_id" not in draft.values:
        draft.values["disputed.bureau_id"] = request.args["bureau"]
    return _render("dispute", draft)


@bp.get("/apply/<any(petitioner, opinion, request, files, review):step>")
def apply_page(step: str):
    """A later step, built from the draft: what Back, a reload and a language switch show."""
    draft = _draft()
    if draft is None:  # none yet, submitted, or unchanged for a day: start at the beginning
        return redirect(url_for("public.apply"))
    if step != "review":
        return _render(step, draft)
    target, preview = _review_target(draft)
    if target != "review":  # changed since (another tab), or a link typed in: the step that needs an answer
        _keep(draft)
        return _to(target)
    return _render("review", draft, preview=preview)


@bp.get("/apply/stopped")
def apply_stopped():
    """The opinion chosen cannot be disputed here (the province's own, or a final re-review): say where to go."""
    draft = _draft()
    try:
        _preview(_values(draft) if draft else {})
    except IntakeRefused as exc:
        if exc.code in ("to_committee", "final"):
            return render_template("public/apply/stopped.html", refusal=exc)
    return redirect(url_for("public.apply"))


@bp.post("/apply")
def apply_step():
    """Keep what a step's form holds, then show the step its button leads to (everything but files and submit)."""
    step = request.form.get("step")
    if step not in STEPS:
        step = "dispute"
    draft = _draft_or_new()
    _take_form(draft, step)
    target = _navigate(draft, step, request.form.get("go", "next"))
    _keep(draft)
    return _to(target)


@bp.post("/apply/discard")
def apply_discard():
    """Delete the application in progress (a shared computer: nothing of it stays for the next person)."""
    discard_draft()
    db.session.commit()
    flash(_("What you entered was deleted."))
    return redirect(url_for("public.apply"), 303)


def discard_draft() -> None:
    """Forget this browser's draft and delete its row (also on signing out). Flushes; the caller commits."""
    draft = _draft()
    session.pop(DRAFT, None)
    if draft is not None:
        delete_draft(db.session, draft.id)


@bp.post("/apply/files")
@upload_limit
def apply_files():
    """The files step: store the chosen files (type by content, 20 MB each, 10 in all), remove one, or move on.

    The bytes go to object storage as unclaimed uploads; the draft keeps their ids. A whole request above the
    application's ``MAX_CONTENT_LENGTH`` (room for ten files) is refused before it is read (the CSRF check parses
    the form first), with the friendly 413 page.
    """
    draft = _draft_or_new()
    draft.outcome = None
    go = request.form.get("go", "next")
    if go.startswith("remove:"):
        draft.uploads = [u for u in draft.uploads if u != go[7:]]
        _keep(draft)
        return _to("files")
    chosen = [f for f in request.files.getlist("file") if f and f.filename]
    if len(draft.uploads) + len(chosen) > MAX_FILES:
        message = FieldError(
            f"最多只能附{MAX_FILES}个文件，请先删除一些再添加。",
            f"At most {MAX_FILES} files; remove some before adding more.",
        )
        draft.outcome = _failed("files", {"files": message})
        _keep(draft)
        return _to("files")
    for file in chosen:
        try:
            upload = store_upload(db.session, storage(), file.stream, file.filename, max_bytes=MAX_FILE_BYTES)
            db.session.commit()
        except UploadError as exc:
            db.session.rollback()
            error = FieldError(f"“{_short(file.filename)}”：{exc.zh}", f"“{_short(file.filename)}”: {exc.en}")
            draft.outcome = _failed("files", {"files": error}, exc.status)
            _keep(draft)
            return _to("files")
        except Exception:
            db.session.rollback()
            log.exception("upload failed")
            error = FieldError(
                "文件暂时无法保存，请稍后再试。已填写的内容都还在。",
                "The file could not be stored just now; please try again later. Nothing you entered is lost.",
            )
            draft.outcome = _failed("files", {"files": error}, 503)
            _keep(draft)
            return _to("files")
        draft.uploads.append(str(upload.id))
    if go == "upload" or (chosen and go == "next"):
        # Show what was added before moving on, so that a wrong file can still be removed.
        if chosen:
            draft.outcome = _notice("files", "files_added", len(chosen))
        _keep(draft)
        return _to("files")
    target = _navigate(draft, "files", go)
    _keep(draft)
    return _to(target)


def _short(name: str | None) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return name if len(name) <= 40 else name[:37] + "..."


@bp.post("/apply/submit")
@submit_limit
def apply_submit():
    """Check everything once more and submit the draft: the case, its files, the receipt in the session (shown once).

    The draft is deleted in the transaction that creates the case. A page sent twice (a double click, a retry) is
    one attempt: its key, this browser's draft and the two answers of the review page name it.
    """
    account = current_petitioner()
    choices = {name: request.form.get(name, "") for name in REVIEW_CHOICES}
    claim = None
    key = request.form.get("idempotency_key", "")
    if key:
        fingerprint = idempotency.fingerprint(
            {"draft": session.get(DRAFT), "choices": choices, "account": account and account.id}
        )
        try:
            outcome = idempotency.begin(
                db.session,
                current_app.config["PORTAL_SETTINGS"].pii_key,
                "application",
                idempotency.check_key(key),
                fingerprint,
                now=_now(),
            )
        except (idempotency.KeyInvalid, idempotency.KeyReused):
            db.session.rollback()
            draft = _draft()
            if draft is None:  # the application of this page was submitted: a new one starts afresh
                flash(_("This page was already used to submit an application. To make another one, start here."))
                return redirect(url_for("public.apply"), 303)
            draft.outcome = _notice("review", "reused", status=422)
            _keep(draft)
            return _to("review")
        if isinstance(outcome, idempotency.Replay):
            db.session.rollback()
            # The first attempt went through (its answer may never have reached the browser): show its receipt.
            grant(outcome.body["number"])
            session["receipt"] = outcome.body
            return redirect(url_for("public.receipt"))
        claim = outcome
    draft = _draft()
    if draft is None:
        db.session.rollback()
        return redirect(url_for("public.apply"))
    for name, value in choices.items():
        draft.set(name, value)
    draft.outcome = None
    target = _review_target(draft)[0]
    if target != "review":
        db.session.rollback()  # the key's claim goes too: nothing was submitted
        _keep(draft)
        return _to(target)
    data, _checked = check_application(_values(draft), today=today(), known_bureau_ids=known_bureau_ids(db.session))
    data = dataclasses.replace(data, language=current_lang())  # their text messages come in this language
    try:
        result = submit_online(
            db.session,
            storage(),
            pii(),
            data,
            draft.uploads,
            today=today(),
            account_id=account.id if account else None,
        )
        if claim is not None:
            receipt = {"number": result.case.number, "code": result.submission.access_code}
            idempotency.finish(db.session, claim, 303, receipt)
        delete_draft(db.session, draft.id)
        db.session.commit()
    except IntakeRefused as exc:
        db.session.rollback()
        target = _refused(draft, exc)
        _keep(draft)
        return _to(target)
    except DuplicateOpenCase as exc:
        db.session.rollback()
        # Asked in plain words on the review page: the open case's number, and a box to confirm a second one.
        draft.outcome = {"step": "review", "status": 409, "duplicate": [exc.message_zh, exc.message_en]}
        _keep(draft)
        return _to("review")
    except UploadError as exc:
        db.session.rollback()
        draft.outcome = _failed("files", {"files": FieldError(exc.zh, exc.en)})
        _keep(draft)
        return _to("files")
    except Exception:
        db.session.rollback()  # removes every row; the uploads stay unclaimed with their files, ready for a retry
        log.exception("submission failed")
        draft.outcome = _notice("review", "unavailable", status=503)
        _keep(draft)
        return _to("review")
    case = result.case
    grant(case.number)
    session["receipt"] = {"number": case.number, "code": result.submission.access_code}
    return redirect(url_for("public.receipt"))


@bp.get("/apply/receipt")
def receipt():
    """The receipt: number and access code, shown this once; the code is not stored anywhere readable."""
    shown = session.pop("receipt", None)
    if not shown:
        flash(_("The receipt was shown once. Use your case number and access code to follow your application."))
        return redirect(url_for("public.track"))
    from public_site.track import load_granted

    loaded = load_granted(shown["number"])
    if loaded is None:
        abort(404)
    case, view = loaded
    return render_template("public/apply/receipt.html", case=case, view=view, code=shown["code"])
