"""The guided application: one group of questions per page, a review page, then the receipt.

The application in progress travels in the pages themselves (hidden fields, CSRF-protected), so nothing is lost on a
validation error or a "back" and nothing waits on the server. Each step is checked with the same rules as the API
(``portal.cases.intake``); the final submit checks everything again.
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
from portal.extensions import db
from portal.identity.web import verified_identity
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


def _read_form() -> tuple[dict[str, str], list[str]]:
    """The application so far, as carried by the page: known fields only, and valid upload ids.

    The fields the identity provider verified are taken from it, whatever the form says.
    """
    values = {name: request.form[name] for name in FIELDS if name in request.form}
    values.update(_locked())
    uploads: list[str] = []
    for raw in request.form.getlist("uploads"):
        try:
            upload_id = str(uuid.UUID(raw))
        except ValueError:
            continue
        if upload_id not in uploads:
            uploads.append(upload_id)
    return values, uploads[:MAX_FILES]


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


def _joint_rows(values: dict[str, str], extra: int = 0) -> int:
    """How many joint-petitioner rows to show: every filled one, the rows already shown, plus any added."""
    filled = [
        i
        for i in range(MAX_JOINT_PETITIONERS)
        if any(values.get(f"joint_petitioners.{i}.{f}", "").strip() for f in ("name", "id_number", "phone"))
    ]
    shown = request.form.get("joint_rows", "0") if request.method == "POST" else "0"
    shown_rows = int(shown) if shown.isascii() and shown.isdigit() and len(shown) < 3 else 0
    return min(MAX_JOINT_PETITIONERS, max(max(filled, default=-1) + 1, shown_rows, 1) + extra)


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


def _render(
    step: str,
    values,
    uploads,
    *,
    errors=None,
    status=200,
    extra_joint=0,
    notice=None,
    review_preview=None,
    duplicate=None,
):
    """Show one step with the application so far; the review step only through ``_review`` (checked first)."""
    errors = errors or {}
    locked = _locked()
    values.update(locked)
    context = {
        "locked": locked,
        # The review page asks the two yes/no questions itself (checkboxes): they are not carried there.
        "carried": {
            k: v for k, v in values.items() if not _shown_on(step, k) and not (step == "review" and k in REVIEW_CHOICES)
        },
        "step": step,
        "steps": STEPS,
        "step_titles": STEP_TITLES,
        "step_number": STEPS.index(step) + 1,
        "values": values,
        "uploads": _upload_rows(uploads),
        "errors": errors,
        "notice": notice,
        "opinion_kinds": OPINION_KIND_LABELS,
        "kind_labels": KIND_LABELS,
        "max_files": MAX_FILES,
        "max_joint": MAX_JOINT_PETITIONERS,
        "joint_rows": _joint_rows(values, extra_joint),
        "joint_open": bool(extra_joint)
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
        context["preview"] = review_preview
        context["duplicate"] = duplicate
        context["bureau"] = db.session.get(Bureau, int(values["disputed.bureau_id"])) if review_preview else None
    return render_template(f"public/apply/{step}.html", **context), status


def _review(values, uploads, *, notice=None, status=200, duplicate=None):
    """The review page, only for an application that passes every check; else the first step with errors."""
    failing = _first_failing(values, uploads)
    if failing is not None:
        return failing
    try:
        preview = _preview(values)
    except IntakeRefused as exc:
        if exc.code in ("to_committee", "final"):
            return _stopped(exc, values)
        error = FieldError(exc.message_zh, exc.message_en)
        return _render("dispute", values, uploads, errors={"disputed.opinion_kind": error}, status=422)
    return _render("review", values, uploads, notice=notice, status=status, review_preview=preview, duplicate=duplicate)


def _stopped(refusal: IntakeRefused, values):
    return render_template("public/apply/stopped.html", refusal=refusal, values=values), 200


def _first_failing(values, uploads):
    """Check every group; re-render the first step with errors, or return None when all is well."""
    for step in STEPS:
        group = _group(step)
        if group is None:
            continue
        _data, checked = check_application(
            values, today=today(), known_bureau_ids=known_bureau_ids(db.session), groups=[group]
        )
        if checked.errors:
            return _render(step, values, uploads, errors=checked.errors, status=422)
    return None


def _navigate(step: str, values, uploads):
    """Handle the buttons of a step: back, edit another step, add a joint petitioner, or next."""
    go = request.form.get("go", "next")
    index = STEPS.index(step)
    if go == "back":
        return _render(STEPS[max(0, index - 1)], values, uploads)
    if go.startswith("edit:") and go[5:] in STEPS:
        return _review(values, uploads) if go[5:] == "review" else _render(go[5:], values, uploads)
    if go == "add_joint" and step == "petitioner":
        return _render(step, values, uploads, extra_joint=1)
    group = _group(step)
    if group:
        _data, checked = check_application(
            values, today=today(), known_bureau_ids=known_bureau_ids(db.session), groups=[group]
        )
        if checked.errors:
            return _render(step, values, uploads, errors=checked.errors, status=422)
        values.update(checked.values)  # show the numbers as normalised (phone, ID number, dates)
    if step == "dispute":
        try:
            _preview(values)
        except IntakeRefused as exc:
            if exc.code in ("to_committee", "final"):
                return _stopped(exc, values)
            error = FieldError(exc.message_zh, exc.message_en)
            return _render(step, values, uploads, errors={"disputed.opinion_kind": error}, status=422)
    following = STEPS[min(index + 1, len(STEPS) - 1)]
    if following == "review":
        return _review(values, uploads)
    return _render(following, values, uploads)


@bp.get("/apply")
def apply():
    """Start an application (or continue with the values a link carries, e.g. a chosen bureau)."""
    values = {}
    if request.args.get("bureau", "").isdigit():
        values["disputed.bureau_id"] = request.args["bureau"]
    return _render("dispute", values, [])


@bp.post("/apply")
def apply_step():
    """Move through the steps (everything except files and the final submit)."""
    values, uploads = _read_form()
    step = request.form.get("step")
    if step not in STEPS or step == "files":
        step = "dispute"
    if step == "review" and request.form.get("go", "next") == "next":
        return _review(values, uploads)
    return _navigate(step, values, uploads)


@bp.post("/apply/files")
@upload_limit
def apply_files():
    """The files step: store the chosen files (type by content, 20 MB each, 10 in all), remove one, or move on.

    A whole request above the application's ``MAX_CONTENT_LENGTH`` (room for ten files) is refused before it is
    read (the CSRF check parses the form first), with the friendly 413 page.
    """
    values, uploads = _read_form()
    go = request.form.get("go", "next")
    if go.startswith("remove:"):
        uploads = [u for u in uploads if u != go[7:]]
        return _render("files", values, uploads)
    chosen = [f for f in request.files.getlist("file") if f and f.filename]
    if len(uploads) + len(chosen) > MAX_FILES:
        message = FieldError(
            f"最多只能附{MAX_FILES}个文件，请先删除一些再添加。",
            f"At most {MAX_FILES} files; remove some before adding more.",
        )
        return _render("files", values, uploads, errors={"files": message}, status=422)
    for file in chosen:
        try:
            upload = store_upload(db.session, storage(), file.stream, file.filename, max_bytes=MAX_FILE_BYTES)
            db.session.commit()
        except UploadError as exc:
            db.session.rollback()
            error = FieldError(f"“{_short(file.filename)}”：{exc.zh}", f"“{_short(file.filename)}”: {exc.en}")
            return _render("files", values, uploads, errors={"files": error}, status=exc.status)
        except Exception:
            db.session.rollback()
            log.exception("upload failed")
            error = FieldError(
                "文件暂时无法保存，请稍后再试。已填写的内容都还在。",
                "The file could not be stored just now; please try again later. Nothing you entered is lost.",
            )
            return _render("files", values, uploads, errors={"files": error}, status=503)
        uploads.append(str(upload.id))
    if go == "upload" or (chosen and go == "next"):
        # Show what was added before moving on, so that a wrong file can still be removed.
        notice = (
            ngettext(
                "%(num)d file added. Check the list, then press Next.",
                "%(num)d files added. Check the list, then press Next.",
                len(chosen),
            )
            if chosen
            else None
        )
        return _render("files", values, uploads, notice=notice)
    return _navigate("files", values, uploads)


def _short(name: str | None) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return name if len(name) <= 40 else name[:37] + "..."


@bp.post("/apply/submit")
@submit_limit
def apply_submit():
    """Check everything once more and submit: the case, its files, the receipt in the session (shown once)."""
    values, uploads = _read_form()
    failing = _first_failing(values, uploads)
    if failing is not None:
        return failing
    data, _checked = check_application(values, today=today(), known_bureau_ids=known_bureau_ids(db.session))
    data = dataclasses.replace(data, language=current_lang())  # their text messages come in this language
    account = current_petitioner()
    claim = None
    key = request.form.get("idempotency_key", "")
    if key:
        fingerprint = idempotency.fingerprint({"values": values, "uploads": uploads, "account": account and account.id})
        try:
            outcome = idempotency.begin(
                db.session,
                current_app.config["PORTAL_SETTINGS"].pii_key,
                "application",
                idempotency.check_key(key),
                fingerprint,
                now=datetime.now(UTC),
            )
        except (idempotency.KeyInvalid, idempotency.KeyReused):
            db.session.rollback()
            notice = _(
                "This page was already used to submit a different application. Please check it and submit again."
            )
            return _review(values, uploads, notice=notice, status=422)
        if isinstance(outcome, idempotency.Replay):
            db.session.rollback()
            # The first attempt went through (its answer may never have reached the browser): show its receipt.
            grant(outcome.body["number"])
            session["receipt"] = outcome.body
            return redirect(url_for("public.receipt"))
        claim = outcome
    try:
        result = submit_online(
            db.session,
            storage(),
            pii(),
            data,
            uploads,
            today=today(),
            account_id=account.id if account else None,
        )
        if claim is not None:
            receipt = {"number": result.case.number, "code": result.submission.access_code}
            idempotency.finish(db.session, claim, 303, receipt)
        db.session.commit()
    except IntakeRefused as exc:
        db.session.rollback()
        if exc.code in ("to_committee", "final"):
            return _stopped(exc, values)
        error = FieldError(exc.message_zh, exc.message_en)
        return _render("dispute", values, uploads, errors={"disputed.opinion_kind": error}, status=422)
    except DuplicateOpenCase as exc:
        db.session.rollback()
        # Asked in plain words on the review page: the open case's number, and a box to confirm a second one.
        return _review(values, uploads, status=409, duplicate=FieldError(exc.message_zh, exc.message_en))
    except UploadError as exc:
        db.session.rollback()
        error = FieldError(exc.zh, exc.en)
        return _render("files", values, uploads, errors={"files": error}, status=422)
    except Exception:
        db.session.rollback()  # removes the rows, and the attachments module removes the objects copied so far
        log.exception("submission failed")
        notice = _(
            "Your application could not be saved just now. Nothing was submitted and nothing you entered is lost:"
            " please try again in a few minutes."
        )
        return _review(values, uploads, notice=notice, status=503)
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
