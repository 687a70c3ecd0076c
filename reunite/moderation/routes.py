"""Moderator pages (queue, review, decisions, flags, dashboard) and people's match pages."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from reunite.auth.access import current, people_required, staff_required
from reunite.auth.forms import PostForm
from reunite.auth.models import Role
from reunite.errors import Conflict, Forbidden, Invalid, ReuniteError
from reunite.extensions import db
from reunite.moderation import bp, services
from reunite.moderation.forms import AnswerForm, ClearFlagForm, DecisionForm, FlagForm, QueueFilterForm


def _mail(note_ids: list[int]) -> None:
    from reunite.notifications.tasks import enqueue_mail

    for note_id in note_ids:
        enqueue_mail(note_id)


@bp.get("/moderator/")
@staff_required()
def index() -> ResponseReturnValue:
    """Moderator home: certificate status, counts by state, the oldest waiting item, weekly chart."""
    user = current()
    return render_template(
        "moderation/index.html", user=user, cert_ok=services.has_valid_certificate(user), board=services.dashboard()
    )


@bp.get("/moderator/queue")
@staff_required()
def queue() -> ResponseReturnValue:
    """Proposals waiting for a decision, oldest and strongest first."""
    form = QueueFilterForm(request.args)
    filters = services.QueueFilter()
    if form.validate():
        minor = {"yes": True, "no": False}.get(form.minor.data or "")
        filters = services.QueueFilter(
            status=form.status.data or "waiting",
            min_score=form.min_score.data,
            older_than_days=form.older_than_days.data,
            minor=minor,
        )
    return render_template("moderation/queue.html", form=form, proposals=services.queue(filters))


@bp.get("/moderator/proposals/<public_id>")
@staff_required()
def review(public_id: str) -> ResponseReturnValue:
    """Both claims side by side, the explanation as bars, and the decision forms."""
    proposal = services.get_proposal(public_id)
    if proposal.child_claim_id is None or proposal.parent_claim_id is None:
        # A person erased their account (the notification of that links here): say so, keep the record.
        decisions = services.decisions_for(proposal)
        return render_template("moderation/erased.html", proposal=proposal, decisions=decisions, me=current())
    data = services.review(proposal)
    return render_template(
        "moderation/review.html",
        r=data,
        forms={
            a: DecisionForm(formdata=None, action=a, seen_version=data.proposal.state_version)
            for a in ("approve", "reject", "request_info")
        },
        flag_form=FlagForm(formdata=None),
        me=current(),
    )


@bp.post("/moderator/proposals/<public_id>/decide")
@staff_required()
def decide(public_id: str) -> ResponseReturnValue:
    """Record a decision; a conflicting decision made at the same time is refused and explained."""
    form = DecisionForm()
    if not form.validate_on_submit() or not (form.seen_version.data or "").isdigit():
        raise Invalid(_("The form was incomplete. Reload the page and try again."))
    try:
        outcome = services.decide(
            current(),
            public_id,
            form.action.data or "",
            form.reason.data or "",
            int(form.seen_version.data or 0),
            form.addressed_to.data or "",
        )
    except (Invalid, Forbidden, Conflict) as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(url_for("moderation.review", public_id=public_id)), 303
    db.session.commit()
    _mail(outcome.notifications)
    flash(outcome.message, "notice")
    return redirect(url_for("moderation.review", public_id=public_id)), 303


@bp.post("/moderator/claims/<claim_id>/flag")
@staff_required()
def flag(claim_id: str) -> ResponseReturnValue:
    """Raise a safeguarding flag on a claim."""
    form = FlagForm()
    back = request.form.get("back", "")
    if not back.startswith("/moderator/"):
        back = url_for("moderation.queue")
    if not form.validate_on_submit():
        flash(_("Say why the claim is flagged."), "error")
        return redirect(back), 303
    services.flag_claim(current(), claim_id, form.reason.data or "")
    db.session.commit()
    flash(_("The claim is flagged. Its proposals cannot be approved until an administrator clears the flag."), "notice")
    return redirect(back), 303


@bp.get("/admin/flags")
@staff_required(Role.ADMIN)
def flags() -> ResponseReturnValue:
    """Active safeguarding flags, for administrators."""
    return render_template("moderation/flags.html", flags=services.list_flags(), form=ClearFlagForm(formdata=None))


@bp.post("/admin/flags/<flag_id>/clear")
@staff_required(Role.ADMIN)
def clear_flag(flag_id: str) -> ResponseReturnValue:
    """Clear a flag with a reason."""
    form = ClearFlagForm()
    if not form.validate_on_submit():
        flash(_("Say why the flag is cleared."), "error")
        return redirect(url_for("moderation.flags")), 303
    try:
        services.clear_flag(current(), flag_id, form.reason.data or "")
    except ReuniteError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(url_for("moderation.flags")), 303
    db.session.commit()
    flash(_("The flag is cleared."), "notice")
    return redirect(url_for("moderation.flags")), 303


# --- people ---------------------------------------------------------------------------------


@bp.get("/matches")
@people_required
def my_matches() -> ResponseReturnValue:
    """The person's possible matches."""
    return render_template("moderation/my_matches.html", rows=services.my_matches(current()))


@bp.route("/matches/<public_id>", methods=["GET", "POST"])
@people_required
def match(public_id: str) -> ResponseReturnValue:
    """A possible match: what the other person shared, and the answer form."""
    n = services.notice(current(), public_id)
    form = AnswerForm()
    error_field = error_message = None
    if request.method == "POST" and form.validate_on_submit():
        try:
            outcome = services.answer(
                current(),
                public_id,
                bool(form.accept.data),
                form.shared_name.data or "",
                form.shared_message.data or "",
            )
        except (Invalid, Conflict) as err:
            db.session.rollback()
            error_field = err.field
            if error_field in ("shared_name", "shared_message"):
                error_message = err.message  # shown next to its field (the form keeps what was typed)
            else:
                flash(err.message, "error")
        else:
            db.session.commit()
            _mail(outcome.notifications)
            flash(outcome.message, "notice")
            return redirect(url_for("moderation.match", public_id=public_id)), 303
        n = services.notice(current(), public_id)
    return render_template(
        "moderation/match.html",
        n=n,
        form=form,
        withdraw_form=PostForm(formdata=None),
        error_field=error_field,
        error_message=error_message,
    )


@bp.post("/matches/<public_id>/withdraw")
@people_required
def withdraw(public_id: str) -> ResponseReturnValue:
    """Withdraw: closes the conversation for both and tells the moderators."""
    form = PostForm()
    if not form.validate_on_submit():
        raise Invalid(_("The form expired. Reload the page and try again."))
    outcome = services.withdraw(current(), public_id)
    db.session.commit()
    _mail(outcome.notifications)
    flash(outcome.message, "notice")
    return redirect(url_for("moderation.match", public_id=public_id)), 303
