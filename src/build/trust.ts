/**
 * Signed images (docs/trust.md). `signImage` writes IMAGE.sig, a detached
 * CMS SignedData (RFC 5652, DER) over the image's bytes, as
 * `openssl cms -sign -binary -outform DER` does; `verifyImage` checks one
 * before anything runs: the signature, the chain to a trust anchor, the
 * validity dates now, the signer's key usage and extended key usage, and a
 * revocation list if given. CMS, certificates and CRLs are parsed and
 * written by PKI.js over asn1js; the keys and every signature check are
 * node:crypto's (its webcrypto is PKI.js's engine). PKI.js loads only when a
 * command needs it, so `fata run` without --trust does not pay for it.
 *
 * Every refusal is a FataError whose code names the reason, for the CLI and
 * for `fata run --trust`, which calls this before any engine starts.
 */
import { createHash, createPrivateKey, createPublicKey, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type * as Pkijs from 'pkijs';
import { FataError } from '../host/errors.ts';

export type Lib = { pkijs: typeof Pkijs; asn1js: typeof import('asn1js') };
let loaded: Lib | undefined;
/** PKI.js and asn1js, with node:crypto's webcrypto as the engine. */
export async function lib(): Promise<Lib> {
  if (loaded) return loaded;
  const [pkijs, asn1js] = await Promise.all([import('pkijs'), import('asn1js')]);
  pkijs.setEngine('node', new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as Pkijs.CryptoEngineParameters['crypto'] }));
  loaded = { pkijs, asn1js };
  return loaded;
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

/** The base64 bodies of the PEM blocks labelled `label` in `text`, decoded (PEM is text framing; the DER inside is the libraries'). */
export function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
}

/** Every certificate in a PEM file (or one DER certificate); refused with `code` when there is none or a file cannot be read. */
export function readCertificates(path: string, what: string, code = 'FATA_BAD_CERT'): X509Certificate[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new FataError(code, `cannot read ${what} '${path}' (${(e as NodeJS.ErrnoException).code ?? e}); give the path of a PEM file`);
  }
  const text = bytes.toString('latin1');
  const ders = text.includes('-----BEGIN') ? pemBlocks(text, 'CERTIFICATE') : [bytes];
  try {
    const certs = ders.map((d) => new X509Certificate(d));
    if (certs.length > 0) return certs;
  } catch {
    /* said below */
  }
  throw new FataError(code, `${what} '${path}' holds no readable X.509 certificate; give a PEM file (-----BEGIN CERTIFICATE-----)`);
}

/** A distinguished name on one line, as `CN=Signer, O=Example`. */
export const dn = (name: string): string => name.split('\n').reverse().join(', ');
const iso = (d: Date): string => d.toISOString().replace(/\.000Z$/, 'Z');

/** Who a certificate names, for messages: `CN=Signer (serial 1200)`. */
const who = (c: X509Certificate): string => `${dn(c.subject)} (serial ${c.serialNumber})`;

/** Whether `issuer` issued `c`: the names and key identifiers match and its key verifies `c`'s signature. */
function issued(c: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return c.checkIssued(issuer) && c.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * The path from `signer` to a trust anchor, through the certificates the signature carries: [signer, …, anchor].
 * A certificate in the trust file is an anchor whether or not it is self-signed (a trusted intermediate ends the path).
 */
export function chainTo(signer: X509Certificate, carried: X509Certificate[], anchors: X509Certificate[]): X509Certificate[] | undefined {
  const path = [signer];
  let cur = signer;
  for (let depth = 0; depth < 8; depth++) {
    if (anchors.some((a) => a.raw.equals(cur.raw))) return path;
    const anchor = anchors.find((a) => issued(cur, a));
    if (anchor) return [...path, anchor];
    const next = carried.find((c) => !path.includes(c) && c.ca && issued(cur, c));
    if (!next) return undefined;
    path.push(next);
    cur = next;
  }
  return undefined;
}

/** The signer's key usage and extended key usage, as PKI.js parses them: a reason it may not sign code, or undefined. */
function usageProblem(cert: Pkijs.Certificate): string | undefined {
  for (const ext of cert.extensions ?? []) {
    if (ext.extnID === OID.keyUsage) {
      const bits = (ext.parsedValue as { valueBlock?: { valueHexView?: Uint8Array } } | undefined)?.valueBlock?.valueHexView;
      if (!bits || !((bits[0] ?? 0) & 0x80)) return 'its key usage does not include digitalSignature';
    }
    if (ext.extnID === OID.extKeyUsage) {
      const purposes = (ext.parsedValue as { keyPurposes?: string[] } | undefined)?.keyPurposes ?? [];
      if (!purposes.includes(OID.codeSigning) && !purposes.includes(OID.anyExtendedKeyUsage))
        return `its extended key usage (${purposes.map((p) => PURPOSES[p] ?? p).join(', ') || 'empty'}) allows neither code signing nor any purpose`;
    }
  }
  return undefined;
}

/** Names of the extended key usages a refusal may list (RFC 5280 §4.2.1.12). */
const PURPOSES: Readonly<Record<string, string>> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
};

/** Refuses a certificate on `path` that is outside its validity at `now`, or an intermediate that is not a CA. */
function checkDates(path: X509Certificate[], now: Date): void {
  for (const [i, c] of path.entries()) {
    let role = 'intermediate';
    if (i === 0) role = 'signer';
    else if (i === path.length - 1) role = 'trust anchor';
    if (c.validToDate < now)
      throw new FataError(
        'FATA_SIGNER_EXPIRED',
        `the ${role} certificate ${who(c)} expired on ${iso(c.validToDate)}; sign the image again with a current certificate`,
      );
    if (c.validFromDate > now)
      throw new FataError(
        'FATA_SIGNER_NOT_YET_VALID',
        `the ${role} certificate ${who(c)} is not valid until ${iso(c.validFromDate)}; check this machine's clock, or sign with a certificate valid now`,
      );
  }
}

export interface Signature {
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly notAfter: Date;
  /** When the signer says it signed (its signingTime attribute), if it says. */
  readonly signedAt: Date | undefined;
  /** Subjects from the signer to the trust anchor. */
  readonly chain: string[];
}

export interface VerifyOptions {
  readonly trust: string;
  readonly crl?: string | undefined;
  readonly now?: Date;
}

/** IMAGE.sig: where `fata sign` writes an image's signature and `fata verify` and `fata run --trust` look for it. */
export const signaturePath = (image: string): string => `${image}.sig`;

/**
 * Checks the signature beside `imagePath` over `bytes` (the image as read, so that what is checked is what runs).
 * Returns who signed; refuses with a FataError naming the reason.
 */
export async function verifyImage(imagePath: string, bytes: Uint8Array, opts: VerifyOptions): Promise<Signature> {
  const anchors = readCertificates(opts.trust, 'trust file', 'FATA_BAD_TRUST');
  const sigPath = signaturePath(imagePath);
  if (!existsSync(sigPath))
    throw new FataError(
      'FATA_UNSIGNED',
      `${imagePath} is not signed: there is no ${sigPath}; sign it with fata sign --key KEY --cert CERT IMAGE`,
    );
  const { pkijs } = await lib();
  const signed = parseSignedData(pkijs, readFileSync(sigPath), sigPath);
  const signer = await checkSignature(signed, bytes, imagePath);
  const carried = (signed.certificates ?? []).flatMap((c) => (c instanceof pkijs.Certificate ? [toX509(c)] : []));
  const leaf = toX509(signer);
  const path = chainTo(leaf, carried, anchors);
  if (!path)
    throw new FataError(
      'FATA_SIGNER_UNTRUSTED',
      `${imagePath} is signed by ${who(leaf)}, issued by ${dn(leaf.issuer)}, which does not chain to a certificate in ${opts.trust}; ` +
        'run it with the CA that issued the signer (--trust), or sign it with a certificate that CA issued',
    );
  const now = opts.now ?? new Date();
  checkDates(path, now);
  const usage = usageProblem(signer);
  if (usage)
    throw new FataError(
      'FATA_SIGNER_KEY_USAGE',
      `the signer ${who(leaf)} may not sign images: ${usage}; sign with a code-signing certificate`,
    );
  if (opts.crl) await checkRevocation(path, opts.crl, now);
  return {
    subject: dn(leaf.subject),
    issuer: dn(leaf.issuer),
    serial: leaf.serialNumber,
    notAfter: leaf.validToDate,
    signedAt: signingTime(signed),
    chain: path.map((c) => dn(c.subject)),
  };
}

const toX509 = (c: Pkijs.Certificate): X509Certificate => new X509Certificate(Buffer.from(c.toSchema().toBER(false)));

function parseSignedData(pkijs: typeof Pkijs, der: Buffer, sigPath: string): Pkijs.SignedData {
  try {
    const info = pkijs.ContentInfo.fromBER(der);
    if (info.contentType !== OID.signedData) throw new Error(`content type ${info.contentType}`);
    const signed = new pkijs.SignedData({ schema: info.content });
    if (signed.signerInfos.length !== 1) throw new Error(`${signed.signerInfos.length} signers`);
    // Detached over the image's bytes: a signature that carries its own content would verify over that instead.
    if (signed.encapContentInfo.eContent) throw new Error('it carries its own content; sign detached');
    if (signed.encapContentInfo.eContentType !== OID.data) throw new Error(`content type ${signed.encapContentInfo.eContentType}`);
    return signed;
  } catch (e) {
    throw new FataError(
      'FATA_BAD_SIGNATURE',
      `${sigPath} is not a detached CMS signature with one signer (${(e as Error).message}); make it with fata sign, or openssl cms -sign -binary -outform DER`,
    );
  }
}

/** The signer's certificate, once the signature over `bytes` verifies with its key. */
async function checkSignature(signed: Pkijs.SignedData, bytes: Uint8Array, imagePath: string): Promise<Pkijs.Certificate> {
  const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  let result: Pkijs.SignedDataVerifyResult;
  try {
    result = await signed.verify({ signer: 0, data, extendedMode: true, checkChain: false });
  } catch (e) {
    result = e as Pkijs.SignedDataVerifyResult;
  }
  if (result.signatureVerified && result.signerCertificate) return result.signerCertificate;
  if (!result.signerCertificate)
    throw new FataError(
      'FATA_BAD_SIGNATURE',
      `${imagePath}.sig cannot be checked: ${result.message ?? 'no signer certificate'}; sign again with fata sign (with openssl: without -nocerts, so that the signer's certificate travels with the signature)`,
    );
  throw new FataError(
    'FATA_SIGNATURE_MISMATCH',
    `the signature in ${imagePath}.sig does not verify over ${imagePath}: the image was changed after it was signed, or the signature is another image's or damaged; ` +
      'rebuild and sign it again, or get the image and its .sig from their source',
  );
}

function signingTime(signed: Pkijs.SignedData): Date | undefined {
  const attr = signed.signerInfos[0]?.signedAttrs?.attributes.find((a) => a.type === OID.signingTime);
  const v = attr?.values[0] as { toDate?: () => Date } | undefined;
  return v?.toDate?.();
}

/** Refuses a certificate on `path` (below the anchor) that a CRL in `crlPath` from its issuer lists. */
async function checkRevocation(path: X509Certificate[], crlPath: string, now: Date): Promise<void> {
  const { pkijs } = await lib();
  const certs = path.map((c) => pkijs.Certificate.fromBER(c.raw));
  for (const crl of readCrls(pkijs, crlPath)) {
    const at = certs.findIndex((c, i) => i > 0 && crl.issuer.isEqual(c.subject));
    const issuer = path[at];
    const ok = at > 0 && (await crl.verify({ issuerCertificate: certs[at]! }).catch(() => false));
    if (!issuer || !ok)
      throw new FataError(
        'FATA_BAD_CRL',
        `the revocation list in ${crlPath} is not signed by a CA on the signer's chain (${path.map((c) => dn(c.subject)).join(' <- ')}); give that CA's CRL`,
      );
    const next = crl.nextUpdate?.value;
    if (next && next < now)
      throw new FataError(
        'FATA_CRL_STALE',
        `the revocation list from ${dn(issuer.subject)} in ${crlPath} was due for renewal on ${iso(next)}; fetch a current one`,
      );
    const subject = certs[at - 1]!;
    const revoked = crl.revokedCertificates?.find((r) => r.userCertificate.isEqual(subject.serialNumber));
    if (revoked)
      throw new FataError(
        'FATA_SIGNER_REVOKED',
        `the certificate ${who(path[at - 1]!)} was revoked on ${iso(revoked.revocationDate.value)} by ${dn(issuer.subject)} (${crlPath}); ` +
          'sign the image again with a certificate that is not revoked',
      );
  }
}

export function readCrls(pkijs: typeof Pkijs, path: string): Pkijs.CertificateRevocationList[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new FataError('FATA_BAD_CRL', `cannot read the revocation list '${path}' (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const text = bytes.toString('latin1');
  const ders = text.includes('-----BEGIN') ? pemBlocks(text, 'X509 CRL') : [bytes];
  try {
    const crls = ders.map((d) => pkijs.CertificateRevocationList.fromBER(d));
    if (crls.length > 0) return crls;
  } catch {
    /* said below */
  }
  throw new FataError('FATA_BAD_CRL', `'${path}' holds no readable revocation list; give a PEM file (-----BEGIN X509 CRL-----)`);
}

/** A private key from a PEM file, for `fata sign`. */
export function readKey(path: string): KeyObject {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch (e) {
    throw new FataError('FATA_BAD_KEY', `cannot read the key '${path}' (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  if (text.includes('ENCRYPTED'))
    throw new FataError(
      'FATA_BAD_KEY',
      `the key in ${path} is encrypted; decrypt it for signing (openssl pkey -in ${path} -out PLAIN.pem)`,
    );
  try {
    return createPrivateKey(text);
  } catch (e) {
    throw new FataError('FATA_BAD_KEY', `${path} holds no readable private key (${(e as Error).message}); give a PEM RSA or EC key`);
  }
}

/** Web Crypto's name for the key's algorithm, and the digest used with it. */
export function signingAlgorithm(
  key: KeyObject,
  path: string,
): { alg: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams; hash: string } {
  if (key.asymmetricKeyType === 'rsa') return { alg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, hash: 'SHA-256' };
  if (key.asymmetricKeyType === 'ec') {
    const curve = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' }[key.asymmetricKeyDetails?.namedCurve ?? ''];
    const hash = { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' }[curve ?? ''];
    if (curve && hash) return { alg: { name: 'ECDSA', namedCurve: curve }, hash };
  }
  throw new FataError(
    'FATA_BAD_KEY',
    `the key in ${path} is ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''}; fata signs with RSA or ECDSA on P-256, P-384 or P-521`,
  );
}

export interface SignOptions {
  readonly key: string;
  readonly cert: string;
  /** Intermediate certificates to carry in the signature, so that a verifier needs only the root. */
  readonly chain?: string | undefined;
  readonly now?: Date;
}

/**
 * Writes IMAGE.sig: a detached CMS SignedData over the image's bytes, with the signed attributes openssl writes
 * (content type, signing time, message digest) and the signer's certificate and chain. Refuses a key that is
 * not the certificate's, and a certificate that fata verify would refuse on its own account (dates, usage).
 */
export async function signImage(imagePath: string, opts: SignOptions): Promise<{ path: string; subject: string }> {
  const key = readKey(opts.key);
  const [leaf] = readCertificates(opts.cert, 'certificate');
  const chain = opts.chain ? readCertificates(opts.chain, 'chain') : [];
  const spki = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
  if (!spki(createPublicKey(key)).equals(spki(leaf!.publicKey)))
    throw new FataError(
      'FATA_KEY_MISMATCH',
      `the key in ${opts.key} is not the key of ${who(leaf!)} in ${opts.cert}; give the certificate's own key`,
    );
  checkDates([leaf!], opts.now ?? new Date());
  const { pkijs, asn1js } = await lib();
  const signer = pkijs.Certificate.fromBER(leaf!.raw);
  const usage = usageProblem(signer);
  if (usage) throw new FataError('FATA_SIGNER_KEY_USAGE', `${who(leaf!)} may not sign images: ${usage}; use a code-signing certificate`);
  const { alg, hash } = signingAlgorithm(key, opts.key);
  let data: Buffer;
  try {
    data = readFileSync(imagePath);
  } catch (e) {
    throw new FataError('FATA_NO_IMAGE', `cannot read the image '${imagePath}' (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const digest = createHash(hash.replace('-', '').toLowerCase()).update(data).digest();
  const attrs = [
    new pkijs.Attribute({ type: OID.contentType, values: [new asn1js.ObjectIdentifier({ value: OID.data })] }),
    new pkijs.Attribute({ type: OID.signingTime, values: [new asn1js.UTCTime({ valueDate: opts.now ?? new Date() })] }),
    new pkijs.Attribute({ type: OID.messageDigest, values: [new asn1js.OctetString({ valueHex: digest })] }),
  ];
  // DER orders a SET OF by its members' encodings, and a verifier (OpenSSL) checks the signature over that order.
  const der = (a: Pkijs.Attribute): Buffer => Buffer.from(a.toSchema().toBER(false));
  attrs.sort((a, b) => Buffer.compare(der(a), der(b)));
  const signed = new pkijs.SignedData({
    version: 1,
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID.data }),
    signerInfos: [
      new pkijs.SignerInfo({
        version: 1,
        sid: new pkijs.IssuerAndSerialNumber({ issuer: signer.issuer, serialNumber: signer.serialNumber }),
        signedAttrs: new pkijs.SignedAndUnsignedAttributes({ type: 0, attributes: attrs }),
      }),
    ],
    certificates: [signer, ...chain.map((c) => pkijs.Certificate.fromBER(c.raw))],
  });
  const cryptoKey = await webcrypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']);
  await signed.sign(cryptoKey as unknown as Parameters<Pkijs.SignedData['sign']>[0], 0, hash, data);
  const info = new pkijs.ContentInfo({ contentType: OID.signedData, content: signed.toSchema(true) });
  const path = signaturePath(imagePath);
  writeFileSync(path, Buffer.from(info.toSchema().toBER(false)));
  return { path, subject: dn(leaf!.subject) };
}
