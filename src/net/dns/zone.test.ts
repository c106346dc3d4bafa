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
  for (const bad of ['4294967296', '12345678901', '1x', 'x1', '-1']) {
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
