// Cross-language helper for tests/client/test_js_vectors.py: reads one JSON request document
// on stdin, answers on stdout. Binary values travel as {"b": "<base64url>"} inside "call"
// arguments and as plain base64url strings in envelopes (their JSON form).
//
// {"requests": [
//   {"op": "call", "fn": "<rncrypto export>", "args": [...]},
//   {"op": "encrypt", "sign_seed", "conv_id", "sender_id", "seq", "roster", "text", "sent_at"},
//   {"op": "open", "envelope", "user_id", "box_seed", "sender_identity_pk", "roster", "conv_id"}
// ]}  ->  {"responses": [{"ok": true, ...} | {"ok": false, "error": name, "reason": ...}]}

import * as rn from '../../reunite/static/js/rncrypto.mjs';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function decodeArg(value) {
  if (Array.isArray(value)) return value.map(decodeArg);
  if (value !== null && typeof value === 'object') {
    if (Object.keys(value).length === 1 && typeof value.b === 'string') return rn.b64d(value.b);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeArg(v)]));
  }
  return value;
}

function encodeResult(value) {
  if (value instanceof Uint8Array) return { b: rn.b64e(value) };
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), encodeResult(v)]));
  if (Array.isArray(value)) return value.map(encodeResult);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, encodeResult(v)]));
  }
  return value;
}

function roster(list) {
  return list.map((r) => ({ userId: r.user_id, encPk: rn.b64d(r.enc_pk), epoch: r.epoch }));
}

function handle(req) {
  if (req.op === 'call') {
    const fn = rn[req.fn];
    if (typeof fn !== 'function') throw new Error(`no export ${req.fn}`);
    return { result: encodeResult(fn(...decodeArg(req.args))) };
  }
  if (req.op === 'encrypt') {
    const sent = rn.encryptMessage(
      rn.b64d(req.sign_seed),
      req.conv_id,
      req.sender_id,
      req.seq,
      roster(req.roster),
      req.text,
      req.sent_at,
    );
    return { envelope: rn.envelopeToJson(sent.envelope), msg_id: rn.b64e(sent.msgId), kf: rn.b64e(sent.kf), m: rn.b64e(sent.m) };
  }
  if (req.op === 'open') {
    const box = rn.boxKeypairFromSeed(rn.b64d(req.box_seed));
    const opened = rn.openEnvelope(
      rn.envelopeFromJson(req.envelope),
      req.user_id,
      box.pk,
      box.sk,
      rn.b64d(req.sender_identity_pk),
      roster(req.roster),
      { convId: req.conv_id ?? null },
    );
    return { text: opened.text, sent_at: opened.sentAt, kf: rn.b64e(opened.kf), m: rn.b64e(opened.m) };
  }
  throw new Error(`unknown op ${req.op}`);
}

await rn.ready();
const doc = JSON.parse(await readStdin());
const responses = doc.requests.map((req) => {
  try {
    return { ok: true, ...handle(req) };
  } catch (err) {
    // any other error is a bug the Python side reports (error name differs)
    return { ok: false, error: err.name, reason: err.reason ?? err.message };
  }
});
process.stdout.write(JSON.stringify({ responses }));
