/**
 * The authoritative answers issue 18 asked for, without a network, on
 * examples/dns-server's types.test zone: DNAME synthesis (RFC 6672) with
 * chains, wildcards and YXDOMAIN; duplicates served once; the DO bit
 * (RFC 3225); DS at a delegation from the parent (RFC 4035 §3.1.4.1);
 * transfers (NOTAUTH, NOTIMP, REFUSED, IXFR per RFC 1995); RFC 1982 serials.
 * test/dns-types.test.ts asks the same of NSD and compares.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeDns, encodeDns, isDecodeError, makeQuery, RCODE, TYPE, type DnsMessage, type DnsRecord } from '../../wire/dns.ts';
import { Authority, dnameTarget, serialNewer, Zone } from './authority.ts';

const TEXT = readFileSync(new URL('../../../examples/dns-server/zones/types.test.zone', import.meta.url), 'utf8');

function authority(): Authority {
  const z = Zone.parse('types.test.', TEXT);
  if ('errors' in z) throw new Error(z.errors.join('\n'));
  return new Authority([z]);
}

function decoded(b: Uint8Array): DnsMessage {
  const m = decodeDns(b);
  if (isDecodeError(m)) throw new Error(m.error);
  return m;
}

function ask(a: Authority, q: DnsMessage, transport: 'udp' | 'tcp' = 'udp', allowAxfr = true): DnsMessage[] {
  return a.answer(encodeDns(q), { transport, allowAxfr }).map(decoded);
}
const query = (name: string, type: number, udpSize?: number): DnsMessage => makeQuery(7, name, type, { udpSize });

/** `owner TYPE data` for each answer, data as a target, address or hex. */
const lines = (rrs: readonly DnsRecord[]): string[] =>
  rrs.map((r) => {
    const d = r.data;
    let v = '';
    if (d.kind === 'CNAME') v = d.target;
    else if (d.kind === 'A') v = d.address;
    else if (d.kind === 'raw' && r.type === TYPE.DNAME) v = dnameTarget(r) ?? '?';
    else v = d.kind;
    return `${r.name} ${r.type} ${v}`;
  });

test('DNAME: the DNAME, a CNAME synthesized for the question, then the target followed inside the zone', () => {
  const a = authority();
  let m = ask(a, query('x.DName.types.test.', TYPE.A))[0]!;
  assert.equal(m.rcode, RCODE.NOERROR);
  assert.ok(m.aa);
  assert.deepEqual(lines(m.answers), [
    `DName.types.test. ${TYPE.DNAME} target.types.test.`,
    `x.DName.types.test. ${TYPE.CNAME} x.target.types.test.`,
    'x.target.types.test. 1 192.0.2.41',
  ]);
  assert.equal(m.answers[1]!.ttl, m.answers[0]!.ttl, 'the CNAME has the DNAME TTL (RFC 6672 §3.3)');
  // Through the wildcard below the target.
  m = ask(a, query('nope.dname.types.test.', TYPE.TXT))[0]!;
  assert.deepEqual(
    lines(m.answers).map((l) => l.split(' ')[0]),
    ['dname.types.test.', 'nope.dname.types.test.', 'nope.target.types.test.'],
  );
  // The target a.b.target.types.test. matches *.target, which has no A: NODATA after the chain, with the SOA.
  m = ask(a, query('a.b.dname.types.test.', TYPE.A))[0]!;
  assert.equal(m.rcode, RCODE.NOERROR);
  assert.equal(m.answers.length, 2);
  assert.equal(m.authority[0]!.type, TYPE.SOA);
  // Out of the zone: the DNAME and the CNAME only; the owner itself is not redirected.
  assert.deepEqual(lines(ask(a, query('x.out.types.test.', TYPE.A))[0]!.answers), [
    `out.types.test. ${TYPE.DNAME} example.net.`,
    `x.out.types.test. ${TYPE.CNAME} x.example.net.`,
  ]);
  assert.deepEqual(lines(ask(a, query('dname.types.test.', TYPE.A))[0]!.answers), ['dname.types.test. 1 192.0.2.39']);
  // Asked for the CNAME itself: no following.
  assert.equal(ask(a, query('x.dname.types.test.', TYPE.CNAME))[0]!.answers.length, 2);
});

test('DNAME: a synthesized name past 255 octets is YXDOMAIN with the DNAME; a wildcard DNAME is data, and redirects below its own owner', () => {
  const a = authority();
  const m = ask(a, query(`${'x'.repeat(40)}.${'y'.repeat(10)}.long.types.test.`, TYPE.A))[0]!;
  assert.equal(m.rcode, 6);
  assert.deepEqual(
    m.answers.map((r) => r.type),
    [TYPE.DNAME],
  );
  assert.equal(ask(a, query('y.wd.types.test.', TYPE.A))[0]!.answers.length, 0, 'NODATA: the wildcard holds only a DNAME');
  assert.deepEqual(lines(ask(a, query('y.wd.types.test.', TYPE.DNAME))[0]!.answers), [`y.wd.types.test. ${TYPE.DNAME} target.types.test.`]);
  assert.equal(ask(a, query('x.y.wd.types.test.', TYPE.A))[0]!.answers.length, 0);
  assert.deepEqual(
    lines(ask(a, query('x.*.wd.types.test.', TYPE.A))[0]!.answers).map((l) => l.split(' ')[0]),
    ['*.wd.types.test.', 'x.*.wd.types.test.', 'x.target.types.test.'],
  );
});

test('an exact duplicate is served once; DS at a delegation comes from the parent, authoritatively', () => {
  const a = authority();
  assert.deepEqual(lines(ask(a, query('a.types.test.', TYPE.A))[0]!.answers), ['a.types.test. 1 192.0.2.1', 'a.types.test. 1 192.0.2.2']);
  const ds = ask(a, query('ds.types.test.', TYPE.DS))[0]!;
  assert.ok(ds.aa);
  assert.equal(ds.answers.length, 2);
  const referral = ask(a, query('ds.types.test.', TYPE.A))[0]!;
  assert.ok(!referral.aa);
  assert.equal(referral.authority[0]!.type, TYPE.NS);
});

test('the DO bit is copied into every response to a query that set it, and only then', () => {
  const a = authority();
  const withDo = (name: string, type: number): DnsMessage => ({
    ...query(name, type, 1232),
    edns: { udpSize: 1232, version: 0, dnssecOk: true, options: [] },
  });
  for (const [n, t] of [
    ['a.types.test.', TYPE.A],
    ['nope.types.test.', TYPE.A],
    ['other.test.', TYPE.A],
  ] as const) {
    assert.equal(ask(a, withDo(n, t))[0]!.edns?.dnssecOk, true, n);
    assert.equal(ask(a, query(n, t, 1232))[0]!.edns?.dnssecOk, false, n);
  }
});

test('transfers: NOTAUTH off the apex, NOTIMP for AXFR over UDP, REFUSED when not allowed, IXFR by serial', () => {
  const a = authority();
  const rcode = (q: DnsMessage, t: 'udp' | 'tcp' = 'tcp', allow = true): number => ask(a, q, t, allow)[0]!.rcode;
  assert.equal(rcode(query('a.types.test.', TYPE.AXFR)), 9);
  assert.equal(rcode(query('other.test.', TYPE.AXFR)), 9);
  assert.equal(rcode(query('a.types.test.', TYPE.IXFR)), 9);
  assert.equal(rcode(query('types.test.', TYPE.AXFR), 'udp'), RCODE.NOTIMP);
  assert.equal(rcode(query('types.test.', TYPE.AXFR), 'tcp', false), RCODE.REFUSED);
  assert.equal(rcode(query('types.test.', TYPE.IXFR), 'tcp', false), RCODE.REFUSED);
  const zone = Zone.parse('types.test.', TEXT) as Zone;
  const ixfr = (serial: number): DnsMessage => ({
    ...query('types.test.', TYPE.IXFR),
    authority: [{ ...zone.soa, data: { ...(zone.soa.data as Extract<DnsRecord['data'], { kind: 'SOA' }>), serial } }],
  });
  const soaOnly = (ms: DnsMessage[]): boolean => ms.length === 1 && ms[0]!.answers.length === 1 && ms[0]!.answers[0]!.type === TYPE.SOA;
  for (const serial of [2026113001, 2026113002, 2026113001 + 0x7fffffff])
    assert.ok(soaOnly(ask(a, ixfr(serial), 'tcp')), `serial ${serial}`);
  assert.ok(soaOnly(ask(a, ixfr(2026113000), 'udp')), 'over UDP an older serial gets the SOA that sends the client to TCP');
  const full = ask(a, ixfr(2026113000), 'tcp').flatMap((m) => m.answers);
  assert.equal(full.length, zone.records.length + 1, 'older serial, no differences kept: the whole zone, SOA first and last');
  assert.equal(full[0]!.type, TYPE.SOA);
  assert.equal(full.at(-1)!.type, TYPE.SOA);
  assert.ok(
    full.every((r) => r.name === r.name.toLowerCase()),
    'owners in lower case, as NSD and Knot send them',
  );
  const noSoa = ask(a, query('types.test.', TYPE.IXFR), 'tcp').flatMap((m) => m.answers);
  assert.equal(noSoa.length, full.length, 'IXFR without a serial: AXFR-style');
});

test('an NSEC3 owner name is answered as if it did not exist (RFC 5155 §7.2.8), and still transferred', () => {
  const a = authority();
  const owner = '0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.types.test.';
  for (const t of [TYPE.NSEC3, TYPE.A]) assert.equal(ask(a, query(owner, t))[0]!.rcode, RCODE.NXDOMAIN);
  const all = ask(a, query('types.test.', TYPE.AXFR), 'tcp').flatMap((m) => m.answers);
  assert.ok(all.some((r) => r.type === TYPE.NSEC3 && r.name === owner));
});

test('RFC 1982 serial arithmetic', () => {
  assert.ok(serialNewer(2, 1));
  assert.ok(!serialNewer(1, 1));
  assert.ok(!serialNewer(1, 2));
  assert.ok(serialNewer(0, 0xffffffff), 'wraps');
  assert.ok(serialNewer(0x7fffffff, 0));
  assert.ok(!serialNewer(0x80000000, 0), 'exactly half way is undefined: not newer');
});

test('owners are spelled as the question where they share its labels, as NSD spells them (observed with NSD 4.6.1)', () => {
  const a = authority();
  const owners = (name: string, type: number): string[] => {
    const m = ask(a, query(name, type))[0]!;
    return [...m.answers, ...m.authority, ...m.additional].map((r) => r.name);
  };
  assert.deepEqual(owners('X.DName.Types.Test.', TYPE.A), ['DName.Types.Test.', 'X.DName.Types.Test.', 'x.target.Types.Test.']);
  assert.deepEqual(owners('Nope.DNAME.types.test.', TYPE.TXT), ['DNAME.types.test.', 'Nope.DNAME.types.test.', 'nope.target.types.test.']);
  assert.deepEqual(owners('A.B.Wd.types.TEST.', TYPE.A), ['types.TEST.']);
  assert.deepEqual(owners('TYPES.test.', TYPE.MX), ['TYPES.test.']);
  assert.deepEqual(owners('X.DS.types.test.', TYPE.A), ['DS.types.test.', 'ns.DS.types.test.']);
  assert.deepEqual(owners('MiXeD.TyPeS.tEsT.', TYPE.A), ['MiXeD.TyPeS.tEsT.']);
  const cname = ask(a, query('x.DNAME.Types.test.', TYPE.A))[0]!.answers[1]!;
  assert.equal(
    cname.data.kind === 'CNAME' && cname.data.target,
    'x.target.Types.test.',
    'the synthesized target: lower-case prefix, the question’s spelling after',
  );
});

test('a removed zone is answered REFUSED, as a name outside every zone; one unavailable is SERVFAIL until removed', () => {
  const a = authority();
  assert.equal(ask(a, query('a.types.test.', TYPE.A))[0]!.rcode, RCODE.NOERROR);
  a.removeZone('Types.Test.');
  assert.equal(ask(a, query('a.types.test.', TYPE.A))[0]!.rcode, RCODE.REFUSED);
  assert.equal(a.zone('types.test.'), undefined);
  a.setUnavailable('types.test.');
  assert.equal(ask(a, query('a.types.test.', TYPE.A))[0]!.rcode, RCODE.SERVFAIL);
  a.removeZone('types.test.');
  assert.equal(ask(a, query('a.types.test.', TYPE.A))[0]!.rcode, RCODE.REFUSED);
});
