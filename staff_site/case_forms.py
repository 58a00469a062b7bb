"""One form per workflow action: shape only (required, lengths, choices); the workflow judges the rest.

Each form's field names are the payload keys of ``portal.cases.actions.ACTION_FIELDS``, so ``payload()`` is a
plain read-out. ``prepare()`` fills the choices of this case (units, leaders, bureaus below, open requests and
meetings); ``defaults()`` pre-fills a fresh form. ``FORMS`` maps every staff action to its form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from portal.accounts.models import StaffUser
from portal.cases.actions import ACTION_FIELDS
from portal.cases.queries import CONTACT_PARTY_LABELS, TARGET_LABELS, CasePage, is_petition_office
from portal.roles import ROLE_LABELS
from portal.web import localized
from portal.workflow import (
    COMPLEXITY_LABELS,
    EXTENSION_MAX_DAYS,
    LONG_TEXT_MAX,
    OUTCOME_LABELS,
    REJECT_REASON_LABELS,
    SHORT_TEXT_MAX,
    CaseAction,
    Complexity,
    ContactParty,
    MaterialTarget,
    Outcome,
)

A = CaseAction
REQUIRED = _l("This field is required.")


def _long(label, required=True, **kw):
    checks = [InputRequired(REQUIRED)] if required else [Optional()]
    kw.setdefault("render_kw", {"rows": 5})
    return TextAreaField(label, validators=[*checks, Length(max=LONG_TEXT_MAX)], **kw)


def _short(label, required=True, **kw):
    checks = [InputRequired(REQUIRED)] if required else [Optional()]
    return StringField(label, validators=[*checks, Length(max=SHORT_TEXT_MAX)], **kw)


def _date(label):
    return DateField(label, validators=[InputRequired(_l("Enter a date (YYYY-MM-DD)."))], format="%Y-%m-%d")


def _files(label):
    return MultipleFileField(label, description=_l("PDF, JPEG, PNG or DOCX, at most 20 MB each, 10 files at most."))


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes (units): easier on a phone than a multiple select."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


@dataclass
class FormContext:
    page: CasePage
    user: StaffUser
    today: date


def _enum_choices(labels: dict) -> list[tuple[str, str]]:
    return [(str(k), localized(v)) for k, v in labels.items()]


def _unit_choices(ctx: FormContext, blank: str | None = None) -> list[tuple[str, str]]:
    units = sorted(ctx.page.staff.units.values(), key=lambda u: (str(u.kind) != "petition_office", u.id))
    choices = [(str(u.id), u.name) for u in units]
    return [("", blank), *choices] if blank is not None else choices


def _leader_choices(ctx: FormContext) -> list[tuple[str, str]]:
    return [
        (str(u.id), f"{u.display_name}（{'、'.join(localized(ROLE_LABELS[r]) for r in u.roles)}）")
        for u in sorted(ctx.page.staff.leaders, key=lambda u: u.id)
    ]


def _digits(value) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() and len(text) < 12 else None


class ActionForm(FlaskForm):
    """Base of the action forms: the case version the form was rendered with comes back with it."""

    action: CaseAction
    expected_version = HiddenField(validators=[InputRequired(_l("The form is incomplete; reload the page."))])

    def prepare(self, ctx: FormContext) -> None:
        """Fill the choices that depend on the case and the user."""

    def defaults(self, ctx: FormContext) -> None:
        """Pre-fill a fresh form."""

    def payload(self) -> dict:
        out: dict = {}
        for name in ACTION_FIELDS[self.action]:
            field = getattr(self, name, None)
            if field is None:
                continue
            value = field.data
            if isinstance(value, str):
                value = value.strip() or None
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, list):
                value = [_digits(v) if _digits(v) is not None else v for v in value]
            if name.endswith("_id") and isinstance(value, str):
                value = _digits(value) if _digits(value) is not None else value
            out[name] = value
        return out

    def file_fields(self) -> list:
        return [f for f in self if isinstance(f, MultipleFileField)]

    def visible_fields(self) -> list:
        return [f for f in self if f.name not in ("csrf_token", "expected_version")]


class AcceptForm(ActionForm):
    action = A.accept
    note = _long(_l("Note"), required=False)


class RejectForm(ActionForm):
    action = A.reject
    reason = SelectField(_l("Reason"), validators=[InputRequired(REQUIRED)])
    explanation = _long(_l("Explanation"))
    remedy = _long(
        _l("Further remedy"),
        description=_l("Where and how the petitioner can pursue the matter instead (下步救济途径)."),
    )

    def prepare(self, ctx):
        self.reason.choices = _enum_choices(REJECT_REASON_LABELS)


class SlipForm(ActionForm):
    action = A.submit_slip
    proposal = _long(_l("Proposed handling"))
    complexity = SelectField(_l("Complexity"), validators=[InputRequired(REQUIRED)])
    lead_unit_id = SelectField(_l("Lead unit"), validators=[InputRequired(REQUIRED)])
    assisting_unit_ids = MultiCheckboxField(_l("Assisting units"), validators=[Optional()])
    approver_id = SelectField(_l("Approving leader"), validators=[Optional()])
    approver_change_reason = _short(
        _l("Reason for choosing another leader"),
        required=False,
        description=_l("Needed only when you choose a leader other than the one the rules choose."),
    )

    def prepare(self, ctx):
        self.complexity.choices = _enum_choices(COMPLEXITY_LABELS)
        self.lead_unit_id.choices = _unit_choices(ctx)
        self.assisting_unit_ids.choices = _unit_choices(ctx)
        self.approver_id.choices = [("", str(_l("As the rules choose"))), *_leader_choices(ctx)]

    def defaults(self, ctx):
        self.complexity.data = str(Complexity.simple)
        office = ctx.page.staff.petition_office_id
        if office is not None:
            self.lead_unit_id.data = str(office)


class InstructForm(ActionForm):
    action = A.instruct
    instruction = _long(_l("Instruction"))
    complexity = SelectField(_l("Complexity"), validators=[Optional()])
    lead_unit_id = SelectField(_l("Lead unit"), validators=[Optional()])
    assisting_unit_ids = MultiCheckboxField(_l("Assisting units"), validators=[Optional()])

    def prepare(self, ctx):
        self.complexity.choices = _enum_choices(COMPLEXITY_LABELS)
        self.lead_unit_id.choices = _unit_choices(ctx)
        self.assisting_unit_ids.choices = _unit_choices(ctx)

    def defaults(self, ctx):
        case = ctx.page.case
        self.complexity.data = str(case.complexity) if case.complexity else None
        self.lead_unit_id.data = str(case.lead_unit_id) if case.lead_unit_id else None
        self.assisting_unit_ids.data = [str(u) for u in case.assisting_unit_ids or ()]


class DispatchForm(ActionForm):
    action = A.dispatch
    note = _long(_l("What was handed over, to whom"))

    def defaults(self, ctx):
        case = ctx.page.case
        names = [ctx.page.units.get(case.lead_unit_id, "")]
        names += [ctx.page.units.get(u, "") for u in case.assisting_unit_ids or ()]
        self.note.data = "阅办单及相关材料已交" + "、".join(n for n in names if n) + "。"


class OpinionForm(ActionForm):
    action = A.submit_opinion
    opinion = _long(_l("Review opinion"))
    needs_approval = RadioField(
        _l("Does the opinion need the business leader's approval?"), validators=[InputRequired(REQUIRED)]
    )
    files = _files(_l("Materials"))

    def prepare(self, ctx):
        self.needs_approval.choices = [("yes", str(_l("Yes"))), ("no", str(_l("No")))]

    def defaults(self, ctx):
        self.needs_approval.data = "yes"


class CommentForm(ActionForm):
    comment = _long(_l("Comment"), required=False)


class ApproveOpinionForm(CommentForm):
    action = A.approve_opinion


class SignForm(CommentForm):
    action = A.sign_reply


class ReasonForm(ActionForm):
    reason = _long(_l("Reason"))


class ReturnOpinionForm(ReasonForm):
    action = A.return_opinion
    reason = _long(_l("What to revise"))


class ReturnReplyForm(ReasonForm):
    action = A.return_reply
    reason = _long(_l("What to change"))


class DenyExtensionForm(ReasonForm):
    action = A.deny_extension


class ReplyForm(ActionForm):
    action = A.submit_reply
    text = _long(_l("Formal opinion"), render_kw={"rows": 12})
    outcome = SelectField(_l("Outcome"), validators=[InputRequired(REQUIRED)])
    files = _files(_l("Attachments"))

    def prepare(self, ctx):
        self.outcome.choices = _enum_choices(OUTCOME_LABELS)

    def defaults(self, ctx):
        self.outcome.data = str(Outcome.upheld)


class RequestExtensionForm(ActionForm):
    action = A.request_extension
    days = IntegerField(
        _l("Days"),
        validators=[InputRequired(REQUIRED), NumberRange(1, EXTENSION_MAX_DAYS)],
        description=_l("At most 30 days in all, over one or more requests, before the deadline passes (§三)."),
    )
    reason = _long(_l("Reason"))

    def defaults(self, ctx):
        self.days.data = max(1, EXTENSION_MAX_DAYS - (ctx.page.case.extension_days or 0))


class ApproveExtensionForm(ActionForm):
    action = A.approve_extension
    days = IntegerField(
        _l("Days"),
        validators=[Optional(), NumberRange(1, EXTENSION_MAX_DAYS)],
        description=_l("Leave as requested, or grant fewer days."),
    )
    comment = _long(_l("Comment"), required=False)

    def defaults(self, ctx):
        self.days.data = ctx.page.case.pending_extension_days


class RequestMaterialsForm(ActionForm):
    action = A.request_materials
    target = SelectField(_l("From whom"), validators=[InputRequired(REQUIRED)])
    target_bureau_id = SelectField(_l("Lower bureau"), validators=[Optional()])
    body_name = _short(_l("Name of the body"), required=False)
    content = _long(_l("Materials needed"))
    due_on = _date(_l("Due date"))

    def prepare(self, ctx):
        targets = list(MaterialTarget)
        if not is_petition_office(ctx.user, ctx.page.staff):
            # §四.11: a division asks lower bureaus itself; anything else through the petition office.
            targets = [MaterialTarget.lower_bureau]
        self.target.choices = [(str(t), localized(TARGET_LABELS[t])) for t in targets]
        self.target_bureau_id.choices = [("", "—")] + [(str(b.id), b.name) for b in ctx.page.lower_bureaus]

    def defaults(self, ctx):
        self.target.data = str(MaterialTarget.lower_bureau)


class ProvideMaterialsForm(ActionForm):
    action = A.provide_materials
    request_id = SelectField(_l("Request"), validators=[InputRequired(REQUIRED)])
    content = _long(_l("Answer"), required=False)
    files = _files(_l("Materials"))

    def prepare(self, ctx):
        self.request_id.choices = [
            (str(r.id), f"#{r.id} {r.content[:40]}") for r in ctx.page.material_requests if r.answered_at is None
        ]


class ContactForm(ActionForm):
    action = A.record_contact
    party = SelectField(_l("With whom"), validators=[InputRequired(REQUIRED)])
    body_name = _short(_l("Name of the body"), required=False)
    contacted_on = _date(_l("Date"))
    channel = _short(_l("How (phone, visit, letter...)"), required=False)
    summary = _long(_l("What was said"))

    def prepare(self, ctx):
        self.party.choices = [(str(p), localized(CONTACT_PARTY_LABELS[p])) for p in ContactParty]

    def defaults(self, ctx):
        self.contacted_on.data = ctx.today


class WithdrawForm(ActionForm):
    action = A.withdraw
    reason = _long(_l("Reason given by the petitioner"))
    document_note = _short(
        _l("Written withdrawal"), description=_l("Describe the petitioner's signed withdrawal (date, pages).")
    )


FORMS: dict[CaseAction, type[ActionForm]] = {
    A.accept: AcceptForm,
    A.reject: RejectForm,
    A.submit_slip: SlipForm,
    A.instruct: InstructForm,
    A.dispatch: DispatchForm,
    A.submit_opinion: OpinionForm,
    A.approve_opinion: ApproveOpinionForm,
    A.return_opinion: ReturnOpinionForm,
    A.submit_reply: ReplyForm,
    A.return_reply: ReturnReplyForm,
    A.sign_reply: SignForm,
    A.request_extension: RequestExtensionForm,
    A.approve_extension: ApproveExtensionForm,
    A.deny_extension: DenyExtensionForm,
    A.request_materials: RequestMaterialsForm,
    A.provide_materials: ProvideMaterialsForm,
    A.record_contact: ContactForm,
    A.withdraw: WithdrawForm,
}
assert set(FORMS) == set(ACTION_FIELDS), "every staff action needs a form"


class RevealForm(FlaskForm):
    reason = StringField(
        _l("Why do you need the personal data?"),
        validators=[InputRequired(REQUIRED), Length(max=SHORT_TEXT_MAX)],
    )


class AnswerRequestForm(FlaskForm):
    """The lower bureau's answer to a request for materials from the bureau above."""

    content = _long(_l("Answer"), required=False)
    files = _files(_l("Materials"))


__all__ = ["FORMS", "ActionForm", "AnswerRequestForm", "FormContext", "RevealForm"]
