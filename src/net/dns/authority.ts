/**
 * An authoritative name server's answers (RFC 1034 §4.3.2, RFC 2308,
 * RFC 4592, RFC 5936): zones loaded from master files, exact matches,
 * CNAME chains inside the zone, referrals with glue at delegations,
 * NXDOMAIN and NODATA with the SOA in the authority section, wildcards
 * with closest-encloser rules (empty non-terminals block them), AXFR as a
 * sequence of messages, REFUSED for names outside every zone, FORMERR for
 * malformed queries, NOTIFY and UPDATE through the handlers passed in,
 * NOTIMP for other opcodes, BADVERS for EDNS above 0.
 *
 * `answer` is pure apart from the NOTIFY and UPDATE handlers passed in: bytes
 * in, bytes out, no clock and no I/O. So the answer to a plain query is kept,
 * keyed by every byte of the query after its ID (name with its case, type,
 * class, flags, EDNS size and DO bit) and the transport, from the second time
 * it is asked, and served again with the new query's ID until a zone changes (`setZone`, `setUnavailable`,
 * `removeZone` empty it); what is kept is bounded by `ANSWER_CACHE_BYTES`.
 */
import {
  canonicalName,
  CLASS_ANY,
  CLASS_IN,
  decodeDns,
  encodeDns,
  formErrFor,
  isDecodeError,
  isSubdomain,
  labelsToName,
  NAME_MAX,
  nameToLabels,
  OPCODE_QUERY,
  RCODE,
  replyTo,
  responseLimit,
  TYPE,
  type DnsMessage,
  type DnsQuestion,
  type DnsRecord,
} from '../../wire/dns.ts';
import { parseZone, type ZoneError } from './zone.ts';
import {
  appendUnsignedTsig,
  type Hmac,
  RCODE_NOTAUTH,
  signMessage,
  splitTsig,
  TSIG_ERROR,
  timeOther,
  tsigSize,
  type TsigKey,
  verifyTsig,
} from './tsig.ts';

export { EDNS_UDP_SIZE } from '../../wire/dns.ts';
const MAX_CNAME_CHAIN = 16;
/** RFC 6672 §2.2: a synthesized name longer than 255 octets. */
const RCODE_YXDOMAIN = 6;
/** RFC 1996 §3. */
export const OPCODE_NOTIFY = 4;
/** RFC 2136 §1.3. */
export const OPCODE_UPDATE = 5;
/** Per AXFR message, below the 65535 TCP limit with room for one large record. */
const AXFR_CHUNK = 16000;
const TYPE_TSIG = 250;
/** Verifying against no keys ends at BADKEY before any MAC is computed. */
const noHmac: Hmac = () => new Uint8Array(0);

type RRsets = Map<number, DnsRecord[]>;

/** What the answer cache holds at most (keys and answers); past it, it is emptied and fills again. */
export const ANSWER_CACHE_BYTES = 4 << 20;
/** Slots of the table of queries asked once (a power of two). */
const SEEN_SLOTS = 4096;
/** Queries longer than this are answered afresh (a plain query is a name, a header and an OPT record). */
const CACHE_QUERY_MAX = 320;
/** An answer kept: the query's bytes after its ID, the answer's bytes (the ID to be patched) and what it added to the counters. */
interface CachedAnswer {
  readonly query: Uint8Array;
  readonly transport: 'udp' | 'tcp';
  readonly bytes: Uint8Array;
  readonly nxdomain: number;
  readonly refused: number;
  readonly formerr: number;
  readonly truncated: number;
}

/** The cache's hash of a query: FNV-1a over every byte after the ID, and the transport. */
function cacheHash(query: Uint8Array, transport: 'udp' | 'tcp'): number {
  let h = transport === 'udp' ? 0x811c9dc5 : 0x050c5d1f;
  for (let i = 2; i < query.length; i++) h = Math.imul(h ^ query[i]!, 0x01000193);
  return h >>> 0;
}

/** Whether `e` was kept for `query` (its bytes after the ID) over `transport`. */
function keptFor(e: CachedAnswer, query: Uint8Array, transport: 'udp' | 'tcp'): boolean {
  const k = e.query;
  if (e.transport !== transport || k.length !== query.length - 2) return false;
  for (let i = 0; i < k.length; i++) if (k[i] !== query[i + 2]) return false;
  return true;
}

/** The first cut on the way down from the apex: a delegation, or a DNAME above the name (RFC 6672 §3.2). */
type Cut = { readonly kind: 'ns'; readonly owner: string } | { readonly kind: 'dname'; readonly owner: string; readonly rr: DnsRecord };

/** A DNAME's target from its RDATA (a raw uncompressed name, or `\# …` data); undefined when malformed. */
export function dnameTarget(rr: DnsRecord): string | undefined {
  if (rr.data.kind !== 'raw') return undefined;
  const b = rr.data.bytes;
  const labels: Uint8Array[] = [];
  let at = 0;
  while (at < b.length && b[at]! !== 0) {
    const l = b[at]!;
    if (l > 63 || at + 1 + l >= b.length) return undefined;
    labels.push(b.subarray(at + 1, at + 1 + l));
    at += 1 + l;
  }
  return at === b.length - 1 ? labelsToName(labels) : undefined;
}

/** Duplicate records are one record (RFC 2181 §5): same owner, type and data, names compared without case. */
export function recordKey(rr: DnsRecord): string {
  return `${canonicalName(rr.name)} ${rr.type} ${JSON.stringify(rr.data).toLowerCase()}`;
}

export class Zone {
  readonly apex: string;
  readonly soa: DnsRecord;
  /** Canonical owner → type → records. */
  private readonly nodes = new Map<string, RRsets>();
  /** Every owner and every name between an owner and the apex (empty non-terminals). */
  private readonly exists = new Set<string>();
  readonly records: readonly DnsRecord[];

  private constructor(apex: string, soa: DnsRecord, records: DnsRecord[]) {
    this.apex = apex;
    this.soa = soa;
    this.records = records;
    for (const rr of records) {
      // NSEC3 owners (and their signatures) stay out of the name tree: answered as if they did not exist (RFC 5155 §7.2.8).
      if (
        rr.type === TYPE.NSEC3 ||
        (rr.type === TYPE.RRSIG && rr.data.kind === 'raw' && rr.data.bytes[0] === 0 && rr.data.bytes[1] === TYPE.NSEC3)
      )
        continue;
      const key = canonicalName(rr.name);
      let n = this.nodes.get(key);
      if (!n) {
        n = new Map();
        this.nodes.set(key, n);
      }
      let set = n.get(rr.type);
      if (!set) {
        set = [];
        n.set(rr.type, set);
      }
      set.push(rr);
      for (let name: string | undefined = key; name !== undefined && isSubdomain(name, apex); name = parent(name)) {
        if (this.exists.has(name)) break;
        this.exists.add(name);
      }
      if ((rr.type === TYPE.NS && key !== apex) || rr.type === TYPE.DNAME) this.cutOwners.add(key);
    }
  }

  /** Owners of NS records below the apex and of DNAMEs: where `cut` must look (most zones have few). */
  private readonly cutOwners = new Set<string>();

  /**
   * Builds a zone from records. Returns errors (not throws) for a zone an
   * operator wrote wrong: no SOA at the apex, records outside the zone, a
   * CNAME beside other data.
   */
  static fromRecords(apex: string, records: readonly DnsRecord[]): Zone | { errors: string[] } {
    const a = canonicalName(apex);
    const errors: string[] = [];
    const soas = records.filter((r) => r.type === TYPE.SOA && canonicalName(r.name) === a);
    if (soas.length !== 1) errors.push(`zone ${apex} needs exactly one SOA record at its apex (found ${soas.length})`);
    const kept: DnsRecord[] = [];
    const types = new Map<string, Set<number>>();
    const seen = new Set<string>();
    for (const rr of records) {
      const key = recordKey(rr);
      if (seen.has(key)) continue;
      seen.add(key);
      if (!isSubdomain(rr.name, a)) {
        errors.push(`${rr.name} is outside zone ${apex}`);
        continue;
      }
      if (rr.class !== CLASS_IN) {
        errors.push(`${rr.name}: only class IN is served`);
        continue;
      }
      const k = canonicalName(rr.name);
      let t = types.get(k);
      if (!t) {
        t = new Set();
        types.set(k, t);
      }
      t.add(rr.type);
      kept.push(rr);
    }
    for (const [name, t] of types) {
      if (t.has(TYPE.CNAME) && t.size > 1) errors.push(`${name} has a CNAME and other records; a CNAME must stand alone (RFC 1034 §3.6.2)`);
    }
    if (!types.get(a)?.has(TYPE.NS)) errors.push(`zone ${apex} needs NS records at its apex`);
    if (errors.length) return { errors };
    return new Zone(a, soas[0]!, kept);
  }

  /** Parses a master file into a zone; errors carry line numbers. */
  static parse(apex: string, text: string): Zone | { errors: string[] } {
    const p = parseZone(text, apex);
    if (p.errors.length) return { errors: p.errors.map((e: ZoneError) => `line ${e.line}: ${e.message}`) };
    return Zone.fromRecords(apex, p.records);
  }

  get(name: string, type: number): DnsRecord[] | undefined {
    return this.nodes.get(canonicalName(name))?.get(type);
  }
  node(name: string): RRsets | undefined {
    return this.nodes.get(canonicalName(name));
  }
  has(name: string): boolean {
    return this.exists.has(canonicalName(name));
  }

  /** The records a negative answer carries: the SOA with TTL min(TTL, MINIMUM) (RFC 2308 §3). */
  negativeSoa(): DnsRecord {
    const s = this.soa;
    const min = s.data.kind === 'SOA' ? s.data.minimum : s.ttl;
    return { ...s, ttl: Math.min(s.ttl, min) };
  }

  /**
   * Walking down from the apex towards `name`: the first delegation (NS
   * below the apex, at `name` or above it) or DNAME (at the apex or below,
   * strictly above `name`: a DNAME does not redirect its own owner). With
   * `ds`, a delegation at `name` itself is not a cut: the parent answers
   * for the DS records there (RFC 4035 §3.1.4.1).
   */
  cut(name: string, ds = false): Cut | undefined {
    if (this.cutOwners.size === 0) return undefined;
    const n = canonicalName(name);
    if (n.includes('\\')) return this.cutByLabels(name, ds);
    // Suffixes of a plain name start after each dot; from the apex down, the name itself last.
    const starts = [0];
    for (let i = n.indexOf('.'); i >= 0 && i < n.length - 1; i = n.indexOf('.', i + 1)) starts.push(i + 1);
    for (let k = starts.length - 1; k >= 0; k--) {
      const owner = n.slice(starts[k]);
      if (owner.length < this.apex.length || !this.cutOwners.has(owner)) continue;
      const node = this.nodes.get(owner)!;
      if (owner !== this.apex && !(ds && k === 0) && node.has(TYPE.NS)) return { kind: 'ns', owner };
      const dname = k > 0 ? node.get(TYPE.DNAME) : undefined;
      if (dname) return { kind: 'dname', owner, rr: dname[0]! };
    }
    return undefined;
  }

  /** `cut` for names with escapes, label by label. */
  private cutByLabels(name: string, ds: boolean): Cut | undefined {
    const labels = nameToLabels(name);
    const apexLabels = nameToLabels(this.apex)!.length;
    if (!labels || labels.length < apexLabels) return undefined;
    for (let i = labels.length - apexLabels; i >= 0; i--) {
      const owner = labelsToName(labels.slice(i));
      const node = this.node(owner);
      if (!node) continue;
      if (i < labels.length - apexLabels && !(ds && i === 0) && node.has(TYPE.NS)) return { kind: 'ns', owner };
      const dname = i > 0 ? node.get(TYPE.DNAME) : undefined;
      if (dname) return { kind: 'dname', owner, rr: dname[0]! };
    }
    return undefined;
  }

  /** The highest zone cut strictly below the apex on the way to `name`, if any. */
  delegation(name: string): string | undefined {
    const labels = nameToLabels(name);
    const apexLabels = nameToLabels(this.apex)!.length;
    if (!labels) return undefined;
    for (let i = labels.length - apexLabels - 1; i >= 0; i--) {
      const n = labelsToName(labels.slice(i));
      if (this.get(n, TYPE.NS)) return n;
    }
    return undefined;
  }
}

function parent(name: string): string | undefined {
  const l = nameToLabels(name);
  return l?.length ? labelsToName(l.slice(1)) : undefined;
}

export interface AnswerOptions {
  /** 'udp' limits the size and sets TC; 'tcp' allows AXFR. */
  readonly transport: 'udp' | 'tcp';
  /** Whether transfers are served to anyone (default false: REFUSED, as NSD without provide-xfr), signed or not. */
  readonly allowAxfr?: boolean;
  /**
   * TSIG (RFC 8945): the keys this server knows, the HMAC, and the wall
   * clock in seconds. A message signed with one of them is answered signed,
   * and may transfer zones whatever `allowAxfr` says. Without it, a signed
   * message gets NOTAUTH with BADKEY.
   */
  readonly tsig?: { readonly keys: readonly TsigKey[]; readonly hmac: Hmac; readonly now: number };
  /**
   * A secondary's NOTIFY handler (RFC 1996): the zone's apex, the serial
   * the NOTIFY carried, the key it was signed with; returns the RCODE to
   * answer. Without it NOTIFY gets NOTIMP.
   */
  readonly notify?: (apex: string, serial: number | undefined, key: TsigKey | undefined) => number;
  /**
   * A primary's UPDATE handler (RFC 2136, `Updates.handle` in ./update.ts):
   * the message with its TSIG removed and the key it was signed with;
   * returns the RCODE to answer. Without it UPDATE gets NOTIMP.
   */
  readonly update?: (m: DnsMessage, key: TsigKey | undefined) => number;
}

export interface AuthorityCounters {
  queries: number;
  /** Signed messages refused: NOTAUTH with BADKEY, BADSIG, BADTIME or BADTRUNC. */
  tsigErrors: number;
  formerr: number;
  refused: number;
  nxdomain: number;
  truncated: number;
  axfr: number;
}

/** One version step of a zone, kept for IXFR (RFC 1995 §4): what went and what came, SOAs apart. */
export interface ZoneDiff {
  readonly from: DnsRecord;
  readonly to: DnsRecord;
  readonly deleted: readonly DnsRecord[];
  readonly added: readonly DnsRecord[];
}

/** Differences kept per zone; an IXFR from a serial older than the oldest gets the whole zone. */
const JOURNAL_MAX = 64;

const soaSerial = (rr: DnsRecord): number => (rr.data.kind === 'SOA' ? rr.data.serial : 0);

/** What changed from `a` to `b`, as records (duplicates compare as RFC 2181 §5 says; a new TTL is the record deleted and added again). */
export function zoneDiff(a: Zone, b: Zone): ZoneDiff {
  const key = (r: DnsRecord): string => `${recordKey(r)} ${r.ttl}`;
  const before = new Map(a.records.filter((r) => r !== a.soa).map((r) => [key(r), r]));
  const after = new Map(b.records.filter((r) => r !== b.soa).map((r) => [key(r), r]));
  return {
    from: a.soa,
    to: b.soa,
    deleted: [...before].filter(([k]) => !after.has(k)).map(([, r]) => r),
    added: [...after].filter(([k]) => !before.has(k)).map(([, r]) => r),
  };
}

export class Authority {
  private zones: Zone[];
  /** Zones this server is a secondary for but does not hold now (not transferred yet, or expired): SERVFAIL, as NSD. */
  private readonly unavailable = new Set<string>();
  private readonly journals = new Map<string, ZoneDiff[]>();
  /** Answers to plain queries (see the file's comment); emptied whenever a zone changes. */
  private readonly cache = new Map<number, CachedAnswer[]>();
  private cacheBytes = 0;
  /** Set by `respond` when the answer depends only on the query's bytes and the zones: a QUERY, not a transfer. */
  private cacheable = false;
  /** The hashes of queries answered afresh lately, one per slot: an answer is kept when its query comes again. */
  private readonly seen = new Uint32Array(SEEN_SLOTS);
  /** Answers served from the cache, and answers computed (each may have been stored). */
  readonly cacheCounters = { hits: 0, misses: 0 };
  readonly counters: AuthorityCounters = { queries: 0, tsigErrors: 0, formerr: 0, refused: 0, nxdomain: 0, truncated: 0, axfr: 0 };

  constructor(zones: readonly Zone[]) {
    // Longest apex first, so the most specific zone wins.
    this.zones = [...zones].sort((a, b) => b.apex.length - a.apex.length);
  }

  zoneFor(name: string): Zone | undefined {
    return this.zones.find((z) => isSubdomain(name, z.apex));
  }

  /** The zone whose apex is `apex`, if held. */
  zone(apex: string): Zone | undefined {
    const a = canonicalName(apex);
    return this.zones.find((z) => z.apex === a);
  }

  /**
   * Serves `z`, in place of the zone with its apex if there is one. When
   * its serial is newer (RFC 1982), the difference is kept for IXFR;
   * otherwise the zone's differences are forgotten.
   */
  setZone(z: Zone): void {
    this.forget();
    const old = this.zone(z.apex);
    this.unavailable.delete(z.apex);
    if (old && serialNewer(soaSerial(z.soa), soaSerial(old.soa))) {
      const j = this.journals.get(z.apex) ?? [];
      j.push(zoneDiff(old, z));
      if (j.length > JOURNAL_MAX) j.shift();
      this.journals.set(z.apex, j);
    } else this.journals.delete(z.apex);
    this.zones = [...this.zones.filter((x) => x !== old), z].sort((a, b) => b.apex.length - a.apex.length);
  }

  /** Stops serving the zone at `apex` (a secondary's zone that expired, or not yet transferred): its names get SERVFAIL. */
  setUnavailable(apex: string): void {
    this.forget();
    const a = canonicalName(apex);
    this.zones = this.zones.filter((z) => z.apex !== a);
    this.journals.delete(a);
    this.unavailable.add(a);
  }

  /** Stops holding the zone at `apex` (its file is gone from the primary's source): its names get REFUSED, as names outside every zone. */
  removeZone(apex: string): void {
    this.forget();
    const a = canonicalName(apex);
    this.zones = this.zones.filter((z) => z.apex !== a);
    this.journals.delete(a);
    this.unavailable.delete(a);
  }

  /** Empties the answer cache: a zone changed. */
  private forget(): void {
    this.cache.clear();
    this.cacheBytes = 0;
  }

  /** A held zone's differences, oldest first. */
  journal(apex: string): readonly ZoneDiff[] {
    return this.journals.get(canonicalName(apex)) ?? [];
  }

  /** True when `name` is in a zone we should hold but do not, and no held zone is more specific. */
  private isUnavailable(name: string, held: Zone | undefined): boolean {
    for (const a of this.unavailable) if (isSubdomain(name, a) && (!held || a.length > held.apex.length)) return true;
    return false;
  }

  /**
   * Answers one query message. Returns the response messages (several only
   * for AXFR), or none when the input must be ignored (a response, or too
   * short to carry an ID).
   */
  answer(query: Uint8Array, o: AnswerOptions): Uint8Array[] {
    const hit = this.kept(query, o.transport);
    if (hit) return [hit.slice()];
    return this.answerAfresh(query, o);
  }

  /**
   * The answer to `query` if it is a plain query whose answer was kept
   * (counted as `answer` counts it), else undefined and nothing counted: then
   * call `answer`. The bytes are borrowed, valid until the next call: send or
   * copy them at once.
   */
  kept(query: Uint8Array, transport: 'udp' | 'tcp'): Uint8Array | undefined {
    // A query (QR 0, opcode 0) of a plain size may have its answer kept: the header's third octet is QR, opcode, AA, TC, RD.
    if (query.length < 12 || query.length > CACHE_QUERY_MAX || (query[2]! & 0xf8) !== 0 || this.cache.size === 0) return undefined;
    const bucket = this.cache.get(cacheHash(query, transport));
    if (!bucket) return undefined;
    for (const e of bucket) {
      if (!keptFor(e, query, transport)) continue;
      const c = this.counters;
      c.queries++;
      this.cacheCounters.hits++;
      c.nxdomain += e.nxdomain;
      c.refused += e.refused;
      c.formerr += e.formerr;
      c.truncated += e.truncated;
      const r = e.bytes;
      r[0] = query[0]!;
      r[1] = query[1]!;
      return r;
    }
    return undefined;
  }

  /** `answer` when nothing was kept for the query. */
  private answerAfresh(query: Uint8Array, o: AnswerOptions): Uint8Array[] {
    this.counters.queries++;
    const q = decodeDns(query);
    if (isDecodeError(q)) {
      const f = formErrFor(query, q);
      if (!f) return [];
      this.counters.formerr++;
      return [f];
    }
    if (q.qr) return [];
    const split = splitTsig(query, q);
    if (split === 'none') {
      if (query.length > CACHE_QUERY_MAX || q.opcode !== OPCODE_QUERY) return this.respond(q, o, undefined, 0);
      return this.respondAndKeep(query, q, o);
    }
    const bare: DnsMessage = { ...q, additional: q.additional.filter((r) => r.type !== TYPE_TSIG) };
    if (split === 'formerr') {
      this.counters.formerr++;
      return [encodeDns(replyTo(bare, RCODE.FORMERR))];
    }
    const t = o.tsig;
    const v = verifyTsig(split, t?.keys ?? [], t?.hmac ?? noHmac, { now: t?.now ?? 0 });
    if (!v.ok) {
      this.counters.formerr += 'formerr' in v ? 1 : 0;
      if ('formerr' in v) return [encodeDns(replyTo(bare, RCODE.FORMERR))];
      this.counters.tsigErrors++;
      // RFC 8945 §5.3.2: key and MAC errors unsigned; time and truncation errors signed, BADTIME with our time.
      const msg = encodeDns(replyTo(bare, RCODE_NOTAUTH));
      if (!v.key || !t) return [appendUnsignedTsig(msg, v.record, v.error)];
      const badTime = v.error === TSIG_ERROR.BADTIME;
      return [
        signMessage(msg, v.key, t.hmac, {
          now: t.now,
          requestMac: v.record.mac,
          error: v.error,
          ...(badTime ? { other: timeOther(t.now), timeSigned: v.record.timeSigned } : {}),
        }).bytes,
      ];
    }
    const key = v.key;
    const hmac = t!.hmac;
    const now = t!.now;
    // RFC 8945 §5.3, §5.3.1: each response signed, the first over the request's MAC, each later one over the one before.
    let prior = v.record.mac;
    return this.respond(bare, o, key, tsigSize(key)).map((m, i) => {
      const s = signMessage(m, key, hmac, { now, requestMac: prior, timersOnly: i > 0 });
      prior = s.mac;
      return s.bytes;
    });
  }

  /** `respond` to an unsigned query, its answer kept when it depends on nothing but the query's bytes and the zones. */
  private respondAndKeep(query: Uint8Array, q: DnsMessage, o: AnswerOptions): Uint8Array[] {
    const c = this.counters;
    const before = [c.nxdomain, c.refused, c.formerr, c.truncated] as const;
    this.cacheable = false;
    const out = this.respond(q, o, undefined, 0);
    this.cacheCounters.misses++;
    if (!this.cacheable || out.length !== 1) return out;
    // Kept the second time it is asked (by its hash's slot): a query asked once (each name spelled anew, as a 0x20
    // resolver asks) would only fill the heap with answers that live long enough to make every collection copy them.
    const h = cacheHash(query, o.transport);
    const slot = h & (SEEN_SLOTS - 1);
    if (this.seen[slot] !== h) {
      this.seen[slot] = h;
      return out;
    }
    const bytes = out[0]!;
    const size = query.length + bytes.length + 128;
    if (this.cacheBytes + size > ANSWER_CACHE_BYTES) this.forget();
    this.cacheBytes += size;
    let bucket = this.cache.get(h);
    if (!bucket) {
      bucket = [];
      this.cache.set(h, bucket);
    }
    bucket.push({
      query: query.slice(2),
      transport: o.transport,
      bytes: bytes.slice(),
      nxdomain: c.nxdomain - before[0],
      refused: c.refused - before[1],
      formerr: c.formerr - before[2],
      truncated: c.truncated - before[3],
    });
    return out;
  }

  /** The answers to a decoded query; `key` when it was signed with it, `reserve` octets left free for the signature. */
  private respond(q: DnsMessage, o: AnswerOptions, key: TsigKey | undefined, reserve: number): Uint8Array[] {
    // The DO bit is copied into the response (RFC 3225 §3).
    const reply = (rcode: number): DnsMessage => {
      const m = replyTo(q, rcode, { edns: q.edns !== undefined });
      return q.edns?.dnssecOk && m.edns ? { ...m, edns: { ...m.edns, dnssecOk: true } } : m;
    };
    const limit = responseLimit(q, o.transport) - reserve;
    const out = (m: DnsMessage): Uint8Array[] => {
      const b = encodeDns(m, { maxSize: limit });
      if (b.length >= 3 && (b[2]! & 0x02) !== 0 && !m.tc) this.counters.truncated++;
      return [b];
    };
    if (q.edns && q.edns.version > 0) return out(reply(RCODE.BADVERS));
    if (q.opcode === OPCODE_NOTIFY && o.notify) return out(this.notified(q, o.notify, key, reply));
    // RFC 2136 §3.8: the answer echoes the zone section, and nothing else.
    if (q.opcode === OPCODE_UPDATE && o.update) return out(reply(o.update(q, key)));
    if (q.opcode !== OPCODE_QUERY) return out(reply(RCODE.NOTIMP));
    if (q.questions.length !== 1) {
      this.counters.formerr++;
      return out(reply(RCODE.FORMERR));
    }
    const question = q.questions[0]!;
    if (question.class !== CLASS_IN && question.class !== CLASS_ANY) {
      this.counters.refused++;
      return out(reply(RCODE.REFUSED));
    }
    if (question.type === TYPE.AXFR || question.type === TYPE.IXFR) return this.transfer(q, question, o, key !== undefined, reply, out);
    this.cacheable = true;
    const zone = this.zoneFor(question.name);
    if (this.unavailable.size > 0 && this.isUnavailable(question.name, zone)) return out(reply(RCODE.SERVFAIL));
    if (!zone) {
      this.counters.refused++;
      return out(reply(RCODE.REFUSED));
    }
    const r = lookup(zone, question);
    if (r.rcode === RCODE.NXDOMAIN) this.counters.nxdomain++;
    const q1 = question.name;
    return out({
      ...reply(r.rcode),
      aa: r.aa,
      answers: spelled(r.answers, q1),
      authority: spelled(r.authority, q1),
      additional: spelled(r.additional, q1),
    });
  }

  /**
   * NOTIFY (RFC 1996 §3.7): one question, SOA, for a zone apex; `notify`
   * (the secondary's) says what to answer. The reply echoes the question
   * with AA set, as NSD and Knot answer.
   */
  private notified(
    q: DnsMessage,
    notify: NonNullable<AnswerOptions['notify']>,
    key: TsigKey | undefined,
    reply: (rcode: number) => DnsMessage,
  ): DnsMessage {
    const question = q.questions[0];
    if (q.questions.length !== 1 || question?.type !== TYPE.SOA) {
      this.counters.formerr++;
      return reply(RCODE.FORMERR);
    }
    const soa = q.answers.find((r) => r.data.kind === 'SOA' && canonicalName(r.name) === canonicalName(question.name));
    const rcode = notify(canonicalName(question.name), soa?.data.kind === 'SOA' ? soa.data.serial : undefined, key);
    return { ...reply(rcode), aa: rcode === RCODE.NOERROR };
  }

  /**
   * AXFR (RFC 5936) and IXFR (RFC 1995) as NSD answers them: NOTAUTH for a
   * name that is not one of our apexes, NOTIMP for AXFR over UDP, REFUSED
   * unless transfers are allowed or the request is signed with one of our
   * keys (TSIG). IXFR from a serial not older than ours is the single SOA;
   * from one our journal reaches (the zone's versions since this server
   * started), the differences over TCP (§4); otherwise the whole zone
   * AXFR-style over TCP. Over UDP the single SOA sends the client to TCP
   * (§2).
   */
  private transfer(
    q: DnsMessage,
    question: DnsQuestion,
    o: AnswerOptions,
    signed: boolean,
    reply: (rcode: number) => DnsMessage,
    out: (m: DnsMessage) => Uint8Array[],
  ): Uint8Array[] {
    const zone = this.zones.find((z) => z.apex === canonicalName(question.name));
    if (!zone) {
      this.counters.refused++;
      return out(reply(RCODE_NOTAUTH));
    }
    const ixfr = question.type === TYPE.IXFR;
    if (!ixfr && o.transport !== 'tcp') return out(reply(RCODE.NOTIMP));
    if (!o.allowAxfr && !signed) {
      this.counters.refused++;
      return out(reply(RCODE.REFUSED));
    }
    const soaOnly = (): Uint8Array[] => out({ ...reply(RCODE.NOERROR), aa: true, answers: [{ ...zone.soa, name: zone.apex }] });
    if (ixfr) {
      const theirs = q.authority.find((r) => r.data.kind === 'SOA' && canonicalName(r.name) === zone.apex);
      const ours = zone.soa.data.kind === 'SOA' ? zone.soa.data.serial : 0;
      if (theirs?.data.kind === 'SOA' && !serialNewer(ours, theirs.data.serial)) return soaOnly();
      if (o.transport !== 'tcp') return soaOnly();
      const diffs = theirs?.data.kind === 'SOA' ? this.diffsFrom(zone.apex, theirs.data.serial, ours) : undefined;
      if (diffs) {
        this.counters.axfr++;
        const lower = (r: DnsRecord): DnsRecord => (r.name === canonicalName(r.name) ? r : { ...r, name: canonicalName(r.name) });
        const soa = lower(zone.soa);
        const seq = [soa, ...diffs.flatMap((d) => [lower(d.from), ...d.deleted.map(lower), lower(d.to), ...d.added.map(lower)]), soa];
        return chunked(q, question, seq);
      }
    }
    this.counters.axfr++;
    return axfr(q, question, zone);
  }

  /** The journal's differences from serial `from` to `to`, if it has each step. */
  private diffsFrom(apex: string, from: number, to: number): ZoneDiff[] | undefined {
    const j = this.journals.get(apex) ?? [];
    const i = j.findIndex((d) => soaSerial(d.from) === from);
    if (i < 0) return undefined;
    const run = j.slice(i);
    for (let k = 1; k < run.length; k++) if (soaSerial(run[k]!.from) !== soaSerial(run[k - 1]!.to)) return undefined;
    return soaSerial(run[run.length - 1]!.to) === to ? run : undefined;
  }
}

/**
 * `name` with the labels it shares at its end with the question spelled as
 * the question spells them: what NSD's compression does to every owner
 * (it points into the question case-insensitively), so `X.DName.Types.Test.`
 * gets the DNAME of `DName.Types.Test.` and the SOA of `Types.Test.`.
 */
export function spelledAs(name: string, qname: string): string {
  const n = nameToLabels(name),
    q = nameToLabels(qname);
  if (!n || !q) return name;
  let k = 0;
  while (k < n.length && k < q.length && sameLabel(n[n.length - 1 - k]!, q[q.length - 1 - k]!)) k++;
  return k === 0 ? name : labelsToName([...n.slice(0, n.length - k), ...q.slice(q.length - k)]);
}

function sameLabel(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!,
      y = b[i]!;
    if (x !== y && (x | 0x20) !== (y | 0x20)) return false;
    if (x !== y && ((x | 0x20) < 0x61 || (x | 0x20) > 0x7a)) return false;
  }
  return true;
}

/** Records with owners spelled as the question (spelledAs); untouched, and cheap, when all is lower case already. */
function spelled(rrs: DnsRecord[], qname: string): DnsRecord[] {
  if (rrs.length === 0 || qname === canonicalName(qname)) {
    if (rrs.every((r) => r.name === canonicalName(r.name))) return rrs;
  }
  return rrs.map((r) => {
    const name = spelledAs(r.name, qname);
    return name === r.name ? r : { ...r, name };
  });
}

/** RFC 1982 serial arithmetic: `a` is newer than `b`. */
export function serialNewer(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}

interface Lookup {
  rcode: number;
  aa: boolean;
  answers: DnsRecord[];
  authority: DnsRecord[];
  additional: DnsRecord[];
}

/** Copies records to a new owner (wildcard synthesis, or the query's own spelling). */
function owned(rrs: readonly DnsRecord[], name: string): DnsRecord[] {
  return rrs.map((r) => (r.name === name ? r : { ...r, name }));
}

function lookup(zone: Zone, question: DnsQuestion): Lookup {
  const res: Lookup = { rcode: RCODE.NOERROR, aa: true, answers: [], authority: [], additional: [] };
  let name = question.name;
  const seen = new Set<string>();
  for (let step = 0; step <= MAX_CNAME_CHAIN; step++) {
    seen.add(canonicalName(name));
    const c = zone.cut(name, question.type === TYPE.DS);
    if (c?.kind === 'dname') {
      const target = synthesize(name, c.owner, c.rr);
      res.answers.push(c.rr);
      if (target === undefined) {
        res.rcode = RCODE_YXDOMAIN;
        return res;
      }
      res.answers.push({ name, type: TYPE.CNAME, class: CLASS_IN, ttl: c.rr.ttl, data: { kind: 'CNAME', target } });
      if (question.type === TYPE.CNAME || !isSubdomain(target, zone.apex) || seen.has(canonicalName(target))) return res;
      name = target;
      continue;
    }
    if (c !== undefined) {
      // A referral: not authoritative for what lies below the cut (RFC 1034 §4.3.2 step 3b).
      if (step === 0) res.aa = false;
      const ns = zone.get(c.owner, TYPE.NS)!;
      res.authority.push(...ns);
      addGlue(
        zone,
        ns.map((r) => (r.data.kind === 'NS' ? r.data.target : '')),
        res.additional,
        true,
      );
      return res;
    }
    let node = zone.node(name);
    if (!node && !zone.has(name)) {
      const wild = wildcardFor(zone, name);
      if (wild) node = wild;
    }
    if (!node) {
      if (zone.has(name)) return negative(res, zone, RCODE.NOERROR);
      return negative(res, zone, RCODE.NXDOMAIN);
    }
    const cname = node.get(TYPE.CNAME);
    if (cname && question.type !== TYPE.CNAME && question.type !== TYPE.ANY) {
      res.answers.push(...owned(cname, name));
      const target = cname[0]!.data.kind === 'CNAME' ? cname[0]!.data.target : '.';
      // Follow the chain only inside this zone and never around a loop.
      if (!isSubdomain(target, zone.apex) || seen.has(canonicalName(target))) return res;
      name = target;
      continue;
    }
    if (question.type === TYPE.ANY) {
      for (const set of node.values()) res.answers.push(...owned(set, name));
    } else {
      const set = node.get(question.type);
      if (!set) return negative(res, zone, RCODE.NOERROR);
      res.answers.push(...owned(set, name));
    }
    const targets: string[] = [];
    for (const r of res.answers) {
      if (r.data.kind === 'NS') targets.push(r.data.target);
      else if (r.data.kind === 'MX') targets.push(r.data.exchange);
      else if (r.data.kind === 'SRV') targets.push(r.data.target);
    }
    addGlue(zone, targets, res.additional, false);
    return res;
  }
  return res;
}

/**
 * RFC 6672 §2.2: `name` with the DNAME's owner replaced by its target;
 * undefined when the result would exceed 255 octets (or the DNAME's data is
 * malformed), which the caller answers YXDOMAIN.
 */
function synthesize(name: string, owner: string, dname: DnsRecord): string | undefined {
  const target = dnameTarget(dname);
  const labels = nameToLabels(name);
  const targetLabels = target === undefined ? undefined : nameToLabels(target);
  if (!labels || !targetLabels) return undefined;
  // The question's labels in lower case, as NSD synthesizes them.
  const kept = labels
    .slice(0, labels.length - nameToLabels(owner)!.length)
    .map((l) => l.map((c) => (c >= 0x41 && c <= 0x5a ? c | 0x20 : c)));
  const all = [...kept, ...targetLabels];
  if (all.reduce((n, l) => n + l.length + 1, 1) > NAME_MAX) return undefined;
  return spelledAs(labelsToName(all), name);
}

function negative(res: Lookup, zone: Zone, rcode: number): Lookup {
  // After a CNAME the rcode describes the last name in the chain (RFC 6604).
  res.rcode = rcode;
  res.authority.push(zone.negativeSoa());
  return res;
}

/** RFC 4592 §3.3.1: the closest encloser's `*` child answers a name that does not exist. */
function wildcardFor(zone: Zone, name: string): RRsets | undefined {
  const labels = nameToLabels(name);
  if (!labels) return undefined;
  // Up to the root itself (i === labels.length), the closest encloser in the root zone.
  for (let i = 1; i <= labels.length; i++) {
    const encloser = labelsToName(labels.slice(i));
    if (!isSubdomain(encloser, zone.apex)) return undefined;
    if (zone.has(encloser)) return zone.node(`*.${encloser === '.' ? '' : encloser}`);
  }
  return undefined;
}

function addGlue(zone: Zone, targets: readonly string[], into: DnsRecord[], glueOnly: boolean): void {
  const seen = new Set<string>();
  for (const t of targets) {
    const key = canonicalName(t);
    if (seen.has(key) || !isSubdomain(t, zone.apex)) continue;
    seen.add(key);
    // For a referral, glue below the cut is needed; for answers, any address in the zone helps.
    if (!glueOnly && zone.delegation(t) !== undefined) continue;
    const a = zone.get(t, TYPE.A),
      aaaa = zone.get(t, TYPE.AAAA);
    if (a) into.push(...a);
    if (aaaa) into.push(...aaaa);
  }
}

/** RFC 5936 §2.2: SOA, every other record, SOA again, in messages that fit TCP. */
function axfr(q: DnsMessage, question: DnsQuestion, zone: Zone): Uint8Array[] {
  // Owners as NSD and Knot send them in a transfer: lower case (names compare without case, RFC 4343).
  const lower = (r: DnsRecord): DnsRecord => (r.name === canonicalName(r.name) ? r : { ...r, name: canonicalName(r.name) });
  const soa = lower(zone.soa);
  return chunked(q, question, [soa, ...zone.records.filter((r) => r !== zone.soa).map(lower), soa]);
}

/** A transfer's records in messages that fit TCP, the question in the first only. */
function chunked(q: DnsMessage, question: DnsQuestion, all: readonly DnsRecord[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let batch: DnsRecord[] = [];
  let size = 0;
  const flush = (first: boolean): void => {
    const m: DnsMessage = { ...replyTo({ ...q, questions: first ? [question] : [] }, RCODE.NOERROR), aa: true, answers: batch };
    out.push(encodeDns(m));
    batch = [];
    size = 0;
  };
  for (const rr of all) {
    batch.push(rr);
    size += rr.name.length + 12 + approxRDataSize(rr);
    if (size > AXFR_CHUNK) flush(out.length === 0);
  }
  if (batch.length) flush(out.length === 0);
  return out;
}

function approxRDataSize(rr: DnsRecord): number {
  const d = rr.data;
  switch (d.kind) {
    case 'TXT':
      return d.strings.reduce((n, s) => n + s.length + 1, 0);
    case 'raw':
      return d.bytes.length;
    case 'CAA':
      return d.value.length + d.tag.length + 2;
    default:
      return 64;
  }
}
