/**
 * An authoritative name server's answers (RFC 1034 §4.3.2, RFC 2308,
 * RFC 4592, RFC 5936): zones loaded from master files, exact matches,
 * CNAME chains inside the zone, referrals with glue at delegations,
 * NXDOMAIN and NODATA with the SOA in the authority section, wildcards
 * with closest-encloser rules (empty non-terminals block them), AXFR as a
 * sequence of messages, REFUSED for names outside every zone, FORMERR for
 * malformed queries, NOTIMP for other opcodes, BADVERS for EDNS above 0.
 *
 * `answer` is pure: bytes in, bytes out, no clock and no I/O.
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

export { EDNS_UDP_SIZE } from '../../wire/dns.ts';
const MAX_CNAME_CHAIN = 16;
/** Per AXFR message, below the 65535 TCP limit with room for one large record. */
const AXFR_CHUNK = 16000;

type RRsets = Map<number, DnsRecord[]>;

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
    }
  }

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
    for (const rr of records) {
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
  /** Whether AXFR is served (default false: REFUSED, as NSD without provide-xfr). */
  readonly allowAxfr?: boolean;
}

export interface AuthorityCounters {
  queries: number;
  formerr: number;
  refused: number;
  nxdomain: number;
  truncated: number;
  axfr: number;
}

export class Authority {
  private readonly zones: Zone[];
  readonly counters: AuthorityCounters = { queries: 0, formerr: 0, refused: 0, nxdomain: 0, truncated: 0, axfr: 0 };

  constructor(zones: readonly Zone[]) {
    // Longest apex first, so the most specific zone wins.
    this.zones = [...zones].sort((a, b) => b.apex.length - a.apex.length);
  }

  zoneFor(name: string): Zone | undefined {
    return this.zones.find((z) => isSubdomain(name, z.apex));
  }

  /**
   * Answers one query message. Returns the response messages (several only
   * for AXFR), or none when the input must be ignored (a response, or too
   * short to carry an ID).
   */
  answer(query: Uint8Array, o: AnswerOptions): Uint8Array[] {
    this.counters.queries++;
    const q = decodeDns(query);
    if (isDecodeError(q)) {
      const f = formErrFor(query, q);
      if (!f) return [];
      this.counters.formerr++;
      return [f];
    }
    if (q.qr) return [];
    const reply = (rcode: number): DnsMessage => replyTo(q, rcode, { edns: q.edns !== undefined });
    const limit = responseLimit(q, o.transport);
    const out = (m: DnsMessage): Uint8Array[] => {
      const b = encodeDns(m, { maxSize: limit });
      if (b.length >= 3 && (b[2]! & 0x02) !== 0 && !m.tc) this.counters.truncated++;
      return [b];
    };
    if (q.edns && q.edns.version > 0) return out(reply(RCODE.BADVERS));
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
    const zone = this.zoneFor(question.name);
    if (!zone) {
      this.counters.refused++;
      return out(reply(RCODE.REFUSED));
    }
    if (question.type === TYPE.AXFR || question.type === TYPE.IXFR) {
      if (o.transport !== 'tcp') {
        this.counters.formerr++;
        return out(reply(RCODE.FORMERR));
      }
      if (!o.allowAxfr || canonicalName(question.name) !== zone.apex) {
        this.counters.refused++;
        return out(reply(RCODE.REFUSED));
      }
      this.counters.axfr++;
      return axfr(q, question, zone);
    }
    const r = lookup(zone, question);
    if (r.rcode === RCODE.NXDOMAIN) this.counters.nxdomain++;
    return out({ ...reply(r.rcode), aa: r.aa, answers: r.answers, authority: r.authority, additional: r.additional });
  }
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
    const cut = zone.delegation(name);
    if (cut !== undefined) {
      // A referral: not authoritative for what lies below the cut (RFC 1034 §4.3.2 step 3b).
      if (step === 0) res.aa = false;
      const ns = zone.get(cut, TYPE.NS)!;
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
  for (let i = 1; i < labels.length; i++) {
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
  const all = [zone.soa, ...zone.records.filter((r) => r !== zone.soa), zone.soa];
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
