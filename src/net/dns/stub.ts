/**
 * The stub resolver every stack carries: asks the configured recursive
 * servers in turn (from DHCP or `--dns`), caches by TTL, and offers a
 * `getaddrinfo`-like `lookup(host)` that follows CNAMEs and returns
 * addresses, with errors named like Node's (`ENOTFOUND`, `ENODATA`,
 * `ETIMEOUT`, `ESERVFAIL`).
 */
import type { Clock } from '../../devices/index.ts';
import { parseIpv4Address } from '../../wire/ipv4.ts';
import { canonicalName, RCODE, rcodeName, TYPE, type DnsMessage, type DnsRecord } from '../../wire/dns.ts';
import { DnsCache } from './cache.ts';
import { type DnsQuerier, DnsQueryError } from './query.ts';

export type LookupCode = 'ENOTFOUND' | 'ENODATA' | 'ETIMEOUT' | 'ESERVFAIL' | 'ENOSERVERS';

export class DnsLookupError extends Error {
  readonly code: LookupCode;
  readonly hostname: string;
  constructor(code: LookupCode, hostname: string, detail: string) {
    super(`${code} ${hostname}: ${detail}`);
    this.code = code;
    this.hostname = hostname;
  }
}

export interface Resolution {
  readonly rcode: number;
  readonly answers: readonly DnsRecord[];
  readonly fromCache: boolean;
}

/** `example.com` → `example.com.` */
export function absolute(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

/**
 * Follows a CNAME chain inside `answers` from `name`; returns the records
 * of `type` at its end and the name they belong to.
 */
export function chase(answers: readonly DnsRecord[], name: string, type: number): { name: string; records: DnsRecord[] } {
  let cur = canonicalName(name);
  for (let i = 0; i < 16; i++) {
    const here = answers.filter((r) => canonicalName(r.name) === cur);
    const want = here.filter((r) => r.type === type);
    if (want.length) return { name: cur, records: want };
    const c = here.find((r) => r.type === TYPE.CNAME);
    if (c?.data.kind !== 'CNAME') break;
    cur = canonicalName(c.data.target);
  }
  return { name: cur, records: [] };
}

/** The record types `lookup` asks for, in order: AAAA for family 6, A then AAAA for 0, else A. */
function lookupTypes(family: number): number[] {
  if (family === 6) return [TYPE.AAAA];
  if (family === 0) return [TYPE.A, TYPE.AAAA];
  return [TYPE.A];
}

export interface StubResolverOptions {
  readonly querier: DnsQuerier;
  readonly clock: Clock;
  /** The recursive servers to ask, in order (read at each query: DHCP may change them). */
  readonly servers: () => readonly string[];
  readonly cache?: DnsCache;
  readonly timeoutMs?: number;
}

export class StubResolver {
  private readonly o: StubResolverOptions;
  readonly cache: DnsCache;

  constructor(o: StubResolverOptions) {
    this.o = o;
    this.cache = o.cache ?? new DnsCache();
  }

  /** Resolves one name and type through the cache and the servers. */
  async resolve(name: string, type: number): Promise<Resolution> {
    const fq = absolute(name);
    const now = this.o.clock.monotonicNs();
    const hit = this.cache.get(fq, type, now);
    if (hit) return { rcode: hit.rcode, answers: hit.records, fromCache: true };
    const servers = this.o.servers();
    if (servers.length === 0) throw new DnsLookupError('ENOSERVERS', name, 'no DNS servers: DHCP gave none and no --dns was given');
    let lastError = '';
    let timedOut = true;
    for (const server of servers) {
      let r: DnsMessage;
      try {
        r = await this.o.querier.query(server, fq, type, { timeoutMs: this.o.timeoutMs });
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
        if (!(e instanceof DnsQueryError && e.reason === 'timeout')) timedOut = false;
        continue;
      }
      if (r.rcode !== RCODE.NOERROR && r.rcode !== RCODE.NXDOMAIN) {
        timedOut = false;
        lastError = `${server} answered ${rcodeName(r.rcode)}`;
        continue;
      }
      this.remember(fq, type, r);
      return { rcode: r.rcode, answers: r.answers, fromCache: false };
    }
    throw new DnsLookupError(timedOut ? 'ETIMEOUT' : 'ESERVFAIL', name, lastError);
  }

  private remember(name: string, type: number, r: DnsMessage): void {
    const now = this.o.clock.monotonicNs();
    const soa = r.authority.find((x) => x.type === TYPE.SOA);
    const end = chase(r.answers, name, type);
    if (r.rcode === RCODE.NXDOMAIN || end.records.length === 0) {
      // The whole answer as given (a chain ending in nothing) under the question's key.
      if (r.answers.length === 0) this.cache.putNegative(name, type, r.rcode, soa, now);
      return;
    }
    // Cache the whole chain under the question, so a hit replays it, and each RRset by itself.
    const ttlFloor = Math.min(...r.answers.map((x) => x.ttl));
    this.cache.putRRset(
      name,
      type,
      r.answers.map((x) => ({ ...x, ttl: Math.min(x.ttl, ttlFloor) })),
      now,
    );
  }

  /**
   * Addresses for `host`, like getaddrinfo: an address literal comes back
   * as itself; a name is resolved (A, then AAAA when `family` allows).
   */
  async lookup(host: string, o: { family?: 0 | 4 | 6 } = {}): Promise<string[]> {
    if (parseIpv4Address(host) !== undefined) return [host];
    const family = o.family ?? 4;
    const out: string[] = [];
    let nx = false;
    for (const type of lookupTypes(family)) {
      const r = await this.resolve(host, type);
      if (r.rcode === RCODE.NXDOMAIN) {
        nx = true;
        break;
      }
      for (const rr of chase(r.answers, absolute(host), type).records) {
        if (rr.data.kind === 'A' || rr.data.kind === 'AAAA') out.push(rr.data.address);
      }
    }
    if (nx) throw new DnsLookupError('ENOTFOUND', host, 'no such name (NXDOMAIN)');
    if (out.length === 0) throw new DnsLookupError('ENODATA', host, 'the name exists but has no address records');
    return out;
  }
}
