/**
 * An ACME client (RFC 8555): an account, an order for some names, each
 * authorization's challenge answered by a `ChallengeSolver` — HTTP-01 on
 * the website's own port 80, or DNS-01 by examples/dns-certify through
 * its primary — a CSR (the website makes one with pkijs for a fresh P-256
 * key; dns-certify brings one from the zone), the certificate chain. JWS
 * (ES256) with node:crypto. Over the service's network by `httpRequest`.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  webcrypto,
  X509Certificate,
} from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { BlockDevice, Logger, NetStack } from 'fata';
import { SlotStore } from 'fata/storage';
import type { ClientResponse, HttpHandler } from 'fata/http';
import { tlsCertificate, type TlsCertificate } from 'fata/tls';
import type { RenewalStats } from './metrics.ts';
import { httpRequest } from 'fata/git';

const b64u = (b: Uint8Array | string): string => Buffer.from(b).toString('base64url');
const decoder = new TextDecoder();

/** Where the website answers HTTP-01: token → key authorization. */
export const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

export interface AcmeOptions {
  readonly net: NetStack;
  readonly directory: string;
  readonly email: string;
  /** The names `issue` orders a certificate for (`order` is given its own). */
  readonly domains: readonly string[];
  /** PEM CA for the ACME server's own HTTPS (a test CA such as pebble's), else Node's store. */
  readonly ca?: string;
  /** The account key (PKCS#8 PEM); a new one is made when absent. */
  readonly accountKeyPem?: string;
  readonly sleep: (ms: number) => Promise<void>;
}

export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
  readonly accountKeyPem: string;
}

/** How one authorization's challenge is answered: HTTP-01 (RFC 8555 §8.3) or DNS-01 (§8.4). */
export interface ChallengeSolver {
  readonly type: 'http-01' | 'dns-01';
  /** Makes `keyAuthorization` visible for `domain` as the challenge type wants it; resolves once the ACME server may look. */
  present(domain: string, keyAuthorization: string): Promise<void>;
  /** Takes it away again, once the authorization is valid or has failed. */
  cleanup(domain: string, keyAuthorization: string): Promise<void>;
}

/** DNS-01's TXT value (RFC 8555 §8.4): the base64url SHA-256 of the key authorization, at `_acme-challenge.` + the name. */
export function dns01Value(keyAuthorization: string): string {
  return b64u(createHash('sha256').update(keyAuthorization).digest());
}

interface Jwk {
  readonly crv: string;
  readonly kty: string;
  readonly x: string;
  readonly y: string;
}

export class AcmeClient {
  /** token → key authorization, served at CHALLENGE_PREFIX + token while an order is being validated. */
  readonly challenges = new Map<string, string>();
  private readonly o: AcmeOptions;
  private readonly key: KeyObject;
  private readonly jwk: Jwk;
  private dir: Record<string, string> | undefined;
  private nonce: string | undefined;
  private kid: string | undefined;

  constructor(o: AcmeOptions) {
    this.o = o;
    this.key = o.accountKeyPem ? createPrivateKey(o.accountKeyPem) : generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const j = createPublicKey(this.key).export({ format: 'jwk' });
    this.jwk = { crv: j.crv!, kty: j.kty!, x: j.x!, y: j.y! };
  }

  get accountKeyPem(): string {
    return this.key.export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  private thumbprint(): string {
    return b64u(createHash('sha256').update(JSON.stringify(this.jwk)).digest());
  }

  private async req(url: string, method: string, body?: Uint8Array, type?: string): Promise<ClientResponse> {
    const headers: [string, string][] = type ? [['Content-Type', type]] : [];
    const r = await httpRequest(this.o.net, url, { method, headers, ...(body ? { body } : {}) }, this.o.ca ? { ca: this.o.ca } : {});
    const n = r.headers.find(([k]) => k === 'replay-nonce')?.[1];
    if (n) this.nonce = n;
    return r;
  }

  private async directory(): Promise<Record<string, string>> {
    if (!this.dir) {
      const r = await this.req(this.o.directory, 'GET');
      if (r.status !== 200) throw new Error(`ACME directory ${this.o.directory}: HTTP ${r.status}`);
      this.dir = JSON.parse(decoder.decode(r.body)) as Record<string, string>;
    }
    return this.dir;
  }

  /** A JWS-signed POST (payload undefined: POST-as-GET); one retry on badNonce. */
  private async post(url: string, payload: unknown, retry = true): Promise<{ r: ClientResponse; json: Record<string, unknown> }> {
    const dir = await this.directory();
    if (!this.nonce) await this.req(dir.newNonce!, 'HEAD');
    const prot = { alg: 'ES256', nonce: this.nonce, url, ...(this.kid ? { kid: this.kid } : { jwk: this.jwk }) };
    this.nonce = undefined;
    const p64 = b64u(JSON.stringify(prot));
    const body64 = payload === undefined ? '' : b64u(JSON.stringify(payload));
    const sig = sign('sha256', Buffer.from(`${p64}.${body64}`), { key: this.key, dsaEncoding: 'ieee-p1363' });
    const jws = JSON.stringify({ protected: p64, payload: body64, signature: b64u(sig) });
    const r = await this.req(url, 'POST', new TextEncoder().encode(jws), 'application/jose+json');
    const type = r.headers.find(([k]) => k === 'content-type')?.[1] ?? '';
    const json = type.includes('json') && r.body.length ? (JSON.parse(decoder.decode(r.body)) as Record<string, unknown>) : {};
    if (r.status >= 400) {
      if (retry && json.type === 'urn:ietf:params:acme:error:badNonce') return this.post(url, payload, false);
      throw new Error(`ACME ${url}: HTTP ${r.status} ${String(json.type ?? '')} ${String(json.detail ?? '')}`.trim());
    }
    return { r, json };
  }

  private async poll(url: string, until: (s: string) => boolean): Promise<Record<string, unknown>> {
    for (let i = 0; i < 120; i++) {
      const { json } = await this.post(url, undefined);
      if (until(String(json.status))) return json;
      if (json.status === 'invalid') throw new Error(`ACME ${url} is invalid: ${JSON.stringify(json).slice(0, 400)}`);
      await this.o.sleep(500);
    }
    throw new Error(`ACME ${url}: no answer after 60 s`);
  }

  /**
   * The account of this key: made on first use, found again afterwards (RFC 8555 §7.3: a newAccount for a key
   * that has one answers 200 with its URL, a new one 201). `created` says which.
   */
  async account(): Promise<{ url: string; created: boolean }> {
    const dir = await this.directory();
    // newAccount is signed with the key itself (jwk); everything after names the account (kid).
    const acct = await this.post(dir.newAccount!, { termsOfServiceAgreed: true, contact: [`mailto:${this.o.email}`] });
    this.kid = acct.r.headers.find(([k]) => k === 'location')?.[1];
    if (!this.kid) throw new Error('ACME newAccount gave no account URL');
    return { url: this.kid, created: acct.r.status === 201 };
  }

  /** Account, order, HTTP-01 for each domain, finalize with a new key's CSR, download the chain. */
  async issue(): Promise<Issued> {
    const key = await csrFor(this.o.domains);
    const http01: ChallengeSolver = {
      type: 'http-01',
      present: async (_domain, keyAuthorization) => {
        this.challenges.set(keyAuthorization.split('.')[0]!, keyAuthorization);
      },
      cleanup: async (_domain, keyAuthorization) => {
        this.challenges.delete(keyAuthorization.split('.')[0]!);
      },
    };
    const certPem = await this.order(this.o.domains, key.csrDer, http01);
    return { certPem, keyPem: key.keyPem, accountKeyPem: this.accountKeyPem };
  }

  /** An order for `names`, each authorization answered by `solver`, finalized with `csrDer` (whose names must be `names`): the PEM chain. */
  async order(names: readonly string[], csrDer: Uint8Array, solver: ChallengeSolver): Promise<string> {
    const dir = await this.directory();
    if (!this.kid) await this.account();
    const ord = await this.post(dir.newOrder!, { identifiers: names.map((d) => ({ type: 'dns', value: d })) });
    const orderUrl = ord.r.headers.find(([k]) => k === 'location')?.[1];
    if (!orderUrl) throw new Error('ACME newOrder gave no order URL');
    for (const authz of ord.json.authorizations as string[]) await this.authorize(authz, solver);
    await this.post(String(ord.json.finalize), { csr: b64u(csrDer) });
    const done = await this.poll(orderUrl, (s) => s === 'valid');
    const cert = await this.post(String(done.certificate), undefined);
    return decoder.decode(cert.r.body);
  }

  private async authorize(url: string, solver: ChallengeSolver): Promise<void> {
    const { json } = await this.post(url, undefined);
    if (json.status === 'valid') return;
    const ch = (json.challenges as { type: string; url: string; token: string }[]).find((c) => c.type === solver.type);
    if (!ch) throw new Error(`ACME ${url}: no ${solver.type} challenge offered`);
    // §7.1.4: a wildcard's identifier is the name below the "*.", which is where DNS-01 is answered.
    const domain = String((json.identifier as { value?: unknown } | undefined)?.value ?? '');
    const keyAuthorization = `${ch.token}.${this.thumbprint()}`;
    await solver.present(domain, keyAuthorization);
    try {
      await this.post(ch.url, {});
      await this.poll(url, (s) => s === 'valid');
    } finally {
      await solver.cleanup(domain, keyAuthorization);
    }
  }
}

/** A fresh P-256 key and a CSR (DER) naming `domains` in its subject and subjectAltName. */
async function csrFor(domains: readonly string[]): Promise<{ csrDer: Uint8Array; keyPem: string }> {
  const subtle = webcrypto.subtle;
  const pair = (await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  pkijs.setEngine('node', new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as pkijs.CryptoEngineParameters['crypto'] }));
  const csr = new pkijs.CertificationRequest();
  csr.subject.typesAndValues.push(
    new pkijs.AttributeTypeAndValue({ type: '2.5.4.3', value: new asn1js.Utf8String({ value: domains[0]! }) }),
  );
  await csr.subjectPublicKeyInfo.importKey(pair.publicKey);
  const san = new pkijs.GeneralNames({ names: domains.map((d) => new pkijs.GeneralName({ type: 2, value: d })) });
  csr.attributes = [
    new pkijs.Attribute({
      type: '1.2.840.113549.1.9.14',
      values: [
        new pkijs.Extensions({
          extensions: [new pkijs.Extension({ extnID: '2.5.29.17', critical: false, extnValue: san.toSchema().toBER(false) })],
        }).toSchema(),
      ],
    }),
  ];
  await csr.sign(pair.privateKey, 'SHA-256');
  const csrDer = new Uint8Array(csr.toSchema(true).toBER(false));
  const pkcs8 = Buffer.from(await subtle.exportKey('pkcs8', pair.privateKey)).toString('base64');
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { csrDer, keyPem };
}

/** What the renewal loop needs from the service. */
export interface AcmeContext {
  readonly log: Logger;
  readonly sleep: (ms: number) => Promise<void>;
  readonly nowMs: () => number;
  /** Counted here when given: renewals and failed attempts (the website's --metrics). */
  readonly stats?: RenewalStats;
}

const serialOf = (pem: string): string => new X509Certificate(pem).serialNumber;

/** When a certificate is due for renewal: two thirds into its lifetime. */
function renewAtMs(certPem: string): number {
  const x = new X509Certificate(certPem);
  const from = Date.parse(x.validFrom),
    to = Date.parse(x.validTo);
  return from + ((to - from) * 2) / 3;
}

/** What the store keeps: the account key for one directory, and the last certificate (chain and key) for its names. */
interface Kept {
  readonly version: 1;
  readonly directory: string;
  readonly domains: readonly string[];
  readonly accountKeyPem: string;
  readonly certPem?: string;
  readonly keyPem?: string;
}

/**
 * The ACME account key and the current certificate on a block device (src/storage's SlotStore: two alternating
 * slots with a CRC, so a torn write leaves the previous copy). A store that cannot be read — damaged, someone
 * else's, written for another directory or other names — is reported in the log and the website orders anew
 * (and writes over it); it never stops the website.
 */
export class AcmeStore {
  private readonly slots: SlotStore;
  private readonly directory: string;
  private readonly domains: readonly string[];
  private readonly log: Logger;
  private kept: Kept | undefined;

  constructor(dev: BlockDevice, directory: string, domains: readonly string[], log: Logger) {
    this.slots = new SlotStore(dev);
    this.directory = directory;
    this.domains = domains;
    this.log = log;
    const raw = this.slots.load();
    if (this.slots.state === 'corrupt') {
      log.warn('acme-store-unreadable', {
        reason: 'neither slot has a valid header and checksum',
        fix: 'ordering a new certificate and writing over it; attach a zeroed file (truncate -s 1M store.img) to start clean',
      });
      return;
    }
    if (!raw) return;
    try {
      const k = JSON.parse(decoder.decode(raw)) as Kept;
      if (k.version !== 1 || typeof k.accountKeyPem !== 'string' || typeof k.directory !== 'string') throw new Error('not an ACME record');
      if (k.directory !== directory) {
        log.info('acme-store-other-directory', { stored: k.directory, now: directory });
        return;
      }
      createPrivateKey(k.accountKeyPem);
      this.kept = k;
    } catch (e) {
      log.warn('acme-store-unreadable', { reason: (e as Error).message, fix: 'ordering a new certificate and writing over it' });
    }
  }

  /** The stored account key for this directory, if any. */
  get accountKeyPem(): string | undefined {
    return this.kept?.accountKeyPem;
  }

  /** The stored certificate when it is for these names, parses, and is not yet due for renewal at `nowMs`. */
  certificate(nowMs: number): { issued: Issued; cert: TlsCertificate } | undefined {
    const k = this.kept;
    if (!k?.certPem || !k.keyPem) return undefined;
    if ([...k.domains].sort().join(',') !== [...this.domains].sort().join(',')) {
      this.log.info('acme-store-other-domains', { stored: k.domains.join(','), now: this.domains.join(',') });
      return undefined;
    }
    try {
      const cert = tlsCertificate(k.certPem, k.keyPem);
      const due = renewAtMs(k.certPem);
      if (nowMs >= due) {
        this.log.info('certificate-due', { serial: serialOf(k.certPem), renew_at: new Date(due).toISOString() });
        return undefined;
      }
      return { issued: { certPem: k.certPem, keyPem: k.keyPem, accountKeyPem: k.accountKeyPem }, cert };
    } catch (e) {
      this.log.warn('acme-store-unreadable', { reason: `stored certificate: ${(e as Error).message}`, fix: 'ordering a new certificate' });
      return undefined;
    }
  }

  /** Writes the account key and certificate; a failure is logged (the certificate still serves, a restart orders again). */
  save(issued: Issued): void {
    const k: Kept = {
      version: 1,
      directory: this.directory,
      domains: this.domains,
      accountKeyPem: issued.accountKeyPem,
      certPem: issued.certPem,
      keyPem: issued.keyPem,
    };
    const bytes = new TextEncoder().encode(JSON.stringify(k));
    const r = this.slots.save(bytes);
    if (r === 'ok') {
      this.kept = k;
      this.log.info('certificate-stored', { serial: serialOf(issued.certPem) });
    } else
      this.log.warn('acme-store-failed', {
        result: r,
        fix:
          r === 'full'
            ? `attach a larger store device (the record is ${bytes.length} bytes; it holds ${this.slots.capacity})`
            : 'check the store device',
      });
  }
}

const DAY_MS = 86_400_000;

/**
 * Issues a certificate now (a failure throws: the website does not start without one), then renews it at two thirds
 * of its lifetime, for ever: a failed renewal keeps the current certificate, warns (`renewal-failed`), and retries
 * with backoff (1 s doubling to an hour). While renewals fail, the approaching expiry is warned about too: once per
 * day left under 30 days (`certificate-expiring`, as for a certificate from files), then once as an error when it has
 * expired (`certificate-expired`; still served, there is no other). Returns the current certificate, read by each new
 * TLS connection: a renewal reaches new handshakes, and established connections keep theirs.
 */
export async function acmeCertificates(
  client: Pick<AcmeClient, 'issue'>,
  ctx: AcmeContext,
  store?: AcmeStore,
): Promise<() => TlsCertificate> {
  const kept = store?.certificate(ctx.nowMs());
  let issued: Issued;
  let cert: TlsCertificate;
  if (kept) {
    issued = kept.issued;
    cert = kept.cert;
    ctx.log.info('certificate-loaded', {
      subject: cert.subject,
      serial: serialOf(issued.certPem),
      expires: new Date(cert.validToMs).toISOString(),
      renew_at: new Date(renewAtMs(issued.certPem)).toISOString(),
    });
  } else {
    issued = await client.issue();
    cert = tlsCertificate(issued.certPem, issued.keyPem);
    ctx.log.info('certificate-issued', {
      subject: cert.subject,
      serial: serialOf(issued.certPem),
      expires: new Date(cert.validToMs).toISOString(),
    });
    store?.save(issued);
  }
  // The last expiry warning given for the certificate now served: days left (Infinity: none yet), or expired.
  let warnedDays = Number.POSITIVE_INFINITY,
    warnedExpired = false;
  const warnExpiry = (): void => {
    const leftMs = cert.validToMs - ctx.nowMs();
    const facts = { subject: cert.subject, serial: serialOf(issued.certPem), expires: new Date(cert.validToMs).toISOString() };
    if (leftMs <= 0) {
      if (!warnedExpired)
        ctx.log.error('certificate-expired', { ...facts, hint: 'renewal keeps failing (renewal-failed says why); clients now refuse it' });
      warnedExpired = true;
      return;
    }
    const days = Math.floor(leftMs / DAY_MS);
    if (days < 30 && days < warnedDays) {
      ctx.log.warn('certificate-expiring', { ...facts, days_left: days, hint: 'renewal is failing (renewal-failed says why)' });
      warnedDays = days;
    }
  };
  const renewals = async (): Promise<void> => {
    for (;;) {
      warnedDays = Number.POSITIVE_INFINITY;
      warnedExpired = false;
      const due = renewAtMs(issued.certPem);
      while (ctx.nowMs() < due) await ctx.sleep(Math.min(due - ctx.nowMs(), 3_600_000));
      for (let backoff = 1000; ; backoff = Math.min(backoff * 2, 3_600_000)) {
        try {
          const next = await client.issue();
          const nextCert = tlsCertificate(next.certPem, next.keyPem);
          issued = next;
          cert = nextCert;
          ctx.log.info('certificate-renewed', { serial: serialOf(next.certPem), expires: new Date(cert.validToMs).toISOString() });
          if (ctx.stats) {
            ctx.stats.renewals++;
            ctx.stats.failing = 0;
          }
          store?.save(next);
          break;
        } catch (e) {
          if (ctx.stats) {
            ctx.stats.failures++;
            ctx.stats.failing++;
          }
          ctx.log.warn('renewal-failed', {
            reason: (e as Error).message,
            serving: serialOf(issued.certPem),
            seconds_left: Math.floor((cert.validToMs - ctx.nowMs()) / 1000),
            retry_s: backoff / 1000,
          });
          warnExpiry();
          await ctx.sleep(backoff);
        }
      }
    }
  };
  void renewals();
  return () => cert;
}

/** The HTTP-01 answers, before anything else on port 80 (also before a redirect to HTTPS). */
export function withChallenges(client: AcmeClient, next: HttpHandler): HttpHandler {
  return (req, from) => {
    const path = req.target.split('?')[0] ?? '';
    const answer = path.startsWith(CHALLENGE_PREFIX) ? client.challenges.get(path.slice(CHALLENGE_PREFIX.length)) : undefined;
    if (answer === undefined) return next(req, from);
    return { status: 200, headers: [['Content-Type', 'application/octet-stream']], body: new TextEncoder().encode(answer) };
  };
}
