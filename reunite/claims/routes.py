"""Claim pages: my claims, one claim, and the forms to file and edit parent and child claims."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from babel import Locale
from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from reunite.auth.access import current, people_required
from reunite.auth.models import Role
from reunite.claims import bp, services
from reunite.claims.forms import (
    MAX_CHILDREN,
    ChildClaimForm,
    ParentClaimForm,
    claim_to_form_obj,
    form_class,
    form_to_claim,
)
from reunite.claims.models import Claim
from reunite.claims.tasks import enqueue_match
from reunite.errors import Invalid
from reunite.extensions import db

ClaimForm = ParentClaimForm | ChildClaimForm


@bp.context_processor
def _labels() -> dict[str, Any]:
    locale = Locale.parse(str(get_locale()))

    def country(code: str | None) -> str:
        return str(locale.territories.get(code or "", code or ""))

    def countries(codes: list[str] | None) -> str:
        return ", ".join(country(code) for code in codes or [])

    def languages(codes: list[str] | None) -> str:
        return ", ".join(str(locale.languages.get(code, code)) for code in codes or [])

    def sex(code: str | None) -> str:
        return {"F": _("Female"), "M": _("Male"), "X": _("Another sex (X)")}.get(code or "", _("Unknown"))

    return {"country_name": country, "country_names": countries, "language_names": languages, "sex_label": sex}


def _save_form(form: ClaimForm, save: Callable[[dict[str, Any]], tuple[Claim, bool]]) -> tuple[str | None, list[str]]:
    """Validate, map and save a submitted form; returns (public id once saved, errors for the top)."""
    top: list[str] = []
    if isinstance(form, ParentClaimForm) and form.is_submitted() and form.add_child.data:
        if len(form.children.entries) < MAX_CHILDREN:
            form.children.append_entry()
        else:
            top.append(_("A claim can name at most %(count)d children.", count=MAX_CHILDREN))
        return None, top
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            top.append(_("The form expired. Check your answers and save again."))
        elif form.is_submitted():
            top.append(_("Some answers need attention; see the messages next to them."))
        return None, top
    data, mapping = form_to_claim(form)
    if not mapping.is_ok:
        return None, [_("Some answers need attention; see the messages next to them.")]
    try:
        claim, is_changed = save(data)
    except Invalid as err:
        db.session.rollback()
        field = mapping.field_for(err.field)
        if field is not None:
            mapping.fail(field, err.message)
            return None, [_("Some answers need attention; see the messages next to them.")]
        return None, [err.message]
    claim_id, public_id = claim.id, claim.public_id
    db.session.commit()
    if is_changed:
        enqueue_match(claim_id)
    return public_id, top


@bp.get("/claims")
@people_required
def my_claims() -> ResponseReturnValue:
    """The person's own claims, with a link to file one."""
    user = current()
    return render_template(
        "claims/my_claims.html",
        claims=services.list_own_claims(user),
        can_file=user.role in (Role.PARENT, Role.CHILD),
    )


@bp.route("/claims/new", methods=["GET", "POST"])
@people_required
def new_claim() -> ResponseReturnValue:
    """File a claim: the parent form for parents, the child form for children."""
    user = current()
    role = services.claim_role_for(user)
    form = form_class(role.value)()

    def save(data: dict[str, Any]) -> tuple[Claim, bool]:
        return services.create_claim(user, data), True

    public_id, top = _save_form(form, save)
    if public_id is not None:
        return redirect(url_for("claims.view_claim", public_id=public_id))
    return render_template("claims/form.html", form=form, top_errors=top, claim=None)


@bp.get("/claims/<public_id>")
@people_required
def view_claim(public_id: str) -> ResponseReturnValue:
    """One of the person's claims and its history."""
    from reunite.moderation.services import open_questions

    user = current()
    claim = services.get_own_claim(user, public_id)
    return render_template(
        "claims/view.html", claim=claim, revisions=services.history(user, public_id), questions=open_questions(claim)
    )


@bp.route("/claims/<public_id>/edit", methods=["GET", "POST"])
@people_required
def edit_claim(public_id: str) -> ResponseReturnValue:
    """Change a claim; the previous version stays in its history."""
    user = current()
    claim = services.get_own_claim(user, public_id)
    cls = form_class(claim.role.value)
    form = cls() if request.method == "POST" else cls(obj=claim_to_form_obj(claim.data))

    def save(data: dict[str, Any]) -> tuple[Claim, bool]:
        return services.update_claim(user, public_id, data)

    saved, top = _save_form(form, save)
    if saved is not None:
        return redirect(url_for("claims.view_claim", public_id=saved))
    return render_template("claims/form.html", form=form, top_errors=top, claim=claim)
