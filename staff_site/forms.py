"""Forms of the staff site: they check the shape of input; operations check policy."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, MultipleFileField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, ValidationError

from portal.cases.operations import PartyInput
from portal.idnumber import InvalidIdNumber, validate_id_number
from portal.routing import OPINION_KIND_LABELS
from portal.web import localized
from portal.workflow import KIND_LABELS, LONG_TEXT_MAX


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(_l("Enter your username.")), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password.")), Length(max=200)])


def _check_id_number(form, field):
    """Shape only: a citizen ID number the petitioner wrote on the application (GB 11643)."""
    if not field.data:
        return
    try:
        field.data = validate_id_number(field.data)
    except InvalidIdNumber as exc:
        raise ValidationError(localized((exc.message_zh, exc.message_en))) from exc


class ApplicationForm(FlaskForm):
    """An application received on paper (with its scan), or a case transferred by the provincial committee."""

    name = StringField(
        _l("Petitioner's name"), validators=[InputRequired(_l("This field is required.")), Length(max=100)]
    )
    id_number = StringField(_l("ID number"), validators=[Optional(), Length(max=30), _check_id_number])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)])
    email = StringField(
        _l("Email"),
        validators=[
            Optional(),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter a valid email address.")),
            Length(max=200),
        ],
    )
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    disputed_bureau_id = SelectField(
        _l("Bureau that issued the disputed opinion"), validators=[InputRequired(_l("This field is required."))]
    )
    opinion_kind = SelectField(
        _l("Kind of the disputed opinion"), validators=[InputRequired(_l("This field is required."))]
    )
    document_number = StringField(
        _l("Document number of the disputed opinion"),
        validators=[InputRequired(_l("This field is required.")), Length(max=100)],
    )
    issued_on = DateField(_l("Issued on"), validators=[InputRequired(_l("Enter a date (YYYY-MM-DD)."))])
    received_on = DateField(
        _l("Received by the petitioner on"), validators=[InputRequired(_l("Enter a date (YYYY-MM-DD)."))]
    )
    request = TextAreaField(
        _l("Request"),
        validators=[InputRequired(_l("This field is required.")), Length(max=LONG_TEXT_MAX)],
        render_kw={"rows": 4},
    )
    facts_and_reasons = TextAreaField(
        _l("Facts and reasons"),
        validators=[InputRequired(_l("This field is required.")), Length(max=LONG_TEXT_MAX)],
        render_kw={"rows": 6},
    )
    scans = MultipleFileField(
        _l("Scan of the application"), description=_l("PDF, JPEG or PNG, at most 20 MB each, 10 files at most.")
    )

    def prepare(self, bureaus) -> None:
        self.disputed_bureau_id.choices = [(str(b.id), ("\u3000" * (b.path.count("/") - 1)) + b.name) for b in bureaus]
        self.opinion_kind.choices = [(str(k), localized(v)) for k, v in OPINION_KIND_LABELS.items()]

    def party(self) -> PartyInput:
        return PartyInput(
            name=self.name.data.strip(),
            id_number=self.id_number.data or None,
            phone=(self.phone.data or "").strip() or None,
            email=(self.email.data or "").strip() or None,
            address=(self.address.data or "").strip() or None,
        )


class PaperForm(ApplicationForm):
    """A paper application: when the bureau received it (the acceptance clock runs from it, §四.1) and when the
    petitioner posted or handed it in (lateness is judged on that day)."""

    application_received_on = DateField(
        _l("Received by this bureau on"),
        validators=[Optional()],
        description=_l("The day the written application arrived; the 15 working days to decide run from it."),
    )
    filed_on = DateField(
        _l("Posted or handed in on"),
        validators=[Optional()],
        description=_l("Postmark or hand-in date, if earlier; the 30-day window is judged on it. Empty: as received."),
    )


class TransferForm(ApplicationForm):
    kind = SelectField(_l("Kind of case"), validators=[InputRequired(_l("This field is required."))])
    committee_document_number = StringField(
        _l("Committee document number"),
        validators=[InputRequired(_l("This field is required.")), Length(max=100)],
    )
    scans = MultipleFileField(
        _l("Scan of the committee's document"),
        description=_l("PDF, JPEG or PNG, at most 20 MB each, 10 files at most."),
    )

    def prepare(self, bureaus) -> None:
        super().prepare(bureaus)
        self.kind.choices = [(str(k), localized(v)) for k, v in KIND_LABELS.items()]
