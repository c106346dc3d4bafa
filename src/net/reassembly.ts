/**
 * IPv4 reassembly (RFC 791 §3.2, RFC 815 hole tracking by ranges), bounded
 * in memory (datagrams and bytes held) and time (a per-datagram deadline).
 * A fragment that partly overlaps one already held condemns the whole
 * datagram (the policy RFC 5722 sets for IPv6, applied to IPv4 as Linux
 * does); an exact duplicate is dropped alone, so duplicating links still
 * reassemble.
 */
import type { Ipv4View } from '../wire/ipv4.ts';
import { counters } from './counters.ts';

export interface ReassemblyOptions {
  /** Datagrams under reassembly at once (default 64). */
  readonly maxDatagrams?: number;
  /** Bytes of buffer held for all of them (default 4 MiB). */
  readonly maxBytes?: number;
  /** Give up on a datagram this long after its first fragment (default 30 s, as Linux). */
  readonly timeoutNs?: bigint;
}

/** The most payload an IPv4 datagram can carry with a minimal header. */
const MAX_PAYLOAD = 65535 - 20;

interface Pending {
  readonly key: string;
  readonly deadlineNs: bigint;
  buf: Uint8Array;
  /** Sorted, disjoint [start, end) ranges received. */
  ranges: number[];
  received: number;
  /** Payload length once the last fragment is seen, else -1. */
  total: number;
  /** Header and first 8 payload bytes of the offset-0 fragment, for ICMP time exceeded. */
  firstQuote: Uint8Array | undefined;
  firstHeader: Uint8Array | undefined;
}

const DROPS = ['frag-malformed', 'frag-too-big', 'frag-overlap', 'frag-duplicate', 'frag-timeout', 'frag-evicted'] as const;

export interface Reassembled {
  /** Header of the first fragment (offset 0). */
  readonly header: Uint8Array;
  readonly payload: Uint8Array;
}

export class Reassembler {
  private readonly pending = new Map<string, Pending>();
  private readonly opts: Required<ReassemblyOptions>;
  private heldBytes = 0;
  readonly drops = counters(DROPS);
  completed = 0;

  constructor(opts: ReassemblyOptions = {}) {
    this.opts = {
      maxDatagrams: opts.maxDatagrams ?? 64,
      maxBytes: opts.maxBytes ?? 4 * 1024 * 1024,
      timeoutNs: opts.timeoutNs ?? 30_000_000_000n,
    };
  }

  get bytesHeld(): number {
    return this.heldBytes;
  }
  get datagramsHeld(): number {
    return this.pending.size;
  }

  /** Adds one fragment; returns the whole datagram when this one completes it. */
  add(v: Ipv4View, now: bigint): Reassembled | undefined {
    const off = v.fragOffset;
    const dataLen = v.payloadLen;
    const end = off + dataLen;
    const more = v.moreFragments;
    if (more && (dataLen === 0 || dataLen % 8 !== 0)) {
      this.drops['frag-malformed']++;
      return undefined;
    }
    if (end > MAX_PAYLOAD) {
      this.drops['frag-too-big']++;
      return undefined;
    }
    const key = `${v.src}/${v.dst}/${v.protocol}/${v.ident}`;
    let p = this.pending.get(key);
    if (!p) {
      p = {
        key,
        deadlineNs: now + this.opts.timeoutNs,
        buf: new Uint8Array(0),
        ranges: [],
        received: 0,
        total: -1,
        firstQuote: undefined,
        firstHeader: undefined,
      };
      if (!this.makeRoom(0)) return undefined;
      this.pending.set(key, p);
    }
    // The last fragment fixes the length; nothing may lie beyond it, and it cannot change.
    if (!more) {
      if ((p.total >= 0 && p.total !== end) || (p.ranges.length > 0 && p.ranges[p.ranges.length - 1]! > end)) {
        this.drop(p, 'frag-malformed');
        return undefined;
      }
      p.total = end;
    } else if (p.total >= 0 && end > p.total) {
      this.drop(p, 'frag-malformed');
      return undefined;
    }
    // Find where [off, end) goes among the held ranges.
    const r = p.ranges;
    let i = 0;
    while (i < r.length && r[i + 1]! <= off) i += 2;
    if (i < r.length && r[i]! < end) {
      if (r[i] === off && r[i + 1] === end) {
        this.drops['frag-duplicate']++;
      } else {
        this.drop(p, 'frag-overlap');
      }
      return undefined;
    }
    if (end > p.buf.length) {
      const cap = Math.min(MAX_PAYLOAD, Math.max(end, p.buf.length * 2, 2048));
      if (!this.makeRoom(cap - p.buf.length, p)) {
        this.drop(p, 'frag-evicted');
        return undefined;
      }
      const nb = new Uint8Array(cap);
      nb.set(p.buf);
      this.heldBytes += cap - p.buf.length;
      p.buf = nb;
    }
    p.buf.set(v.buf.subarray(v.payloadOff, v.payloadEnd), off);
    r.splice(i, 0, off, end);
    p.received += dataLen;
    if (off === 0) {
      p.firstHeader = v.header().slice();
      p.firstQuote = v.buf.slice(v.off, v.off + v.headerLen + Math.min(8, dataLen));
    }
    if (p.total >= 0 && p.received === p.total && p.firstHeader) {
      this.remove(p);
      this.completed++;
      return { header: p.firstHeader, payload: p.buf.subarray(0, p.total) };
    }
    return undefined;
  }

  /** Frees room for `bytes` more by evicting the oldest datagrams (never `keep`). */
  private makeRoom(bytes: number, keep?: Pending): boolean {
    // `keep` is already in the table, so it may be full; a newcomer needs a free slot.
    const slots = this.opts.maxDatagrams + (keep ? 1 : 0);
    const fits = (): boolean => this.pending.size < slots && this.heldBytes + bytes <= this.opts.maxBytes;
    for (const old of this.pending.values()) {
      if (fits()) break;
      if (old !== keep) this.drop(old, 'frag-evicted');
    }
    return fits();
  }

  private remove(p: Pending): void {
    this.pending.delete(p.key);
    this.heldBytes -= p.buf.length;
  }

  private drop(p: Pending, why: (typeof DROPS)[number]): void {
    this.remove(p);
    this.drops[why]++;
  }

  /** Drops timed-out datagrams; calls `onTimeout` with the quote of each whose first fragment came. */
  expire(now: bigint, onTimeout: (quote: Uint8Array) => void): boolean {
    let did = false;
    for (const p of this.pending.values()) {
      if (p.deadlineNs > now) continue;
      this.drop(p, 'frag-timeout');
      if (p.firstQuote) onTimeout(p.firstQuote); // RFC 1122 §3.3.2: only when fragment zero arrived.
      did = true;
    }
    return did;
  }

  nextDeadlineNs(): bigint | undefined {
    // Insertion order is deadline order: every datagram gets the same timeout.
    for (const p of this.pending.values()) return p.deadlineNs;
    return undefined;
  }
}
