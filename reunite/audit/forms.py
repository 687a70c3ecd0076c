"""The audit page's filter form (GET, so no CSRF token: it changes nothing)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError


class AuditFilterForm(FlaskForm):
    """Filters for the audit log; every field may stay empty."""

    class Meta:
        csrf = False

    action = SelectField(_l("Action"), choices=[], validate_choice=False, validators=[Optional()])
    actor = StringField(_l("Done by (username)"), validators=[Optional(), Length(max=64)])
    target_id = StringField(_l("Target id"), validators=[Optional(), Length(max=64)])
    date_from = DateField(_l("From (UTC date)"), validators=[Optional()])
    date_to = DateField(_l("To (UTC date)"), validators=[Optional()])

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))
