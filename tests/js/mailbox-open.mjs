// Open a mailbox message with the browser module (rncrypto.mjs), as the web page does.
// stdin:  {"conversation": <roster answer>, "item": <one item of GET .../messages>, "user_id", "box_seed": B64}
// stdout: {"ok": true, "text", "sent_at"} or {"ok": false, "reason"} (never the text of a bad message).
// It also recomputes the item's chain entry from the previous entry hash given as "prev" (B64), if any.

import * as rn from '../../reunite/static/js/rncrypto.mjs';

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

await rn.ready();
const req = JSON.parse(await readStdin());
const conv = req.conversation;
const roster = conv.roster.map((r) => ({ userId: r.user_id, encPk: rn.b64d(r.enc_pk), epoch: r.epoch }));
const sender = conv.roster.find((r) => r.user_id === req.item.sender_id);
const box = rn.boxKeypairFromSeed(rn.b64d(req.box_seed));
let answer;
try {
  const env = rn.envelopeFromJson(req.item.envelope);
  const opened = rn.openEnvelope(env, req.user_id, box.pk, box.sk, rn.b64d(sender.identity_pk), roster, {
    convId: conv.id,
  });
  answer = { ok: true, text: opened.text, sent_at: opened.sentAt };
  if (req.prev) {
    const e = rn.convlogEntry(
      rn.b64d(req.prev), rn.b64d(req.item.msg_id), env.c, env.kc, env.nonce, env.body, env.sig, req.item.received_ms,
    );
    answer.entry_hash = rn.b64e(e);
  }
} catch (err) {
  if (!(err instanceof rn.ProtocolError)) throw err;
  answer = { ok: false, reason: err.reason ?? err.message };
}
process.stdout.write(JSON.stringify(answer));
