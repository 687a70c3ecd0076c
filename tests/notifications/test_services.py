"""Notification rules: who gets mail, links stay inside the site, addresses, read state, the sweep's choice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from reunite.errors import Invalid
from reunite.extensions import db
from reunite.notifications import mail, services
from reunite.notifications.models import MailState, Notification
from reunite.types import utcnow


def test_notify_pends_mail_only_for_people_with_an_address(make_user: Any) -> None:
    with_mail = make_user("parent").user
    with_mail.email = "Parent.Person@Example.org"
    without = make_user("child").user
    a = services.notify(with_mail, "proposal.decided", "/claims/cl-1")
    b = services.notify(without, "proposal.decided", "/claims/cl-2")
    db.session.commit()
    assert a.id
    assert b.id
    assert (a.mail_state, a.mail_attempts, a.read_at) == (MailState.PENDING, 0, None)
    assert b.mail_state == MailState.NONE
    assert a.created_at.tzinfo is not None


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/x",
        "//evil.example/x",
        "javascript:alert(1)",
        "claims/cl-1",
        "/a b",
        "/a\nb",
        "/\\evil",
        "/" + "x" * 600,
        "",
    ],
)
def test_links_must_stay_inside_the_site(make_user: Any, link: str) -> None:
    user = make_user("parent").user
    with pytest.raises(Invalid):
        services.notify(user, "x", link)


@pytest.mark.parametrize("kind", ["", "Proposal", "has space", "x" * 33, "ünicode"])
def test_kind_is_a_short_machine_word(make_user: Any, kind: str) -> None:
    with pytest.raises(Invalid):
        services.notify(make_user("parent").user, kind, "/x")


def test_links_with_a_query_are_fine(make_user: Any) -> None:
    note = services.notify(make_user("parent").user, "mailbox.message", "/mailbox/c-1?tab=new&x=1#end")
    assert note.link == "/mailbox/c-1?tab=new&x=1#end"


@pytest.mark.parametrize("raw", ["Someone.Name+tag@Example.ORG", "a@b.co", "  padded@example.org  ", "名前@example.jp"])
def test_addresses_are_stored_as_given(make_user: Any, raw: str) -> None:
    user = make_user("parent").user
    assert services.set_email(user, raw) == raw.strip()
    assert user.email == raw.strip()
    assert services.set_email(user, "") is None
    assert user.email is None


@pytest.mark.parametrize(
    "raw",
    [
        "no-at-sign",
        "two@@example.org",
        "a@b",
        "spa ce@example.org",
        "a@-bad.org",
        "a@example..org",
        "x" * 65 + "@example.org",
        "a@" + "b" * 250 + ".org",
        "<a@example.org>",
    ],
)
def test_implausible_addresses_are_refused(make_user: Any, raw: str) -> None:
    user = make_user("parent").user
    with pytest.raises(Invalid) as info:
        services.set_email(user, raw)
    assert info.value.field == "email"
    assert user.email is None


def test_lists_and_marks_only_ones_own(make_user: Any) -> None:
    me = make_user("parent").user
    other = make_user("child").user
    first = services.notify(me, "a", "/1")
    second = services.notify(me, "b", "/2")
    theirs = services.notify(other, "c", "/3")
    db.session.commit()
    assert [n.id for n in services.list_own(me)] == [second.id, first.id]
    assert services.unread_count(me) == 2
    assert services.mark_all_read(me) == 2
    db.session.commit()
    db.session.expire_all()
    assert services.unread_count(me) == 0
    assert all(n.read_at is not None for n in services.list_own(me))
    assert db.session.get(Notification, theirs.id).read_at is None  # type: ignore[union-attr]


def test_sweep_takes_pending_mail_older_than_a_minute_whose_retries_are_over(make_user: Any) -> None:
    user = make_user("parent").user
    user.email = "p@example.org"
    fresh, old, tried_recently, tried_long_ago, sent = (services.notify(user, "k", f"/{i}") for i in range(5))
    db.session.commit()
    now = utcnow()
    db.session.execute(
        update(Notification).where(Notification.id != fresh.id).values(created_at=now - timedelta(minutes=5))
    )
    db.session.execute(
        update(Notification)
        .where(Notification.id == tried_recently.id)
        .values(mail_attempted_at=now - timedelta(minutes=2))
    )
    db.session.execute(
        update(Notification)
        .where(Notification.id == tried_long_ago.id)
        .values(mail_attempted_at=now - timedelta(hours=2))
    )
    db.session.execute(update(Notification).where(Notification.id == sent.id).values(mail_state=MailState.SENT))
    db.session.commit()
    assert services.pending_mail_ids(now) == [old.id, tried_long_ago.id]


def test_mail_url_parsing() -> None:
    plain = mail.parse_mail_url("smtp://127.0.0.1:8025")
    assert (plain.host, plain.port, plain.is_tls, plain.is_starttls, plain.username) == (
        "127.0.0.1",
        8025,
        False,
        False,
        None,
    )
    assert mail.parse_mail_url("smtp://mail.example").port == 25
    tls = mail.parse_mail_url("smtps://us%40er:p%3Ass@mail.example")
    assert (tls.port, tls.is_tls, tls.username, tls.password) == (465, True, "us@er", "p:ss")
    assert "p:ss" not in repr(tls)
    start = mail.parse_mail_url("smtp://u:p@mail.example:587?starttls=1&timeout=3")
    assert (start.is_starttls, start.timeout_s, start.port) == (True, 3.0, 587)
    for bad in (None, "", "http://x", "smtp://", "smtp://h:notaport", "smtps://h?starttls=1", "smtp://h?timeout=x"):
        with pytest.raises(mail.MailConfigError) as info:
            mail.parse_mail_url(bad)
        assert "p:ss" not in str(info.value)
