// Check rncrypto.mjs against the shared protocol vectors.
// Usage: node tests/js/run-vectors.mjs tests/vectors/vectors-v1.json
// Prints "OK <check>" or "FAIL <check>: <why>" per check; exits 1 when any check fails.

import { readFileSync } from 'node:fs';
import * as rn from '../../reunite/static/js/rncrypto.mjs';

const path = process.argv[2];
if (!path) {
  console.error('usage: run-vectors.mjs VECTORS.json');
  process.exit(2);
}
await rn.ready();
const v = JSON.parse(readFileSync(path, 'utf8'));
const d = rn.b64d;
let failures = 0;

function check(name, fn) {
  try {
    const result = fn();
    if (result === true) {
      console.log(`OK ${name}`);
    } else {
      failures++;
      console.log(`FAIL ${name}: ${result}`);
    }
  } catch (err) {
    failures++;
    console.log(`FAIL ${name}: threw ${err && err.name}: ${err && err.message}`);
  }
}

function same(got, want) {
  const g = got instanceof Uint8Array ? rn.b64e(got) : got;
  return g === want ? true : `got ${g}, want ${want}`;
}

function throws(fn, cls, reason = null) {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof cls)) return `threw ${err.name} instead of ${cls.name}`;
    if (reason !== null && err.reason !== reason) return `reason ${err.reason}, want ${reason}`;
    return true;
  }
  return 'did not throw';
}

// --- derive --------------------------------------------------------------------------------
const dv = v.derive;
const salt = d(dv.salt);
let mk = null;
check('derive.MK', () => {
  mk = rn.deriveMasterKey(dv.password, salt, dv.ops, dv.mem);
  return same(mk, dv.MK);
});
check('derive.MK_nfd_same', () => {
  const nfd = dv.password.normalize('NFD');
  if (nfd === dv.password) return 'vector password has no NFD form';
  return same(rn.deriveMasterKey(nfd, salt, dv.ops, dv.mem), dv.MK) === true === dv.password_nfd_same_keys
    ? true
    : 'NFD form gives different keys';
});
check('derive.auth_key', () => same(rn.kdfDerive(d(dv.MK), 1, 'RNauth01'), dv.auth_key));
check('derive.wrap_key', () => same(rn.kdfDerive(d(dv.MK), 2, 'RNwrap01'), dv.wrap_key));
check('derive.kdf_params_refused', () => {
  for (const [ops, mem] of [[0, dv.mem], [11, dv.mem], [2, 1024], [2, 2 ** 31]]) {
    if (throws(() => rn.checkKdfParams(ops, mem), rn.ProtocolError) !== true) return `accepted ${ops},${mem}`;
  }
  return true;
});

// --- keys ----------------------------------------------------------------------------------
const k = v.keys;
const ident = rn.newIdentity(d(k.sign_seed));
const box = rn.boxKeypairFromSeed(d(k.box_seed));
check('keys.identity_pk', () => same(ident.pk, k.identity_pk));
check('keys.enc_pk', () => same(box.pk, k.enc_pk));
check('keys.enc_cert', () => same(rn.makeEncCert(ident.seed, k.username, box.pk, k.epoch), k.enc_cert));
check('keys.enc_cert_from_sk', () => same(rn.makeEncCert(ident.sk, k.username, box.pk, k.epoch), k.enc_cert));
check('keys.enc_cert_verifies', () =>
  rn.verifyEncCert(ident.pk, k.username, box.pk, k.epoch, d(k.enc_cert)) === true &&
  rn.verifyEncCert(ident.pk, k.username + 'x', box.pk, k.epoch, d(k.enc_cert)) === false &&
  rn.verifyEncCert(ident.pk, k.username, box.pk, k.epoch + 1, d(k.enc_cert)) === false
    ? true
    : 'verification result wrong',
);

// --- bundle --------------------------------------------------------------------------------
const b = v.bundle;
const boxSeeds = new Map([[k.epoch, d(k.box_seed)]]);
check('bundle.plaintext', () => same(new TextDecoder().decode(rn.bundlePlaintext(ident.seed, boxSeeds)), b.plaintext));
check('bundle.ciphertext', () => {
  const sealed = rn.sealBundle(new TextEncoder().encode(b.plaintext), d(dv.wrap_key), k.username, d(b.nonce));
  return same(sealed.ciphertext, b.ciphertext);
});
check('bundle.opens_and_parses', () => {
  const pt = rn.openBundle(d(b.nonce), d(b.ciphertext), d(dv.wrap_key), k.username);
  const parsed = rn.parseBundle(pt);
  return rn.b64e(parsed.signSeed) === k.sign_seed && rn.b64e(parsed.boxSeeds.get(1)) === k.box_seed
    ? true
    : 'parsed seeds differ';
});
check('bundle.wrong_username_refused', () =>
  throws(() => rn.openBundle(d(b.nonce), d(b.ciphertext), d(dv.wrap_key), 'yuko'), rn.BundleError),
);
check('bundle.recovery_ad_differs', () =>
  throws(() => rn.openBundle(d(b.nonce), d(b.ciphertext), d(dv.wrap_key), k.username, { recovery: true }), rn.BundleError),
);

// --- recovery ------------------------------------------------------------------------------
const r = v.recovery;
check('recovery.recovery_auth', () => same(rn.recoveryAuth(d(r.recovery_key)), r.recovery_auth));
check('recovery.format_round_trip', () => {
  const text = rn.formatRecoveryKey(d(r.recovery_key));
  const sloppy = text.toLowerCase().replaceAll('-', ' ');
  return same(rn.parseRecoveryKey(sloppy), r.recovery_key);
});

// --- message -------------------------------------------------------------------------------
const m = v.message;
const roster = m.roster.map((x) => ({ userId: x.user_id, encPk: d(x.enc_pk), epoch: x.epoch }));
const header = rn.buildHeader(m.conv_id, d(m.msg_id), m.sender_id, m.seq, ident.pk, roster);
const padded = d(m.padded_plaintext);
check('message.header', () => same(header, m.header));
check('message.parse_header', () => {
  const p = rn.parseHeader(d(m.header));
  return p.convId === m.conv_id &&
    rn.b64e(p.msgId) === m.msg_id &&
    p.senderId === m.sender_id &&
    p.seq === m.seq &&
    p.roster.length === 1 &&
    p.roster[0].userId === 'u-child'
    ? true
    : 'parsed fields differ';
});
check('message.padded_plaintext', () => {
  const text = rn.unpadPlaintext(padded);
  return same(rn.padPlaintext(text.text, text.sentAt), m.padded_plaintext);
});
check('message.c', () => same(rn.frankingCommitment(d(m.kf), header, padded), m.c));
check('message.kc', () => same(rn.keyCommitment(d(m.K)), m.kc));
check('message.body', () => same(rn.sealBody(d(m.K), d(m.nonce), header, d(m.c), d(m.kc), d(m.kf), padded), m.body));
const envelope = {
  header: d(m.header),
  c: d(m.c),
  kc: d(m.kc),
  nonce: d(m.nonce),
  body: d(m.body),
  wrapped: m.wrapped.map(d),
  sig: d(m.sig),
};
check('message.sig', () =>
  same(rn.signDetached(ident.seed, rn.sigMessage(envelope.header, envelope.c, envelope.kc, envelope.nonce, envelope.body, envelope.wrapped)), m.sig),
);
check('message.sig_verifies', () => rn.verifyEnvelopeSignature(ident.pk, envelope) === true || 'does not verify');
check('message.wrapped_opens_to_K', () => same(rn.unwrapKey(envelope.wrapped[0], box.pk, box.sk), m.K));
check('message.body_opens', () => {
  const inner = rn.openBody(d(m.K), envelope.nonce, envelope.header, envelope.c, envelope.kc, envelope.body);
  return same(inner.slice(0, 32), m.kf) === true && same(inner.slice(32), m.padded_plaintext) === true
    ? true
    : 'kf ‖ m differ';
});
check('message.report_verifies', () => rn.verifyReport(envelope.header, padded, d(m.kf), envelope.c) === true || 'no');
check('message.json_round_trip', () => {
  const again = rn.envelopeFromJson(JSON.parse(JSON.stringify(rn.envelopeToJson(envelope))));
  return rn.verifyEnvelopeSignature(ident.pk, again) === true || 'round trip broke the signature';
});
// The vector's roster holds only the child, so a full open must refuse: the sender is not on it.
check('message.open_envelope_sender_not_on_roster', () =>
  throws(
    () => rn.openEnvelope(envelope, 'u-child', box.pk, box.sk, ident.pk, roster),
    rn.VerificationError,
    'sender is not on the roster',
  ),
);

if (failures > 0) {
  console.log(`${failures} vector check(s) failed`);
  process.exit(1);
}
console.log('all vector checks passed');
