"""Registering applications that do not come in online: on paper (with the scan) and committee transfers."""

from __future__ import annotations

from flask import abort, current_app, render_template
from flask_login import current_user

from portal.cases.actions import in_general_office, register_application
from portal.cases.operations import ApplicationInput, IntakeRefused
from portal.cases.queries import local_today
from portal.extensions import db
from portal.roles import PETITION_OFFICE
from portal.routing import OpinionKind
from portal.web import localized_error
from portal.workflow import ActionRefused, CaseKind, IntakePath
from staff_site.access import staff_required
from staff_site.cases import REFUSAL_STATUS, incoming_files
from staff_site.forms import ApplicationForm, PaperForm, TransferForm
from staff_site.views import bp
from tenants.models import Bureau
from tenants.tree import list_bureaus


def _register(form: ApplicationForm, intake: IntakePath, template: str):
    user = current_user._get_current_object()
    if intake is IntakePath.committee_transfer:
        if not in_general_office(db.session, user):
            abort(403)  # §四.3: the general office registers transfers
    elif not set(user.roles) & PETITION_OFFICE:
        abort(403)
    form.prepare(list_bureaus(db.session))
    status, error = 200, None
    if form.is_submitted():
        if not form.validate():
            status = 422
        else:
            data = ApplicationInput(
                petitioner=form.party(),
                disputed_bureau_id=int(form.disputed_bureau_id.data),
                opinion_kind=OpinionKind(form.opinion_kind.data),
                document_number=form.document_number.data.strip(),
                issued_on=form.issued_on.data,
                received_on=form.received_on.data,
                request=form.request.data.strip(),
                facts_and_reasons=form.facts_and_reasons.data.strip(),
                intake=intake,
                committee_document_number=getattr(form, "committee_document_number", None)
                and form.committee_document_number.data.strip(),
                kind=CaseKind(form.kind.data) if intake is IntakePath.committee_transfer else None,
                application_received_on=getattr(form, "application_received_on", None)
                and form.application_received_on.data,
                filed_on=getattr(form, "filed_on", None) and form.filed_on.data,
            )
            try:
                submission = register_application(
                    db.session,
                    current_app.extensions["portal.pii"],
                    current_app.extensions["portal.storage"],
                    data,
                    user,
                    files=incoming_files([form.scans]),
                    today=local_today(),
                )
                db.session.commit()
            except IntakeRefused as exc:
                db.session.rollback()
                status, error = 422, localized_error(exc)
            except ActionRefused as exc:
                db.session.rollback()
                status = REFUSAL_STATUS.get(exc.code, 422)
                field = form._fields.get(exc.field) if exc.field else None
                if field is not None and exc.code == "invalid":
                    field.errors = [*field.errors, localized_error(exc)]
                else:
                    error = localized_error(exc)
            else:
                # The access code is shown once, here, for the clerk to hand to the petitioner; it is not stored.
                response = current_app.make_response(
                    render_template("staff/intake_done.html", submission=submission, intake=intake)
                )
                response.headers["Cache-Control"] = "no-store"
                return response
    return render_template(template, form=form, intake=intake, error=error), status


@bp.route("/intake/paper", methods=["GET", "POST"])
@staff_required
def intake_paper():
    """Register an application the petition office received on paper, with its scan."""
    form = PaperForm()
    if not form.is_submitted():
        form.application_received_on.data = local_today()
    return _register(form, IntakePath.paper, "staff/intake.html")


@bp.route("/intake/transfer", methods=["GET", "POST"])
@staff_required
def intake_transfer():
    """Register a case transferred by the provincial government committee (province only; enters as accepted)."""
    bureau = db.session.get(Bureau, current_user.tenant_id)
    if bureau is None or bureau.parent_id is not None:
        abort(404)
    return _register(TransferForm(), IntakePath.committee_transfer, "staff/intake.html")
