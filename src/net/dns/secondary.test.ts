/**
 * A secondary against an in-process primary (an Authority behind DNS over
 * TCP on an in-memory stream), on a virtual clock: the first AXFR, IXFR
 * from the primary's journal (one and several versions at a time), an
 * AXFR-style IXFR from a primary that kept no differences, REFRESH, RETRY
 * and EXPIRE (RFC 1034 §4.3.5), NOTIFY (RFC 1996) received and sent, and
 * TSIG on all of it; and UPDATE (RFC 2136) sent to the primary as a
 * client: adds, one record's and one RRset's deletion, signed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { decodeDns, encodeDns, isDecodeError, RCODE, TYPE, type DnsMessage } from '../../wire/dns.ts';
import type { ByteStream } from '../stream.ts';
import { Authority, OPCODE_NOTIFY, recordKey, Zone, type AnswerOptions } from './authority.ts';
import { sendNotify } from './notify.ts';
import type { DnsNet, Timer } from './query.ts';
import { refreshZone, Secondary, type PrimaryLink, type SecondaryEvents } from './secondary.ts';
import { DnsTcpSession } from './transport.ts';
import { parseTsigKey, type Hmac, type TsigKey } from './tsig.ts';
import { deletion, rrsetDeletion, sendUpdate } from './update-client.ts';
import { Updates } from './update.ts';

const hmac: Hmac = (hash, key, data) => createHmac(hash, key).update(data).digest();
const k = (s: string): TsigKey => {
  const r = parseTsigKey(s);
  if ('error' in r) throw new Error(r.error);
  return r;
};
const KEY = k('xfr:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==');

function zone(serial: number, extra: string[] = [], drop: string[] = []): Zone {
  const lines = [
    `@ 300 SOA ns hostmaster ${serial} 3600 600 86400 60`,
    '@ 300 NS ns',
    'ns 300 A 192.0.2.1',
    'www 300 A 192.0.2.80',
    'mail 300 A 192.0.2.25',
    ...extra,
  ].filter((l) => !drop.includes(l));
  const z = Zone.parse('sec.test.', `$ORIGIN sec.test.\n${lines.join('\n')}\n`);
  if ('errors' in z) throw new Error(z.errors.join('\n'));
  return z;
}
const keys = (z: Zone | undefined): string[] => (z ? z.records.map(recordKey).sort() : []);

/** A connected pair of in-memory byte streams; writes arrive on the other side in a later microtask. */
function pair(): [ByteStream, ByteStream] {
  const make = (): ByteStream & { peer?: ByteStream } => ({
    onData: undefined,
    onEnd: undefined,
    onDrain: undefined,
    onClose: undefined,
    write(d) {
      const copy = d.slice();
      queueMicrotask(() => this.peer?.onData?.(copy));
      return d.length;
    },
    end() {
      queueMicrotask(() => this.peer?.onEnd?.());
    },
    destroy() {},
    pause() {},
    resume() {},
  });
  const a = make(),
    b = make();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

interface World {
  primary: Authority;
  up: boolean;
  clock: number;
  wall: number;
  timers: { at: number; fn: () => void }[];
  connections: number;
  link(key?: TsigKey): PrimaryLink;
}

function world(z: Zone, o: { allowAxfr?: boolean; primaryKeys?: TsigKey[]; update?: AnswerOptions['update'] } = {}): World {
  const w: World = {
    primary: new Authority([z]),
    up: true,
    clock: 1_000_000,
    wall: 1_764_547_200,
    timers: [],
    connections: 0,
    link: (key) => ({
      address: '192.0.2.53',
      port: 53,
      net,
      random: { u32: () => (w.connections * 7919 + 17) >>> 0, fill: () => {} },
      timer,
      tsig: key ? { key, hmac } : undefined,
      wallSec: () => w.wall,
    }),
  };
  const timer: Timer = (ms, fn) => {
    const t = { at: w.clock + ms, fn };
    w.timers.push(t);
    return () => {
      w.timers = w.timers.filter((x) => x !== t);
    };
  };
  const net: Pick<DnsNet, 'tcpConnect'> = {
    tcpConnect: async () => {
      if (!w.up) throw new Error('connection refused');
      w.connections++;
      const [client, server] = pair();
      new DnsTcpSession(server, (m) =>
        w.primary.answer(m, {
          transport: 'tcp',
          allowAxfr: o.allowAxfr ?? true,
          tsig: { keys: o.primaryKeys ?? [], hmac, now: w.wall },
          update: o.update,
        }),
      );
      return client;
    },
  };
  return w;
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function secondary(w: World, key?: TsigKey) {
  const log: string[] = [];
  const loaded: string[] = [];
  let expired = 0;
  const events: SecondaryEvents = {
    loaded: (_z, how) => loaded.push(how),
    expired: () => expired++,
    log: (_l, e, f) => log.push(`${e} ${JSON.stringify(f)}`),
  };
  const s = new Secondary('sec.test.', w.link(key), events, () => w.clock);
  return { s, log, loaded, expired: () => expired };
}

test("first AXFR, then IXFR of one and of several versions from the journal; the zone equals the primary's each time", async () => {
  const w = world(zone(1));
  const { s, loaded } = secondary(w);
  s.poll();
  await settle();
  assert.deepEqual(loaded, ['AXFR']);
  assert.deepEqual(keys(s.zone), keys(w.primary.zone('sec.test.')));

  w.primary.setZone(zone(2, ['new 300 A 192.0.2.2'], ['mail 300 A 192.0.2.25']));
  s.notify(2);
  await settle();
  assert.deepEqual(loaded, ['AXFR', 'IXFR']);
  assert.deepEqual(keys(s.zone), keys(w.primary.zone('sec.test.')));
  assert.ok(s.zone?.get('new.sec.test.', TYPE.A) && !s.zone.get('mail.sec.test.', TYPE.A));

  // Two versions while the secondary waits for REFRESH (3600 s).
  w.primary.setZone(zone(3, ['new 300 A 192.0.2.2', 'x 300 TXT "three"'], ['mail 300 A 192.0.2.25']));
  w.primary.setZone(zone(4, ['x 300 TXT "four"'], ['mail 300 A 192.0.2.25']));
  w.clock += 3_599_000;
  s.poll();
  await settle();
  assert.equal(loaded.length, 2, 'not before REFRESH');
  w.clock += 1000;
  s.poll();
  await settle();
  assert.deepEqual(loaded, ['AXFR', 'IXFR', 'IXFR']);
  assert.deepEqual(keys(s.zone), keys(w.primary.zone('sec.test.')));
  assert.equal(w.primary.journal('sec.test.').length, 3);
});

test('an up-to-date secondary transfers nothing; a primary without the differences answers IXFR AXFR-style', async () => {
  const w = world(zone(10));
  const { s, loaded } = secondary(w);
  s.poll();
  await settle();
  w.clock += 3_600_000;
  s.poll();
  await settle();
  assert.deepEqual(loaded, ['AXFR'], 'serial unchanged: no transfer');
  assert.equal(s.counters.checks, 2);
  // A restarted primary: a new version and no journal.
  w.primary = new Authority([zone(11, ['y 300 A 192.0.2.11'])]);
  s.notify(undefined);
  await settle();
  assert.deepEqual(loaded, ['AXFR', 'AXFR']);
  assert.deepEqual(keys(s.zone), keys(w.primary.zone('sec.test.')));
  // A NOTIFY with a serial not newer than ours is noted only (RFC 1996 §3.11).
  s.notify(11);
  s.notify(5);
  await settle();
  assert.equal(s.counters.checks, 3);
  assert.equal(s.counters.notifies, 3);
});

test('RETRY after a failed check, EXPIRE after none succeeded for 86400 s; back when the primary is', async () => {
  const w = world(zone(1));
  const { s, log, expired } = secondary(w);
  // Before any zone: RETRY is 10 s.
  w.up = false;
  s.poll();
  await settle();
  assert.match(log.at(-1)!, /zone-refresh-failed .*connection refused.*"retry":10/);
  w.up = true;
  w.clock += 9_999;
  s.poll();
  await settle();
  assert.equal(s.zone, undefined);
  w.clock += 1;
  s.poll();
  await settle();
  assert.ok(s.zone);
  const loadedAt = w.clock;
  // The primary goes away: checks at REFRESH, then every RETRY (600 s), then EXPIRE.
  w.up = false;
  w.clock = loadedAt + 3_600_000;
  s.poll();
  await settle();
  assert.match(log.at(-1)!, /"retry":600/);
  for (let t = loadedAt + 3_600_000 + 600_000; t < loadedAt + 86_400_000; t += 600_000) {
    w.clock = t;
    s.poll();
    await settle();
  }
  assert.ok(s.zone, 'still served before EXPIRE');
  assert.equal(expired(), 0);
  w.clock = loadedAt + 86_400_000;
  s.poll();
  await settle();
  assert.equal(s.zone, undefined);
  assert.equal(expired(), 1);
  // The first try, the one at REFRESH, 137 at RETRY before EXPIRE, and the one at EXPIRE (checks go on after it).
  assert.equal(s.counters.failures, 1 + 1 + 137 + 1);
});

test("TSIG: transfers signed and verified; a wrong key fails with the primary's TSIG error; a closed primary refuses the unsigned", async () => {
  const w = world(zone(1), { allowAxfr: false, primaryKeys: [KEY] });
  const ok = await refreshZone('sec.test.', undefined, w.link(KEY));
  assert.equal(ok.kind, 'loaded');
  const wrong = await refreshZone('sec.test.', undefined, w.link(k('xfr:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=')));
  assert.deepEqual(wrong, { kind: 'failed', error: 'the server answered TSIG error BADSIG' });
  const other = await refreshZone('sec.test.', undefined, w.link(k('other:c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ==')));
  assert.deepEqual(other, { kind: 'failed', error: 'the server answered TSIG error BADKEY' });
  const unsigned = await refreshZone('sec.test.', undefined, w.link());
  assert.deepEqual(unsigned, { kind: 'failed', error: 'the primary answered AXFR with REFUSED' });
  // A primary without our key: BADKEY.
  const open = world(zone(1));
  const r = await refreshZone('sec.test.', undefined, open.link(KEY));
  assert.deepEqual(r, { kind: 'failed', error: 'the server answered TSIG error BADKEY' });
});

test("NOTIFY: sent signed over UDP, answered by the Authority with the secondary's verdict (AA, the question echoed)", async () => {
  const w = world(zone(1));
  const seen: string[] = [];
  const secondaryAuthority = new Authority([]);
  const notify = (apex: string, serial: number | undefined, key: TsigKey | undefined): number => {
    seen.push(`${apex} ${serial} ${key?.name}`);
    if (!key) return RCODE.REFUSED;
    return apex === 'sec.test.' ? RCODE.NOERROR : 9;
  };
  let replies = 0;
  const udp: Pick<DnsNet, 'udpBind'> = {
    udpBind: async (_port, onMessage) => ({
      port: 40000,
      send: (dst, dstPort, data) => {
        const out = secondaryAuthority.answer(data, { transport: 'udp', notify, tsig: { keys: [KEY], hmac, now: w.wall } });
        for (const o of out) {
          replies++;
          const m = decodeDns(o);
          assert.ok(!isDecodeError(m) && m.opcode === OPCODE_NOTIFY && m.qr);
          queueMicrotask(() => onMessage({ src: dst, srcPort: dstPort, data: o }));
        }
        return true;
      },
      close: () => {},
    }),
  };
  const soa = w.primary.zone('sec.test.')!.soa;
  const base = { net: udp, random: { u32: () => 99, fill: () => {} }, wallSec: () => w.wall, timer: w.link().timer };
  assert.equal(await sendNotify({ ...base, tsig: { key: KEY, hmac } }, '192.0.2.2', 53, soa), undefined);
  assert.equal(await sendNotify({ ...base, tries: 1 }, '192.0.2.2', 53, soa), 'answered REFUSED');
  assert.deepEqual(seen, ['sec.test. 1 xfr.', 'sec.test. 1 undefined']);
  assert.equal(replies, 2);
  // A NOTIFY to a server without a secondary's handler is NOTIMP, as before.
  const q = encodeDns({ ...decodeNotifyQuery(), id: 5 });
  const m = decodeDns(new Authority([zone(1)]).answer(q, { transport: 'udp' })[0]!);
  assert.ok(!isDecodeError(m) && m.rcode === RCODE.NOTIMP);
});

function decodeNotifyQuery() {
  return {
    id: 1,
    qr: false,
    opcode: OPCODE_NOTIFY,
    aa: true,
    tc: false,
    rd: false,
    ra: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [{ name: 'sec.test.', type: TYPE.SOA, class: 1 }],
    answers: [],
    authority: [],
    additional: [],
  };
}

test('a check that finds the zone current restarts EXPIRE as a transfer does (RFC 1034 §4.3.5)', async () => {
  const w = world(zone(1));
  const { s, expired, loaded } = secondary(w);
  s.poll();
  await settle();
  // Two days of REFRESH checks, the serial unchanged: never expired.
  for (let h = 1; h <= 48; h++) {
    w.clock += 3_600_000;
    s.poll();
    await settle();
  }
  assert.deepEqual(loaded, ['AXFR']);
  assert.equal(s.counters.checks, 49);
  assert.equal(expired(), 0);
  assert.ok(s.zone);
});

test('UPDATE sent to the primary: signed adds and deletes applied in order; an unknown key gets its TSIG error, a closed primary REFUSED', async () => {
  const OTHER = k('other:b3RoZXItb3RoZXItb3RoZXItb3RoZXIhIQ==');
  const box: { updates?: Updates } = {};
  const asked: boolean[] = [];
  const w = world(zone(1), {
    primaryKeys: [KEY],
    update: (m, key) => {
      asked.push(m.rd);
      return box.updates!.handle(m, key, '192.0.2.9');
    },
  });
  box.updates = new Updates(w.primary, { allowed: (_apex, key) => key?.name === KEY.name, commit: () => 'ok', log: () => {} });
  const txt = (s: string) => ({
    name: '_acme-challenge.www.sec.test.',
    type: TYPE.TXT,
    class: 1,
    ttl: 60,
    data: { kind: 'TXT' as const, strings: [new TextEncoder().encode(s)] },
  });
  const served = (): string[] => {
    const z = w.primary.zone('sec.test.')!;
    return z.records.flatMap((r) => (r.data.kind === 'TXT' ? [new TextDecoder().decode(r.data.strings[0])] : []));
  };
  assert.equal(await sendUpdate(w.link(KEY), 'sec.test.', [txt('one'), txt('two')]), undefined);
  assert.deepEqual(served().sort(), ['one', 'two']);
  const soa = w.primary.zone('sec.test.')!.soa.data;
  assert.equal(soa.kind === 'SOA' ? soa.serial : -1, 2);
  // One record's deletion leaves the other; the RRset's deletion then an add leaves only the add (in order, §3.4.2).
  assert.equal(await sendUpdate(w.link(KEY), 'sec.test.', [deletion(txt('one'))]), undefined);
  assert.deepEqual(served(), ['two']);
  assert.equal(
    await sendUpdate(w.link(KEY), 'sec.test.', [rrsetDeletion('_acme-challenge.www.sec.test.', TYPE.TXT), txt('three')]),
    undefined,
  );
  assert.deepEqual(served(), ['three']);
  // A prerequisite that fails (§2.4.5: www.sec.test is not in use — it is) changes nothing.
  const notInUse = { name: 'www.sec.test.', type: TYPE.ANY, class: 254, ttl: 0, data: { kind: 'raw' as const, bytes: new Uint8Array(0) } };
  assert.equal(await sendUpdate(w.link(KEY), 'sec.test.', [txt('six')], [notInUse]), 'answered YXDOMAIN');
  assert.deepEqual(served(), ['three']);
  assert.equal(await sendUpdate(w.link(OTHER), 'sec.test.', [txt('four')]), 'the server answered TSIG error BADKEY');
  assert.equal(await sendUpdate(w.link(), 'sec.test.', [txt('five')]), 'answered REFUSED');
  assert.deepEqual(served(), ['three']);
  // RD is clear in every UPDATE sent (update-client.ts's `{ rd: false }`, a mutation survivor: emptied or true).
  assert.ok(asked.length >= 5 && asked.every((rd) => rd === false), JSON.stringify(asked));
});

/** A link to a primary that answers each query with `answer` (the decoded query in, messages out), else as `z`'s Authority. */
function scriptedPrimary(z: Zone, answer: (q: DnsMessage) => DnsMessage[] | undefined): PrimaryLink {
  const au = new Authority([z]);
  const w = world(z);
  return {
    ...w.link(),
    net: {
      tcpConnect: async () => {
        const [client, server] = pair();
        new DnsTcpSession(server, (bytes) => {
          const q = decodeDns(bytes);
          const mine = !isDecodeError(q) ? answer(q) : undefined;
          return mine ? mine.map((m) => encodeDns(m)) : au.answer(bytes, { transport: 'tcp', allowAxfr: true });
        });
        return client;
      },
    },
  };
}
const reply = (q: DnsMessage, over: Partial<DnsMessage>): DnsMessage => ({
  ...q,
  qr: true,
  aa: true,
  answers: [],
  authority: [],
  additional: [],
  ...over,
});

// refreshZone's paths that no case reached in the first mutation run of secondary.ts (eba383b, 68.5%, 55 not
// covered): IXFR refused with NOTIMP, REFUSED or FORMERR falls back to AXFR, any other RCODE fails; an IXFR
// answered with a lone SOA no newer than ours means current; a transfer whose zone is not valid fails, saying why.
test('refreshZone: IXFR refused falls back to AXFR; a lone SOA is current; an invalid transferred zone fails with the reason', async () => {
  const old = zone(1);
  for (const rcode of [RCODE.NOTIMP, RCODE.REFUSED, RCODE.FORMERR]) {
    const link = scriptedPrimary(zone(2, ['new 300 A 192.0.2.9']), (q) =>
      q.questions[0]!.type === TYPE.IXFR ? [reply(q, { rcode })] : undefined,
    );
    const r = await refreshZone('sec.test.', old, link);
    assert.equal(r.kind === 'loaded' && r.how, 'AXFR', `IXFR answered ${rcode}`);
    assert.deepEqual(r.kind === 'loaded' ? keys(r.zone) : [], keys(zone(2, ['new 300 A 192.0.2.9'])));
  }
  const fail = scriptedPrimary(zone(2), (q) => (q.questions[0]!.type === TYPE.IXFR ? [reply(q, { rcode: RCODE.SERVFAIL })] : undefined));
  assert.deepEqual(await refreshZone('sec.test.', old, fail), { kind: 'failed', error: 'the primary answered IXFR with SERVFAIL' });
  // The SOA query says 2, the IXFR answers with our own SOA alone: current after all.
  const lone = scriptedPrimary(zone(2), (q) => (q.questions[0]!.type === TYPE.IXFR ? [reply(q, { answers: [old.soa] })] : undefined));
  assert.deepEqual(await refreshZone('sec.test.', old, lone), { kind: 'current', serial: 1 });
  // An AXFR of a zone without its NS.
  const bad = zone(2);
  const noNs = scriptedPrimary(bad, (q) =>
    q.questions[0]!.type === TYPE.AXFR
      ? [reply(q, { answers: [bad.soa, ...bad.records.filter((r) => r.type !== TYPE.NS && r !== bad.soa), bad.soa] })]
      : undefined,
  );
  const r = await refreshZone('sec.test.', undefined, noNs);
  assert.equal(r.kind, 'failed');
  assert.match(r.kind === 'failed' ? r.error : '', /^the transferred zone is not valid: ./);
});
