// Conversation page (and inbox counts): unlock the keys, check the roster, pin partners' keys,
// show safety numbers, decrypt and verify every message in the browser, send, and report.
// Plaintext and keys never leave this tab except a reported message, which the person confirms.

import * as rn from '../rncrypto.mjs';
import * as keystore from '../keystore.mjs';
import {
  ApiError,
  bindUnlock,
  call,
  checkRoster,
  cryptoRoster,
  decodeRoster,
  fetchAllMessages,
  formatTime,
  groupDigits,
  keysAtSend,
  openItem,
  paint,
  roleName,
  translator,
  verifyModaction,
} from '../mailcore.mjs';

const POLL_MS = 4000;

// --- inbox ---------------------------------------------------------------------------------

async function inbox(root) {
  const t = translator(root);
  let list;
  try {
    list = await call('/api/v1/conversations');
  } catch {
    return; // the server-rendered list still works without counts
  }
  const items = Array.isArray(list) ? list : list.items || [];
  for (const c of items) {
    const slot = root.querySelector(`[data-counts-for="${CSS.escape(c.id)}"]`);
    if (!slot) continue;
    const parts = [];
    if (c.unread) parts.push(['unread', t('unread', { n: c.unread })]);
    if (c.held) parts.push(['held', t('held', { n: c.held })]);
    slot.replaceChildren(
      ...parts.map(([kind, text]) => {
        const span = document.createElement('span');
        span.className = `badge ${kind}`;
        span.textContent = text;
        return span;
      }),
    );
  }
  root.dataset.ready = 'true';
}

// --- conversation --------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

class Conversation {
  constructor(root, keys) {
    this.root = root;
    this.t = translator(root);
    this.cid = root.dataset.cid;
    this.keys = keys;
    this.members = [];
    this.conv = null;
    this.serverKeys = null;
    this.opened = new Map(); // msg_id -> openItem result (cached: decryption does not change)
    this.nodes = new Map(); // msg_id -> <li>
    this.problems = [];
    this.keyAlerts = [];
    this.nextSeq = 1;
    this.list = root.querySelector('[data-messages]');
    this.form = root.querySelector('#compose');
    this.alerts = root.querySelector('[data-alerts]');
    this.threadStatus = root.querySelector('[data-thread-status]');
    this.dialog = document.getElementById('report-dialog');
    this.polling = null;
    this.busy = false;
  }

  async start() {
    this.root.querySelector('#unlock').hidden = true;
    const thread = this.root.querySelector('#thread');
    thread.hidden = false;
    this.threadStatus.textContent = this.t('loading');
    this.threadStatus.hidden = false;
    this.serverKeys = await call('/api/v1/server-keys');
    await this.loadRoster();
    this.bindCompose();
    this.bindReport();
    this.bindExport();
    await this.refresh();
    this.threadStatus.hidden = true;
    this.root.dataset.ready = 'true';
    this.polling = setInterval(() => {
      if (document.visibilityState === 'visible') this.poll().catch(() => {});
    }, POLL_MS);
  }

  async poll() {
    if (this.busy) return;
    const conv = await call(`/api/v1/conversations/${encodeURIComponent(this.cid)}`);
    // Re-check the roster only when something in it changed (re-rendering alerts moves focus).
    if (Conversation.fingerprint(conv) !== this.convPrint) await this.loadRoster(conv);
    await this.refresh();
  }

  // What, if it changes, must be checked again: state, keys, certificates, key changes.
  static fingerprint(conv) {
    return JSON.stringify([conv.state, conv.premoderated, conv.roster, conv.key_changes || []]);
  }

  async loadRoster(fetched = null) {
    this.conv = fetched || (await call(`/api/v1/conversations/${encodeURIComponent(this.cid)}`));
    this.convPrint = Conversation.fingerprint(this.conv);
    this.members = decodeRoster(this.conv);
    this.problems = checkRoster(this.members, this.serverKeys.org_pk);
    const me = this.members.find((m) => m.userId === this.keys.userId);
    this.nextSeq = Math.max(this.nextSeq, (this.conv.my_last_seq || 0) + 1);
    this.keyAlerts = [];
    for (const m of this.members) {
      if (m.userId === this.keys.userId) continue;
      const slot = this.root.querySelector(`[data-safety-for="${CSS.escape(m.userId)}"]`);
      if (slot && me) {
        const digits = rn.safetyNumber(me.userId, me.identityPk, m.userId, m.identityPk);
        const parts = groupDigits(digits).split(' ');
        slot.replaceChildren(...parts.flatMap((g, i) => (i ? [' ', el('span', 'group', g)] : [el('span', 'group', g)])));
        slot.dataset.digits = digits;
      }
      const pinned = keystore.checkPin(this.cid, m.userId, m.identityPkB64);
      if (pinned === 'changed') this.keyAlerts.push({ member: m, local: true });
    }
    // The server marks key changes too; until a moderator confirms one, the conversation waits.
    const pending = new Set(
      (this.conv.key_changes || []).filter((k) => !k.confirmed).map((k) => k.user_id),
    );
    for (const m of this.members) {
      if (m.userId !== this.keys.userId && pending.has(m.userId) && !this.keyAlerts.some((a) => a.member === m)) {
        this.keyAlerts.push({ member: m, local: false });
      }
    }
    this.renderAlerts();
  }

  who(member) {
    const role = roleName(this.root, member.role);
    return member.role === 'moderator' && member.username ? `${role} ${member.username}` : role;
  }

  renderAlerts() {
    const nodes = [];
    for (const alert of this.keyAlerts) {
      const box = el('div', 'warning key-changed');
      box.setAttribute('role', 'alert');
      box.dataset.keyChanged = alert.member.userId;
      box.append(el('p', null, this.t(alert.local ? 'key-changed' : 'key-changed-server', { who: this.who(alert.member) })));
      if (alert.local) {
        const accept = el('button', 'secondary small', this.t('accept-key'));
        accept.type = 'button';
        accept.addEventListener('click', () => {
          keystore.pin(this.cid, alert.member.userId, alert.member.identityPkB64);
          this.keyAlerts = this.keyAlerts.filter((a) => a !== alert);
          this.renderAlerts();
        });
        box.append(accept);
      }
      nodes.push(box);
    }
    if (this.problems.length > 0) {
      const box = el('div', 'error roster-problems');
      box.setAttribute('role', 'alert');
      box.dataset.rosterProblems = 'true';
      box.append(el('p', null, this.t('roster-refuse')));
      const ul = el('ul');
      for (const p of this.problems) {
        const key = { enc: 'roster-enc', mod: 'roster-mod', nomod: 'roster-nomod', org: 'roster-org' }[p.kind];
        ul.append(el('li', null, this.t(key, { who: p.member ? this.who(p.member) : '' })));
      }
      box.append(ul);
      nodes.push(box);
    }
    const state = this.conv?.state;
    // The page already says so when it was rendered in this state; say it again only when it changed.
    const renderedNote = document.querySelector('[data-server-state]');
    if (renderedNote) renderedNote.hidden = renderedNote.dataset.serverState !== state;
    if ((state === 'paused' || state === 'closed') && renderedNote?.dataset.serverState !== state) {
      const box = el('p', 'warning', this.t(state));
      box.dataset.paused = state;
      nodes.push(box);
    }
    this.alerts.replaceChildren(...nodes);
    this.syncComposer();
  }

  canSend() {
    return this.conv?.state === 'open' && this.problems.length === 0 && this.keyAlerts.length === 0;
  }

  syncComposer() {
    const blocked = !this.canSend();
    this.form.querySelector('textarea').disabled = blocked;
    this.form.querySelector('button[type="submit"]').disabled = blocked || this.busy;
    this.form.dataset.blocked = String(blocked);
  }

  async refresh() {
    const items = await fetchAllMessages(this.cid);
    const messages = [];
    const actions = new Map(); // msg_id -> last modaction
    for (const item of items) {
      if (item.kind === 'modaction') actions.set(item.msg_id, item);
      else if (item.kind === 'message') messages.push(item);
    }
    for (const item of messages) {
      if (!this.opened.has(item.msg_id)) {
        const signPk = this.serverKeys.server_sign_pk ? rn.b64d(this.serverKeys.server_sign_pk) : null;
        this.opened.set(item.msg_id, openItem(item, this.cid, this.members, this.keys, signPk));
      }
      if (item.sender_id === this.keys.userId) this.nextSeq = Math.max(this.nextSeq, item.seq + 1);
    }
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    let added = false;
    for (const item of messages) {
      const node = this.renderItem(item, actions.get(item.msg_id));
      if (!node.isConnected) {
        this.list.append(node);
        added = true;
      }
    }
    if (messages.length === 0 && !this.list.querySelector('[data-empty]')) {
      const empty = el('li', 'empty', this.t('empty'));
      empty.dataset.empty = 'true';
      this.list.append(empty);
    } else if (messages.length > 0) {
      this.list.querySelector('[data-empty]')?.remove();
    }
    if (added || atBottom) this.list.scrollTop = this.list.scrollHeight;
  }

  renderItem(item, action) {
    const mine = item.sender_id === this.keys.userId;
    const result = this.opened.get(item.msg_id);
    const sender = this.members.find((m) => m.userId === item.sender_id);
    const signature = `${item.state}|${item.reason || ''}|${action ? action.sig : ''}`;
    let li = this.nodes.get(item.msg_id);
    if (li && li.dataset.signature === signature) return li;
    if (!li) {
      li = el('li', `msg ${mine ? 'mine' : 'theirs'}`);
      li.dataset.msgId = item.msg_id;
      this.nodes.set(item.msg_id, li);
    }
    li.dataset.signature = signature;
    li.dataset.state = result.ok ? item.state : result.previousKeys ? 'previous-keys' : 'failed';
    const meta = el('p', 'meta');
    meta.append(el('span', 'from', mine ? this.t('you') : sender ? this.who(sender) : '?'));
    if (result.ok) meta.append(el('time', 'when', formatTime(result.sentAt)));
    const children = [meta];
    if (!result.ok && result.previousKeys) {
      children.push(el('p', 'previous-keys', this.t('previous-keys')));
    } else if (!result.ok) {
      children.push(el('p', 'failed', this.t('failed')));
    } else {
      const body = el('p', 'text', result.text);
      body.lang = '';
      children.push(body);
      const badge = el('p', 'msg-state');
      if (item.state === 'held') {
        badge.classList.add('held');
        badge.textContent = this.t('held');
      } else if (item.state === 'rejected') {
        badge.classList.add('rejected');
        const reason = item.reason ?? action?.reason ?? '';
        badge.textContent = reason ? this.t('rejected-reason', { reason }) : this.t('rejected');
      } else {
        badge.classList.add('verified');
        const released = action && action.action === 'release' && verifyModaction(action, item.entry_hash, this.members);
        badge.textContent = released ? `${this.t('verified')} · ${this.t('released')}` : this.t('verified');
      }
      children.push(badge);
      if (!mine && item.state === 'delivered') {
        const report = el('button', 'link report', this.t('report'));
        report.type = 'button';
        report.setAttribute('aria-label', this.t('report-label'));
        report.addEventListener('click', () => this.askReport(item, result, report));
        children.push(report);
      }
    }
    li.replaceChildren(...children);
    return li;
  }

  bindCompose() {
    const textarea = this.form.querySelector('textarea');
    const counter = this.form.querySelector('.counter');
    const status = this.form.querySelector('[data-status]');
    const error = this.form.querySelector('[data-error]');
    const count = () => {
      const n = [...textarea.value].length;
      counter.textContent = this.t('counter', { n: n.toLocaleString(), max: rn.MAX_TEXT_CHARS.toLocaleString() });
      counter.classList.toggle('over', n > rn.MAX_TEXT_CHARS);
    };
    textarea.addEventListener('input', count);
    count();
    const fail = (message) => {
      status.hidden = true;
      error.textContent = message;
      error.hidden = false;
    };
    this.form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.hidden = true;
      const text = textarea.value;
      if (!text.trim()) return fail(this.t('blank'));
      if ([...text].length > rn.MAX_TEXT_CHARS) return fail(this.t('too-long'));
      // Check the roster again right before sending: it may have changed since the page loaded.
      this.busy = true;
      this.syncComposer();
      status.textContent = this.t('sending');
      status.hidden = false;
      try {
        await this.loadRoster();
        if (!this.canSend()) {
          status.hidden = true;
          return;
        }
        await paint();
        const answer = await this.send(text);
        textarea.value = '';
        count();
        status.textContent = answer.state === 'held' ? this.t('sent-held') : this.t('sent');
        clearTimeout(this.statusTimer);
        this.statusTimer = setTimeout(() => {
          status.hidden = true;
        }, 8000);
        await this.refresh();
        this.list.scrollTop = this.list.scrollHeight;
      } catch (err) {
        if (err instanceof ApiError) fail(err.message);
        else if (err instanceof TypeError) fail(this.t('network'));
        else fail(err.message || String(err));
      } finally {
        this.busy = false;
        this.syncComposer();
      }
    });
    this.form.dataset.ready = 'true';
  }

  async send(text) {
    const sentAt = new Date().toISOString();
    for (let attempt = 0; attempt < 2; attempt++) {
      const seq = this.nextSeq;
      const made = rn.encryptMessage(
        this.keys.identity.sk,
        this.cid,
        this.keys.userId,
        seq,
        cryptoRoster(this.members),
        text,
        sentAt,
      );
      try {
        const answer = await call(`/api/v1/conversations/${encodeURIComponent(this.cid)}/messages`, {
          msg_id: rn.b64e(made.msgId),
          seq,
          envelope: rn.envelopeToJson(made.envelope),
        });
        this.nextSeq = seq + 1;
        return answer;
      } catch (err) {
        // Another tab of mine sent in between: take the server's count and sign again once.
        if (attempt === 0 && err instanceof ApiError && err.status === 409) {
          await this.loadRoster();
          await this.refresh();
          continue;
        }
        throw err;
      } finally {
        made.kf.fill(0);
      }
    }
    throw new Error('send failed');
  }

  bindReport() {
    const form = this.dialog.querySelector('[data-report-form]');
    this.dialog.addEventListener('close', async () => {
      const pending = this.pendingReport;
      this.pendingReport = null;
      const note = form.elements.note.value.trim();
      form.elements.note.value = '';
      if (!pending || this.dialog.returnValue !== 'confirm') {
        pending?.button.focus();
        return;
      }
      const { item, result, button } = pending;
      const li = this.nodes.get(item.msg_id);
      const out = el('p', 'status report-status');
      out.setAttribute('role', 'status');
      out.textContent = this.t('report-sending');
      button.replaceWith(out);
      try {
        const body = { m: rn.b64e(result.m), kf: rn.b64e(result.kf) };
        if (note) body.note = note;
        await call(
          `/api/v1/conversations/${encodeURIComponent(this.cid)}/messages/${encodeURIComponent(item.msg_id)}/report`,
          body,
        );
        out.textContent = this.t('reported');
        li.dataset.reported = 'true';
      } catch (err) {
        out.className = 'error report-status';
        out.setAttribute('role', 'alert');
        out.textContent = err instanceof ApiError ? err.message : this.t('network');
        out.after(button);
      }
    });
  }

  // The message key of an envelope I opened, unwrapped again from my slot in its header roster
  // (the evidence bundle carries it so that anyone can check the franking commitment offline).
  messageKey(envelope) {
    const named = keysAtSend(this.members, rn.parseHeader(envelope.header));
    const index = named.roster.findIndex((r) => r.userId === this.keys.userId);
    const box = this.keys.box.get(named.roster[index].epoch);
    return rn.unwrapKey(envelope.wrapped[index], box.pk, box.sk);
  }

  // Download the server's signed evidence bundle plus the plaintexts this tab can open, in the
  // canonical form `python -m reunite.client verify-export` checks. Nothing is sent anywhere.
  bindExport() {
    const button = this.root.querySelector('[data-export]');
    const out = this.root.querySelector('[data-export-status]');
    if (!button || !out) return;
    button.addEventListener('click', async () => {
      button.disabled = true;
      out.className = 'status';
      out.textContent = this.t('export-working');
      out.hidden = false;
      try {
        const bundle = await call(`/api/v1/conversations/${encodeURIComponent(this.cid)}/export`);
        const signPk = this.serverKeys.server_sign_pk ? rn.b64d(this.serverKeys.server_sign_pk) : null;
        bundle.plaintexts = [];
        for (const item of bundle.entries) {
          if (item.kind !== 'message') continue;
          const result = this.opened.get(item.msg_id) || openItem(item, this.cid, this.members, this.keys, signPk);
          if (!result.ok) continue;
          bundle.plaintexts.push({
            msg_id: item.msg_id,
            m: rn.b64e(result.m),
            kf: rn.b64e(result.kf),
            k: rn.b64e(this.messageKey(result.envelope)),
          });
        }
        const link = document.createElement('a');
        link.href = URL.createObjectURL(new Blob([canonicalJson(bundle)], { type: 'application/json' }));
        link.download = `reunite-${this.cid}.json`;
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
        out.textContent = this.t('export-done');
      } catch (err) {
        out.className = 'error';
        out.textContent = err instanceof ApiError ? err.message : this.t('network');
      } finally {
        button.disabled = false;
      }
    });
  }

  askReport(item, result, button) {
    this.pendingReport = { item, result, button };
    this.dialog.querySelector('[data-report-quote]').textContent = result.text;
    this.dialog.returnValue = '';
    this.dialog.showModal();
  }
}

/** JSON with sorted keys and no whitespace: the byte form of evidence bundles (protocol.canonical_json). */
function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

async function conversation(root) {
  const t = translator(root);
  const form = root.querySelector('[data-unlock]');
  const keys = keystore.keys() || (await bindUnlock(form, t, keystore.unlock));
  const page = new Conversation(root, keys);
  try {
    await page.start();
  } catch (err) {
    const status = root.querySelector('[data-thread-status]');
    status.className = 'error';
    status.setAttribute('role', 'alert');
    status.textContent = err instanceof ApiError ? err.message : t('network');
    status.hidden = false;
  }
}

async function main() {
  await rn.ready();
  const conv = document.getElementById('conversation');
  if (conv) await conversation(conv);
  const list = document.getElementById('inbox');
  if (list) await inbox(list);
}

main();
