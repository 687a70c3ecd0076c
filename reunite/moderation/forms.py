"""Forms for moderators (decisions, flags, queue filters) and for people answering a match."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class DecisionForm(FlaskForm):
    """One decision; the page shows one form per action."""

    action = HiddenField(validators=[InputRequired()])
    seen_version = HiddenField(validators=[InputRequired()])
    reason = TextAreaField(_l("Reason"), validators=[Length(max=2000)])
    addressed_to = SelectField(
        _l("Ask whom"),
        choices=[SelectChoice("child", _l("The child")), SelectChoice("parent", _l("The parent"))],
        validators=[Optional()],
        validate_choice=False,
    )
    submit = SubmitField(_l("Confirm"))


class FlagForm(FlaskForm):
    """Raise a safeguarding flag on a claim."""

    reason = TextAreaField(
        _l("Why is this claim flagged?"),
        validators=[DataRequired(message=_l("Say why the claim is flagged.")), Length(max=2000)],
    )
    submit = SubmitField(_l("Flag this claim"))


class ClearFlagForm(FlaskForm):
    """An admin clears a flag."""

    reason = TextAreaField(
        _l("Why is the flag cleared?"),
        validators=[DataRequired(message=_l("Say why the flag is cleared.")), Length(max=2000)],
    )
    submit = SubmitField(_l("Clear flag"))


class QueueFilterForm(FlaskForm):
    """Narrow the queue (GET form, no CSRF needed)."""

    class Meta:
        csrf = False

    status = SelectField(
        _l("Status"),
        choices=[
            SelectChoice("waiting", _l("Waiting for a decision")),
            SelectChoice("proposed", _l("New")),
            SelectChoice("info_requested", _l("Waiting for information")),
            SelectChoice("half_approved", _l("Needs a second approval")),
            SelectChoice("approved", _l("Approved")),
            SelectChoice("rejected", _l("Rejected")),
            SelectChoice("closed", _l("Closed")),
        ],
        default="waiting",
    )
    min_score = IntegerField(_l("Minimum score"), validators=[Optional(), NumberRange(min=-100, max=1000)])
    older_than_days = IntegerField(_l("Older than (days)"), validators=[Optional(), NumberRange(min=0, max=3650)])
    minor = SelectField(
        _l("A minor is involved"),
        choices=[SelectChoice("", _l("Either")), SelectChoice("yes", _l("Yes")), SelectChoice("no", _l("No"))],
        default="",
    )
    submit = SubmitField(_l("Filter"))


class AnswerForm(FlaskForm):
    """Accept (sharing a name and a short message) or decline."""

    shared_name = StringField(_l("The name you want the other person to see"), validators=[Length(max=120)])
    shared_message = TextAreaField(_l("A short message for them (optional)"), validators=[Length(max=1000)])
    accept = SubmitField(_l("Yes, I want to talk"))
    decline = SubmitField(_l("No, not now"))
