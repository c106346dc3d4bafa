/**
 * Presentation ↔ wire for every type ./rdata.ts reads, through the zone
 * parser (quotes, parentheses, escapes): the RFCs' own examples to the
 * octet (RFC 9460 Appendix D's test vectors; the examples of RFC 1183,
 * 1876, 3403, 4034, 4255, 6698, 7553 and 8162 with the octets NSD 4.6.1
 * writes for them, which test/dns-types.test.ts checks against a running
 * NSD), back to text and to the same octets again, and bad input reported
 * with its line, never thrown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeDns, makeQuery, TYPE, typeFromName } from '../../wire/dns.ts';
import { Authority, Zone } from './authority.ts';
import { base64Bytes, hex, toBase64, wireToPresentation } from './rdata.ts';
import { parseZone } from './zone.ts';

/** The octets of one record's RDATA parsed from `type text` at owner x.example.; throws with the zone errors. */
function wire(typeAndText: string): Uint8Array {
  const p = parseZone(`x 3600 IN ${typeAndText}\n`, 'example.');
  if (p.errors.length) throw new Error(p.errors.map((e) => `line ${e.line}: ${e.message}`).join('; '));
  const d = p.records[0]!.data;
  assert.equal(d.kind, 'raw');
  return d.kind === 'raw' ? d.bytes : new Uint8Array();
}

function errors(typeAndText: string): string[] {
  return parseZone(`x 3600 IN ${typeAndText}\n`, 'example.').errors.map((e) => `line ${e.line}: ${e.message}`);
}

const VECTORS: [string, string][] = [
  // RFC 9460 Appendix D.1 and D.2.
  ['HTTPS 0 foo.example.com.', '000003666f6f076578616d706c6503636f6d00'],
  ['SVCB 1 .', '000100'],
  ['SVCB 16 foo.example.com. port=53', '001003666f6f076578616d706c6503636f6d00000300020035'],
  ['SVCB 1 foo.example.com. key667=hello', '000103666f6f076578616d706c6503636f6d00029b000568656c6c6f'],
  ['SVCB 1 foo.example.com. key667="hello\\210qoo"', '000103666f6f076578616d706c6503636f6d00029b000968656c6c6fd2716f6f'],
  [
    'SVCB 1 foo.example.com. ipv6hint="2001:db8::1,2001:db8::53:1"',
    '000103666f6f076578616d706c6503636f6d000006002020010db800000000000000000000000120010db8000000000000000000530001',
  ],
  ['SVCB 1 example.com. ipv6hint="2001:db8:122:344::192.0.2.33"', '0001076578616d706c6503636f6d000006001020010db80122034400000000c0000221'],
  [
    'SVCB 16 foo.example.org. ( alpn=h2,h3-19 mandatory=ipv4hint,alpn\n ipv4hint=192.0.2.1 )',
    '001003666f6f076578616d706c65036f7267000000000400010004000100090268320568332d313900040004c0000201',
  ],
  ['SVCB 16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"', '001003666f6f076578616d706c65036f7267000001000c08665c6f6f2c626172026832'],
  ['SVCB 16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2', '001003666f6f076578616d706c65036f7267000001000c08665c6f6f2c626172026832'],
  // RFC 9460 §7.1.2: no-default-alpn has no value; keys sorted on the wire whatever the order written.
  ['HTTPS 1 . port=8443 no-default-alpn alpn=h2', '00010000010003026832000200000003000220fb'],
  // RFC 4034 §5.4 and §2.3 (DS, DNSKEY); CDS and CDNSKEY (RFC 7344) share their formats; algorithm mnemonics.
  ['DS 60485 5 1 ( 2BB183AF5F22588179A53B0A98631FAD1A292118 )', 'ec4505012bb183af5f22588179a53b0a98631fad1a292118'],
  ['CDS 60485 RSASHA1 1 2bb183af5f22588179a53b0a98631fad1a292118', 'ec4505012bb183af5f22588179a53b0a98631fad1a292118'],
  ['DNSKEY 256 3 ECDSAP256SHA256 AQID BAU=', '0100030d0102030405'],
  ['CDNSKEY 257 3 15 AQID', '0101030f010203'],
  // RFC 4255 §3.3, RFC 6698 §2.3, RFC 8162 §2 (same layout as TLSA).
  ['SSHFP 2 1 123456789abcdef67890123456789abcdef67890', '0201123456789abcdef67890123456789abcdef67890'],
  [
    'TLSA 0 0 1 d2abde240d7cd3ee6b4b28c54df034b97983a1d16e8a410e4561cb106618e971',
    '000001d2abde240d7cd3ee6b4b28c54df034b97983a1d16e8a410e4561cb106618e971',
  ],
  ['SMIMEA 3 0 1 ( d2abde240d7cd3ee 6b4b28c5 )', '030001d2abde240d7cd3ee6b4b28c5'],
  ['OPENPGPKEY AQIDBA==', '01020304'],
  // RFC 3403 §6.2 (the regexp's \\ are one backslash each in the zone file).
  [
    'NAPTR 100 10 "" "" "!^urn:cid:.+@([^\\\\.]+\\\\.)(.*)$!\\\\2!i" .',
    '0064000a000021215e75726e3a6369643a2e2b40285b5e5c2e5d2b5c2e29282e2a2924215c32216900',
  ],
  [
    'NAPTR 102 10 "U" "E2U+sip" "!^.*$!sip:info@example.net!" .',
    '0066000a0155074532552b7369701b215e2e2a24217369703a696e666f406578616d706c652e6e65742100',
  ],
  // RFC 1183 §2.2 (case kept: names in RDATA are sent as written), RFC 1035 §3.3.2.
  [
    'RP louie.trantor.umd.edu. lam1.people.umd.edu.',
    '056c6f756965077472616e746f7203756d640365647500046c616d310670656f706c6503756d640365647500',
  ],
  ['RP mbox txt', '046d626f78076578616d706c650003747874076578616d706c6500'],
  ['HINFO "VAX-11/780" "UNIX"', '0a5641582d31312f37383004554e4958'],
  ['SPF "v=spf1 -all" "x"', '0b763d73706631202d616c6c0178'],
  // RFC 7553 §4.5.
  ['URI 10 1 "ftp://ftp1.example.com/public"', '000a00016674703a2f2f667470312e6578616d706c652e636f6d2f7075626c6963'],
  // RFC 1876 §4's examples, and defaults (size 1m, precisions 10000m and 10m).
  ['LOC 42 21 54 N 71 06 18 W -24m 30m', '0033161389172dd070be15f000988d20'],
  ['LOC 42 21 43.952 N 71 5 6.344 W -24m 1m 200m 10m', '001224138917069070bf2dd800988d20'],
  ['LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m', '000016138b3cf018810cbce0009895b8'],
  ['LOC 32 7 19 S 116 2 25 E 10m', '00121613791b7d2898e6486800989a68'],
  ['LOC 0 N 0 E 0', '00121613800000008000000000989680'],
  // RFC 6672: a DNAME's target, uncompressed.
  ['DNAME target', '06746172676574076578616d706c6500'],
  // RFC 4034 §4.3's NSEC example, to its published octets; RFC 7477 §2.2's CSYNC; RFC 5155 §4.3 (NSEC3PARAM).
  [
    'NSEC host.example.com. ( A MX RRSIG NSEC TYPE1234 )',
    '04686f7374076578616d706c6503636f6d000006400100000003041b000000000000000000000000000000000000000000000000000020',
  ],
  ['CSYNC 66 3 A NS AAAA', '000000420003000460000008'],
  // RFC 4034 §3.3's RRSIG and RFC 5155 Appendix A's NSEC3.
  [
    'RRSIG A 5 3 86400 20030322173103 ( 20030220173103 2642 example.com. oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTr PYGv07h108dUKGMeDPKijVCHX3DDKdfb+v6o B9wfuh3DTJXUAfI/M0zmO/zz8bW0Rznl8O3t GNazPwQKkRN20XPXV6nwwfoXmJQbsLNrLfkG J5D6fwFm8nN+6pBzeDQfsS3Ap3o= )',
    '00010503000151803e7c9dd73e5510d70a52076578616d706c6503636f6d00a090755ba58d1affa576f4375831b4310920e481218d18a9f164eb3d81afd3b875d3c75428631e0cf2a28d50875f70c329d7dbfafea807dc1fba1dc34c95d401f23f334ce63bfcf3f1b5b44739e5f0eded18d6b33f040a911376d173d757a9f0c1fa1798941bb0b36b2df9062790fa7f0166f2737eea907378341fb12dc0a77a',
  ],
  [
    'NSEC3 1 1 12 aabbccdd ( 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG )',
    '0101000c04aabbccdd14174eb2409fe28bcb4887a1836f957f0a8425e27b000722010000000290',
  ],
  ['NSEC3PARAM 1 0 0 -', '0100000000'],
  ['NSEC3PARAM 1 1 12 aabbccdd', '0101000c04aabbccdd'],
  // RFC 8976 (ZONEMD), RFC 7043 §3.2 and §4.2 (EUI48, EUI64), RFC 6742 §2 (NID, L32, L64, LP).
  ['ZONEMD 2026113001 1 1 ( c68090d90a7aed716bc459f9 340e3d7c )', '78c407e90101c68090d90a7aed716bc459f9340e3d7c'],
  ['EUI48 00-00-5e-00-53-2a', '00005e00532a'],
  ['EUI64 00-00-5e-ef-10-00-00-2a', '00005eef1000002a'],
  ['NID 10 0014:4fff:ff20:ee64', '000a00144fffff20ee64'],
  ['L64 10 2001:0DB8:1140:1000', '000a20010db811401000'],
  ['L32 10 10.1.2.0', '000a0a010200'],
  ['LP 10 l64-subnet1.example.com.', '000a0b6c36342d7375626e657431076578616d706c6503636f6d00'],
  // RFC 1183 (AFSDB), RFC 2230 (KX), RFC 1035 §3.3 (MB, MG, MR, MINFO).
  ['AFSDB 1 afs.example.net.', '000103616673076578616d706c65036e657400'],
  ['KX 10 kx.example.net.', '000a026b78076578616d706c65036e657400'],
  ['MB mail.example.', '046d61696c076578616d706c6500'],
  ['MG mg.example.', '026d67076578616d706c6500'],
  ['MR mr.example.', '026d72076578616d706c6500'],
  ['MINFO mbox errors.mbox', '046d626f78076578616d706c6500066572726f7273046d626f78076578616d706c6500'],
];

test('each type from its RFC example to the octets NSD writes, back to text, and to the same octets', () => {
  for (const [text, want] of VECTORS) {
    const type = typeFromName(text.split(' ')[0]!)!;
    const got = wire(text);
    assert.equal(hex(got), want, text);
    const again = wireToPresentation(type, got);
    assert.ok(again !== undefined, `${text}: no presentation for ${hex(got)}`);
    assert.equal(hex(wire(`${text.split(' ')[0]} ${again}`)), hex(got), `${text} → ${again}`);
  }
});

test('text written back as NSD and kdig print it', () => {
  const text = (t: string): string | undefined => wireToPresentation(typeFromName(t.split(' ')[0]!)!, wire(t));
  assert.equal(
    text('SVCB 16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1'),
    '16 foo.example.org. mandatory="alpn,ipv4hint" alpn="h2,h3-19" ipv4hint="192.0.2.1"',
  );
  assert.equal(text('SVCB 16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"'), '16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"');
  assert.equal(text('HTTPS 1 . no-default-alpn port=443 key9="a b"'), '1 . no-default-alpn port="443" key9="a b"');
  assert.equal(text('DS 60485 5 1 2bb183af5f22588179a53b0a98631fad1a292118'), '60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118');
  assert.equal(text('LOC 42 21 43.952 N 71 5 6.344 W -24m 1m 200m 10m'), '42 21 43.952 N 71 5 6.344 W -24.00m 1.00m 200.00m 10.00m');
  assert.equal(text('HINFO "a \\"b\\"" c'), '"a \\"b\\"" "c"');
  assert.equal(text('DNSKEY 256 3 8 AQID BAU='), '256 3 8 AQIDBAU=');
  assert.equal(text('NSEC host.example.com. A MX RRSIG NSEC TYPE1234'), 'host.example.com. A MX RRSIG NSEC TYPE1234');
  assert.equal(text('NSEC3PARAM 1 0 0 -'), '1 0 0 -');
  assert.equal(
    text('NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX NS'),
    '1 1 12 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR NS MX',
  );
  assert.equal(
    text('RRSIG A 5 3 86400 20030322173103 20030220173103 2642 example.com. AQID'),
    'A 5 3 86400 20030322173103 20030220173103 2642 example.com. AQID',
  );
  assert.equal(text('EUI48 00-00-5E-00-53-2A'), '00-00-5e-00-53-2a');
  assert.equal(wireToPresentation(TYPE.SVCB, Uint8Array.of(0, 1, 0, 0, 3, 0, 1)), undefined, 'a port of one octet is malformed');
  assert.equal(wireToPresentation(TYPE.HINFO, Uint8Array.of(3, 0x61)), undefined, 'a string past the end');
  assert.equal(wireToPresentation(TYPE.LOC, Uint8Array.of(1, ...new Array<number>(15).fill(0))), undefined, 'LOC version 1 is unknown');
});

test('bad input is reported with its line and what to write, never thrown', () => {
  const cases: [string, RegExp][] = [
    ['SVCB 1 foo. key123=abc key123=def', /appears twice/],
    ['SVCB 1 foo. mandatory', /needs a value/],
    ['SVCB 1 foo. alpn', /needs a value/],
    ['SVCB 1 foo. port', /SvcParam port needs a value/],
    ['SVCB 1 foo. port=65536', /port is a number/],
    ['SVCB 1 foo. no-default-alpn=abc', /takes no value/],
    ['SVCB 1 foo. mandatory=mandatory', /not a SvcParam key other than mandatory/],
    ['SVCB 1 foo. mandatory=key123', /mandatory lists key123, which the record does not have/],
    ['SVCB 1 foo. ipv4hint=1.2.3', /not an IPv4 address/],
    ['SVCB 1 foo. ipv6hint=1.2.3.4', /not an IPv6 address/],
    ['SVCB 1 foo. ech=!!!', /ech is base64/],
    ['SVCB 1 foo. key65535', /reserved/],
    ['SVCB 1 foo. frobnicate=1', /unknown SvcParam key 'frobnicate'/],
    ['SVCB 1', /expected PRIORITY TARGET/],
    ['DS 60485 5 1 2BB1Z3', /the digest is not hexadecimal/],
    ['DS 70000 5 1 2BB1', /key tag '70000' is not a number 0-65535/],
    ['DS 1 NOSUCHALG 1 2BB1', /algorithm 'NOSUCHALG'/],
    ['DNSKEY 256 3 8 AQI', /the public key is not base64/],
    ['SSHFP 2 1', /expected ALGORITHM FP-TYPE FINGERPRINT/],
    ['TLSA 3 1 1 abc', /not hexadecimal/],
    ['NAPTR 100 10 "" "" "" ', /expected ORDER PREFERENCE/],
    ['HINFO "one"', /expected "CPU" "OS"/],
    [`HINFO "${'x'.repeat(256)}" "os"`, /at most 255 octets/],
    ['LOC 91 N 0 E 0', /LOC is D \[M \[S\]\]/],
    ['LOC 42 60 N 0 E 0', /LOC is/],
    ['LOC 42 N 0 E', /altitude and sizes are metres/],
    ['LOC 42 N 0 E 0 1 2 3 4', /altitude and sizes/],
    ['URI 10 1 ""', /URI target is a non-empty quoted string/],
    ['RP a..b. c.', /not a valid domain name/],
    ['DNAME', /expected a target name/],
    [
      'IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==',
      /unknown record type 'IPSECKEY'; use a type name or TYPEnnn with \\# RDATA/,
    ],
    ['RRSIG A 8 2 3600 20261301000000 20251201000000 1 a. AQID', /is not a time \(YYYYMMDDHHmmSS, UTC\)/],
    ['NSEC3 1 1 12 - 2t7b4g4vsa5smi47k61mv5bv1a22bojW A', /not base32hex/],
    ['NSEC a. A NOTATYPE', /'NOTATYPE' is not a type name/],
    ['EUI48 00-00-5e-00-53', /6 hex octets separated by '-'/],
    ['NID 10 1:2:3', /four groups of hex/],
    ['L32 10 10.1.2', /not an IPv4 address/],
    ['NSEC3PARAM 1 0 0 xyz', /the salt is hex/],
    ['KX kx.example.', /expected PREFERENCE EXCHANGER/],
    ['TYPE65280 \\# 3 abcd', /generic RDATA is/],
    [`TYPE65280 \\# 65536 ${'00'.repeat(65536)}`, /generic RDATA is/],
    [`TXT ${`"${'x'.repeat(255)}" `.repeat(257)}`, /at most 65535 octets/],
    [`CAA 0 ${'t'.repeat(256)} "v"`, /TAG \(1-255 letters and digits\)/],
    [`CAA 0 issue "${'v'.repeat(65534)}"`, /a CAA record is at most 65535 octets/],
  ];
  for (const [text, re] of cases) {
    const e = errors(text);
    assert.equal(e.length, 1, `${text}: ${e.join('; ')}`);
    assert.equal(parseZone(`x 3600 IN ${text}\n`, 'example.').records.length, 0, `${text}: a record besides the error`);
    assert.match(e[0]!, /^line 1: /, text);
    assert.match(e[0]!, re, text);
  }
});

test('whatever a zone file says, loading it and serving it never throws', () => {
  const types = ['A', 'AAAA', 'MX', 'TXT', 'CAA', 'SRV', 'SVCB', 'HTTPS', 'LOC', 'NAPTR', 'DS', 'DNAME', 'HINFO', 'URI', 'TYPE65280'];
  const token = fc.oneof(
    fc.constantFrom(
      '1',
      '0',
      '65535',
      '.',
      '@',
      'a',
      '*.w',
      '\\#',
      '4',
      '00ff00ff',
      '"x y"',
      'port=1',
      'alpn=h2',
      '10m',
      'N',
      'E',
      '::1',
      '1.2.3.4',
    ),
    fc.string({ maxLength: 6 }).map((x) => x.replace(/[\s;()"\\$]/g, '')),
  );
  const line = fc.tuple(fc.constantFrom('@', 'x', 'a.b', '*', '*.w', 'y.w'), fc.constantFrom(...types), fc.array(token, { maxLength: 7 }));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
      const text = `@ SOA ns h 1 2 3 4 5\n@ NS ns\n${lines.map(([o, t, r]) => `${o} ${t} ${r.join(' ')}`).join('\n')}\n`;
      const p = parseZone(text, 'z.');
      const z = Zone.fromRecords('z.', p.records);
      if ('errors' in z) return;
      const a = new Authority([z]);
      for (const [o, t] of lines) {
        const name = o === '@' ? 'z.' : `${o.replace('*', 'q')}.z.`;
        a.answer(encodeDns(makeQuery(1, name, typeFromName(t)!)), { transport: 'udp' });
        a.answer(encodeDns(makeQuery(1, `deep.${name}`, TYPE.A)), { transport: 'tcp' });
      }
      a.answer(encodeDns(makeQuery(1, 'z.', TYPE.AXFR)), { transport: 'tcp', allowAxfr: true });
    }),
    { numRuns: 1500 },
  );
});

test('any tokens after any type: errors or records, never a throw', () => {
  const types = [
    'SVCB',
    'HTTPS',
    'LOC',
    'NAPTR',
    'DS',
    'DNSKEY',
    'SSHFP',
    'TLSA',
    'HINFO',
    'RP',
    'URI',
    'SPF',
    'DNAME',
    'OPENPGPKEY',
    'NSEC',
    'CSYNC',
    'NSEC3PARAM',
    'EUI48',
    'NID',
    'L32',
    'KX',
    'MINFO',
    'ZONEMD',
  ];
  const token = fc.oneof(
    fc.string({ maxLength: 12 }).map((x) => x.replace(/[\s;()"\\]/g, '')),
    fc.constantFrom('N', 'S', 'E', 'W', '10m', '-1', '=', 'alpn=', 'mandatory=port', 'port=1', '\\255', '\\999', '\\', '.', '@'),
    fc.string({ maxLength: 8 }).map((x) => `"${x.replace(/["\\]/g, '')}"`),
  );
  fc.assert(
    fc.property(fc.constantFrom(...types), fc.array(token, { maxLength: 10 }), (t, toks) => {
      const p = parseZone(`x IN ${t} ${toks.join(' ')}\n`, 'example.');
      assert.equal(p.errors.length + p.records.length, 1);
      for (const r of p.records) if (r.data.kind === 'raw') wireToPresentation(r.type, r.data.bytes);
    }),
    { numRuns: 2000 },
  );
});

test('base64 both ways (RFC 4648 §10 vectors), and what is not base64', () => {
  const vectors = ['', 'Zg==', 'Zm8=', 'Zm9v', 'Zm9vYg==', 'Zm9vYmE=', 'Zm9vYmFy'];
  for (const v of vectors) assert.equal(toBase64(Uint8Array.from(base64Bytes(v)!)), v);
  for (const bad of ['Zg=', 'Z===', 'Zm9v!', '=Zm9', 'Zg=a']) assert.equal(base64Bytes(bad), undefined, bad);
});

/** Octets from hex, spaces ignored. */
const octets = (s: string): Uint8Array => Uint8Array.from(s.replace(/ /g, '').match(/../g) ?? [], (x) => parseInt(x, 16));

test('type bitmaps on the wire (RFC 4034 §4.1.2): windows ascending, 1-32 octets each, inside the RDATA; anything else has no text', () => {
  const nsec = (bitmap: string) => wireToPresentation(TYPE.NSEC, octets(`016100 ${bitmap}`));
  assert.equal(nsec('000140'), 'a. A');
  assert.equal(nsec(''), 'a.', 'no bitmap at all');
  assert.equal(nsec(`0020 ${'00'.repeat(31)}80`), 'a. TYPE248', 'a window of 32 octets');
  assert.equal(nsec(`000140 010180`), 'a. A URI', 'two windows, ascending (URI is 256)');
  // Each malformed bitmap (planted: its test dropped, a window of 0 octets then gave 'a.' as if the bitmap were empty).
  for (const [bad, why] of [
    ['0000', 'a window of 0 octets'],
    [`0021 ${'00'.repeat(32)}80`, 'a window of 33 octets'],
    ['010180 000140', 'windows descending'],
    ['000140 000140', 'the same window twice'],
    ['0002 40', 'a window past the end'],
    ['00', 'a window number alone'],
  ]) {
    assert.equal(nsec(bad!), undefined, why);
  }
  // NSEC3 and CSYNC end in the same bitmap: a malformed one is not dropped from the text.
  assert.equal(wireToPresentation(TYPE.NSEC3, octets('0101000c 00 01ff')), '1 1 12 - VS');
  assert.equal(wireToPresentation(TYPE.NSEC3, octets('0101000c 00 01ff 000140')), '1 1 12 - VS A');
  assert.equal(wireToPresentation(TYPE.NSEC3, octets('0101000c 00 01ff 0000')), undefined);
  assert.equal(wireToPresentation(TYPE.NSEC3, octets('0101000c 00 00')), undefined, 'no next hashed owner');
  assert.equal(wireToPresentation(TYPE.NSEC3, octets('0101000c 05 aa')), undefined, 'a salt past the end');
  assert.equal(wireToPresentation(TYPE.CSYNC, octets('00000042 0003')), '66 3');
  assert.equal(wireToPresentation(TYPE.CSYNC, octets('00000042 0003 0000')), undefined);
});

test('SvcParams on the wire: each key of its own length, inside the RDATA; names of labels up to 63 octets; other types have no text here', () => {
  const svcb = (params: string) => wireToPresentation(TYPE.SVCB, octets(`0001 00 ${params}`));
  assert.equal(svcb(''), '1 .');
  assert.equal(svcb('0000 0002 0001'), '1 . mandatory="alpn"');
  assert.equal(svcb('0000 0002 0009'), '1 . mandatory="key9"');
  assert.equal(svcb('0001 0003 026832'), '1 . alpn="h2"');
  assert.equal(svcb('0002 0000'), '1 . no-default-alpn');
  assert.equal(svcb('0003 0002 01bb'), '1 . port="443"');
  assert.equal(svcb('0004 0008 c0000201 c0000202'), '1 . ipv4hint="192.0.2.1,192.0.2.2"');
  assert.equal(svcb('0005 0003 010203'), '1 . ech="AQID"');
  assert.equal(svcb(`0006 0020 ${'20010db8'.padEnd(32, '0')}${'20010db8'.padEnd(30, '0')}01`), '1 . ipv6hint="2001:db8::,2001:db8::1"');
  assert.equal(svcb('0009 0000'), '1 . key9=""');
  for (const [bad, why] of [
    ['0000 0001 00', 'mandatory of an odd length'],
    ['0001 0003 036832', 'an alpn id past its value'],
    ['0002 0001 00', 'no-default-alpn with a value'],
    ['0003 0001 01', 'a port of one octet'],
    ['0003 0003 01bb00', 'a port of three octets'],
    ['0004 0005 c000020101', 'ipv4hint not a multiple of 4'],
    ['0006 0011 20010db80000000000000000000000000001', 'ipv6hint not a multiple of 16'],
    ['0003 0004 01bb', 'a value past the RDATA'],
    ['0003', 'a key without its length'],
  ]) {
    assert.equal(svcb(bad!), undefined, why);
  }
  const label = (n: number) => `${n.toString(16).padStart(2, '0')}${'61'.repeat(n)}00`;
  assert.equal(wireToPresentation(TYPE.DNAME, octets(label(63))), `${'a'.repeat(63)}.`);
  assert.equal(wireToPresentation(TYPE.DNAME, octets(label(64))), undefined, 'a label of 64 octets');
  assert.equal(wireToPresentation(TYPE.DNAME, octets('0361')), undefined, 'a label past the end');
  assert.equal(wireToPresentation(TYPE.SPF, octets('')), undefined, 'SPF needs a string');
  assert.equal(wireToPresentation(TYPE.SPF, octets('0161 00')), '"a" ""');
  assert.equal(wireToPresentation(TYPE.A, octets('c0000201')), undefined, 'A is not a type of this module');
  assert.equal(wireToPresentation(TYPE.DS, octets('ec450501 ab')), '60485 5 1 AB');
  assert.equal(wireToPresentation(TYPE.DS, octets('ec4505')), undefined, 'a DS cut in its numbers');
});

/** The one error of a record, without its line prefix. */
const error = (typeAndText: string): string => {
  const p = parseZone(`x 3600 IN ${typeAndText}\n`, 'example.');
  const e = p.errors.map((x) => `line ${x.line}: ${x.message}`);
  assert.equal(e.length, 1, `${typeAndText}: ${e.join('; ')}`);
  assert.equal(p.records.length, 0, `${typeAndText}: a record besides the error`);
  return e[0]!.replace(/^line 1: x\.example\. \S+: /, '');
};

test('numbers at both edges of their range, in each width; field counts in the message', () => {
  assert.equal(hex(wire('DS 65535 255 255 00')), 'ffffffff00');
  assert.equal(hex(wire('DS 0 rsasha256 0 00')), '0000080000', 'algorithm mnemonics in any case');
  assert.equal(hex(wire('ZONEMD 4294967295 255 255 00')), 'ffffffffffff00');
  assert.equal(error('DS 1 256 1 00'), "algorithm '256' is not a number 0-255");
  assert.equal(error('DS 1 5 256 00'), "digest type '256' is not a number 0-255");
  assert.equal(error('ZONEMD 4294967296 1 1 00'), "serial '4294967296' is not a number 0-4294967295");
  assert.equal(error('ZONEMD 04294967295 1 1 00'), "serial '04294967295' is not a number 0-4294967295", 'eleven digits');
  assert.equal(error('NID 65536 1:2:3:4'), "preference '65536' is not a number 0-65535");
  assert.equal(error('DS -1 5 1 00'), "key tag '-1' is not a number 0-65535");
  assert.equal(error('HINFO "one"'), 'expected "CPU" "OS", got 1 field');
  assert.equal(error('HINFO a b c'), 'expected "CPU" "OS", got 3 fields');
  assert.equal(error('SPF'), 'expected one or more "strings", got 0 fields');
  assert.equal(error('OPENPGPKEY ""'), 'the key is not base64', 'an empty key');
  assert.equal(error('NSEC3PARAM 256 0 0 -'), "hash algorithm '256' is not a number 0-255");
});

test('character-strings: \\DDD up to 255, UTF-8 for characters past 0x7f (a pair of surrogates is one character), at most 255 octets', () => {
  assert.equal(hex(wire('HINFO "\\255\\a" "é😀𐀀"')), '02ff61' + '0ac3a9f09f9880f0908080');
  assert.equal(error('HINFO "\\256" "x"'), "'\\256' is not a character-string (at most 255 octets; \\DDD at most 255)");
  assert.equal(hex(wire(`HINFO "${'x'.repeat(255)}" ""`)), `ff${'78'.repeat(255)}00`);
  assert.equal(error('URI 1 1 "\\256"'), 'the URI target is a non-empty quoted string');
  // RDATA of exactly 65535 octets, and one more (255 strings of 255 octets and one of 254: 255 * 256 + 255).
  const s255 = `"${'x'.repeat(255)}" `.repeat(255);
  assert.equal(wire(`SPF ${s255}"${'x'.repeat(254)}"`).length, 65535);
  assert.equal(error(`SPF ${s255}"${'x'.repeat(255)}"`), 'RDATA is over 65535 octets');
});

test('RRSIG times: YYYYMMDDHHmmSS with each field at its edges, or seconds', () => {
  const rrsig = (exp: string, inc = '20260101000000') => `RRSIG A 5 3 86400 ${exp} ${inc} 2642 a. AQID`;
  assert.equal(
    hex(wire(rrsig('20261231235960'))).slice(16, 32),
    '6b36ec806955b900',
    'the last second of 2026 and a leap second, the first of 2026',
  );
  assert.equal(hex(wire(rrsig('1700000000', '0'))).slice(16, 32), '6553f10000000000', 'seconds');
  assert.equal(wireToPresentation(TYPE.RRSIG, wire(rrsig('1700000000'))), 'A 5 3 86400 20231114221320 20260101000000 2642 a. AQID');
  for (const bad of [
    '20260001000000',
    '20261301000000',
    '20260100000000',
    '20260132000000',
    '20260101240000',
    '20260101006000',
    '20260101000061',
    '4294967296',
  ]) {
    assert.equal(error(rrsig(bad)), `'${bad}' is not a time (YYYYMMDDHHmmSS, UTC)`, bad);
    assert.equal(error(rrsig('20260101000000', bad)), `'${bad}' is not a time (YYYYMMDDHHmmSS, UTC)`, `inception ${bad}`);
  }
  assert.equal(error('RRSIG NOTATYPE 5 3 86400 0 0 2642 a. AQID'), "'NOTATYPE' is not a type name");
  assert.equal(error('RRSIG A 5 3 86400 0 0 65536 a. AQID'), "key tag '65536' is not a number 0-65535");
});

test('LOC at its edges: 90 degrees of latitude and 180 of longitude, 59.999 seconds, the altitude and size bounds', () => {
  const shape = 'LOC is D [M [S]] N|S D [M [S]] E|W ALT[m] [SIZE[m] [HP[m] [VP[m]]]] (RFC 1876)';
  const metres = `LOC altitude and sizes are metres (altitude -100000.00 to 42849672.95, sizes 0 to 90000000.00): ${shape.slice(7)}`;
  assert.equal(hex(wire('LOC 90 N 180 E 0')), `00121613 934fd900 a69fb200 00989680`.replace(/ /g, ''));
  assert.equal(hex(wire('LOC 90 s 180 w 0')).slice(16, 24), '59604e00', '180 W, hemispheres in any case');
  assert.equal(hex(wire('LOC 42 21 59.999 N 0 E 0')).slice(8, 16), '8917453f');
  for (const bad of [
    'LOC 90 0 0.001 N 0 E 0',
    'LOC 0 N 180 0 0.001 E 0',
    'LOC 181 N 0 E 0',
    'LOC 0 N 181 E 0',
    'LOC 1 0 60 N 0 E 0',
    'LOC 1 0 -1 N 0 E 0',
    'LOC 1 0 1.0001 N 0 E 0',
    'LOC N 0 E 0',
    'LOC 1 2 3 4 N 0 E 0',
    'LOC 1 NS 0 E 0',
    'LOC 1 N 0 E',
  ]) {
    assert.equal(errors(bad).length, 1, bad);
  }
  assert.equal(error('LOC 1 NS 0 E 0'), shape);
  assert.equal(error('LOC 1 N 0 E'), metres);
  assert.equal(hex(wire('LOC 0 N 0 E -100000m 90000000M 0 0.01m')), '00990010800000008000000000000000');
  assert.equal(hex(wire('LOC 0 N 0 E 42849672.95')).slice(24), 'ffffffff');
  assert.equal(hex(wire('LOC 0 N 0 E 0 1.5 9 99')).slice(2, 8), '129293', 'sizes truncated to one digit and a power of ten');
  for (const bad of ['-100000.01m', '42849672.96', '0 90000000.01', '0 -1', '0.001', '0 1 1 1.001']) {
    assert.equal(error(`LOC 0 N 0 E ${bad}`), metres, bad);
  }
});

test('SvcParams in zone text: keys by name in any case or as keyNNNNN, key= then a quoted value, each value at its bounds', () => {
  const params = (text: string) => hex(wire(`SVCB 1 . ${text}`)).slice(6);
  assert.equal(params('alpn= "h2,h3"'), params('alpn=h2,h3'));
  assert.equal(params('alpn=h2,h3'), '0001 0006 026832 026833'.replace(/ /g, ''));
  assert.equal(params('PORT=53'), '000300020035');
  assert.equal(params('key3=53'), '000300020035');
  assert.equal(params('port=65535'), '00030002ffff');
  assert.equal(params('key123'), '007b0000', 'a key of its own without a value');
  assert.equal(params('key65534=a'), 'fffe000161');
  assert.equal(params('ech=AQID'), '00050003010203');
  assert.equal(params('ipv4hint=1.2.3.4,5.6.7.8'), '0004000801020304' + '05060708');
  assert.equal(params('mandatory=port,alpn alpn=h2 port=1'), '0000000400010003' + '00010003026832' + '000300020001');
  assert.equal(params(`alpn=${'a'.repeat(255)}`), `00010100ff${'61'.repeat(255)}`);
  assert.equal(error(`SVCB 1 . alpn=${'a'.repeat(256)}`), 'an alpn id is at most 255 octets');
  assert.equal(error('SVCB 1 . alpn=h2,,h3'), "alpn 'h2,,h3' is a comma-separated list of protocol ids");
  assert.equal(error('SVCB 1 . alpn=h2,'), "alpn 'h2,' is a comma-separated list of protocol ids");
  assert.equal(error('SVCB 1 . key1="\\256"'), "key1's value has a \\DDD over 255");
  assert.equal(error('SVCB 1 . port='), 'SvcParam port needs a value');
  assert.equal(
    error('SVCB 1 . key65536=x'),
    "unknown SvcParam key 'key65536'; use mandatory, alpn, no-default-alpn, port, ipv4hint, ech, ipv6hint or keyNNNNN",
  );
  assert.equal(error('SVCB 1 . mandatory=port'), 'mandatory lists port, which the record does not have (RFC 9460 §8)');
  assert.equal(error('SVCB 1 . mandatory=alpn,port alpn=h2'), 'mandatory lists port, which the record does not have (RFC 9460 §8)');
  assert.match(error('SVCB 1 . key9=a "b"'), /^unknown SvcParam key 'b'/, 'a quoted value only after key=');
  assert.equal(error('SVCB 1 . port=1 port=2'), 'SvcParam port appears twice');
  assert.equal(error('SVCB 65536 .'), "priority '65536' is not a number 0-65535");
  assert.equal(error('SVCB 1 . ech='), 'SvcParam ech needs a value');
  assert.equal(params('key9=""'), '00090000', 'a key of its own with an empty value');
  // A value of 65,535 octets fits its length field; the record is then too long. One more octet is refused by the key.
  assert.equal(error(`SVCB 1 . key9="${'x'.repeat(65535)}"`), 'RDATA is over 65535 octets');
  assert.equal(error(`SVCB 1 . key9="${'x'.repeat(65536)}"`), 'SvcParam key9 is over 65535 octets');
});

test('EUIs, ILNP locators, type bitmaps, NSEC3 hashes and salts at their bounds', () => {
  assert.equal(hex(wire('EUI48 0A-0b-5E-00-53-2A')), '0a0b5e00532a');
  for (const bad of ['0a-0b-5e-00-53-2g', '000-0b-5e-00-53-2a', '0a-0b-5e-00-53-2a-00']) {
    assert.equal(error(`EUI48 ${bad}`), "expected 6 hex octets separated by '-', like 0a-0a-0a-0a-0a-0a", bad);
  }
  assert.equal(hex(wire('NID 10 1:2:3:fFfF')), '000a000100020003ffff');
  for (const bad of ['1:2:3:12345', '1:2:3:', '1:2:3:4:5']) {
    assert.equal(error(`NID 10 ${bad}`), "expected four groups of hex separated by ':', like 2001:db8:1:2", bad);
  }
  assert.equal(hex(wire('NSEC a. MX A A')), hex(wire('NSEC a. A MX')), 'types sorted, each once');
  assert.equal(hex(wire('NSEC a.')), '016100', 'no types');
  assert.equal(hex(wire('NSEC a. TYPE65535')), '016100ff20' + '00'.repeat(31) + '01');
  const next = (s: string) => `NSEC3 1 0 1 - ${s} A`;
  assert.equal(hex(wire(next('V'.repeat(408)))).slice(10, 16), 'ffffff', '255 octets');
  assert.equal(wire(next('V'.repeat(408))).length, 5 + 1 + 255 + 3);
  assert.equal(error(next('V'.repeat(416))), 'NSEC3 needs a next hashed owner (base32hex)', '260 octets');
  assert.equal(error(next('""')), 'NSEC3 needs a next hashed owner (base32hex)');
  assert.equal(error(next('0')), 'NSEC3 needs a next hashed owner (base32hex)', 'five bits are no octet');
  assert.equal(hex(wire(next('vv'))).slice(10, 14), '01ff', 'lower case, the last bits dropped');
  assert.equal(hex(wire(`NSEC3PARAM 1 0 0 ${'ab'.repeat(255)}`)).slice(8, 12), 'ffab');
  assert.equal(error(`NSEC3PARAM 1 0 0 ${'ab'.repeat(256)}`), "the salt is hex (at most 255 octets), or '-' for none");
  assert.equal(error('NSEC3PARAM 1 0 65536 -'), "iterations '65536' is not a number 0-65535");
});

test('character-strings written back: printable ASCII as is, " and \\ escaped, the rest as \\DDD; a long bad string quoted by its first 40 characters', () => {
  assert.equal(wireToPresentation(TYPE.HINFO, octets('06 1f207e7f225c 01ff')), '"\\031 ~\\127\\"\\\\" "\\255"');
  assert.equal(
    error(`HINFO "${'y'.repeat(41)}${'x'.repeat(256)}" "os"`),
    `'${'y'.repeat(40)}' is not a character-string (at most 255 octets; \\DDD at most 255)`,
  );
});

test('each type: the messages name its shape and the field that is wrong', () => {
  const cases: [string, string][] = [
    ['MB', 'expected a mailbox host name, got 0 fields'],
    ['MG', 'expected a mailbox name, got 0 fields'],
    ['MR a. b.', 'expected a mailbox name, got 2 fields'],
    ['MINFO a.', 'expected RMAILBX EMAILBX, got 1 field'],
    ['AFSDB 1', 'expected SUBTYPE HOSTNAME, got 1 field'],
    ['AFSDB x a.', "preference 'x' is not a number 0-65535"],
    ['LP 1', 'expected PREFERENCE FQDN, got 1 field'],
    ['NID 1', 'expected PREFERENCE VALUE, got 1 field'],
    ['EUI48', 'expected an EUI-48 address, got 0 fields'],
    ['EUI64', 'expected an EUI-64 address, got 0 fields'],
    ['ZONEMD 1 1 1', 'expected SERIAL SCHEME HASH-ALGORITHM DIGEST, got 3 fields'],
    ['ZONEMD 1 256 1 00', "scheme '256' is not a number 0-255"],
    ['ZONEMD 1 1 256 00', "hash algorithm '256' is not a number 0-255"],
    ['ZONEMD 1 1 1 0g', 'the digest is not hexadecimal (pairs of 0-9a-f)'],
    ['NSEC', 'expected NEXT-NAME TYPE..., got 0 fields'],
    ['CSYNC 1', 'expected SOA-SERIAL FLAGS TYPE..., got 1 field'],
    ['CSYNC x 1', "SOA serial 'x' is not a number 0-4294967295"],
    ['CSYNC 1 65536', "flags '65536' is not a number 0-65535"],
    ['RRSIG A 5 3', 'expected TYPE ALGORITHM LABELS ORIGINAL-TTL EXPIRATION INCEPTION KEY-TAG SIGNER SIGNATURE, got 3 fields'],
    ['RRSIG A 256 3 1 0 0 1 a. AQID', "algorithm '256' is not a number 0-255"],
    ['RRSIG A 5 256 1 0 0 1 a. AQID', "labels '256' is not a number 0-255"],
    ['RRSIG A 5 3 4294967296 0 0 1 a. AQID', "original TTL '4294967296' is not a number 0-4294967295"],
    ['RRSIG A 5 3 1 0 0 1 a. !!!!', 'the signature is not base64'],
    ['RRSIG A 5 3 1 0 0 1 a. ""', 'the signature is not base64'],
    ['DNSKEY 256 3 8 ""', 'the public key is not base64'],
    ['RRSIG A 5 3 1 120260101000000 0 1 a. AQID', "'120260101000000' is not a time (YYYYMMDDHHmmSS, UTC)"],
    ['RRSIG A 5 3 1 202601010000001 0 1 a. AQID', "'202601010000001' is not a time (YYYYMMDDHHmmSS, UTC)"],
    ['NSEC3PARAM 1 0 0', 'expected ALGORITHM FLAGS ITERATIONS SALT, got 3 fields'],
    ['NSEC3PARAM 1 256 0 -', "flags '256' is not a number 0-255"],
    ['NSEC3 1 1 12 -', 'NSEC3 needs a next hashed owner (base32hex)'],
    ['DS 1 5 1', 'expected KEY-TAG ALGORITHM DIGEST-TYPE DIGEST, got 3 fields'],
    ['TLSA 0 0 0', 'expected USAGE SELECTOR MATCHING-TYPE DATA, got 3 fields'],
    ['TLSA 256 0 0 00', "usage '256' is not a number 0-255"],
    ['TLSA 0 256 0 00', "selector '256' is not a number 0-255"],
    ['TLSA 0 0 256 00', "matching type '256' is not a number 0-255"],
    ['TLSA 0 0 0 0g', 'the association data is not hexadecimal (pairs of 0-9a-f)'],
    ['DNSKEY 1 1 1', 'expected FLAGS PROTOCOL ALGORITHM KEY, got 3 fields'],
    ['DNSKEY 65536 3 8 AQID', "flags '65536' is not a number 0-65535"],
    ['DNSKEY 256 256 8 AQID', "protocol '256' is not a number 0-255"],
    ['DNSKEY 256 3 8 !!!!', 'the public key is not base64'],
    ['OPENPGPKEY', 'expected a base64 key, got 0 fields'],
    ['SSHFP 256 1 00', "key algorithm '256' is not a number 0-255"],
    ['SSHFP 1 256 00', "fingerprint type '256' is not a number 0-255"],
    ['SSHFP 1 1 0g', 'the fingerprint is not hexadecimal (pairs of 0-9a-f)'],
    ['NAPTR 65536 1 "" "" "" .', "order '65536' is not a number 0-65535"],
    ['NAPTR 1 65536 "" "" "" .', "preference '65536' is not a number 0-65535"],
    ['RP a.', 'expected MBOX-DNAME TXT-DNAME, got 1 field'],
    ['URI 1 1', 'expected PRIORITY WEIGHT "TARGET", got 2 fields'],
    ['URI 65536 1 "x"', "priority '65536' is not a number 0-65535"],
    ['URI 1 65536 "x"', "weight '65536' is not a number 0-65535"],
    ['SVCB 1 . =x', "unknown SvcParam key ''; use mandatory, alpn, no-default-alpn, port, ipv4hint, ech, ipv6hint or keyNNNNN"],
    ['SVCB 1 . xkey3=1', "unknown SvcParam key 'xkey3'; use mandatory, alpn, no-default-alpn, port, ipv4hint, ech, ipv6hint or keyNNNNN"],
    ['SVCB 1 . key3x=1', "unknown SvcParam key 'key3x'; use mandatory, alpn, no-default-alpn, port, ipv4hint, ech, ipv6hint or keyNNNNN"],
    ['SVCB 1 . mandatory=frob', "'frob' is not a SvcParam key other than mandatory"],
    [`SVCB 1 . alpn=h2,${'a'.repeat(256)}`, 'an alpn id is at most 255 octets'],
  ];
  for (const [text, want] of cases) assert.equal(error(text), want, text);
  assert.equal(error('SVCB 1 a..b.'), "line 1: 'a..b.' is not a valid domain name (labels of 1-63 octets, 255 in all)");
  const metres = /^LOC altitude and sizes are metres/;
  for (const alt of ['x5', '5x', '1m0']) assert.match(error(`LOC 0 N 0 E ${alt}`), metres, alt);
});

test('character-strings at their odd edges: a backslash at the very end, U+0080, a lone low surrogate; LOC text at 0; octets after the RDATA', () => {
  const p = parseZone('x IN HINFO b "a\\', 'example.');
  assert.deepEqual(
    p.errors.map((e) => e.message),
    ['a quoted string is not closed'],
  );
  assert.equal(p.records[0]?.data.kind === 'raw' && hex(p.records[0].data.bytes), '016202615c');
  assert.equal(hex(wire('HINFO "\u0080" "\udc00x"')), '02c280' + '04efbfbd78');
  assert.equal(hex(wire('NSEC a. TYPE256 A')), '016100' + '000140' + '010180', 'windows in order whatever order the types are written');
  assert.equal(hex(wire('SVCB 1 . alpn="h2\\\\"')), '000100' + '0001000403' + '68325c', 'an alpn id ending in a backslash');
  assert.equal(wireToPresentation(TYPE.LOC, wire('LOC 0 N 0 E 0')), '0 0 0.000 N 0 0 0.000 E 0.00m 1.00m 10000.00m 10.00m');
  assert.equal(wireToPresentation(TYPE.DNAME, octets('016100 ff')), undefined, 'an octet after the name');
});
