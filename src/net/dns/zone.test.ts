/**
 * Zone-file rules of `parseZone` that the first mutation run of zone.ts
 * (9bfa609: 67.6%) found unchecked, each mutant named in the case: the
 * bounds of 16- and 32-bit numbers (MX, SRV, the SOA serial), the SOA's
 * TTL from its MINIMUM when nothing else gives one, the classes refused,
 * and RFC 3597's generic RDATA read octet by octet (an A record's four
 * as its address).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE } from '../../wire/dns.ts';
import { parseZone } from './zone.ts';

const one = (line: string, origin = 'z.test.') => parseZone(`${line}\n`, origin);
const errs = (line: string): string[] => one(line).errors.map((e) => e.message);

// u16ok and u32ok (mutants: each test made true, `&&` as `||`, the anchors dropped, `<=` as `<`).
test('numbers: 0-65535 for MX and SRV, 0-4294967295 for the SOA serial, digits only, edges included', () => {
  assert.deepEqual(one('@ 60 IN MX 65535 mail').records[0]?.data, { kind: 'MX', preference: 65535, exchange: 'mail.z.test.' });
  for (const bad of ['65536', '-1', '1x', 'x1', '', '123456']) {
    assert.deepEqual(errs(`@ 60 IN MX ${bad || '""'} mail`), ['z.test. MX: MX preference is a number 0-65535'], bad);
  }
  assert.deepEqual(one('_s._tcp 60 IN SRV 65535 65535 65535 t').records[0]?.data, {
    kind: 'SRV',
    priority: 65535,
    weight: 65535,
    port: 65535,
    target: 't.z.test.',
  });
  for (const f of ['65536 1 1', '1 65536 1', '1 1 65536', 'a 1 1', '1 a 1', '1 1 a']) {
    assert.deepEqual(errs(`_s._tcp 60 IN SRV ${f} t`), ['_s._tcp.z.test. SRV: SRV priority, weight and port are numbers 0-65535'], f);
  }
  const soa = (serial: string) => `@ 60 IN SOA ns h ${serial} 1 1 1 1`;
  const got = one(soa('4294967295')).records[0]?.data;
  assert.equal(got?.kind === 'SOA' && got.serial, 4294967295);
  for (const bad of ['4294967296', '12345678901', '00000000001', '1x', 'x1', '-1']) {
    assert.deepEqual(errs(soa(bad)), ['z.test. SOA: SOA serial is a number and the four timers are times'], bad);
  }
});

// The SOA's TTL (mutants of `finalTtl === undefined && type === SOA && data.kind === 'SOA'`): MINIMUM when
// neither the record nor $TTL gives one; not for other types, nor when a TTL is given.
test('an SOA without a TTL and without $TTL takes its MINIMUM; other records the last TTL or the default', () => {
  const r = parseZone('@ IN SOA ns h 1 1 1 1 77\n@ IN NS ns\n', 'z.test.', 3600).records;
  assert.deepEqual(
    r.map((x) => [x.type, x.ttl]),
    [
      [TYPE.SOA, 77],
      [TYPE.NS, 77],
    ],
  );
  const n = parseZone('@ IN NS ns\n', 'z.test.', 3600).records;
  assert.equal(n[0]?.ttl, 3600);
  const given = parseZone('@ 99 IN SOA ns h 1 1 1 1 77\n', 'z.test.').records;
  assert.equal(given[0]?.ttl, 99);
  const dollar = parseZone('$TTL 55\n@ IN SOA ns h 1 1 1 1 77\n', 'z.test.').records;
  assert.equal(dollar[0]?.ttl, 55);
});

// The classes refused (mutants: the test made false, `||` as `&&`, each name emptied; its block emptied).
test('classes CH, HS and CS are refused by name; IN is taken', () => {
  for (const c of ['CH', 'HS', 'CS', 'ch']) {
    const p = one(`@ 60 ${c} TXT "x"`);
    assert.deepEqual(
      p.errors.map((e) => e.message),
      [`class ${c} is not served; only IN`],
      c,
    );
    assert.equal(p.records.length, 0);
  }
  assert.equal(one('@ 60 IN TXT "x"').records.length, 1);
});

// genericRdata (mutants: the octet loop's bound and slice, the A shortcut's two tests).
test('RFC 3597 generic RDATA: octets read in order; an A of four octets is an address, of other lengths or types raw', () => {
  assert.deepEqual(one('@ 60 IN A \\# 4 c0000201').records[0]?.data, { kind: 'A', address: '192.0.2.1' });
  assert.deepEqual(one('@ 60 IN TYPE65280 \\# 3 0a0b0c').records[0]?.data, { kind: 'raw', bytes: new Uint8Array([10, 11, 12]) });
  assert.deepEqual(one('@ 60 IN TYPE65280 \\# 4 c0000201').records[0]?.data, { kind: 'raw', bytes: new Uint8Array([192, 0, 2, 1]) });
  assert.deepEqual(one('@ 60 IN TYPE65280 \\# 0').records[0]?.data, { kind: 'raw', bytes: new Uint8Array(0) });
});

// The second mutation run of zone.ts (7cead71: 77.9%, 136 survived, 23 not covered) found the tokenizer, parseTtl, the
// directives and the messages unchecked; the cases below are aimed at its survivors.

const parse = (text: string, origin = 'z.test.') => parseZone(text, origin);
const messages = (text: string): string[] => parse(text).errors.map((e) => `${e.line}: ${e.message}`);

test('tokens: tabs and CRs are blanks, a blank line or a comment line is no entry, a file may end without a newline', () => {
  const p = parse('a\t60\tIN\tA\t192.0.2.1\r\n\tA 192.0.2.2\r\n   \n  ; a note\n\nb 60 IN A 192.0.2.3 ; the end');
  assert.deepEqual(p.errors, []);
  assert.deepEqual(
    p.records.map((r) => [r.name, r.data.kind === 'A' && r.data.address]),
    [
      ['a.z.test.', '192.0.2.1'],
      ['a.z.test.', '192.0.2.2'],
      ['b.z.test.', '192.0.2.3'],
    ],
  );
  assert.deepEqual(
    parse('b 60 IN A 192.0.2.3').records[0]?.data,
    { kind: 'A', address: '192.0.2.3' },
    'the last token at the end of the file',
  );
});

test('tokens: a blank owner only at the start of a line, never after ( or )', () => {
  assert.deepEqual(messages(' 60 IN A 192.0.2.1\n'), ['1: the first record has no owner name; start the line with a name or @']);
  for (const text of ['( a 60 IN A 192.0.2.1 )\n', '(a 60 IN A\n  192.0.2.1 )\n']) {
    const p = parse(text);
    assert.deepEqual(p.errors, [], text);
    assert.equal(p.records[0]?.name, 'a.z.test.', text);
  }
  const p = parse(') a 60 IN A 192.0.2.1\n');
  assert.deepEqual(
    p.errors.map((e) => e.message),
    ["')' without a matching '('"],
  );
  assert.equal(p.records[0]?.name, 'a.z.test.');
  assert.deepEqual(
    messages('a 60 IN TXT "x"\nb 60 IN TXT ( "x"\n"y" ( "z" )\n'),
    ["2: '(' is not closed before the end of the file"],
    'the line of the outermost (',
  );
});

test('tokens: quoted strings across lines count their lines; a string not closed is reported and kept; escapes in and out of quotes', () => {
  assert.deepEqual(messages('a 60 IN TXT "x\ny"\nb 60 IN A bad\n'), ["3: b.z.test. A: 'bad' is not an IPv4 address"]);
  const open = parse('a 60 IN TXT "abc');
  assert.deepEqual(
    open.errors.map((e) => e.message),
    ['a quoted string is not closed'],
  );
  assert.deepEqual(open.records[0]?.data, { kind: 'TXT', strings: [new TextEncoder().encode('abc')] });
  const slash = parse('a 60 IN TXT "ab\\');
  assert.deepEqual(slash.records[0]?.data, { kind: 'TXT', strings: [new TextEncoder().encode('ab\\')] }, 'a backslash at the very end');
  assert.deepEqual(parse('a 60 IN TXT x\\').records[0]?.data, { kind: 'TXT', strings: [new TextEncoder().encode('x\\')] });
  const escaped = parse('a\\ b\\;c 60 IN TXT x\\"y "\\"q\\\\065\\065"\n');
  assert.deepEqual(escaped.errors, []);
  assert.equal(escaped.records[0]?.name, 'a\\032b;c.z.test.');
  assert.deepEqual(escaped.records[0]?.data, {
    kind: 'TXT',
    strings: [new TextEncoder().encode('x"y'), new TextEncoder().encode('"q\\065A')],
  });
});

test('TXT and CAA: \\DDD is one octet up to 255, characters past 0x7f are UTF-8 (pairs of surrogates too)', () => {
  const p = parse('a 60 IN TXT "\\255é\u0080😀"\nb 60 IN CAA 0 issue "\\255😀"\n');
  assert.deepEqual(p.errors, []);
  assert.deepEqual(p.records[0]?.data, { kind: 'TXT', strings: [Uint8Array.of(0xff, 0xc3, 0xa9, 0xc2, 0x80, 0xf0, 0x9f, 0x98, 0x80)] });
  assert.deepEqual(p.records[1]?.data, { kind: 'CAA', flags: 0, tag: 'issue', value: Uint8Array.of(0xff, 0xf0, 0x9f, 0x98, 0x80) });
  assert.deepEqual(messages('a 60 IN TXT "ok" "\\256"\nb 60 IN CAA 0 issue "\\300"\n'), [
    "1: a.z.test. TXT: '\\256' has a \\DDD over 255 (each is one octet, 000-255)",
    "2: b.z.test. CAA: '\\300' has a \\DDD over 255 (each is one octet, 000-255)",
  ]);
  assert.deepEqual(messages(`a 60 IN TXT "${'y'.repeat(40)}\\256"\n`), [
    `1: a.z.test. TXT: '${'y'.repeat(40)}' has a \\DDD over 255 (each is one octet, 000-255)`,
  ]);
});

test('TTLs: digits up to 2^31-1, or units in any case summed, nothing else', () => {
  const ttl = (t: string) => parse(`$TTL ${t}\na IN A 192.0.2.1\n`);
  for (const [t, want] of [
    ['2147483647', 2147483647],
    ['2147483647s', 2147483647],
    ['1h30m', 5400],
    ['10m', 600],
    ['2W', 1209600],
    ['1d1S', 86401],
  ] as const) {
    assert.deepEqual(ttl(t).errors, [], t);
    assert.equal(ttl(t).records[0]?.ttl, want, t);
  }
  for (const t of ['2147483648', '2147483648s', '596524h', '1h30', '1e3', '-5', '0x10', '""', 'h']) {
    assert.deepEqual(
      ttl(t).errors.map((e) => e.message),
      ['$TTL needs a time like 3600 or 1h'],
      t,
    );
  }
  assert.equal(parse('a 1h30m IN A 192.0.2.1\n').records[0]?.ttl, 5400, 'a record TTL with units');
});

test('directives: $ORIGIN absolute only, $TTL, $INCLUDE refused, others named; names relative to the root origin', () => {
  const p = parse('$origin other.test.\na 60 IN A 192.0.2.1\n$ORIGIN rel\n$ORIGIN\n$TTL x\n$INCLUDE f\n$include f\n$FOO 1\n');
  assert.equal(p.records[0]?.name, 'a.other.test.');
  assert.deepEqual(
    p.errors.map((e) => `${e.line}: ${e.message}`),
    [
      '3: $ORIGIN needs an absolute name ending in a dot, like $ORIGIN example.com.',
      '4: $ORIGIN needs an absolute name ending in a dot, like $ORIGIN example.com.',
      '5: $TTL needs a time like 3600 or 1h',
      '6: $INCLUDE is not supported: an image carries one file per zone; paste the included records in',
      '7: $INCLUDE is not supported: an image carries one file per zone; paste the included records in',
      '8: unknown directive $FOO; use $ORIGIN or $TTL',
    ],
  );
  assert.equal(parse('a 60 IN A 192.0.2.1\n', '.').records[0]?.name, 'a.');
  assert.equal(parse('a\\. 60 IN A 192.0.2.1\n').records[0]?.name, 'a\\..z.test.', 'an escaped final dot is not absolute');
  assert.equal(parse('a.b. 60 IN A 192.0.2.1\n').records[0]?.name, 'a.b.');
});

test('records refused whole: a bad owner, no type, a second TTL, query types; each with one error and no record', () => {
  const cases: [string, string][] = [
    ['a..b 60 IN A 192.0.2.1', "'a..b' is not a valid domain name (labels of 1-63 octets, 255 in all)"],
    ['a 60 IN', 'record for a.z.test. has no type'],
    ['a 60 70 A 192.0.2.1', "unknown record type '70'; use a type name or TYPEnnn with \\# RDATA (RFC 3597)"],
    ['a 60 OPT x', 'OPT is a query type or a pseudo-record, not something a zone holds'],
    ['a 60 AXFR x', 'AXFR is a query type or a pseudo-record, not something a zone holds'],
    ['a 60 IXFR x', 'IXFR is a query type or a pseudo-record, not something a zone holds'],
    ['a 60 ANY x', 'ANY is a query type or a pseudo-record, not something a zone holds'],
    ['a 60 TYPE65280 0a', 'a.z.test. TYPE65280: type TYPE65280 needs RFC 3597 generic RDATA: \\# LENGTH HEX'],
    ['a 60 NS b..c', "'b..c' is not a valid domain name (labels of 1-63 octets, 255 in all)"],
    ['a 60 MX 1 b..c', "'b..c' is not a valid domain name (labels of 1-63 octets, 255 in all)"],
    ['a 60 SRV 1 1 1 b..c', "'b..c' is not a valid domain name (labels of 1-63 octets, 255 in all)"],
    ['@ 60 SOA b..c h 1 2 3 4 5', "'b..c' is not a valid domain name (labels of 1-63 octets, 255 in all)"],
    ['@ 60 SOA ns b..c 1 2 3 4 5', "'b..c' is not a valid domain name (labels of 1-63 octets, 255 in all)"],
    ['@ 60 SOA ns h 1 2 x 4 5', 'z.test. SOA: SOA serial is a number and the four timers are times'],
    ['@ 60 SOA ns h 1 2 3 4 ""', 'z.test. SOA: SOA serial is a number and the four timers are times'],
    ['a 60 TYPE65280 \\# 1 zz', 'a.z.test. TYPE65280: generic RDATA is \\# LENGTH HEX, with LENGTH octets of hex'],
    ['a 60 MX 000001 b', 'a.z.test. MX: MX preference is a number 0-65535'],
  ];
  for (const [text, want] of cases) {
    const p = parse(`${text}\n`);
    assert.deepEqual(
      p.errors.map((e) => e.message),
      [want],
      text,
    );
    assert.equal(p.records.length, 0, text);
  }
});

test('field counts and shapes in the messages, type by type', () => {
  const cases: [string, string][] = [
    ['a 60 A', 'a.z.test. A: expected an IPv4 address, got 0 fields'],
    ['a 60 A 192.0.2.1 x', 'a.z.test. A: expected an IPv4 address, got 2 fields'],
    ['a 60 AAAA 1 2', 'a.z.test. AAAA: expected an IPv6 address, got 2 fields'],
    ['a 60 AAAA ::g', "a.z.test. AAAA: '::g' is not an IPv6 address"],
    ['a 60 NS b c', 'a.z.test. NS: expected a domain name, got 2 fields'],
    ['a 60 MX 1', 'a.z.test. MX: expected PREFERENCE EXCHANGE, got 1 field'],
    ['@ 60 SOA ns h 1', 'z.test. SOA: expected MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM, got 3 fields'],
    ['a 60 TXT', 'a.z.test. TXT: TXT needs at least one string'],
    [`a 60 TXT "${'x'.repeat(256)}"`, 'a.z.test. TXT: each TXT string is at most 255 octets; split it into several quoted strings'],
    [`a 60 TXT "x" "${'x'.repeat(256)}"`, 'a.z.test. TXT: each TXT string is at most 255 octets; split it into several quoted strings'],
    ['a 60 SRV 1 1 1', 'a.z.test. SRV: expected PRIORITY WEIGHT PORT TARGET, got 3 fields'],
    ['a 60 CAA 0 issue', 'a.z.test. CAA: expected FLAGS TAG "VALUE", got 2 fields'],
  ];
  for (const [text, want] of cases) assert.deepEqual(messages(`${text}\n`), [`1: ${want}`], text);
  assert.deepEqual(parse('a 60 AAAA 2001:db8::1\n').records[0]?.data, { kind: 'AAAA', address: '2001:db8::1' });
  assert.equal(parse(`a 60 TXT "${'x'.repeat(255)}"\n`).records.length, 1);
});

test('CAA flags 0-255 as an integer; a record of exactly 65535 octets; generic RDATA in several tokens, an A of other lengths raw', () => {
  const caa = (flags: string) => parse(`a 60 IN CAA ${flags} issue "ca.test"\n`);
  assert.equal(caa('0').records.length, 1);
  assert.deepEqual(caa('255').records[0]?.data, { kind: 'CAA', flags: 255, tag: 'issue', value: new TextEncoder().encode('ca.test') });
  for (const bad of ['256', '-1', '1.5', 'x']) {
    assert.deepEqual(
      caa(bad).errors.map((e) => e.message),
      ['a.z.test. CAA: CAA is FLAGS (0-255) TAG (1-255 letters and digits) "VALUE"'],
      bad,
    );
  }
  assert.equal(parse(`a 60 IN CAA 0 issue "${'v'.repeat(65528)}"\n`).records.length, 1, '2 + 5 + 65528 octets');
  assert.deepEqual(parse('a 60 IN TYPE65280 \\# 3 0a 0b0c\n').records[0]?.data, { kind: 'raw', bytes: Uint8Array.of(10, 11, 12) });
  const sixteen = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);
  assert.deepEqual(parse('a 60 IN TYPE65280 \\# 16 f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff\n').records[0]?.data, { kind: 'raw', bytes: sixteen });
  assert.deepEqual(parse('a 60 IN A \\# 3 c00002\n').records[0]?.data, { kind: 'raw', bytes: Uint8Array.of(192, 0, 2) });
  assert.deepEqual(parse('a 60 IN TYPE65280 "\\#" 0\n').errors.length, 1, 'a quoted \\# is not the generic form');
});
