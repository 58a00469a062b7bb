"""One form per workflow action: shape only (required, lengths, choices); the workflow judges the rest.

Each form's field names are the payload keys of ``portal.cases.actions.ACTION_FIELDS``, so ``payload()`` is a
plain read-out. ``prepare()`` fills the choices of this case and ``defaults()`` pre-fills a fresh form, both from
``portal.cases.choices`` (the same code gives the API its ``choices`` and ``defaults``). ``FORMS`` maps every staff
action to its form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
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
from portal.cases.choices import Choice
from portal.cases.queries import CasePage
from portal.documents.service import ReplyDesk, ReplyDraft
from portal.web import localized
from portal.workflow import EXTENSION_MAX_DAYS, LETTER_TEXT_MAX, LONG_TEXT_MAX, SHORT_TEXT_MAX, CaseAction, Outcome

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
    choices: dict[str, list[Choice]] = field(default_factory=dict)  # ``portal.cases.choices.action_choices``
    defaults: dict[str, Any] = field(default_factory=dict)  # ``portal.cases.choices.action_defaults``
    desk: ReplyDesk | None = None  # the formal opinion's drafting desk (submit_reply)
    draft: ReplyDraft | None = None  # the draft submitted last (submit_reply after a return, sign, return)
    outcome: str | None = None  # the outcome whose template the clerk asked for


def form_value(value: Any) -> str:
    """A choice's value as the form posts it (flags as yes/no, ids and enum values as text)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _digits(value) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() and len(text) < 12 else None


class ActionForm(FlaskForm):
    """Base of the action forms: the case version the form was rendered with comes back with it."""

    action: CaseAction
    expected_version = HiddenField(validators=[InputRequired(_l("The form is incomplete; reload the page."))])

    #: Fields whose select starts with a blank option, and its label (no choice: the rules decide, or none).
    blank_choices: ClassVar[dict[str, Any]] = {}

    def prepare(self, ctx: FormContext) -> None:
        """Fill the choices that depend on the case and the user (``portal.cases.choices``)."""
        for name, choices in ctx.choices.items():
            target = getattr(self, name, None)
            if target is None:
                continue
            options = [(form_value(c.value), localized(c.label)) for c in choices]
            if name in self.blank_choices:
                options = [("", str(self.blank_choices[name])), *options]
            target.choices = options

    def defaults(self, ctx: FormContext) -> None:
        """Pre-fill a fresh form (``portal.cases.choices.action_defaults``: a returned draft comes back whole)."""
        for name, value in ctx.defaults.items():
            target = getattr(self, name, None)
            if target is None:
                continue
            if isinstance(target, DateField):
                target.data = date.fromisoformat(value) if isinstance(value, str) else value
            elif isinstance(target, IntegerField):
                target.data = value
            elif isinstance(value, list):
                target.data = [form_value(v) for v in value]
            elif isinstance(target, (SelectField, RadioField)):
                target.data = form_value(value)
            else:
                target.data = value

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
    blank_choices: ClassVar[dict[str, Any]] = {"reason": _l("— choose a reason —")}
    remedy = _long(
        _l("Further remedy"),
        description=_l("Where and how the petitioner can pursue the matter instead (下步救济途径)."),
    )


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

    blank_choices: ClassVar[dict[str, Any]] = {"approver_id": _l("As the rules choose")}


class InstructForm(ActionForm):
    action = A.instruct
    instruction = _long(_l("Instruction"))
    complexity = SelectField(_l("Complexity"), validators=[Optional()])
    lead_unit_id = SelectField(_l("Lead unit"), validators=[Optional()])
    assisting_unit_ids = MultiCheckboxField(_l("Assisting units"), validators=[Optional()])


class DispatchForm(ActionForm):
    action = A.dispatch
    handed_to_unit_ids = MultiCheckboxField(
        _l("Handed over to"),
        validators=[Optional()],
        description=_l("The units the leader instructed; the lead unit always gets the slip (none ticked: all)."),
    )
    note = _long(_l("Note"), required=False, description=_l("What was handed over, if more than the slip."))


class OpinionForm(ActionForm):
    action = A.submit_opinion
    opinion = _long(_l("Review opinion"))
    needs_approval = RadioField(
        _l("Does the opinion need the business leader's approval?"), validators=[InputRequired(REQUIRED)]
    )
    files = _files(_l("Materials"))


class CommentForm(ActionForm):
    comment = _long(_l("Comment"), required=False)


class ApproveOpinionForm(CommentForm):
    action = A.approve_opinion


class SignForm(CommentForm):
    action = A.sign_reply
    draft_sha256 = HiddenField()

    def defaults(self, ctx):
        super().defaults(ctx)
        self.draft_sha256.data = ctx.draft.sha256 if ctx.draft is not None else ""

    def visible_fields(self) -> list:
        return [f for f in super().visible_fields() if f.name != "draft_sha256"]


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
    """The whole formal opinion in one editor, pre-filled from the bureau's template for the chosen outcome.

    ``prepare`` needs ``ctx.desk`` (the drafting desk) to pre-fill; ``defaults`` starts from the last draft
    submitted (after a return) or from the template of ``?outcome=``.
    """

    action = A.submit_reply
    outcome = SelectField(_l("Outcome"), validators=[InputRequired(REQUIRED)])
    text = TextAreaField(
        _l("Formal opinion"),
        validators=[InputRequired(REQUIRED), Length(max=LETTER_TEXT_MAX)],
        render_kw={"rows": 24, "class": "letter"},
        description=_l(
            "The letter as it is printed. The salutation and the remedy are printed once by the system; "
            "passages in 【】 must be written before submitting."
        ),
    )
    files = _files(_l("Attachments"))

    def defaults(self, ctx):
        super().defaults(ctx)  # the returned draft as it was, or the outcome "upheld"
        asked = ctx.outcome if ctx.outcome in {str(o) for o in Outcome} else None
        if asked is not None:  # "start from the bureau's template for ...": replaces the text
            self.outcome.data = asked
            self.text.data = None
        if not self.text.data and ctx.desk is not None:
            self.text.data = ctx.desk.prefill.get(self.outcome.data or str(Outcome.upheld), "")


class RequestExtensionForm(ActionForm):
    action = A.request_extension
    days = IntegerField(
        _l("Days"),
        validators=[InputRequired(REQUIRED), NumberRange(1, EXTENSION_MAX_DAYS)],
        description=_l("At most 30 days in all, over one or more requests, before the deadline passes (§三)."),
    )
    reason = _long(_l("Reason"))


class ApproveExtensionForm(ActionForm):
    action = A.approve_extension
    days = IntegerField(
        _l("Days"),
        validators=[Optional(), NumberRange(1, EXTENSION_MAX_DAYS)],
        description=_l("Leave as requested, or grant fewer days."),
    )
    comment = _long(_l("Comment"), required=False)


class RequestMaterialsForm(ActionForm):
    action = A.request_materials
    target = SelectField(_l("From whom"), validators=[InputRequired(REQUIRED)])
    target_bureau_id = SelectField(_l("Lower bureau"), validators=[Optional()])
    body_name = _short(_l("Name of the body"), required=False)
    content = _long(_l("Materials needed"))
    due_on = _date(_l("Due date"))
    blank_choices: ClassVar[dict[str, Any]] = {"target_bureau_id": "—"}


class ProvideMaterialsForm(ActionForm):
    action = A.provide_materials
    request_id = SelectField(_lp("a request for materials", "Request"), validators=[InputRequired(REQUIRED)])
    content = _long(_l("Answer"), required=False)
    files = _files(_l("Materials"))


class ContactForm(ActionForm):
    action = A.record_contact
    party = SelectField(_l("With whom"), validators=[InputRequired(REQUIRED)])
    body_name = _short(_l("Name of the body"), required=False)
    contacted_on = _date(_l("Date"))
    channel = _short(_l("How (phone, visit, letter...)"), required=False)
    summary = _long(_l("What was said"))


class WithdrawForm(ActionForm):
    action = A.withdraw
    reason = _long(_l("Reason given by the petitioner"))
    document_note = _short(
        _l("Written withdrawal"), description=_l("Describe the petitioner's signed withdrawal (date, pages).")
    )


class RecordDeliveryForm(ActionForm):
    """送达 by post (the date on the return receipt) or in person (the date signed for)."""

    action = A.record_delivery
    method = SelectField(_l("How it was delivered"), validators=[InputRequired(REQUIRED)])
    delivered_on = _date(_l("Delivered on"))


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
    A.record_delivery: RecordDeliveryForm,
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
