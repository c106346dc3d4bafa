/**
 * The hand-written development certificate is DER that OpenSSL accepts for
 * any serial and validity: every INTEGER minimal and positive, every length
 * minimal, UTCTime and GeneralizedTime where RFC 5280 wants them. A serial
 * whose first random byte was zero used to be written with a leading 0x00
 * octet and about one build in 500 failed with "illegal padding".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { derUnsignedInteger, makeDevCert } from './devcert.ts';

/** fast-check's seed for this file: FC_SEED to replay a failure (fast-check also prints it with a counterexample). */
const SEED = Number(process.env.FC_SEED ?? 20261130);
process.stdout.write(`# fast-check seed ${SEED} (FC_SEED=${SEED} to replay)\n`);

const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
const noOpenssl = spawnSync('sh', ['-c', 'command -v openssl']).status !== 0 ? 'needs openssl (apt-get install openssl)' : undefined;

interface Tlv {
  tag: number;
  header: number[];
  body: Buffer;
  children?: Tlv[];
}

/**
 * Reads one DER element at `at` strictly: a length must be in its shortest form. Throws on BER
 * leniencies and overruns; returns the element and where the next one starts.
 */
function readTlv(b: Buffer, at: number): { t: Tlv; next: number } {
  const tag = b[at]!;
  assert.notEqual(tag & 0x1f, 0x1f, 'no high tag numbers here');
  let i = at + 1;
  const first = b[i++]!;
  let n = first;
  if (first & 0x80) {
    const k = first & 0x7f;
    assert.ok(k >= 1 && k <= 4, `length of ${k} octets at ${at}`);
    assert.notEqual(b[i], 0, `length with a leading zero octet at ${at}`);
    n = 0;
    for (let j = 0; j < k; j++) n = n * 256 + b[i++]!;
    assert.ok(n >= 0x80, `long-form length ${n} that fits the short form at ${at}`);
  }
  assert.ok(i + n <= b.length, `element at ${at} overruns its container`);
  const t: Tlv = { tag, header: [...b.subarray(at, i)], body: b.subarray(i, i + n) };
  return { t, next: i + n };
}

function readAll(body: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < body.length; ) {
    const { t, next } = readTlv(body, at);
    out.push(t);
    at = next;
  }
  return out;
}

/**
 * Walks a DER tree and checks each element: constructed ones recursively, INTEGERs minimal and
 * (these are serials, versions and ECDSA r and s) positive, BOOLEANs 00 or FF, BIT STRINGs with
 * 0 unused bits. OCTET and BIT STRINGs that hold a SEQUENCE (extension values, the signature) are
 * walked too. Returns every INTEGER's content octets in order.
 */
function checkDer(t: Tlv, ints: Buffer[] = []): Buffer[] {
  const { tag, body } = t;
  if (tag & 0x20) {
    for (const c of readAll(body)) checkDer(c, ints);
  } else if (tag === 0x02) {
    assert.ok(body.length >= 1, 'an INTEGER is never empty');
    if (body.length > 1) {
      assert.ok(!(body[0] === 0x00 && !(body[1]! & 0x80)), `INTEGER ${body.toString('hex')} has a needless leading 00`);
      assert.ok(!(body[0] === 0xff && body[1]! & 0x80), `INTEGER ${body.toString('hex')} has a needless leading ff`);
    }
    assert.equal(body[0]! & 0x80, 0, `INTEGER ${body.toString('hex')} is negative`);
    ints.push(body);
  } else if (tag === 0x01) {
    assert.ok(body.length === 1 && (body[0] === 0 || body[0] === 0xff), `BOOLEAN ${body.toString('hex')}`);
  } else if (tag === 0x03 || tag === 0x04) {
    const inner = tag === 0x03 ? body.subarray(1) : body;
    if (tag === 0x03) assert.equal(body[0], 0, 'BIT STRING with unused bits');
    if (inner[0] === 0x30) {
      const nested = readAll(inner);
      for (const c of nested) checkDer(c, ints);
    }
  }
  return ints;
}

/** The serial number's hex as node:crypto reports it: the magnitude without leading zero octets, uppercase. */
function serialHex(serial: Uint8Array): string {
  const hex = Buffer.from(serial)
    .toString('hex')
    .replace(/^(00)+/, '')
    .toUpperCase();
  return hex === '' ? '00' : hex;
}

/** Everything checked of one certificate: node:crypto reads it, the key and self-signature match, the DER is strict. */
function check(cert: string, key: string, want: { serial: Uint8Array; notBefore: Date; notAfter: Date }): X509Certificate {
  const x = new X509Certificate(cert);
  assert.ok(x.publicKey.export({ type: 'spki', format: 'der' }).equals(spki), 'the certified key is the key');
  assert.ok(x.verify(keys.publicKey), 'self-signature verifies');
  assert.ok(x.checkPrivateKey(keys.privateKey), 'the private key matches');
  assert.equal(key, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  assert.equal(x.serialNumber, serialHex(want.serial));
  const sec = (d: Date): number => Math.floor(d.getTime() / 1000) * 1000;
  assert.equal(x.validFromDate.getTime(), sec(want.notBefore), `notBefore ${want.notBefore.toISOString()}`);
  assert.equal(x.validToDate.getTime(), sec(want.notAfter), `notAfter ${want.notAfter.toISOString()}`);
  assert.ok(x.subject.includes('CN=Fata development certificate'));
  assert.match(x.subjectAltName ?? '', /DNS:localhost, IP Address:127\.0\.0\.1, IP Address:10\.0\.0\.2, IP Address:0:0:0:0:0:0:0:1/i);

  // The DER itself, strictly: OpenSSL forgives some of what DER forbids.
  const der = x.raw;
  const { t: top, next } = readTlv(der, 0);
  assert.equal(next, der.length, 'nothing after the certificate');
  const ints = checkDer(top);
  // version (2 = v3), the serial, then the signature's r and s.
  assert.equal(ints.length, 4, `INTEGERs: ${ints.map((i) => i.toString('hex')).join(' ')}`);
  assert.equal(ints[0]!.toString('hex'), '02');
  assert.equal(ints[1]!.toString('hex').replace(/^00/, '').toUpperCase(), serialHex(want.serial), 'the serial as written');
  // UTCTime for 1950-2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5).
  const validity = readAll(readAll(readAll(top.body)[0]!.body)[4]!.body);
  for (const [i, d] of [want.notBefore, want.notAfter].entries()) {
    const y = d.getUTCFullYear();
    assert.equal(validity[i]!.tag, y >= 1950 && y < 2050 ? 0x17 : 0x18, `time tag for year ${y}`);
  }
  return x;
}

/** `openssl x509 -text` reads it, and `openssl verify` with itself as the only CA, at a moment inside its validity, accepts it. */
function opensslAccepts(cert: string, notBefore: Date, notAfter: Date, dir: string): void {
  const text = spawnSync('openssl', ['x509', '-noout', '-text'], { input: cert, encoding: 'utf8' });
  assert.equal(text.status, 0, `openssl x509: ${text.stderr}`);
  assert.match(text.stdout, /Subject: CN ?= ?Fata development certificate/);
  const file = join(dir, 'cert.pem');
  writeFileSync(file, cert);
  const at = Math.floor((notBefore.getTime() + notAfter.getTime()) / 2 / 1000);
  const verify = spawnSync('openssl', ['verify', '-attime', String(at), '-CAfile', file, file], { encoding: 'utf8' });
  assert.equal(verify.status, 0, `openssl verify -attime ${at}: ${verify.stdout}${verify.stderr}`);
  assert.match(verify.stdout, /: OK$/m);
}

function build(serial: Uint8Array, now: Date, days: number): { cert: string; key: string; notBefore: Date; notAfter: Date } {
  const { cert, key } = makeDevCert(now, days, { serial, keys });
  return { cert, key, notBefore: new Date(now.getTime() - 3600_000), notAfter: new Date(now.getTime() + days * 86400_000) };
}

test('DER INTEGERs are minimal and positive, never empty', () => {
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  assert.equal(hex(derUnsignedInteger([])), '020100');
  assert.equal(hex(derUnsignedInteger([0])), '020100');
  assert.equal(hex(derUnsignedInteger([0, 0, 0])), '020100');
  assert.equal(hex(derUnsignedInteger([2])), '020102');
  assert.equal(hex(derUnsignedInteger([0x7f])), '02017f');
  assert.equal(hex(derUnsignedInteger([0x80])), '02020080');
  assert.equal(hex(derUnsignedInteger([0, 0, 0x7f, 1])), '02027f01');
  assert.equal(hex(derUnsignedInteger([0, 0x80, 1])), '0203008001');
  assert.equal(hex(derUnsignedInteger([0xff, 0xff])), '020300ffff');
  assert.equal(hex(derUnsignedInteger(new Uint8Array(200).fill(1))), '0281c8' + '01'.repeat(200));
});

test('serials 00 00 .., 00 80 .., 80 .., ff .. and others that need or lose a sign octet make valid certificates', {
  skip: noOpenssl,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-devcert-'));
  try {
    const tail = randomBytes(15);
    const serials = [
      [0x00, 0x00, ...tail],
      [0x00, 0x80, ...tail],
      [0x80, ...tail],
      [0xff, ...tail],
      [0x00, 0x7f, ...tail],
      [0x7f, ...tail],
      [0x00, 0x00, 0x00, 0x01],
      [0x01],
      [0x80],
      [0xff],
      new Array<number>(16).fill(0xff),
      [0, ...new Array<number>(16).fill(0xff)],
      new Array<number>(20).fill(0x7f),
      [0, 0, 0, ...new Array<number>(19).fill(0xff)], // 20 octets encoded: the most RFC 5280 allows
    ].map((s) => Uint8Array.from(s));
    const now = new Date();
    for (const serial of serials) {
      const c = build(serial, now, 365);
      const x = check(c.cert, c.key, { serial, ...c });
      opensslAccepts(c.cert, c.notBefore, c.notAfter, dir);
      // The same serial in openssl's words: colon-separated octets, or a decimal number when it fits in 64 bits.
      const text = spawnSync('openssl', ['x509', '-noout', '-serial'], { input: c.cert, encoding: 'utf8' }).stdout;
      assert.equal(text.trim(), `serial=${x.serialNumber}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a zero or over-long serial is refused, not written', () => {
  assert.throws(() => makeDevCert(new Date(), 365, { serial: Uint8Array.from([0, 0]), keys }), /serial number must be positive/);
  assert.throws(() => makeDevCert(new Date(), 365, { serial: new Uint8Array(0), keys }), /serial number must be positive/);
  assert.throws(() => makeDevCert(new Date(), 365, { serial: new Uint8Array(20).fill(0x80), keys }), /at most 20 octets, not 21/);
  assert.throws(() => makeDevCert(new Date(), 365, { serial: new Uint8Array(21).fill(1), keys }), /at most 20 octets, not 21/);
});

test('the default: a fresh key and a random 16-byte serial, 365 days', () => {
  for (let i = 0; i < 20; i++) {
    const x = new X509Certificate(makeDevCert().cert);
    assert.ok(x.serialNumber.length >= 2 && x.serialNumber.length <= 32, x.serialNumber);
    assert.ok(Math.abs(x.validToDate.getTime() - Date.now() - 365 * 86400_000) < 60_000);
  }
});

test('property: 2000 certificates with arbitrary serials and validity parse, match their key and are strict DER; openssl accepts a sample', {
  skip: noOpenssl,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fata-devcert-'));
  // Serials: up to 4 leading zero octets before 1 to 19 random ones (so at most 20 octets with a sign
  // octet), or 16 random octets as a build draws them; not all zero.
  const serial = fc
    .oneof(
      fc
        .tuple(fc.integer({ min: 0, max: 4 }), fc.uint8Array({ minLength: 1, maxLength: 19 }))
        .map(([z, b]) => Uint8Array.from([...new Array<number>(z).fill(0), ...b])),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
    )
    .filter((s) => s.some((b) => b !== 0));
  // Validity from the 1900s to the 9000s, across 1950 and 2050 where the time type changes.
  const now = fc.oneof(
    fc.date({ min: new Date('1900-01-01T01:00:00Z'), max: new Date('9000-01-01T00:00:00Z'), noInvalidDate: true }),
    fc.date({ min: new Date('1949-12-01T00:00:00Z'), max: new Date('1950-02-01T00:00:00Z'), noInvalidDate: true }),
    fc.date({ min: new Date('2049-12-01T00:00:00Z'), max: new Date('2050-02-01T00:00:00Z'), noInvalidDate: true }),
    fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
  );
  const days = fc.oneof(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 36_500 }));
  let runs = 0,
    sampled = 0;
  try {
    fc.assert(
      fc.property(serial, now, days, (s, n, d) => {
        const c = build(s, n, d);
        check(c.cert, c.key, { serial: s, ...c });
        if (runs++ % 100 === 0) {
          opensslAccepts(c.cert, c.notBefore, c.notAfter, dir);
          sampled++;
        }
      }),
      { numRuns: 2000, seed: SEED },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(runs >= 2000, `${runs} certificates`);
  assert.ok(sampled >= 20, `${sampled} checked by openssl`);
});
