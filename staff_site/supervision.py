"""The ``supervision`` blueprint at ``/staff/supervision``: dashboard, exports, warnings, supervision orders.

Handlers are thin: load (404), authorize, validate the form's shape, call one operation, commit, render or
redirect. Every read runs in the signed-in bureau's scope (its own bureau and everything below it); a bureau, case
or order outside it answers 404.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.cases.operations import CaseNotFound
from portal.cases.queries import CHINA, get_case, local_today
from portal.extensions import db
from portal.roles import ROLE_LABELS
from portal.supervision import export
from portal.supervision.forms import AnswerForm, OrderForm, SensitiveForm
from portal.supervision.labels import register_labels
from portal.supervision.models import SATISFACTION_LABELS
from portal.supervision.operations import (
    FLAG_ROLES,
    ORDER_ROLES,
    OrderNotFound,
    answer_order,
    issue_order,
    set_sensitive,
)
from portal.supervision.queries import get_inbox_order, list_case_orders, list_inbox, list_issued
from portal.supervision.stats import (
    PeriodError,
    breadcrumbs,
    bureau_tree,
    compute_figures,
    default_period,
    parse_int,
    parse_period,
    presets,
    resolve_bureau,
)
from portal.supervision.tables import figure_tables, meta_lines, pick, warning_tables
from portal.supervision.warnings import DOCUMENT_MIN, DUE_DAYS, ISSUE_MIN, REPEAT_MIN, compute_warnings
from portal.web import current_lang, localized_error
from portal.workflow import STATE_LABELS, STEP_LABELS, ActionRefused
from staff_site.access import staff_required
from tenants.models import Bureau
from tenants.tree import is_ancestor

bp = Blueprint("supervision", __name__, template_folder="templates")
bp.record_once(lambda _state: register_labels())

#: Who sees the dashboard, the warnings and the orders: the petition office and the leaders.
VIEW_ROLES = ORDER_ROLES
REFUSAL_STATUS = {"wrong_state": 409, "forbidden": 403, "not_your_bureau": 404, "invalid": 422}
WARNINGS_DEFAULT_DAYS = 365


def _user():
    return current_user._get_current_object()


def _require_viewer():
    if not _user().has_role(*VIEW_ROLES):
        abort(403)


def _bureau() -> Bureau:
    bureau = resolve_bureau(db.session, _user().tenant_id, request.args.get("bureau"))
    if bureau is None:
        abort(404)
    return bureau


def _period(default_days: int | None = None):
    """The period of the query string, or the default one and the error to show."""
    today = local_today()
    try:
        return parse_period(request.args, today, default_days=default_days), None
    except PeriodError as exc:
        return default_period(today, days=default_days), localized_error(exc)


def _thresholds() -> dict[str, int]:
    return {
        "repeat_min": parse_int(request.args, "repeat_min", REPEAT_MIN, 2, 1000),
        "document_min": parse_int(request.args, "document_min", DOCUMENT_MIN, 2, 1000),
        "issue_min": parse_int(request.args, "issue_min", ISSUE_MIN, 2, 100000),
        "due_days": parse_int(request.args, "due_days", DUE_DAYS, 1, 90),
    }


def _common(bureau: Bureau, period) -> dict:
    user = _user()
    return {
        "bureau": bureau,
        "period": period,
        "today": local_today(),
        "crumbs": breadcrumbs(db.session, user.tenant_id, bureau),
        "choices": bureau_tree(db.session, db.session.get(Bureau, user.tenant_id)),
        "presets": presets(local_today()),
        "lang": current_lang(),
        "pick": pick,
        "state_labels": STATE_LABELS,
        "step_labels": STEP_LABELS,
        "satisfaction_labels": SATISFACTION_LABELS,
        "query": {"bureau": bureau.id, "start": period.start.isoformat(), "end": period.end.isoformat()},
    }


@bp.get("/")
@staff_required
def dashboard():
    """Figures of a bureau and everything below it over a period, as charts and tables, with drill-down."""
    _require_viewer()
    bureau = _bureau()
    period, error = _period()
    figures = compute_figures(db.session, bureau, period, local_today())
    tables = figure_tables(figures, current_lang())
    return render_template(
        "supervision/dashboard.html",
        figures=figures,
        tables=tables,
        error=error,
        **_common(bureau, period),
    ), (400 if error else 200)


@bp.get("/warnings")
@staff_required
def warnings():
    """Early warnings of a bureau's subtree: repeat petitioners, clusters, sensitive cases, steps due and overdue."""
    _require_viewer()
    bureau = _bureau()
    period, error = _period(WARNINGS_DEFAULT_DAYS)
    limits = _thresholds()
    found = compute_warnings(db.session, bureau, period, local_today(), **limits)
    tables = warning_tables(found, current_lang())
    return render_template(
        "supervision/warnings.html",
        warnings=found,
        tables=tables,
        limits=limits,
        error=error,
        own_bureau_id=_user().tenant_id,
        **_common(bureau, period),
    ), (400 if error else 200)


@bp.get("/export")
@staff_required
def export_file():
    """One table, or all of a page's tables, as XLSX or CSV, with the scope, period and filters in the file."""
    _require_viewer()
    bureau = _bureau()
    page = request.args.get("page", "dashboard")
    fmt = request.args.get("format", "csv")
    if page not in ("dashboard", "warnings") or fmt not in ("xlsx", "csv"):
        abort(404)
    today, lang = local_today(), current_lang()
    period, error = _period(WARNINGS_DEFAULT_DAYS if page == "warnings" else None)
    if error:
        return render_template("error.html", status=400, title=_("Invalid period"), message=error), 400
    if page == "warnings":
        limits = _thresholds()
        tables = warning_tables(compute_warnings(db.session, bureau, period, today, **limits), lang)
        filters = [
            (("重复信访人阈值（件）", "Repeat petitioner threshold (cases)"), str(limits["repeat_min"])),
            (("同一文书集中阈值（件）", "Document cluster threshold (cases)"), str(limits["document_min"])),
            (("同一单位同类意见集中阈值（件）", "Issue cluster threshold (cases)"), str(limits["issue_min"])),
            (("近期到期天数", "Due within (days)"), str(limits["due_days"])),
        ]
    else:
        tables = figure_tables(compute_figures(db.session, bureau, period, today), lang)
        filters = [
            (
                ("口径", "Basis"),
                pick(
                    (
                        "统计期间内收到的申请；环节按期情况按期间内开始计时的环节",
                        "Applications received in the period;"
                        " time limits of the steps whose clock started in the period",
                    ),
                    lang,
                ),
            )
        ]
    key = request.args.get("table", "all")
    if key != "all":
        tables = [t for t in tables if t.key == key]
        if not tables:
            abort(404)
    user = _user()
    meta = meta_lines(
        lang=lang,
        bureau_name=bureau.name,
        period_label=period.label(),
        filters=filters,
        generated=datetime.now(CHINA).strftime("%Y-%m-%d %H:%M"),
        by=f"{user.display_name}（{db.session.get(Bureau, user.tenant_id).name}）",
    )
    body = export.to_xlsx(tables, meta) if fmt == "xlsx" else export.to_csv(tables, meta)
    name = f"supervision-{page}-{key}-{bureau.id}-{period.start.isoformat()}-{period.end.isoformat()}.{fmt}"
    response = current_app.response_class(body, mimetype=export.XLSX_MIME if fmt == "xlsx" else export.CSV_MIME)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- Supervision orders ----------------------------------------------------------------------------------


def _orders_page(status: int = 200, failed: tuple[int, AnswerForm] | None = None):
    user, today = _user(), local_today()
    return render_template(
        "supervision/orders.html",
        inbox=list_inbox(db.session, user.tenant_id, today),
        issued=list_issued(db.session, user.tenant_id, today),
        form=AnswerForm(formdata=None),
        failed=failed,
        today=today,
        lang=current_lang(),
        pick=pick,
        state_labels=STATE_LABELS,
    ), status


@bp.get("/orders")
@staff_required
def orders():
    """Orders addressed to my bureau (answer them here) and orders my bureau issued to the bureaus below."""
    _require_viewer()
    return _orders_page()


@bp.post("/orders/<int:order_id>/answer")
@staff_required
def answer(order_id: int):
    user = _user()
    if get_inbox_order(db.session, user.tenant_id, order_id) is None:
        abort(404)
    _require_viewer()
    form = AnswerForm()
    if not form.validate_on_submit():
        return _orders_page(422, (order_id, form))
    try:
        answer_order(db.session, order_id, user, form.answer.data)
        db.session.commit()
    except OrderNotFound:
        db.session.rollback()
        abort(404)
    except ActionRefused as exc:
        db.session.rollback()
        form.answer.errors = [*form.answer.errors, localized_error(exc)]
        return _orders_page(REFUSAL_STATUS.get(exc.code, 422), (order_id, form))
    flash(_("Your answer has been sent and recorded in the case history."))
    return redirect(url_for("supervision.orders"))


def _load_case(case_id: int):
    case = get_case(db.session, case_id)
    if case is None:
        abort(404)
    return case


@bp.route("/cases/<int:case_id>/order", methods=["GET", "POST"])
@staff_required
def case_order(case_id: int):
    """The supervision orders on a case; a bureau above the case's issues a new one here."""
    case = _load_case(case_id)
    user, today = _user(), local_today()
    _require_viewer()
    own = db.session.get(Bureau, user.tenant_id)
    target = db.session.get(Bureau, case.tenant_id)
    may_issue = is_ancestor(own, target) and user.has_role(*ORDER_ROLES)
    form = OrderForm()
    status, error = 200, None
    if request.method == "POST":
        if not may_issue:
            abort(403)
        if form.validate_on_submit():
            try:
                issue_order(db.session, case_id, user, form.instruction.data, form.due_on.data, today=today)
                db.session.commit()
            except CaseNotFound:
                db.session.rollback()
                abort(404)
            except ActionRefused as exc:
                db.session.rollback()
                status = REFUSAL_STATUS.get(exc.code, 422)
                field = getattr(form, exc.field, None) if exc.field else None
                if field is not None:
                    field.errors = [*field.errors, localized_error(exc)]
                else:
                    error = localized_error(exc)
            else:
                flash(_("The supervision order has been sent to %(bureau)s.", bureau=target.name))
                return redirect(url_for("supervision.case_order", case_id=case_id))
        else:
            status = 422
    return render_template(
        "supervision/case_order.html",
        case=case,
        target=target,
        orders=list_case_orders(db.session, case, today),
        form=form,
        may_issue=may_issue,
        error=error,
        lang=current_lang(),
        pick=pick,
        state_labels=STATE_LABELS,
        today=today,
    ), status


@bp.route("/cases/<int:case_id>/sensitive", methods=["GET", "POST"])
@staff_required
def case_sensitive(case_id: int):
    """Flag a case of my own bureau as sensitive (or remove the flag), with a reason recorded in its history."""
    case = _load_case(case_id)
    user = _user()
    if case.tenant_id != user.tenant_id:
        abort(404)  # an ancestor supervises read-only: writing to a lower bureau's case is "not yours"
    if not user.has_role(*FLAG_ROLES):
        abort(403)
    form = SensitiveForm()
    status, error = 200, None
    if request.method == "GET":
        form.sensitive.data = "no" if case.sensitive else "yes"
    elif form.validate_on_submit():
        try:
            set_sensitive(db.session, case_id, user, form.sensitive.data == "yes", form.reason.data)
            db.session.commit()
        except CaseNotFound:
            db.session.rollback()
            abort(404)
        except ActionRefused as exc:
            db.session.rollback()
            status = REFUSAL_STATUS.get(exc.code, 422)
            field = getattr(form, exc.field, None) if exc.field else None
            if field is not None and exc.code == "invalid":
                field.errors = [*field.errors, localized_error(exc)]
            else:
                error = localized_error(exc)
        else:
            flash(_("The sensitive flag has been updated and recorded in the case history."))
            return redirect(url_for("supervision.case_sensitive", case_id=case_id))
    else:
        status = 422
    return render_template(
        "supervision/case_sensitive.html",
        case=case,
        form=form,
        error=error,
        lang=current_lang(),
        pick=pick,
        state_labels=STATE_LABELS,
        roles=ROLE_LABELS,
    ), status
