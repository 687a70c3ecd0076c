// Moderator pages: the held-message queue (decrypt and verify here, release or reject with a
// signed modaction over the message's chain entry) and the report queue (re-check each reported
// text against its franking commitment and the sender's signature), plus conversation controls.

import * as rn from '../rncrypto.mjs';
import * as keystore from '../keystore.mjs';
import {
  ApiError,
  bindUnlock,
  call,
  checkRoster,
  decodeRoster,
  fetchAllMessages,
  formatTime,
  openItem,
  roleName,
  translator,
} from '../mailcore.mjs';

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

let uid = 0;
const nextId = (prefix) => `${prefix}-${++uid}`;

class Moderation {
  constructor(root, keys) {
    this.root = root;
    this.t = translator(root);
    this.keys = keys;
    this.convs = new Map(); // cid -> {conv, members, problems}
    this.serverKeys = null;
    this.out = root.querySelector('[data-items]');
    this.status = root.querySelector('[data-page-status]');
  }

  say(text, isError = false) {
    this.status.textContent = text;
    this.status.className = isError ? 'error' : 'status';
    this.status.setAttribute('role', isError ? 'alert' : 'status');
    this.status.hidden = !text;
  }

  async conversation(cid) {
    if (!this.convs.has(cid)) {
      const conv = await call(`/api/v1/conversations/${encodeURIComponent(cid)}`);
      const members = decodeRoster(conv);
      this.convs.set(cid, { conv, members, problems: checkRoster(members, this.serverKeys.org_pk) });
    }
    return this.convs.get(cid);
  }

  who(members, userId) {
    const m = members.find((x) => x.userId === userId);
    if (!m) return '?';
    const role = roleName(this.root, m.role);
    return m.role === 'moderator' && m.username ? `${role} ${m.username}` : role;
  }

  // --- conversation controls (pause, resume, close, pre-moderation, confirm keys) -------------

  controls(cid, info) {
    const box = el('div', 'controls');
    box.dataset.controlsFor = cid;
    const state = el('p', 'muted conv-state');
    const render = () => {
      const c = info.conv;
      state.textContent = this.t('conv-state', {
        state: this.t(`state-${c.state}`),
        premod: c.premoderated ? this.t('premod-on') : this.t('premod-off'),
      });
    };
    render();
    const row = el('div', 'actions-row');
    const add = (label, name, body, confirmText) => {
      const b = el('button', 'secondary small', label);
      b.type = 'button';
      b.dataset.control = name;
      b.addEventListener('click', async () => {
        if (confirmText && !window.confirm(confirmText)) return;
        b.disabled = true;
        try {
          await call(`/api/v1/conversations/${encodeURIComponent(cid)}/state`, body());
          this.convs.delete(cid);
          const fresh = await this.conversation(cid);
          info.conv = fresh.conv;
          info.members = fresh.members;
          render();
          sync();
          this.say(this.t('saved'));
        } catch (err) {
          this.say(err instanceof ApiError ? err.message : this.t('network'), true);
        } finally {
          b.disabled = false;
        }
      });
      row.append(b);
      return b;
    };
    const pause = add(this.t('pause'), 'pause', () => ({ state: 'paused' }));
    const resume = add(this.t('resume'), 'resume', () => ({ state: 'open' }));
    const close = add(this.t('close'), 'close', () => ({ state: 'closed' }), this.t('close-confirm'));
    const premod = add(this.t('premod-toggle'), 'premoderation', () => ({ premoderated: !info.conv.premoderated }));
    const confirmKeys = add(this.t('confirm-keys'), 'confirm-keys', () => ({ confirm_keys: true }));
    const sync = () => {
      const s = info.conv.state;
      pause.hidden = s !== 'open';
      resume.hidden = s !== 'paused';
      close.hidden = s === 'closed';
      premod.textContent = info.conv.premoderated ? this.t('premod-stop') : this.t('premod-start');
      premod.setAttribute('aria-pressed', String(Boolean(info.conv.premoderated)));
      confirmKeys.hidden = !info.conv.keys_changed_pending;
    };
    sync();
    box.append(state, row);
    return box;
  }

  // --- held messages ---------------------------------------------------------------------------

  async held() {
    const data = await call('/api/v1/moderator/held');
    const rows = Array.isArray(data) ? data : data.items || [];
    // Either groups [{conversation_id, roster, items}] or flat items with a conversation_id.
    const groups = new Map();
    for (const row of rows) {
      const cid = row.conversation_id;
      if (!groups.has(cid)) groups.set(cid, []);
      if (Array.isArray(row.items)) groups.get(cid).push(...row.items);
      else groups.get(cid).push(row);
    }
    const sections = [];
    for (const [cid, list] of groups) {
      const info = await this.conversation(cid);
      const section = el('section', 'card conv-group');
      const titleId = nextId('conv');
      const h = el('h2', null, this.t('conv-title', { id: cid }));
      h.id = titleId;
      section.setAttribute('aria-labelledby', titleId);
      section.dataset.conversation = cid;
      section.append(h, this.controls(cid, info));
      const ol = el('ol', 'held-list');
      const signPk = this.serverKeys.server_sign_pk ? rn.b64d(this.serverKeys.server_sign_pk) : null;
      for (const item of list) ol.append(this.heldItem(cid, info, item, signPk));
      section.append(ol);
      sections.push(section);
    }
    if (sections.length === 0) sections.push(el('p', 'empty', this.t('held-empty')));
    this.out.replaceChildren(...sections);
  }

  heldItem(cid, info, item, signPk) {
    const li = el('li', 'held-item');
    li.dataset.msgId = item.msg_id;
    const result = openItem(item, cid, info.members, this.keys, signPk);
    li.dataset.verified = String(result.ok);
    const meta = el('p', 'meta');
    meta.append(el('span', 'from', this.who(info.members, item.sender_id)));
    if (result.ok) meta.append(el('time', 'when', formatTime(result.sentAt)));
    li.append(meta);
    if (result.ok) {
      li.append(el('p', 'text', result.text));
      li.append(el('p', 'msg-state verified', this.t('verified')));
    } else if (result.previousKeys) {
      li.append(el('p', 'previous-keys', this.t('previous-keys')));
    } else {
      li.append(el('p', 'failed', this.t('failed')));
    }
    const form = el('form', 'stack decide');
    form.noValidate = true;
    const field = el('div', 'field');
    const reasonId = nextId('reason');
    const label = el('label', null, this.t('reason'));
    label.htmlFor = reasonId;
    const reason = el('textarea');
    reason.id = reasonId;
    reason.name = 'reason';
    reason.rows = 2;
    reason.maxLength = 1000;
    const help = el('p', 'help', this.t('reason-help'));
    help.id = nextId('help');
    reason.setAttribute('aria-describedby', help.id);
    field.append(label, reason, help);
    const error = el('p', 'error');
    error.setAttribute('role', 'alert');
    error.hidden = true;
    const row = el('div', 'actions-row');
    const release = el('button', null, this.t('release'));
    release.type = 'submit';
    release.value = 'release';
    release.disabled = !result.ok; // never release what does not verify
    const reject = el('button', 'danger', this.t('reject'));
    reject.type = 'submit';
    reject.value = 'reject';
    row.append(release, reject);
    form.append(field, error, row);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const action = event.submitter?.value === 'reject' ? 'reject' : 'release';
      const why = reason.value.trim();
      error.hidden = true;
      reason.removeAttribute('aria-invalid');
      if (action === 'reject' && !why) {
        error.textContent = this.t('reason-needed');
        error.hidden = false;
        reason.setAttribute('aria-invalid', 'true');
        reason.focus();
        return;
      }
      release.disabled = true;
      reject.disabled = true;
      try {
        const sig = rn.signDetached(this.keys.identity.sk, rn.modactionMessage(rn.b64d(item.entry_hash), action, why));
        await call(
          `/api/v1/conversations/${encodeURIComponent(cid)}/messages/${encodeURIComponent(item.msg_id)}/moderate`,
          { action, reason: why, sig: rn.b64e(sig) },
        );
        const done = el('p', 'notice', this.t(action === 'release' ? 'released' : 'rejected'));
        done.setAttribute('role', 'status');
        li.dataset.done = action;
        form.replaceWith(done);
      } catch (err) {
        error.textContent = err instanceof ApiError ? err.message : this.t('network');
        error.hidden = false;
        release.disabled = !result.ok;
        reject.disabled = false;
      }
    });
    li.append(form);
    return li;
  }

  // --- reports ---------------------------------------------------------------------------------

  async reports() {
    const data = await call('/api/v1/moderator/reports');
    const items = Array.isArray(data) ? data : data.items || [];
    const nodes = [];
    for (const report of items) nodes.push(await this.reportItem(report));
    if (nodes.length === 0) nodes.push(el('p', 'empty', this.t('reports-empty')));
    this.out.replaceChildren(...nodes);
  }

  async envelopeFor(cid, report) {
    if (report.envelope) return { envelope: report.envelope, sender_id: report.sender_id };
    // Older answers without the envelope: take it from the conversation (moderators see all).
    const items = await fetchAllMessages(cid);
    const found = items.find((i) => i.kind === 'message' && i.msg_id === report.msg_id);
    return found ? { envelope: found.envelope, sender_id: found.sender_id } : null;
  }

  async reportItem(report) {
    const cid = report.conversation_id;
    const info = await this.conversation(cid);
    const section = el('section', 'card report-item');
    section.dataset.reportId = report.id ?? report.msg_id;
    section.dataset.msgId = report.msg_id;
    const titleId = nextId('report');
    const h = el('h2', null, this.t('report-title', { id: cid }));
    h.id = titleId;
    section.setAttribute('aria-labelledby', titleId);
    let verified = false;
    let text = null;
    let senderId = report.sender_id;
    try {
      const found = await this.envelopeFor(cid, report);
      if (found) {
        senderId = senderId || found.sender_id;
        const envelope = rn.envelopeFromJson(found.envelope);
        const m = rn.b64d(report.m);
        const kf = rn.b64d(report.kf);
        const header = rn.parseHeader(envelope.header);
        const sender = info.members.find((x) => x.userId === header.senderId);
        verified =
          header.convId === cid &&
          rn.b64e(header.msgId) === report.msg_id &&
          header.senderId === senderId &&
          sender !== undefined &&
          rn.verifyReport(envelope.header, m, kf, envelope.c) &&
          rn.verifyEnvelopeSignature(sender.identityPk, envelope);
        if (verified) text = rn.unpadPlaintext(m);
      }
    } catch (err) {
      if (!(err instanceof rn.ProtocolError)) throw err;
      verified = false;
    }
    section.dataset.verified = String(verified);
    const facts = el('dl', 'facts');
    const fact = (k, v) => facts.append(el('dt', null, k), el('dd', null, v));
    fact(this.t('sent-by'), this.who(info.members, senderId));
    if (report.reporter_id) fact(this.t('reported-by'), this.who(info.members, report.reporter_id));
    if (report.created_at) fact(this.t('reported-at'), formatTime(report.created_at));
    if (text) fact(this.t('sent-at'), formatTime(text.sentAt));
    section.append(h, facts);
    if (verified) {
      section.append(el('p', 'msg-state verified', this.t('report-verified')));
      section.append(el('blockquote', 'quote text', text.text));
    } else {
      section.append(el('p', 'error', this.t('report-unverified')));
    }
    if (report.note) {
      section.append(el('p', 'note-label', this.t('note')));
      section.append(el('blockquote', 'quote', report.note));
    }
    section.append(this.controls(cid, info));
    return section;
  }
}

async function main() {
  await rn.ready();
  const root = document.getElementById('moderate');
  if (!root) return;
  const t = translator(root);
  const keys = keystore.keys() || (await bindUnlock(root.querySelector('[data-unlock]'), t, keystore.unlock));
  root.querySelector('#unlock').hidden = true;
  root.querySelector('#work').hidden = false;
  const page = new Moderation(root, keys);
  page.say(t('loading'));
  try {
    page.serverKeys = await call('/api/v1/server-keys');
    if (root.dataset.view === 'reports') await page.reports();
    else await page.held();
    page.say('');
    root.dataset.ready = 'true';
  } catch (err) {
    page.say(err instanceof ApiError ? err.message : t('network'), true);
  }
}

main();
