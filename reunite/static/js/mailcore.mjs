// Shared by the conversation page and the moderator pages: the JSON helper, the roster check
// before sending, and opening a chain entry the way the protocol says a recipient must.
// Nothing here logs or throws plaintext or key material.

import { ApiError, call } from './api.mjs';
import * as rn from './rncrypto.mjs';

export { ApiError, call };

/** Translated message from data-msg-* on `root`, with {name} placeholders filled in. */
export function translator(root) {
  return (key, vars = {}) => {
    const name = `msg${key
      .split('-')
      .map((part) => part[0].toUpperCase() + part.slice(1))
      .join('')}`;
    let text = root.dataset[name] || key;
    for (const [k, v] of Object.entries(vars)) text = text.split(`{${k}}`).join(String(v));
    return text;
  };
}

/** Translated role name (data-role-child etc.). */
export function roleName(root, role) {
  return root.dataset[`role${role[0].toUpperCase()}${role.slice(1)}`] || role;
}

/** Let a status message paint before blocking work (key derivation) starts. */
export const paint = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 20)));

/** "12345 67890 …": 60 digits in groups of five. */
export function groupDigits(digits) {
  return digits.match(/.{1,5}/g).join(' ');
}

/** Decode the roster of GET /api/v1/conversations/<cid> into bytes. */
export function decodeRoster(conv) {
  return conv.roster.map((m) => ({
    userId: m.user_id,
    role: m.role,
    username: m.username ?? null,
    identityPk: rn.b64d(m.identity_pk),
    identityPkB64: m.identity_pk,
    encPk: rn.b64d(m.enc_pk),
    epoch: m.epoch,
    encCert: rn.b64d(m.enc_cert),
    modcert: m.modcert ? { sig: rn.b64d(m.modcert.sig), expiresMs: m.modcert.expires_ms } : null,
    // Every key the member has had (key log), each with its enc_cert: messages are checked
    // against the keys their header names, which may predate an administrator's reset.
    history: (m.key_history || []).map((h) => ({
      identityPk: rn.b64d(h.identity_pk),
      encPk: rn.b64d(h.enc_pk),
      epoch: h.epoch,
      encCert: rn.b64d(h.enc_cert),
    })),
  }));
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * The keys a message's header names, taken from the members' certified key histories:
 * every roster member named (and no one else); each named (BLAKE2b(enc_pk), epoch) one of that
 * member's keys whose enc_cert verifies under the identity key of the same epoch; the sender's
 * identity key the one of the sender's named keys, and its hash the header's.
 * Returns {roster: [{userId, encPk, epoch}], senderPk} or throws VerificationError.
 */
export function keysAtSend(members, header) {
  const byId = new Map(members.map((m) => [m.userId, m]));
  const named = new Set(header.roster.map((e) => e.userId));
  if (named.size !== byId.size || [...byId.keys()].some((id) => !named.has(id))) {
    throw new rn.VerificationError("header roster does not match the conversation's members");
  }
  const roster = [];
  let senderPk = null;
  for (const entry of header.roster) {
    const m = byId.get(entry.userId);
    const candidates = [
      { identityPk: m.identityPk, encPk: m.encPk, epoch: m.epoch, encCert: m.encCert },
      ...(m.history || []),
    ];
    const found = candidates.find(
      (k) =>
        k.epoch === entry.epoch &&
        sameBytes(rn.blake2b256(k.encPk), entry.encPkHash) &&
        m.username !== null &&
        rn.verifyEncCert(k.identityPk, m.username, k.encPk, k.epoch, k.encCert),
    );
    if (!found) {
      throw new rn.VerificationError(`header names keys of ${entry.userId} that are not in their certified history`);
    }
    roster.push({ userId: entry.userId, encPk: found.encPk, epoch: found.epoch });
    if (entry.userId === header.senderId) senderPk = found.identityPk;
  }
  if (senderPk === null) throw new rn.VerificationError('sender is not on the roster');
  if (!sameBytes(rn.blake2b256(senderPk), header.senderIdentityHash)) {
    throw new rn.VerificationError("header names a sender identity key not in the sender's history");
  }
  return { roster, senderPk };
}

/**
 * Step 2 of sending: every enc_pk carries a valid enc_cert, every moderator a valid, unexpired
 * certificate from the organisation key, and at least one moderator is present.
 * Returns a list of problems [{kind: 'enc'|'mod'|'nomod'|'org', member}] (empty = fine).
 */
export function checkRoster(members, orgPkB64, nowMs = Date.now()) {
  const problems = [];
  let orgPk = null;
  try {
    orgPk = orgPkB64 ? rn.b64d(orgPkB64) : null;
  } catch {
    orgPk = null;
  }
  let moderators = 0;
  for (const m of members) {
    const encOk = m.username !== null && rn.verifyEncCert(m.identityPk, m.username, m.encPk, m.epoch, m.encCert);
    if (!encOk) problems.push({ kind: 'enc', member: m });
    if (m.role === 'moderator') {
      const ok =
        orgPk !== null &&
        m.modcert !== null &&
        rn.verifyModcert(orgPk, m.userId, m.identityPk, m.modcert.expiresMs, m.modcert.sig, nowMs);
      if (ok) moderators += 1;
      else if (orgPk !== null) problems.push({ kind: 'mod', member: m });
    }
  }
  if (orgPk === null) problems.push({ kind: 'org', member: null });
  if (moderators === 0) problems.push({ kind: 'nomod', member: null });
  return problems;
}

/** The roster as encryptMessage/openEnvelope want it. */
export function cryptoRoster(members) {
  return members.map((m) => ({ userId: m.userId, encPk: m.encPk, epoch: m.epoch }));
}

/**
 * Open one message item of /messages as a recipient: every check of the protocol, plus the
 * item's own claims (sender, seq, msg_id) against the signed header and the server's receipt.
 * Returns {ok: true, text, sentAt, kf, m, envelope} or {ok: false, reason, previousKeys?} (never
 * plaintext); previousKeys: a genuine message sealed to a key of mine I no longer have.
 */
export function openItem(item, convId, members, keys, serverSignPk) {
  const me = members.find((m) => m.userId === keys.userId);
  const sender = members.find((m) => m.userId === item.sender_id);
  if (!me) return { ok: false, reason: 'I am not on the roster' };
  if (!sender) return { ok: false, reason: 'sender is not on the roster' };
  let envelope;
  try {
    envelope = rn.envelopeFromJson(item.envelope);
  } catch {
    return { ok: false, reason: 'malformed envelope' };
  }
  let opened;
  try {
    rn.checkEnvelopeSizes(envelope);
    const header = rn.parseHeader(envelope.header);
    const named = keysAtSend(members, header);
    const mine = named.roster.find((r) => r.userId === me.userId);
    const box = keys.box.get(mine.epoch);
    if (!box || !sameBytes(box.pk, mine.encPk)) {
      // Sealed to a key of mine this account no longer holds (lost in a reset): say so
      // honestly once the sender's signature and the named keys check out.
      if (!rn.verifyEnvelopeSignature(named.senderPk, envelope)) {
        return { ok: false, reason: 'signature does not verify' };
      }
      return { ok: false, previousKeys: true, reason: 'sent to my previous keys' };
    }
    opened = rn.openEnvelope(envelope, me.userId, box.pk, box.sk, named.senderPk, named.roster, { convId });
  } catch (err) {
    if (err instanceof rn.ProtocolError) return { ok: false, reason: err.message };
    throw err;
  }
  const h = opened.header;
  if (h.senderId !== item.sender_id || h.seq !== item.seq || rn.b64e(h.msgId) !== item.msg_id) {
    return { ok: false, reason: 'the server listed the message under another sender, seq or id' };
  }
  if (serverSignPk && item.receipt && item.entry_hash) {
    try {
      const ok = rn.verifyDetached(
        serverSignPk,
        rn.receiptMessage(rn.b64d(item.entry_hash), item.index),
        rn.b64d(item.receipt),
      );
      if (!ok) return { ok: false, reason: 'receipt does not verify' };
    } catch {
      return { ok: false, reason: 'malformed receipt' };
    }
  }
  return { ok: true, text: opened.text, sentAt: opened.sentAt, kf: opened.kf, m: opened.m, envelope };
}

/** True when a modaction item is signed by a moderator on the roster over the message's entry hash. */
export function verifyModaction(action, entryHashB64, members) {
  const mod = members.find((m) => m.userId === action.moderator_id && m.role === 'moderator');
  if (!mod || !entryHashB64) return false;
  try {
    return rn.verifyDetached(
      mod.identityPk,
      rn.modactionMessage(rn.b64d(entryHashB64), action.action, action.reason || ''),
      rn.b64d(action.sig),
    );
  } catch {
    return false;
  }
}

/** Every item of /messages, following next_after until the end. */
export async function fetchAllMessages(convId) {
  const items = [];
  let after = 0;
  for (let guard = 0; guard < 200; guard++) {
    const page = await call(`/api/v1/conversations/${encodeURIComponent(convId)}/messages?after=${after}&limit=200`);
    const batch = Array.isArray(page) ? page : page.items || [];
    items.push(...batch);
    const next = Array.isArray(page) ? null : page.next_after;
    if (batch.length === 0 || next === null || next === undefined || next === after) break;
    after = next;
  }
  return items;
}

/** Local date and time in the page's language. */
export function formatTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const lang = document.documentElement.lang || 'en';
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

/** Wire an unlock form; resolves with the keys once the password opened them. */
export function bindUnlock(form, t, unlockFn) {
  const status = form.querySelector('[data-status]');
  const error = form.querySelector('[data-error]');
  const button = form.querySelector('button[type="submit"]');
  const input = form.elements.password;
  return new Promise((resolve) => {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.hidden = true;
      input.removeAttribute('aria-invalid');
      if (!input.value) {
        input.focus();
        return;
      }
      status.textContent = t('working');
      status.hidden = false;
      button.disabled = true;
      await paint();
      try {
        const keys = await unlockFn(input.value, call);
        input.value = '';
        status.hidden = true;
        resolve(keys);
      } catch (err) {
        status.hidden = true;
        button.disabled = false;
        if (err instanceof rn.BundleError) error.textContent = t('wrong-password');
        else if (err instanceof ApiError) error.textContent = err.message;
        else error.textContent = t('network');
        error.hidden = false;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
      }
    });
    form.dataset.ready = 'true';
  });
}
