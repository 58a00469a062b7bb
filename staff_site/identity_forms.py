"""Forms of the identity pages: they check the shape of input; operations check policy."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length


class CodeForm(FlaskForm):
    """A 6-digit authenticator code or a recovery code."""

    code = StringField(
        _lp("verification code", "Code"),
        validators=[DataRequired(_l("Enter the code.")), Length(max=40, message=_l("That is too long for a code."))],
    )


class EndSessionsForm(FlaskForm):
    which = RadioField(
        _l("Which sessions"),
        choices=[("others", _l("All my other sessions")), ("all", _l("Everywhere, this one too"))],
        validators=[InputRequired(_l("Choose which sessions to end."))],
    )


class PolicyForm(FlaskForm):
    second_factor = RadioField(
        _l("Who must use a second factor"),
        choices=[
            ("leaders_and_admins", _l("Leaders and administrators (the minimum)")),
            ("all_staff", _l("All staff of this bureau")),
        ],
        validators=[InputRequired(_l("Choose who must use a second factor."))],
    )


class PasswordChangeForm(FlaskForm):
    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(_l("Enter your current password.")), Length(max=200, message=_l("That is too long."))],
    )
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Enter a new password.")), Length(max=200, message=_l("That is too long."))],
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[
            DataRequired(_l("Enter the new password again.")),
            EqualTo("new", message=_l("The two new passwords differ.")),
        ],
    )
