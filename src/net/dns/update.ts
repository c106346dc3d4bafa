/**
 * Dynamic updates (RFC 2136) on a primary's zone: the zone section
 * (§3.1), the prerequisites (§3.2), the update section's prescan (§3.4.1)
 * and its changes (§3.4.2, with the SOA and apex NS rules), and the serial
 * bump (§3.6). `applyUpdate` is pure: a zone and a decoded message in, the
 * RCODE and, when something changed, the new version and its difference
 * out. `Updates` adds who may update (a policy passed in), making the new
 * version durable before it is served (a commit passed in; a failed one is
 * SERVFAIL and changes nothing), and serving it.
 */
import {
  canonicalName,
  CLASS_ANY,
  CLASS_IN,
  CLASS_NONE,
  isSubdomain,
  RCODE,
  rcodeName,
  TYPE,
  typeName,
  type DnsMessage,
  type DnsRecord,
} from '../../wire/dns.ts';
import { recordKey, serialNewer, Zone, zoneDiff, type Authority, type ZoneDiff } from './authority.ts';
import type { TsigKey } from './tsig.ts';

/** RFC 2136 §1.3 and §2.2's RCODEs. */
export const RCODE_UPDATE = {
  /** A name that should not exist does. */
  YXDOMAIN: 6,
  /** An RRset that should not exist does. */
  YXRRSET: 7,
  /** An RRset that should exist does not. */
  NXRRSET: 8,
  /** Not authoritative for the zone named in the zone section. */
  NOTAUTH: 9,
  /** A name in the prerequisite or update section is outside the zone. */
  NOTZONE: 10,
} as const;

/** The result of one update: an RCODE and why, and the new version when anything changed. */
export type UpdateResult =
  | { readonly rcode: number; readonly reason: string }
  | { readonly rcode: 0; readonly zone: Zone; readonly diff: ZoneDiff }
  | { readonly rcode: 0; readonly unchanged: true };

/** Types that are no data (RFC 2136 §3.4.1.2: ANY, AXFR, MAILA, MAILB; and the other meta types: OPT, TKEY, TSIG, IXFR). */
const META = new Set<number>([TYPE.OPT, 249, 250, TYPE.IXFR, TYPE.AXFR, 253, 254, TYPE.ANY]);

const rdataEmpty = (rr: DnsRecord): boolean => rr.data.kind === 'raw' && rr.data.bytes.length === 0;

/** Records by canonical owner and type, in their first order: the zone as the update changes it. */
class Working {
  readonly nodes = new Map<string, Map<number, DnsRecord[]>>();

  constructor(records: readonly DnsRecord[]) {
    for (const rr of records) this.add(rr);
  }
  private add(rr: DnsRecord): void {
    const k = canonicalName(rr.name);
    let n = this.nodes.get(k);
    if (!n) {
      n = new Map();
      this.nodes.set(k, n);
    }
    const set = n.get(rr.type);
    if (set) set.push(rr);
    else n.set(rr.type, [rr]);
  }
  rrset(name: string, type: number): readonly DnsRecord[] | undefined {
    return this.nodes.get(canonicalName(name))?.get(type);
  }
  /** RFC 2136 §2.4.4: a name is in use when it owns at least one record (an empty non-terminal does not). */
  inUse(name: string): boolean {
    return (this.nodes.get(canonicalName(name))?.size ?? 0) > 0;
  }
  types(name: string): number[] {
    return [...(this.nodes.get(canonicalName(name))?.keys() ?? [])];
  }
  set(name: string, type: number, rrs: DnsRecord[]): void {
    const k = canonicalName(name);
    let n = this.nodes.get(k);
    if (rrs.length === 0) {
      n?.delete(type);
      return;
    }
    if (!n) {
      n = new Map();
      this.nodes.set(k, n);
    }
    n.set(type, rrs);
  }
  records(): DnsRecord[] {
    const out: DnsRecord[] = [];
    for (const n of this.nodes.values()) for (const set of n.values()) out.push(...set);
    return out;
  }
}

/** Same owner, type and RDATA (RFC 2136 §3.4.2.4), TTL aside; owners compare without case. */
const sameData = (a: DnsRecord, b: DnsRecord): boolean => recordKey(a) === recordKey(b);

/** The prerequisites of §3.2 against `w`; undefined when all hold. */
function prerequisites(w: Working, apex: string, prereqs: readonly DnsRecord[]): { rcode: number; reason: string } | undefined {
  const temp = new Map<string, DnsRecord[]>();
  for (const rr of prereqs) {
    const what = `prerequisite ${rr.name} ${typeName(rr.type)}`;
    if (rr.ttl !== 0) return { rcode: RCODE.FORMERR, reason: `${what} has a TTL (must be 0, §3.2.1)` };
    if (!isSubdomain(rr.name, apex)) return { rcode: RCODE_UPDATE.NOTZONE, reason: `${what} is outside ${apex}` };
    if (rr.class === CLASS_ANY || rr.class === CLASS_NONE) {
      if (!rdataEmpty(rr)) return { rcode: RCODE.FORMERR, reason: `${what} of class ANY or NONE has RDATA (§3.2.1)` };
      const exists = rr.type === TYPE.ANY ? w.inUse(rr.name) : w.rrset(rr.name, rr.type) !== undefined;
      if (rr.class === CLASS_ANY && !exists)
        return rr.type === TYPE.ANY
          ? { rcode: RCODE.NXDOMAIN, reason: `${rr.name} is not in use (§2.4.4)` }
          : { rcode: RCODE_UPDATE.NXRRSET, reason: `no ${typeName(rr.type)} RRset at ${rr.name} (§2.4.1)` };
      if (rr.class === CLASS_NONE && exists)
        return rr.type === TYPE.ANY
          ? { rcode: RCODE_UPDATE.YXDOMAIN, reason: `${rr.name} is in use (§2.4.5)` }
          : { rcode: RCODE_UPDATE.YXRRSET, reason: `a ${typeName(rr.type)} RRset exists at ${rr.name} (§2.4.3)` };
      continue;
    }
    if (rr.class !== CLASS_IN || META.has(rr.type)) return { rcode: RCODE.FORMERR, reason: `${what} has class ${rr.class} (§3.2.3)` };
    const k = `${canonicalName(rr.name)} ${rr.type}`;
    const t = temp.get(k);
    if (t) t.push(rr);
    else temp.set(k, [rr]);
  }
  // §3.2.3: each value-dependent RRset must match the zone's exactly (§2.4.2), duplicates counted once.
  for (const want of temp.values()) {
    const have = w.rrset(want[0]!.name, want[0]!.type) ?? [];
    const wanted = new Set(want.map(recordKey));
    const held = new Set(have.map(recordKey));
    if (wanted.size !== held.size || [...held].some((k) => !wanted.has(k)))
      return {
        rcode: RCODE_UPDATE.NXRRSET,
        reason: `the ${typeName(want[0]!.type)} RRset at ${want[0]!.name} is not the one given (§2.4.2)`,
      };
  }
  return undefined;
}

/** §3.4.1: every update record well formed and inside the zone; undefined when so. */
function prescan(apex: string, updates: readonly DnsRecord[]): { rcode: number; reason: string } | undefined {
  for (const rr of updates) {
    const what = `update ${rr.name} ${typeName(rr.type)}`;
    if (!isSubdomain(rr.name, apex)) return { rcode: RCODE_UPDATE.NOTZONE, reason: `${what} is outside ${apex}` };
    if (rr.class === CLASS_IN) {
      if (META.has(rr.type)) return { rcode: RCODE.FORMERR, reason: `${what}: a meta type cannot be added` };
    } else if (rr.class === CLASS_ANY) {
      if (rr.ttl !== 0 || !rdataEmpty(rr) || (META.has(rr.type) && rr.type !== TYPE.ANY))
        return { rcode: RCODE.FORMERR, reason: `${what}: deleting an RRset takes TTL 0, no RDATA and a data type or ANY` };
    } else if (rr.class === CLASS_NONE) {
      if (rr.ttl !== 0 || META.has(rr.type))
        return { rcode: RCODE.FORMERR, reason: `${what}: deleting a record takes TTL 0 and a data type` };
    } else return { rcode: RCODE.FORMERR, reason: `${what} has class ${rr.class}` };
  }
  return undefined;
}

/** §3.4.2: applies one update record to `w`. */
function applyOne(w: Working, apex: string, rr: DnsRecord): void {
  const name = canonicalName(rr.name);
  const atApex = name === apex;
  if (rr.class === CLASS_IN) {
    const types = w.types(name);
    // §3.4.2.2: a CNAME is not added beside other data, nor other data beside a CNAME.
    if (rr.type === TYPE.CNAME && types.some((t) => t !== TYPE.CNAME)) return;
    if (rr.type !== TYPE.CNAME && types.includes(TYPE.CNAME)) return;
    const set = w.rrset(name, rr.type);
    if (rr.type === TYPE.SOA) {
      // Only the apex SOA is replaced, and only by a serial that is not older (RFC 1982).
      const old = set?.[0];
      if (old?.data.kind !== 'SOA' || rr.data.kind !== 'SOA' || serialNewer(old.data.serial, rr.data.serial)) return;
      w.set(name, TYPE.SOA, [{ ...rr, name: old.name }]);
      return;
    }
    if (rr.type === TYPE.CNAME) {
      w.set(name, TYPE.CNAME, [rr]);
      return;
    }
    // A record already there is replaced (its TTL may change); the RRset keeps one TTL, the newest (RFC 2181 §5.2).
    const kept = (set ?? []).filter((z) => !sameData(rr, z)).map((z) => (z.ttl === rr.ttl ? z : { ...z, ttl: rr.ttl }));
    w.set(name, rr.type, [...kept, rr]);
    return;
  }
  if (rr.class === CLASS_ANY) {
    if (rr.type === TYPE.ANY) {
      // §3.4.2.3: everything at the name; at the apex, everything but the SOA and NS.
      for (const t of w.types(name)) if (!atApex || (t !== TYPE.SOA && t !== TYPE.NS)) w.set(name, t, []);
      return;
    }
    if (atApex && (rr.type === TYPE.SOA || rr.type === TYPE.NS)) return;
    w.set(name, rr.type, []);
    return;
  }
  // Class NONE, §3.4.2.4: one record; never the SOA, nor the apex's last NS.
  if (rr.type === TYPE.SOA) return;
  const set = w.rrset(name, rr.type);
  if (!set) return;
  const left = set.filter((z) => !sameData(rr, z));
  if (atApex && rr.type === TYPE.NS && left.length === 0) return;
  w.set(name, rr.type, left);
}

/**
 * RFC 2136 §3.2–§3.6 on `zone`, whose apex the zone section named (§3.1 is
 * the caller's): prerequisites in `m.answers`, updates in `m.authority`.
 * Nothing is changed unless every prerequisite holds and every update
 * record is well formed. A change bumps the serial by one (RFC 1982),
 * unless the update set a newer SOA itself.
 */
export function applyUpdate(zone: Zone, m: DnsMessage): UpdateResult {
  const apex = zone.apex;
  const w = new Working(zone.records);
  const failed = prerequisites(w, apex, m.answers) ?? prescan(apex, m.authority);
  if (failed) return failed;
  for (const rr of m.authority) applyOne(w, apex, rr);
  let records = w.records();
  const soa = w.rrset(apex, TYPE.SOA)![0]!;
  const before = new Set(zone.records.map((r) => `${recordKey(r)} ${r.ttl}`));
  const changed = records.length !== zone.records.length || records.some((r) => !before.has(`${recordKey(r)} ${r.ttl}`));
  if (!changed) return { rcode: 0, unchanged: true };
  const old = zone.soa.data.kind === 'SOA' ? zone.soa.data.serial : 0;
  if (soa.data.kind === 'SOA' && !serialNewer(soa.data.serial, old)) {
    // §3.6: the serial goes up with every change the update itself did not number.
    const bumped: DnsRecord = { ...soa, data: { ...soa.data, serial: (old + 1) >>> 0 } };
    records = records.map((r) => (r === soa ? bumped : r));
  }
  const z = Zone.fromRecords(apex, records);
  // The rules above keep a zone valid; a zone they would break is refused, not served.
  if ('errors' in z) return { rcode: RCODE.REFUSED, reason: z.errors.join('; ') };
  return { rcode: 0, zone: z, diff: zoneDiff(zone, z) };
}

/** Why a durable write failed: the store is full, or the device refused. */
export type CommitResult = 'ok' | 'full' | 'io-error';

export interface UpdatePolicy {
  /** May a request signed with `key` (undefined: unsigned) from `source` change the zone at `apex`? */
  allowed(apex: string, key: TsigKey | undefined, source: string): boolean;
  /** Makes the new version durable before it is served; anything but 'ok' is SERVFAIL and nothing changes. */
  commit(zone: Zone, diff: ZoneDiff): CommitResult;
  /** Called once the new version is served (to send NOTIFY). */
  applied?(zone: Zone): void;
  log?(level: 'info' | 'warn', event: string, fields: Record<string, unknown>): void;
}

/** The server's side of UPDATE: the zone section, the policy, the update, the commit, the new version served. */
export class Updates {
  private readonly authority: Authority;
  private readonly policy: UpdatePolicy;
  readonly counters = { updates: 0, applied: 0, refused: 0, failedPrerequisites: 0, commitFailures: 0 };

  constructor(authority: Authority, policy: UpdatePolicy) {
    this.authority = authority;
    this.policy = policy;
  }

  /** The RCODE for UPDATE `m` (TSIG already verified and removed; `key` the one it was signed with) from `source`. */
  handle(m: DnsMessage, key: TsigKey | undefined, source: string): number {
    this.counters.updates++;
    const log = (level: 'info' | 'warn', event: string, fields: Record<string, unknown>): void => this.policy.log?.(level, event, fields);
    // §3.1.1: exactly one zone, of type SOA.
    const z = m.questions[0];
    if (m.questions.length !== 1 || z?.type !== TYPE.SOA) {
      log('warn', 'update-refused', { from: source, rcode: 'FORMERR', reason: 'the zone section needs exactly one SOA question' });
      return RCODE.FORMERR;
    }
    const apex = canonicalName(z.name);
    const zone = z.class === CLASS_IN ? this.authority.zone(apex) : undefined;
    if (!zone) {
      log('warn', 'update-refused', { zone: apex, from: source, rcode: 'NOTAUTH', reason: 'not a zone this server holds' });
      return RCODE_UPDATE.NOTAUTH;
    }
    // Permission before prerequisites, so that an unauthorised client learns nothing about the zone (§3.3 leaves the order open).
    if (!this.policy.allowed(apex, key, source)) {
      this.counters.refused++;
      log('warn', 'update-refused', { zone: apex, from: source, key: key?.name ?? 'none', rcode: 'REFUSED' });
      return RCODE.REFUSED;
    }
    const r = applyUpdate(zone, m);
    if (r.rcode !== 0 || !('zone' in r)) {
      if ('reason' in r) {
        this.counters.failedPrerequisites++;
        log('info', 'update-failed', { zone: apex, from: source, rcode: rcodeName(r.rcode), reason: r.reason });
      } else log('info', 'update-unchanged', { zone: apex, from: source });
      return r.rcode;
    }
    const c = this.policy.commit(r.zone, r.diff);
    if (c !== 'ok') {
      this.counters.commitFailures++;
      log('warn', 'update-not-stored', { zone: apex, from: source, error: c, rcode: 'SERVFAIL' });
      return RCODE.SERVFAIL;
    }
    this.authority.setZone(r.zone);
    this.counters.applied++;
    const serial = r.zone.soa.data.kind === 'SOA' ? r.zone.soa.data.serial : 0;
    log('info', 'update-applied', {
      zone: apex,
      from: source,
      key: key?.name ?? 'none',
      serial,
      deleted: r.diff.deleted.length,
      added: r.diff.added.length,
    });
    this.policy.applied?.(r.zone);
    return RCODE.NOERROR;
  }
}
