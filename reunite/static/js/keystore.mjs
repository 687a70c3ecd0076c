// Private keys for this page load only: asked for once (the password), opened from the sealed
// bundle, kept in memory and nowhere else (never localStorage, sessionStorage or IndexedDB).
// Partners' identity keys (public keys only) are pinned in localStorage so a change is noticed.

import * as rn from './rncrypto.mjs';

let unlocked = null;

/** The unlocked keys, or null: {userId, username, identity: {sk, pk}, box: Map<epoch, {pk, sk}>, epoch}. */
export function keys() {
  return unlocked;
}

/**
 * Derive the password's keys with the account's KDF parameters, open the sealed bundle and keep
 * the private keys in memory. `call(path)` is the page's JSON helper. Throws rn.BundleError on a
 * wrong password.
 */
export async function unlock(password, call) {
  if (unlocked) return unlocked;
  const me = await call('/api/v1/auth/me');
  const own = await call('/api/v1/auth/bundle');
  const derived = rn.deriveLoginKeys(password, rn.b64d(own.salt), own.ops, own.mem);
  let plaintext;
  try {
    plaintext = rn.openBundle(rn.b64d(own.bundle.nonce), rn.b64d(own.bundle.ciphertext), derived.wrapKey, me.username);
  } finally {
    derived.wrapKey.fill(0);
    derived.authKey.fill(0);
  }
  const parsed = rn.parseBundle(plaintext);
  plaintext.fill(0);
  const identity = rn.newIdentity(parsed.signSeed);
  if (rn.b64e(identity.pk) !== me.identity_pk) {
    // The bundle does not hold the key the server lists for this account: do not use it.
    throw new rn.BundleError('bundle does not match this account');
  }
  const box = new Map();
  for (const [epoch, seed] of parsed.boxSeeds) box.set(epoch, rn.boxKeypairFromSeed(seed));
  unlocked = Object.freeze({
    userId: me.id,
    username: me.username,
    role: me.role,
    identity: { sk: identity.sk, pk: identity.pk },
    box,
    epoch: me.epoch,
  });
  return unlocked;
}

/** Forget the keys (the page's "lock" button); the bytes are zeroed. */
export function lock() {
  if (!unlocked) return;
  unlocked.identity.sk.fill(0);
  for (const kp of unlocked.box.values()) kp.sk.fill(0);
  unlocked = null;
}

// --- pinning partners' identity keys (public keys only) ---------------------------------------

const PIN_PREFIX = 'rn-pin-v1:';

function pinKey(convId, userId) {
  return `${PIN_PREFIX}${convId}:${userId}`;
}

function readPin(convId, userId) {
  try {
    return window.localStorage.getItem(pinKey(convId, userId));
  } catch {
    return null; // storage disabled: every visit is a first sight
  }
}

/** Pin a member's identity key (base64url) for this conversation. */
export function pin(convId, userId, identityPkB64) {
  try {
    window.localStorage.setItem(pinKey(convId, userId), identityPkB64);
  } catch {
    // storage disabled: nothing to remember
  }
}

/**
 * Compare a member's current identity key with the pinned one: 'new' (first sight, now pinned),
 * 'same', or 'changed' (left pinned to the old key until the person accepts the new one).
 */
export function checkPin(convId, userId, identityPkB64) {
  const old = readPin(convId, userId);
  if (old === null) {
    pin(convId, userId, identityPkB64);
    return 'new';
  }
  return old === identityPkB64 ? 'same' : 'changed';
}
