"""Server-side forms of the account pages (the password never passes through these)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length, Regexp


class TotpForm(FlaskForm):
    """A six-digit code from an authenticator app."""

    code = StringField(
        _l("Six-digit code"),
        validators=[
            DataRequired(message=_l("Enter the code from your authenticator app.")),
            Length(min=6, max=8, message=_l("The code has six digits.")),
            Regexp(r"^[0-9 ]+$", message=_l("The code has only digits.")),
        ],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"},
    )
    submit = SubmitField(_l("Confirm"))


class PostForm(FlaskForm):
    """A button-only form (logout, language): carries the CSRF token."""

    submit = SubmitField(_l("Continue"))
