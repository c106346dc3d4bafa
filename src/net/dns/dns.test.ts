/**
 * DNS wire format, zone files and authoritative answers, without a network:
 * round trips by property, hostile compression, malformed queries, and the
 * answer rules (CNAME chains, wildcards, empty non-terminals, referrals,
 * negative answers, AXFR, truncation, EDNS).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import {
  CLASS_IN,
  decodeDns,
  encodeDns,
  formatIpv6,
  isDecodeError,
  makeQuery,
  parseIpv6,
  RCODE,
  TYPE,
  type DnsMessage,
  type DnsRecord,
  type RData,
} from '../../wire/dns.ts';
import { Authority, Zone } from './authority.ts';
import { parseZone } from './zone.ts';
import { DnsTcpSessions, frameTcp, TcpDeframer } from './transport.ts';

const ZONE_TEXT = readFileSync(new URL('../../../examples/dns-server/zones/example.test.zone', import.meta.url), 'utf8');

function decoded(b: Uint8Array): DnsMessage {
  const m = decodeDns(b);
  if (isDecodeError(m)) throw new Error(m.error);
  return m;
}

// --- wire ---------------------------------------------------------------

/** One byte of a label in presentation form: '.' and '\\' escaped, other printables as they are, the rest as \DDD. */
const labelChar = (c: number): string => {
  if (c === 0x2e || c === 0x5c) return '\\' + String.fromCharCode(c);
  if (c > 0x20 && c < 0x7f) return String.fromCharCode(c);
  return '\\' + String(c).padStart(3, '0');
};
const label = fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b) => Array.from(b, labelChar).join(''));
/** The record kind of a type whose data is one name. */
const nameKind = (t: number): 'NS' | 'CNAME' | 'PTR' => {
  if (t === TYPE.NS) return 'NS';
  if (t === TYPE.CNAME) return 'CNAME';
  return 'PTR';
};
const name = fc
  .array(fc.oneof(label, fc.constantFrom('www', 'example', 'test', 'a')), { maxLength: 5 })
  .map((ls) => (ls.length ? ls.join('.') + '.' : '.'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((a) => a.join('.'));
const rdata: fc.Arbitrary<[number, RData]> = fc.oneof(
  ipv4.map((address) => [TYPE.A, { kind: 'A', address }] as [number, RData]),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => [TYPE.AAAA, { kind: 'AAAA', address: formatIpv6(b) }] as [number, RData]),
  fc
    .tuple(fc.constantFrom(TYPE.NS, TYPE.CNAME, TYPE.PTR), name)
    .map(([t, target]) => [t, { kind: nameKind(t), target }] as [number, RData]),
  fc.tuple(fc.nat(65535), name).map(([preference, exchange]) => [TYPE.MX, { kind: 'MX', preference, exchange }] as [number, RData]),
  fc
    .tuple(name, name, fc.array(fc.nat(0xffffffff), { minLength: 5, maxLength: 5 }))
    .map(
      ([mname, rname, n]) =>
        [TYPE.SOA, { kind: 'SOA', mname, rname, serial: n[0]!, refresh: n[1]!, retry: n[2]!, expire: n[3]!, minimum: n[4]! }] as [
          number,
          RData,
        ],
    ),
  fc
    .array(fc.uint8Array({ maxLength: 255 }), { minLength: 1, maxLength: 4 })
    .map((strings) => [TYPE.TXT, { kind: 'TXT', strings }] as [number, RData]),
  fc
    .tuple(fc.nat(65535), fc.nat(65535), fc.nat(65535), name)
    .map(([priority, weight, port, target]) => [TYPE.SRV, { kind: 'SRV', priority, weight, port, target }] as [number, RData]),
  fc
    .tuple(fc.nat(255), fc.stringMatching(/^[a-z0-9]{1,15}$/), fc.uint8Array({ maxLength: 40 }))
    .map(([flags, tag, value]) => [TYPE.CAA, { kind: 'CAA', flags, tag, value }] as [number, RData]),
  fc
    .tuple(fc.integer({ min: 65280, max: 65534 }), fc.uint8Array({ maxLength: 40 }))
    .map(([t, bytes]) => [t, { kind: 'raw', bytes }] as [number, RData]),
);
const record: fc.Arbitrary<DnsRecord> = fc
  .tuple(name, rdata, fc.nat(0x7fffffff))
  .map(([n, [type, data], ttl]) => ({ name: n, type, class: CLASS_IN, ttl, data }));
const message: fc.Arbitrary<DnsMessage> = fc.record({
  id: fc.nat(65535),
  qr: fc.boolean(),
  opcode: fc.nat(15),
  aa: fc.boolean(),
  tc: fc.boolean(),
  rd: fc.boolean(),
  ra: fc.boolean(),
  ad: fc.boolean(),
  cd: fc.boolean(),
  rcode: fc.nat(15),
  questions: fc.array(fc.record({ name, type: fc.nat(65535).filter((t) => t !== TYPE.OPT), class: fc.constant(CLASS_IN) }), {
    maxLength: 2,
  }),
  answers: fc.array(record, { maxLength: 4 }),
  authority: fc.array(record, { maxLength: 3 }),
  additional: fc.array(record, { maxLength: 3 }),
  edns: fc.option(
    fc.record({
      udpSize: fc.integer({ min: 512, max: 65535 }),
      version: fc.constant(0),
      dnssecOk: fc.boolean(),
      options: fc.array(fc.record({ code: fc.nat(65535), data: fc.uint8Array({ maxLength: 20 }) }), { maxLength: 2 }),
    }),
    { nil: undefined },
  ),
});

/** Names compare case-insensitively, and the decoder spells them as the wire did (which is how we wrote them). */
test('every message encodes and decodes to itself (property)', () => {
  fc.assert(
    fc.property(message, (m) => {
      const back = decoded(encodeDns(m));
      assert.deepEqual(back, structuredClone(m)); // fast-check builds null-prototype records
    }),
    { numRuns: 1500 },
  );
});

test('arbitrary and mutated messages never make the decoder throw (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
      decodeDns(b);
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(message, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }), fc.nat(), (m, flips, cut) => {
      const b = encodeDns(m);
      for (const [at, v] of flips) if (b.length) b[at % b.length] = v;
      decodeDns(b.subarray(0, b.length ? cut % (b.length + 1) : 0));
    }),
    { numRuns: 3000 },
  );
});

test('compression pointers are bounded: loops, forward pointers and long names are errors', () => {
  const head = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
  // A pointer to itself.
  assert.ok(isDecodeError(decodeDns(Uint8Array.from([...head, 0xc0, 12, 0, 1, 0, 1]))));
  // A pointer forward, to a valid name after it.
  assert.ok(isDecodeError(decodeDns(Uint8Array.from([...head, 0xc0, 18, 0, 1, 0, 1, 1, 0x61, 0]))));
  // Two names pointing at each other: the second jump must go strictly backwards.
  assert.ok(isDecodeError(decodeDns(Uint8Array.from([...head, 1, 0x61, 0xc0, 12, 0, 1, 0, 1]))));
  // A 256-octet name built by pointers (each hop legal): refused on length.
  const b: number[] = [...head.slice(0, 4), 0, 1, 0, 0, 0, 0, 0, 0];
  const q: number[] = [];
  for (let i = 0; i < 5; i++) q.push(63, ...new Array<number>(63).fill(0x61));
  q.push(0, 0, 1, 0, 1);
  assert.ok(isDecodeError(decodeDns(Uint8Array.from([...b, ...q]))));
  // A good pointer decodes.
  const ok = encodeDns({
    ...makeQuery(7, 'www.example.test.', TYPE.A),
    answers: [{ name: 'www.example.test.', type: TYPE.A, class: CLASS_IN, ttl: 1, data: { kind: 'A', address: '1.2.3.4' } }],
  });
  assert.equal(ok.length, 12 + (18 + 4) + (2 + 10 + 4), 'the answer owner is a 2-byte pointer');
  assert.equal(decoded(ok).answers[0]!.name, 'www.example.test.');
});

test('unknown types round-trip as opaque RFC 3597 data; EDNS and its extended RCODE survive', () => {
  const m: DnsMessage = {
    ...makeQuery(9, 'x.test.', 65280, { udpSize: 4096 }),
    qr: true,
    rcode: RCODE.BADVERS,
    answers: [{ name: 'x.test.', type: 65280, class: CLASS_IN, ttl: 5, data: { kind: 'raw', bytes: Uint8Array.of(0xde, 0xad) } }],
  };
  const back = decoded(encodeDns(m));
  assert.equal(back.rcode, 16);
  assert.equal(back.edns?.udpSize, 4096);
  assert.deepEqual(back.answers[0]!.data, { kind: 'raw', bytes: Uint8Array.of(0xde, 0xad) });
});

test('IPv6 text: RFC 5952 form and the usual shapes', () => {
  assert.equal(formatIpv6(parseIpv6('2001:DB8:0:0:0:0:0:1')!), '2001:db8::1');
  assert.equal(formatIpv6(parseIpv6('::')!), '::');
  assert.equal(formatIpv6(parseIpv6('::ffff:192.0.2.1')!), '::ffff:c000:201');
  assert.equal(formatIpv6(parseIpv6('1:0:0:1:0:0:0:1')!), '1:0:0:1::1');
  for (const bad of ['1::2::3', '12345::', '1:2:3:4:5:6:7', 'g::1']) assert.equal(parseIpv6(bad), undefined, bad);
});

// --- zone files -----------------------------------------------------------

test('the master-file parser reads the example zone and names the line of each error', () => {
  const z = parseZone(ZONE_TEXT, 'example.test.');
  assert.deepEqual(z.errors, []);
  const www2 = z.records.find((r) => r.name === 'www2.example.test.')!;
  assert.equal(www2.ttl, 3600);
  const soa = z.records[0]!;
  assert.equal(soa.data.kind === 'SOA' && soa.data.minimum, 60);
  const bad = parseZone(
    '$TTL 1h\n@ SOA a b 1 2 3 4 5\nx IN A 300.1.1.1\ny IN FOO bar\n$INCLUDE other\nz MX ten mail\nw OPT \\# 0\n( unclosed',
    'z.test.',
  );
  const errs = [...bad.errors].sort((x, y) => x.line - y.line);
  assert.deepEqual(
    errs.map((e) => e.line),
    [3, 4, 5, 6, 7, 8, 8],
  );
  assert.match(errs[0]!.message, /not an IPv4 address/);
  assert.match(errs[2]!.message, /\$INCLUDE is not supported/);
  assert.ok(errs.some((e) => /'\(' is not closed/.test(e.message)));
});

test('zone checks: one SOA, NS at the apex, CNAME alone, nothing outside', () => {
  const e = Zone.parse('z.test.', '@ SOA a b 1 2 3 4 5\nx CNAME y\nx A 1.2.3.4\nout.other. A 1.1.1.1\n');
  assert.ok('errors' in e);
  assert.equal(e.errors.length, 3, e.errors.join('; '));
});

// --- answers ----------------------------------------------------------------

function authority(): Authority {
  const z = Zone.parse('example.test.', ZONE_TEXT);
  if ('errors' in z) throw new Error(z.errors.join('\n'));
  return new Authority([z]);
}

function ask(
  a: Authority,
  qname: string,
  qtype: number,
  o: { udpSize?: number; transport?: 'udp' | 'tcp'; axfr?: boolean } = {},
): DnsMessage[] {
  return a
    .answer(encodeDns(makeQuery(4242, qname, qtype, { udpSize: o.udpSize })), { transport: o.transport ?? 'udp', allowAxfr: o.axfr })
    .map(decoded);
}

/** Each answer as its address, `->target` for a CNAME, or its kind for anything else. */
const addrs = (m: DnsMessage): string[] =>
  m.answers.map((r) => {
    if (r.data.kind === 'A') return r.data.address;
    if (r.data.kind === 'CNAME') return `->${r.data.target}`;
    return r.data.kind;
  });

test('exact answers, CNAME chains, loops and chains leaving the zone', () => {
  const a = authority();
  let [r] = ask(a, 'WWW.Example.TEST.', TYPE.A);
  assert.equal(r!.rcode, RCODE.NOERROR);
  assert.ok(r!.aa);
  assert.equal(r!.id, 4242);
  assert.equal(r!.answers[0]!.name, 'WWW.Example.TEST.', 'the owner echoes the query spelling (0x20)');
  assert.deepEqual(addrs(r!), ['192.0.2.80']);
  [r] = ask(a, 'alias.example.test.', TYPE.A);
  assert.deepEqual(addrs(r!), ['->www2.example.test.', '->www.example.test.', '192.0.2.80']);
  [r] = ask(a, 'loop1.example.test.', TYPE.A);
  assert.deepEqual(addrs(r!), ['->loop2.example.test.', '->loop1.example.test.']);
  [r] = ask(a, 'outside.example.test.', TYPE.A);
  assert.deepEqual(addrs(r!), ['->www.elsewhere.test.']);
  [r] = ask(a, 'dangling.example.test.', TYPE.A);
  assert.equal(r!.rcode, RCODE.NXDOMAIN, 'the rcode describes the end of the chain (RFC 6604)');
  [r] = ask(a, 'alias.example.test.', TYPE.CNAME);
  assert.deepEqual(addrs(r!), ['->www2.example.test.']);
  [r] = ask(a, 'example.test.', TYPE.MX);
  assert.deepEqual(
    r!.additional.map((x) => x.name),
    ['mail.example.test.'],
    'MX targets get their addresses',
  );
});

test('negative answers: NXDOMAIN and NODATA carry the SOA with the negative TTL', () => {
  const a = authority();
  let [r] = ask(a, 'nope.example.test.', TYPE.A);
  assert.equal(r!.rcode, RCODE.NXDOMAIN);
  assert.equal(r!.answers.length, 0);
  assert.equal(r!.authority[0]!.type, TYPE.SOA);
  assert.equal(r!.authority[0]!.ttl, 60);
  [r] = ask(a, 'www.example.test.', TYPE.MX);
  assert.equal(r!.rcode, RCODE.NOERROR);
  assert.equal(r!.answers.length, 0);
  assert.equal(r!.authority[0]!.type, TYPE.SOA);
  [r] = ask(a, 'ent.example.test.', TYPE.A);
  assert.equal(r!.rcode, RCODE.NOERROR, 'an empty non-terminal exists');
  assert.equal(r!.authority[0]!.type, TYPE.SOA);
});

test('wildcards synthesise below their closest encloser only (RFC 4592)', () => {
  const a = authority();
  let [r] = ask(a, 'any.thing.wild.example.test.', TYPE.A);
  assert.deepEqual(addrs(r!), ['192.0.2.99']);
  assert.equal(r!.answers[0]!.name, 'any.thing.wild.example.test.');
  [r] = ask(a, 'sub.wild.example.test.', TYPE.A);
  assert.deepEqual(addrs(r!), ['192.0.2.98'], 'an existing name is not wildcard-matched');
  [r] = ask(a, 'x.sub.wild.example.test.', TYPE.A);
  assert.equal(r!.rcode, RCODE.NXDOMAIN, 'the closest encloser is sub.wild, which has no wildcard');
  [r] = ask(a, 'x.b.ent.example.test.', TYPE.A);
  assert.equal(r!.rcode, RCODE.NXDOMAIN);
  [r] = ask(a, 'q.wild.example.test.', TYPE.MX);
  assert.equal(r!.rcode, RCODE.NOERROR, 'a wildcard without the type is NODATA');
  assert.equal(r!.answers.length, 0);
});

test('delegations give a referral with glue, not an authoritative answer', () => {
  const [r] = ask(authority(), 'host.delegated.example.test.', TYPE.A);
  assert.equal(r!.rcode, RCODE.NOERROR);
  assert.equal(r!.aa, false);
  assert.deepEqual(
    r!.authority.map((x) => x.type),
    [TYPE.NS],
  );
  assert.deepEqual(
    r!.additional.map((x) => [x.name, x.data.kind === 'A' && x.data.address]),
    [['ns.delegated.example.test.', '10.53.0.9']],
  );
});

test('truncation: the TC bit over UDP, the whole answer over TCP and with a large EDNS size', () => {
  const a = authority();
  let [r] = ask(a, 'big.example.test.', TYPE.TXT);
  assert.ok(r!.tc);
  assert.equal(r!.answers.length, 0);
  [r] = ask(a, 'big.example.test.', TYPE.TXT, { udpSize: 4096 });
  assert.ok(r!.tc, '14 × 100 octets is over the 1232-byte UDP ceiling even with EDNS');
  assert.equal(r!.edns?.udpSize, 1232);
  [r] = ask(a, 'big.example.test.', TYPE.TXT, { transport: 'tcp' });
  assert.ok(!r!.tc);
  assert.equal(r!.answers.length, 14);
  assert.equal(a.counters.truncated, 2);
});

test('without EDNS a UDP answer is at most 512 bytes, with TC exactly when the whole answer does not fit (RFC 1035 §4.2.1)', () => {
  // Beside the example zone, RRsets that grow by one 52-byte TXT record at a time, across 512 and 1232.
  let text = '@ 300 SOA ns h 1 3600 600 86400 60\n@ NS ns\nns A 10.0.0.1\n';
  for (let k = 1; k <= 30; k++) for (let j = 0; j < k; j++) text += `t${k} TXT "${String(j).padStart(2, '0')}${'x'.repeat(48)}"\n`;
  const grow = Zone.parse('grow.test.', text);
  const example = Zone.parse('example.test.', ZONE_TEXT);
  if ('errors' in grow || 'errors' in example) throw new Error('zones');
  const a = new Authority([example, grow]);
  const names = new Set<string>(['nope.example.test.', 'x.y.wild.example.test.', 'host.delegated.example.test.', 'nope.grow.test.']);
  for (const r of [...parseZone(ZONE_TEXT, 'example.test.').records, ...parseZone(text, 'grow.test.').records]) names.add(r.name);
  const types = [TYPE.A, TYPE.AAAA, TYPE.TXT, TYPE.MX, TYPE.NS, TYPE.SOA, TYPE.CNAME, TYPE.SRV, TYPE.CAA, 255];
  let fitted = 0,
    truncated = 0,
    nearLimit = 0;
  for (const name of names)
    for (const type of types)
      for (const udpSize of [undefined, 512, 1232, 4096]) {
        const q = encodeDns(makeQuery(99, name, type, { udpSize }));
        const [u] = a.answer(q, { transport: 'udp' });
        const [t] = a.answer(q, { transport: 'tcp' });
        const limit = udpSize === undefined ? 512 : Math.min(1232, udpSize);
        const what = `${name} ${type} ${udpSize ?? 'no EDNS'}: ${u!.length} bytes over UDP, ${t!.length} over TCP`;
        assert.ok(u!.length <= limit, what);
        const um = decoded(u!);
        if (t!.length <= limit) {
          assert.deepEqual(u, t, `${what}: fits, so sent whole and without TC`);
          fitted++;
          if (udpSize === undefined && t!.length > 450) nearLimit++;
        } else {
          assert.ok(um.tc, `${what}: TC`);
          assert.deepEqual([um.answers.length, um.authority.length, um.additional.length], [0, 0, 0], what);
          assert.deepEqual(um.questions, decoded(t!).questions, what);
          assert.equal(um.id, 99);
          truncated++;
        }
      }
  assert.ok(
    fitted > 100 && truncated > 10 && nearLimit > 0,
    `fitted ${fitted}, truncated ${truncated}, within 62 bytes of 512: ${nearLimit}`,
  );
});

test('encodeDns never exceeds maxSize when the question fits, whatever the message (property)', () => {
  fc.assert(
    fc.property(message, fc.nat(300), (m, under) => {
      // What a server sends back: at most one question, its own EDNS record without options. The limit is a little
      // under the message's whole size (within 512-1232), where an off-by-some check would let it through.
      const reply = { ...m, questions: m.questions.slice(0, 1), edns: m.edns && { ...m.edns, options: [] } };
      const maxSize = Math.min(1232, Math.max(512, encodeDns(reply).length - 1 - under));
      const b = encodeDns(reply, { maxSize });
      assert.ok(b.length <= maxSize, `${b.length} > ${maxSize}`);
      const back = decoded(b);
      if (back.tc && !reply.tc) assert.equal(back.answers.length + back.authority.length + back.additional.length, 0);
    }),
    { numRuns: 1000 },
  );
});

test('errors: FORMERR for malformed queries, REFUSED outside the zone, NOTIMP, BADVERS', () => {
  const a = authority();
  const garbage = Uint8Array.from([0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c]);
  const f = a.answer(garbage, { transport: 'udp' }).map(decoded);
  assert.equal(f[0]!.rcode, RCODE.FORMERR);
  assert.equal(f[0]!.id, 0xabcd);
  assert.deepEqual(a.answer(Uint8Array.of(1, 2, 3), { transport: 'udp' }), [], 'no ID, no answer');
  const resp = encodeDns({ ...makeQuery(1, 'www.example.test.', TYPE.A), qr: true });
  assert.deepEqual(a.answer(resp, { transport: 'udp' }), [], 'responses are never answered (no reflection loops)');
  assert.equal(ask(a, 'www.other.test.', TYPE.A)[0]!.rcode, RCODE.REFUSED);
  const notify = encodeDns({ ...makeQuery(1, 'example.test.', TYPE.SOA), opcode: 4 });
  assert.equal(decoded(a.answer(notify, { transport: 'udp' })[0]!).rcode, RCODE.NOTIMP);
  const v1 = encodeDns({ ...makeQuery(1, 'example.test.', TYPE.SOA), edns: { udpSize: 1232, version: 1, dnssecOk: false, options: [] } });
  assert.equal(decoded(a.answer(v1, { transport: 'udp' })[0]!).rcode, RCODE.BADVERS);
  const two = encodeDns({
    ...makeQuery(1, 'example.test.', TYPE.SOA),
    questions: [
      { name: 'a.', type: 1, class: 1 },
      { name: 'b.', type: 1, class: 1 },
    ],
  });
  assert.equal(decoded(a.answer(two, { transport: 'udp' })[0]!).rcode, RCODE.FORMERR);
  assert.equal(ask(a, 'www.example.test.', TYPE.A)[0]!.rcode, RCODE.NOERROR, 'still answering');
});

test('AXFR: refused unless allowed, never over UDP (NOTIMP, as NSD), SOA first and last over TCP', () => {
  const a = authority();
  assert.equal(ask(a, 'example.test.', TYPE.AXFR, { transport: 'tcp' })[0]!.rcode, RCODE.REFUSED);
  assert.equal(ask(a, 'example.test.', TYPE.AXFR, { axfr: true })[0]!.rcode, RCODE.NOTIMP);
  const msgs = ask(a, 'example.test.', TYPE.AXFR, { transport: 'tcp', axfr: true });
  const rrs = msgs.flatMap((m) => m.answers);
  assert.equal(rrs[0]!.type, TYPE.SOA);
  assert.equal(rrs.at(-1)!.type, TYPE.SOA);
  assert.equal(rrs.length, parseZone(ZONE_TEXT, 'example.test.').records.length + 1);
});

test('TCP framing: messages split anywhere and pipelined come out whole and in order', () => {
  const msgs = [Uint8Array.of(1, 2, 3), new Uint8Array(300).fill(7), Uint8Array.of(9)];
  const stream = Uint8Array.from(msgs.flatMap((m) => [...frameTcp(m)]));
  fc.assert(
    fc.property(fc.array(fc.nat(stream.length), { maxLength: 6 }), (cuts) => {
      const d = new TcpDeframer();
      const out: Uint8Array[] = [];
      let at = 0;
      for (const c of [...cuts].sort((x, y) => x - y).concat(stream.length)) {
        out.push(...d.push(stream.subarray(at, c)));
        at = c;
      }
      assert.deepEqual(out, msgs);
      assert.equal(d.pending, 0);
    }),
    { numRuns: 300 },
  );
});

/** The largest answer allowed: 65535 bytes over TCP; over UDP 512 without EDNS (or when the query did not decode),
 * else the EDNS size within 512-1232. */
function answerLimit(transport: 'udp' | 'tcp', q: ReturnType<typeof decodeDns>): number {
  if (transport === 'tcp') return 65535;
  if (isDecodeError(q) || !q.edns) return 512;
  return Math.min(1232, Math.max(512, q.edns.udpSize));
}

test("the authority never throws on hostile queries, and answers each with the query's ID (property)", () => {
  const a = authority();
  const base = encodeDns(makeQuery(77, 'www.example.test.', TYPE.A, { udpSize: 1232 }));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 8 }),
      fc.nat(),
      fc.constantFrom('udp' as const, 'tcp' as const),
      (flips, cut, transport) => {
        const b = base.slice();
        for (const [at, v] of flips) b[at % b.length] = v;
        const q = b.subarray(0, 12 + (cut % (b.length - 11)));
        const limit = answerLimit(transport, decodeDns(q));
        for (const r of a.answer(q, { transport, allowAxfr: true })) {
          const m = decodeDns(r);
          assert.ok(!isDecodeError(m), 'every answer decodes');
          assert.equal(m.id, (q[0]! << 8) | q[1]!);
          assert.ok(r.length <= limit, `${r.length} bytes over ${transport}, limit ${limit}`);
        }
      },
    ),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(message, (m) => {
      a.answer(encodeDns({ ...m, qr: false }), { transport: 'udp' });
    }),
    { numRuns: 1000 },
  );
});

test('TCP sessions: pipelined answers in order (async ones too), back-pressure, idle close', async () => {
  let now = 0;
  const sent: Uint8Array[] = [];
  let ended = 0,
    room = 5;
  const stream = {
    onData: undefined as ((d: Uint8Array) => void) | undefined,
    onEnd: undefined as (() => void) | undefined,
    onDrain: undefined as (() => void) | undefined,
    onClose: undefined,
    write: (d: Uint8Array) => {
      const n = Math.min(room, d.length);
      sent.push(d.slice(0, n));
      room -= n;
      return n;
    },
    end: () => {
      ended++;
    },
    destroy: () => {},
    pause: () => {},
    resume: () => {},
  };
  const sessions = new DnsTcpSessions({ idleMs: 1000, now: () => now });
  let slow: (v: Uint8Array[]) => void = () => {};
  sessions.open(stream, (m) =>
    m[0] === 1
      ? new Promise<Uint8Array[]>((r) => {
          slow = r;
        })
      : [Uint8Array.of(m[0]! * 10)],
  );
  stream.onData!(Uint8Array.from([...frameTcp(Uint8Array.of(2)), ...frameTcp(Uint8Array.of(1)), ...frameTcp(Uint8Array.of(3))]));
  slow([Uint8Array.of(10)]);
  await new Promise((r) => setImmediate(r));
  room = 100;
  stream.onDrain!();
  const bytes = Uint8Array.from(sent.flatMap((x) => [...x]));
  assert.deepEqual([...bytes], [0, 1, 20, 0, 1, 10, 0, 1, 30], 'in query order, though the second was slow, across a short write');
  now = 500;
  assert.equal(sessions.sweep(), 0);
  now = 1600;
  assert.equal(sessions.sweep(), 1);
  assert.equal(ended, 1);
  assert.equal(sessions.size, 0);
});
