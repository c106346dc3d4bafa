/**
 * The stub resolver over a scripted querier: which servers are asked and
 * with what, which failure gives which error code, what is cached and for
 * how long, `lookup`'s families and literals, and `chase`'s CNAME chains.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../devices/index.ts';
import { makeQuery, RCODE, TYPE, type DnsMessage, type DnsRecord } from '../../wire/dns.ts';
import { type DnsQuerier, DnsQueryError, type QueryOptions } from './query.ts';
import { absolute, chase, DnsLookupError, StubResolver } from './stub.ts';

const S = 1_000_000_000n;
const rec = (name: string, type: number, ttl: number, data: DnsRecord['data']): DnsRecord => ({ name, type, class: 1, ttl, data });
const A = (name: string, address: string, ttl = 60): DnsRecord => rec(name, TYPE.A, ttl, { kind: 'A', address });
const AAAA = (name: string, address: string, ttl = 60): DnsRecord => rec(name, TYPE.AAAA, ttl, { kind: 'AAAA', address });
const CNAME = (name: string, target: string, ttl = 60): DnsRecord => rec(name, TYPE.CNAME, ttl, { kind: 'CNAME', target });
const SOA = rec('example.', TYPE.SOA, 300, {
  kind: 'SOA',
  mname: 'ns.example.',
  rname: 'h.example.',
  serial: 1,
  refresh: 1,
  retry: 1,
  expire: 1,
  minimum: 30,
});

type Script = (server: string, name: string, type: number) => Partial<DnsMessage> | Error;

/** A querier that answers from `script` and records each question as `server name type timeoutMs`. */
function scripted(script: Script): { querier: DnsQuerier; asked: string[] } {
  const asked: string[] = [];
  const querier = {
    query: async (server: string, name: string, type: number, o: QueryOptions = {}): Promise<DnsMessage> => {
      asked.push(`${server} ${name} ${type} ${o.timeoutMs}`);
      const r = script(server, name, type);
      if (r instanceof Error) throw r;
      return { ...makeQuery(1, name, type), qr: true, ...r };
    },
  } as unknown as DnsQuerier;
  return { querier, asked };
}
function clock(): Clock & { ns: bigint } {
  const c = { ns: 0n, monotonicNs: () => c.ns, wallNs: () => c.ns };
  return c;
}
async function code(p: Promise<unknown>, want: string, message: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DnsLookupError);
    assert.equal(e.code, want);
    assert.equal(e.message, message);
    return true;
  });
}

test('absolute adds the root dot only when missing', () => {
  assert.equal(absolute('example.com'), 'example.com.');
  assert.equal(absolute('example.com.'), 'example.com.');
  assert.equal(absolute('.x'), '.x.');
});

test('chase follows CNAMEs inside the answers, up to 16 names, and only from the name asked', () => {
  assert.deepEqual(chase([A('other.', '192.0.2.9')], 'x.', TYPE.A), { name: 'x.', records: [] }, 'records of another name are not ours');
  assert.deepEqual(chase([CNAME('X.', 'y.'), A('y.', '192.0.2.1')], 'x.', TYPE.A), { name: 'y.', records: [A('y.', '192.0.2.1')] });
  assert.deepEqual(
    chase([rec('x.', TYPE.TXT, 60, { kind: 'TXT', strings: [] }), CNAME('x.', 'y.'), A('y.', '192.0.2.1')], 'x.', TYPE.A).name,
    'y.',
    "the CNAME, not the name's first record",
  );
  const chain = (hops: number): DnsRecord[] => {
    const r: DnsRecord[] = [];
    for (let i = 0; i < hops; i++) r.push(CNAME(`n${i}.`, `n${i + 1}.`));
    r.push(A(`n${hops}.`, '192.0.2.1'));
    return r;
  };
  assert.equal(chase(chain(15), 'n0.', TYPE.A).records.length, 1, '15 hops: the 16th name has it');
  assert.deepEqual(chase(chain(16), 'n0.', TYPE.A), { name: 'n16.', records: [] }, '16 hops: too far');
  assert.deepEqual(chase([CNAME('a.', 'b.'), CNAME('b.', 'a.')], 'a.', TYPE.A).records, [], 'a loop ends');
});

test('StubResolver: servers in turn; a timeout everywhere is ETIMEOUT, any other failure ESERVFAIL, with the last reason', async () => {
  const c = clock();
  const timeout = new DnsQueryError('timeout', 'no answer');
  const all = scripted(() => timeout);
  const r1 = new StubResolver({ querier: all.querier, clock: c, servers: () => ['s1', 's2'], timeoutMs: 77 });
  await code(r1.resolve('x', TYPE.A), 'ETIMEOUT', 'ETIMEOUT x: no answer');
  assert.deepEqual(all.asked, ['s1 x. 1 77', 's2 x. 1 77']);

  const mixed = scripted((s) => (s === 's1' ? timeout : new DnsQueryError('network', 'no route')));
  await code(
    new StubResolver({ querier: mixed.querier, clock: c, servers: () => ['s1', 's2'] }).resolve('x', TYPE.A),
    'ESERVFAIL',
    'ESERVFAIL x: no route',
  );
  const odd = scripted(() => new Error('odd'));
  await code(
    new StubResolver({ querier: odd.querier, clock: c, servers: () => ['s1'] }).resolve('x', TYPE.A),
    'ESERVFAIL',
    'ESERVFAIL x: odd',
  );
  const refused = scripted((s) => (s === 's1' ? { rcode: RCODE.REFUSED } : timeout));
  await code(
    new StubResolver({ querier: refused.querier, clock: c, servers: () => ['s2', 's1'] }).resolve('x', TYPE.A),
    'ESERVFAIL',
    'ESERVFAIL x: s1 answered REFUSED',
  );
  const fallthrough = scripted((s) => (s === 's1' ? { rcode: RCODE.SERVFAIL } : { answers: [A('x.', '192.0.2.1')] }));
  const r = await new StubResolver({ querier: fallthrough.querier, clock: c, servers: () => ['s1', 's2'] }).resolve('x', TYPE.A);
  assert.deepEqual([r.rcode, r.answers.length, r.fromCache], [RCODE.NOERROR, 1, false], 'SERVFAIL: the next server is asked');
  await code(
    new StubResolver({ querier: all.querier, clock: c, servers: () => [] }).resolve('x', TYPE.A),
    'ENOSERVERS',
    'ENOSERVERS x: no DNS servers: DHCP gave none and no --dns was given',
  );
});

test('StubResolver: a chain is cached whole at its smallest TTL; NXDOMAIN and NODATA for the SOA found in the authority section', async () => {
  const c = clock();
  const s = scripted((_s, name) => {
    if (name === 'www.example.') return { answers: [CNAME('www.example.', 'web.example.', 300), A('web.example.', '192.0.2.1', 60)] };
    if (name === 'nx.example.')
      return { rcode: RCODE.NXDOMAIN, authority: [rec('example.', TYPE.NS, 60, { kind: 'NS', target: 'ns.' }), SOA] };
    if (name === 'nodata.example.') return { authority: [SOA] };
    if (name === 'dangling.example.') return { answers: [CNAME('dangling.example.', 'elsewhere.', 300)], authority: [SOA] };
    return { rcode: RCODE.NXDOMAIN };
  });
  const stub = new StubResolver({ querier: s.querier, clock: c, servers: () => ['s'] });
  assert.equal((await stub.resolve('www.example', TYPE.A)).fromCache, false);
  c.ns = 10n * S;
  const hit = await stub.resolve('www.example.', TYPE.A);
  assert.equal(hit.fromCache, true);
  assert.deepEqual(
    hit.answers.map((x) => [x.name, x.ttl]),
    [
      ['www.example.', 50],
      ['web.example.', 50],
    ],
    'every record at the chain’s smallest TTL (60 s), counted down',
  );
  for (const name of ['nx.example', 'nodata.example']) {
    await stub.resolve(name, TYPE.A);
    const again = await stub.resolve(name, TYPE.A);
    assert.equal(again.fromCache, true, `${name} cached`);
  }
  assert.equal((await stub.resolve('nx.example', TYPE.TXT)).rcode, RCODE.NXDOMAIN, 'NXDOMAIN for every type');
  assert.equal(s.asked.filter((q) => q.startsWith('s nx.')).length, 1);
  c.ns = 10n * S + 30n * S;
  assert.equal((await stub.resolve('nx.example', TYPE.A)).fromCache, false, "the SOA's MINIMUM (30 s)");
  await stub.resolve('dangling.example', TYPE.A);
  assert.equal((await stub.resolve('dangling.example', TYPE.A)).fromCache, false, 'a chain ending in nothing is not cached');
  await stub.resolve('nosoa.example', TYPE.A);
  assert.equal((await stub.resolve('nosoa.example', TYPE.A)).fromCache, false, 'NXDOMAIN without an SOA is not cached');
});

test('StubResolver.lookup: a literal as itself; A for family 4 (the default), AAAA for 6, both for 0; ENOTFOUND and ENODATA', async () => {
  const c = clock();
  const s = scripted((_s, name, type) => {
    if (name === 'nx.example.') return { rcode: RCODE.NXDOMAIN };
    if (name === 'v4.example.') return type === TYPE.A ? { answers: [A('v4.example.', '192.0.2.4')] } : {};
    if (name === 'both.example.')
      return type === TYPE.A
        ? { answers: [CNAME('both.example.', 'b.example.'), A('b.example.', '192.0.2.5')] }
        : { answers: [AAAA('both.example.', '2001:db8::5')] };
    return {};
  });
  const stub = new StubResolver({ querier: s.querier, clock: c, servers: () => ['s'] });
  assert.deepEqual(await stub.lookup('192.0.2.77'), ['192.0.2.77']);
  assert.equal(s.asked.length, 0, 'an address literal is not looked up');
  assert.deepEqual(await stub.lookup('both.example'), ['192.0.2.5'], 'the CNAME is followed, and is no address');
  assert.deepEqual(await stub.lookup('both.example', { family: 6 }), ['2001:db8::5']);
  assert.deepEqual(await stub.lookup('both.example', { family: 0 }), ['192.0.2.5', '2001:db8::5']);
  assert.deepEqual(
    s.asked.map((q) => q.split(' ').slice(1, 3).join(' ')),
    ['both.example. 1', 'both.example. 28'],
    'family 0 was answered from the cache',
  );
  assert.deepEqual(await stub.lookup('v4.example', { family: 0 }), ['192.0.2.4'], 'no AAAA: the A alone');
  await code(stub.lookup('nx.example'), 'ENOTFOUND', 'ENOTFOUND nx.example: no such name (NXDOMAIN)');
  await code(stub.lookup('v4.example', { family: 6 }), 'ENODATA', 'ENODATA v4.example: the name exists but has no address records');
});

test('StubResolver: a self-contradictory NXDOMAIN that carries the records asked for is passed on but not cached', async () => {
  const c = clock();
  const s = scripted(() => ({ rcode: RCODE.NXDOMAIN, answers: [A('odd.example.', '192.0.2.1')], authority: [SOA] }));
  const stub = new StubResolver({ querier: s.querier, clock: c, servers: () => ['s'] });
  assert.equal((await stub.resolve('odd.example', TYPE.A)).rcode, RCODE.NXDOMAIN);
  const again = await stub.resolve('odd.example', TYPE.A);
  assert.deepEqual([again.rcode, again.fromCache], [RCODE.NXDOMAIN, false]);
});
