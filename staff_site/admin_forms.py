"""Forms of the bureau administration pages: they check the shape of input; operations check policy."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from portal.documents.templates import MAX_TEMPLATE_CHARS
from portal.roles import ROLE_LABELS, Role
from portal.web import localized
from portal.workflow import LONG_TEXT_MAX

REQUIRED = _l("This field is required.")


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _role_choices(include_province: bool) -> list[tuple[str, str]]:
    return [(r.value, localized(ROLE_LABELS[r])) for r in Role if include_province or r != Role.province_admin]


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class ActionForm(FlaskForm):
    """A button: nothing but the CSRF token."""


class UserRolesForm(FlaskForm):
    """The security administrator's: which roles an account holds."""

    roles = MultiCheckboxField(_l("Roles"), validators=[DataRequired(_l("Choose at least one role."))])

    def prepare(self, *, province: bool) -> None:
        self.roles.choices = _role_choices(province)


class UserUnitForm(FlaskForm):
    """The system administrator's: which unit of the bureau an account belongs to."""

    unit_id = SelectField(_l("Unit"), coerce=_optional_int, validators=[Optional()])

    def prepare(self, units) -> None:
        self.unit_id.choices = [(None, _l("(no unit)"))] + [(u.id, u.name) for u in units]


class NewUserForm(UserUnitForm):
    """The system administrator opens an account; the security administrator then gives it its roles."""

    username = StringField(
        _l("Username"),
        validators=[
            InputRequired(REQUIRED),
            Length(max=64),
            Regexp(r"^[A-Za-z0-9._]+$", message=_l("Use letters, digits, '.' or '_' only.")),
        ],
    )
    display_name = StringField(_l("Full name"), validators=[InputRequired(REQUIRED), Length(max=100)])
    password = PasswordField(
        _l("Initial password"),
        validators=[InputRequired(REQUIRED), Length(min=10, max=200)],
        description=_l("At least 10 characters, letters mixed with digits or symbols."),
    )


class NewUnitForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[
            InputRequired(REQUIRED),
            Length(max=40),
            Regexp(r"^[A-Za-z0-9_]+$", message=_l("Use letters, digits or '_' only.")),
        ],
        description=_l("A short identifier, e.g. medical_insurance."),
    )
    name = StringField(_lp("name of a unit or bureau", "Name"), validators=[InputRequired(REQUIRED), Length(max=100)])


class RenameUnitForm(FlaskForm):
    name = StringField(_lp("name of a unit or bureau", "Name"), validators=[InputRequired(REQUIRED), Length(max=100)])


class AbsenceDeclarationForm(FlaskForm):
    """A period away and its stand-in: a leader declaring their own (``staff_site.absences``)."""

    starts_on = DateField(_l("First day away"), validators=[InputRequired(_l("Enter a date (YYYY-MM-DD)."))])
    ends_on = DateField(_l("Last day away"), validators=[InputRequired(_l("Enter a date (YYYY-MM-DD)."))])
    stand_in_id = SelectField(_l("Stand-in"), coerce=_optional_int, validators=[Optional()])
    stand_in_powers = MultiCheckboxField(
        _l("The stand-in may"),
        choices=[
            ("slip", _l("approve the reading slip")),
            ("signing", _l("sign the formal opinion (代签)")),
        ],
        default=["slip"],
        description=_l("§四.4: standing in for the slip gives no power to sign unless declared here."),
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])

    def prepare(self, leaders) -> None:
        self.stand_in_id.choices = [(None, _l("(none)")), *((u.id, u.display_name) for u in leaders)]


class AbsenceForm(AbsenceDeclarationForm):
    """A period away recorded by an administrator, for any leader of the bureau."""

    user_id = SelectField(_l("Leader"), coerce=_optional_int, validators=[InputRequired(REQUIRED)])

    def prepare(self, leaders) -> None:
        super().prepare(leaders)
        self.user_id.choices = [(None, _l("Choose…")), *((u.id, u.display_name) for u in leaders)]


class LetterheadForm(FlaskForm):
    letterhead = StringField(
        _l("Letterhead"),
        validators=[Optional(), Length(max=1000)],
        description=_l("Printed in red at the top of every document. Leave empty for the bureau's name."),
    )


class NumberPrefixForm(FlaskForm):
    number_prefix = StringField(
        _l("Document number prefix"),
        validators=[Optional(), Length(max=1000)],
        description=_l("The text before the series character, e.g. 长社保信. Leave empty for the default."),
    )


class TemplateForm(FlaskForm):
    text = TextAreaField(
        _l("Template text"),
        validators=[InputRequired(REQUIRED), Length(max=MAX_TEMPLATE_CHARS)],
        render_kw={"rows": 14},
    )


class RefusalTextForm(FlaskForm):
    explanation = TextAreaField(
        _l("Explanation"), validators=[InputRequired(REQUIRED), Length(max=LONG_TEXT_MAX)], render_kw={"rows": 5}
    )
    remedy = TextAreaField(
        _l("Further remedy"), validators=[InputRequired(REQUIRED), Length(max=LONG_TEXT_MAX)], render_kw={"rows": 5}
    )


class NewBureauForm(FlaskForm):
    parent_id = SelectField(_l("Parent bureau"), coerce=_optional_int, validators=[InputRequired(REQUIRED)])
    level = SelectField(
        _l("Level"), choices=[("city", _l("City")), ("county", _l("County"))], validators=[InputRequired(REQUIRED)]
    )
    division_name = StringField(
        _l("Administrative division"),
        validators=[InputRequired(REQUIRED), Length(max=100)],
        description=_l("e.g. 长春新区"),
    )
    adcode = StringField(
        _l("Division code"),
        validators=[Optional(), Regexp(r"^\d{6}$", message=_l("Six digits, or leave it empty."))],
    )


class RenameBureauForm(FlaskForm):
    bureau_id = HiddenField(validators=[InputRequired(REQUIRED), Regexp(r"^\d{1,18}$")])
    name = StringField(_lp("name of a unit or bureau", "Name"), validators=[InputRequired(REQUIRED), Length(max=120)])


class MoveBureauForm(FlaskForm):
    bureau_id = HiddenField(validators=[InputRequired(REQUIRED), Regexp(r"^\d{1,18}$")])
    parent_id = SelectField(_l("New parent"), coerce=_optional_int, validators=[InputRequired(REQUIRED)])


__all__ = [
    "AbsenceDeclarationForm",
    "AbsenceForm",
    "ActionForm",
    "LetterheadForm",
    "MoveBureauForm",
    "NewBureauForm",
    "NewUnitForm",
    "NewUserForm",
    "NumberPrefixForm",
    "RenameBureauForm",
    "RenameUnitForm",
    "TemplateForm",
    "UserRolesForm",
    "UserUnitForm",
]


class ContactForm(FlaskForm):
    """The bureau's public contact block (and, at the province, the committee office's address and phone)."""

    address = StringField(
        _l("Office address"),
        validators=[Optional(), Length(max=1000)],
        description=_l("Where petitioners can come to the petition office, e.g. 长春市人民大街1号 3楼 信访接待室."),
    )
    phone = StringField(
        _l("Phone"),
        validators=[Optional(), Length(max=1000)],
        description=_l("A number petitioners can call, e.g. 0431-88888888."),
        render_kw={"inputmode": "tel", "autocomplete": "off"},
    )
    hours = StringField(
        _l("Office hours"),
        validators=[Optional(), Length(max=1000)],
        description=_l("e.g. 工作日 8:30-11:30, 13:30-16:30."),
    )
    committee_address = StringField(
        _l("Committee office: address"),
        validators=[Optional(), Length(max=1000)],
        description=_l("Given to petitioners whose application goes to the provincial government's committee."),
    )
    committee_phone = StringField(
        _l("Committee office: phone"),
        validators=[Optional(), Length(max=1000)],
        render_kw={"inputmode": "tel", "autocomplete": "off"},
    )
