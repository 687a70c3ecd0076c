"""The notification settings form: one optional e-mail address."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SubmitField
from wtforms.validators import Length


class EmailSettingsForm(FlaskForm):
    """Set or clear the address for notification mail (checked by the service)."""

    email = EmailField(
        _l("E-mail address for notifications"),
        validators=[Length(max=254, message=_l("At most %(max)d characters."))],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )
    save = SubmitField(_l("Save address"))
    remove = SubmitField(_l("Remove address"))
