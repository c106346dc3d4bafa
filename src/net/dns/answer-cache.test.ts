/**
 * The Authority's answer cache (authority.ts): an answer served from it is
 * byte for byte the answer computed afresh (by an Authority that has seen
 * nothing before), with the new query's ID (answers are kept from the second
 * time a query is asked), for the benchmark's mix and
 * more, in every case spelling (0x20), EDNS size, DO and CD bit, over UDP
 * and TCP; a truncated answer stays truncated for the query that asked for
 * less room; a zone change (UPDATE, a secondary's transfer, expiry, removal)
 * empties it; signed queries never come from it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CLASS_IN, decodeDns, encodeDns, isDecodeError, makeQuery, RCODE, TYPE, type DnsMessage } from '../../wire/dns.ts';
import { Authority, OPCODE_UPDATE, Zone } from './authority.ts';
import { parseTsigKey, signMessage, type Hmac, type TsigKey } from './tsig.ts';
import { Updates } from './update.ts';

const zoneText = (name: string): string =>
  readFileSync(new URL(`../../../examples/dns-server/zones/${name}.zone`, import.meta.url), 'utf8');
function zone(apex: string, text: string): Zone {
  const z = Zone.parse(apex, text);
  if ('errors' in z) throw new Error(z.errors.join('\n'));
  return z;
}
const EXAMPLE = zoneText('example.test'),
  TYPES = zoneText('types.test');
const zones = (): Zone[] => [zone('example.test.', EXAMPLE), zone('types.test.', TYPES)];
const fresh = (): Authority => new Authority(zones());

function decoded(b: Uint8Array): DnsMessage {
  const m = decodeDns(b);
  if (isDecodeError(m)) throw new Error(m.error);
  return m;
}
const withId = (b: Uint8Array, id: number): Uint8Array => {
  const c = b.slice();
  c[0] = id >> 8;
  c[1] = id & 0xff;
  return c;
};
/** Every other letter upper case: what a 0x20 resolver sends. */
const mixedCase = (s: string): string => [...s].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');

const NAMES: [string, number][] = [
  ['www.example.test', TYPE.A],
  ['alias.example.test', TYPE.A],
  ['x.wild.example.test', TYPE.TXT],
  ['nope.example.test', TYPE.A],
  ['www.example.test', TYPE.MX],
  ['example.test', TYPE.MX],
  ['www.example.test', TYPE.AAAA],
  ['big.example.test', TYPE.TXT],
  ['a.b.ent.example.test', TYPE.A],
  ['b.ent.example.test', TYPE.A],
  ['x.delegated.example.test', TYPE.A],
  ['elsewhere.test', TYPE.A],
  ['example.test', TYPE.ANY],
  ['example.test', TYPE.SOA],
  ['x.dname.types.test', TYPE.A],
  ['types.test', TYPE.NS],
];

/** Each name in several forms: plain, 0x20, EDNS at 512 and 4096, DO, CD, RD off, class CH, EDNS version 1 (BADVERS). */
function variants(): DnsMessage[] {
  const out: DnsMessage[] = [];
  for (const [name, type] of NAMES) {
    const base = makeQuery(1, name, type);
    const edns = makeQuery(1, name, type, { udpSize: 1232 });
    out.push(
      base,
      makeQuery(1, mixedCase(name), type),
      makeQuery(1, mixedCase(name), type, { udpSize: 512 }),
      makeQuery(1, name, type, { udpSize: 4096 }),
      { ...edns, edns: { ...edns.edns!, dnssecOk: true } },
      { ...base, cd: true },
      { ...base, rd: false },
      // Class CHAOS: REFUSED; differs from the IN query in its last octet only.
      { ...base, questions: [{ name, type, class: 3 }] },
      { ...edns, edns: { ...edns.edns!, version: 1 } },
    );
  }
  return out;
}

test('answers from the cache are the fresh answers, byte for byte, with the new ID, over UDP and TCP', () => {
  const cached = fresh();
  let n = 0,
    kept = 0;
  for (const transport of ['udp', 'tcp'] as const)
    for (const q of variants()) {
      const bytes = encodeDns(q);
      const want = fresh().answer(bytes, { transport });
      assert.equal(want.length, 1);
      // BADVERS (EDNS version 1) and the REFUSED for class CH are answered afresh each time; every other answer here is kept.
      if (q.questions[0]!.class === CLASS_IN && decoded(want[0]!).rcode !== RCODE.BADVERS) kept++;
      for (const id of [1, 0xbeef, 7, 0x8000]) {
        const got = cached.answer(withId(bytes, id), { transport });
        assert.deepEqual(got, [withId(want[0]!, id)], `${q.questions[0]!.name} ${q.questions[0]!.type} ${transport} id ${id}`);
        n++;
      }
    }
  // Each kept query computed twice (kept the second time it is asked), then twice from the cache.
  assert.equal(cached.cacheCounters.hits, 2 * kept);
  assert.equal(cached.cacheCounters.misses, n - 2 * kept);
  assert.ok(kept >= NAMES.length * 2 * 7);
  assert.equal(n, kept * 4 + (NAMES.length * 2 * 9 - kept) * 4);
});

test('the counters count a cached answer as they count a fresh one', () => {
  const a = fresh(),
    b = fresh();
  for (const q of variants()) {
    a.answer(encodeDns(q), { transport: 'udp' });
    for (let i = 0; i < 3; i++) b.answer(encodeDns(q), { transport: 'udp' });
  }
  assert.ok(a.counters.nxdomain > 0 && a.counters.truncated > 0 && a.counters.refused > 0);
  assert.deepEqual(b.counters, {
    ...a.counters,
    queries: a.counters.queries * 3,
    nxdomain: a.counters.nxdomain * 3,
    truncated: a.counters.truncated * 3,
    refused: a.counters.refused * 3,
    formerr: a.counters.formerr * 3,
  });
});

test('a query that gives less room gets the truncated answer, after one with room was kept', () => {
  const a = fresh();
  const ask = (id: number, udpSize: number | undefined): DnsMessage =>
    decoded(a.answer(encodeDns(makeQuery(id, 'types.test', TYPE.ANY, { udpSize })), { transport: 'udp' })[0]!);
  for (let i = 0; i < 3; i++) {
    const roomy = ask(1, 1232);
    assert.equal(roomy.tc, false);
    assert.ok(roomy.answers.length > 5);
    for (const small of [ask(2, undefined), ask(3, 512)]) {
      assert.equal(small.tc, true);
      assert.equal(small.answers.length, 0);
    }
  }
  assert.equal(a.cacheCounters.hits, 3, 'the third round from the cache');
  assert.equal(a.counters.truncated, 6);
});

const www = (a: Authority): DnsMessage => decoded(a.answer(encodeDns(makeQuery(9, 'www.example.test', TYPE.A)), { transport: 'udp' })[0]!);
/** Asks for www three times (the third from the cache) and returns the last answer. */
const warm = (a: Authority): DnsMessage => {
  www(a);
  www(a);
  const hits = a.cacheCounters.hits;
  const m = www(a);
  assert.equal(a.cacheCounters.hits, hits + 1, 'the third answer came from the cache');
  return m;
};
const address = (m: DnsMessage): string | undefined => {
  const d = m.answers[0]?.data;
  return d?.kind === 'A' ? d.address : undefined;
};

test('a transferred zone (setZone, as a secondary loads one after NOTIFY), expiry and removal empty the cache', () => {
  const a = fresh();
  assert.equal(address(warm(a)), '192.0.2.80');
  a.setZone(zone('example.test.', EXAMPLE.replace('www     IN A   192.0.2.80', 'www     IN A   192.0.2.81')));
  assert.equal(address(www(a)), '192.0.2.81');
  assert.equal(address(warm(a)), '192.0.2.81');
  a.setUnavailable('example.test.');
  assert.equal(www(a).rcode, RCODE.SERVFAIL);
  assert.equal(warm(a).rcode, RCODE.SERVFAIL);
  a.setZone(zone('example.test.', EXAMPLE));
  assert.equal(address(www(a)), '192.0.2.80');
  assert.equal(address(warm(a)), '192.0.2.80');
  a.removeZone('example.test.');
  assert.equal(www(a).rcode, RCODE.REFUSED);
});

test('an UPDATE empties the cache: the next answer has the added record', () => {
  const a = fresh();
  const updates = new Updates(a, { allowed: () => true, commit: () => 'ok', applied: () => {} });
  const update = (m: DnsMessage, key: TsigKey | undefined): number => updates.handle(m, key, '10.0.0.1');
  assert.equal(warm(a).answers.length, 1);
  const msg: DnsMessage = {
    ...makeQuery(0x55, 'example.test', TYPE.SOA, { rd: false }),
    opcode: OPCODE_UPDATE,
    questions: [{ name: 'example.test', type: TYPE.SOA, class: CLASS_IN }],
    authority: [{ name: 'www.example.test', type: TYPE.A, class: CLASS_IN, ttl: 300, data: { kind: 'A', address: '192.0.2.82' } }],
  };
  const r = decoded(a.answer(encodeDns(msg), { transport: 'udp', update })[0]!);
  assert.equal(r.rcode, RCODE.NOERROR);
  assert.deepEqual(
    www(a)
      .answers.map((x) => (x.data.kind === 'A' ? x.data.address : ''))
      .sort(),
    ['192.0.2.80', '192.0.2.82'],
  );
});

test('signed queries are answered afresh and signed each time, never from the cache', () => {
  const hmac: Hmac = (hash, key, data) => createHmac(hash, key).update(data).digest();
  const key = parseTsigKey('hmac-sha256:k:' + Buffer.alloc(32, 7).toString('base64'));
  if ('error' in key) throw new Error(key.error);
  const a = fresh();
  const plain = encodeDns(makeQuery(4, 'www.example.test', TYPE.A));
  for (let i = 0; i < 3; i++) a.answer(plain, { transport: 'udp' });
  assert.equal(a.cacheCounters.hits, 1);
  const macs = new Set<string>();
  for (const now of [1_700_000_000, 1_700_000_000, 1_700_000_100]) {
    const signed = signMessage(plain, key, hmac, { now }).bytes;
    const r = a.answer(signed, { transport: 'udp', tsig: { keys: [key], hmac, now } });
    const m = decoded(r[0]!);
    const tsig = m.additional.find((x) => x.type === 250);
    assert.ok(tsig, 'the answer is signed');
    assert.equal(address(m), '192.0.2.80');
    macs.add(Buffer.from(r[0]!).toString('hex'));
  }
  assert.equal(macs.size, 2, 'each time signed for its own time');
  assert.equal(a.cacheCounters.hits, 1);
});

test('kept: nothing for a query answered less than twice, over another transport or with another opcode; the answer with the new ID, counted, once answered twice', () => {
  const a = fresh();
  const q = encodeDns(makeQuery(0x0102, 'WWW.example.test', TYPE.A, { udpSize: 1232 }));
  assert.equal(a.kept(q, 'udp'), undefined);
  assert.equal(a.counters.queries, 0);
  const want = a.answer(q, { transport: 'udp' })[0]!;
  assert.equal(a.kept(q, 'udp'), undefined, 'asked once: not kept yet');
  assert.deepEqual(a.answer(q, { transport: 'udp' }), [want]);
  assert.equal(a.kept(q, 'tcp'), undefined, 'kept per transport');
  const again = withId(q, 0x0a0b);
  assert.deepEqual(a.kept(again, 'udp'), withId(want, 0x0a0b));
  assert.equal(a.counters.queries, 3);
  const notify = withId(q, 0x0a0c);
  notify[2] = (notify[2]! & 0x87) | (4 << 3); // opcode NOTIFY, same bytes otherwise
  assert.equal(a.kept(notify, 'udp'), undefined);
  a.setZone(zone('example.test.', EXAMPLE));
  assert.equal(a.kept(again, 'udp'), undefined, 'emptied by a zone change');
});
