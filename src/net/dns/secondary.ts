/**
 * A secondary's side of zone transfers: the SOA check and IXFR (RFC 1995)
 * or AXFR (RFC 5936) from a primary over TCP, signed with TSIG when given a
 * key (RFC 8945), and the timers of RFC 1034 §4.3.5 — check every REFRESH
 * seconds, every RETRY after a failure, stop serving EXPIRE seconds after
 * the last successful check — with NOTIFY (RFC 1996 §3.7) starting a check
 * at once. Time, randomness, timers and the network are parameters.
 */
import type { Random } from '../../devices/index.ts';
import {
  canonicalName,
  CLASS_IN,
  decodeDns,
  encodeDns,
  isDecodeError,
  makeQuery,
  RCODE,
  rcodeName,
  TYPE,
  type DnsMessage,
  type DnsRecord,
} from '../../wire/dns.ts';
import type { ByteStream } from '../stream.ts';
import { recordKey, serialNewer, Zone } from './authority.ts';
import type { DnsNet, Timer } from './query.ts';
import { frameTcp, TcpDeframer } from './transport.ts';
import { signMessage, TsigResponseVerifier, TYPE_TSIG, type Hmac, type TsigKey } from './tsig.ts';

/** How a secondary reaches its primary. */
export interface PrimaryLink {
  readonly address: string;
  readonly port: number;
  readonly net: Pick<DnsNet, 'tcpConnect'>;
  readonly random: Random;
  readonly timer: Timer;
  /** Requests signed with this key, answers verified with it. */
  readonly tsig?: { readonly key: TsigKey; readonly hmac: Hmac } | undefined;
  /** Wall clock in seconds since the epoch, for TSIG. */
  readonly wallSec: () => number;
  /** How long one answer may take, in ms (default 10 s). */
  readonly timeoutMs?: number;
}

export type RefreshResult =
  | { readonly kind: 'current'; readonly serial: number }
  | { readonly kind: 'loaded'; readonly zone: Zone; readonly how: 'AXFR' | 'IXFR' }
  | { readonly kind: 'failed'; readonly error: string };

const soaSerial = (rr: DnsRecord): number => (rr.data.kind === 'SOA' ? rr.data.serial : 0);
const isSoa = (rr: DnsRecord, apex: string): boolean => rr.type === TYPE.SOA && canonicalName(rr.name) === apex;

/** One TCP connection to the primary: framed messages out, messages in, each wait bounded. */
class Connection {
  private readonly s: ByteStream;
  private readonly deframer = new TcpDeframer();
  private readonly inbox: Uint8Array[] = [];
  private waiter: ((m: Uint8Array | string) => void) | undefined;
  private ended: string | undefined;
  private readonly out: Uint8Array[] = [];

  constructor(s: ByteStream) {
    this.s = s;
    s.onData = (d) => {
      for (const m of this.deframer.push(d)) this.deliver(m);
    };
    s.onEnd = () => this.fail('the primary closed the connection');
    s.onClose = (e) => this.fail(`the connection closed${e ? `: ${e}` : ''}`);
    s.onDrain = () => this.flush();
  }

  private deliver(m: Uint8Array): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (w) w(m);
    else this.inbox.push(m);
  }
  private fail(why: string): void {
    this.ended ??= why;
    const w = this.waiter;
    this.waiter = undefined;
    w?.(why);
  }
  private flush(): void {
    while (this.out.length) {
      const head = this.out[0]!;
      const n = this.s.write(head);
      if (n < head.length) {
        this.out[0] = head.subarray(n);
        return;
      }
      this.out.shift();
    }
  }

  send(msg: Uint8Array): void {
    this.out.push(frameTcp(msg));
    this.flush();
  }

  /** The next message, or why none will come. */
  next(timer: Timer, timeoutMs: number): Promise<Uint8Array | string> {
    const m = this.inbox.shift();
    if (m) return Promise.resolve(m);
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((resolve) => {
      const cancel = timer(timeoutMs, () => {
        this.waiter = undefined;
        resolve(`no answer in ${timeoutMs} ms`);
      });
      this.waiter = (r) => {
        cancel();
        resolve(r);
      };
    });
  }

  close(): void {
    this.s.end();
  }
}

/** A request on `c`, signed when the link has a key; resolves with each answer through `each` until it returns true. */
async function exchange(
  link: PrimaryLink,
  c: Connection,
  q: DnsMessage,
  each: (m: DnsMessage) => string | boolean,
): Promise<string | undefined> {
  let bytes = encodeDns(q);
  let verifier: TsigResponseVerifier | undefined;
  if (link.tsig) {
    const s = signMessage(bytes, link.tsig.key, link.tsig.hmac, { now: link.wallSec() });
    bytes = s.bytes;
    verifier = new TsigResponseVerifier(link.tsig.key, link.tsig.hmac, s.mac);
  }
  c.send(bytes);
  for (;;) {
    const raw = await c.next(link.timer, link.timeoutMs ?? 10_000);
    if (typeof raw === 'string') return raw;
    const m = decodeDns(raw);
    if (isDecodeError(m)) return `a malformed answer: ${m.error}`;
    if (!m.qr || m.id !== q.id) return `an answer that is not to our request (ID ${m.id}, ours ${q.id})`;
    const bad = verifier?.next(raw, m, link.wallSec());
    if (bad) return bad.error;
    const r = each({ ...m, additional: m.additional.filter((x) => x.type !== TYPE_TSIG) });
    if (typeof r === 'string') return r;
    if (r) return verifier && !verifier.lastSigned ? 'the last message of the answer is not signed' : undefined;
  }
}

/**
 * One request to the primary on a new TCP connection (signed when the link
 * has a key) and its single answer, verified and without its TSIG record;
 * or why there is none. For UPDATE (RFC 2136 §3.8: one answer per request).
 */
export async function requestPrimary(link: PrimaryLink, q: DnsMessage): Promise<DnsMessage | string> {
  let s: ByteStream;
  try {
    s = await link.net.tcpConnect(link.address, link.port);
  } catch (e) {
    return `cannot connect to ${link.address}:${link.port}: ${e instanceof Error ? e.message : String(e)}`;
  }
  const c = new Connection(s);
  try {
    let answer: DnsMessage | undefined;
    const err = await exchange(link, c, q, (m) => {
      answer = m;
      return true;
    });
    return err ?? answer!;
  } finally {
    c.close();
  }
}

/**
 * Records of an IXFR or AXFR answer as they come, message by message
 * (RFC 1995 §4): the new SOA first; then either the whole zone closed by
 * that SOA again (AXFR-style), or difference sequences — an old SOA, the
 * records it loses, a newer SOA, the records it gains — closed by the new
 * SOA. `push` says when the transfer is complete, or what is wrong.
 */
class TransferReader {
  private readonly apex: string;
  private readonly ixfrFrom: number | undefined;
  newSoa: DnsRecord | undefined;
  mode: 'axfr' | 'ixfr' | undefined;
  readonly records: DnsRecord[] = [];
  readonly diffs: { from: DnsRecord; to: DnsRecord | undefined; deleted: DnsRecord[]; added: DnsRecord[] }[] = [];
  done = false;

  constructor(apex: string, ixfrFrom: number | undefined) {
    this.apex = apex;
    this.ixfrFrom = ixfrFrom;
  }

  push(rr: DnsRecord): string | undefined {
    if (this.done) return 'records after the closing SOA';
    if (!this.newSoa) {
      if (!isSoa(rr, this.apex)) return `the transfer does not start with the SOA of ${this.apex}`;
      this.newSoa = rr;
      return undefined;
    }
    const soa = isSoa(rr, this.apex);
    if (this.mode === undefined) {
      this.mode = this.ixfrFrom !== undefined && soa ? 'ixfr' : 'axfr';
      if (this.mode === 'ixfr') {
        if (soaSerial(rr) !== this.ixfrFrom) return `the differences start at serial ${soaSerial(rr)}, not at ours (${this.ixfrFrom})`;
        this.diffs.push({ from: rr, to: undefined, deleted: [], added: [] });
        return undefined;
      }
    }
    if (this.mode === 'axfr') {
      if (!soa) {
        this.records.push(rr);
        return undefined;
      }
      if (soaSerial(rr) !== soaSerial(this.newSoa)) return 'the closing SOA is not the opening one';
      this.done = true;
      return undefined;
    }
    const d = this.diffs[this.diffs.length - 1]!;
    if (d.to === undefined) {
      if (soa) d.to = rr;
      else d.deleted.push(rr);
      return undefined;
    }
    if (!soa) {
      d.added.push(rr);
      return undefined;
    }
    if (soaSerial(d.to) === soaSerial(this.newSoa)) {
      if (soaSerial(rr) !== soaSerial(this.newSoa)) return 'the closing SOA is not the opening one';
      this.done = true;
      return undefined;
    }
    if (soaSerial(rr) !== soaSerial(d.to))
      return `a difference starts at serial ${soaSerial(rr)}, not where the last ended (${soaSerial(d.to)})`;
    this.diffs.push({ from: rr, to: undefined, deleted: [], added: [] });
    return undefined;
  }

  /** The zone the transfer describes, on top of `current` for differences. */
  zone(current: Zone | undefined): Zone | { errors: string[] } {
    if (this.mode === 'axfr') return Zone.fromRecords(this.apex, [this.newSoa!, ...this.records]);
    if (!current) return { errors: ['differences without a zone to apply them to'] };
    const held = new Map(current.records.filter((r) => r !== current.soa).map((r) => [recordKey(r), r]));
    for (const d of this.diffs) {
      for (const r of d.deleted) held.delete(recordKey(r));
      for (const r of d.added) held.set(recordKey(r), r);
    }
    return Zone.fromRecords(this.apex, [this.newSoa!, ...held.values()]);
  }
}

/**
 * One refresh of `apex`: the primary's SOA, then, when its serial is newer
 * than `current`'s (RFC 1982) or there is no zone yet, IXFR from our serial
 * (AXFR when there is none, or when the primary refuses IXFR), all on one
 * TCP connection.
 */
export async function refreshZone(apex: string, current: Zone | undefined, link: PrimaryLink): Promise<RefreshResult> {
  const a = canonicalName(apex);
  let s: ByteStream;
  try {
    s = await link.net.tcpConnect(link.address, link.port);
  } catch (e) {
    return { kind: 'failed', error: `cannot connect to ${link.address}:${link.port}: ${e instanceof Error ? e.message : String(e)}` };
  }
  const c = new Connection(s);
  try {
    const id = (): number => link.random.u32() & 0xffff;
    let theirs: DnsRecord | undefined;
    const soaQuery = makeQuery(id(), a, TYPE.SOA, { rd: false });
    let err = await exchange(link, c, soaQuery, (m) => {
      if (m.rcode !== RCODE.NOERROR) return `the primary answered the SOA query ${rcodeName(m.rcode)}`;
      theirs = m.answers.find((r) => isSoa(r, a));
      return theirs && m.aa ? true : `the primary is not authoritative for ${a}`;
    });
    if (err) return { kind: 'failed', error: err };
    const ours = current ? soaSerial(current.soa) : undefined;
    if (ours !== undefined && !serialNewer(soaSerial(theirs!), ours)) return { kind: 'current', serial: ours };
    for (const type of ours === undefined ? [TYPE.AXFR] : [TYPE.IXFR, TYPE.AXFR]) {
      const q = makeQuery(id(), a, type, { rd: false });
      const req = type === TYPE.IXFR ? { ...q, authority: [{ ...current!.soa, name: a, class: CLASS_IN }] } : q;
      const reader = new TransferReader(a, type === TYPE.IXFR ? ours : undefined);
      let refused = false;
      let upToDate = false;
      err = await exchange(link, c, req, (m) => {
        if (m.rcode !== RCODE.NOERROR) {
          refused = type === TYPE.IXFR && (m.rcode === RCODE.NOTIMP || m.rcode === RCODE.REFUSED || m.rcode === RCODE.FORMERR);
          return `the primary answered ${type === TYPE.IXFR ? 'IXFR' : 'AXFR'} with ${rcodeName(m.rcode)}`;
        }
        for (const rr of m.answers) {
          const bad = reader.push(rr);
          if (bad) return bad;
        }
        // RFC 1995 §4: a lone SOA not newer than ours says we are current.
        if (type === TYPE.IXFR && reader.mode === undefined && reader.newSoa && !serialNewer(soaSerial(reader.newSoa), ours!)) {
          upToDate = true;
          return true;
        }
        return reader.done;
      });
      if (refused) continue;
      if (err) return { kind: 'failed', error: err };
      if (upToDate) return { kind: 'current', serial: ours! };
      const z = reader.zone(current);
      if ('errors' in z) return { kind: 'failed', error: `the transferred zone is not valid: ${z.errors.slice(0, 3).join('; ')}` };
      return { kind: 'loaded', zone: z, how: reader.mode === 'ixfr' ? 'IXFR' : 'AXFR' };
    }
    return { kind: 'failed', error: 'the primary refused both IXFR and AXFR' };
  } finally {
    c.close();
  }
}

/** RETRY before a zone's SOA is known (RFC 1034 leaves it to the server; NSD starts near this). */
const FIRST_RETRY_S = 10;

export interface SecondaryEvents {
  /** A new version, to serve at once. */
  loaded(zone: Zone, how: 'AXFR' | 'IXFR'): void;
  /** EXPIRE passed without a successful check: stop serving the zone. */
  expired(): void;
  log(level: 'info' | 'warn', event: string, fields: Record<string, unknown>): void;
}

/** One zone kept from one primary by its SOA timers and NOTIFY. */
export class Secondary {
  readonly apex: string;
  private readonly link: PrimaryLink;
  private readonly events: SecondaryEvents;
  /** Monotonic ms. */
  private readonly now: () => number;
  private current: Zone | undefined;
  private nextCheckMs: number;
  private expireAtMs: number | undefined;
  private busy = false;
  private again = false;
  readonly counters = { checks: 0, transfers: 0, failures: 0, notifies: 0 };

  constructor(apex: string, link: PrimaryLink, events: SecondaryEvents, now: () => number) {
    this.apex = canonicalName(apex);
    this.link = link;
    this.events = events;
    this.now = now;
    this.nextCheckMs = now();
  }

  get zone(): Zone | undefined {
    return this.current;
  }
  /** When `poll` next has something to do (monotonic ms). */
  get deadlineMs(): number {
    return Math.min(this.nextCheckMs, this.expireAtMs ?? Number.POSITIVE_INFINITY);
  }

  /** Expires the zone or starts a check when their time has come; call it at least every second. */
  poll(): void {
    const now = this.now();
    if (this.current && this.expireAtMs !== undefined && now >= this.expireAtMs) {
      this.current = undefined;
      this.expireAtMs = undefined;
      this.events.log('warn', 'zone-expired', { zone: this.apex, primary: this.link.address });
      this.events.expired();
    }
    if (!this.busy && now >= this.nextCheckMs) void this.check();
  }

  /**
   * A NOTIFY from the primary (RFC 1996 §3.7): check now, or right after
   * the check under way (§4.4 allows no NOTIFY to be lost). A serial not
   * newer than ours is noted and nothing more (§3.11).
   */
  notify(serial: number | undefined): void {
    this.counters.notifies++;
    const ours = this.current ? soaSerial(this.current.soa) : undefined;
    if (serial !== undefined && ours !== undefined && !serialNewer(serial, ours)) return;
    if (this.busy) this.again = true;
    else {
      this.nextCheckMs = this.now();
      this.poll();
    }
  }

  private async check(): Promise<void> {
    this.busy = true;
    this.counters.checks++;
    const r = await refreshZone(this.apex, this.current, this.link);
    this.busy = false;
    const now = this.now();
    const soa = r.kind === 'loaded' ? r.zone.soa.data : this.current?.soa.data;
    const t = soa?.kind === 'SOA' ? soa : undefined;
    if (r.kind === 'failed') {
      this.counters.failures++;
      const retry = t ? t.retry : FIRST_RETRY_S;
      this.events.log('warn', 'zone-refresh-failed', { zone: this.apex, primary: this.link.address, error: r.error, retry });
      this.nextCheckMs = now + Math.max(1, retry) * 1000;
    } else {
      if (r.kind === 'loaded') {
        this.counters.transfers++;
        this.current = r.zone;
        this.events.log('info', 'zone-transferred', {
          zone: this.apex,
          how: r.how,
          serial: soaSerial(r.zone.soa),
          records: r.zone.records.length,
        });
        this.events.loaded(r.zone, r.how);
      }
      // RFC 1034 §4.3.5: a successful check restarts both REFRESH and EXPIRE.
      this.nextCheckMs = now + Math.max(1, t!.refresh) * 1000;
      this.expireAtMs = now + t!.expire * 1000;
    }
    if (this.again) {
      this.again = false;
      this.nextCheckMs = now;
      this.poll();
    }
  }
}
