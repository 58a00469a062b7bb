"""Forms of supervision: they check the shape of input; ``portal.supervision.operations`` checks policy.

``SatisfactionForm`` is for the public site's tracking page: render it where a replied case can be rated
(``operations.may_rate``), and on a valid POST call
``operations.rate_case(db.session, case, form.rating.data, form.comment.data, account_id=...)`` then commit.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from portal.supervision.models import ANSWER_MAX, COMMENT_MAX, INSTRUCTION_MAX, Satisfaction
from portal.workflow import SHORT_TEXT_MAX

REQUIRED = _l("This field is required.")

SATISFACTION_CHOICES = [
    (Satisfaction.satisfied.value, _l("Satisfied")),
    (Satisfaction.basically_satisfied.value, _l("Basically satisfied")),
    (Satisfaction.dissatisfied.value, _l("Dissatisfied")),
]


class SatisfactionForm(FlaskForm):
    """The petitioner's rating of the formal reply, with an optional comment."""

    rating = RadioField(
        _l("How satisfied are you with the reply?"),
        choices=SATISFACTION_CHOICES,
        validators=[InputRequired(_l("Choose one of the answers."))],
    )
    comment = TextAreaField(
        _l("Comment (optional)"),
        validators=[Optional(), Length(max=COMMENT_MAX)],
        render_kw={"rows": 3, "maxlength": COMMENT_MAX},
    )


class OrderForm(FlaskForm):
    """A supervision order of a bureau above on a case of a bureau below."""

    instruction = TextAreaField(
        _lp("a supervision order", "Instruction"),
        validators=[InputRequired(REQUIRED), Length(max=INSTRUCTION_MAX)],
        render_kw={"rows": 5, "maxlength": INSTRUCTION_MAX},
    )
    due_on = DateField(_l("Answer due on"), validators=[InputRequired(_l("Enter a date (YYYY-MM-DD)."))])


class AnswerForm(FlaskForm):
    """The answer of the bureau below to a supervision order."""

    answer = TextAreaField(
        _l("Answer"),
        validators=[InputRequired(REQUIRED), Length(max=ANSWER_MAX)],
        render_kw={"rows": 4, "maxlength": ANSWER_MAX},
    )


class SensitiveForm(FlaskForm):
    """Flag a case sensitive, or remove the flag, with a reason."""

    sensitive = RadioField(
        _l("Sensitive case"),
        choices=[("yes", _l("Flag as sensitive")), ("no", _l("Remove the flag"))],
        validators=[InputRequired(_l("Choose one of the answers."))],
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[InputRequired(REQUIRED), Length(max=SHORT_TEXT_MAX)],
        render_kw={"rows": 2, "maxlength": SHORT_TEXT_MAX},
    )
