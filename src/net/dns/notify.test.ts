/**
 * sendNotify (RFC 1996) over a scripted UDP socket and a timer fired by
 * hand: the NOTIFY as sent, which answers are taken (source, port, ID, QR,
 * opcode), the doubling waits and the number of tries, each error by its
 * text, and the socket and timer released after each try. Written for the
 * survivors of the first mutation run of notify.ts (9bfa609: 51.4%), each
 * named in docs/testing.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { CLASS_IN, decodeDns, encodeDns, isDecodeError, RCODE, TYPE, type DnsMessage, type DnsRecord } from '../../wire/dns.ts';
import { OPCODE_NOTIFY } from './authority.ts';
import { sendNotify, type NotifyOptions } from './notify.ts';
import type { DnsNet, Timer } from './query.ts';
import { parseTsigKey, type Hmac, type TsigKey } from './tsig.ts';

const SOA: DnsRecord = {
  name: 'N.test.',
  type: TYPE.SOA,
  class: CLASS_IN,
  ttl: 300,
  data: { kind: 'SOA', mname: 'ns.n.test.', rname: 'h.n.test.', serial: 7, refresh: 1, retry: 1, expire: 1, minimum: 1 },
};

type Reply = { src?: string; srcPort?: number; data: Uint8Array };

/** A socket whose answers `reply` makes from each NOTIFY sent; timers recorded, fired by the test. */
function world(reply: (q: DnsMessage) => Reply[], sendOk = true) {
  const sent: { dst: string; port: number; q: DnsMessage }[] = [];
  const timers: { ms: number; fn: () => void; cancelled: boolean }[] = [];
  let closed = 0;
  const net: Pick<DnsNet, 'udpBind'> = {
    udpBind: async (_port, on) => ({
      port: 5353,
      send: (dst, port, data) => {
        const q = decodeDns(data);
        assert.ok(!isDecodeError(q));
        sent.push({ dst, port, q });
        if (!sendOk) return false;
        queueMicrotask(() => {
          for (const r of reply(q)) on({ src: r.src ?? '192.0.2.2', srcPort: r.srcPort ?? 53, data: r.data });
        });
        return true;
      },
      close: () => {
        closed++;
      },
    }),
  };
  const timer: Timer = (ms, fn) => {
    const t = { ms, fn, cancelled: false };
    timers.push(t);
    return () => {
      t.cancelled = true;
    };
  };
  let n = 0;
  const o: NotifyOptions = { net, random: { u32: () => 0x10000 + 40 + n++, fill: () => {} }, timer, wallSec: () => 1_700_000_000 };
  return { o, sent, timers, closed: () => closed };
}

const answer = (q: DnsMessage, over: Partial<DnsMessage> = {}): Uint8Array =>
  encodeDns({ ...q, qr: true, answers: [], authority: [], additional: [], ...over });

/** Fires each timer as it is set, until `p` settles. */
async function fireAll<T>(p: Promise<T>, timers: { fn: () => void }[]): Promise<T> {
  let done = false;
  void p.then(() => {
    done = true;
  });
  for (let i = 0; i < 100 && !done; i++) {
    await new Promise((r) => setImmediate(r));
    const t = timers[i];
    if (t) t.fn();
    else i--;
  }
  return p;
}

test('the NOTIFY as sent: AA and nothing else, the zone as question and its SOA as hint; answered NOERROR, the socket closed and the timer cancelled', async () => {
  const w = world((q) => [{ data: answer(q) }]);
  assert.equal(await sendNotify(w.o, '192.0.2.2', 53, SOA), undefined);
  assert.equal(w.sent.length, 1);
  const { dst, port, q } = w.sent[0]!;
  assert.deepEqual([dst, port], ['192.0.2.2', 53]);
  assert.deepEqual(
    [q.id, q.qr, q.opcode, q.aa, q.tc, q.rd, q.ra, q.ad, q.cd, q.rcode],
    [40, false, OPCODE_NOTIFY, true, false, false, false, false, false, 0],
  );
  assert.deepEqual(q.questions, [{ name: 'n.test.', type: TYPE.SOA, class: CLASS_IN }]);
  assert.deepEqual(q.answers, [{ ...SOA, name: 'n.test.' }]);
  assert.equal(w.closed(), 1);
  assert.deepEqual(
    w.timers.map((t) => [t.ms, t.cancelled]),
    [[2000, true]],
  );
});

test('answers from elsewhere, with another ID, not answers, of another opcode or not DNS are ignored; the right one is taken', async () => {
  const w = world((q) => [
    { src: '192.0.2.3', data: answer(q) },
    { srcPort: 54, data: answer(q) },
    { data: answer(q, { id: q.id + 1 }) },
    { data: answer(q, { qr: false }) },
    { data: answer(q, { opcode: 0 }) },
    { data: new Uint8Array(3) },
    { data: answer(q, { rcode: RCODE.REFUSED }) },
  ]);
  assert.equal(await sendNotify(w.o, '192.0.2.2', 53, SOA), 'answered REFUSED');
});

test('no answer: tries (5 by default) with doubling waits from firstWaitMs (2 s by default), a new ID each; then why', async () => {
  const w = world(() => []);
  assert.equal(await fireAll(sendNotify(w.o, '192.0.2.2', 53, SOA), w.timers), 'no answer after 5 tries');
  assert.deepEqual(
    w.timers.map((t) => t.ms),
    [2000, 4000, 8000, 16000, 32000],
  );
  assert.deepEqual(
    w.sent.map((s) => s.q.id),
    [40, 41, 42, 43, 44],
  );
  assert.equal(w.closed(), 5);
  const w2 = world(() => []);
  assert.equal(
    await fireAll(sendNotify({ ...w2.o, tries: 2, firstWaitMs: 100 }, '192.0.2.2', 53, SOA), w2.timers),
    'no answer after 2 tries',
  );
  assert.deepEqual(
    w2.timers.map((t) => t.ms),
    [100, 200],
  );
  const w0 = world(() => []);
  assert.equal(await sendNotify({ ...w0.o, tries: 0 }, '192.0.2.2', 53, SOA), 'no answer');
  // Answered on the second try.
  let k = 0;
  const w3 = world((q) => (k++ === 1 ? [{ data: answer(q) }] : []));
  assert.equal(await fireAll(sendNotify(w3.o, '192.0.2.2', 53, SOA), w3.timers), undefined);
  assert.equal(w3.sent.length, 2);
});

test('a send that fails, a port that cannot be opened, and a signed NOTIFY answered unsigned: each said, not retried', async () => {
  const w = world(() => [], false);
  assert.equal(await sendNotify(w.o, '192.0.2.2', 53, SOA), 'cannot send (no route or no address yet)');
  assert.equal(w.sent.length, 1);
  const broken: NotifyOptions = {
    ...w.o,
    net: {
      udpBind: async () => {
        throw new Error('no ports left');
      },
    },
  };
  assert.equal(await sendNotify(broken, '192.0.2.2', 53, SOA), 'cannot open a UDP port: no ports left');
  const hmac: Hmac = (hash, key, data) => createHmac(hash, key).update(data).digest();
  const key = parseTsigKey('hmac-sha256:n-key:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==') as TsigKey;
  const s = world((q) => [{ data: answer(q, { additional: [] }) }]);
  const r = await sendNotify({ ...s.o, tsig: { key, hmac } }, '192.0.2.2', 53, SOA);
  assert.equal(r, 'the answer is not signed (the request was, with n-key.)');
  assert.equal(s.sent.length, 1);
});
