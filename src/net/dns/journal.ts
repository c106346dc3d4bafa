/**
 * The record of a primary's dynamic updates, kept on top of the zones its
 * image holds: each new version's difference (RFC 1995's shape: the old
 * SOA, the records deleted, the new SOA, the records added) as one entry of
 * an append-only log, replayed at boot onto the image's zones. When the log
 * is full it is compacted to one difference per changed zone, from the
 * image's version to the current one. An entry is a DNS message (the zone
 * as its question, the difference as its answers), so decoding it is the
 * message decoder's, which never throws.
 */
import { canonicalName, CLASS_IN, decodeDns, encodeDns, isDecodeError, OPCODE_QUERY, TYPE, type DnsRecord } from '../../wire/dns.ts';
import { recordKey, Zone, zoneDiff, type ZoneDiff } from './authority.ts';
import type { CommitResult } from './update.ts';

/** Where the entries go: `AppendLog` from `fata/storage` is one. */
export interface EntryLog {
  /** Adds an entry after the others; 'full' (nothing written) when there is no room. */
  append(data: Uint8Array): CommitResult;
  /** Replaces every entry at once (the old ones stay until the new ones are whole). */
  rewrite(entries: readonly Uint8Array[]): CommitResult;
}

const serial = (rr: DnsRecord): number => (rr.data.kind === 'SOA' ? rr.data.serial : 0);
const isApexSoa = (rr: DnsRecord, apex: string): boolean => rr.type === TYPE.SOA && canonicalName(rr.name) === apex;

/** One difference as a log entry; undefined when it has more records than a message holds (65,535). */
export function encodeZoneDiff(apex: string, d: ZoneDiff): Uint8Array | undefined {
  const answers = [d.from, ...d.deleted, d.to, ...d.added];
  if (answers.length > 0xffff) return undefined;
  return encodeDns({
    id: 0,
    qr: false,
    opcode: OPCODE_QUERY,
    aa: false,
    tc: false,
    rd: false,
    ra: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [{ name: canonicalName(apex), type: TYPE.SOA, class: CLASS_IN }],
    answers,
    authority: [],
    additional: [],
  });
}

/** A log entry back into its zone and difference, or what is wrong with it. */
export function decodeZoneDiff(b: Uint8Array): { readonly apex: string; readonly diff: ZoneDiff } | { readonly error: string } {
  const m = decodeDns(b);
  if (isDecodeError(m)) return { error: `not a DNS message: ${m.error}` };
  const q = m.questions[0];
  if (m.questions.length !== 1 || q?.type !== TYPE.SOA) return { error: 'no zone named' };
  const apex = canonicalName(q.name);
  const a = m.answers;
  const second = a.findIndex((r, i) => i > 0 && isApexSoa(r, apex));
  if (a.length === 0 || !isApexSoa(a[0]!, apex) || second < 0) return { error: `no SOA pair for ${apex}` };
  return { apex, diff: { from: a[0]!, deleted: a.slice(1, second), to: a[second]!, added: a.slice(second + 1) } };
}

/** `zone` with `d` applied: deletions, then additions, then `d.to` as its SOA. */
export function applyDiff(zone: Zone, d: ZoneDiff): Zone | { errors: string[] } {
  const held = new Map(zone.records.filter((r) => r !== zone.soa).map((r) => [recordKey(r), r]));
  for (const r of d.deleted) held.delete(recordKey(r));
  for (const r of d.added) held.set(recordKey(r), r);
  return Zone.fromRecords(zone.apex, [d.to, ...held.values()]);
}

/**
 * The versions the log's entries make of the image's zones, in order (each
 * to be served in turn, so that IXFR has their differences), or why they
 * cannot be replayed: an entry that does not decode, a zone the image does
 * not hold, or a chain that does not start at the serial the zone has (the
 * image was rebuilt with another version of the zone).
 */
export function replayJournal(base: readonly Zone[], entries: readonly Uint8Array[]): { versions: Zone[] } | { error: string } {
  const zones = new Map(base.map((z) => [z.apex, z]));
  const versions: Zone[] = [];
  for (const [i, e] of entries.entries()) {
    const d = decodeZoneDiff(e);
    if ('error' in d) return { error: `entry ${i + 1}: ${d.error}` };
    const z = zones.get(d.apex);
    if (!z) return { error: `entry ${i + 1} changes ${d.apex}, a zone the image does not hold` };
    if (serial(z.soa) !== serial(d.diff.from))
      return {
        error: `entry ${i + 1} changes ${d.apex} from serial ${serial(d.diff.from)}, but the zone has serial ${serial(z.soa)} (the image holds another version of the zone than the one the updates were made to)`,
      };
    const next = applyDiff(z, d.diff);
    if ('errors' in next) return { error: `entry ${i + 1} makes ${d.apex} invalid: ${next.errors.join('; ')}` };
    zones.set(d.apex, next);
    versions.push(next);
  }
  return { versions };
}

/** A primary's updates made durable: `record` before each new version is served. */
export class UpdateJournal {
  private readonly log: EntryLog;
  /** The image's zones, by apex: what the log is replayed onto. */
  private readonly base: Map<string, Zone>;
  /** The zones the log has changed, as they are now. */
  private readonly current = new Map<string, Zone>();
  readonly counters = { appended: 0, compactions: 0, refused: 0 };

  /** `replayed` are the versions `replayJournal` made from the log's entries, so that a compaction keeps them. */
  constructor(log: EntryLog, base: readonly Zone[], replayed: readonly Zone[] = []) {
    this.log = log;
    this.base = new Map(base.map((z) => [z.apex, z]));
    for (const z of replayed) this.current.set(z.apex, z);
  }

  /** Writes `zone`'s new version (`diff` from the one served); when the log is full, compacts it first. */
  record(zone: Zone, diff: ZoneDiff): CommitResult {
    if (!this.base.has(zone.apex)) throw new RangeError(`${zone.apex} is not one of the image's zones; only those take updates`);
    const entry = encodeZoneDiff(zone.apex, diff);
    let r: CommitResult = entry ? this.log.append(entry) : 'full';
    if (r === 'ok') this.counters.appended++;
    if (r === 'full') {
      const next = new Map(this.current).set(zone.apex, zone);
      const entries = [...next].map(([apex, z]) => encodeZoneDiff(apex, zoneDiff(this.base.get(apex)!, z)));
      r = entries.every((e) => e !== undefined) ? this.log.rewrite(entries as Uint8Array[]) : 'full';
      if (r === 'ok') this.counters.compactions++;
    }
    if (r === 'ok') this.current.set(zone.apex, zone);
    else this.counters.refused++;
    return r;
  }
}
