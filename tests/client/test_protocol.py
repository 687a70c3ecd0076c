"""Round trips, refusals and properties of the protocol primitives in reunite.client.protocol."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import secrets
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunite.client import protocol as p

# Argon2id at the smallest accepted cost keeps these tests fast; the vector test runs the
# real 64 MiB derivation.
FAST_OPS = p.MIN_OPS
FAST_MEM = p.MIN_MEM
SENT_AT = "2026-11-27T10:00:00Z"

# Any Unicode scalar value (surrogates cannot be UTF-8 encoded, so no client can send them).
unicode_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=600)


@dataclasses.dataclass
class Member:
    user_id: str
    identity: p.Identity
    box_pk: bytes
    box_sk: bytes = dataclasses.field(repr=False)
    epoch: int = 1

    @property
    def roster_member(self) -> p.RosterMember:
        return p.RosterMember(self.user_id, self.box_pk, self.epoch)


def make_member(user_id: str) -> Member:
    pk, sk = p.box_keypair_from_seed(p.new_box_seed())
    return Member(user_id, p.new_identity(), pk, sk)


@pytest.fixture(scope="module")
def people() -> dict[str, Member]:
    return {name: make_member(name) for name in ("u-parent", "u-child", "u-mod")}


@pytest.fixture(scope="module")
def roster(people: dict[str, Member]) -> list[p.RosterMember]:
    # deliberately not sorted: the header sorts
    return [people[n].roster_member for n in ("u-parent", "u-mod", "u-child")]


@pytest.fixture(scope="module")
def sent(people: dict[str, Member], roster: list[p.RosterMember]) -> p.SentMessage:
    parent = people["u-parent"]
    return p.encrypt_message(parent.identity.seed, "conv-9", "u-parent", 3, roster, "hello 🌸", SENT_AT)


def open_as(
    who: Member,
    envelope: p.Envelope,
    sender: Member,
    roster: list[p.RosterMember],
    **kwargs: str,
) -> p.OpenedMessage:
    return p.open_envelope(
        envelope,
        who.user_id,
        who.box_pk,
        who.box_sk,
        sender.identity.pk,
        roster,
        **kwargs,
    )


def flip(data: bytes, index: int = 0) -> bytes:
    out = bytearray(data)
    out[index] ^= 1
    return bytes(out)


# --- encoding ---------------------------------------------------------------------------


@given(st.binary(max_size=200))
def test_b64_round_trip_matches_python_urlsafe(data: bytes) -> None:
    text = p.b64e(data)
    assert "=" not in text
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert p.b64d(text) == data


@pytest.mark.parametrize(
    "text",
    ["A", "AB=", "AB==", "a+b/", "ab cd", "AB", "AAB", "Zm9v\n", "ÄBCD", "AAAAA"],
)
def test_b64d_rejects_invalid_or_non_canonical(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        p.b64d(text)


def test_integers_and_length_prefix() -> None:
    assert p.u16(1) == b"\x00\x01"
    assert p.u32(258) == b"\x00\x00\x01\x02"
    assert p.u64(2**40) == b"\x00\x00\x01\x00\x00\x00\x00\x00"
    assert p.lp(b"abc") == b"\x00\x00\x00\x03abc"
    for bad in (-1, 2**32, True):
        with pytest.raises(ValueError, match="out of range"):
            p.u32(bad)
    with pytest.raises(ValueError, match="out of range"):
        p.u64(2**64)


# --- password to keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ops", "mem"),
    [(0, p.DEFAULT_MEM), (11, p.DEFAULT_MEM), (2, 1024 * 1024), (2, 2 * 1024**3)],
)
def test_kdf_params_out_of_range_are_refused(ops: int, mem: int) -> None:
    with pytest.raises(ValueError, match="must be in"):
        p.check_kdf_params(ops, mem)


def test_kdf_params_in_range_are_accepted() -> None:
    p.check_kdf_params(p.DEFAULT_OPS, p.DEFAULT_MEM)
    p.check_kdf_params(p.MIN_OPS, p.MIN_MEM)
    p.check_kdf_params(p.MAX_OPS, p.MAX_MEM)
    with pytest.raises(ValueError, match="integers"):
        p.check_kdf_params(2.0, p.DEFAULT_MEM)  # type: ignore[arg-type]


def test_derive_master_key_refuses_bad_inputs() -> None:
    with pytest.raises(ValueError, match="salt"):
        p.derive_master_key("pw", b"short", FAST_OPS, FAST_MEM)
    with pytest.raises(ValueError, match="ops"):
        p.derive_master_key("pw", bytes(16), 0, FAST_MEM)


def test_login_keys_depend_on_password_and_salt_and_hide_in_repr() -> None:
    salt = p.new_salt()
    keys = p.derive_login_keys("Gänseblümchen", salt, FAST_OPS, FAST_MEM)
    assert len(keys.auth_key) == len(keys.wrap_key) == 32
    assert keys.auth_key != keys.wrap_key
    assert p.derive_login_keys("Gänseblümchen", salt, FAST_OPS, FAST_MEM) == keys
    assert p.derive_login_keys("Gänseblümchen!", salt, FAST_OPS, FAST_MEM) != keys
    assert p.derive_login_keys("Gänseblümchen", p.new_salt(), FAST_OPS, FAST_MEM) != keys
    assert p.b64e(keys.auth_key) not in repr(keys)
    assert repr(keys) == "LoginKeys()"


def test_kdf_derive_refuses_bad_context_and_key() -> None:
    with pytest.raises(ValueError, match="context"):
        p.kdf_derive(bytes(32), 1, "short")
    with pytest.raises(ValueError, match="context"):
        p.kdf_derive(bytes(32), 1, "RNauth0ä")
    with pytest.raises(ValueError, match="key"):
        p.kdf_derive(bytes(31), 1, "RNauth01")
    assert p.kdf_derive(bytes(32), 1, "RNauth01") != p.kdf_derive(bytes(32), 2, "RNauth01")


# --- identity and encryption keys -------------------------------------------------------


def test_identity_rebuilds_from_seed_and_hides_secrets() -> None:
    ident = p.new_identity()
    again = p.new_identity(ident.seed)
    assert again == ident
    assert len(ident.sk) == 64
    assert ident.sk[32:] == ident.pk
    assert p.b64e(ident.seed) not in repr(ident)
    with pytest.raises(ValueError, match="sign_seed"):
        p.new_identity(b"x" * 31)


def test_signing_with_mismatched_secret_key_is_refused() -> None:
    a, b = p.new_identity(), p.new_identity()
    with pytest.raises(ValueError, match="public half"):
        p.sign_detached(a.seed + b.pk, b"msg")


def test_enc_cert_binds_every_field() -> None:
    ident = p.new_identity()
    enc_pk, _ = p.box_keypair_from_seed(p.new_box_seed())
    other_pk, _ = p.box_keypair_from_seed(p.new_box_seed())
    cert = p.make_enc_cert(ident.seed, "yuki", enc_pk, 2)
    assert p.verify_enc_cert(ident.pk, "yuki", enc_pk, 2, cert)
    assert not p.verify_enc_cert(ident.pk, "yuko", enc_pk, 2, cert)
    assert not p.verify_enc_cert(ident.pk, "yuki", other_pk, 2, cert)
    assert not p.verify_enc_cert(ident.pk, "yuki", enc_pk, 1, cert)
    assert not p.verify_enc_cert(p.new_identity().pk, "yuki", enc_pk, 2, cert)
    assert not p.verify_enc_cert(ident.pk, "yuki", enc_pk, 2, flip(cert))
    assert not p.verify_enc_cert(ident.pk, "yuki", enc_pk, 2, cert[:-1])
    assert not p.verify_enc_cert(ident.pk, "yuki", b"short", 2, cert)


# --- bundles ----------------------------------------------------------------------------


def test_bundle_round_trip_with_several_epochs() -> None:
    seeds = {3: p.new_box_seed(), 1: p.new_box_seed(), 2: p.new_box_seed()}
    sign_seed = p.new_identity().seed
    plain = p.bundle_plaintext(sign_seed, seeds)
    assert list(json.loads(plain)["box_seeds"]) == ["1", "2", "3"]
    key = secrets.token_bytes(32)
    nonce, ct = p.seal_bundle(plain, key, "yuki")
    assert len(nonce) == 24
    assert p.parse_bundle(p.open_bundle(nonce, ct, key, "yuki")) == (sign_seed, seeds)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda n, c, k, u, r: (n, c, secrets.token_bytes(32), u, r),
        lambda n, c, k, u, r: (n, c, k, u + "x", r),
        lambda n, c, k, u, r: (n, c, k, u, not r),
        lambda n, c, k, u, r: (n, flip(c, 5), k, u, r),
        lambda n, c, k, u, r: (flip(n), c, k, u, r),
        lambda n, c, k, u, r: (n[:-1], c, k, u, r),
    ],
    ids=["wrong-key", "wrong-username", "wrong-purpose", "tampered", "nonce", "nonce-size"],
)
def test_bundle_refuses_anything_changed(mutate: Callable[..., tuple]) -> None:  # type: ignore[type-arg]
    key = secrets.token_bytes(32)
    plain = p.bundle_plaintext(p.new_identity().seed, {1: p.new_box_seed()})
    nonce, ct = p.seal_bundle(plain, key, "yuki", recovery=True)
    n, c, k, u, r = mutate(nonce, ct, key, "yuki", True)
    with pytest.raises(p.BundleError):
        p.open_bundle(n, c, k, u, recovery=r)


@pytest.mark.parametrize(
    "plain",
    [
        b"not json",
        b"[]",
        b'{"v":2,"sign_seed":"","box_seeds":{}}',
        b'{"v":1,"sign_seed":"AAAA","box_seeds":{}}',
        b'{"v":1,"sign_seed":"' + p.b64e(bytes(32)).encode() + b'","box_seeds":[]}',
        b'{"v":1,"sign_seed":"' + p.b64e(bytes(32)).encode() + b'","box_seeds":{"0":""}}',
        b'{"v":1,"sign_seed":"' + p.b64e(bytes(32)).encode() + b'","box_seeds":{"1":"**"}}',
        b'{"v":1,"sign_seed":"' + p.b64e(bytes(32)).encode() + b'","box_seeds":{},"x":1}',
    ],
)
def test_parse_bundle_refuses_malformed(plain: bytes) -> None:
    with pytest.raises(p.BundleError):
        p.parse_bundle(plain)


# --- recovery key -----------------------------------------------------------------------


@given(st.binary(min_size=32, max_size=32))
def test_recovery_key_format_round_trip(key: bytes) -> None:
    text = p.format_recovery_key(key)
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){12}", text)
    assert p.parse_recovery_key(text) == key
    assert p.parse_recovery_key(text.lower().replace("-", "")) == key
    assert p.parse_recovery_key(" " + text.replace("-", " - ") + "\n") == key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "AAAA-BBBB",
        "A" * 51,
        "A" * 53,
        "1" + "A" * 51,  # 1 is not in the base32 alphabet
        "A" * 51 + "B",  # non-zero trailing bits: not a canonical encoding
        "A" * 51 + "=",
    ],
)
def test_parse_recovery_key_refuses_bad_input(text: str) -> None:
    with pytest.raises(ValueError, match="recovery key"):
        p.parse_recovery_key(text)


def test_recovery_auth_differs_from_key() -> None:
    key = p.new_recovery_key()
    assert p.recovery_auth(key) != key
    assert p.recovery_auth(key) != p.recovery_auth(p.new_recovery_key())


# --- key log ----------------------------------------------------------------------------


def test_keylog_chain_detects_a_changed_row() -> None:
    ident = p.new_identity()
    rows = [("u-1", ident.pk, p.box_keypair_from_seed(p.new_box_seed())[0], e, 1000 + e) for e in (1, 2, 3)]

    def head(entries: list[tuple[str, bytes, bytes, int, int]]) -> bytes:
        e = p.KEYLOG_GENESIS
        for row in entries:
            e = p.keylog_entry(e, *row)
        return e

    good = head(rows)
    changed = list(rows)
    changed[1] = (*rows[1][:4], rows[1][4] + 1)
    assert head(changed) != good
    assert head(rows[:2]) != good
    assert len(good) == 32


def test_checkpoint_message_layout() -> None:
    head = secrets.token_bytes(32)
    msg = p.checkpoint_message(7, head)
    assert msg == b"RN-keylog-checkpoint-v1" + (7).to_bytes(8, "big") + head
    with pytest.raises(ValueError, match="head"):
        p.checkpoint_message(7, head[:31])


# --- moderator certificates -------------------------------------------------------------


def test_modcert_valid_until_expiry() -> None:
    org = p.new_identity()
    mod = p.new_identity()
    sig = p.make_modcert(org.seed, "u-mod", mod.pk, 5000)
    assert p.verify_modcert(org.pk, "u-mod", mod.pk, 5000, sig, 4999)
    assert not p.verify_modcert(org.pk, "u-mod", mod.pk, 5000, sig, 5000)
    assert not p.verify_modcert(org.pk, "u-mod", mod.pk, 5001, sig, 10)
    assert not p.verify_modcert(org.pk, "u-other", mod.pk, 5000, sig, 10)
    assert not p.verify_modcert(p.new_identity().pk, "u-mod", mod.pk, 5000, sig, 10)
    assert not p.verify_modcert(org.pk, "u-mod", org.pk, 5000, sig, 10)
    assert p.make_modcert(org.sk, "u-mod", mod.pk, 5000) == sig


# --- safety number ----------------------------------------------------------------------


def test_safety_number_is_symmetric_and_key_dependent() -> None:
    a, b = p.new_identity(), p.new_identity()
    number = p.safety_number("u-a", a.pk, "u-b", b.pk)
    assert re.fullmatch(r"[0-9]{60}", number)
    assert p.safety_number("u-b", b.pk, "u-a", a.pk) == number
    halves = {number[:30], number[30:]}
    assert halves == {p.fingerprint_digits("u-a", a.pk), p.fingerprint_digits("u-b", b.pk)}
    assert number[:30] <= number[30:]
    assert p.safety_number("u-a", p.new_identity().pk, "u-b", b.pk) != number
    assert p.safety_number("u-c", a.pk, "u-b", b.pk) != number


# --- header and padding -----------------------------------------------------------------


def test_header_sorts_roster_by_code_point(people: dict[str, Member]) -> None:
    pk = people["u-child"].box_pk
    # JS's default sort would put U+1F600 (surrogate pair) before U+FF5E; code point
    # order, which both implementations use, puts it after.
    members = [p.RosterMember("😀", pk, 1), p.RosterMember("～", pk, 1), p.RosterMember("a", pk, 1)]
    header = p.build_header("c", bytes(16), "a", 1, people["u-parent"].identity.pk, members)
    assert [e.user_id for e in p.parse_header(header).roster] == ["a", "～", "😀"]


def test_header_refuses_bad_rosters(people: dict[str, Member]) -> None:
    pk = people["u-child"].box_pk
    ident = people["u-parent"].identity.pk
    with pytest.raises(ValueError, match="empty"):
        p.build_header("c", bytes(16), "a", 1, ident, [])
    with pytest.raises(ValueError, match="duplicate"):
        p.build_header("c", bytes(16), "a", 1, ident, [p.RosterMember("a", pk, 1)] * 2)
    with pytest.raises(ValueError, match="msg_id"):
        p.build_header("c", bytes(15), "a", 1, ident, [p.RosterMember("a", pk, 1)])
    with pytest.raises(ValueError, match="seq"):
        p.build_header("c", bytes(16), "a", 0, ident, [p.RosterMember("a", pk, 1)])


def test_parse_header_refuses_non_canonical(sent: p.SentMessage) -> None:
    header = sent.envelope.header
    for bad in (header[:-1], header + b"\x00", b"RNMSG2" + header[6:], header[:-40]):
        with pytest.raises(p.ProtocolError):
            p.parse_header(bad)
    parsed = p.parse_header(header)
    # swap two roster entries: still well-formed bytes, but no longer ascending
    entries = parsed.roster
    tail = b"".join(
        p.lp(e.user_id.encode()) + e.enc_pk_hash + p.u32(e.epoch) for e in (entries[1], entries[0], entries[2])
    )
    head_len = len(header) - sum(4 + len(e.user_id.encode()) + 36 for e in entries)
    with pytest.raises(p.ProtocolError, match="ascending"):
        p.parse_header(header[:head_len] + tail)


@settings(max_examples=200, deadline=None)
@given(unicode_text)
def test_pad_round_trip_any_unicode(text: str) -> None:
    m = p.pad_plaintext(text, SENT_AT)
    assert len(m) % 256 == 0
    raw = json.dumps({"text": text, "sent_at": SENT_AT}, ensure_ascii=False).encode()
    assert len(raw) < len(m) <= len(raw) + 256
    assert p.unpad_plaintext(m) == (text, SENT_AT)


def test_pad_sizes_at_block_boundaries() -> None:
    overhead = len(json.dumps({"text": "", "sent_at": SENT_AT}).encode())
    for json_len, padded in [(255, 256), (256, 512), (257, 512), (511, 512)]:
        m = p.pad_plaintext("x" * (json_len - overhead), SENT_AT)
        assert len(m) == padded


def test_pad_limits_text_length_in_code_points() -> None:
    assert len(p.pad_plaintext("🌸" * p.MAX_TEXT_CHARS, SENT_AT)) % 256 == 0
    with pytest.raises(ValueError, match="longer than") as info:
        p.pad_plaintext("secret" + "x" * p.MAX_TEXT_CHARS, SENT_AT)
    assert "secret" not in str(info.value)


def test_pad_refuses_lone_surrogate_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="surrogate") as info:
        p.pad_plaintext("secret \ud800", SENT_AT)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    "m",
    [
        b"",
        b"\x80" + bytes(254),
        b"{}" + b"\x80" + bytes(253),
        b'{"text": 1, "sent_at": "x"}'.ljust(255, b" ") + b"\x80",
        b'{"text": "a"}'.ljust(255, b" ") + b"\x80",
        b'{"text": "a", "sent_at": "b"}' + bytes(227),  # no 0x80 marker
        b"\xff\xfe".ljust(255, b" ") + b"\x80",
    ],
)
def test_unpad_refuses_malformed(m: bytes) -> None:
    with pytest.raises(p.ProtocolError):
        p.unpad_plaintext(m)


# --- encrypt and open -------------------------------------------------------------------


def test_every_roster_member_opens(
    people: dict[str, Member], roster: list[p.RosterMember], sent: p.SentMessage
) -> None:
    env = sent.envelope
    parsed = p.parse_header(env.header)
    assert [e.user_id for e in parsed.roster] == ["u-child", "u-mod", "u-parent"]
    assert parsed.msg_id == sent.msg_id
    assert len(env.wrapped) == 3
    for name in ("u-child", "u-mod", "u-parent"):
        opened = open_as(people[name], env, people["u-parent"], roster, conv_id="conv-9")
        assert (opened.text, opened.sent_at) == ("hello 🌸", SENT_AT)
        assert opened.kf == sent.kf
        assert opened.m == sent.m
        assert opened.header == parsed
        assert "hello" not in repr(opened)
    assert p.b64e(sent.kf) not in repr(sent)


def test_json_form_round_trips(people: dict[str, Member], roster: list[p.RosterMember], sent: p.SentMessage) -> None:
    data = json.loads(json.dumps(sent.envelope.to_json()))
    assert list(data) == ["header", "c", "kc", "nonce", "body", "wrapped", "sig"]
    env = p.Envelope.from_json(data)
    assert env == sent.envelope
    assert open_as(people["u-child"], env, people["u-parent"], roster).text == "hello 🌸"


@pytest.mark.parametrize(
    "change",
    [
        lambda d: {k: v for k, v in d.items() if k != "sig"},
        lambda d: {**d, "extra": "x"},
        lambda d: {**d, "c": d["c"] + "="},
        lambda d: {**d, "c": d["c"][:-2]},
        lambda d: {**d, "kc": 5},
        lambda d: {**d, "wrapped": []},
        lambda d: {**d, "wrapped": "abc"},
        lambda d: {**d, "wrapped": [d["wrapped"][0][:-4]]},
        lambda d: {**d, "wrapped": [1]},
        lambda d: {**d, "nonce": d["nonce"][:-4]},
        lambda d: {**d, "body": d["body"][:40]},
    ],
)
def test_envelope_from_json_refuses_malformed(
    sent: p.SentMessage, change: Callable[[dict[str, object]], dict[str, object]]
) -> None:
    with pytest.raises(p.ProtocolError):
        p.Envelope.from_json(change(sent.envelope.to_json()))


@settings(max_examples=25, deadline=None)
@given(text=unicode_text, seq=st.integers(min_value=1, max_value=2**32 - 1))
def test_round_trip_any_text_and_seq(
    people: dict[str, Member], roster: list[p.RosterMember], text: str, seq: int
) -> None:
    parent = people["u-parent"]
    sent = p.encrypt_message(parent.identity.sk, "conv-9", "u-parent", seq, roster, text, SENT_AT)
    opened = open_as(people["u-mod"], sent.envelope, parent, roster)
    assert opened.text == text
    assert opened.header.seq == seq
    assert len(sent.m) % 256 == 0


def reason_of(fn: Callable[[], object]) -> str:
    with pytest.raises(p.VerificationError) as info:
        fn()
    return info.value.reason


@pytest.mark.parametrize(
    ("field_name", "reason"),
    [
        ("c", "signature does not verify"),
        ("kc", "signature does not verify"),
        ("nonce", "signature does not verify"),
        ("body", "signature does not verify"),
        ("sig", "signature does not verify"),
        ("wrapped", "signature does not verify"),
        ("header", "header roster does not match the conversation's keys"),
    ],
)
def test_tampering_with_any_field_is_detected(
    people: dict[str, Member],
    roster: list[p.RosterMember],
    sent: p.SentMessage,
    field_name: str,
    reason: str,
) -> None:
    env = sent.envelope
    value = getattr(env, field_name)
    if field_name == "wrapped":
        changed = dataclasses.replace(env, wrapped=(flip(value[0], 40), *value[1:]))
    else:
        changed = dataclasses.replace(env, **{field_name: flip(value, len(value) - 1)})  # type: ignore[arg-type]
    child = people["u-child"]
    got = reason_of(lambda: open_as(child, changed, people["u-parent"], roster))
    assert got == reason
    assert "hello" not in got


def test_header_tampering_in_signed_part_fails_signature(
    people: dict[str, Member], roster: list[p.RosterMember], sent: p.SentMessage
) -> None:
    env = sent.envelope
    header = bytearray(env.header)
    seq_pos = 6 + 4 + len("conv-9") + 4 + 16 + 4 + len("u-parent")
    header[seq_pos + 3] ^= 1  # seq 3 -> 2: parses and matches the roster, but is signed
    changed = dataclasses.replace(env, header=bytes(header))
    got = reason_of(lambda: open_as(people["u-child"], changed, people["u-parent"], roster))
    assert got == "signature does not verify"


def test_open_refuses_wrong_context(
    people: dict[str, Member], roster: list[p.RosterMember], sent: p.SentMessage
) -> None:
    env = sent.envelope
    child, parent, mod = people["u-child"], people["u-parent"], people["u-mod"]
    outsider = make_member("u-outsider")

    assert reason_of(lambda: open_as(child, env, parent, roster, conv_id="conv-1")) == (
        "header names another conversation"
    )
    assert reason_of(lambda: open_as(child, env, mod, roster)) == ("header names another sender identity key")
    assert reason_of(lambda: open_as(outsider, env, parent, roster)) == ("I am not on the roster")
    new_epoch = [dataclasses.replace(r, epoch=2) if r.user_id == "u-child" else r for r in roster]
    assert reason_of(lambda: open_as(child, env, parent, new_epoch)) == (
        "header roster does not match the conversation's keys"
    )
    with_outsider = [*roster, outsider.roster_member]
    assert reason_of(lambda: open_as(outsider, env, parent, with_outsider)) == (
        "header roster does not match the conversation's keys"
    )
    other_key = dataclasses.replace(child, box_pk=outsider.box_pk, box_sk=outsider.box_sk)
    assert reason_of(lambda: open_as(other_key, env, parent, roster)) == ("header roster names another key for me")
    wrong_sk = dataclasses.replace(child, box_sk=outsider.box_sk)
    assert reason_of(lambda: open_as(wrong_sk, env, parent, roster)) == ("my wrapped key does not open")


def forge(
    sender: Member,
    roster: list[p.RosterMember],
    *,
    text: str = "shown to the child",
    child_key: bytes | None = None,
    commit_text: str | None = None,
    extra_wrapped: int = 0,
) -> p.Envelope:
    """A validly signed envelope built by a malicious sender, step by step."""
    members = sorted(roster, key=lambda r: r.user_id)
    header = p.build_header("conv-9", secrets.token_bytes(16), sender.user_id, 1, sender.identity.pk, members)
    m = p.pad_plaintext(text, SENT_AT)
    kf = secrets.token_bytes(32)
    committed = p.pad_plaintext(commit_text, SENT_AT) if commit_text is not None else m
    c = p.franking_commitment(kf, header, committed)
    key = secrets.token_bytes(32)
    kc = p.key_commitment(key)
    nonce = secrets.token_bytes(24)
    body = p.seal_body(key, nonce, header, c, kc, kf, m)
    wrapped = [p.wrap_key_for(child_key if (child_key and r.user_id == "u-child") else key, r.enc_pk) for r in members]
    wrapped += [wrapped[0]] * extra_wrapped
    sig = p.sign_detached(sender.identity.seed, p.sig_message(header, c, kc, nonce, body, wrapped))
    return p.Envelope(header, c, kc, nonce, body, tuple(wrapped), sig)


def test_forged_envelopes_from_a_signing_sender_are_refused(
    people: dict[str, Member], roster: list[p.RosterMember]
) -> None:
    child, parent = people["u-child"], people["u-parent"]
    honest = forge(parent, roster)
    assert open_as(child, honest, parent, roster).text == "shown to the child"

    # another K for the child than for the moderator: the key commitment catches it
    other_k = forge(parent, roster, child_key=secrets.token_bytes(32))
    assert reason_of(lambda: open_as(child, other_k, parent, roster)) == ("key commitment does not match")
    # committing to a text other than the one encrypted: reports would not match
    mismatched = forge(parent, roster, commit_text="something else")
    assert reason_of(lambda: open_as(child, mismatched, parent, roster)) == ("franking commitment does not match")
    too_many = forge(parent, roster, extra_wrapped=1)
    assert reason_of(lambda: open_as(child, too_many, parent, roster)) == (
        "one wrapped key per roster member is required"
    )
    outsider = make_member("u-outsider")
    off_roster = forge(outsider, roster)
    assert reason_of(lambda: open_as(child, off_roster, outsider, roster)) == ("sender is not on the roster")


def test_undecryptable_body_with_valid_signature_is_refused(
    people: dict[str, Member], roster: list[p.RosterMember]
) -> None:
    parent, child = people["u-parent"], people["u-child"]
    env = forge(parent, roster)
    body = flip(env.body, 3)
    sig = p.sign_detached(
        parent.identity.seed,
        p.sig_message(env.header, env.c, env.kc, env.nonce, body, env.wrapped),
    )
    bad = dataclasses.replace(env, body=body, sig=sig)
    assert reason_of(lambda: open_as(child, bad, parent, roster)) == "body does not decrypt"


def test_malformed_plaintext_inside_a_valid_envelope_is_refused(
    people: dict[str, Member], roster: list[p.RosterMember]
) -> None:
    parent, child = people["u-parent"], people["u-child"]
    members = sorted(roster, key=lambda r: r.user_id)
    header = p.build_header("conv-9", bytes(16), "u-parent", 1, parent.identity.pk, members)
    m = b"secret text, not JSON".ljust(255, b" ") + b"\x80"
    kf, key, nonce = secrets.token_bytes(32), secrets.token_bytes(32), secrets.token_bytes(24)
    c, kc = p.franking_commitment(kf, header, m), p.key_commitment(key)
    body = p.seal_body(key, nonce, header, c, kc, kf, m)
    wrapped = [p.wrap_key_for(key, r.enc_pk) for r in members]
    sig = p.sign_detached(parent.identity.seed, p.sig_message(header, c, kc, nonce, body, wrapped))
    env = p.Envelope(header, c, kc, nonce, body, tuple(wrapped), sig)
    with pytest.raises(p.VerificationError) as info:
        open_as(child, env, parent, roster)
    assert info.value.reason == "plaintext is malformed"
    assert "secret" not in str(info.value)


# --- server-side helpers ----------------------------------------------------------------


def test_report_verification(sent: p.SentMessage) -> None:
    env = sent.envelope
    assert p.verify_report(env.header, sent.m, sent.kf, env.c)
    assert not p.verify_report(env.header, flip(sent.m, 3), sent.kf, env.c)
    assert not p.verify_report(env.header, sent.m, flip(sent.kf), env.c)
    assert not p.verify_report(flip(env.header, 8), sent.m, sent.kf, env.c)
    assert not p.verify_report(env.header, sent.m, sent.kf[:31], env.c)


def test_reporting_rf_binds_every_input(sent: p.SentMessage) -> None:
    key = secrets.token_bytes(32)
    c, msg_id = sent.envelope.c, sent.msg_id
    rf = p.reporting_rf(key, c, "conv-9", msg_id, 1000)
    assert rf == p.reporting_rf(key, c, "conv-9", msg_id, 1000)
    others = {
        p.reporting_rf(secrets.token_bytes(32), c, "conv-9", msg_id, 1000),
        p.reporting_rf(key, flip(c), "conv-9", msg_id, 1000),
        p.reporting_rf(key, c, "conv-8", msg_id, 1000),
        p.reporting_rf(key, c, "conv-9", flip(msg_id), 1000),
        p.reporting_rf(key, c, "conv-9", msg_id, 1001),
    }
    assert rf not in others
    assert len(others) == 5


def test_convlog_receipt_and_modaction(sent: p.SentMessage) -> None:
    env = sent.envelope
    e1 = p.convlog_entry(p.CONVLOG_GENESIS, sent.msg_id, env.c, env.kc, env.nonce, env.body, env.sig, 5)
    e1b = p.convlog_entry(p.CONVLOG_GENESIS, sent.msg_id, env.c, env.kc, env.nonce, flip(env.body), env.sig, 5)
    assert len(e1) == 32
    assert e1 != e1b
    assert p.receipt_message(e1, 1) == b"RN-receipt-v1" + e1 + (1).to_bytes(8, "big")
    action = p.modaction_message(e1, "release", "ok")
    assert action == b"RN-modaction-v1" + e1 + p.lp(b"release") + p.lp(b"ok")
    server = p.new_identity()
    receipt = p.sign_detached(server.seed, p.receipt_message(e1, 1))
    assert p.verify_detached(server.pk, p.receipt_message(e1, 1), receipt)
    assert not p.verify_detached(server.pk, p.receipt_message(e1, 2), receipt)
    assert not p.verify_detached(server.pk[:31], p.receipt_message(e1, 1), receipt)
