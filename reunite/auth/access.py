"""Access rules for views: who may open what, with TOTP enforced for staff."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from reunite.auth.models import Role, User
from reunite.errors import Forbidden, Unauthorized, wants_json
from reunite.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


def staff_session_ok() -> bool:
    """Whether the current staff session has passed TOTP."""
    return bool(session.get("totp_ok"))


def _guard(roles: tuple[Role, ...], *, need_totp: bool) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if wants_json(request):
                    raise Unauthorized(_("Log in first."))
                return redirect(url_for("auth.login_page", next=request.path))
            user = cast(User, current_user)
            if roles and user.role not in roles:
                raise Forbidden(_("You do not have access to this page."))
            if need_totp and user.is_staff and not (user.has_totp and staff_session_ok()):
                if wants_json(request):
                    raise Forbidden(_("Complete two-factor verification (TOTP) first."))
                target = "auth.totp_verify" if user.has_totp else "auth.totp_setup"
                return redirect(url_for(target, next=request.path))
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorator


def login_required(view: F) -> F:
    """Any logged-in account; staff must also have passed TOTP."""
    return _guard((), need_totp=True)(view)


def login_required_no_totp(view: F) -> F:
    """Any logged-in account, before TOTP (the TOTP pages themselves)."""
    return _guard((), need_totp=False)(view)


def people_required(view: F) -> F:
    """Children and parents only (claims, matches): staff get 403, whether or not they passed TOTP."""
    return _guard((Role.CHILD, Role.PARENT), need_totp=True)(view)


def staff_required(*roles: Role) -> Callable[[F], F]:
    """Moderators/admins (or the given roles) with TOTP set up and verified in this session."""
    return _guard(roles or (Role.MODERATOR, Role.ADMIN), need_totp=True)


def current() -> User:
    """The logged-in user (call only behind a guard)."""
    return cast(User, current_user._get_current_object())


def end_session() -> None:
    """Log out: the account's session nonce changes, so no copy of this session's cookie works again.

    Sessions live in signed cookies, so a copied cookie would otherwise outlive the logout. The
    cost is that logging out ends the person's other sessions too.
    """
    if current_user.is_authenticated:
        current().session_nonce = secrets.token_hex(8)
        db.session.commit()
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
