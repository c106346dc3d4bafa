/**
 * A DNS cache that respects TTLs: positive RRsets by name and type, and
 * negative answers (NXDOMAIN for the whole name, NODATA per type) for the
 * SOA's negative TTL (RFC 2308 §5). TTLs are capped (a day by default, as
 * unbound's cache-max-ttl), and the entry count is bounded: the oldest
 * entry goes first. Time is passed in.
 */
import { canonicalName, RCODE, TYPE, type DnsRecord } from '../../wire/dns.ts';

export interface CacheHit {
  /** NOERROR (records may be empty: NODATA) or NXDOMAIN. */
  readonly rcode: number;
  /** With TTLs counted down to what is left. */
  readonly records: DnsRecord[];
  /** For negative answers: the SOA that justified them. */
  readonly soa: DnsRecord | undefined;
}

interface Entry {
  readonly rcode: number;
  readonly records: readonly DnsRecord[];
  readonly soa: DnsRecord | undefined;
  readonly storedNs: bigint;
  readonly expiresNs: bigint;
}

const S = 1_000_000_000n;
const ANY_TYPE = -1;

export interface DnsCacheOptions {
  readonly maxTtl?: number;
  /** Cap for negative answers (default 3 h, RFC 2308 §5's suggestion). */
  readonly maxNegativeTtl?: number;
  readonly maxEntries?: number;
  /**
   * Keep entries this many seconds past expiry for `getStale` (RFC 8767,
   * serve-stale; default 0: expired entries go at once).
   */
  readonly staleSeconds?: number;
}

/** The TTL a stale answer is given (RFC 8767 §4 suggests 30 s). */
export const STALE_TTL = 30;

export class DnsCache {
  private readonly map = new Map<string, Entry>();
  private readonly maxTtl: number;
  private readonly maxNegTtl: number;
  private readonly maxEntries: number;
  private readonly staleNs: bigint;
  hits = 0;
  misses = 0;

  constructor(o: DnsCacheOptions = {}) {
    this.maxTtl = o.maxTtl ?? 86400;
    this.maxNegTtl = o.maxNegativeTtl ?? 10800;
    this.maxEntries = o.maxEntries ?? 10000;
    this.staleNs = BigInt(o.staleSeconds ?? 0) * S;
  }

  get size(): number {
    return this.map.size;
  }

  private key(name: string, type: number): string {
    return `${canonicalName(name)}|${type}`;
  }

  private store(key: string, e: Entry): void {
    this.map.delete(key);
    this.map.set(key, e);
    while (this.map.size > this.maxEntries) this.map.delete(this.map.keys().next().value!);
  }

  /** Caches an RRset (all records share owner and type; the smallest TTL rules). */
  putRRset(name: string, type: number, records: readonly DnsRecord[], nowNs: bigint): void {
    if (records.length === 0) return;
    const ttl = Math.min(this.maxTtl, ...records.map((r) => r.ttl));
    if (ttl <= 0) return;
    this.store(this.key(name, type), {
      rcode: RCODE.NOERROR,
      records,
      soa: undefined,
      storedNs: nowNs,
      expiresNs: nowNs + BigInt(ttl) * S,
    });
  }

  /** Caches NXDOMAIN (every type) or NODATA (this type) for min(SOA TTL, SOA MINIMUM). */
  putNegative(name: string, type: number, rcode: number, soa: DnsRecord | undefined, nowNs: bigint): void {
    // Without an SOA there is no negative TTL: not cached (RFC 2308 §5).
    if (soa?.data.kind !== 'SOA') return;
    const ttl = Math.min(soa.ttl, soa.data.minimum, this.maxNegTtl);
    if (ttl <= 0) return;
    const t = rcode === RCODE.NXDOMAIN ? ANY_TYPE : type;
    this.store(this.key(name, t), { rcode, records: [], soa, storedNs: nowNs, expiresNs: nowNs + BigInt(ttl) * S });
  }

  get(name: string, type: number, nowNs: bigint): CacheHit | undefined {
    for (const t of [ANY_TYPE, type]) {
      const k = this.key(name, t);
      const e = this.map.get(k);
      if (!e) continue;
      if (e.expiresNs <= nowNs) {
        if (e.expiresNs + this.staleNs <= nowNs) this.map.delete(k);
        continue;
      }
      this.hits++;
      const age = Number((nowNs - e.storedNs) / S);
      const left = (r: DnsRecord): DnsRecord => ({ ...r, ttl: Math.max(0, Math.min(r.ttl, this.maxTtl) - age) });
      return { rcode: e.rcode, records: e.records.map(left), soa: e.soa && left(e.soa) };
    }
    this.misses++;
    return undefined;
  }

  /** An expired answer still inside the stale window, with TTLs of `STALE_TTL`; for when resolution fails. */
  getStale(name: string, type: number, nowNs: bigint): CacheHit | undefined {
    for (const t of [ANY_TYPE, type]) {
      const e = this.map.get(this.key(name, t));
      if (!e || e.expiresNs > nowNs || e.expiresNs + this.staleNs <= nowNs) continue;
      const stale = (r: DnsRecord): DnsRecord => ({ ...r, ttl: STALE_TTL });
      return { rcode: e.rcode, records: e.records.map(stale), soa: e.soa && stale(e.soa) };
    }
    return undefined;
  }

  /** A cached CNAME at `name`, if any (it answers every type but CNAME), its TTL counted down as `get` does. */
  cname(name: string, nowNs: bigint): DnsRecord | undefined {
    const e = this.map.get(this.key(name, TYPE.CNAME));
    const r = e?.records[0];
    if (!e || !r || e.expiresNs <= nowNs) return undefined;
    const age = Number((nowNs - e.storedNs) / S);
    return { ...r, ttl: Math.max(0, Math.min(r.ttl, this.maxTtl) - age) };
  }

  /** Drops expired entries; returns how many. */
  sweep(nowNs: bigint): number {
    let n = 0;
    for (const [k, e] of this.map)
      if (e.expiresNs + this.staleNs <= nowNs) {
        this.map.delete(k);
        n++;
      }
    return n;
  }
}

/** Groups records into RRsets by owner and type. */
export function rrsets(records: readonly DnsRecord[]): Map<string, { name: string; type: number; records: DnsRecord[] }> {
  const out = new Map<string, { name: string; type: number; records: DnsRecord[] }>();
  for (const r of records) {
    const k = `${canonicalName(r.name)}|${r.type}`;
    let s = out.get(k);
    if (!s) {
      s = { name: r.name, type: r.type, records: [] };
      out.set(k, s);
    }
    s.records.push(r);
  }
  return out;
}
