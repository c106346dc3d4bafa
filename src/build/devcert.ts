/**
 * A self-signed development certificate (ECDSA P-256, SHA-256, one year,
 * SAN localhost/127.0.0.1/::1/10.0.0.2) for services that serve TLS and were
 * given no certificate. node:crypto makes the key and the signature; the
 * X.509 structure (RFC 5280) is a few DER sequences written here, because
 * Node has no certificate-writing API and a dependency for 60 lines of
 * DER would be a bigger surface than the code.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A DER length: short form below 128, else the long form with no leading zero octets. */
function len(n: number): number[] {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`DER length ${n}`);
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256);
  return [0x80 | out.length, ...out];
}
const tlv = (tag: number, ...parts: (Uint8Array | number[])[]): Uint8Array => {
  const body = Buffer.concat(parts.map((p) => Buffer.from(p)));
  return Buffer.concat([Buffer.from([tag, ...len(body.length)]), body]);
};
const seq = (...p: (Uint8Array | number[])[]): Uint8Array => tlv(0x30, ...p);

/**
 * The DER INTEGER of a non-negative number given as its big-endian magnitude: minimal (leading zero
 * octets removed), a 0x00 in front when the top bit is set so that it stays positive, never empty
 * (zero is one 0x00). Minimal is what DER requires: OpenSSL refuses a serial written as 00 7f ... with
 * "illegal padding".
 */
export function derUnsignedInteger(magnitude: Uint8Array | number[]): Uint8Array {
  return tlv(0x02, integerOctets(magnitude));
}
/** The content octets of derUnsignedInteger. */
function integerOctets(magnitude: Uint8Array | number[]): number[] {
  const b = [...magnitude];
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  const body = b.slice(i);
  if (body.length === 0 || body[0]! & 0x80) body.unshift(0);
  return body;
}

/** A base-128 subidentifier of an OBJECT IDENTIFIER: high groups first, continuation bit on all but the last. */
function base128(v: number): number[] {
  const enc: number[] = [v % 128];
  for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) enc.unshift(0x80 | (x % 128));
  return enc;
}
function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  return tlv(0x06, [...base128(a * 40 + b), ...rest.flatMap(base128)]);
}
const utf8 = (s: string): Uint8Array => tlv(0x0c, Buffer.from(s, 'utf8'));

/** RFC 5280 4.1.2.5: UTCTime (YYMMDDHHMMSSZ) for 1950 to 2049, GeneralizedTime (YYYYMMDDHHMMSSZ) otherwise; whole seconds. */
function time(d: Date): Uint8Array {
  const year = d.getUTCFullYear();
  if (!(year >= 0 && year <= 9999)) throw new RangeError(`a certificate time must be in the years 0 to 9999, not ${String(d)}`);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const rest = `${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  return year >= 1950 && year < 2050
    ? tlv(0x17, Buffer.from(p2(year % 100) + rest, 'ascii'))
    : tlv(0x18, Buffer.from(String(year).padStart(4, '0') + rest, 'ascii'));
}

export interface DevCert {
  readonly cert: string;
  readonly key: string;
}

export interface DevCertOptions {
  /**
   * The serial number as a big-endian magnitude, not zero, at most 20 octets once encoded (RFC 5280
   * 4.1.2.2); 16 random bytes when not given.
   */
  readonly serial?: Uint8Array;
  /** The key pair (EC P-256) to certify; a new one when not given. */
  readonly keys?: { readonly privateKey: KeyObject; readonly publicKey: KeyObject };
}

/** 16 random bytes, not all zero (the serial must be positive). */
function randomSerial(): Uint8Array {
  for (;;) {
    const b = randomBytes(16);
    if (b.some((x) => x !== 0)) return b;
  }
}

export function makeDevCert(now = new Date(), days = 365, opts: DevCertOptions = {}): DevCert {
  const { privateKey, publicKey } = opts.keys ?? generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ecdsaSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(tlv(0x31, seq(oid('2.5.4.3'), utf8('Fata development certificate'))));
  const serialBytes = opts.serial ?? randomSerial();
  if (serialBytes.every((b) => b === 0)) throw new RangeError('a certificate serial number must be positive, not zero');
  const serialOctets = integerOctets(serialBytes);
  if (serialOctets.length > 20) throw new RangeError(`a certificate serial number is at most 20 octets, not ${serialOctets.length}`);
  const serial = tlv(0x02, serialOctets);
  const san = seq(
    tlv(0x82, Buffer.from('localhost')),
    tlv(0x87, [127, 0, 0, 1]),
    tlv(0x87, [10, 0, 0, 2]),
    tlv(0x87, [...new Array<number>(15).fill(0), 1]),
  );
  const extensions = tlv(
    0xa3,
    seq(
      seq(oid('2.5.29.17'), tlv(0x04, san)),
      seq(oid('2.5.29.19'), tlv(0x01, [0xff]), tlv(0x04, seq())), // basicConstraints, critical, CA:FALSE
    ),
  );
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + days * 86400_000);
  const tbs = seq(
    tlv(0xa0, derUnsignedInteger([2])),
    serial,
    ecdsaSha256,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    spki,
    extensions,
  );
  const sig = sign('sha256', tbs, privateKey);
  const der = seq(tbs, ecdsaSha256, tlv(0x03, [0], sig));
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  const cert = `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  new X509Certificate(cert); // Refuse to write what OpenSSL cannot read.
  return { cert, key };
}

/**
 * The development certificate of a service folder, kept in `DIR/.fata/dev-tls/` so that rebuilding
 * gives the same image; replaced when it is within 30 days of expiring.
 */
export function devCertFor(dir: string, say?: (line: string) => void): DevCert {
  const at = join(dir, '.fata', 'dev-tls');
  const certFile = join(at, 'cert.pem'),
    keyFile = join(at, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = readFileSync(certFile, 'utf8'),
      key = readFileSync(keyFile, 'utf8');
    try {
      const x = new X509Certificate(cert);
      createPrivateKey(key);
      if (Date.parse(x.validTo) - Date.now() > 30 * 86400_000) return { cert, key };
    } catch {
      /* unreadable: make a new one */
    }
  }
  const c = makeDevCert();
  mkdirSync(at, { recursive: true });
  writeFileSync(certFile, c.cert);
  writeFileSync(keyFile, c.key, { mode: 0o600 });
  say?.(`build: made a self-signed development certificate in ${at} (give tls/cert.pem and tls/key.pem for a real one)`);
  return c;
}
