/**
 * The stub and caching resolvers over an in-memory network of
 * authoritative servers: TCP retry on truncation, TTL-respecting caches
 * (positive and negative), retries past a dead server, iterative
 * resolution through referrals, and a poisoning attempt that must not
 * stick (an out-of-bailiwick record in an answer, and out-of-bailiwick glue).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock, Random } from '../../devices/index.ts';
import { decodeDns, encodeDns, isDecodeError, RCODE, TYPE } from '../../wire/dns.ts';
import { Authority, Zone } from './authority.ts';
import { DnsQuerier, type DnsNet } from './query.ts';
import { DnsCache } from './cache.ts';
import { RecursiveResolver } from './recursive.ts';
import { type DnsLookupError, StubResolver } from './stub.ts';
import type { ByteStream } from '../stream.ts';
import { TcpDeframer, frameTcp } from './transport.ts';

class ManualClock implements Clock {
  ns = 1_000_000_000n;
  monotonicNs(): bigint {
    return this.ns;
  }
  wallNs(): bigint {
    return this.ns;
  }
  advance(s: number): void {
    this.ns += BigInt(s) * 1_000_000_000n;
  }
}
const random: Random = {
  u32: () => (Math.random() * 2 ** 32) >>> 0,
  fill: (b: Uint8Array) => {
    for (let i = 0; i < b.length; i++) b[i] = (Math.random() * 256) | 0;
  },
};
const timer = (ms: number, fn: () => void): (() => void) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

type Handler = (q: Uint8Array, transport: 'udp' | 'tcp') => Uint8Array[];

/** Servers by address; each query is answered on a later tick, as a network would. */
function memoryNet(servers: Map<string, Handler>, log: string[] = []): DnsNet {
  return {
    udpBind: async (_port, onMessage) => ({
      port: 50000,
      send: (dst, dstPort, data) => {
        const h = servers.get(dst);
        const q = decodeDns(data);
        log.push(`udp ${dst} ${isDecodeError(q) ? '?' : q.questions[0]!.name}`);
        if (h)
          setImmediate(() => {
            for (const r of h(data.slice(), 'udp')) onMessage({ src: dst, srcPort: dstPort, data: r });
          });
        return true;
      },
      close: () => {},
    }),
    tcpConnect: async (dst) => {
      const h = servers.get(dst);
      if (!h) throw new Error('connection refused');
      const d = new TcpDeframer();
      const s: ByteStream = {
        onData: undefined,
        onEnd: undefined,
        onDrain: undefined,
        onClose: undefined,
        write: (data) => {
          for (const m of d.push(data)) {
            log.push(`tcp ${dst}`);
            setImmediate(() => {
              for (const r of h(m, 'tcp')) s.onData?.(frameTcp(r));
            });
          }
          return data.length;
        },
        end: () => {},
        destroy: () => {},
        pause: () => {},
        resume: () => {},
      };
      return s;
    },
  };
}

function zone(apex: string, text: string): Zone {
  const z = Zone.parse(apex, text);
  if ('errors' in z) throw new Error(z.errors.join('\n'));
  return z;
}
const auth = (...zones: Zone[]): Handler => {
  const a = new Authority(zones);
  return (q, t) => a.answer(q, { transport: t });
};

const LEAF = `@ 300 SOA ns hostmaster 1 3600 600 86400 30
@ NS ns
ns A 10.0.0.3
www 100 A 192.0.2.1
alias CNAME www
a.b.deep A 192.0.2.9
big TXT "${'x'.repeat(200)}" "${'y'.repeat(200)}" "${'z'.repeat(200)}"
big TXT "${'a'.repeat(200)}" "${'b'.repeat(200)}" "${'c'.repeat(200)}"
`;

test('stub: answers, CNAMEs, TCP retry on truncation, and a TTL-respecting cache', async () => {
  const clock = new ManualClock();
  const log: string[] = [];
  const net = memoryNet(new Map([['10.0.0.53', auth(zone('example.test.', LEAF))]]), log);
  const q = new DnsQuerier(net, random, timer);
  const stub = new StubResolver({ querier: q, clock, servers: () => ['10.0.0.53'] });
  assert.deepEqual(await stub.lookup('www.example.test'), ['192.0.2.1']);
  assert.deepEqual(await stub.lookup('alias.example.test'), ['192.0.2.1']);
  const big = await stub.resolve('big.example.test', TYPE.TXT);
  assert.equal(big.answers.length, 2);
  assert.equal(q.counters.tcpFallbacks, 1);
  assert.ok(log.includes('tcp 10.0.0.53'));
  const asked = log.length;
  assert.deepEqual(await stub.lookup('www.example.test'), ['192.0.2.1']);
  assert.equal(log.length, asked, 'second lookup from the cache');
  clock.advance(60);
  const hit = await stub.resolve('www.example.test', TYPE.A);
  assert.ok(hit.fromCache);
  assert.equal(hit.answers[0]!.ttl, 40, 'TTLs count down');
  clock.advance(41);
  assert.equal((await stub.resolve('www.example.test', TYPE.A)).fromCache, false, 'expired: asked again');
  await assert.rejects(stub.lookup('nope.example.test'), (e: DnsLookupError) => e.code === 'ENOTFOUND');
  const n = log.length;
  await assert.rejects(stub.lookup('nope.example.test'), (e: DnsLookupError) => e.code === 'ENOTFOUND');
  assert.equal(log.length, n, 'NXDOMAIN cached');
  // …for the SOA minimum (30 s; the SOA's own TTL is 300), RFC 2308 §5.
  clock.advance(29);
  await assert.rejects(stub.lookup('nope.example.test'), (e: DnsLookupError) => e.code === 'ENOTFOUND');
  assert.equal(log.length, n, 'still cached after 29 s');
  clock.advance(2);
  await assert.rejects(stub.lookup('nope.example.test'), (e: DnsLookupError) => e.code === 'ENOTFOUND');
  assert.equal(log.length, n + 1, 'asked again after 31 s');
  await assert.rejects(stub.lookup('ns.example.test', { family: 6 }), (e: DnsLookupError) => e.code === 'ENODATA');
});

test('stub: a dead server is skipped after its timeout; none configured is a clear error', async () => {
  const clock = new ManualClock();
  const net = memoryNet(new Map([['10.0.0.53', auth(zone('example.test.', LEAF))]]));
  const stub = new StubResolver({
    querier: new DnsQuerier(net, random, timer),
    clock,
    servers: () => ['10.0.0.99', '10.0.0.53'],
    timeoutMs: 30,
  });
  assert.deepEqual(await stub.lookup('www.example.test'), ['192.0.2.1']);
  const none = new StubResolver({ querier: new DnsQuerier(net, random, timer), clock, servers: () => [] });
  await assert.rejects(none.lookup('www.example.test'), (e: DnsLookupError) => e.code === 'ENOSERVERS' && /--dns/.test(e.message));
  const dead = new StubResolver({ querier: new DnsQuerier(net, random, timer), clock, servers: () => ['10.0.0.99'], timeoutMs: 20 });
  await assert.rejects(dead.lookup('www.example.test'), (e: DnsLookupError) => e.code === 'ETIMEOUT');
});

const ROOT = `. 300 SOA a.root. h.root. 1 3600 600 86400 60
. NS a.root.
a.root. A 10.0.0.1
test. NS ns.test.
ns.test. A 10.0.0.2
`;
const TLD = `@ 300 SOA ns h 1 3600 600 86400 60
@ NS ns
ns A 10.0.0.2
example NS ns.example
ns.example A 10.0.0.3
evil NS ns.evil
ns.evil A 10.0.0.4
`;

test('recursive: iterates from the root hints through referrals and caches along the way', async () => {
  const clock = new ManualClock();
  const log: string[] = [];
  const net = memoryNet(
    new Map([
      ['10.0.0.1', auth(zone('.', ROOT))],
      ['10.0.0.2', auth(zone('test.', TLD))],
      ['10.0.0.3', auth(zone('example.test.', LEAF))],
    ]),
    log,
  );
  const r = new RecursiveResolver({
    querier: new DnsQuerier(net, random, timer),
    clock,
    rootHints: [{ name: 'a.root.', address: '10.0.0.1' }],
  });
  const a = await r.resolve('www.example.test', TYPE.A);
  assert.equal(a.rcode, RCODE.NOERROR);
  assert.deepEqual(
    a.answers.map((x) => x.data.kind === 'A' && x.data.address),
    ['192.0.2.1'],
  );
  // QNAME minimisation (RFC 9156): the root hears only `test.`, the TLD only `example.test.`.
  assert.deepEqual(log, ['udp 10.0.0.1 test.', 'udp 10.0.0.2 example.test.', 'udp 10.0.0.3 www.example.test.']);
  log.length = 0;
  const b = await r.resolve('alias.example.test', TYPE.A);
  assert.deepEqual(
    b.answers.map((x) => x.type),
    [TYPE.CNAME, TYPE.A],
  );
  assert.deepEqual(log, ['udp 10.0.0.3 alias.example.test.'], 'the delegation to example.test. was cached');
  const nx = await r.resolve('nope.example.test', TYPE.A);
  assert.equal(nx.rcode, RCODE.NXDOMAIN);
  assert.equal(nx.authority[0]!.type, TYPE.SOA);
  log.length = 0;
  const deep = await r.resolve('a.b.deep.example.test', TYPE.A);
  assert.deepEqual(
    deep.answers.map((x) => x.data.kind === 'A' && x.data.address),
    ['192.0.2.9'],
    'empty non-terminals on the way are walked through',
  );
  assert.deepEqual(log, ['udp 10.0.0.3 deep.example.test.', 'udp 10.0.0.3 b.deep.example.test.', 'udp 10.0.0.3 a.b.deep.example.test.']);
  assert.equal(
    (await r.resolve('x.y.missing.example.test', TYPE.A)).rcode,
    RCODE.NXDOMAIN,
    'NXDOMAIN on the way: the whole name is asked, and is NXDOMAIN',
  );

  log.length = 0;
  const plain = new RecursiveResolver({
    querier: new DnsQuerier(net, random, timer),
    clock,
    rootHints: [{ name: 'a.root.', address: '10.0.0.1' }],
    qnameMinimisation: false,
  });
  await plain.resolve('www.example.test', TYPE.A);
  assert.deepEqual(log, ['udp 10.0.0.1 www.example.test.', 'udp 10.0.0.2 www.example.test.', 'udp 10.0.0.3 www.example.test.']);
});

test("recursive: records outside the answering server's bailiwick are not believed", async () => {
  const clock = new ManualClock();
  // evil.test.'s server answers with its own record plus a forged one for www.example.test. and forged glue.
  const evil: Handler = (q) => {
    const m = decodeDns(q);
    if (isDecodeError(m)) return [];
    return [
      encodeDns({
        ...m,
        qr: true,
        aa: true,
        answers: [
          { name: m.questions[0]!.name, type: TYPE.A, class: 1, ttl: 300, data: { kind: 'A', address: '192.0.2.66' } },
          { name: 'www.example.test.', type: TYPE.A, class: 1, ttl: 300, data: { kind: 'A', address: '6.6.6.6' } },
        ],
        additional: [{ name: 'ns.example.test.', type: TYPE.A, class: 1, ttl: 300, data: { kind: 'A', address: '10.0.0.4' } }],
      }),
    ];
  };
  const net = memoryNet(
    new Map([
      ['10.0.0.1', auth(zone('.', ROOT))],
      ['10.0.0.2', auth(zone('test.', TLD))],
      ['10.0.0.3', auth(zone('example.test.', LEAF))],
      ['10.0.0.4', evil],
    ]),
  );
  const r = new RecursiveResolver({
    querier: new DnsQuerier(net, random, timer),
    clock,
    rootHints: [{ name: 'a.root.', address: '10.0.0.1' }],
  });
  const e = await r.resolve('host.evil.test', TYPE.A);
  assert.deepEqual(
    e.answers.map((x) => x.data.kind === 'A' && x.data.address),
    ['192.0.2.66'],
    'only the record that was asked for',
  );
  const w = await r.resolve('www.example.test', TYPE.A);
  assert.deepEqual(
    w.answers.map((x) => x.data.kind === 'A' && x.data.address),
    ['192.0.2.1'],
    'the forged record did not stick',
  );
});

test('recursive: forwarding mode asks the forwarder with RD and caches; a dead forwarder is SERVFAIL', async () => {
  const clock = new ManualClock();
  const log: string[] = [];
  const net = memoryNet(new Map([['10.0.0.53', auth(zone('example.test.', LEAF))]]), log);
  const r = new RecursiveResolver({ querier: new DnsQuerier(net, random, timer), clock, forwarders: ['10.0.0.53'] });
  assert.equal((await r.resolve('www.example.test', TYPE.A)).answers.length, 1);
  assert.equal((await r.resolve('www.example.test', TYPE.A)).fromCache, true);
  assert.equal(log.length, 1);
  log.length = 0;
  const same = await Promise.all([1, 2, 3, 4, 5].map(() => r.resolve('alias.example.test', TYPE.A)));
  assert.equal(log.length, 1, 'five identical questions in flight, one upstream query');
  assert.ok(same.every((x) => x.answers.length === 2));
  assert.equal(r.counters.coalesced, 4);
  const dead = new RecursiveResolver({ querier: new DnsQuerier(net, random, timer), clock, forwarders: ['10.0.0.99'], timeoutMs: 20 });
  assert.equal((await dead.resolve('www.example.test', TYPE.A)).rcode, RCODE.SERVFAIL);
});

test('serve-stale (RFC 8767): an expired answer with a 30 s TTL when the forwarder is gone, only inside the window', async () => {
  const clock = new ManualClock();
  const servers = new Map<string, Handler>([['10.0.0.53', auth(zone('example.test.', LEAF))]]);
  const net = memoryNet(servers);
  const withStale = new RecursiveResolver({
    querier: new DnsQuerier(net, random, timer),
    clock,
    forwarders: ['10.0.0.53'],
    timeoutMs: 20,
    cache: new DnsCache({ staleSeconds: 3600 }),
  });
  const without = new RecursiveResolver({ querier: new DnsQuerier(net, random, timer), clock, forwarders: ['10.0.0.53'], timeoutMs: 20 });
  for (const r of [withStale, without]) assert.equal((await r.resolve('www.example.test', TYPE.A)).rcode, RCODE.NOERROR);
  servers.delete('10.0.0.53');
  clock.advance(101); // past the 100 s TTL
  const s = await withStale.resolve('www.example.test', TYPE.A);
  assert.equal(s.rcode, RCODE.NOERROR);
  assert.equal(s.answers[0]!.ttl, 30);
  assert.equal(withStale.counters.stale, 1);
  assert.equal((await without.resolve('www.example.test', TYPE.A)).rcode, RCODE.SERVFAIL);
  clock.advance(3600);
  assert.equal((await withStale.resolve('www.example.test', TYPE.A)).rcode, RCODE.SERVFAIL, 'past the stale window');
});
