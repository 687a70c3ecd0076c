"""The moderated end-to-end mailbox: conversations, envelopes, moderation, chains. The server never decrypts."""

from flask import Blueprint

bp = Blueprint("mailbox", __name__)

from reunite.mailbox import api, routes  # noqa: E402,F401
