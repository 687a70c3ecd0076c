"""The browser's rncrypto.mjs matches the vectors and interoperates with the Python client.

Runs Node 20 on tests/js/*.mjs. Node and node_modules are required (the test command runs
``npm ci`` first): their absence fails these tests instead of skipping them.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reunite.client import protocol as p

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "vectors-v1.json"
SENT_AT = "2026-11-27T10:00:00Z"

EXPECTED_CHECKS = {
    "derive.MK",
    "derive.MK_nfd_same",
    "derive.auth_key",
    "derive.wrap_key",
    "keys.identity_pk",
    "keys.enc_pk",
    "keys.enc_cert",
    "bundle.plaintext",
    "bundle.ciphertext",
    "bundle.opens_and_parses",
    "recovery.recovery_auth",
    "message.header",
    "message.padded_plaintext",
    "message.c",
    "message.kc",
    "message.body",
    "message.sig",
    "message.sig_verifies",
    "message.wrapped_opens_to_K",
}

TRICKY_TEXTS = [
    "",
    "plain",
    'quote " backslash \\ slash /',
    "controls \x00\x01\x08\x09\x0a\x0c\x0d\x1f\x7f",
    "line sep \u2028 para sep \u2029 bom \ufeff",
    "会いたい / miss you 🌸👨‍👩‍👧",
    "Ḁ̸͓ combining é vs é",
    "x" * 300,
]


def random_texts(count: int) -> list[str]:
    """Texts of random Unicode scalar values, weighted towards ASCII controls and the BMP."""
    ranges = [(0, 0x7F), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF)]
    texts = []
    for _ in range(count):
        chars = []
        for _ in range(secrets.randbelow(80)):
            lo, hi = ranges[secrets.randbelow(len(ranges))]
            chars.append(chr(lo + secrets.randbelow(hi - lo + 1)))
        texts.append("".join(chars))
    return texts


@pytest.fixture(scope="module")
def node() -> str:
    path = shutil.which("node")
    assert path is not None, "node is required for the JavaScript tests"
    sodium = ROOT / "node_modules" / "libsodium-wrappers-sumo" / "package.json"
    assert sodium.is_file(), "run `npm ci` first: node_modules is missing"
    return path


def run_node(node: str, script: str, *args: str, stdin: str = "") -> str:
    proc = subprocess.run(
        [node, str(ROOT / "tests" / "js" / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    # minified library sources can appear in a stack trace: keep only the end
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc.stdout


def interop(node: str, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = run_node(node, "interop.mjs", stdin=json.dumps({"requests": requests}))
    responses: list[dict[str, Any]] = json.loads(out)["responses"]
    assert len(responses) == len(requests)
    return responses


def b(data: bytes) -> dict[str, str]:
    return {"b": p.b64e(data)}


def roster_json(roster: list[p.RosterMember]) -> list[dict[str, Any]]:
    return [{"user_id": r.user_id, "enc_pk": p.b64e(r.enc_pk), "epoch": r.epoch} for r in roster]


class Person:
    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.identity = p.new_identity()
        self.box_seed = p.new_box_seed()
        self.box_pk, self.box_sk = p.box_keypair_from_seed(self.box_seed)


@pytest.fixture(scope="module")
def people() -> dict[str, Person]:
    return {n: Person(n) for n in ("u-child", "u-parent", "u-mod")}


@pytest.fixture(scope="module")
def roster(people: dict[str, Person]) -> list[p.RosterMember]:
    return [p.RosterMember(x.user_id, x.box_pk, 1) for x in people.values()]


def test_js_reproduces_every_vector(node: str) -> None:
    out = run_node(node, "run-vectors.mjs", str(VECTORS))
    ok = set(re.findall(r"^OK (\S+)$", out, flags=re.MULTILINE))
    assert "FAIL" not in out
    assert EXPECTED_CHECKS <= ok
    assert out.rstrip().endswith("all vector checks passed")


def test_python_envelope_opens_in_js(node: str, people: dict[str, Person], roster: list[p.RosterMember]) -> None:
    parent = people["u-parent"]
    sent = [
        p.encrypt_message(parent.identity.seed, "conv-7", "u-parent", i + 1, roster, t, SENT_AT)
        for i, t in enumerate(TRICKY_TEXTS)
    ]
    tampered = sent[1].envelope.to_json()
    tampered["c"] = p.b64e(bytes(32))
    requests: list[dict[str, Any]] = [
        {
            "op": "open",
            "envelope": s.envelope.to_json(),
            "user_id": who,
            "box_seed": p.b64e(people[who].box_seed),
            "sender_identity_pk": p.b64e(parent.identity.pk),
            "roster": roster_json(roster),
            "conv_id": "conv-7",
        }
        for s in sent
        for who in ("u-child", "u-mod")
    ]
    requests.append({**requests[2], "envelope": tampered})
    responses = interop(node, requests)
    for i, resp in enumerate(responses[:-1]):
        s = sent[i // 2]
        assert resp["ok"], resp
        assert resp["text"] == TRICKY_TEXTS[i // 2]
        assert resp["sent_at"] == SENT_AT
        assert p.b64d(resp["kf"]) == s.kf
        assert p.b64d(resp["m"]) == s.m
    assert responses[-1] == {
        "ok": False,
        "error": "VerificationError",
        "reason": "signature does not verify",
    }


def test_js_envelope_opens_in_python(node: str, people: dict[str, Person], roster: list[p.RosterMember]) -> None:
    parent = people["u-parent"]
    requests = [
        {
            "op": "encrypt",
            "sign_seed": p.b64e(parent.identity.seed),
            "conv_id": "conv-7",
            "sender_id": "u-parent",
            "seq": i + 1,
            "roster": roster_json(roster),
            "text": text,
            "sent_at": SENT_AT,
        }
        for i, text in enumerate(TRICKY_TEXTS)
    ]
    for text, resp in zip(TRICKY_TEXTS, interop(node, requests), strict=True):
        assert resp["ok"], resp
        env = p.Envelope.from_json(resp["envelope"])
        assert p.b64d(resp["msg_id"]) == p.parse_header(env.header).msg_id
        for who in ("u-child", "u-mod", "u-parent"):
            me = people[who]
            opened = p.open_envelope(env, who, me.box_pk, me.box_sk, parent.identity.pk, roster, conv_id="conv-7")
            assert opened.text == text
            assert opened.kf == p.b64d(resp["kf"])
            assert opened.m == p.b64d(resp["m"])
        # same plaintext bytes as Python would have produced
        assert p.b64d(resp["m"]) == p.pad_plaintext(text, SENT_AT)


def test_functions_agree(node: str, people: dict[str, Person]) -> None:
    child, mod = people["u-child"], people["u-mod"]
    e = secrets.token_bytes(32)
    key = secrets.token_bytes(32)
    rk = p.new_recovery_key()
    seeds = {2: p.new_box_seed(), 1: p.new_box_seed()}
    members = [
        p.RosterMember("😀", child.box_pk, 3),
        p.RosterMember("～", mod.box_pk, 1),
        p.RosterMember("a", child.box_pk, 2),
    ]
    header = p.build_header("c-1", bytes(range(16)), "a", 9, mod.identity.pk, members)
    nonce = secrets.token_bytes(24)
    calls: list[tuple[str, list[Any], object]] = [
        (
            "safetyNumber",
            ["u-child", b(child.identity.pk), "u-mod", b(mod.identity.pk)],
            p.safety_number("u-child", child.identity.pk, "u-mod", mod.identity.pk),
        ),
        (
            "keylogEntry",
            [b(e), "u-1", b(child.identity.pk), b(child.box_pk), 7, 1764237600000],
            p.keylog_entry(e, "u-1", child.identity.pk, child.box_pk, 7, 1764237600000),
        ),
        ("checkpointMessage", [12, b(e)], p.checkpoint_message(12, e)),
        (
            "modcertMessage",
            ["u-mod", b(mod.identity.pk), 2**50],
            p.modcert_message("u-mod", mod.identity.pk, 2**50),
        ),
        (
            "makeModcert",
            [b(child.identity.seed), "u-mod", b(mod.identity.pk), 99],
            p.make_modcert(child.identity.seed, "u-mod", mod.identity.pk, 99),
        ),
        (
            "reportingRf",
            [b(key), b(e), "conv-7", b(bytes(16)), 123456789],
            p.reporting_rf(key, e, "conv-7", bytes(16), 123456789),
        ),
        (
            "convlogEntry",
            [b(e), b(bytes(16)), b(key), b(e), b(nonce), b(b"body"), b(bytes(64)), 5],
            p.convlog_entry(e, bytes(16), key, e, nonce, b"body", bytes(64), 5),
        ),
        ("receiptMessage", [b(e), 3], p.receipt_message(e, 3)),
        (
            "modactionMessage",
            [b(e), "reject", "nicht erlaubt"],
            p.modaction_message(e, "reject", "nicht erlaubt"),
        ),
        ("formatRecoveryKey", [b(rk)], p.format_recovery_key(rk)),
        ("parseRecoveryKey", [p.format_recovery_key(rk).lower()], rk),
        ("recoveryAuth", [b(rk)], p.recovery_auth(rk)),
        (
            "bundlePlaintext",
            [b(child.identity.seed), {str(k): b(v) for k, v in seeds.items()}],
            p.bundle_plaintext(child.identity.seed, seeds),
        ),
        (
            "encCertMessage",
            ["ユキ", b(child.box_pk), 4],
            p.enc_cert_message("ユキ", child.box_pk, 4),
        ),
        (
            "buildHeader",
            [
                "c-1",
                b(bytes(range(16))),
                "a",
                9,
                b(mod.identity.pk),
                [{"userId": r.user_id, "encPk": b(r.enc_pk), "epoch": r.epoch} for r in members],
            ],
            header,
        ),
        (
            "sigMessage",
            [b(header), b(e), b(key), b(nonce), b(b"x"), [b(e), b(key)]],
            p.sig_message(header, e, key, nonce, b"x", [e, key]),
        ),
        ("kdfDerive", [b(key), 2**40 + 5, "RNtest01"], p.kdf_derive(key, 2**40 + 5, "RNtest01")),
    ]
    calls += [("padPlaintext", [t, SENT_AT], p.pad_plaintext(t, SENT_AT)) for t in [*TRICKY_TEXTS, *random_texts(60)]]
    requests = [{"op": "call", "fn": fn, "args": args} for fn, args, _ in calls]
    for (fn, _, want), resp in zip(calls, interop(node, requests), strict=True):
        assert resp["ok"], (fn, resp)
        got = resp["result"]
        expected = b(want) if isinstance(want, bytes) else want
        assert got == expected, fn


def test_js_refuses_what_python_refuses(node: str) -> None:
    bad_b64 = ["A", "AB=", "a+b/", "AB", "AAAAA"]
    bad_recovery = ["A" * 51 + "B", "1" + "A" * 51, "AAAA"]
    requests: list[dict[str, Any]] = [{"op": "call", "fn": "b64d", "args": [s]} for s in bad_b64]
    requests += [{"op": "call", "fn": "parseRecoveryKey", "args": [s]} for s in bad_recovery]
    requests.append({"op": "call", "fn": "padPlaintext", "args": ["x" * 16001, SENT_AT]})
    requests.append({"op": "call", "fn": "checkKdfParams", "args": [2, 1024]})
    for resp in interop(node, requests):
        assert resp["ok"] is False
        assert resp["error"] == "ProtocolError"


def test_login_keys_agree_at_small_cost(node: str) -> None:
    salt = p.new_salt()
    password = "Ame\u0301lie パスワード"  # NFD é: both sides must normalise to NFC
    keys = p.derive_login_keys(password, salt, p.MIN_OPS, p.MIN_MEM)
    requests = [{"op": "call", "fn": "deriveLoginKeys", "args": [password, b(salt), p.MIN_OPS, p.MIN_MEM]}]
    (resp,) = interop(node, requests)
    assert resp["ok"], resp
    assert resp["result"] == {"authKey": b(keys.auth_key), "wrapKey": b(keys.wrap_key)}
