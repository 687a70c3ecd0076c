// Account pages: registration, login, recovery, admin reset and password change.
// Every secret is derived here, in the browser; the server receives only what the protocol
// allows (auth_key, sealed bundles, public keys, recovery_auth). Private keys stay in memory.

import { ApiError, call } from '../api.mjs';
import * as rn from '../rncrypto.mjs';

// --- form helpers --------------------------------------------------------------------------

function ui(form) {
  const status = form.querySelector('[data-status]');
  const error = form.querySelector('[data-error]');
  const button = form.querySelector('button[type="submit"]');
  const clearInvalid = () => {
    for (const el of form.querySelectorAll('[aria-invalid="true"]')) {
      el.removeAttribute('aria-invalid');
      el.removeAttribute('aria-errormessage');
    }
  };
  return {
    busy(message) {
      clearInvalid();
      error.hidden = true;
      status.textContent = message;
      status.hidden = false;
      button.disabled = true;
      form.setAttribute('aria-busy', 'true');
    },
    done() {
      status.hidden = true;
      button.disabled = false;
      form.removeAttribute('aria-busy');
    },
    fail(message, fieldName = null) {
      this.done();
      error.textContent = message;
      error.hidden = false;
      if (!error.id) error.id = `${form.id}-error`;
      const field = fieldName && form.querySelector(`[name="${CSS.escape(fieldName.split('.')[0])}"]`);
      if (field) {
        field.setAttribute('aria-invalid', 'true');
        field.setAttribute('aria-errormessage', error.id);
        field.focus();
      } else {
        error.focus?.();
      }
    },
  };
}

const msg = (form, key) => form.dataset[`msg${key[0].toUpperCase()}${key.slice(1)}`] || key;
const value = (form, name) => (form.elements[name]?.value ?? '').trim();
const nfcName = (form) => value(form, 'username').normalize('NFC');
// Let the status message paint before the (blocking) key derivation starts.
const paint = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 20)));

function checkNewPassword(form, u) {
  const pw = form.elements.password.value;
  if (pw.length < 10) {
    u.fail(msg(form, 'short'), 'password');
    return null;
  }
  if (pw !== form.elements.password2.value) {
    u.fail(msg(form, 'mismatch'), 'password2');
    return null;
  }
  return pw;
}

function bundleJson(sealed) {
  return { nonce: rn.b64e(sealed.nonce), ciphertext: rn.b64e(sealed.ciphertext) };
}

function credentialFields(username, password, plaintext, ops, mem) {
  const salt = rn.newSalt();
  const keys = rn.deriveLoginKeys(password, salt, ops, mem);
  const sealed = rn.sealBundle(plaintext, keys.wrapKey, username);
  return { salt: rn.b64e(salt), ops, mem, auth_key: rn.b64e(keys.authKey), bundle: bundleJson(sealed) };
}

function newKeyFields(username, epoch) {
  const identity = rn.newIdentity();
  const boxSeed = rn.newBoxSeed();
  const boxSeeds = new Map([[epoch, boxSeed]]);
  const plaintext = rn.bundlePlaintext(identity.seed, boxSeeds);
  const encPk = rn.boxKeypairFromSeed(boxSeed).pk;
  const recoveryKey = rn.newRecoveryKey();
  const fields = {
    identity_pk: rn.b64e(identity.pk),
    enc_pk: rn.b64e(encPk),
    epoch,
    enc_cert: rn.b64e(rn.makeEncCert(identity.seed, username, encPk, epoch)),
    recovery_bundle: bundleJson(rn.sealBundle(plaintext, recoveryKey, username, null, { recovery: true })),
    recovery_auth: rn.b64e(rn.recoveryAuth(recoveryKey)),
  };
  return { fields, plaintext, recoveryKey };
}

function showRecoveryKey(recoveryKey) {
  const section = document.getElementById('recovery');
  section.querySelector('[data-recovery-key]').textContent = rn.formatRecoveryKey(recoveryKey);
  const saved = section.querySelector('[data-recovery-saved]');
  const next = section.querySelector('[data-recovery-continue]');
  next.addEventListener('click', (event) => {
    if (!saved.checked) {
      event.preventDefault();
      saved.focus();
    }
  });
  saved.addEventListener('change', () => next.setAttribute('aria-disabled', String(!saved.checked)));
  for (const form of document.querySelectorAll('form[data-flow]')) form.hidden = true;
  section.hidden = false;
  section.focus();
}

// --- flows ---------------------------------------------------------------------------------

const flows = {
  async register(form, u) {
    const username = nfcName(form);
    const role = form.elements.role.value;
    if (username.length < 3 || username.length > 64 || /\s/.test(username)) return u.fail(msg(form, 'username'), 'username');
    if (role !== 'child' && role !== 'parent') return u.fail(msg(form, 'role'), 'role');
    const body = { username, role, locale: value(form, 'locale') || 'en' };
    if (role === 'child') {
      const year = Number(value(form, 'birth_year'));
      if (!/^\d{4}$/.test(value(form, 'birth_year'))) return u.fail(msg(form, 'birth'), 'birth_year');
      body.birth_year = year;
      if (value(form, 'birth_month')) body.birth_month = Number(value(form, 'birth_month'));
    }
    const password = checkNewPassword(form, u);
    if (password === null) return;
    u.busy(msg(form, 'working'));
    await paint();
    const params = await call('/api/v1/auth/params');
    const made = newKeyFields(username, 1);
    Object.assign(body, credentialFields(username, password, made.plaintext, params.ops, params.mem), made.fields);
    await call('/api/v1/auth/register', body);
    u.done();
    showRecoveryKey(made.recoveryKey);
  },

  async login(form, u) {
    const username = nfcName(form);
    const password = form.elements.password.value;
    if (!username || !password) return u.fail(msg(form, 'missing'), username ? 'password' : 'username');
    u.busy(msg(form, 'working'));
    await paint();
    const pre = await call('/api/v1/auth/prelogin', { username });
    const keys = rn.deriveLoginKeys(password, rn.b64d(pre.salt), pre.ops, pre.mem);
    const data = await call('/api/v1/auth/login', { username, auth_key: rn.b64e(keys.authKey) });
    // Opening the bundle proves the keys are intact; they live only in this page's memory.
    rn.parseBundle(rn.openBundle(rn.b64d(data.bundle.nonce), rn.b64d(data.bundle.ciphertext), keys.wrapKey, data.user.username));
    const user = data.user;
    if (user.totp_required) {
      window.location.assign(user.totp_set_up ? form.dataset.totpVerify : form.dataset.totpSetup);
    } else {
      window.location.assign(form.dataset.next);
    }
  },

  async recover(form, u) {
    const username = nfcName(form);
    let recoveryKey;
    try {
      recoveryKey = rn.parseRecoveryKey(value(form, 'recovery_key'));
    } catch {
      return u.fail(msg(form, 'badkey'), 'recovery_key');
    }
    const password = checkNewPassword(form, u);
    if (password === null) return;
    u.busy(msg(form, 'working'));
    await paint();
    const recoveryAuth = rn.b64e(rn.recoveryAuth(recoveryKey));
    const copy = await call('/api/v1/auth/recovery', { username, recovery_auth: recoveryAuth });
    const rb = copy.recovery_bundle;
    const plaintext = rn.openBundle(rn.b64d(rb.nonce), rn.b64d(rb.ciphertext), recoveryKey, copy.username, { recovery: true });
    rn.parseBundle(plaintext);
    const body = { username: copy.username, recovery_auth: recoveryAuth };
    Object.assign(body, credentialFields(copy.username, password, plaintext, copy.ops, copy.mem));
    await call('/api/v1/auth/recover', body);
    window.location.assign(form.dataset.next);
  },

  async reset(form, u) {
    const username = nfcName(form);
    const code = value(form, 'reset_code').toUpperCase();
    const password = checkNewPassword(form, u);
    if (password === null) return;
    u.busy(msg(form, 'working'));
    await paint();
    const info = await call('/api/v1/auth/reset/info', { username, reset_code: code });
    const params = await call('/api/v1/auth/params');
    const made = newKeyFields(username, info.epoch);
    const body = { username, reset_code: code };
    Object.assign(body, credentialFields(username, password, made.plaintext, params.ops, params.mem), made.fields);
    await call('/api/v1/auth/reset', body);
    u.done();
    showRecoveryKey(made.recoveryKey);
  },

  async password(form, u) {
    const username = form.dataset.username;
    const password = checkNewPassword(form, u);
    if (password === null) return;
    u.busy(msg(form, 'working'));
    await paint();
    const own = await call('/api/v1/auth/bundle');
    const old = rn.deriveLoginKeys(form.elements.old_password.value, rn.b64d(own.salt), own.ops, own.mem);
    let plaintext;
    try {
      plaintext = rn.openBundle(rn.b64d(own.bundle.nonce), rn.b64d(own.bundle.ciphertext), old.wrapKey, username);
    } catch {
      return u.fail(msg(form, 'oldwrong'), 'old_password');
    }
    const params = await call('/api/v1/auth/params');
    const fields = credentialFields(username, password, plaintext, params.ops, params.mem);
    await call('/api/v1/auth/password', { old_auth_key: rn.b64e(old.authKey), ...fields });
    window.location.assign(form.dataset.next);
  },

  // Account deletion: a fresh proof of the password (the derived auth key, never the password).
  async erase(form, u) {
    const password = form.elements.password.value;
    if (!password) return u.fail(msg(form, 'missing'), 'password');
    if (!form.elements.confirm.checked) return u.fail(msg(form, 'confirm'), 'confirm');
    u.busy(msg(form, 'working'));
    await paint();
    const own = await call('/api/v1/auth/bundle');
    const keys = rn.deriveLoginKeys(password, rn.b64d(own.salt), own.ops, own.mem);
    try {
      await call('/api/v1/account/delete', { auth_key: rn.b64e(keys.authKey), confirm: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return u.fail(msg(form, 'wrong'), 'password');
      throw err;
    }
    window.location.assign(form.dataset.next);
  },
};

function bindChildFields(form) {
  const childOnly = form.querySelector('[data-child-only]');
  if (!childOnly) return;
  const sync = () => {
    childOnly.hidden = form.elements.role.value !== 'child';
  };
  for (const radio of form.querySelectorAll('input[name="role"]')) radio.addEventListener('change', sync);
  sync();
}

async function main() {
  await rn.ready();
  for (const form of document.querySelectorAll('form[data-flow]')) {
    const flow = flows[form.dataset.flow];
    if (!flow) continue;
    bindChildFields(form);
    const u = ui(form);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        await flow(form, u);
      } catch (err) {
        if (err instanceof ApiError) u.fail(err.message, err.field);
        else if (err instanceof TypeError) u.fail(msg(form, 'network'));
        else u.fail(err.message || String(err));
      }
    });
    form.dataset.ready = 'true';
  }
}

main();
