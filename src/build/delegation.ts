/**
 * Delegated authority for the daemon's TLS endpoint (docs/trust.md, Delegation), as Albatross delegates it: a CA
 * or intermediate certificate carries Fata's policy extension (how many unikernels, how much memory, which
 * bridges, how much volume storage), an intermediate may delegate only within its issuer's policy, and the client
 * certificate at the end carries the commands it may send. This file is the one definition of both extensions
 * (their ASN.1, written and read with asn1js), of the check of a client's chain, and of issuing such
 * certificates, CRLs included (PKI.js, keys and signatures by node:crypto). Decoding never throws on the bytes of
 * a certificate: it returns `{ error }`; the check refuses with a FataError whose code names the reason.
 *
 * The OIDs hang under 2.25 (ITU-T X.667: an arc made from a UUID, no registration needed):
 *   2.25.205245312532246505737150404703131058256     (UUID 9a68cf30-95bd-45b6-a9fb-ff9bbd30c050)
 *     .1  FataPolicy   ::= SEQUENCE { version INTEGER (1),
 *                                     unikernels  [0] EXPLICIT INTEGER OPTIONAL,
 *                                     memoryMb    [1] EXPLICIT INTEGER OPTIONAL,
 *                                     bridges     [2] EXPLICIT SEQUENCE OF UTF8String OPTIONAL,
 *                                     volumeBytes [3] EXPLICIT INTEGER OPTIONAL }
 *     .2  FataCommands ::= SEQUENCE { version INTEGER (1), commands SEQUENCE OF UTF8String }
 * Both are non-critical, so that TLS libraries that do not know them still verify the chain.
 */
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type * as Pkijs from 'pkijs';
import { FataError } from '../host/errors.ts';
import { chainTo, dn, type Lib, lib, readCertificates, readCrls, readKey, signingAlgorithm } from './trust.ts';

export const FATA_OID_ARC = '2.25.205245312532246505737150404703131058256';
export const OID_POLICY = `${FATA_OID_ARC}.1`;
export const OID_COMMANDS = `${FATA_OID_ARC}.2`;
const POLICY_VERSION = 1;

/** What a delegation allows (the same shape as the daemon's Limits); a field left out is no limit of its own. */
export interface DelegationPolicy {
  readonly maxUnikernels?: number;
  readonly maxMemoryMb?: number;
  readonly bridges?: readonly string[];
  readonly maxVolumeBytes?: number;
}

/** The commands a client certificate may name: the local CLI's (`volume` is every volume subcommand). `hello` is always allowed. */
export const REMOTE_COMMANDS: readonly string[] = ['create', 'destroy', 'restart', 'update', 'list', 'info', 'console', 'stats', 'volume'];

/** A name in a delegation's path (a certificate's CN): what owner names are made of (`cert:alice/team1`). */
export const DELEGATION_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

type Asn1 = Lib['asn1js'];

const explicit = (asn1js: Asn1, tag: number, inner: InstanceType<Asn1['BaseBlock']>): InstanceType<Asn1['Constructed']> =>
  new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber: tag }, value: [inner] });

/** The DER of a FataPolicy. */
export function encodePolicy(asn1js: Asn1, p: DelegationPolicy): ArrayBuffer {
  const int = (n: number): InstanceType<Asn1['Integer']> => asn1js.Integer.fromBigInt(BigInt(n));
  const fields: InstanceType<Asn1['BaseBlock']>[] = [new asn1js.Integer({ value: POLICY_VERSION })];
  if (p.maxUnikernels !== undefined) fields.push(explicit(asn1js, 0, int(p.maxUnikernels)));
  if (p.maxMemoryMb !== undefined) fields.push(explicit(asn1js, 1, int(p.maxMemoryMb)));
  if (p.bridges !== undefined)
    fields.push(explicit(asn1js, 2, new asn1js.Sequence({ value: p.bridges.map((b) => new asn1js.Utf8String({ value: b })) })));
  if (p.maxVolumeBytes !== undefined) fields.push(explicit(asn1js, 3, int(p.maxVolumeBytes)));
  return new asn1js.Sequence({ value: fields }).toBER(false);
}

/** The DER of a FataCommands. */
export function encodeCommands(asn1js: Asn1, commands: readonly string[]): ArrayBuffer {
  return new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: POLICY_VERSION }),
      new asn1js.Sequence({ value: commands.map((c) => new asn1js.Utf8String({ value: c })) }),
    ],
  }).toBER(false);
}

type Block = InstanceType<Asn1['BaseBlock']>;

/** The blocks of a whole DER SEQUENCE, or why not. */
function sequenceOf(asn1js: Asn1, der: Uint8Array): Block[] | { error: string } {
  const ab = der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
  let r: ReturnType<Asn1['fromBER']>;
  try {
    r = asn1js.fromBER(ab);
  } catch {
    return { error: 'not DER' }; // asn1js throws on some malformed values (a GeneralizedTime that is not one).
  }
  if (r.offset === -1 || r.offset !== ab.byteLength) return { error: 'not one DER value' };
  if (!(r.result instanceof asn1js.Sequence)) return { error: 'not a SEQUENCE' };
  return r.result.valueBlock.value;
}

function version(asn1js: Asn1, b: Block | undefined): string | undefined {
  if (!(b instanceof asn1js.Integer)) return 'no version';
  const v = b.toBigInt();
  return v === BigInt(POLICY_VERSION) ? undefined : `version ${v} (this Fata reads version ${POLICY_VERSION})`;
}

function count(asn1js: Asn1, b: Block | undefined): number | undefined {
  if (!(b instanceof asn1js.Integer)) return undefined;
  const v = b.toBigInt();
  return v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

function strings(asn1js: Asn1, b: Block | undefined): string[] | undefined {
  if (!(b instanceof asn1js.Sequence)) return undefined;
  const out: string[] = [];
  for (const s of b.valueBlock.value) {
    if (!(s instanceof asn1js.Utf8String)) return undefined;
    out.push(s.valueBlock.value);
  }
  return out;
}

/** A FataPolicy's DER → the policy, or why it is not one (untrusted bytes: never throws). */
export function decodePolicy(asn1js: Asn1, der: Uint8Array): DelegationPolicy | { error: string } {
  const items = sequenceOf(asn1js, der);
  if ('error' in items) return items;
  const bad = version(asn1js, items[0]);
  if (bad) return { error: bad };
  const p: { -readonly [K in keyof DelegationPolicy]: DelegationPolicy[K] } = {};
  let last = -1;
  for (const item of items.slice(1)) {
    const tag = item.idBlock.tagNumber;
    const inner = item instanceof asn1js.Constructed ? item.valueBlock.value : [];
    if (item.idBlock.tagClass !== 3 || tag <= last || tag > 3 || inner.length !== 1) return { error: `unexpected field [${tag}]` };
    last = tag;
    if (tag === 2) {
      const b = strings(asn1js, inner[0]);
      if (!b) return { error: 'bridges is not a SEQUENCE OF UTF8String' };
      p.bridges = b;
      continue;
    }
    const n = count(asn1js, inner[0]);
    if (n === undefined) return { error: `field [${tag}] is not a whole number` };
    if (tag === 0) p.maxUnikernels = n;
    else if (tag === 1) p.maxMemoryMb = n;
    else p.maxVolumeBytes = n;
  }
  return p;
}

/** A FataCommands's DER → the command names, or why it is not one (untrusted bytes: never throws). */
export function decodeCommands(asn1js: Asn1, der: Uint8Array): string[] | { error: string } {
  const items = sequenceOf(asn1js, der);
  if ('error' in items) return items;
  const bad = version(asn1js, items[0]);
  if (bad) return { error: bad };
  const c = items.length === 2 ? strings(asn1js, items[1]) : undefined;
  return c ?? { error: 'commands is not a SEQUENCE OF UTF8String' };
}

/**
 * pkijs names an OID whose arcs do not fit a JavaScript number by hex in braces (2.25.{…}); the key under which
 * it lists an extension is found by sending our OID through the same encoder and decoder.
 */
function extensionKey(asn1js: Asn1, oid: string): string {
  const der = new asn1js.ObjectIdentifier({ value: oid }).toBER(false);
  return (asn1js.fromBER(der).result as InstanceType<Asn1['ObjectIdentifier']>).getValue();
}

/** The value (DER inside the OCTET STRING) of extension `oid` in `cert`, if it carries it. */
function extension(l: Lib, cert: X509Certificate, oid: string): Uint8Array | undefined {
  let parsed: Pkijs.Certificate;
  try {
    parsed = l.pkijs.Certificate.fromBER(cert.raw);
  } catch {
    return undefined;
  }
  const key = extensionKey(l.asn1js, oid);
  return parsed.extensions?.find((e) => e.extnID === key)?.extnValue.valueBlock.valueHexView;
}

/** The first CN of a certificate's subject. */
export function commonName(c: X509Certificate): string | undefined {
  return c.subject
    .split('\n')
    .find((l) => l.startsWith('CN='))
    ?.slice(3);
}

/** How `child` goes beyond `parent` (a limit larger, or left out where the parent has one; a bridge the parent lacks), or undefined. */
export function exceeds(child: DelegationPolicy, parent: DelegationPolicy): string | undefined {
  const fields = [
    ['maxUnikernels', 'unikernels'],
    ['maxMemoryMb', 'memory (MB)'],
    ['maxVolumeBytes', 'volume storage (bytes)'],
  ] as const;
  for (const [k, what] of fields) {
    const p = parent[k],
      c = child[k];
    if (p !== undefined && (c === undefined || c > p)) return `${what} ${c ?? 'unlimited'} > ${p}`;
  }
  if (parent.bridges) {
    if (!child.bridges) return `bridges any > ${parent.bridges.join(',') || 'none'}`;
    const extra = child.bridges.filter((b) => !parent.bridges!.includes(b));
    if (extra.length) return `bridge ${extra.join(',')} not among ${parent.bridges.join(',') || 'none'}`;
  }
  return undefined;
}

/** One delegation on a client's chain, from the anchor down: its name (the CA's CN) and its policy. */
export interface Delegation {
  readonly name: string;
  readonly policy: DelegationPolicy;
}

export interface ClientAuthority {
  /** The delegations from below the trust anchor down to the client's issuer; empty: the anchor issued the client (the operator's own). */
  readonly delegations: readonly Delegation[];
  /** The commands the client certificate names (`hello` is always allowed). */
  readonly commands: ReadonlySet<string>;
  /** Subjects from the client to the anchor. */
  readonly chain: readonly string[];
}

const iso = (d: Date): string => d.toISOString().replace(/\.000Z$/, 'Z');
const whoIs = (c: X509Certificate): string => `${dn(c.subject)} (serial ${c.serialNumber})`;

/**
 * The authority of a client that proved it holds `leaf`'s key (the TLS handshake, which also checked the chain
 * against the anchors): the path from `leaf` through `carried` to a certificate in `anchors`, every certificate
 * valid `now`, none revoked by a CRL in `crlPath` from its issuer, every CA below the anchor carrying a policy
 * within its issuer's, and the client certificate carrying its commands. Refuses with a FataError.
 */
export async function clientAuthority(
  leaf: X509Certificate,
  carried: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  opts: { crl?: string | undefined; now?: Date } = {},
): Promise<ClientAuthority> {
  const l = await lib();
  const path = chainTo(leaf, [...carried], [...anchors]);
  if (!path)
    throw new FataError(
      'FATA_CERT_UNTRUSTED',
      `${whoIs(leaf)} does not chain to the daemon's CA through the certificates sent with it; send the intermediates with the client certificate (fata cert delegate and client write them into the .pem)`,
    );
  const now = opts.now ?? new Date();
  for (const c of path) {
    if (c.validToDate < now)
      throw new FataError(
        'FATA_CERT_EXPIRED',
        `the certificate ${whoIs(c)} expired on ${iso(c.validToDate)}; ask its issuer for a new one`,
      );
    if (c.validFromDate > now)
      throw new FataError(
        'FATA_CERT_NOT_YET_VALID',
        `the certificate ${whoIs(c)} is not valid until ${iso(c.validFromDate)}; check the clocks, or use a certificate valid now`,
      );
  }
  if (leaf.ca)
    throw new FataError(
      'FATA_NOT_CLIENT_CERT',
      `${whoIs(leaf)} is a CA certificate: a delegation signs client certificates, it does not connect; issue one with fata cert client`,
    );
  const cmds = extension(l, leaf, OID_COMMANDS);
  const commands = cmds ? decodeCommands(l.asn1js, cmds) : { error: 'it does not carry the commands extension' };
  if ('error' in commands)
    throw new FataError(
      'FATA_NO_DELEGATION',
      `${whoIs(leaf)} names no commands for Fata (${commands.error}); issue client certificates with fata cert client`,
    );
  const anchor = path[path.length - 1]!;
  const anchorExt = extension(l, anchor, OID_POLICY);
  let parent: Delegation | undefined;
  if (anchorExt) {
    const p = decodePolicy(l.asn1js, anchorExt);
    if ('error' in p)
      throw new FataError('FATA_NO_DELEGATION', `the trust anchor ${whoIs(anchor)} carries a malformed policy (${p.error})`);
    parent = { name: commonName(anchor) ?? dn(anchor.subject), policy: p };
  }
  const delegations: Delegation[] = [];
  for (const c of path.slice(1, -1).reverse()) {
    const ext = extension(l, c, OID_POLICY);
    const p = ext ? decodePolicy(l.asn1js, ext) : { error: 'it carries no Fata policy extension' };
    if ('error' in p)
      throw new FataError(
        'FATA_NO_DELEGATION',
        `the intermediate ${whoIs(c)} delegates nothing (${p.error}); delegations are issued with fata cert delegate`,
      );
    const name = commonName(c);
    if (!name || !DELEGATION_NAME.test(name))
      throw new FataError(
        'FATA_NO_DELEGATION',
        `the intermediate ${whoIs(c)} has no common name usable as an owner (1-63 of a-z, 0-9, '.', '_', '-')`,
      );
    const over = parent && exceeds(p, parent.policy);
    if (over)
      throw new FataError(
        'FATA_DELEGATION_EXCEEDED',
        `the delegation ${whoIs(c)} goes beyond its issuer ${parent!.name}'s policy: ${over}; its issuer must delegate within its own policy`,
      );
    parent = { name, policy: p };
    delegations.push(parent);
  }
  if (opts.crl) await checkRevoked(l, path, opts.crl, now);
  return {
    delegations,
    commands: new Set(commands.filter((c) => REMOTE_COMMANDS.includes(c))),
    chain: path.map((c) => dn(c.subject)),
  };
}

/**
 * Refuses a certificate on `path` (below the anchor) listed by a CRL in `crlPath` from its issuer. CRLs from CAs
 * not on the path are another client's business; one from a CA on the path must be signed by it and current.
 */
async function checkRevoked(l: Lib, path: X509Certificate[], crlPath: string, now: Date): Promise<void> {
  const certs = path.map((c) => l.pkijs.Certificate.fromBER(c.raw));
  for (const crl of readCrls(l.pkijs, crlPath)) {
    const at = certs.findIndex((c, i) => i > 0 && crl.issuer.isEqual(c.subject));
    if (at < 0) continue;
    const issuer = path[at]!;
    if (!(await crl.verify({ issuerCertificate: certs[at]! }).catch(() => false)))
      throw new FataError(
        'FATA_BAD_CRL',
        `a revocation list in ${crlPath} names ${dn(issuer.subject)} as its issuer but is not signed by it`,
      );
    const next = crl.nextUpdate?.value;
    if (next && next < now)
      throw new FataError(
        'FATA_CRL_STALE',
        `the revocation list from ${dn(issuer.subject)} in ${crlPath} was due for renewal on ${iso(next)}; the operator must fetch a current one`,
      );
    const subject = certs[at - 1]!;
    const revoked = crl.revokedCertificates?.find((r) => r.userCertificate.isEqual(subject.serialNumber));
    if (revoked)
      throw new FataError(
        'FATA_CERT_REVOKED',
        `the certificate ${whoIs(path[at - 1]!)} was revoked on ${iso(revoked.revocationDate.value)} by ${dn(issuer.subject)}`,
      );
  }
}

// ---- Issuing: fata cert ca | delegate | client | server | crl ----

export type IssueKind = 'ca' | 'delegate' | 'client' | 'server';

export interface IssueOptions {
  readonly kind: IssueKind;
  /** The CN (ca, delegate, client); for a server, the first of `hosts`. */
  readonly name: string;
  /** The issuer's certificate (with its chain after it) and key; a `ca` is self-signed. */
  readonly issuer?: { readonly cert: string; readonly key: string };
  readonly days: number;
  /** ca, delegate: the policy (a delegate's fields left out are its issuer's). */
  readonly policy?: DelegationPolicy;
  /** client: the commands it may send. */
  readonly commands?: readonly string[];
  /** server: DNS names and IP addresses for its subjectAltName. */
  readonly hosts?: readonly string[];
  readonly now?: Date;
}

export interface Issued {
  /** The new certificate, then its issuer's chain (without a self-signed root): what a client sends. */
  readonly certPem: string;
  readonly keyPem: string;
  readonly subject: string;
  readonly serial: string;
  readonly notAfter: Date;
  readonly policy?: DelegationPolicy;
}

const OIDS = {
  cn: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  serverAuth: '1.3.6.1.5.5.7.3.1',
};

const pem = (label: string, der: ArrayBuffer | Uint8Array): string =>
  `-----BEGIN ${label}-----\n${(
    Buffer.from(der as ArrayBuffer)
      .toString('base64')
      .match(/.{1,64}/g) ?? []
  ).join('\n')}\n-----END ${label}-----\n`;

/** The issuer's certificate, its chain (the rest of its file, without self-signed roots), policy and key, checked to belong together. */
async function loadIssuer(l: Lib, o: { cert: string; key: string }) {
  const [cert, ...rest] = readCertificates(o.cert, 'issuer certificate');
  const key = readKey(o.key);
  const spki = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
  if (!spki(createPublicKey(key)).equals(spki(cert!.publicKey)))
    throw new FataError(
      'FATA_KEY_MISMATCH',
      `the key in ${o.key} is not the key of ${whoIs(cert!)} in ${o.cert}; give the certificate's own key`,
    );
  if (!cert!.ca)
    throw new FataError('FATA_BAD_CERT', `${whoIs(cert!)} is not a CA certificate; only a CA or a delegation issues certificates`);
  const ext = extension(l, cert!, OID_POLICY);
  const policy = ext ? decodePolicy(l.asn1js, ext) : undefined;
  if (policy && 'error' in policy)
    throw new FataError('FATA_BAD_CERT', `${whoIs(cert!)} carries a malformed Fata policy (${policy.error})`);
  return { cert: cert!, chain: [cert!, ...rest].filter((c) => c.subject !== c.issuer || !c.verify(c.publicKey)), key, policy };
}

const keyIdentifier = (spkiDer: Buffer, l: Lib): ArrayBuffer => {
  // RFC 5280 §4.2.1.2 (1): the SHA-1 of the subjectPublicKey BIT STRING.
  const spki = l.pkijs.PublicKeyInfo.fromBER(spkiDer);
  return new Uint8Array(createHash('sha1').update(spki.subjectPublicKey.valueBlock.valueHexView).digest()).buffer;
};

function ipBytes(ip: string): Uint8Array {
  if (isIP(ip) === 4) return Uint8Array.from(ip.split('.').map(Number));
  const [head = '', tail = ''] = ip.split('::');
  const words = (s: string): number[] => (s ? s.split(':').map((w) => Number.parseInt(w, 16)) : []);
  const h = words(head),
    t = words(tail);
  const all = ip.includes('::') ? [...h, ...new Array(8 - h.length - t.length).fill(0), ...t] : h;
  return Uint8Array.from(all.flatMap((w) => [w >> 8, w & 0xff]));
}

type Issuer = Awaited<ReturnType<typeof loadIssuer>>;

/** What `o` may carry under `issuer`: a delegation's policy with the issuer's limits for those left out, within the issuer's. */
function policyFor(o: IssueOptions, issuer: Issuer | undefined): DelegationPolicy | undefined {
  if (o.kind === 'ca' || o.kind === 'delegate') {
    if (!DELEGATION_NAME.test(o.name))
      throw new FataError(
        'FATA_BAD_NAME',
        `--name ${o.name}: a CA's or delegation's name is 1-63 of a-z, 0-9, '.', '_', '-' (it names the owner)`,
      );
  }
  const p = issuer?.policy as DelegationPolicy | undefined;
  if (o.kind !== 'delegate' || !p) return o.policy;
  const policy = {
    maxUnikernels: o.policy?.maxUnikernels ?? p.maxUnikernels,
    maxMemoryMb: o.policy?.maxMemoryMb ?? p.maxMemoryMb,
    bridges: o.policy?.bridges ?? p.bridges,
    maxVolumeBytes: o.policy?.maxVolumeBytes ?? p.maxVolumeBytes,
  };
  const over = exceeds(policy, p);
  if (over)
    throw new FataError(
      'FATA_DELEGATION_EXCEEDED',
      `${o.name} would go beyond ${whoIs(issuer!.cert)}'s policy: ${over}; delegate within it`,
    );
  return policy;
}

/** The extensions of a certificate of kind `o.kind` with public key `spkiDer`. */
function extensionsFor(
  l: Lib,
  o: IssueOptions,
  spkiDer: Buffer,
  issuer: Issuer | undefined,
  policy: DelegationPolicy | undefined,
): Pkijs.Extension[] {
  const { pkijs, asn1js } = l;
  const isCa = o.kind === 'ca' || o.kind === 'delegate';
  const ext = (id: string, critical: boolean, value: ArrayBuffer): Pkijs.Extension =>
    new pkijs.Extension({ extnID: id, critical, extnValue: value });
  const usage = { ca: 0x06, delegate: 0x06, client: 0x80, server: 0xa0 }[o.kind]; // keyCertSign|cRLSign; digitalSignature; + keyEncipherment.
  const extensions = [
    ext(OIDS.basicConstraints, true, new pkijs.BasicConstraints({ cA: isCa }).toSchema().toBER(false)),
    ext(OIDS.keyUsage, true, new asn1js.BitString({ valueHex: Uint8Array.from([usage]).buffer, unusedBits: isCa ? 1 : 5 }).toBER(false)),
    ext(OIDS.subjectKeyId, false, new asn1js.OctetString({ valueHex: keyIdentifier(spkiDer, l) }).toBER(false)),
  ];
  if (issuer) {
    const keyIdentifierOfIssuer = keyIdentifier(issuer.cert.publicKey.export({ type: 'spki', format: 'der' }), l);
    const aki = new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: keyIdentifierOfIssuer }) });
    extensions.push(ext(OIDS.authorityKeyId, false, aki.toSchema().toBER(false)));
  }
  if (o.kind === 'client' || o.kind === 'server') {
    const eku = new pkijs.ExtKeyUsage({ keyPurposes: [o.kind === 'client' ? OIDS.clientAuth : OIDS.serverAuth] });
    extensions.push(ext(OIDS.extKeyUsage, false, eku.toSchema().toBER(false)));
  }
  if (o.kind === 'server') {
    const names = (o.hosts ?? [o.name]).map((h) =>
      isIP(h)
        ? new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: ipBytes(h).buffer as ArrayBuffer }) })
        : new pkijs.GeneralName({ type: 2, value: h }),
    );
    extensions.push(ext(OIDS.subjectAltName, false, new pkijs.GeneralNames({ names }).toSchema().toBER(false)));
  }
  if (isCa && policy) extensions.push(ext(OID_POLICY, false, encodePolicy(asn1js, policy)));
  if (o.kind === 'client') {
    const unknown = (o.commands ?? []).filter((c) => !REMOTE_COMMANDS.includes(c));
    if (unknown.length || !o.commands?.length)
      throw new FataError(
        'FATA_BAD_FLAGS',
        `--commands: name some of ${REMOTE_COMMANDS.join(', ')} (or all)${unknown.length ? `, not ${unknown.join(', ')}` : ''}`,
      );
    extensions.push(ext(OID_COMMANDS, false, encodeCommands(asn1js, o.commands)));
  }
  return extensions;
}

/** Issues one certificate (and a new P-256 key) as `o` says: PKI.js writes it, the issuer's key signs it. */
export async function issueCertificate(o: IssueOptions): Promise<Issued> {
  const l = await lib();
  const { pkijs, asn1js } = l;
  const issuer = o.issuer ? await loadIssuer(l, o.issuer) : undefined;
  if (o.kind !== 'ca' && !issuer)
    throw new FataError('FATA_BAD_FLAGS', `a ${o.kind} certificate needs its issuer (--ca-cert and --ca-key)`);
  const policy = policyFor(o, issuer);
  const now = o.now ?? new Date();
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spkiDer = publicKey.export({ type: 'spki', format: 'der' });
  const cert = new pkijs.Certificate();
  cert.version = 2;
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x10; // Positive, and 16 bytes long as written.
  cert.serialNumber = new asn1js.Integer({ valueHex: serial });
  const cn = (name: string): Pkijs.RelativeDistinguishedNames =>
    new pkijs.RelativeDistinguishedNames({
      typesAndValues: [new pkijs.AttributeTypeAndValue({ type: OIDS.cn, value: new asn1js.Utf8String({ value: name }) })],
    });
  cert.subject = cn(o.name);
  cert.issuer = issuer ? pkijs.Certificate.fromBER(issuer.cert.raw).subject : cn(o.name);
  cert.notBefore.value = new Date(now.getTime() - 5 * 60_000); // A little clock skew between hosts.
  cert.notAfter.value = new Date(now.getTime() + o.days * 86_400_000);
  cert.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(spkiDer);
  cert.extensions = extensionsFor(l, o, spkiDer, issuer, policy);
  const signingKey = issuer?.key ?? privateKey;
  const { alg, hash } = signingAlgorithm(signingKey, o.issuer?.key ?? 'the new key');
  const cryptoKey = await webcrypto.subtle.importKey('pkcs8', signingKey.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']);
  await cert.sign(cryptoKey as unknown as Parameters<Pkijs.Certificate['sign']>[0], hash);
  const der = cert.toSchema(true).toBER(false);
  const x = new X509Certificate(Buffer.from(der));
  return {
    certPem: pem('CERTIFICATE', der) + (issuer?.chain ?? []).map((c) => c.toString()).join(''),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    subject: dn(x.subject),
    serial: x.serialNumber,
    notAfter: x.validToDate,
    ...(policy ? { policy } : {}),
  };
}

/**
 * A CRL from the CA in `o.issuer` listing `serials` (hex, as openssl and fata print them) and the entries of
 * `o.previous` (an earlier CRL of the same CA), valid `o.days`.
 */
export async function issueCrl(o: {
  issuer: { cert: string; key: string };
  serials: readonly string[];
  previous?: string | undefined;
  days: number;
  now?: Date;
}): Promise<{ pem: string; revoked: string[] }> {
  const l = await lib();
  const { pkijs, asn1js } = l;
  const issuer = await loadIssuer(l, o.issuer);
  const issuerName = pkijs.Certificate.fromBER(issuer.cert.raw).subject;
  const now = o.now ?? new Date();
  const entries = new Map<string, Pkijs.RevokedCertificate>();
  for (const old of o.previous ? readCrls(pkijs, o.previous) : []) {
    if (!old.issuer.isEqual(issuerName)) continue;
    for (const r of old.revokedCertificates ?? [])
      entries.set(Buffer.from(r.userCertificate.valueBlock.valueHexView).toString('hex').toUpperCase(), r);
  }
  for (const s of o.serials) {
    const hex = s.replace(/^0x/i, '').replace(/:/g, '').toUpperCase();
    if (!/^[0-9A-F]+$/.test(hex))
      throw new FataError('FATA_BAD_FLAGS', `--revoke ${s}: give a serial number in hex (fata cert check prints it) or a certificate file`);
    const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
    entries.set(
      bytes.toString('hex').toUpperCase(),
      new pkijs.RevokedCertificate({
        userCertificate: new asn1js.Integer({ valueHex: bytes }),
        revocationDate: new pkijs.Time({ type: 0, value: now }),
      }),
    );
  }
  const crl = new pkijs.CertificateRevocationList({
    version: 1,
    issuer: issuerName,
    thisUpdate: new pkijs.Time({ type: 0, value: now }),
    nextUpdate: new pkijs.Time({ type: 0, value: new Date(now.getTime() + o.days * 86_400_000) }),
    ...(entries.size ? { revokedCertificates: [...entries.values()] } : {}),
  });
  const { alg, hash } = signingAlgorithm(issuer.key, o.issuer.key);
  const cryptoKey = await webcrypto.subtle.importKey('pkcs8', issuer.key.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']);
  await crl.sign(cryptoKey as unknown as Parameters<Pkijs.CertificateRevocationList['sign']>[0], hash);
  return { pem: pem('X509 CRL', crl.toSchema(true).toBER(false)), revoked: [...entries.keys()] };
}
