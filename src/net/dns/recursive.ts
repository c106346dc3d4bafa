/**
 * A caching resolver (RFC 1034 §5.3.3, RFC 1035 §7): iterative resolution
 * from root hints, or forwarding to upstream servers. Answers and referrals
 * are cached by TTL (capped); what a server says is believed only inside
 * its bailiwick — the zone it was asked about as a delegation — so a
 * server for `example.` cannot plant records for `bank.` (the Kaminsky
 * class of poisoning). Each query uses a fresh random source port and ID
 * (the querier's job). Work per resolution is bounded: queries, referral
 * depth, CNAME hops and nested name-server lookups.
 */
import type { Clock } from '../../devices/index.ts';
import { canonicalName, isSubdomain, nameToLabels, labelsToName, RCODE, TYPE, type DnsMessage, type DnsRecord } from '../../wire/dns.ts';
import { DnsCache, rrsets } from './cache.ts';
import type { DnsQuerier } from './query.ts';
import { absolute, chase } from './stub.ts';

export interface RootHint {
  readonly name: string;
  readonly address: string;
}

export interface RecursiveOptions {
  readonly querier: DnsQuerier;
  readonly clock: Clock;
  /** Iterative mode: where to start. */
  readonly rootHints?: readonly RootHint[];
  /** Forwarding mode: ask these recursive servers instead. */
  readonly forwarders?: readonly string[];
  readonly cache?: DnsCache;
  readonly timeoutMs?: number;
  /** Queries one resolution may send (default 40). */
  readonly maxQueries?: number;
  /** Ask `forwarders`/servers on this port (default 53; tests use others). */
  readonly port?: number;
  /** Ask each server only about the next label (RFC 9156, default true): the root learns `com.`, not the whole name. */
  readonly qnameMinimisation?: boolean;
}

export interface RecursiveAnswer {
  readonly rcode: number;
  readonly answers: DnsRecord[];
  readonly authority: DnsRecord[];
  readonly fromCache: boolean;
}

interface Budget {
  queries: number;
}

const MAX_CNAME = 8;
/** Minimised questions per zone before asking the whole name (RFC 9156 §2.3's MAX_MINIMISE_COUNT). */
const MAX_MINIMISE_STEPS = 10;
const MAX_DEPTH = 6;

export class RecursiveResolver {
  private readonly o: RecursiveOptions;
  readonly cache: DnsCache;
  readonly counters = { resolutions: 0, coalesced: 0, upstreamQueries: 0, outOfBailiwick: 0, servfail: 0, stale: 0, cacheAnswers: 0 };
  private readonly inflight = new Map<string, Promise<RecursiveAnswer>>();

  constructor(o: RecursiveOptions) {
    if (!o.rootHints?.length && !o.forwarders?.length) throw new Error('a resolver needs root hints or forwarders');
    this.o = o;
    this.cache = o.cache ?? new DnsCache();
  }

  private now(): bigint {
    return this.o.clock.monotonicNs();
  }

  /** Resolutions under way (identical questions count once). */
  get pending(): number {
    return this.inflight.size;
  }

  /**
   * Resolves `name`/`type`; SERVFAIL when every server failed or a bound was
   * hit. Identical questions in flight share one resolution, so a flood of
   * them cannot multiply upstream queries (nor the chances of a spoofed
   * answer landing, RFC 5452 §5).
   */
  resolve(name: string, type: number): Promise<RecursiveAnswer> {
    const key = `${canonicalName(absolute(name))}|${type}`;
    const pending = this.inflight.get(key);
    if (pending) {
      this.counters.coalesced++;
      return pending;
    }
    this.counters.resolutions++;
    const p = this.resolveIn(absolute(name), type, { queries: this.o.maxQueries ?? 40 }, 0)
      .then((r) => {
        if (r.rcode !== RCODE.SERVFAIL) return r;
        // Serve-stale (RFC 8767): an expired answer beats none when the servers cannot be reached.
        const stale = this.cache.getStale(absolute(name), type, this.now());
        if (stale) {
          this.counters.stale++;
          return { rcode: stale.rcode, answers: stale.records, authority: stale.soa ? [stale.soa] : [], fromCache: true };
        }
        this.counters.servfail++;
        return r;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async resolveIn(name: string, type: number, budget: Budget, depth: number): Promise<RecursiveAnswer> {
    const answers: DnsRecord[] = [];
    let cur = name;
    let fromCache = true;
    for (let hop = 0; hop <= MAX_CNAME; hop++) {
      const r = await this.resolveOne(cur, type, budget, depth);
      if (!r.fromCache) fromCache = false;
      answers.push(...r.answers);
      if (r.rcode !== RCODE.NOERROR) return { ...r, answers, fromCache };
      const end = chase(r.answers, cur, type);
      if (end.records.length || type === TYPE.CNAME) return { rcode: RCODE.NOERROR, answers, authority: r.authority, fromCache };
      // The chain stopped at a name whose data we do not have yet: go on from there.
      if (canonicalName(end.name) === canonicalName(cur) && !r.answers.some((x) => x.type === TYPE.CNAME)) {
        return { rcode: RCODE.NOERROR, answers, authority: r.authority, fromCache };
      }
      cur = end.name;
    }
    return { rcode: RCODE.SERVFAIL, answers: [], authority: [], fromCache: false };
  }

  /** One name, no CNAME chasing beyond what the answer carries. */
  private async resolveOne(name: string, type: number, budget: Budget, depth: number): Promise<RecursiveAnswer> {
    const now = this.now();
    const hit = this.cache.get(name, type, now);
    if (hit) {
      this.counters.cacheAnswers++;
      return { rcode: hit.rcode, answers: hit.records, authority: hit.soa ? [hit.soa] : [], fromCache: true };
    }
    if (type !== TYPE.CNAME) {
      const c = this.cache.cname(name, now);
      if (c) return { rcode: RCODE.NOERROR, answers: [c], authority: [], fromCache: true };
    }
    if (this.o.forwarders?.length) return this.forward(name, type, budget);
    return this.iterate(name, type, budget, depth);
  }

  private async forward(name: string, type: number, budget: Budget): Promise<RecursiveAnswer> {
    for (const f of this.o.forwarders!) {
      if (budget.queries-- <= 0) break;
      this.counters.upstreamQueries++;
      let r: DnsMessage;
      try {
        r = await this.o.querier.query(f, name, type, { rd: true, timeoutMs: this.o.timeoutMs, port: this.o.port });
      } catch {
        continue;
      }
      if (r.rcode !== RCODE.NOERROR && r.rcode !== RCODE.NXDOMAIN) continue;
      // A forwarder is trusted for everything it answers about this question's chain.
      const answers = keepChain(r.answers, name);
      this.cacheAnswer(name, type, r.rcode, answers, r.authority);
      return { rcode: r.rcode, answers, authority: r.authority.filter((x) => x.type === TYPE.SOA), fromCache: false };
    }
    return { rcode: RCODE.SERVFAIL, answers: [], authority: [], fromCache: false };
  }

  /** The closest enclosing zone whose name servers we know (cached NS with addresses), else the root. */
  private closestServers(name: string): { zone: string; servers: { name: string; address: string | undefined }[] } {
    const now = this.now();
    const labels = nameToLabels(name) ?? [];
    for (let i = 0; i <= labels.length; i++) {
      const zone = labelsToName(labels.slice(i));
      const ns = this.cache.get(zone, TYPE.NS, now);
      if (!ns || ns.records.length === 0) continue;
      const servers: { name: string; address: string | undefined }[] = [];
      for (const r of ns.records) {
        if (r.data.kind !== 'NS') continue;
        const target = r.data.target;
        const a = this.cache.get(target, TYPE.A, now);
        const addrs = a?.records.flatMap((x) => (x.data.kind === 'A' ? [x.data.address] : [])) ?? [];
        if (addrs.length) for (const address of addrs) servers.push({ name: target, address });
        else servers.push({ name: target, address: undefined });
      }
      servers.sort((a, b) => (a.address ? 0 : 1) - (b.address ? 0 : 1));
      // Servers that have no address and are named inside their own zone cannot be reached from here
      // (their address is needed to ask the zone for it): the zone above is the closest one that works.
      // Without this, a cached `. NS` without the root servers' addresses made every resolution SERVFAIL.
      if (servers.some((s) => s.address !== undefined || !isSubdomain(s.name, zone))) return { zone, servers };
    }
    return { zone: '.', servers: this.o.rootHints!.map((h) => ({ name: h.name, address: h.address })) };
  }

  private async iterate(name: string, type: number, budget: Budget, depth: number): Promise<RecursiveAnswer> {
    let { zone, servers } = this.closestServers(name);
    const minimise = this.o.qnameMinimisation ?? true;
    // RFC 9156: each server is asked about one label more than the zone it serves, until the name is reached.
    let ask = minimise ? oneLabelBelow(name, zone) : name;
    let steps = 0;
    for (let rounds = 0; rounds < 32; rounds++) {
      const full = canonicalName(ask) === canonicalName(name);
      const qtype = full ? type : TYPE.A;
      let progressed = false;
      for (const s of servers) {
        let address = s.address;
        if (address === undefined) {
          // No glue: resolve the server's own name first (bounded by depth).
          if (depth >= MAX_DEPTH || isSubdomain(s.name, zone)) continue;
          const a = await this.resolveIn(absolute(s.name), TYPE.A, budget, depth + 1);
          const got = chase(a.answers, s.name, TYPE.A).records.find((x) => x.data.kind === 'A');
          if (got?.data.kind !== 'A') continue;
          address = got.data.address;
        }
        if (budget.queries-- <= 0) return { rcode: RCODE.SERVFAIL, answers: [], authority: [], fromCache: false };
        this.counters.upstreamQueries++;
        let r: DnsMessage;
        try {
          r = await this.o.querier.query(address, ask, qtype, { rd: false, timeoutMs: this.o.timeoutMs, tries: 1, port: this.o.port });
        } catch {
          continue; // Try the next server of this zone.
        }
        if (r.rcode !== RCODE.NOERROR && r.rcode !== RCODE.NXDOMAIN) continue;
        const inZone = (x: DnsRecord): boolean => {
          const ok = isSubdomain(x.name, zone);
          if (!ok) this.counters.outOfBailiwick++;
          return ok;
        };
        // A referral: NS for a zone below the one we asked, on the way to the name.
        const ns = r.authority.filter((x) => x.type === TYPE.NS && x.data.kind === 'NS');
        const cut = ns[0]?.name;
        const referral =
          !r.aa &&
          r.rcode === RCODE.NOERROR &&
          cut !== undefined &&
          isSubdomain(ask, cut) &&
          isSubdomain(cut, zone) &&
          canonicalName(cut) !== canonicalName(zone);
        if (!full && !referral) {
          // A minimised question answered without a referral: no zone cut here. Go one label
          // further; on NXDOMAIN or anything odd, ask the whole name (the relaxed mode of RFC 9156 §3).
          ask = r.rcode === RCODE.NOERROR && ++steps < MAX_MINIMISE_STEPS ? oneLabelBelow(name, ask) : name;
          progressed = true;
          break;
        }
        if (full && !referral) {
          const answers = keepChain(r.answers, name).filter(inZone);
          const soa = r.authority.filter((x) => x.type === TYPE.SOA && inZone(x));
          if (r.rcode === RCODE.NXDOMAIN || answers.length || r.aa) {
            this.cacheAnswer(name, type, r.rcode, answers, soa);
            return { rcode: r.rcode, answers, authority: soa, fromCache: false };
          }
          this.counters.outOfBailiwick += ns.length ? 1 : 0;
          continue; // Lame or upward referral: not progress.
        }
        const nsSet = ns.filter((x) => canonicalName(x.name) === canonicalName(cut!));
        const now = this.now();
        this.cache.putRRset(cut!, TYPE.NS, nsSet, now);
        // Glue is believed only for names inside the zone that was asked (the referring server's bailiwick).
        for (const set of rrsets(r.additional.filter((x) => x.type === TYPE.A || x.type === TYPE.AAAA)).values()) {
          if (
            isSubdomain(set.name, zone) &&
            nsSet.some((n) => n.data.kind === 'NS' && canonicalName(n.data.target) === canonicalName(set.name))
          ) {
            this.cache.putRRset(set.name, set.type, set.records, now);
          } else {
            this.counters.outOfBailiwick++;
          }
        }
        ({ zone, servers } = this.closestServers(name));
        ask = minimise ? oneLabelBelow(name, zone) : name;
        steps = 0;
        progressed = true;
        break;
      }
      if (!progressed) break;
    }
    return { rcode: RCODE.SERVFAIL, answers: [], authority: [], fromCache: false };
  }

  private cacheAnswer(name: string, type: number, rcode: number, answers: readonly DnsRecord[], authority: readonly DnsRecord[]): void {
    const now = this.now();
    const soa = authority.find((x) => x.type === TYPE.SOA);
    // A denial speaks for the zone of its SOA only: a chain that leaves the zone (a CNAME to another
    // zone's name) says nothing about the name it ends at (RFC 2308 §5, RFC 6604 §3).
    const denies = (end: string): boolean => soa !== undefined && isSubdomain(end, soa.name);
    if (rcode === RCODE.NXDOMAIN) {
      // Names in the chain exist; the NXDOMAIN belongs to its end.
      const end = chase(answers, name, type).name;
      for (const set of rrsets(answers).values()) this.cache.putRRset(set.name, set.type, set.records, now);
      if (denies(end)) this.cache.putNegative(end, type, rcode, soa, now);
      return;
    }
    for (const set of rrsets(answers).values()) this.cache.putRRset(set.name, set.type, set.records, now);
    const end = chase(answers, name, type);
    if (end.records.length === 0 && !answers.some((x) => canonicalName(x.name) === canonicalName(end.name)) && denies(end.name)) {
      this.cache.putNegative(end.name, type, RCODE.NOERROR, soa, now);
    }
  }
}

/** `name` cut to one label more than `above` (or `name` itself when that is all there is). */
function oneLabelBelow(name: string, above: string): string {
  const n = nameToLabels(name) ?? [];
  const a = nameToLabels(above)?.length ?? 0;
  return n.length <= a + 1 ? name : labelsToName(n.slice(n.length - a - 1));
}

/** Only the records on the CNAME chain from `name` (anything else in the answer section is unasked-for). */
function keepChain(answers: readonly DnsRecord[], name: string): DnsRecord[] {
  const names = new Set<string>([canonicalName(name)]);
  let grew = true;
  for (let i = 0; grew && i < MAX_CNAME + 1; i++) {
    grew = false;
    for (const r of answers) {
      if (r.data.kind === 'CNAME' && names.has(canonicalName(r.name)) && !names.has(canonicalName(r.data.target))) {
        names.add(canonicalName(r.data.target));
        grew = true;
      }
    }
  }
  return answers.filter((r) => names.has(canonicalName(r.name)));
}
