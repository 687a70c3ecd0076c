// Protocol v1 primitives for the browser (and Node): the JavaScript twin of
// reunite/client/protocol.py, on libsodium-wrappers-sumo. Every function has the Python
// name in camelCase and produces the same bytes; tests/js/run-vectors.mjs and
// tests/client/test_js_vectors.py prove it against tests/vectors/vectors-v1.json.
//
// Bytes are Uint8Array, strings are JS strings (UTF-8 on the wire), 64-bit values accept a
// safe integer Number or a BigInt. Call `await ready()` once before anything else.
// Secrets and plaintexts never go into an error message.

import sodium from 'libsodium-wrappers-sumo';

// --- constants ---------------------------------------------------------------------------

export const DEFAULT_OPS = 2;
export const DEFAULT_MEM = 67108864; // 64 MiB, libsodium's INTERACTIVE limits
export const MIN_OPS = 1;
export const MAX_OPS = 10;
export const MIN_MEM = 8 * 1024 * 1024;
export const MAX_MEM = 1024 * 1024 * 1024;
export const PAD_BLOCK = 256;
export const MAX_TEXT_CHARS = 16000;
export const KEYLOG_GENESIS = new Uint8Array(32);
export const CONVLOG_GENESIS = new Uint8Array(32);

const KEY_BYTES = 32;
const SALT_BYTES = 16;
const NONCE_BYTES = 24;
const SIG_BYTES = 64;
const MSG_ID_BYTES = 16;
const SEALED_KEY_BYTES = KEY_BYTES + 48;
const FINGERPRINT_ITERATIONS = 5200;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Resolve once libsodium's WebAssembly is loaded; await before any other call. */
export async function ready() {
  await sodium.ready;
}

// --- errors ------------------------------------------------------------------------------

/** Input that does not follow protocol v1 (malformed, wrong size, bad encoding). */
export class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** A sealed key bundle did not open: wrong key, wrong username or tampered bytes. */
export class BundleError extends ProtocolError {
  constructor(message) {
    super(message);
    this.name = 'BundleError';
  }
}

/** A received envelope failed a check; `reason` says which (never plaintext). */
export class VerificationError extends ProtocolError {
  constructor(reason) {
    super(reason);
    this.name = 'VerificationError';
    this.reason = reason;
  }
}

// --- encoding ----------------------------------------------------------------------------

function isBytes(x) {
  return x instanceof Uint8Array;
}

function need(value, size, name) {
  if (!isBytes(value) || value.length !== size) {
    throw new ProtocolError(`${name} must be ${size} bytes`);
  }
}

function concat(...parts) {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function ascii(text) {
  return enc.encode(text);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** UTF-8 bytes of a string; refuses lone surrogates (TextEncoder would silently replace). */
export function utf8(text) {
  if (typeof text !== 'string') throw new ProtocolError('expected a string');
  if (LONE_SURROGATE.test(text)) {
    throw new ProtocolError('string is not valid Unicode (lone surrogate)');
  }
  return enc.encode(text);
}

function eq(a, b) {
  return isBytes(a) && isBytes(b) && a.length === b.length && sodium.memcmp(a, b);
}

/** base64url without padding (libsodium's default `to_base64`). */
export function b64e(bytes) {
  return sodium.to_base64(bytes, sodium.base64_variants.URLSAFE_NO_PADDING);
}

/** Strict base64url decoding: one accepted encoding per byte string, else ProtocolError. */
export function b64d(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
    throw new ProtocolError('invalid base64url');
  }
  let out;
  try {
    out = sodium.from_base64(text, sodium.base64_variants.URLSAFE_NO_PADDING);
  } catch {
    throw new ProtocolError('invalid base64url');
  }
  if (b64e(out) !== text) throw new ProtocolError('invalid base64url (non-canonical)');
  return out;
}

function uint(n, size) {
  if (typeof n === 'bigint') {
    if (n < 0n || n >= 1n << BigInt(8 * size)) {
      throw new ProtocolError(`integer out of range for ${size} bytes`);
    }
  } else if (!Number.isSafeInteger(n) || n < 0 || (size < 8 && n >= 2 ** (8 * size))) {
    throw new ProtocolError(`integer out of range for ${size} bytes`);
  }
  const out = new Uint8Array(size);
  let v = BigInt(n);
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Big-endian unsigned 16-bit integer. */
export function u16(n) {
  return uint(n, 2);
}

/** Big-endian unsigned 32-bit integer. */
export function u32(n) {
  return uint(n, 4);
}

/** Big-endian unsigned 64-bit integer (Number or BigInt). */
export function u64(n) {
  return uint(n, 8);
}

/** Length prefix: u32(len) ‖ bytes. */
export function lp(bytes) {
  return concat(u32(bytes.length), bytes);
}

function lps(text) {
  return lp(utf8(text));
}

/** BLAKE2b-256 (crypto_generichash), optionally keyed. */
export function blake2b256(data, key = null) {
  return sodium.crypto_generichash(32, data, key);
}

function sha256(data) {
  return sodium.crypto_hash_sha256(data);
}

function hmac256(key, data) {
  return sodium.crypto_auth_hmacsha256(data, key);
}

// --- 1. password to keys -----------------------------------------------------------------

/** Refuse Argon2id parameters outside ops 1..10, mem 8 MiB..1 GiB (ProtocolError). */
export function checkKdfParams(ops, mem) {
  if (!Number.isSafeInteger(ops) || !Number.isSafeInteger(mem)) {
    throw new ProtocolError('KDF parameters must be integers');
  }
  if (ops < MIN_OPS || ops > MAX_OPS) throw new ProtocolError(`ops must be in ${MIN_OPS}..${MAX_OPS}`);
  if (mem < MIN_MEM || mem > MAX_MEM) {
    throw new ProtocolError(`mem must be in ${MIN_MEM}..${MAX_MEM} bytes`);
  }
}

/** Random 16-byte Argon2id salt. */
export function newSalt() {
  return sodium.randombytes_buf(SALT_BYTES);
}

/** MK = Argon2id13(32, NFC(password), salt16, ops, mem). */
export function deriveMasterKey(password, salt, ops = DEFAULT_OPS, mem = DEFAULT_MEM) {
  need(salt, SALT_BYTES, 'salt');
  checkKdfParams(ops, mem);
  const pw = utf8(password.normalize('NFC'));
  return sodium.crypto_pwhash(KEY_BYTES, pw, salt, ops, mem, sodium.crypto_pwhash_ALG_ARGON2ID13);
}

/** crypto_kdf_derive_from_key(32, subkeyId, ctx8, key). */
export function kdfDerive(key, subkeyId, ctx8) {
  need(key, KEY_BYTES, 'key');
  if (typeof ctx8 !== 'string' || !/^[\x00-\x7f]{8}$/.test(ctx8)) {
    throw new ProtocolError('context must be 8 ASCII characters');
  }
  u64(subkeyId);
  // the wrapper takes Numbers only up to 32 bits; a BigInt covers the whole u64 range
  return sodium.crypto_kdf_derive_from_key(KEY_BYTES, BigInt(subkeyId), ctx8, key);
}

/** {authKey (id 1, "RNauth01"), wrapKey (id 2, "RNwrap01")} from a password. */
export function deriveLoginKeys(password, salt, ops = DEFAULT_OPS, mem = DEFAULT_MEM) {
  const mk = deriveMasterKey(password, salt, ops, mem);
  const keys = { authKey: kdfDerive(mk, 1, 'RNauth01'), wrapKey: kdfDerive(mk, 2, 'RNwrap01') };
  sodium.memzero(mk);
  return keys;
}

// --- 2. identity and encryption keys -----------------------------------------------------

/** Ed25519 identity {seed, sk (64 bytes), pk}, random or rebuilt from its seed. */
export function newIdentity(signSeed = null) {
  const seed = signSeed === null ? sodium.randombytes_buf(KEY_BYTES) : signSeed;
  need(seed, KEY_BYTES, 'sign_seed');
  const kp = sodium.crypto_sign_seed_keypair(seed);
  return { seed: Uint8Array.from(seed), sk: kp.privateKey, pk: kp.publicKey };
}

/** Random 32-byte seed for an X25519 key pair. */
export function newBoxSeed() {
  return sodium.randombytes_buf(KEY_BYTES);
}

/** crypto_box_seed_keypair: {pk, sk}. */
export function boxKeypairFromSeed(seed) {
  need(seed, KEY_BYTES, 'box seed');
  const kp = sodium.crypto_box_seed_keypair(seed);
  return { pk: kp.publicKey, sk: kp.privateKey };
}

function signingSk(secret) {
  if (isBytes(secret) && secret.length === 64) {
    if (!eq(sodium.crypto_sign_ed25519_sk_to_pk(secret), secret.subarray(32))) {
      throw new ProtocolError('secret key does not match its public half');
    }
    return secret;
  }
  need(secret, KEY_BYTES, 'signing seed');
  return sodium.crypto_sign_seed_keypair(secret).privateKey;
}

/** Ed25519 detached signature with a 32-byte seed or 64-byte secret key. */
export function signDetached(secret, message) {
  return sodium.crypto_sign_detached(message, signingSk(secret));
}

/** True when sig is a valid Ed25519 signature of message under pk. */
export function verifyDetached(pk, message, sig) {
  if (!isBytes(pk) || pk.length !== KEY_BYTES || !isBytes(sig) || sig.length !== SIG_BYTES) {
    return false;
  }
  try {
    return sodium.crypto_sign_verify_detached(sig, message, pk);
  } catch {
    return false;
  }
}

/** "RN-enckey-v1" ‖ lp(username) ‖ enc_pk ‖ u32(epoch). */
export function encCertMessage(username, encPk, epoch) {
  need(encPk, KEY_BYTES, 'enc_pk');
  return concat(ascii('RN-enckey-v1'), lps(username), encPk, u32(epoch));
}

/** Sign an encryption key with the identity key (seed or 64-byte sk). */
export function makeEncCert(signSecret, username, encPk, epoch) {
  return signDetached(signSecret, encCertMessage(username, encPk, epoch));
}

/** True when cert binds encPk at epoch to username's identity key. */
export function verifyEncCert(identityPk, username, encPk, epoch, cert) {
  let message;
  try {
    message = encCertMessage(username, encPk, epoch);
  } catch {
    return false;
  }
  return verifyDetached(identityPk, message, cert);
}

// --- 3. key bundles ----------------------------------------------------------------------

function seedEntries(boxSeeds) {
  const entries = boxSeeds instanceof Map ? [...boxSeeds] : Object.entries(boxSeeds);
  return entries.map(([e, s]) => [Number(e), s]).sort((a, b) => a[0] - b[0]);
}

/** Compact JSON {"v":1,"sign_seed":B64,"box_seeds":{"<epoch>":B64}}, epochs ascending. */
export function bundlePlaintext(signSeed, boxSeeds) {
  need(signSeed, KEY_BYTES, 'sign_seed');
  const parts = [];
  for (const [epoch, seed] of seedEntries(boxSeeds)) {
    u32(epoch);
    if (epoch < 1) throw new ProtocolError('epochs start at 1');
    need(seed, KEY_BYTES, 'box seed');
    parts.push(`"${epoch}":"${b64e(seed)}"`);
  }
  return ascii(`{"v":1,"sign_seed":"${b64e(signSeed)}","box_seeds":{${parts.join(',')}}}`);
}

/** Parse an opened bundle into {signSeed, boxSeeds: Map<epoch, seed>}; BundleError if not v1. */
export function parseBundle(plaintext) {
  let doc;
  try {
    doc = JSON.parse(dec.decode(plaintext));
  } catch {
    throw new BundleError('bundle is not JSON');
  }
  if (
    doc === null ||
    typeof doc !== 'object' ||
    Array.isArray(doc) ||
    doc.v !== 1 ||
    Object.keys(doc).sort().join(',') !== 'box_seeds,sign_seed,v'
  ) {
    throw new BundleError('not a v1 bundle');
  }
  const raw = doc.box_seeds;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new BundleError('box_seeds must be an object');
  }
  let signSeed;
  const boxSeeds = new Map();
  try {
    signSeed = b64d(doc.sign_seed);
    for (const [name, value] of Object.entries(raw)) {
      if (!/^[1-9][0-9]{0,9}$/.test(name) || Number(name) >= 2 ** 32) {
        throw new BundleError('bad epoch in bundle');
      }
      boxSeeds.set(Number(name), b64d(value));
    }
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError('bad base64 in bundle');
  }
  if (signSeed.length !== KEY_BYTES || [...boxSeeds.values()].some((s) => s.length !== KEY_BYTES)) {
    throw new BundleError('bundle seeds must be 32 bytes');
  }
  return { signSeed, boxSeeds };
}

function bundleAd(username, recovery) {
  return concat(ascii(recovery ? 'RN-recovery-v1' : 'RN-bundle-v1'), lps(username));
}

/** XChaCha20-Poly1305 seal under wrap_key (or the recovery key): {nonce, ciphertext}. */
export function sealBundle(plaintext, key, username, nonce = null, { recovery = false } = {}) {
  need(key, KEY_BYTES, 'key');
  const n = nonce === null ? sodium.randombytes_buf(NONCE_BYTES) : nonce;
  need(n, NONCE_BYTES, 'nonce');
  const ciphertext = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    plaintext,
    bundleAd(username, recovery),
    null,
    n,
    key,
  );
  return { nonce: Uint8Array.from(n), ciphertext };
}

/** Open a sealed bundle; BundleError on wrong key, wrong username or tampering. */
export function openBundle(nonce, ciphertext, key, username, { recovery = false } = {}) {
  need(key, KEY_BYTES, 'key');
  if (!isBytes(nonce) || nonce.length !== NONCE_BYTES) throw new BundleError('bad nonce size');
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      null,
      ciphertext,
      bundleAd(username, recovery),
      nonce,
      key,
    );
  } catch {
    throw new BundleError('bundle does not open with this key');
  }
}

// --- 4. recovery key ---------------------------------------------------------------------

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 32 random bytes, shown once via formatRecoveryKey. */
export function newRecoveryKey() {
  return sodium.randombytes_buf(KEY_BYTES);
}

/** crypto_kdf_derive_from_key(32, 3, "RNrecv01", recoveryKey). */
export function recoveryAuth(recoveryKey) {
  return kdfDerive(recoveryKey, 3, 'RNrecv01');
}

function base32(bytes) {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

/** RFC 4648 base32, no padding, upper case, 13 dash-separated groups of 4. */
export function formatRecoveryKey(key) {
  need(key, KEY_BYTES, 'recovery key');
  return base32(key).match(/.{1,4}/g).join('-');
}

/** Read a typed recovery key (any case, spaces/dashes optional); ProtocolError if invalid. */
export function parseRecoveryKey(text) {
  if (typeof text !== 'string') throw new ProtocolError('recovery key must be text');
  const compact = text.replace(/[\s-]+/g, '').toUpperCase();
  if (compact.length !== 52 || !/^[A-Z2-7]+$/.test(compact)) {
    throw new ProtocolError('a recovery key has 52 letters and digits 2-7');
  }
  const out = new Uint8Array(KEY_BYTES);
  let acc = 0;
  let bits = 0;
  let pos = 0;
  for (const ch of compact) {
    acc = (acc << 5) | B32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      if (pos < KEY_BYTES) out[pos] = (acc >>> (bits - 8)) & 0xff;
      pos += 1;
      bits -= 8;
    }
    acc &= (1 << bits) - 1;
  }
  if (pos !== KEY_BYTES || acc !== 0) throw new ProtocolError('invalid recovery key');
  return out;
}

// --- 5. key log --------------------------------------------------------------------------

/** e_i = SHA-256("RN-keylog-v1" ‖ prev ‖ lp(user_id) ‖ identity_pk ‖ enc_pk ‖ u32(epoch) ‖ u64(ms)). */
export function keylogEntry(prev, userId, identityPk, encPk, epoch, ms) {
  need(prev, 32, 'prev');
  need(identityPk, KEY_BYTES, 'identity_pk');
  need(encPk, KEY_BYTES, 'enc_pk');
  return sha256(
    concat(ascii('RN-keylog-v1'), prev, lps(userId), identityPk, encPk, u32(epoch), u64(ms)),
  );
}

/** Checkpoint the server signs (our definition): "RN-keylog-checkpoint-v1" ‖ u64(size) ‖ head. */
export function checkpointMessage(size, head) {
  need(head, 32, 'head');
  return concat(ascii('RN-keylog-checkpoint-v1'), u64(size), head);
}

// --- 6. moderator certificates -----------------------------------------------------------

/** "RN-modcert-v1" ‖ lp(user_id) ‖ identity_pk ‖ u64(expires_ms). */
export function modcertMessage(userId, identityPk, expiresMs) {
  need(identityPk, KEY_BYTES, 'identity_pk');
  return concat(ascii('RN-modcert-v1'), lps(userId), identityPk, u64(expiresMs));
}

/** Certify a moderator with the organisation key (seed or 64-byte sk). */
export function makeModcert(orgSecret, userId, identityPk, expiresMs) {
  return signDetached(orgSecret, modcertMessage(userId, identityPk, expiresMs));
}

/** True when the certificate verifies and nowMs < expiresMs. */
export function verifyModcert(orgPk, userId, identityPk, expiresMs, sig, nowMs) {
  if (!(BigInt(nowMs) < BigInt(expiresMs))) return false;
  let message;
  try {
    message = modcertMessage(userId, identityPk, expiresMs);
  } catch {
    return false;
  }
  return verifyDetached(orgPk, message, sig);
}

// --- 7. safety number --------------------------------------------------------------------

/** One side's 30 digits: h = u16(0) ‖ pk ‖ lp(user_id); 5200× h = SHA-512(h ‖ pk); 6×(5 bytes mod 1e5). */
export function fingerprintDigits(userId, identityPk) {
  need(identityPk, KEY_BYTES, 'identity_pk');
  let h = concat(u16(0), identityPk, lps(userId));
  for (let i = 0; i < FINGERPRINT_ITERATIONS; i++) {
    h = sodium.crypto_hash_sha512(concat(h, identityPk));
  }
  let out = '';
  for (let i = 0; i < 30; i += 5) {
    // 40-bit value: stays exact in a double.
    const low = ((h[i + 1] << 24) | (h[i + 2] << 16) | (h[i + 3] << 8) | h[i + 4]) >>> 0;
    const chunk = h[i] * 2 ** 32 + low;
    out += String(chunk % 100000).padStart(5, '0');
  }
  return out;
}

/** 60-digit safety number: both 30-digit halves in ascending order, the same on both sides. */
export function safetyNumber(userIdA, identityPkA, userIdB, identityPkB) {
  const halves = [fingerprintDigits(userIdA, identityPkA), fingerprintDigits(userIdB, identityPkB)];
  halves.sort();
  return halves[0] + halves[1];
}

// --- 8. mailbox envelopes ----------------------------------------------------------------

function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

// Sort by UTF-8 bytes (= code point order, as Python sorts), not by UTF-16 units.
function sortedRoster(roster) {
  const members = roster.map((m) => ({ member: m, key: utf8(m.userId) }));
  members.sort((a, b) => compareBytes(a.key, b.key));
  if (members.length === 0) throw new ProtocolError('roster is empty');
  for (let i = 1; i < members.length; i++) {
    if (compareBytes(members[i - 1].key, members[i].key) === 0) {
      throw new ProtocolError('duplicate user id in roster');
    }
  }
  return members.map((m) => m.member);
}

/** The roster as a header carries it: sorted [{userId, encPkHash, epoch}]. */
export function headerRoster(roster) {
  return sortedRoster(roster).map((m) => {
    need(m.encPk, KEY_BYTES, 'enc_pk');
    u32(m.epoch);
    return { userId: m.userId, encPkHash: blake2b256(m.encPk), epoch: m.epoch };
  });
}

/**
 * "RNMSG1" ‖ lp(conv_id) ‖ lp(msg_id16) ‖ lp(sender_id) ‖ u32(seq) ‖ H(identity_pk), then per
 * member in ascending user id lp(user_id) ‖ H(enc_pk) ‖ u32(epoch). Roster: [{userId, encPk, epoch}].
 */
export function buildHeader(convId, msgId, senderId, seq, senderIdentityPk, roster) {
  need(msgId, MSG_ID_BYTES, 'msg_id');
  need(senderIdentityPk, KEY_BYTES, 'sender_identity_pk');
  if (!(Number.isSafeInteger(seq) && seq >= 1)) throw new ProtocolError('seq counts from 1');
  const parts = [
    ascii('RNMSG1'),
    lps(convId),
    lp(msgId),
    lps(senderId),
    u32(seq),
    blake2b256(senderIdentityPk),
  ];
  for (const e of headerRoster(roster)) parts.push(lps(e.userId), e.encPkHash, u32(e.epoch));
  return concat(...parts);
}

/** Parse a canonical RNMSG1 header; ProtocolError when malformed or unsorted. */
export function parseHeader(header) {
  let pos = 0;
  const take = (n) => {
    if (n < 0 || pos + n > header.length) throw new ProtocolError('header truncated');
    const chunk = header.slice(pos, pos + n);
    pos += n;
    return chunk;
  };
  const num = (n) => take(n).reduce((acc, b) => acc * 256 + b, 0);
  const lpTake = () => take(num(4));
  const text = () => {
    try {
      return dec.decode(lpTake());
    } catch (err) {
      if (err instanceof ProtocolError) throw err;
      throw new ProtocolError('header string is not UTF-8');
    }
  };
  if (!eq(take(6), ascii('RNMSG1'))) throw new ProtocolError('not an RNMSG1 header');
  const convId = text();
  const msgId = lpTake();
  if (msgId.length !== MSG_ID_BYTES) throw new ProtocolError('msg_id must be 16 bytes');
  const senderId = text();
  const seq = num(4);
  if (seq < 1) throw new ProtocolError('seq counts from 1');
  const senderIdentityHash = take(32);
  const roster = [];
  let prevKey = null;
  while (pos < header.length) {
    const userId = text();
    const encPkHash = take(32);
    const epoch = num(4);
    const key = enc.encode(userId);
    if (prevKey !== null && compareBytes(prevKey, key) >= 0) {
      throw new ProtocolError('header roster not strictly ascending');
    }
    prevKey = key;
    roster.push({ userId, encPkHash, epoch });
  }
  if (roster.length === 0) throw new ProtocolError('header roster is empty');
  return { convId, msgId, senderId, seq, senderIdentityHash, roster };
}

function codePoints(text) {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * m = pad(UTF-8 JSON {"text": ..., "sent_at": ...}, 256). The JSON bytes equal Python's
 * json.dumps(..., ensure_ascii=False): ": " and ", " separators, the same escapes.
 */
export function padPlaintext(text, sentAt) {
  if (typeof text !== 'string' || typeof sentAt !== 'string') {
    throw new ProtocolError('text and sent_at must be strings');
  }
  if (codePoints(text) > MAX_TEXT_CHARS) {
    throw new ProtocolError(`text longer than ${MAX_TEXT_CHARS} characters`);
  }
  utf8(sentAt);
  const json = `{"text": ${JSON.stringify(text)}, "sent_at": ${JSON.stringify(sentAt)}}`;
  return sodium.pad(utf8(json), PAD_BLOCK);
}

/** Inverse of padPlaintext: {text, sentAt}; ProtocolError when malformed. */
export function unpadPlaintext(m) {
  if (!isBytes(m) || m.length === 0 || m.length % PAD_BLOCK !== 0) {
    throw new ProtocolError('plaintext is not padded to 256 bytes');
  }
  let doc;
  try {
    doc = JSON.parse(dec.decode(sodium.unpad(m, PAD_BLOCK)));
  } catch {
    throw new ProtocolError('plaintext is not a padded JSON message');
  }
  if (
    doc === null ||
    typeof doc !== 'object' ||
    Array.isArray(doc) ||
    Object.keys(doc).sort().join(',') !== 'sent_at,text' ||
    typeof doc.text !== 'string' ||
    typeof doc.sent_at !== 'string'
  ) {
    throw new ProtocolError('plaintext JSON must be {text, sent_at} strings');
  }
  return { text: doc.text, sentAt: doc.sent_at };
}

/** c = HMAC-SHA256(kf, "RN-frank-v1" ‖ lp(header) ‖ m); kf exactly 32 bytes. */
export function frankingCommitment(kf, header, m) {
  need(kf, KEY_BYTES, 'kf');
  return hmac256(kf, concat(ascii('RN-frank-v1'), lp(header), m));
}

/** kc = BLAKE2b-256(key=K, "RN-keycommit-v1"). */
export function keyCommitment(key) {
  need(key, KEY_BYTES, 'K');
  return blake2b256(ascii('RN-keycommit-v1'), key);
}

/** body = XChaCha20-Poly1305-IETF(kf ‖ m, ad = header ‖ c ‖ kc, nonce, K). */
export function sealBody(key, nonce, header, c, kc, kf, m) {
  need(key, KEY_BYTES, 'K');
  need(nonce, NONCE_BYTES, 'nonce');
  need(kf, KEY_BYTES, 'kf');
  return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    concat(kf, m),
    concat(header, c, kc),
    null,
    nonce,
    key,
  );
}

/** Decrypt a body to kf ‖ m; VerificationError when it does not decrypt. */
export function openBody(key, nonce, header, c, kc, body) {
  need(key, KEY_BYTES, 'K');
  if (!isBytes(nonce) || nonce.length !== NONCE_BYTES) throw new VerificationError('bad nonce size');
  try {
    return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, body, concat(header, c, kc), nonce, key);
  } catch {
    throw new VerificationError('body does not decrypt');
  }
}

/** crypto_box_seal(K, encPk) (random each time). */
export function wrapKeyFor(key, encPk) {
  need(key, KEY_BYTES, 'K');
  need(encPk, KEY_BYTES, 'enc_pk');
  return sodium.crypto_box_seal(key, encPk);
}

/** Open my sealed copy of K; VerificationError when it does not open. */
export function unwrapKey(wrapped, boxPk, boxSk) {
  let key;
  try {
    key = sodium.crypto_box_seal_open(wrapped, boxPk, boxSk);
  } catch {
    throw new VerificationError('my wrapped key does not open');
  }
  if (key.length !== KEY_BYTES) throw new VerificationError('wrapped key has the wrong size');
  return key;
}

/** "RN-sig-v1" ‖ lp(header) ‖ c ‖ kc ‖ H(nonce ‖ body) ‖ H(wrapped_1 ‖ … ‖ wrapped_n). */
export function sigMessage(header, c, kc, nonce, body, wrapped) {
  return concat(
    ascii('RN-sig-v1'),
    lp(header),
    c,
    kc,
    blake2b256(concat(nonce, body)),
    blake2b256(concat(...wrapped)),
  );
}

/** True when envelope.sig verifies under the sender's identity key. */
export function verifyEnvelopeSignature(identityPk, envelope) {
  const e = envelope;
  return verifyDetached(identityPk, sigMessage(e.header, e.c, e.kc, e.nonce, e.body, e.wrapped), e.sig);
}

/** Throw ProtocolError when a fixed-size envelope field has the wrong size. */
export function checkEnvelopeSizes(envelope) {
  const fixed = { c: 32, kc: 32, nonce: NONCE_BYTES, sig: SIG_BYTES };
  for (const [name, size] of Object.entries(fixed)) {
    if (!isBytes(envelope[name]) || envelope[name].length !== size) {
      throw new ProtocolError(`${name} must be ${size} bytes`);
    }
  }
  if (!isBytes(envelope.header)) throw new ProtocolError('header must be bytes');
  if (!Array.isArray(envelope.wrapped) || envelope.wrapped.length === 0) {
    throw new ProtocolError('wrapped must be a non-empty list');
  }
  if (envelope.wrapped.some((w) => !isBytes(w) || w.length !== SEALED_KEY_BYTES)) {
    throw new ProtocolError(`wrapped keys must be ${SEALED_KEY_BYTES} bytes`);
  }
  if (!isBytes(envelope.body) || envelope.body.length < KEY_BYTES + PAD_BLOCK + 16) {
    throw new ProtocolError('body too short');
  }
}

const ENVELOPE_FIELDS = ['header', 'c', 'kc', 'nonce', 'body', 'sig'];

/** JSON form: every field base64url, wrapped a list in roster order. */
export function envelopeToJson(envelope) {
  const out = {};
  for (const name of ENVELOPE_FIELDS) out[name] = b64e(envelope[name]);
  out.wrapped = envelope.wrapped.map(b64e);
  return {
    header: out.header,
    c: out.c,
    kc: out.kc,
    nonce: out.nonce,
    body: out.body,
    wrapped: out.wrapped,
    sig: out.sig,
  };
}

/** Parse the JSON form, checking types, encodings and sizes (ProtocolError). */
export function envelopeFromJson(data) {
  if (
    data === null ||
    typeof data !== 'object' ||
    Object.keys(data).sort().join(',') !== 'body,c,header,kc,nonce,sig,wrapped'
  ) {
    throw new ProtocolError('envelope must have exactly header,c,kc,nonce,body,wrapped,sig');
  }
  if (!Array.isArray(data.wrapped) || data.wrapped.length === 0) {
    throw new ProtocolError('wrapped must be a non-empty list');
  }
  const env = {};
  for (const name of ENVELOPE_FIELDS) {
    if (typeof data[name] !== 'string') throw new ProtocolError(`${name} must be a string`);
    env[name] = b64d(data[name]);
  }
  env.wrapped = data.wrapped.map((w) => {
    if (typeof w !== 'string') throw new ProtocolError('wrapped items must be strings');
    return b64d(w);
  });
  checkEnvelopeSizes(env);
  return env;
}

/**
 * Build a signed envelope for every roster member: {envelope, msgId, kf, m}. The caller must
 * have checked the roster (enc_certs, moderator certificates, at least one moderator).
 */
export function encryptMessage(signSecret, convId, senderId, seq, roster, text, sentAt, { msgId = null } = {}) {
  const identityPk = sodium.crypto_sign_ed25519_sk_to_pk(signingSk(signSecret));
  const id = msgId === null ? sodium.randombytes_buf(MSG_ID_BYTES) : msgId;
  const members = sortedRoster(roster);
  const m = padPlaintext(text, sentAt);
  const header = buildHeader(convId, id, senderId, seq, identityPk, members);
  const kf = sodium.randombytes_buf(KEY_BYTES);
  const c = frankingCommitment(kf, header, m);
  const key = sodium.randombytes_buf(KEY_BYTES);
  const kc = keyCommitment(key);
  const nonce = sodium.randombytes_buf(NONCE_BYTES);
  const body = sealBody(key, nonce, header, c, kc, kf, m);
  const wrapped = members.map((member) => wrapKeyFor(key, member.encPk));
  sodium.memzero(key);
  const sig = signDetached(signSecret, sigMessage(header, c, kc, nonce, body, wrapped));
  return { envelope: { header, c, kc, nonce, body, wrapped, sig }, msgId: Uint8Array.from(id), kf, m };
}

/**
 * Run every receiving check and return {text, sentAt, kf, m, header} only if all hold; else
 * VerificationError(reason). Same checks and order as protocol.open_envelope.
 */
export function openEnvelope(
  envelope,
  myUserId,
  myBoxPk,
  myBoxSk,
  senderIdentityPk,
  expectedRoster,
  { convId = null } = {},
) {
  let parsed;
  try {
    checkEnvelopeSizes(envelope);
    parsed = parseHeader(envelope.header);
  } catch (err) {
    if (err instanceof ProtocolError) throw new VerificationError(`malformed envelope: ${err.message}`);
    throw err;
  }
  let expected;
  try {
    expected = headerRoster(expectedRoster);
  } catch {
    throw new VerificationError('expected roster is malformed');
  }
  if (convId !== null && parsed.convId !== convId) {
    throw new VerificationError('header names another conversation');
  }
  const same =
    parsed.roster.length === expected.length &&
    parsed.roster.every(
      (e, i) =>
        e.userId === expected[i].userId && e.epoch === expected[i].epoch && eq(e.encPkHash, expected[i].encPkHash),
    );
  if (!same) throw new VerificationError("header roster does not match the conversation's keys");
  const ids = parsed.roster.map((e) => e.userId);
  if (!ids.includes(parsed.senderId)) throw new VerificationError('sender is not on the roster');
  if (
    !isBytes(senderIdentityPk) ||
    senderIdentityPk.length !== KEY_BYTES ||
    !eq(parsed.senderIdentityHash, blake2b256(senderIdentityPk))
  ) {
    throw new VerificationError('header names another sender identity key');
  }
  const index = ids.indexOf(myUserId);
  if (index < 0) throw new VerificationError('I am not on the roster');
  if (!isBytes(myBoxPk) || myBoxPk.length !== KEY_BYTES || !eq(parsed.roster[index].encPkHash, blake2b256(myBoxPk))) {
    throw new VerificationError('header roster names another key for me');
  }
  if (envelope.wrapped.length !== ids.length) {
    throw new VerificationError('one wrapped key per roster member is required');
  }
  if (!verifyEnvelopeSignature(senderIdentityPk, envelope)) {
    throw new VerificationError('signature does not verify');
  }
  const key = unwrapKey(envelope.wrapped[index], myBoxPk, myBoxSk);
  if (!eq(keyCommitment(key), envelope.kc)) {
    throw new VerificationError('key commitment does not match');
  }
  const inner = openBody(key, envelope.nonce, envelope.header, envelope.c, envelope.kc, envelope.body);
  const kf = inner.slice(0, KEY_BYTES);
  const m = inner.slice(KEY_BYTES);
  if (!eq(frankingCommitment(kf, envelope.header, m), envelope.c)) {
    throw new VerificationError('franking commitment does not match');
  }
  let plain;
  try {
    plain = unpadPlaintext(m);
  } catch {
    throw new VerificationError('plaintext is malformed');
  }
  return { text: plain.text, sentAt: plain.sentAt, kf, m, header: parsed };
}

// --- server-side helpers -----------------------------------------------------------------

/** rf = HMAC-SHA256(server_frank_key, "RN-rf-v1" ‖ c ‖ lp(conv_id) ‖ lp(msg_id) ‖ u64(received_ms)). */
export function reportingRf(serverFrankKey, c, convId, msgId, receivedMs) {
  need(serverFrankKey, KEY_BYTES, 'server_frank_key');
  return hmac256(serverFrankKey, concat(ascii('RN-rf-v1'), c, lps(convId), lp(msgId), u64(receivedMs)));
}

/** e_i = SHA-256("RN-convlog-v1" ‖ prev ‖ lp(msg_id) ‖ c ‖ kc ‖ H(nonce ‖ body) ‖ sig ‖ u64(ms)). */
export function convlogEntry(prev, msgId, c, kc, nonce, body, sig, receivedMs) {
  need(prev, 32, 'prev');
  return sha256(
    concat(ascii('RN-convlog-v1'), prev, lp(msgId), c, kc, blake2b256(concat(nonce, body)), sig, u64(receivedMs)),
  );
}

/** "RN-receipt-v1" ‖ e_i ‖ u64(i). */
export function receiptMessage(ei, i) {
  need(ei, 32, 'e_i');
  return concat(ascii('RN-receipt-v1'), ei, u64(i));
}

/** "RN-modaction-v1" ‖ e_i ‖ lp(action) ‖ lp(reason). */
export function modactionMessage(ei, action, reason) {
  need(ei, 32, 'e_i');
  return concat(ascii('RN-modaction-v1'), ei, lps(action), lps(reason));
}

/** True when a reported (m, kf) recomputes the stored commitment c. */
export function verifyReport(header, m, kf, c) {
  if (!isBytes(kf) || kf.length !== KEY_BYTES) return false;
  return eq(frankingCommitment(kf, header, m), c);
}

/**
 * Chain entry for a moderator's action (our definition, mirrored by protocol.py):
 * e_i = SHA-256("RN-convlog-modaction-v1" ‖ prev ‖ lp(msg_id) ‖ lp(action) ‖ lp(reason) ‖ lp(moderator_id) ‖ sig ‖ u64(ms)).
 */
export function convlogModactionEntry(prev, msgId, action, reason, moderatorId, sig, ms) {
  need(prev, 32, 'prev');
  return sha256(
    concat(ascii('RN-convlog-modaction-v1'), prev, lp(msgId), lps(action), lps(reason), lps(moderatorId), sig, u64(ms)),
  );
}
