"""Mailbox pages: inbox, conversation, and the moderator's held-message and report queues (thin views).

The pages only render; decryption, verification and signing happen in the browser
(static/js/pages/mailbox.mjs, moderate.mjs) against the JSON API in reunite/mailbox/api.py.
"""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from reunite.auth.access import current, login_required, staff_required
from reunite.mailbox import bp, services


@bp.get("/conversations")
@login_required
def inbox() -> ResponseReturnValue:
    """The person's conversations."""
    return render_template("mailbox/inbox.html", conversations=services.my_conversations(current()))


@bp.get("/conversations/<public_id>")
@login_required
def conversation(public_id: str) -> ResponseReturnValue:
    """One conversation: its state and roster."""
    conv = services.member_conversation(current(), public_id)
    return render_template("mailbox/conversation.html", conv=conv, roster=services.roster(conv), me=current())


@bp.get("/moderator/held")
@staff_required()
def held_page() -> ResponseReturnValue:
    """Held messages across the moderator's conversations (decrypted and decided in the browser)."""
    return render_template("mailbox/held.html")


@bp.get("/moderator/reports")
@staff_required()
def reports_page() -> ResponseReturnValue:
    """Reported messages with their revealed text (re-verified in the browser)."""
    return render_template("mailbox/reports.html")
