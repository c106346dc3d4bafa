/**
 * The DNS cache alone: which key answers which question, TTLs counted down
 * and capped, negative answers for min(SOA TTL, MINIMUM) (RFC 2308 §5),
 * the serve-stale window (RFC 8767), and the bound on entries — each at the
 * instant where it changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RCODE, TYPE, type DnsRecord } from '../../wire/dns.ts';
import { DnsCache, rrsets, STALE_TTL } from './cache.ts';

const S = 1_000_000_000n;
const a = (name: string, address: string, ttl: number): DnsRecord => ({ name, type: TYPE.A, class: 1, ttl, data: { kind: 'A', address } });
const cname = (name: string, target: string, ttl: number): DnsRecord => ({
  name,
  type: TYPE.CNAME,
  class: 1,
  ttl,
  data: { kind: 'CNAME', target },
});
const soa = (ttl: number, minimum: number): DnsRecord => ({
  name: 'example.',
  type: TYPE.SOA,
  class: 1,
  ttl,
  data: { kind: 'SOA', mname: 'ns.example.', rname: 'h.example.', serial: 1, refresh: 2, retry: 3, expire: 4, minimum },
});

test('DnsCache: an RRset answers its name and type only, case-insensitively, with the TTL counted down to 0 at expiry', () => {
  const c = new DnsCache();
  c.putRRset('Www.Example.', TYPE.A, [a('www.example.', '192.0.2.1', 100), a('www.example.', '192.0.2.2', 60)], 10n * S);
  assert.equal(c.size, 1);
  const hit = c.get('www.EXAMPLE.', TYPE.A, 10n * S)!;
  assert.deepEqual(hit, {
    rcode: RCODE.NOERROR,
    records: [a('www.example.', '192.0.2.1', 100), a('www.example.', '192.0.2.2', 60)],
    soa: undefined,
  });
  assert.deepEqual(
    c.get('www.example.', TYPE.A, 69n * S)!.records.map((r) => r.ttl),
    [41, 1],
    'each record counts down from its own TTL',
  );
  assert.equal(c.get('www.example.', TYPE.AAAA, 10n * S), undefined, 'another type');
  assert.equal(c.get('www.example.', TYPE.TXT, 10n * S), undefined, 'an A RRset does not answer every type (only NXDOMAIN does)');
  assert.equal(c.get('ftp.example.', TYPE.A, 10n * S), undefined);
  assert.equal(c.get('www.example.', TYPE.A, 70n * S), undefined, 'gone when the smallest TTL (60 s) runs out');
  assert.equal(c.size, 0, 'and removed');
  assert.deepEqual([c.hits, c.misses], [2, 4]);
});

test('DnsCache: TTLs are capped (a day by default); an empty set or a TTL of 0 is not cached', () => {
  const c = new DnsCache();
  c.putRRset('x.', TYPE.A, [a('x.', '192.0.2.1', 200_000)], 0n);
  assert.equal(c.get('x.', TYPE.A, 0n)!.records[0]!.ttl, 86400);
  assert.equal(c.get('x.', TYPE.A, 86399n * S)!.records[0]!.ttl, 1);
  assert.equal(c.get('x.', TYPE.A, 86400n * S), undefined);
  const small = new DnsCache({ maxTtl: 10 });
  small.putRRset('x.', TYPE.A, [a('x.', '192.0.2.1', 300)], 0n);
  assert.equal(small.get('x.', TYPE.A, 4n * S)!.records[0]!.ttl, 6);
  small.putRRset('y.', TYPE.A, [], 0n);
  small.putRRset('z.', TYPE.A, [a('z.', '192.0.2.1', 0)], 0n);
  assert.equal(small.size, 1);
  assert.equal(small.get('y.', TYPE.A, 0n), undefined);
  assert.equal(small.get('z.', TYPE.A, 0n), undefined);
});

test('DnsCache: NXDOMAIN answers every type of its name, NODATA only its type, for min(SOA TTL, MINIMUM, 3 h) with the SOA counted down', () => {
  const c = new DnsCache();
  c.putNegative('gone.example.', TYPE.A, RCODE.NXDOMAIN, soa(300, 60), 0n);
  c.putNegative('empty.example.', TYPE.AAAA, RCODE.NOERROR, soa(30, 600), 0n);
  const nx = c.get('gone.example.', TYPE.TXT, 10n * S)!;
  assert.deepEqual(nx, { rcode: RCODE.NXDOMAIN, records: [], soa: { ...soa(300, 60), ttl: 290 } });
  assert.equal(c.get('gone.example.', TYPE.A, 10n * S)!.rcode, RCODE.NXDOMAIN);
  assert.equal(c.get('gone.example.', TYPE.A, 60n * S), undefined, 'MINIMUM (60 s) rules');
  assert.deepEqual(c.get('empty.example.', TYPE.AAAA, 29n * S), { rcode: RCODE.NOERROR, records: [], soa: { ...soa(30, 600), ttl: 1 } });
  assert.equal(c.get('empty.example.', TYPE.A, 0n), undefined, 'NODATA for AAAA says nothing of A');
  assert.equal(c.get('empty.example.', TYPE.AAAA, 30n * S), undefined, 'the SOA TTL (30 s) rules');

  const capped = new DnsCache({ maxNegativeTtl: 5 });
  capped.putNegative('n.', TYPE.A, RCODE.NXDOMAIN, soa(300, 300), 0n);
  assert.ok(capped.get('n.', TYPE.A, 4n * S));
  assert.equal(capped.get('n.', TYPE.A, 5n * S), undefined);
  const dflt = new DnsCache();
  dflt.putNegative('n.', TYPE.A, RCODE.NXDOMAIN, soa(100_000, 100_000), 0n);
  assert.ok(dflt.get('n.', TYPE.A, 10799n * S), 'three hours by default');
  assert.equal(dflt.get('n.', TYPE.A, 10800n * S), undefined);

  const none = new DnsCache();
  none.putNegative('n.', TYPE.A, RCODE.NXDOMAIN, undefined, 0n);
  none.putNegative('n.', TYPE.A, RCODE.NXDOMAIN, a('n.', '192.0.2.1', 60), 0n);
  none.putNegative('n.', TYPE.A, RCODE.NXDOMAIN, soa(0, 60), 0n);
  none.putNegative('n.', TYPE.A, RCODE.NXDOMAIN, soa(60, 0), 0n);
  assert.equal(none.size, 0, 'no SOA (or not an SOA), or a negative TTL of 0: not cached (RFC 2308 §5)');
});

test('DnsCache: serve-stale keeps an expired answer for staleSeconds, with TTLs of 30 s, and only once expired', () => {
  const c = new DnsCache({ staleSeconds: 10 });
  c.putRRset('x.', TYPE.A, [a('x.', '192.0.2.1', 60)], 0n);
  c.putNegative('nx.', TYPE.A, RCODE.NXDOMAIN, soa(60, 60), 0n);
  assert.equal(c.getStale('x.', TYPE.A, 59n * S), undefined, 'not stale while fresh');
  assert.equal(c.get('x.', TYPE.A, 60n * S), undefined, 'expired for get');
  assert.equal(c.size, 2, 'but kept for the stale window');
  assert.deepEqual(c.getStale('x.', TYPE.A, 60n * S), {
    rcode: RCODE.NOERROR,
    records: [{ ...a('x.', '192.0.2.1', 60), ttl: STALE_TTL }],
    soa: undefined,
  });
  assert.deepEqual(c.getStale('nx.', TYPE.AAAA, 69n * S), { rcode: RCODE.NXDOMAIN, records: [], soa: { ...soa(60, 60), ttl: 30 } });
  assert.equal(c.getStale('x.', TYPE.A, 70n * S), undefined, 'the window is 10 s');
  assert.equal(c.get('x.', TYPE.A, 69n * S), undefined);
  assert.equal(c.size, 2, 'get inside the window keeps it');
  assert.equal(c.get('x.', TYPE.A, 70n * S), undefined);
  assert.equal(c.size, 1, 'get past the window removes it');
  assert.equal(c.getStale('y.', TYPE.A, 70n * S), undefined);
});

test('DnsCache: sweep removes what is past its stale window, and counts it', () => {
  const c = new DnsCache({ staleSeconds: 5 });
  c.putRRset('x.', TYPE.A, [a('x.', '192.0.2.1', 10)], 0n);
  c.putRRset('y.', TYPE.A, [a('y.', '192.0.2.1', 20)], 0n);
  assert.equal(c.sweep(14n * S), 0);
  assert.equal(c.sweep(15n * S), 1);
  assert.equal(c.size, 1);
  assert.equal(c.sweep(25n * S), 1);
  assert.equal(c.size, 0);
  const fresh = new DnsCache();
  fresh.putRRset('x.', TYPE.A, [a('x.', '192.0.2.1', 10)], 0n);
  assert.equal(fresh.sweep(9n * S), 0);
  assert.equal(fresh.sweep(10n * S), 1, 'without a stale window, at expiry');
});

test('DnsCache: cname() gives a fresh cached CNAME at the name', () => {
  const c = new DnsCache();
  c.putRRset('www.', TYPE.CNAME, [cname('www.', 'web.', 30)], 0n);
  assert.deepEqual(c.cname('WWW.', 29n * S), cname('www.', 'web.', 1), 'its TTL counted down, as get counts it');
  assert.equal(c.cname('www.', 30n * S), undefined);
  assert.equal(c.cname('web.', 0n), undefined);
  c.putRRset('ftp.', TYPE.A, [a('ftp.', '192.0.2.1', 30)], 0n);
  assert.equal(c.cname('ftp.', 0n), undefined, 'another type at the name is no CNAME');
  c.putRRset('mail.', TYPE.CNAME, [cname('mail.', 'web.', 30)], 10n * S);
  assert.equal(c.cname('mail.', 39n * S)!.ttl, 1, 'counted from when it was stored');
});

test('DnsCache: at most maxEntries (10,000 by default); the least recently stored goes first', () => {
  const c = new DnsCache({ maxEntries: 2 });
  c.putRRset('a.', TYPE.A, [a('a.', '192.0.2.1', 60)], 0n);
  c.putRRset('b.', TYPE.A, [a('b.', '192.0.2.2', 60)], 0n);
  c.putRRset('a.', TYPE.A, [a('a.', '192.0.2.3', 60)], 0n); // stored again: now the newest
  c.putRRset('c.', TYPE.A, [a('c.', '192.0.2.4', 60)], 0n);
  assert.equal(c.size, 2);
  assert.equal(c.get('b.', TYPE.A, 0n), undefined, 'b was the oldest');
  assert.deepEqual(c.get('a.', TYPE.A, 0n)!.records, [a('a.', '192.0.2.3', 60)]);
  assert.ok(c.get('c.', TYPE.A, 0n));
  const big = new DnsCache();
  for (let i = 0; i < 10_001; i++) big.putRRset(`n${i}.`, TYPE.A, [a(`n${i}.`, '192.0.2.1', 60)], 0n);
  assert.equal(big.size, 10_000);
  assert.equal(big.get('n0.', TYPE.A, 0n), undefined);
  assert.ok(big.get('n1.', TYPE.A, 0n));
});

test('rrsets groups records by owner (case-insensitively) and type, in order of first appearance', () => {
  const recs = [a('x.', '192.0.2.1', 1), cname('y.', 'x.', 1), a('X.', '192.0.2.2', 2), a('y.', '192.0.2.3', 3)];
  const sets = [...rrsets(recs).values()];
  assert.deepEqual(sets, [
    { name: 'x.', type: TYPE.A, records: [recs[0], recs[2]] },
    { name: 'y.', type: TYPE.CNAME, records: [recs[1]] },
    { name: 'y.', type: TYPE.A, records: [recs[3]] },
  ]);
});
