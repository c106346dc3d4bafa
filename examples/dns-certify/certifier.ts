/**
 * What dns-certify does with a zone (see main.ts for the convention): the
 * requests found in it, checked; the published certificate that answers
 * each; an order by DNS-01 through the primary when there is none or it is
 * due; the certificate and its CA certificates published by UPDATE.
 */
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import * as pkijs from 'pkijs';
import { type DnsQuerier, deletion, sendUpdate, type PrimaryLink, type Zone } from 'fata/dns';
import { canonicalName, CLASS_IN, isSubdomain, TYPE, type DnsRecord } from 'fata/wire';
import type { Logger } from 'fata';
import { dns01Value, type AcmeClient, type ChallengeSolver } from '../website/acme.ts';

/** Where requests and certificates live: `_letsencrypt._tcp.` + the name. */
export const PREFIX = '_letsencrypt._tcp.';
/** TLSA usage/selector/matching of each kind of record (RFC 6698 §2.1). */
const CSR = [3, 255, 0] as const,
  CERT = [3, 0, 0] as const,
  CA = [0, 0, 0] as const;
const HOUR_MS = 3_600_000;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A TLSA record's fields, when `rr` is one. */
function tlsa(rr: DnsRecord): { usage: number; selector: number; matching: number; data: Uint8Array } | undefined {
  if (rr.type !== TYPE.TLSA || rr.data.kind !== 'raw' || rr.data.bytes.length < 3) return undefined;
  const b = rr.data.bytes;
  return { usage: b[0]!, selector: b[1]!, matching: b[2]!, data: b.subarray(3) };
}
/** Whether `rr` is a TLSA record of kind `k` (usage, selector, matching type); a TLSA too short to have them is none. */
const is = (rr: DnsRecord, k: readonly [number, number, number]): boolean => {
  const t = tlsa(rr);
  return t !== undefined && t.usage === k[0] && t.selector === k[1] && t.matching === k[2];
};
const tlsaRecord = (name: string, ttl: number, k: readonly [number, number, number], data: Uint8Array): DnsRecord => {
  const bytes = new Uint8Array(3 + data.length);
  bytes.set(k);
  bytes.set(data, 3);
  return { name, type: TYPE.TLSA, class: CLASS_IN, ttl, data: { kind: 'raw', bytes } };
};

/** What a CSR asks for: its names (subject CN and subjectAltName dNSNames, lower case) and its public key (SPKI, DER); or why it is refused. */
export async function readCsr(der: Uint8Array): Promise<{ names: string[]; spki: string } | { error: string }> {
  try {
    pkijs.setEngine(
      'node',
      new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto as unknown as pkijs.CryptoEngineParameters['crypto'] }),
    );
    const csr = pkijs.CertificationRequest.fromBER(der);
    if (!(await csr.verify())) return { error: 'its signature does not verify' };
    const names = new Set<string>();
    for (const tv of csr.subject.typesAndValues) if (tv.type === '2.5.4.3') names.add(String(tv.value.valueBlock.value).toLowerCase());
    for (const a of csr.attributes ?? []) {
      if (a.type !== '1.2.840.113549.1.9.14') continue;
      for (const v of a.values) {
        for (const e of new pkijs.Extensions({ schema: v }).extensions) {
          if (e.extnID !== '2.5.29.17' || !(e.parsedValue instanceof pkijs.AltName)) continue;
          for (const g of e.parsedValue.altNames) if (g.type === 2) names.add(String(g.value).toLowerCase());
        }
      }
    }
    if (names.size === 0) return { error: 'it names no host (no CN, no subjectAltName DNS name)' };
    return { names: [...names], spki: hex(new Uint8Array(csr.subjectPublicKeyInfo.toSchema().toBER(false))) };
  } catch (e) {
    return { error: `it is not a DER PKCS#10 request: ${(e as Error).message}` };
  }
}

/** A certificate's DNS names (subjectAltName), sorted. */
const certNames = (x: X509Certificate): string[] =>
  (x.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase())
    .sort();
const spkiOf = (x: X509Certificate): string => hex(x.publicKey.export({ type: 'spki', format: 'der' }));
/** Two thirds into a certificate's lifetime (wall ms). */
const renewAtMs = (x: X509Certificate): number => {
  const from = Date.parse(x.validFrom),
    to = Date.parse(x.validTo);
  return from + ((to - from) * 2) / 3;
};

/** One name's request as the scan found it. */
interface Request {
  readonly owner: string;
  readonly name: string;
  readonly apex: string;
  readonly ttl: number;
  readonly csrDer: Uint8Array;
  readonly names: string[];
  readonly spki: string;
  /** The published TLSA 3 0 0 and 0 0 0 records now at the owner (replaced by a new certificate). */
  readonly published: DnsRecord[];
}

/** Per owner: the request being served, whether an order runs, and when to look again. */
interface Job {
  csr: string;
  busy: boolean;
  /** Wall ms before which this request is not ordered again (a retry's backoff, or the new certificate's renewal). */
  notBeforeMs: number;
  backoffMs: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();
/** What to do about an UPDATE the primary refused. */
const hint = (err: string, link: PrimaryLink): string =>
  /REFUSED|BADKEY|BADSIG/.test(err)
    ? ` (the primary must know the key and let it update: --tsig=…:${link.tsig?.key.name ?? 'NAME'}:… --allow-update=${link.tsig?.key.name ?? 'NAME'})`
    : '';

/** The published certificate that answers `r` (its key and names), the latest if several; undefined when none does. */
function current(r: Request): X509Certificate | undefined {
  let best: X509Certificate | undefined;
  for (const rr of r.published) {
    if (!is(rr, CERT)) continue;
    try {
      const x = new X509Certificate(tlsa(rr)!.data);
      if (spkiOf(x) !== r.spki || certNames(x).join(',') !== [...r.names].sort().join(',')) continue;
      if (!best || renewAtMs(x) > renewAtMs(best)) best = x;
    } catch {
      // Not a certificate: replaced by the next one published.
    }
  }
  return best;
}

export interface CertifierOptions {
  readonly zones: readonly string[];
  /** The primary, for UPDATEs (over TCP, signed) and to see a challenge served (UDP). */
  readonly link: PrimaryLink;
  readonly querier: DnsQuerier;
  readonly acme: AcmeClient;
  readonly challengeTtl: number;
  /** Servers besides the primary (its secondaries) that must serve a challenge before the ACME server is told to look. */
  readonly waitFor: readonly { readonly address: string; readonly port: number }[];
  readonly log: Logger;
  readonly sleep: (ms: number) => Promise<void>;
  readonly wallMs: () => number;
}

/** The certificate requests of the watched zones, served. */
export class Certifier {
  private readonly o: CertifierOptions;
  private readonly jobs = new Map<string, Job>();
  /** CSRs already reported as refused (hex), so that a scan does not report them again. */
  private readonly refused = new Set<string>();
  /** When a scan has something to do next (wall ms): a renewal or a retry. */
  nextScanMs = Number.POSITIVE_INFINITY;

  constructor(o: CertifierOptions) {
    this.o = o;
  }

  private later(atMs: number): void {
    this.nextScanMs = Math.min(this.nextScanMs, atMs);
  }

  /** The most specific watched zone `name` is in. */
  private zoneOf(name: string): string | undefined {
    return this.o.zones.filter((z) => isSubdomain(name, z)).sort((a, b) => b.length - a.length)[0];
  }

  private challengeRecord(domain: string, keyAuthorization: string): DnsRecord {
    return {
      name: `_acme-challenge.${canonicalName(domain.replace(/\.$/, ''))}.`,
      type: TYPE.TXT,
      class: CLASS_IN,
      ttl: this.o.challengeTtl,
      data: { kind: 'TXT', strings: [new TextEncoder().encode(dns01Value(keyAuthorization))] },
    };
  }

  /** DNS-01 through the primary: the TXT added by UPDATE and waited for until the primary and the --wait-for servers serve it; removed again after. */
  private readonly dns01: ChallengeSolver = {
    type: 'dns-01',
    present: async (domain, keyAuthorization) => {
      const rr = this.challengeRecord(domain, keyAuthorization);
      const apex = this.zoneOf(rr.name);
      if (!apex) throw new Error(`${rr.name} is in none of the watched zones`);
      const err = await sendUpdate(this.o.link, apex, [rr]);
      if (err) throw new Error(`UPDATE adding ${rr.name} TXT: ${err}${hint(err, this.o.link)}`);
      this.o.log.info('challenge-added', { name: rr.name, zone: apex });
      const servers = [{ address: this.o.link.address, port: this.o.link.port }, ...this.o.waitFor];
      for (const server of servers) {
        for (let i = 0; !(await this.served(rr, server)); i++) {
          if (i === 30) throw new Error(`${server.address}:${server.port} does not serve ${rr.name} TXT 30 s after the UPDATE`);
          await this.o.sleep(1000);
        }
      }
      this.o.log.info('challenge-visible', { name: rr.name, servers: servers.map((x) => `${x.address}:${x.port}`).join(',') });
    },
    cleanup: async (domain, keyAuthorization) => {
      const rr = this.challengeRecord(domain, keyAuthorization);
      const apex = this.zoneOf(rr.name);
      const err = apex ? await sendUpdate(this.o.link, apex, [deletion(rr)]) : 'in no watched zone';
      if (err) this.o.log.warn('challenge-not-removed', { name: rr.name, error: err, fix: 'delete the TXT record by hand (knsupdate)' });
      else this.o.log.info('challenge-removed', { name: rr.name });
    },
  };

  /** Whether `server` answers `rr` (a TXT) now. */
  private async served(rr: DnsRecord, server: { address: string; port: number }): Promise<boolean> {
    const want = rr.data.kind === 'TXT' ? new TextDecoder().decode(rr.data.strings[0]) : '';
    try {
      const r = await this.o.querier.query(server.address, rr.name, TYPE.TXT, { rd: false, port: server.port });
      return r.answers.some((a) => a.data.kind === 'TXT' && a.data.strings.some((s) => new TextDecoder().decode(s) === want));
    } catch {
      return false;
    }
  }

  /** The requests in zone `z`, each checked; a refusal logged once. */
  private async requests(z: Zone): Promise<Request[]> {
    const owners = new Map<string, DnsRecord[]>();
    for (const rr of z.records) {
      const owner = canonicalName(rr.name);
      if (rr.type === TYPE.TLSA && owner.startsWith(PREFIX)) owners.set(owner, [...(owners.get(owner) ?? []), rr]);
    }
    const out: Request[] = [];
    for (const [owner, rrs] of owners) {
      const csrs = rrs.filter((rr) => is(rr, CSR));
      const csrDer = csrs[0] && tlsa(csrs[0])!.data;
      if (!csrDer || this.refused.has(hex(csrDer))) continue;
      if (csrs.length > 1) this.o.log.warn('csr-several', { owner, using: 'the first', fix: 'keep one TLSA 3 255 0 record per name' });
      const c = await readCsr(csrDer);
      const why = 'error' in c ? c.error : this.refusal(owner.slice(PREFIX.length), c.names);
      if (why !== undefined || 'error' in c) {
        this.refused.add(hex(csrDer));
        this.o.log.warn('csr-refused', { owner, reason: why });
        continue;
      }
      const published = rrs.filter((rr) => is(rr, CERT) || is(rr, CA));
      out.push({ owner, name: owner.slice(PREFIX.length), apex: z.apex, ttl: csrs[0]!.ttl, csrDer, ...c, published });
    }
    return out;
  }

  /** Why a request at `_letsencrypt._tcp.NAME` for `names` is not served, or undefined. */
  private refusal(name: string, names: readonly string[]): string | undefined {
    const host = name.slice(0, -1);
    if (!names.includes(host)) return `it does not name ${host} (it names ${names.join(',')})`;
    const outside = names.filter((n) => !this.zoneOf(`${n.replace(/^\*\./, '')}.`));
    return outside.length ? `it names ${outside.join(',')}, in no watched zone` : undefined;
  }

  /** Looks at every request in `z`: orders what has no current certificate, schedules the renewal of what has. */
  async scan(z: Zone): Promise<void> {
    for (const r of await this.requests(z)) {
      const now = this.o.wallMs();
      const have = current(r);
      let job = this.jobs.get(r.owner);
      if (have && now < renewAtMs(have)) {
        if (job?.csr !== hex(r.csrDer)) {
          // Found in the zone (at boot, or published by someone else): nothing to order before its renewal.
          this.jobs.set(r.owner, { csr: hex(r.csrDer), busy: false, notBeforeMs: renewAtMs(have), backoffMs: 1000 });
          this.o.log.info('certificate-current', { name: r.name, serial: have.serialNumber, renew_at: iso(renewAtMs(have)) });
        }
        this.later(renewAtMs(have));
        continue;
      }
      if (job?.csr !== hex(r.csrDer)) {
        job = { csr: hex(r.csrDer), busy: false, notBeforeMs: 0, backoffMs: 1000 };
        this.jobs.set(r.owner, job);
      }
      if (job.busy) continue;
      if (now < job.notBeforeMs) {
        this.later(job.notBeforeMs);
        continue;
      }
      if (have) this.o.log.info('certificate-due', { name: r.name, serial: have.serialNumber, renew_at: iso(renewAtMs(have)) });
      void this.certify(r, job);
    }
  }

  /** Orders a certificate for `r` and publishes it; on failure, tries again later. */
  private async certify(r: Request, job: Job): Promise<void> {
    job.busy = true;
    this.o.log.info('order-started', { name: r.name, names: r.names.join(',') });
    try {
      const chain = await this.o.acme.order(r.names, r.csrDer, this.dns01);
      const certs = (chain.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
      const leaf = certs[0];
      if (!leaf || spkiOf(leaf) !== r.spki) throw new Error('the ACME server issued a certificate for another key');
      const updates = [
        ...r.published.map(deletion),
        tlsaRecord(r.owner, r.ttl, CERT, leaf.raw),
        ...certs.slice(1).map((x) => tlsaRecord(r.owner, r.ttl, CA, x.raw)),
      ];
      const err = await sendUpdate(this.o.link, r.apex, updates);
      if (err) throw new Error(`UPDATE publishing the certificate: ${err}${hint(err, this.o.link)}`);
      job.notBeforeMs = renewAtMs(leaf);
      job.backoffMs = 1000;
      this.later(job.notBeforeMs);
      this.o.log.info('certificate-published', {
        name: r.name,
        serial: leaf.serialNumber,
        expires: iso(Date.parse(leaf.validTo)),
        renew_at: iso(job.notBeforeMs),
        chain: certs.length,
        sha256: createHash('sha256').update(leaf.raw).digest('hex'),
      });
    } catch (e) {
      job.notBeforeMs = this.o.wallMs() + job.backoffMs;
      this.later(job.notBeforeMs);
      this.o.log.warn('certify-failed', { name: r.name, reason: (e as Error).message, retry_s: job.backoffMs / 1000 });
      job.backoffMs = Math.min(job.backoffMs * 2, HOUR_MS);
    } finally {
      job.busy = false;
    }
  }
}
