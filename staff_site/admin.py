"""Bureau administration at ``/staff/admin``: users and roles, units, leaders' absences, document settings, and
(for the province administrator) the bureau tree.

Every page acts on the administrator's own bureau only: an object of any other bureau (a lower one included,
which the request's scope may read for supervision) is not found.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.accounts import absences, tokens
from portal.accounts.models import StaffUser
from portal.accounts.operations import (
    AccountError,
    add_unit,
    create_user,
    rename_unit,
    reset_password,
    set_user_active,
    set_user_roles,
    set_user_unit,
)
from portal.cases.queries import local_today
from portal.cases.refusal_texts import (
    DEFAULT_TEXTS,
    reject_reasons,
    reset_standard_text,
    save_standard_text,
    standard_texts,
)
from portal.documents import render_pdf
from portal.documents.service import (
    DocumentSettingsError,
    get_document_settings,
    reset_template,
    set_letterhead,
    set_number_prefix,
    set_template_override,
)
from portal.documents.templates import (
    COMMITTEE_EXTENSION,
    COMMITTEE_REPORT,
    KINDS,
    TemplateError,
    allowed_placeholders,
    default_text,
    preview_template,
)
from portal.extensions import db
from portal.identity import operations as identity_ops
from portal.roles import ROLE_LABELS, SECURITY_ADMINS, Role
from portal.web import is_english, localized, localized_error
from portal.workflow import DOCUMENT_LABELS, REJECT_REASON_LABELS, ActionRefused
from staff_site.access import MAX_ID, administered_user, at_province, security_admin_required, staff_required
from staff_site.admin_forms import (
    AbsenceForm,
    ActionForm,
    ContactForm,
    LetterheadForm,
    MoveBureauForm,
    NewBureauForm,
    NewUnitForm,
    NewUserForm,
    NumberPrefixForm,
    RefusalTextForm,
    RenameBureauForm,
    RenameUnitForm,
    TemplateForm,
    UserRolesForm,
    UserUnitForm,
)
from staff_site.audit import audit_change
from staff_site.identity import reset_second_factor_of
from tenants.contacts import ContactError, get_committee_contact, get_contact, set_contact
from tenants.models import Bureau, BureauLevel, Unit
from tenants.tree import TreeError, add_bureau, list_bureaus, move_bureau, rename_bureau

bp = Blueprint("admin", __name__, template_folder="templates")

ADMINS = (Role.bureau_admin, Role.province_admin)
REASON_LABELS = {str(k): v for k, v in REJECT_REASON_LABELS.items()}
KIND_LABELS = {
    **{k.value: v for k, v in DOCUMENT_LABELS.items()},
    "formal_opinion": (
        "复查（复核）意见书（经办人撰写时的预填内容）",
        "Formal opinion (what the clerk's editor starts from)",
    ),
    "receipt": ("信访事项申请回执", "Receipt"),
    COMMITTEE_REPORT: (
        "向省政府复查复核委员会的报告（预填内容）",
        "Report to the committee (the editor's starting text)",
    ),
    COMMITTEE_EXTENSION: ("向省政府复查复核委员会的延期报告", "Extension reported to the committee"),
}


def _require(*roles: Role) -> None:
    if not current_user.has_role(*roles):
        abort(403)


def _bureau_id() -> int:
    return current_user.tenant_id


def _own(model, object_id: int):
    """Load a row of the administrator's own bureau, or 404 (any other bureau's row, a lower one's too)."""
    if not 0 < object_id <= MAX_ID:
        abort(404)
    row = db.session.scalar(select(model).where(model.id == object_id, model.tenant_id == _bureau_id()))
    if row is None:
        abort(404)
    return row


def _units() -> list[Unit]:
    return list(db.session.scalars(select(Unit).where(Unit.tenant_id == _bureau_id()).order_by(Unit.id)))


def _users() -> list[StaffUser]:
    return list(
        db.session.scalars(select(StaffUser).where(StaffUser.tenant_id == _bureau_id()).order_by(StaffUser.username))
    )


def _fail(form, field_name: str | None, exc) -> None:
    """Put an operation's bilingual message beside the field it concerns (or above the form)."""
    db.session.rollback()
    message = localized_error(exc)
    field = getattr(form, field_name, None) if field_name else None
    if field is not None:
        field.errors = [*field.errors, message]
    else:
        form.form_errors.append(message)


def _status(form) -> int:
    return 400 if form.is_submitted() else 200


@bp.get("/")
@staff_required
def index():
    _require(*ADMINS, *SECURITY_ADMINS)
    return redirect(url_for("admin.users"))


# --- Users ---------------------------------------------------------------------------------------------------
# Separation of administrators: the system administrator opens accounts, moves them between units and
# (de)activates them; the security administrator gives and takes roles, ends sessions and resets passwords and
# second factors. Each sees the other's work on the same pages, read-only.


def _user_list() -> list[StaffUser]:
    """This bureau's accounts; every bureau's for the province's security administrator."""
    query = select(StaffUser).order_by(StaffUser.tenant_id, StaffUser.username)
    if not (current_user.has_role(*SECURITY_ADMINS) and at_province(current_user)):
        query = query.where(StaffUser.tenant_id == _bureau_id())
    return list(db.session.scalars(query.limit(2000)))


@bp.route("/users", methods=["GET", "POST"])
@staff_required
def users():
    _require(*ADMINS, *(SECURITY_ADMINS if request.method == "GET" else ()))
    units = _units()
    form = NewUserForm()
    form.prepare(units)
    if form.validate_on_submit():
        unit = next((u for u in units if u.id == form.unit_id.data), None)
        try:
            user = create_user(
                db.session,
                bureau=db.session.get(Bureau, _bureau_id()),
                username=form.username.data,
                password=form.password.data,
                roles=[],
                display_name=form.display_name.data,
                unit_code=unit.code if unit else None,
            )
        except AccountError as exc:
            _fail(form, _account_field(exc), exc)
        else:
            audit_change("user_created", user.username, after={"roles": [], "unit_id": user.unit_id})
            db.session.commit()
            flash(
                _(
                    "The account %(username)s is created. It holds no role until the security administrator gives it"
                    " its roles.",
                    username=user.username,
                )
            )
            return redirect(url_for("admin.user_detail", user_id=user.id))
    listed = _user_list()
    bureau_ids = {u.tenant_id for u in listed}
    return (
        render_template(
            "admin/users.html",
            form=form,
            users=listed,
            units={u.id: u for u in db.session.scalars(select(Unit).where(Unit.tenant_id.in_(bureau_ids)))},
            bureaus={b.id: b for b in list_bureaus(db.session)} if len(bureau_ids) > 1 else {},
            role_labels=ROLE_LABELS,
        ),
        _status(form),
    )


def _account_field(exc: AccountError) -> str | None:
    text = exc.message_en
    if text.startswith("Username"):
        return "username"
    if text.startswith("Password"):
        return "password"
    if "role" in text or "administrator" in text:
        return "roles"
    if "unit" in text:
        return "unit_id"
    return None


def _user_page(user: StaffUser, status: int = 200, *, roles_form=None, unit_form=None):
    """The account page: what the system administrator and the security administrator each may do to it."""
    own = user.tenant_id == _bureau_id()
    province = at_province(current_user) and db.session.get(Bureau, user.tenant_id).parent_id is None
    if roles_form is None:
        roles_form = UserRolesForm(data={"roles": [str(r) for r in user.roles]})
    roles_form.prepare(province=province)
    if unit_form is None:
        unit_form = UserUnitForm(data={"unit_id": user.unit_id})
    unit_form.prepare(_units() if own else [])
    security = current_user.has_role(*SECURITY_ADMINS)
    now = datetime.now(UTC)
    return (
        render_template(
            "admin/user.html",
            user=user,
            bureau=db.session.get(Bureau, user.tenant_id),
            roles_form=roles_form,
            unit_form=unit_form,
            action_form=ActionForm(),
            role_labels=ROLE_LABELS,
            system_admin=current_user.has_role(*ADMINS) and own,
            security_admin=security,
            sessions=identity_ops.list_sessions(db.session, user) if security else [],
            api_tokens=tokens.list_tokens(db.session, user, now=now) if security else [],
            second_factor=identity_ops.has_second_factor(db.session, user) if security else None,
            now=now,
        ),
        status,
    )


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@staff_required
def user_detail(user_id: int):
    """The account page; a POST moves the account to another unit (the system administrator's)."""
    user = administered_user(user_id)
    _require(*ADMINS, *(SECURITY_ADMINS if request.method == "GET" else ()))
    if request.method == "GET":
        return _user_page(user)
    if user.tenant_id != _bureau_id():
        abort(404)
    form = UserUnitForm()
    form.prepare(_units())
    before = {"unit_id": user.unit_id}
    if form.validate_on_submit():
        try:
            set_user_unit(db.session, user, unit_id=form.unit_id.data)
        except AccountError as exc:
            _fail(form, "unit_id", exc)
            user = administered_user(user_id)
        else:
            audit_change("user_unit_changed", user.username, before=before, after={"unit_id": user.unit_id})
            db.session.commit()
            flash(_("The unit of %(username)s is saved.", username=user.username))
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return _user_page(user, 400, unit_form=form)


@bp.post("/users/<int:user_id>/roles")
@staff_required
def user_roles(user_id: int):
    """Give or take roles (the security administrator's); every session and token of the user ends."""
    user = administered_user(user_id)
    admin_user = security_admin_required()
    province = at_province(admin_user) and db.session.get(Bureau, user.tenant_id).parent_id is None
    form = UserRolesForm()
    form.prepare(province=province)
    before = {"roles": [str(r) for r in user.roles]}
    if form.validate_on_submit():
        try:
            set_user_roles(db.session, user, roles=[Role(r) for r in form.roles.data], acting=admin_user)
        except AccountError as exc:
            _fail(form, "roles", exc)
            user = administered_user(user_id)
        else:
            after = {"roles": [str(r) for r in user.roles]}
            audit_change("user_roles_changed", user.username, before=before, after=after)
            db.session.commit()
            flash(
                _(
                    "The roles of %(username)s are saved. Their sessions and API tokens have ended.",
                    username=user.username,
                )
            )
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return _user_page(user, 400, roles_form=form)


@bp.post("/users/<int:user_id>/active")
@staff_required
def user_active(user_id: int):
    user = _own(StaffUser, user_id)
    _require(*ADMINS)
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    active = not user.active
    try:
        set_user_active(db.session, user, active, acting=current_user)
    except AccountError as exc:
        db.session.rollback()
        flash(localized_error(exc))
        return redirect(url_for("admin.user_detail", user_id=user_id))
    audit_change(
        "user_activated" if active else "user_deactivated",
        user.username,
        before={"active": not active},
        after={"active": active},
    )
    db.session.commit()
    if active:
        flash(_("The account %(username)s is active again.", username=user.username))
    else:
        flash(_("The account %(username)s is deactivated: it can no longer sign in.", username=user.username))
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.post("/users/<int:user_id>/password")
@staff_required
def user_password_reset(user_id: int):
    """Give the user a temporary password (shown once, here); they must change it at their next sign-in."""
    user = administered_user(user_id)
    admin_user = security_admin_required()  # separation of administrators: not the system administrator's
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    temporary = temporary_password()
    before = {"must_change_password": user.must_change_password}
    try:
        reset_password(db.session, user, temporary, acting=admin_user)
    except AccountError as exc:
        db.session.rollback()
        flash(localized_error(exc))
        return redirect(url_for("admin.user_detail", user_id=user_id))
    audit_change("password_reset", user.username, before=before, after={"must_change_password": True})
    db.session.commit()
    return render_template("admin/password_reset.html", user=user, temporary=temporary)


@bp.post("/users/<int:user_id>/sessions/end")
@staff_required
def user_sessions_end(user_id: int):
    """End every session and API token of the user (a stolen laptop, someone leaving): the security administrator's."""
    user = administered_user(user_id)
    admin_user = security_admin_required()
    if not ActionForm().validate_on_submit():
        abort(400)
    if user.id == admin_user.id:
        flash(_("To end your own sessions, use the My sessions page."))
        return redirect(url_for("admin.user_detail", user_id=user_id))
    now = datetime.now(UTC)
    live_tokens = sum(1 for t in tokens.list_tokens(db.session, user, now=now, limit=1000) if _token_live(t, now))
    ended = identity_ops.end_all_sessions(db.session, user, now=now, reason="ended_by_admin")
    audit_change(
        "sessions_ended",
        user.username,
        before={"live_sessions": ended, "live_api_tokens": live_tokens},
        after={"live_sessions": 0, "live_api_tokens": 0},
    )
    db.session.commit()
    flash(_("Every session and API token of %(username)s has ended.", username=user.username))
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.post("/users/<int:user_id>/sessions/<int:session_id>/end")
@staff_required
def user_session_end(user_id: int, session_id: int):
    """End one session of the user (the security administrator's)."""
    user = administered_user(user_id)
    admin_user = security_admin_required()
    if not ActionForm().validate_on_submit():
        abort(400)
    if user.id == admin_user.id:
        flash(_("To end your own sessions, use the My sessions page."))
        return redirect(url_for("admin.user_detail", user_id=user_id))
    if not 0 < session_id <= MAX_ID:
        abort(404)
    now = datetime.now(UTC)
    row = identity_ops.find_session_of(db.session, user, session_id)
    if row is None:
        abort(404)
    was_live = row.ended_at is None
    identity_ops.end_own_session(db.session, user, session_id, now=now, reason="ended_by_admin")
    if was_live:
        audit_change(
            "session_ended",
            user.username,
            before={"session_id": session_id, "ip": row.ip, "live": True},
            after={"session_id": session_id, "live": False},
        )
    db.session.commit()
    flash(_("The session was ended."))
    return redirect(url_for("admin.user_detail", user_id=user_id))


@bp.post("/users/<int:user_id>/second-factor/reset")
@staff_required
def user_second_factor_reset(user_id: int):
    """Remove the user's authenticator and recovery codes (a lost phone); they set up a new one at next sign-in."""
    user = administered_user(user_id)
    admin_user = security_admin_required()
    if not ActionForm().validate_on_submit():
        abort(400)
    reset_second_factor_of(user, admin_user)
    db.session.commit()
    flash(_("The second factor of %(name)s was reset.", name=user.display_name))
    return redirect(url_for("admin.user_detail", user_id=user_id))


def _token_live(token, now) -> bool:
    return token.revoked_at is None and token.expires_at > now


def temporary_password() -> str:
    """12 characters without look-alikes (0/O, 1/l/I), always mixing letters and digits."""
    import secrets

    letters, digits = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ", "23456789"
    body = [secrets.choice(letters + digits) for _ in range(10)]
    return "".join([secrets.choice(letters), *body, secrets.choice(digits)])


# --- Units ---------------------------------------------------------------------------------------------------


@bp.route("/units", methods=["GET", "POST"])
@staff_required
def units():
    _require(*ADMINS)
    form = NewUnitForm()
    if form.validate_on_submit():
        try:
            unit = add_unit(db.session, _bureau_id(), code=form.code.data, name=form.name.data)
        except AccountError as exc:
            _fail(form, "code" if "code" in exc.message_en else "name", exc)
        else:
            audit_change("unit_added", unit.code, after={"name": unit.name})
            db.session.commit()
            flash(_("The unit %(name)s is added.", name=unit.name))
            return redirect(url_for("admin.units"))
    return render_template("admin/units.html", form=form, units=_units()), _status(form)


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@staff_required
def unit_detail(unit_id: int):
    unit = _own(Unit, unit_id)
    _require(*ADMINS)
    form = RenameUnitForm(data={"name": unit.name})
    if form.validate_on_submit():
        old_name = unit.name
        try:
            rename_unit(db.session, unit, form.name.data)
        except AccountError as exc:
            _fail(form, "name", exc)
            unit = _own(Unit, unit_id)
        else:
            audit_change("unit_renamed", unit.code, before={"name": old_name}, after={"name": unit.name})
            db.session.commit()
            flash(_("The unit is renamed to %(name)s.", name=unit.name))
            return redirect(url_for("admin.units"))
    return render_template("admin/unit.html", form=form, unit=unit), _status(form)


# --- Out-of-office periods -------------------------------------------------------------------------------------


@bp.route("/absences", methods=["GET", "POST"])
@staff_required
def absence_list():
    _require(*ADMINS)
    leaders = absences.list_leaders(db.session, _bureau_id())
    form = AbsenceForm()
    form.prepare(leaders)
    if form.validate_on_submit():
        try:
            absence = absences.add_absence(
                db.session,
                _bureau_id(),
                user_id=form.user_id.data,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                stand_in_id=form.stand_in_id.data,
                stand_in_slip="slip" in (form.stand_in_powers.data or ()),
                stand_in_signing="signing" in (form.stand_in_powers.data or ()),
                note=form.note.data,
            )
        except absences.AbsenceError as exc:
            _fail(form, exc.field, exc)
        else:
            after = absences.describe(db.session, absence)
            audit_change("absence_recorded", after["leader"], after=after)
            db.session.commit()
            flash(_("The out-of-office period is recorded."))
            return redirect(url_for("admin.absence_list"))
    return (
        render_template(
            "admin/absences.html",
            form=form,
            rows=absences.list_absences(db.session, _bureau_id()),
            names={u.id: u.display_name for u in _users()},
            action_form=ActionForm(),
        ),
        _status(form),
    )


@bp.post("/absences/<int:absence_id>/delete")
@staff_required
def absence_delete(absence_id: int):
    from portal.cases.models import StaffAbsence

    absence = _own(StaffAbsence, absence_id)
    _require(*ADMINS)
    if not ActionForm().validate_on_submit():
        abort(400)
    before = absences.describe(db.session, absence)
    absences.remove_absence(db.session, absence)
    audit_change("absence_removed", before["leader"], before=before)
    db.session.commit()
    flash(_("The out-of-office period is removed."))
    return redirect(url_for("admin.absence_list"))


# --- The public contact block ------------------------------------------------------------------------------


@bp.route("/contact", methods=["GET", "POST"])
@staff_required
def contact():
    """Edit the bureau's contact block that petitioners see (and the committee office's, at the province)."""
    _require(*ADMINS)
    bureau = db.session.get(Bureau, _bureau_id())
    province = bureau.parent_id is None
    current = get_contact(db.session, bureau)
    committee = get_committee_contact(db.session) if province else None
    form = ContactForm(
        data={
            "address": current.address,
            "phone": current.phone,
            "hours": current.hours,
            "committee_address": committee.address if committee else None,
            "committee_phone": committee.phone if committee else None,
        }
    )
    if form.validate_on_submit():
        try:
            set_contact(
                db.session,
                bureau,
                address=form.address.data,
                phone=form.phone.data,
                hours=form.hours.data,
                committee_address=form.committee_address.data,
                committee_phone=form.committee_phone.data,
                updated_by=current_user.username,
            )
        except ContactError as exc:
            db.session.rollback()
            english = is_english()
            for name, (zh, en) in exc.errors.items():
                getattr(form, name).errors = [en if english else zh]
        else:
            db.session.commit()
            flash(_("The contact details are saved. Petitioners see them from now on."))
            return redirect(url_for("admin.contact"))
    return render_template("admin/contact.html", form=form, bureau=bureau, province=province), _status(form)


# --- Document settings ---------------------------------------------------------------------------------------


def _documents_page(status: int = 200, **forms):
    view = get_document_settings(db.session, _bureau_id())
    forms.setdefault(
        "letterhead_form", LetterheadForm(data={"letterhead": "" if view.letterhead_is_default else view.letterhead})
    )
    forms.setdefault(
        "prefix_form",
        NumberPrefixForm(data={"number_prefix": "" if view.number_prefix_is_default else view.number_prefix}),
    )
    return (
        render_template("admin/documents.html", view=view, kinds=KINDS, kind_labels=KIND_LABELS, **forms),
        status,
    )


@bp.get("/documents")
@staff_required
def documents():
    _require(*ADMINS)
    return _documents_page()


@bp.post("/documents/letterhead")
@staff_required
def documents_letterhead():
    _require(*ADMINS)
    form = LetterheadForm()
    if form.validate_on_submit():
        try:
            set_letterhead(db.session, _bureau_id(), form.letterhead.data, updated_by=current_user.username)
        except DocumentSettingsError as exc:
            _fail(form, "letterhead", exc)
        else:
            audit_change("letterhead_set", "documents", after={"letterhead": form.letterhead.data})
            db.session.commit()
            flash(_("The letterhead is saved."))
            return redirect(url_for("admin.documents"))
    return _documents_page(400, letterhead_form=form)


@bp.post("/documents/number-prefix")
@staff_required
def documents_prefix():
    _require(*ADMINS)
    form = NumberPrefixForm()
    if form.validate_on_submit():
        try:
            set_number_prefix(db.session, _bureau_id(), form.number_prefix.data, updated_by=current_user.username)
        except DocumentSettingsError as exc:
            _fail(form, "number_prefix", exc)
        else:
            audit_change("number_prefix_set", "documents", after={"number_prefix": form.number_prefix.data})
            db.session.commit()
            flash(_("The document number prefix is saved."))
            return redirect(url_for("admin.documents"))
    return _documents_page(400, prefix_form=form)


def _kind_or_404() -> str:
    """The document kind from the query string (``?kind=``): a kind is not an object of a bureau, so no URL part."""
    kind = request.args.get("kind", "")
    if kind not in KINDS:
        abort(404)
    return kind


@bp.route("/documents/template", methods=["GET", "POST"])
@staff_required
def document_template():
    _require(*ADMINS)
    kind = _kind_or_404()
    view = get_document_settings(db.session, _bureau_id())
    form = TemplateForm(data={"text": view.template_text(kind)})
    if request.form.get("preview") and form.validate_on_submit():
        # The document this text makes, with example values; nothing is saved.
        try:
            data = preview_template(kind, form.text.data, bureau_name=view.letterhead, issued_on=local_today())
        except TemplateError as exc:
            form.text.errors = [*form.text.errors, localized((exc.zh, exc.en))]
        else:
            response = current_app.response_class(render_pdf(data), mimetype="application/pdf")
            response.headers["Cache-Control"] = "no-store"
            return response
    elif form.validate_on_submit():
        try:
            set_template_override(db.session, _bureau_id(), kind, form.text.data, updated_by=current_user.username)
        except DocumentSettingsError as exc:
            _fail(form, "text", exc)
        else:
            audit_change("template_set", kind, after={"text": form.text.data})
            db.session.commit()
            flash(_("The template is saved."))
            return redirect(url_for("admin.document_template", kind=kind))
    return (
        render_template(
            "admin/template.html",
            form=form,
            kind=kind,
            label=KIND_LABELS.get(kind),
            overridden=kind in view.overrides,
            placeholders=sorted(allowed_placeholders(kind)),
            default=default_text(kind),
            reset_form=ActionForm(),
        ),
        _status(form),
    )


@bp.post("/documents/template/reset")
@staff_required
def document_template_reset():
    _require(*ADMINS)
    kind = _kind_or_404()
    if not ActionForm().validate_on_submit():
        abort(400)
    reset_template(db.session, _bureau_id(), kind)
    audit_change("template_reset", kind)
    db.session.commit()
    flash(_("The template is back to the default text."))
    return redirect(url_for("admin.document_template", kind=kind))


# --- The bureau tree (province administrator) ---------------------------------------------------------------


def _tree_forms(bureaus):
    parents = [(b.id, ("\u3000" * (b.path.count("/") - 1)) + b.name) for b in bureaus if b.level != BureauLevel.county]
    new = NewBureauForm(prefix="new")
    new.parent_id.choices = parents
    move = MoveBureauForm(prefix="move")
    move.parent_id.choices = parents
    rename = RenameBureauForm(prefix="rename")
    return new, rename, move


def _tree_page(status: int, new, rename, move, bureaus):
    return (
        render_template("admin/bureaus.html", bureaus=bureaus, new_form=new, rename_form=rename, move_form=move),
        status,
    )


def _bureau_from(form) -> Bureau | None:
    value = int(form.bureau_id.data)
    return db.session.get(Bureau, value) if 0 < value <= MAX_ID else None


@bp.get("/bureaus")
@staff_required
def bureaus():
    _require(Role.province_admin)
    found = list_bureaus(db.session)
    return _tree_page(200, *_tree_forms(found), found)


@bp.post("/bureaus/add")
@staff_required
def bureau_add():
    _require(Role.province_admin)
    found = list_bureaus(db.session)
    new, rename, move = _tree_forms(found)
    if new.validate_on_submit():
        bureau = add_bureau(
            db.session,
            division_name=new.division_name.data,
            level=BureauLevel(new.level.data),
            parent=db.session.get(Bureau, new.parent_id.data),
            adcode=new.adcode.data or None,
        )
        audit_change("bureau_added", bureau.name, after={"parent_id": bureau.parent_id, "adcode": bureau.adcode})
        db.session.commit()
        flash(_("%(name)s is added to the tree.", name=bureau.name))
        return redirect(url_for("admin.bureaus"))
    return _tree_page(400, new, rename, move, list_bureaus(db.session))


@bp.post("/bureaus/rename")
@staff_required
def bureau_rename():
    _require(Role.province_admin)
    found = list_bureaus(db.session)
    new, rename, move = _tree_forms(found)
    if rename.validate_on_submit():
        bureau = _bureau_from(rename)
        if bureau is None:
            abort(404)
        old_name = bureau.name
        rename_bureau(db.session, bureau, rename.name.data)
        audit_change("bureau_renamed", str(bureau.id), before={"name": old_name}, after={"name": bureau.name})
        db.session.commit()
        flash(_("The bureau is renamed to %(name)s.", name=bureau.name))
        return redirect(url_for("admin.bureaus"))
    return _tree_page(400, new, rename, move, list_bureaus(db.session))


@bp.post("/bureaus/move")
@staff_required
def bureau_move():
    _require(Role.province_admin)
    found = list_bureaus(db.session)
    new, rename, move = _tree_forms(found)
    if move.validate_on_submit():
        bureau = _bureau_from(move)
        if bureau is None:
            abort(404)
        old_parent = bureau.parent_id
        move_bureau(db.session, bureau, db.session.get(Bureau, move.parent_id.data))
        audit_change(
            "bureau_moved", bureau.name, before={"parent_id": old_parent}, after={"parent_id": bureau.parent_id}
        )
        db.session.commit()
        flash(_("The bureau is moved."))
        return redirect(url_for("admin.bureaus"))
    return _tree_page(400, new, rename, move, list_bureaus(db.session))


@bp.errorhandler(TreeError)
def _tree_refused(exc: TreeError):
    """A change the tree's rules refuse (any of the views above): nothing is kept, and the tree page comes back
    with the rule's message, whole and in the reader's language, above the form that was sent."""
    db.session.rollback()
    found = list_bureaus(db.session)
    new, rename, move = _tree_forms(found)
    sent = {"admin.bureau_add": new, "admin.bureau_rename": rename, "admin.bureau_move": move}[request.endpoint]
    sent.form_errors.append(localized_error(exc))
    return _tree_page(400, new, rename, move, found)


# --- Standard texts of refusal reasons ----------------------------------------------------------------------


def _reason_or_404() -> str:
    """The reason named by ``?reason=`` (like ``?kind=`` of the templates: texts are the reader's bureau's)."""
    reason = request.args.get("reason", "")
    if reason not in reject_reasons():
        abort(404)
    return reason


@bp.get("/refusal-texts")
@staff_required
def refusal_texts():
    """Each refusal reason's standard explanation and remedy, as the reject form pre-fills them."""
    _require(*ADMINS)
    texts = standard_texts(db.session, _bureau_id())
    return render_template("admin/refusal_texts.html", texts=texts, labels=REASON_LABELS)


@bp.route("/refusal-texts/edit", methods=["GET", "POST"])
@staff_required
def refusal_text():
    _require(*ADMINS)
    reason = _reason_or_404()
    current = standard_texts(db.session, _bureau_id())[reason]
    form = RefusalTextForm(data={"explanation": current.explanation, "remedy": current.remedy})
    if form.validate_on_submit():
        try:
            save_standard_text(
                db.session,
                _bureau_id(),
                reason,
                form.explanation.data,
                form.remedy.data,
                updated_by=current_user.username,
            )
        except ActionRefused as exc:
            _fail(form, exc.field or "explanation", exc)
        else:
            db.session.commit()
            flash(_("The standard text is saved."))
            return redirect(url_for("admin.refusal_texts"))
    return (
        render_template(
            "admin/refusal_text.html",
            form=form,
            reason=reason,
            label=REASON_LABELS.get(reason),
            custom=current.custom,
            default=DEFAULT_TEXTS.get(reason, ("", "")),
            reset_form=ActionForm(),
        ),
        _status(form),
    )


@bp.post("/refusal-texts/reset")
@staff_required
def refusal_text_reset():
    _require(*ADMINS)
    reason = _reason_or_404()
    if not ActionForm().validate_on_submit():
        abort(400)
    reset_standard_text(db.session, _bureau_id(), reason)
    db.session.commit()
    flash(_("The standard text is back to the default."))
    return redirect(url_for("admin.refusal_texts"))
