/**
 * A self-signed development certificate (ECDSA P-256, SHA-256, one year,
 * SAN localhost/127.0.0.1/::1/10.0.0.2) for services that serve TLS and were
 * given no certificate. node:crypto makes the key and the signature; the
 * X.509 structure (RFC 5280) is a few DER sequences written here, because
 * Node has no certificate-writing API and a dependency for 60 lines of
 * DER would be a bigger surface than the code.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function len(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v >>= 8) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}
const tlv = (tag: number, ...parts: (Uint8Array | number[])[]): Uint8Array => {
  const body = Buffer.concat(parts.map((p) => Buffer.from(p)));
  return Buffer.concat([Buffer.from([tag, ...len(body.length)]), body]);
};
const seq = (...p: (Uint8Array | number[])[]): Uint8Array => tlv(0x30, ...p);
function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const out = [a * 40 + b];
  for (const v of rest) {
    const enc: number[] = [v & 0x7f];
    for (let x = v >>> 7; x > 0; x >>>= 7) enc.unshift(0x80 | (x & 0x7f));
    out.push(...enc);
  }
  return tlv(0x06, out);
}
const utf8 = (s: string): Uint8Array => tlv(0x0c, Buffer.from(s, 'utf8'));
function time(d: Date): Uint8Array {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z'; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2), 'ascii')) : tlv(0x18, Buffer.from(iso, 'ascii'));
}

export interface DevCert { readonly cert: string; readonly key: string }

export function makeDevCert(now = new Date(), days = 365): DevCert {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const ecdsaSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const name = seq(tlv(0x31, seq(oid('2.5.4.3'), utf8('Fata development certificate'))));
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const san = seq(
    tlv(0x82, Buffer.from('localhost')),
    tlv(0x87, [127, 0, 0, 1]), tlv(0x87, [10, 0, 0, 2]), tlv(0x87, [...new Array<number>(15).fill(0), 1]),
  );
  const extensions = tlv(0xa3, seq(
    seq(oid('2.5.29.17'), tlv(0x04, san)),
    seq(oid('2.5.29.19'), tlv(0x01, [0xff]), tlv(0x04, seq())), // basicConstraints, critical, CA:FALSE
  ));
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + days * 86400_000);
  const tbs = seq(tlv(0xa0, tlv(0x02, [2])), tlv(0x02, serial), ecdsaSha256, name, seq(time(notBefore), time(notAfter)), name, spki, extensions);
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
  const certFile = join(at, 'cert.pem'), keyFile = join(at, 'key.pem');
  if (existsSync(certFile) && existsSync(keyFile)) {
    const cert = readFileSync(certFile, 'utf8'), key = readFileSync(keyFile, 'utf8');
    try {
      const x = new X509Certificate(cert);
      createPrivateKey(key);
      if (Date.parse(x.validTo) - Date.now() > 30 * 86400_000) return { cert, key };
    } catch { /* unreadable: make a new one */ }
  }
  const c = makeDevCert();
  mkdirSync(at, { recursive: true });
  writeFileSync(certFile, c.cert);
  writeFileSync(keyFile, c.key, { mode: 0o600 });
  say?.(`build: made a self-signed development certificate in ${at} (give tls/cert.pem and tls/key.pem for a real one)`);
  return c;
}
