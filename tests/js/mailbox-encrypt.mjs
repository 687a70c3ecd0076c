// Compose a mailbox message with the browser module (rncrypto.mjs), as the web page does.
// stdin:  {"conversation": <GET /api/v1/conversations/<cid> answer>, "sign_seed": B64, "sender_id",
//          "text", "sent_at"}   (seq = conversation.my_last_seq + 1)
// stdout: {"msg_id": B64, "seq": n, "envelope": {...}}  — the body of POST .../messages.

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
const seq = conv.my_last_seq + 1;
const sent = rn.encryptMessage(rn.b64d(req.sign_seed), conv.id, req.sender_id, seq, roster, req.text, req.sent_at);
process.stdout.write(JSON.stringify({ msg_id: rn.b64e(sent.msgId), seq, envelope: rn.envelopeToJson(sent.envelope) }));
